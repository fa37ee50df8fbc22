telemetry::metrics! {
    /// Request latency, with the unit wrongly in the name.
    pub LATENCY: Histogram<f64, ()> = "node.rpc.latency.seconds", "s";
}

fn main() {
    let _ = &LATENCY;
}
