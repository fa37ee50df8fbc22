/// Milliseconds: not a base unit.
#[derive(telemetry::Metrics)]
#[metrics(prefix = "mynode.rpc")]
struct RpcMetrics {
    /// Request latency.
    #[metric(unit = "ms")]
    latency: telemetry::Histogram<f64, ()>,
}

fn main() {}
