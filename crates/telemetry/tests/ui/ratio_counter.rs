/// A counter with unit 1: the two Prometheus paths would name it differently.
#[derive(telemetry::Metrics)]
#[metrics(prefix = "mynode.cache")]
struct CacheMetrics {
    /// Cache hits.
    #[metric(unit = "1")]
    hits: telemetry::Counter<u64, ()>,
}

fn main() {}
