/// A counter under another name: the const assertion on the type still catches unit `1`.
type Hits = telemetry::Counter<u64, ()>;

/// Cache metrics.
#[derive(telemetry::Metrics)]
#[metrics(prefix = "mynode.cache")]
struct CacheMetrics {
    /// Cache hits.
    #[metric(unit = "1")]
    hits: Hits,
}

fn main() {}
