//! Prints the metric reference generated from the registry:
//! `cargo run -p telemetry --example metrics_reference > docs/metrics.md`.

fn main() {
    print!("{}", telemetry::reference::render(&telemetry::registry()));
}
