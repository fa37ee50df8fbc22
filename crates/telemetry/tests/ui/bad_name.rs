/// Upper case in a name.
#[derive(telemetry::Metrics)]
#[metrics(prefix = "mynode.rpc")]
struct RpcMetrics {
    /// Requests.
    #[metric(name = "Requests", unit = "{request}")]
    requests: telemetry::Counter<u64, ()>,
}

fn main() {}
