/// Buckets on something that is not a histogram.
#[derive(telemetry::Metrics)]
#[metrics(prefix = "mynode.rpc")]
struct RpcMetrics {
    /// Requests.
    #[metric(unit = "{request}", buckets = [1.0, 2.0])]
    requests: telemetry::Counter<u64, ()>,
}

fn main() {}
