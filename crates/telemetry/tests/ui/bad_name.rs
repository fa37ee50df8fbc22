telemetry::metrics! {
    /// Not under the node namespace, and upper case.
    pub REQUESTS: Counter<u64, ()> = "RPC.Requests", "{request}";
}

fn main() {
    let _ = &REQUESTS;
}
