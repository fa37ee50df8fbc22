//! Nothing lost, nothing let in, nothing that takes the node down: collector outages, a
//! collector that never answers, a cardinality attack, and hostile bridge clients.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;
use telemetry::testing::TestTelemetry;
use telemetry::{Counter, Metrics, OtlpConfig, PrometheusConfig, TelemetryClient, Unbounded};

telemetry::unbounded_attribute! {
    /// An attacker-controlled value.
    pub Label: "test.label", limit = 1000
}
/// The test component's instruments.
#[derive(Metrics)]
#[metrics(prefix = "node.reliability")]
struct ReliabilityMetrics {
    /// Events.
    #[metric(unit = "{event}")]
    events: Counter<u64, ()>,
    /// Labelled events.
    #[metric(unit = "{event}")]
    labelled: Counter<u64, (Unbounded<Label>,)>,
}

/// The declared limit of `node.reliability.labelled`.
const LABELLED_LIMIT: usize = ReliabilityMetrics::DEFINITIONS[1].cardinality_limit;

/// Resident memory of this process (Linux).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// Records one event per millisecond on its own thread; returns the count and the slowest call.
struct Recorder {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, Duration)>,
}

impl Recorder {
    fn start(client: &TelemetryClient) -> Self {
        let events = ReliabilityMetrics::new(client).events;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut count, mut slowest) = (0u64, Duration::ZERO);
            while !flag.load(Ordering::Relaxed) {
                let started = Instant::now();
                events.add(1, ());
                slowest = slowest.max(started.elapsed());
                count += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            (count, slowest)
        });
        Self { stop, thread }
    }

    fn stop(self) -> (u64, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

#[test]
fn collector_outage_loses_nothing_and_shows() {
    let addr = free_addr();
    let receiver = grpc_receiver_on(addr);
    let client = TelemetryClient::builder("outage")
        .otlp(OtlpConfig {
            timeout: Duration::from_millis(300),
            ..OtlpConfig::grpc(format!("http://{addr}"))
        })
        .export_interval(Duration::from_millis(200))
        .export_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let recorder = Recorder::start(&client);
    assert!(
        receiver.received.wait_for(2, Duration::from_secs(30)),
        "no export before the outage"
    );

    // The receiver goes away for several export intervals.
    drop(receiver);
    let before = client.export_status();
    std::thread::sleep(Duration::from_millis(1500));
    let during = client.export_status();
    assert!(
        during.failures >= before.failures + 2,
        "outage not counted: {before:?} -> {during:?}"
    );
    let stale_for = during.last_success_unix.map(|t| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            - t
    });
    assert!(
        stale_for.unwrap() >= 1.0,
        "last success kept moving during the outage: {stale_for:?}"
    );

    // Back on the same port: the next exports succeed and carry everything.
    let receiver = grpc_receiver_on(addr);
    assert!(
        receiver.received.wait_for(1, Duration::from_secs(30)),
        "no export after the receiver returned"
    );
    let (recorded, slowest) = recorder.stop();
    client.force_flush().unwrap();
    let last = receiver.received.last_request().unwrap();
    assert_eq!(
        point_value(&last, "node.reliability.events", &[]),
        Some(recorded as f64),
        "events lost in the outage"
    );
    assert!(
        slowest < Duration::from_millis(50),
        "a recording call blocked for {slowest:?}"
    );
    assert!(client.export_status().consecutive_failures == 0);
    client.shutdown().unwrap();
}

#[test]
fn a_collector_that_never_answers_costs_bounded_memory_and_a_bounded_shutdown() {
    let closed = free_addr();
    for endpoint in [
        format!("http://{closed}"),
        "http://collector.invalid:4317".to_owned(),
    ] {
        let client = TelemetryClient::builder("unreachable")
            .otlp(OtlpConfig {
                timeout: Duration::from_millis(200),
                ..OtlpConfig::grpc(endpoint.clone())
            })
            .export_interval(Duration::from_millis(2))
            .export_timeout(Duration::from_millis(500))
            .shutdown_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let recorder = Recorder::start(&client);
        // Warm up, then thousands of failures (a refused connection fails in microseconds;
        // a name that does not resolve takes longer, so it gets a time budget instead).
        std::thread::sleep(Duration::from_secs(2));
        let warm = (rss_bytes(), client.export_status().failures);
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.export_status().failures < warm.1 + 3000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let end = (rss_bytes(), client.export_status().failures);
        recorder.stop();
        eprintln!("{endpoint}: {} failed exports measured", end.1 - warm.1);
        assert!(
            end.1 >= warm.1 + 20,
            "{endpoint}: only {} failed exports",
            end.1 - warm.1
        );
        let growth = end.0.saturating_sub(warm.0);
        assert!(
            growth < 16 << 20,
            "{endpoint}: RSS grew {growth} bytes over {} failed exports",
            end.1 - warm.1
        );
        let started = Instant::now();
        let _ = client.shutdown();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{endpoint}: shutdown took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_million_attacker_values_stay_within_the_limit() {
    let kit = TestTelemetry::new();
    let labelled = ReliabilityMetrics::new(kit.client()).labelled;
    for i in 0..2000 {
        labelled.add(1, (Unbounded::new(format!("warm-{i}")),));
    }
    kit.collect();
    let before = rss_bytes();
    for i in 0..1_000_000u32 {
        labelled.add(1, (Unbounded::new(format!("attack-{i}")),));
    }
    let s = kit.collect();
    let growth = rss_bytes().saturating_sub(before);
    assert!(growth < 32 << 20, "RSS grew {growth} bytes");
    let sets = s.attribute_sets("node.reliability.labelled");
    assert_eq!(
        sets.len(),
        LABELLED_LIMIT + 1,
        "limit plus the overflow series"
    );
    let overflowed = s
        .u64_value(
            "node.reliability.labelled",
            &[("otel.metric.overflow", "true")],
        )
        .unwrap();
    assert_eq!(overflowed, 1_002_000 - LABELLED_LIMIT as u64);
    assert_eq!(
        s.u64_value(
            "telemetry.cardinality.overflows",
            &[("telemetry.overflow.metric", "node.reliability.labelled")]
        ),
        Some(overflowed),
        "the overflow is counted in the self-telemetry"
    );
}

fn bridge(config: PrometheusConfig) -> TelemetryClient {
    TelemetryClient::builder("bridge")
        .prometheus_config(config)
        .build()
        .unwrap()
}

fn status_of(addr: SocketAddr, request: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).ok()?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    std::str::from_utf8(response.get(9..12)?).ok()?.parse().ok()
}

#[test]
fn a_hundred_concurrent_scrapes_all_succeed() {
    let client = bridge(PrometheusConfig::new("127.0.0.1:0".parse().unwrap()));
    ReliabilityMetrics::new(&client).events.add(1, ());
    let addr = client.prometheus_addr().unwrap();
    let ok = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..100 {
            scope.spawn(|| {
                if status_of(addr, b"GET /metrics HTTP/1.0\r\n\r\n") == Some(200) {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(ok.load(Ordering::Relaxed), 100);
    client.shutdown().unwrap();
}

#[test]
fn oversized_heads_and_slow_clients_cannot_stall_scrapes() {
    let client = bridge(PrometheusConfig {
        max_connections: 4,
        header_read_timeout: Duration::from_millis(500),
        ..PrometheusConfig::new("127.0.0.1:0".parse().unwrap())
    });
    let addr = client.prometheus_addr().unwrap();

    // A request head over the limit is refused, and the bridge keeps serving.
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let refused = status_of(addr, huge.as_bytes());
    assert!(
        matches!(refused, Some(431) | None),
        "oversized head answered {refused:?}"
    );

    // Slowloris: more slow connections than the bridge has slots, each dribbling its head.
    let slow: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            stream
        })
        .collect();
    let started = Instant::now();
    assert_eq!(status_of(addr, b"GET /metrics HTTP/1.0\r\n\r\n"), Some(200));
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "a scrape waited {waited:?} behind slow clients"
    );
    // The slow clients were cut off at the head-read timeout.
    for mut stream in slow {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buffer = [0u8; 64];
        // Closed (0 bytes) or answered 408: either way, not left holding a slot.
        if let Err(error) = stream.read(&mut buffer) {
            panic!("a slow client was still connected 10 s after the head-read timeout: {error}");
        }
    }
    client.shutdown().unwrap();
}
