//! Criterion benchmarks of the recording hot path: typed counter, histogram and gauge with
//! enum attributes, the disabled client, and an unbounded attribute.
//! `cargo bench -p telemetry --bench hot_path`. The side-by-side comparison with the peers
//! and the targets is `cargo bench -p demo-node --bench compare`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use telemetry::testing::TestTelemetry;
use telemetry::{Counter, Gauge, Histogram, Metrics, TelemetryClient, Unbounded};

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
/// The benchmarked component's instruments.
#[derive(Metrics)]
#[metrics(prefix = "bench")]
struct BenchMetrics {
    /// Requests.
    #[metric(unit = "{request}")]
    requests: Counter<u64, (Method, Outcome)>,
    /// Latency.
    #[metric(unit = "s")]
    latency: Histogram<f64, (Method, Outcome)>,
    /// Level.
    #[metric(unit = "1")]
    level: Gauge<f64, (Method,)>,
    /// By client.
    #[metric(unit = "{request}")]
    by_client: Counter<u64, (Unbounded<Client>,)>,
}

fn hot_path(c: &mut Criterion) {
    let kit = TestTelemetry::new();
    let metrics = BenchMetrics::new(kit.client());
    let bound = metrics.requests.bind((Method::Put, Outcome::Ok));
    let off = BenchMetrics::new(&TelemetryClient::disabled());
    c.bench_function("counter add (2 enum attributes)", |b| {
        b.iter(|| {
            metrics
                .requests
                .add(black_box(1), (Method::Put, Outcome::Ok))
        })
    });
    c.bench_function("bound counter add", |b| b.iter(|| bound.add(black_box(1))));
    c.bench_function("histogram record (2 enum attributes)", |b| {
        b.iter(|| {
            metrics
                .latency
                .record(black_box(0.003), (Method::Get, Outcome::Error))
        })
    });
    c.bench_function("gauge record (1 enum attribute)", |b| {
        b.iter(|| metrics.level.record(black_box(0.5), (Method::Delete,)))
    });
    c.bench_function("counter add on the disabled client", |b| {
        b.iter(|| off.requests.add(black_box(1), (Method::Put, Outcome::Ok)))
    });
    c.bench_function("counter add (unbounded attribute)", |b| {
        b.iter(|| {
            metrics
                .by_client
                .add(black_box(1), (Unbounded::new("reth/1.2"),))
        })
    });
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
