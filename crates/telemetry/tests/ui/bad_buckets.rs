/// Buckets out of order.
#[derive(telemetry::Metrics)]
#[metrics(prefix = "mynode.rpc")]
struct RpcMetrics {
    /// Request latency.
    #[metric(unit = "s", buckets = [0.1, 1.0, 0.5])]
    latency: telemetry::Histogram<f64, ()>,
}

fn main() {}
