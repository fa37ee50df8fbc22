telemetry::metrics! {
    /// A counter with unit 1: the two Prometheus paths would name it differently.
    pub HITS: Counter<u64, ()> = "node.cache.hits", "1";
}

fn main() {
    let _ = &HITS;
}
