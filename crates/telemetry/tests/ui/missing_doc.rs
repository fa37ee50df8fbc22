/// A metric without its description.
#[derive(telemetry::Metrics)]
#[metrics(prefix = "mynode.rpc")]
struct RpcMetrics {
    /// Documented.
    #[metric(unit = "{request}")]
    requests: telemetry::Counter<u64, ()>,
    #[metric(unit = "{request}")]
    errors: telemetry::Counter<u64, ()>,
}

fn main() {}
