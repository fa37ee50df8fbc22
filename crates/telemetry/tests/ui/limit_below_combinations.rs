telemetry::attribute_enum! {
    /// Two values.
    pub enum Outcome: "rpc.outcome" { Ok => "ok", Failed => "failed" }
}

/// A cardinality limit below the series every combination makes.
#[derive(telemetry::Metrics)]
#[metrics(prefix = "mynode.rpc")]
struct RpcMetrics {
    /// Requests, by outcome.
    #[metric(unit = "{request}", limit = 1)]
    requests: telemetry::Counter<u64, (Outcome,)>,
}

fn main() {}
