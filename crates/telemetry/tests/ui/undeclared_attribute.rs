telemetry::attribute_enum! {
    /// Declared on the metric.
    pub enum Outcome: "rpc.outcome" { Ok => "ok" }
}
telemetry::attribute_enum! {
    /// Not declared on the metric.
    pub enum Method: "rpc.method" { Submit => "submit" }
}

/// RPC metrics.
#[derive(telemetry::Metrics)]
#[metrics(prefix = "mynode.rpc")]
struct RpcMetrics {
    /// Requests, by outcome.
    #[metric(unit = "{request}")]
    requests: telemetry::Counter<u64, (Outcome,)>,
}

fn main() {
    let rpc = RpcMetrics::new(&telemetry::TelemetryClient::disabled());
    rpc.requests.add(1, (Method::Submit,));
}
