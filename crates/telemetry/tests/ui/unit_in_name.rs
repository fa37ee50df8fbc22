/// The unit wrongly in a field's name.
#[derive(telemetry::Metrics)]
#[metrics(prefix = "mynode.rpc")]
struct RpcMetrics {
    /// Request latency.
    #[metric(unit = "s")]
    latency_seconds: telemetry::Histogram<f64, ()>,
}

fn main() {}
