//! Criterion benchmarks of the recording hot path: typed counter, histogram and gauge with
//! enum attributes, the disabled client, and an unbounded attribute.
//! `cargo bench -p telemetry --bench hot_path`. The side-by-side comparison with the peers
//! and the targets is `cargo bench -p demo-node --bench compare`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use telemetry::testing::TestTelemetry;
use telemetry::{TelemetryClient, Unbounded};

telemetry::attribute_enum! {
    /// Bench method.
    pub enum Method: "bench.method" { Get => "get", Put => "put", Delete => "delete" }
}
telemetry::attribute_enum! {
    /// Bench outcome.
    pub enum Outcome: "bench.outcome" { Ok => "ok", Error => "error" }
}
telemetry::unbounded_attribute! {
    /// Bench peer client.
    pub Client: "bench.client", limit = 64
}
telemetry::metrics! {
    /// Requests.
    pub REQUESTS: Counter<u64, (Method, Outcome)> = "node.bench.requests", "{request}";
    /// Latency.
    pub LATENCY: Histogram<f64, (Method, Outcome)> = "node.bench.latency", "s";
    /// Level.
    pub LEVEL: Gauge<f64, (Method,)> = "node.bench.level", "1";
    /// By client.
    pub BY_CLIENT: Counter<u64, (Unbounded<Client>,)> = "node.bench.by_client", "{request}";
}

fn hot_path(c: &mut Criterion) {
    let kit = TestTelemetry::new();
    let meter = kit.client().component("bench");
    let requests = meter.counter(&REQUESTS);
    let latency = meter.histogram(&LATENCY);
    let level = meter.gauge(&LEVEL);
    let by_client = meter.counter(&BY_CLIENT);
    let off = TelemetryClient::disabled()
        .component("bench")
        .counter(&REQUESTS);
    c.bench_function("counter add (2 enum attributes)", |b| {
        b.iter(|| requests.add(black_box(1), (Method::Put, Outcome::Ok)))
    });
    c.bench_function("histogram record (2 enum attributes)", |b| {
        b.iter(|| latency.record(black_box(0.003), (Method::Get, Outcome::Error)))
    });
    c.bench_function("gauge record (1 enum attribute)", |b| {
        b.iter(|| level.record(black_box(0.5), (Method::Delete,)))
    });
    c.bench_function("counter add on the disabled client", |b| {
        b.iter(|| off.add(black_box(1), (Method::Put, Outcome::Ok)))
    });
    c.bench_function("counter add (unbounded attribute)", |b| {
        b.iter(|| by_client.add(black_box(1), (Unbounded::new("reth/1.2"),)))
    });
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
