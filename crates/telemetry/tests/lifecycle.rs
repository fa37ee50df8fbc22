//! Client lifecycle and instrument behaviour: two clients side by side, shutdown (twice,
//! from a current-thread runtime, on drop), callback panics, invalid measurements,
//! metric filters, component instances, cardinality limits.

mod support;

use std::time::Duration;

use support::*;
use telemetry::testing::TestTelemetry;
use telemetry::{
    Callback, Counter, Gauge, Histogram, Metrics, ObservableGauge, OtlpConfig, TelemetryClient,
    TelemetryConfig, Unbounded,
};

telemetry::attribute_enum! {
    /// Test kind.
    pub enum Kind: "test.kind" { A => "a", B => "b" }
}
telemetry::unbounded_attribute! {
    /// Test label with a small limit.
    pub Label: "test.label", limit = 10
}

/// The test component's instruments.
#[derive(Metrics)]
#[metrics(prefix = "node.lifecycle")]
struct LifecycleMetrics {
    /// Events.
    #[metric(unit = "{event}")]
    events: Counter<u64, (Kind,)>,
    /// Float amounts.
    #[metric(unit = "{unit}")]
    amount: Counter<f64, ()>,
    /// Latency.
    #[metric(unit = "s")]
    latency: Histogram<f64, ()>,
    /// Level.
    #[metric(unit = "1")]
    level: Gauge<f64, ()>,
    /// Labelled events.
    #[metric(unit = "{event}")]
    labelled: Counter<u64, (Unbounded<Label>,)>,
}

/// Observed values, one callback panicking.
#[derive(Metrics)]
#[metrics(prefix = "node.lifecycle.observed")]
struct ObservedMetrics {
    /// Observed ok.
    #[metric(unit = "{item}")]
    ok: ObservableGauge<u64, ()>,
    /// Observed, panicking.
    #[metric(unit = "{item}")]
    panicking: ObservableGauge<u64, ()>,
}

fn grpc_client(receiver: &Receiver, name: &str) -> TelemetryClient {
    TelemetryClient::builder(name)
        .otlp(OtlpConfig::grpc(format!("http://{}", receiver.addr)))
        .export_interval(Duration::from_secs(3600))
        .build()
        .unwrap()
}

#[test]
fn two_clients_side_by_side() {
    let (r1, r2) = (grpc_receiver(), grpc_receiver());
    let (c1, c2) = (grpc_client(&r1, "one"), grpc_client(&r2, "two"));
    LifecycleMetrics::new(&c1).events.add(1, (Kind::A,));
    LifecycleMetrics::new(&c2).events.add(5, (Kind::A,));
    c1.shutdown().unwrap();
    c2.shutdown().unwrap();
    let (q1, q2) = (
        r1.received.last_request().unwrap(),
        r2.received.last_request().unwrap(),
    );
    assert_eq!(
        point_value(&q1, "node.lifecycle.events", &[("test.kind", "a")]),
        Some(1.0)
    );
    assert_eq!(
        point_value(&q2, "node.lifecycle.events", &[("test.kind", "a")]),
        Some(5.0)
    );
    assert_eq!(
        resource_attribute(&q1, "service.name").as_deref(),
        Some("one")
    );
    assert_eq!(
        resource_attribute(&q2, "service.name").as_deref(),
        Some("two")
    );
}

#[test]
fn shutdown_flushes_is_idempotent_and_drop_shuts_down() {
    let receiver = grpc_receiver();
    let client = grpc_client(&receiver, "shutdown");
    let events = LifecycleMetrics::new(&client).events;
    events.add(9, (Kind::B,));
    client.shutdown().unwrap();
    client.shutdown().unwrap();
    let request = receiver
        .received
        .last_request()
        .expect("shutdown flushed nothing");
    assert_eq!(
        point_value(&request, "node.lifecycle.events", &[("test.kind", "b")]),
        Some(9.0)
    );
    // Recording after shutdown is harmless.
    events.add(1, (Kind::B,));

    let receiver = grpc_receiver();
    let client = grpc_client(&receiver, "dropped");
    LifecycleMetrics::new(&client).events.add(4, (Kind::A,));
    let clone = client.clone();
    drop(client);
    assert_eq!(
        receiver.received.count(),
        0,
        "a remaining clone keeps the pipeline"
    );
    drop(clone);
    let request = receiver
        .received
        .last_request()
        .expect("dropping the last handle flushed nothing");
    assert_eq!(
        point_value(&request, "node.lifecycle.events", &[("test.kind", "a")]),
        Some(4.0)
    );
}

#[test]
fn shutdown_from_a_current_thread_runtime() {
    let receiver = grpc_receiver();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = grpc_client(&receiver, "current-thread");
        LifecycleMetrics::new(&client).events.add(2, (Kind::A,));
        client.shutdown().unwrap();
    });
    let request = receiver.received.last_request().unwrap();
    assert_eq!(
        point_value(&request, "node.lifecycle.events", &[("test.kind", "a")]),
        Some(2.0)
    );
}

#[test]
fn shutdown_is_bounded_when_the_collector_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = TelemetryClient::builder("down")
        .otlp(OtlpConfig::grpc(format!("http://127.0.0.1:{port}")))
        .shutdown_timeout(Duration::from_secs(2))
        .export_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    LifecycleMetrics::new(&client).events.add(1, (Kind::A,));
    let started = std::time::Instant::now();
    let _ = client.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "shutdown took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_panicking_callback_does_not_stop_the_others() {
    let kit = TestTelemetry::new();
    let _observed = ObservedMetrics::new(
        kit.client(),
        ObservedMetricsCallbacks {
            ok: Callback::new(|o| o.observe(11, ())),
            panicking: Callback::new(|_| panic!("callback bug")),
        },
    );
    for round in 1..=3u64 {
        let snapshot = kit.collect();
        assert_eq!(
            snapshot.u64_value("node.lifecycle.observed.ok", &[]),
            Some(11)
        );
        // The failure counter is read in the same collection that runs the callback, so
        // collection n shows n-1 or n failures depending on callback order.
        let failures = snapshot
            .u64_value(
                "telemetry.callback.failures",
                &[(
                    "telemetry.callback.metric",
                    "node.lifecycle.observed.panicking",
                )],
            )
            .unwrap_or(0);
        assert!(
            failures == round || failures + 1 == round,
            "round {round}: {failures} failures"
        );
    }
    let final_count = kit.collect().u64_value(
        "telemetry.callback.failures",
        &[(
            "telemetry.callback.metric",
            "node.lifecycle.observed.panicking",
        )],
    );
    assert!(matches!(final_count, Some(3 | 4)), "{final_count:?}");
}

#[test]
fn invalid_measurements_are_dropped_and_counted() {
    let kit = TestTelemetry::new();
    let LifecycleMetrics {
        amount,
        latency,
        level,
        ..
    } = LifecycleMetrics::new(kit.client());
    amount.add(1.5, ());
    amount.add(f64::NAN, ());
    amount.add(-1.0, ());
    amount.add(f64::INFINITY, ());
    latency.record(f64::NEG_INFINITY, ());
    latency.record(0.5, ());
    level.record(f64::NAN, ());
    let s = kit.collect();
    assert_eq!(s.value("node.lifecycle.amount", &[]), Some(1.5));
    assert_eq!(s.histogram("node.lifecycle.latency", &[]).unwrap().count, 1);
    assert_eq!(
        s.value("node.lifecycle.level", &[]),
        None,
        "a NaN gauge reading must not appear"
    );
    let dropped = |reason| {
        s.u64_value(
            "telemetry.measurements.dropped",
            &[("telemetry.drop.reason", reason)],
        )
    };
    assert_eq!(
        (dropped("nan"), dropped("negative"), dropped("infinite")),
        (Some(2), Some(1), Some(2))
    );
}

#[test]
fn include_and_exclude_filters() {
    let mut config = TelemetryConfig::new("filtered");
    config.exclude_metrics = vec!["node.lifecycle.amount".into()];
    let kit = TestTelemetry::with_builder(telemetry::TelemetryBuilder::from_config(config));
    let metrics = LifecycleMetrics::new(kit.client());
    assert!(!metrics.amount.is_enabled());
    metrics.amount.add(1.0, ());
    metrics.events.add(1, (Kind::A,));
    let s = kit.collect();
    assert!(!s.names().contains(&"node.lifecycle.amount".to_owned()));
    assert_eq!(
        s.u64_value("node.lifecycle.events", &[("test.kind", "a")]),
        Some(1)
    );

    let mut config = TelemetryConfig::new("included");
    config.include_metrics = vec!["node.lifecycle.amount".into()];
    let kit = TestTelemetry::with_builder(telemetry::TelemetryBuilder::from_config(config));
    let metrics = LifecycleMetrics::new(kit.client());
    assert!(metrics.amount.is_enabled());
    assert!(!metrics.events.is_enabled());
}

#[test]
fn component_instances_do_not_clash() {
    let kit = TestTelemetry::new();
    let plain = LifecycleMetrics::new(kit.client()).events;
    let first = LifecycleMetrics::new_instance(kit.client(), "pool-1").events;
    let second = LifecycleMetrics::new_instance(kit.client(), "pool-2").events;
    plain.add(1, (Kind::A,));
    first.add(2, (Kind::A,));
    second.add(3, (Kind::A,));
    let s = kit.collect();
    assert_eq!(
        s.u64_value("node.lifecycle.events", &[("test.kind", "a")]),
        Some(1)
    );
    assert_eq!(
        s.u64_value(
            "node.lifecycle.events",
            &[("test.kind", "a"), ("component.instance", "pool-1")]
        ),
        Some(2)
    );
    assert_eq!(
        s.u64_value(
            "node.lifecycle.events",
            &[("test.kind", "a"), ("component.instance", "pool-2")]
        ),
        Some(3)
    );
}

#[test]
fn unbounded_attribute_overflows_at_its_declared_limit() {
    let kit = TestTelemetry::new();
    let labelled = LifecycleMetrics::new(kit.client()).labelled;
    for i in 0..1000 {
        labelled.add(1, (Unbounded::new(format!("value-{i}")),));
    }
    let s = kit.collect();
    let sets = s.attribute_sets("node.lifecycle.labelled");
    // The declared limit (10) plus the one overflow series.
    assert_eq!(
        sets.len(),
        LifecycleMetrics::DEFINITIONS[4].cardinality_limit + 1,
        "{sets:?}"
    );
    let overflow = s
        .u64_value(
            "node.lifecycle.labelled",
            &[("otel.metric.overflow", "true")],
        )
        .unwrap();
    assert_eq!(
        overflow,
        1000 - LifecycleMetrics::DEFINITIONS[4].cardinality_limit as u64
    );
}

#[test]
fn disabled_client_records_nothing_and_costs_nothing() {
    let client = TelemetryClient::builder("off")
        .disabled(true)
        .prometheus("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    assert!(!client.is_enabled());
    assert_eq!(client.prometheus_addr(), None);
    let events = LifecycleMetrics::new(&client).events;
    assert!(!events.is_enabled());
    events.add(1, (Kind::A,));
    client.shutdown().unwrap();
    // No exporter at all is the no-op client too.
    assert!(!TelemetryClient::builder("none")
        .build()
        .unwrap()
        .is_enabled());
}

#[test]
fn timer_records_elapsed_seconds() {
    let kit = TestTelemetry::new();
    let latency = LifecycleMetrics::new(kit.client()).latency;
    {
        let _timer = latency.start_timer(());
        std::thread::sleep(Duration::from_millis(20));
    }
    let seconds = latency.start_timer(()).stop();
    assert!(seconds >= 0.0);
    latency.start_timer(()).discard();
    let point = kit
        .collect()
        .histogram("node.lifecycle.latency", &[])
        .unwrap();
    assert_eq!(point.count, 2);
    assert!(point.sum >= 0.02, "{point:?}");
}

#[test]
fn freshness_is_exported() {
    let kit = TestTelemetry::new();
    let source = kit.client().freshness("mempool");
    assert_eq!(
        kit.collect().value(
            "telemetry.source.last_update",
            &[("telemetry.source.name", "mempool")]
        ),
        None
    );
    source.touch();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let seen = kit
        .collect()
        .value(
            "telemetry.source.last_update",
            &[("telemetry.source.name", "mempool")],
        )
        .unwrap();
    assert!((now - seen).abs() < 5.0, "{now} vs {seen}");
}

/// What the SDK itself does (opentelemetry_sdk 0.33, `ValueMap::collect_readonly`): a bound
/// histogram with attributes has its series, at count 0, from the start; the attribute-less
/// one only after its first observation. The in-memory reader and the OTLP push see the
/// SDK's output; the bridge adds the attribute-less series at zero itself (see
/// `prometheus_bridge.rs`).
#[test]
fn histograms_with_attributes_are_seeded_and_without_only_once_observed_by_the_sdk() {
    let kit = TestTelemetry::new();
    let metrics = LifecycleMetrics::new(kit.client());
    let observed = ObservedHistograms::new(kit.client());
    let s = kit.collect();
    for kind in ["a", "b"] {
        let point = s
            .histogram("node.lifecycle.histograms.by_kind", &[("test.kind", kind)])
            .unwrap();
        assert_eq!(
            (point.count, point.bucket_counts.iter().sum::<u64>()),
            (0, 0)
        );
    }
    assert_eq!(s.histogram("node.lifecycle.latency", &[]), None);
    metrics.latency.record(0.25, ());
    observed.by_kind.record(0.25, (Kind::A,));
    assert_eq!(
        kit.collect()
            .histogram("node.lifecycle.latency", &[])
            .unwrap()
            .count,
        1
    );
}

/// A histogram with an attribute.
#[derive(Metrics)]
#[metrics(prefix = "node.lifecycle.histograms")]
struct ObservedHistograms {
    /// Latency by kind.
    #[metric(unit = "s")]
    by_kind: Histogram<f64, (Kind,)>,
}

/// A builder pushing to `receiver` with delta temporality, exporting only when flushed.
fn delta_builder(name: &str, receiver: &Receiver) -> telemetry::TelemetryBuilder {
    TelemetryClient::builder(name)
        .otlp(OtlpConfig {
            temporality: opentelemetry_sdk::metrics::Temporality::Delta,
            ..OtlpConfig::grpc(format!("http://{}", receiver.addr))
        })
        .export_interval(Duration::from_secs(3600))
}

/// Two live copies on the bridge and over OTLP with delta temporality: the bridge shows the
/// sum, and each delta is what was added since the last export, never negative (before the
/// copies shared their cells, the bridge showed 10 and the deltas flip-flopped).
#[test]
fn copies_add_up_on_the_bridge_and_in_otlp_deltas() {
    let receiver = grpc_receiver();
    let client = delta_builder("copies", &receiver)
        .prometheus("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let (a, b) = (
        LifecycleMetrics::new(&client),
        LifecycleMetrics::new(&client),
    );
    let series = [("test.kind", "a")];
    let mut deltas = Vec::new();
    for round in 0..3 {
        a.events.add(10, (Kind::A,));
        b.events.add(10, (Kind::A,));
        let text = scrape(client.prometheus_addr().unwrap());
        assert_eq!(
            sample(&text, "node_lifecycle_events_total", &[("test_kind", "a")]),
            Some(20.0 * (round + 1) as f64),
            "{text}"
        );
        client.force_flush().unwrap();
        let request = receiver.received.last_request().unwrap();
        deltas.push(point_value(&request, "node.lifecycle.events", &series));
    }
    assert_eq!(deltas, [Some(20.0), Some(20.0), Some(20.0)]);
    client.shutdown().unwrap();
}

/// With delta temporality and no bridge, the SDK forgets the attribute sets not recorded
/// into during an interval: a third interval's new values fit again and no overflow is
/// counted for them (the sets seen used to be kept forever, so 10 overflows were counted
/// there that never happened). The second interval's do overflow, in the SDK and in the
/// count alike: the first interval's sets still hold the limit then.
#[test]
fn delta_intervals_free_the_sets_the_sdk_forgot() {
    let receiver = grpc_receiver();
    let client = delta_builder("delta", &receiver).build().unwrap();
    let labelled = LifecycleMetrics::new(&client).labelled;
    let limit = LifecycleMetrics::DEFINITIONS[4].cardinality_limit;
    let mut seen = Vec::new();
    for interval in 0..3 {
        for i in 0..limit {
            labelled.add(1, (Unbounded::new(format!("interval-{interval}-{i}")),));
        }
        client.force_flush().unwrap();
        let request = receiver.received.last_request().unwrap();
        let first = format!("interval-{interval}-0");
        let counted = [("telemetry.overflow.metric", "node.lifecycle.labelled")];
        seen.push((
            point_value(
                &request,
                "node.lifecycle.labelled",
                &[("test.label", &first)],
            ),
            point_value(
                &request,
                "node.lifecycle.labelled",
                &[("otel.metric.overflow", "true")],
            ),
            point_value(&request, "telemetry.cardinality.overflows", &counted).unwrap_or(0.0),
        ));
    }
    let overflowed = limit as f64;
    assert_eq!(
        seen,
        [
            (Some(1.0), None, 0.0),
            (None, Some(overflowed), overflowed),
            (Some(1.0), None, 0.0),
        ]
    );
    client.shutdown().unwrap();
}

/// Jobs finished, read at each collection (two copies in the test below).
#[derive(Metrics)]
#[metrics(prefix = "node.lifecycle.jobs")]
struct JobMetrics {
    /// Jobs finished.
    #[metric(unit = "{job}")]
    finished: telemetry::ObservableCounter<u64, ()>,
}

/// Under delta temporality the SDK subtracts a sum's last value in u64: a monotonic sum that
/// went down would kill the reader thread (debug) or export ~1.8e19 (release). With the
/// bridge beside the OTLP reader, copies that come and go and a component dropped and
/// recreated never make a delta negative: every export succeeds with the exact deltas.
#[test]
fn deltas_never_go_negative_as_components_come_and_go() {
    let receiver = grpc_receiver();
    let client = delta_builder("churn", &receiver)
        .prometheus("127.0.0.1:0".parse().unwrap())
        .series_retention(Duration::ZERO)
        .build()
        .unwrap();
    let bridge = client.prometheus_addr().unwrap();
    let jobs = |finished: u64| {
        JobMetrics::new(
            &client,
            JobMetricsCallbacks {
                finished: Callback::new(move |o| o.observe(finished, ())),
            },
        )
    };
    let export = || {
        client.force_flush().expect("export");
        receiver.received.last_request().unwrap()
    };
    let first = jobs(100);
    let second = jobs(50);
    assert_eq!(
        point_value(&export(), "node.lifecycle.jobs.finished", &[]),
        Some(150.0)
    );
    drop(second);
    scrape(bridge);
    assert_eq!(
        point_value(&export(), "node.lifecycle.jobs.finished", &[]),
        Some(0.0)
    );
    drop(first);

    let peer = [("test.kind", "a"), ("component.instance", "peer")];
    let events = LifecycleMetrics::new_instance(&client, "peer").events;
    events.add(5, (Kind::A,));
    drop(events);
    // The bridge's scrapes never forget a series the OTLP reader has not seen go.
    scrape(bridge);
    assert_eq!(
        point_value(&export(), "node.lifecycle.events", &peer),
        Some(5.0)
    );
    scrape(bridge);
    // Read by the OTLP reader after the drop, and the retention over: forgotten now (the
    // SDK closes a vanished delta series with one 0, then it is absent).
    let last = point_value(&export(), "node.lifecycle.events", &peer);
    assert_eq!(last.unwrap_or(0.0), 0.0);
    scrape(bridge);
    assert_eq!(point_value(&export(), "node.lifecycle.events", &peer), None);
    let events = LifecycleMetrics::new_instance(&client, "peer").events;
    events.add(1, (Kind::A,));
    scrape(bridge);
    assert_eq!(
        point_value(&export(), "node.lifecycle.events", &peer),
        Some(1.0)
    );
    client.shutdown().unwrap();
}
