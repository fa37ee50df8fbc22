telemetry::attribute_enum! {
    /// Declared on the metric.
    pub enum Outcome: "rpc.outcome" { Ok => "ok" }
}
telemetry::attribute_enum! {
    /// Not declared on the metric.
    pub enum Method: "rpc.method" { Submit => "submit" }
}
telemetry::metrics! {
    /// Requests, by outcome.
    pub REQUESTS: Counter<u64, (Outcome,)> = "node.rpc.requests", "{request}";
}

fn main() {
    let client = telemetry::TelemetryClient::disabled();
    let requests = client.component("rpc").counter(&REQUESTS);
    requests.add(1, (Method::Submit,));
}
