//! What the pipeline logs through `tracing` when something is wrong: every failure is
//! visible, and none floods the log. A global subscriber captures the lines (exports log
//! from the SDK's reader thread, so a thread-local one would miss them); each test looks
//! only at the lines that name its own metric or endpoint.

mod support;

use std::io::Write;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use support::free_addr;
use telemetry::testing::TestTelemetry;
use telemetry::{
    Callback, Counter, Metrics, ObservableGauge, OtlpConfig, TelemetryClient, Unbounded,
};

telemetry::unbounded_attribute! {
    /// A value from outside.
    pub Label: "test.label", limit = 10
}
/// The test component's instruments.
#[derive(Metrics)]
#[metrics(prefix = "node.logs")]
struct LogsMetrics {
    /// Events with an unbounded label.
    #[metric(unit = "{event}")]
    labelled: Counter<u64, (Unbounded<Label>,)>,
    /// Amounts that may be invalid.
    #[metric(unit = "{item}")]
    amounts: Counter<f64, ()>,
}

/// A gauge whose callback always panics.
#[derive(Metrics)]
#[metrics(prefix = "node.logs")]
struct PanickingMetrics {
    /// A gauge whose callback always panics.
    #[metric(unit = "{item}")]
    panicking: ObservableGauge<u64, ()>,
}

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Captured;

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The captured lines that contain every one of `needles`.
fn lines_with(needles: &[&str]) -> Vec<String> {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        tracing_subscriber::fmt()
            .with_writer(|| Captured)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init()
    });
    String::from_utf8_lossy(&LOGS.lock().unwrap())
        .lines()
        .filter(|line| needles.iter().all(|n| line.contains(n)))
        .map(str::to_owned)
        .collect()
}

/// The one captured line that contains every one of `needles` (fails unless exactly one).
fn the_line_with(needles: &[&str]) -> String {
    let lines = lines_with(needles);
    assert_eq!(lines.len(), 1, "lines with {needles:?}: {lines:#?}");
    lines.into_iter().next().unwrap()
}

#[test]
fn an_unreachable_collector_is_logged_once_not_at_every_export() {
    lines_with(&[]); // the subscriber is up before the client logs
    let endpoint = format!("http://{}", free_addr());
    let client = TelemetryClient::builder("logs")
        .otlp(OtlpConfig {
            timeout: Duration::from_millis(200),
            ..OtlpConfig::grpc(endpoint.clone())
        })
        .export_interval(Duration::from_millis(20))
        .export_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.export_status().failures < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let failures = client.export_status().failures;
    assert!(failures >= 5, "only {failures} failed exports in 60 s");
    let warning = the_line_with(&["OTLP export failed", &endpoint]);
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("reason=\"unavailable\""), "{warning}");
    client.shutdown().ok();
}

#[test]
fn a_callback_that_always_panics_is_logged_once() {
    lines_with(&[]);
    let kit = TestTelemetry::new();
    let _panicking = PanickingMetrics::new(
        kit.client(),
        PanickingMetricsCallbacks {
            panicking: Callback::new(|_| panic!("callback bug in the test")),
        },
    );
    for _ in 0..10 {
        kit.collect();
    }
    let failures = kit.collect().u64_value(
        "telemetry.callback.failures",
        &[("telemetry.callback.metric", "node.logs.panicking")],
    );
    assert!(failures >= Some(10), "{failures:?}");
    let error = the_line_with(&["observable callback panicked", "node.logs.panicking"]);
    assert!(error.contains("callback bug in the test"), "{error}");
}

#[test]
fn a_cardinality_overflow_is_logged_once() {
    lines_with(&[]);
    let kit = TestTelemetry::new();
    let labelled = LogsMetrics::new(kit.client()).labelled;
    for i in 0..100 {
        labelled.add(1, (Unbounded::new(format!("value-{i}")),));
    }
    let overflows = kit.collect().u64_value(
        "telemetry.cardinality.overflows",
        &[("telemetry.overflow.metric", "node.logs.labelled")],
    );
    assert_eq!(overflows, Some(90));
    let warning = the_line_with(&["cardinality limit reached", "node.logs.labelled"]);
    assert!(warning.contains("limit=10"), "{warning}");
}

#[test]
fn invalid_measurements_are_logged_once_a_minute() {
    lines_with(&[]);
    let kit = TestTelemetry::new();
    let amounts = LogsMetrics::new(kit.client()).amounts;
    for _ in 0..100 {
        amounts.add(f64::NAN, ());
    }
    let dropped = kit.collect().u64_value(
        "telemetry.measurements.dropped",
        &[("telemetry.drop.reason", "nan")],
    );
    assert_eq!(dropped, Some(100));
    let warning = the_line_with(&["dropped an invalid measurement", "node.logs.amounts"]);
    assert!(warning.contains("reason=\"nan\""), "{warning}");
}
