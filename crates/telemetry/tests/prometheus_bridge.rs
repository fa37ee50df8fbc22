//! The Prometheus pull bridge over real HTTP: content type, gzip, auth, errors, names equal
//! to what Prometheus makes of the same data over OTLP, and `promtool check metrics`.

mod support;

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;
use telemetry::{
    BridgeAuth, Counter, Gauge, Histogram, Metrics, OtlpConfig, PrometheusConfig, TelemetryClient,
    UpDownCounter,
};

telemetry::attribute_enum! {
    /// Test method.
    pub enum Method: "rpc.method" { Submit => "submit", Status => "status" }
}

/// The test component's instruments.
#[derive(Metrics)]
#[metrics(prefix = "node.bridgetest")]
struct BridgeTestMetrics {
    /// Requests, by method.
    #[metric(unit = "{request}")]
    requests: Counter<u64, (Method,)>,
    /// Request time.
    #[metric(name = "request.duration", unit = "s")]
    latency: Histogram<f64, (Method,)>,
    /// Bytes stored.
    #[metric(unit = "By")]
    stored: UpDownCounter<i64, ()>,
    /// Fill level.
    #[metric(unit = "1")]
    fill: Gauge<f64, ()>,
    /// Idle time, without attributes.
    #[metric(unit = "s", buckets = [0.5, 1.0])]
    idle: Histogram<f64, ()>,
}

fn bridge_client(config: PrometheusConfig) -> TelemetryClient {
    TelemetryClient::builder("bridge-test")
        .prometheus_config(config)
        .build()
        .unwrap()
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn record(client: &TelemetryClient) {
    let metrics = BridgeTestMetrics::new(client);
    metrics.requests.add(7, (Method::Submit,));
    metrics.latency.record(0.003, (Method::Status,));
    metrics.stored.add(4096, ());
    metrics.fill.record(0.25, ());
}

#[test]
fn scrape_serves_prometheus_names_and_exact_values() {
    let client = bridge_client(PrometheusConfig::new(loopback()));
    record(&client);
    let addr = client.prometheus_addr().unwrap();
    let (status, headers, body) = http_get(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(
        headers.contains(&(
            "content-type".into(),
            telemetry::PROMETHEUS_CONTENT_TYPE.into()
        )),
        "{headers:?}"
    );
    let text = String::from_utf8(body).unwrap();

    for def in BridgeTestMetrics::DEFINITIONS {
        let family = def.prometheus_name();
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} missing from:\n{text}"
        );
    }
    assert_eq!(
        sample(
            &text,
            "node_bridgetest_requests_total",
            &[("rpc_method", "submit")]
        ),
        Some(7.0)
    );
    // Seeded at zero before any event: rate() works from the first scrape.
    assert_eq!(
        sample(
            &text,
            "node_bridgetest_requests_total",
            &[("rpc_method", "status")]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "node_bridgetest_stored_bytes", &[]),
        Some(4096.0)
    );
    assert_eq!(sample(&text, "node_bridgetest_fill_ratio", &[]), Some(0.25));
    assert!(
        text.contains(
            "node_bridgetest_request_duration_seconds_bucket{rpc_method=\"status\",le=\"0.005\"} 1"
        ),
        "{text}"
    );
    assert!(
        !text.contains("otel_scope_name"),
        "scope labels would differ from the OTLP path"
    );
    // The bridge counts its own scrapes.
    let again = scrape(addr);
    assert_eq!(
        sample(
            &again,
            "telemetry_scrapes_total",
            &[("telemetry_scrape_outcome", "ok")]
        ),
        Some(1.0)
    );
    client.shutdown().unwrap();
}

#[test]
fn a_histogram_without_attributes_is_served_at_zero_before_its_first_observation() {
    let client = bridge_client(PrometheusConfig::new(loopback()));
    let metrics = BridgeTestMetrics::new(&client);
    let addr = client.prometheus_addr().unwrap();
    let text = scrape(addr);
    let bucket = |text: &str, le: &str| {
        let prefix = format!("node_bridgetest_idle_seconds_bucket{{le=\"{le}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .map(|value| value.parse::<f64>().unwrap())
    };
    assert_eq!(
        (
            bucket(&text, "0.5"),
            bucket(&text, "1"),
            bucket(&text, "+Inf")
        ),
        (Some(0.0), Some(0.0), Some(0.0)),
        "{text}"
    );
    assert!(
        text.contains("node_bridgetest_idle_seconds_count 0\n"),
        "{text}"
    );
    assert!(
        text.contains("node_bridgetest_idle_seconds_sum 0\n"),
        "{text}"
    );
    assert!(text.contains("# HELP node_bridgetest_idle_seconds Idle time, without attributes.\n"));
    // Once observed, the SDK's own series replaces the zero one: one family, real values.
    metrics.idle.record(0.7, ());
    let text = scrape(addr);
    assert_eq!(
        (
            bucket(&text, "0.5"),
            bucket(&text, "1"),
            bucket(&text, "+Inf")
        ),
        (Some(0.0), Some(1.0), Some(1.0)),
        "{text}"
    );
    assert_eq!(
        text.matches("# TYPE node_bridgetest_idle_seconds ").count(),
        1
    );
    assert!(
        text.contains("node_bridgetest_idle_seconds_sum 0.7\n"),
        "{text}"
    );
    client.shutdown().unwrap();
}

#[test]
fn every_catalog_metric_appears_under_its_computed_name() {
    // Spans and logs configured (nothing is emitted, so nothing is sent): their pipeline
    // metrics are registered too.
    let nowhere = OtlpConfig::grpc("http://127.0.0.1:9");
    let client = TelemetryClient::builder("bridge-test")
        .prometheus_config(PrometheusConfig::new(loopback()))
        .traces(nowhere.clone())
        .logs(nowhere)
        .build()
        .unwrap();
    // The pipeline's own metrics are in the catalog and always registered: sums and
    // histograms with closed attribute sets from the very first scrape (histograms
    // included, at count 0); gauges and unbounded attributes once recorded.
    let text = scrape(client.prometheus_addr().unwrap());
    let own = telemetry::catalog()
        .metrics()
        .iter()
        .filter(|m| m.component == "otel.sdk" || m.component == "telemetry")
        .copied()
        .collect::<Vec<_>>();
    assert_eq!(own.len(), 20, "{own:?}");
    for info in own {
        if info.kind.is_gauge() || info.closed_series().is_none() {
            continue;
        }
        let family = info.prometheus_name();
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} missing:\n{text}"
        );
    }
    client.shutdown().unwrap();
}

/// `promtool check metrics` (Prometheus 3.5's, from `scripts/install-tools.sh`) must be clean.
#[test]
fn promtool_check_metrics_is_clean() {
    let Some(promtool) = tool("PROMTOOL3") else {
        return;
    };
    let client = bridge_client(PrometheusConfig::new(loopback()));
    record(&client);
    let text = scrape(client.prometheus_addr().unwrap());
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    client.shutdown().unwrap();
}

#[test]
fn gzip_head_404_and_405() {
    let client = bridge_client(PrometheusConfig::new(loopback()));
    record(&client);
    let addr = client.prometheus_addr().unwrap();

    let (status, headers, body) = http_get(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(headers.contains(&("content-encoding".into(), "gzip".into())));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(
        sample(
            &text,
            "node_bridgetest_requests_total",
            &[("rpc_method", "submit")]
        ),
        Some(7.0)
    );

    let (status, headers, body) = http_get(
        addr,
        "HEAD /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert!(headers.contains(&(
        "content-type".into(),
        telemetry::PROMETHEUS_CONTENT_TYPE.into()
    )));

    let (status, _, _) = http_get(
        addr,
        "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 404);
    let (status, headers, _) = http_get(
        addr,
        "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 405);
    assert!(headers.contains(&("allow".into(), "GET, HEAD".into())));
    client.shutdown().unwrap();
}

#[test]
fn bearer_and_basic_auth() {
    let client = bridge_client(PrometheusConfig {
        auth: Some(BridgeAuth::Bearer("s3cret".into())),
        ..PrometheusConfig::new(loopback())
    });
    record(&client);
    let addr = client.prometheus_addr().unwrap();
    let (status, headers, body) = http_get(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 401);
    assert!(headers.contains(&("www-authenticate".into(), "Bearer realm=\"metrics\"".into())));
    assert!(
        !String::from_utf8_lossy(&body).contains("node_"),
        "401 leaked metrics"
    );
    let (status, _, _) = http_get(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer wrong\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 401);
    let (status, _, body) = http_get(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("node_bridgetest_requests_total"));
    client.shutdown().unwrap();

    let client = bridge_client(PrometheusConfig {
        auth: Some(BridgeAuth::Basic {
            user: "prom".into(),
            password: "pw".into(),
        }),
        ..PrometheusConfig::new(loopback())
    });
    let addr = client.prometheus_addr().unwrap();
    let (status, headers, _) = http_get(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 401);
    assert!(headers.contains(&("www-authenticate".into(), "Basic realm=\"metrics\"".into())));
    // "prom:pw" in base64.
    let (status, _, _) = http_get(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Basic cHJvbTpwdw==\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    client.shutdown().unwrap();
}

/// The status of a scrape sending `authorization` (no header when `None`).
fn scrape_status(addr: SocketAddr, authorization: Option<&str>) -> u16 {
    let header = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    http_get(
        addr,
        &format!("GET /metrics HTTP/1.1\r\nHost: t\r\n{header}Connection: close\r\n\r\n"),
    )
    .0
}

#[test]
fn auth_scheme_is_case_insensitive_and_credentials_must_match_exactly() {
    let client = bridge_client(PrometheusConfig {
        auth: Some(BridgeAuth::Bearer("s3cret".into())),
        ..PrometheusConfig::new(loopback())
    });
    let addr = client.prometheus_addr().unwrap();
    let cases = [
        (Some("bearer s3cret"), 200),
        (Some("Bearer s3cret"), 200),
        (Some("BEARER s3cret"), 200),
        (Some("bEaReR   s3cret"), 200),
        (Some("Bearer s3cre"), 401),
        (Some("Bearer s3cret0"), 401),
        (Some("Bearer S3CRET"), 401),
        (Some("Bearers3cret"), 401),
        (Some("Basic s3cret"), 401),
        (Some("s3cret"), 401),
        (Some("Bearer"), 401),
        (None, 401),
    ];
    for (authorization, expected) in cases {
        assert_eq!(
            scrape_status(addr, authorization),
            expected,
            "{authorization:?}"
        );
    }
    client.shutdown().unwrap();

    let client = bridge_client(PrometheusConfig {
        auth: Some(BridgeAuth::Basic {
            user: "prom".into(),
            password: "pw".into(),
        }),
        ..PrometheusConfig::new(loopback())
    });
    let addr = client.prometheus_addr().unwrap();
    // "prom:pw" in base64; the encoding itself is case-sensitive.
    for (authorization, expected) in [
        ("basic cHJvbTpwdw==", 200),
        ("BASIC cHJvbTpwdw==", 200),
        ("Basic cHJvbTpwdw=", 401),
        ("Basic chjvbtpwdw==", 401),
        ("Bearer cHJvbTpwdw==", 401),
    ] {
        assert_eq!(
            scrape_status(addr, Some(authorization)),
            expected,
            "{authorization}"
        );
    }
    client.shutdown().unwrap();
}

#[test]
fn push_and_pull_run_together_from_one_client() {
    let receiver = grpc_receiver();
    let client = TelemetryClient::builder("both")
        .otlp(OtlpConfig::grpc(format!("http://{}", receiver.addr)))
        .export_interval(Duration::from_secs(3600))
        .prometheus(loopback())
        .build()
        .unwrap();
    record(&client);
    let text = scrape(client.prometheus_addr().unwrap());
    client.force_flush().unwrap();
    let request = receiver.received.last_request().unwrap();
    assert_eq!(
        sample(
            &text,
            "node_bridgetest_requests_total",
            &[("rpc_method", "submit")]
        ),
        Some(7.0)
    );
    assert_eq!(
        point_value(
            &request,
            "node.bridgetest.requests",
            &[("rpc.method", "submit")]
        ),
        Some(7.0)
    );
    client.shutdown().unwrap();
}

#[test]
fn taken_address_is_a_configuration_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let error = TelemetryClient::builder("taken")
        .prometheus(addr)
        .build()
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("TELEMETRY_PROMETHEUS_ADDR") && message.contains(&addr.to_string()),
        "{message}"
    );
}
