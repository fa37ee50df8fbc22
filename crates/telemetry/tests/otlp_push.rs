//! OTLP push into real receivers (tonic gRPC and hyper HTTP/protobuf serving the official
//! protobufs): exact values, units, attributes, resource and temporality that arrived.

mod support;

use std::time::Duration;

use opentelemetry_sdk::metrics::Temporality;
use support::*;
use telemetry::{
    Callback, Compression, Counter, Histogram, Metrics, ObservableGauge, OtlpConfig,
    TelemetryClient, UpDownCounter,
};

telemetry::attribute_enum! {
    /// Test outcome.
    pub enum Outcome: "test.outcome" { Ok => "ok", Failed => "failed" }
}

/// The test component's instruments.
#[derive(Metrics)]
#[metrics(prefix = "node.pushtest")]
struct PushMetrics {
    /// Jobs, by outcome.
    #[metric(unit = "{job}")]
    jobs: Counter<u64, (Outcome,)>,
    /// Job time.
    #[metric(name = "job.duration", unit = "s")]
    duration: Histogram<f64, (Outcome,)>,
    /// Queue depth.
    #[metric(name = "queue.depth", unit = "{job}")]
    depth: ObservableGauge<i64, ()>,
    /// In flight.
    #[metric(unit = "{job}")]
    in_flight: UpDownCounter<i64, ()>,
}

fn record_known_values(client: &TelemetryClient) -> PushMetrics {
    let metrics = PushMetrics::new(
        client,
        PushMetricsCallbacks {
            depth: Callback::new(|observer| observer.observe(42, ())),
        },
    );
    metrics.jobs.add(3, (Outcome::Ok,));
    metrics.jobs.add(1, (Outcome::Failed,));
    metrics.duration.record(0.2, (Outcome::Ok,));
    metrics.duration.record(3.0, (Outcome::Ok,));
    metrics.in_flight.add(5, ());
    metrics.in_flight.add(-2, ());
    metrics
}

fn push_and_check(otlp: OtlpConfig, receiver: &Receiver, temporality: AggregationTemporality) {
    let client = TelemetryClient::builder("push-test")
        .service_version("1.2.3")
        .service_instance_id("instance-7")
        .node_role("sequencer")
        .otlp(otlp)
        .export_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let _observation = record_known_values(&client);
    client.force_flush().unwrap();
    assert!(
        receiver.received.wait_for(1, Duration::from_secs(30)),
        "no export arrived"
    );
    let request = receiver.received.last_request().unwrap();

    assert_eq!(
        resource_attribute(&request, "service.name").as_deref(),
        Some("push-test")
    );
    assert_eq!(
        resource_attribute(&request, "service.version").as_deref(),
        Some("1.2.3")
    );
    assert_eq!(
        resource_attribute(&request, "service.instance.id").as_deref(),
        Some("instance-7")
    );
    assert_eq!(
        resource_attribute(&request, "node.role").as_deref(),
        Some("sequencer")
    );
    assert!(resource_attribute(&request, "host.name").is_some_and(|h| !h.is_empty()));

    assert_eq!(
        point_value(&request, "node.pushtest.jobs", &[("test.outcome", "ok")]),
        Some(3.0)
    );
    assert_eq!(
        point_value(
            &request,
            "node.pushtest.jobs",
            &[("test.outcome", "failed")]
        ),
        Some(1.0)
    );
    assert_eq!(
        point_value(&request, "node.pushtest.in_flight", &[]),
        Some(3.0)
    );
    assert_eq!(
        point_value(&request, "node.pushtest.queue.depth", &[]),
        Some(42.0)
    );

    let jobs = metrics_named(&request, "node.pushtest.jobs")[0];
    assert_eq!(jobs.unit, "{job}");
    assert_eq!(jobs.description, "Jobs, by outcome.");
    match jobs.data.as_ref().unwrap() {
        metric::Data::Sum(sum) => {
            assert!(sum.is_monotonic);
            assert_eq!(sum.aggregation_temporality, temporality as i32);
        }
        other => panic!("jobs exported as {other:?}"),
    }
    let duration = metrics_named(&request, "node.pushtest.job.duration")[0];
    assert_eq!(duration.unit, "s");
    match duration.data.as_ref().unwrap() {
        metric::Data::Histogram(h) => {
            let ok = h
                .data_points
                .iter()
                .find(|p| {
                    string_attributes(&p.attributes)
                        == [("test.outcome".to_owned(), "ok".to_owned())]
                })
                .unwrap();
            assert_eq!(ok.count, 2);
            assert_eq!(ok.sum, Some(3.2));
            assert_eq!(
                ok.explicit_bounds,
                PushMetrics::DEFINITIONS[1].buckets.unwrap()
            );
            // 0.2 lands in the (0.1, 0.25] bucket and 3.0 in (2.5, 5].
            let bucket = |upper: f64| {
                PushMetrics::DEFINITIONS[1]
                    .buckets
                    .unwrap()
                    .iter()
                    .position(|b| *b == upper)
                    .unwrap()
            };
            assert_eq!(ok.bucket_counts[bucket(0.25)], 1);
            assert_eq!(ok.bucket_counts[bucket(5.0)], 1);
            assert_eq!(ok.bucket_counts.iter().sum::<u64>(), 2);
        }
        other => panic!("duration exported as {other:?}"),
    }
    // The push pipeline records itself.
    client.force_flush().unwrap();
    let status = client.export_status();
    assert!(status.attempts >= 2 && status.failures == 0, "{status:?}");
    client.shutdown().unwrap();
}

#[test]
fn grpc_push_delivers_exact_values_and_resource() {
    let receiver = grpc_receiver();
    push_and_check(
        OtlpConfig::grpc(format!("http://{}", receiver.addr)),
        &receiver,
        AggregationTemporality::Cumulative,
    );
}

#[test]
fn http_push_delivers_exact_values_and_resource() {
    let receiver = http_receiver();
    push_and_check(
        OtlpConfig::http(format!("http://{}/v1/metrics", receiver.addr)),
        &receiver,
        AggregationTemporality::Cumulative,
    );
}

#[test]
fn grpc_push_with_gzip_headers_and_delta_temporality() {
    let receiver = grpc_receiver();
    let otlp = OtlpConfig {
        headers: vec![("x-api-key".into(), "secret-1".into())],
        compression: Compression::Gzip,
        temporality: Temporality::Delta,
        ..OtlpConfig::grpc(format!("http://{}", receiver.addr))
    };
    push_and_check(otlp, &receiver, AggregationTemporality::Delta);
    let headers = receiver.received.last_headers();
    assert!(
        headers.contains(&("x-api-key".into(), "secret-1".into())),
        "{headers:?}"
    );
    assert!(
        headers.contains(&("grpc-encoding".into(), "gzip".into())),
        "{headers:?}"
    );
}

#[test]
fn http_push_with_gzip_and_headers() {
    let receiver = http_receiver();
    let otlp = OtlpConfig {
        headers: vec![("authorization".into(), "Bearer t0ken".into())],
        compression: Compression::Gzip,
        ..OtlpConfig::http(format!("http://{}/v1/metrics", receiver.addr))
    };
    push_and_check(otlp, &receiver, AggregationTemporality::Cumulative);
    let headers = receiver.received.last_headers();
    assert!(
        headers.contains(&("authorization".into(), "Bearer t0ken".into())),
        "{headers:?}"
    );
    assert!(
        headers.contains(&("content-encoding".into(), "gzip".into())),
        "{headers:?}"
    );
}

#[test]
fn environment_configures_push() {
    let receiver = http_receiver();
    let base = format!("http://{}", receiver.addr);
    let env = |name: &str| match name {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(base.clone()),
        "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/protobuf".to_owned()),
        "OTEL_SERVICE_NAME" => Some("from-env".to_owned()),
        "OTEL_RESOURCE_ATTRIBUTES" => {
            Some("deployment.environment=test,service.instance.id=env-1".to_owned())
        }
        "OTEL_METRIC_EXPORT_INTERVAL" => Some("200".to_owned()),
        _ => None,
    };
    let client = TelemetryClient::builder("code-name")
        .with_env_from(env)
        .unwrap()
        .build()
        .unwrap();
    let _observation = record_known_values(&client);
    // The periodic reader exports on its own at the 200 ms interval.
    assert!(
        receiver.received.wait_for(2, Duration::from_secs(30)),
        "periodic export did not arrive"
    );
    let request = receiver.received.last_request().unwrap();
    assert_eq!(
        resource_attribute(&request, "service.name").as_deref(),
        Some("from-env")
    );
    assert_eq!(
        resource_attribute(&request, "service.instance.id").as_deref(),
        Some("env-1")
    );
    assert_eq!(
        resource_attribute(&request, "deployment.environment").as_deref(),
        Some("test")
    );
    assert_eq!(
        point_value(&request, "node.pushtest.jobs", &[("test.outcome", "ok")]),
        Some(3.0)
    );
    client.shutdown().unwrap();
}

#[test]
fn unreachable_collector_is_visible_and_does_not_block() {
    // A port with nothing listening: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = TelemetryClient::builder("unreachable")
        .otlp(OtlpConfig {
            timeout: Duration::from_millis(500),
            ..OtlpConfig::grpc(format!("http://127.0.0.1:{port}"))
        })
        .export_timeout(Duration::from_secs(2))
        .export_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let _observation = record_known_values(&client);
    assert!(
        client.force_flush().is_err(),
        "an export to a closed port reported success"
    );
    let status = client.export_status();
    assert_eq!(
        (status.attempts, status.failures, status.last_success_unix),
        (1, 1, None),
        "{status:?}"
    );

    // The failure is visible to an operator through the same pipeline's other readers too:
    // here, through a receiver that works, the failure counter has the reason.
    let started = std::time::Instant::now();
    let _ = client.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        started.elapsed()
    );
}

#[test]
fn failures_are_counted_by_reason_in_self_telemetry() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kit = telemetry::testing::TestTelemetry::with_builder(
        TelemetryClient::builder("self-telemetry")
            .otlp(OtlpConfig {
                timeout: Duration::from_millis(500),
                ..OtlpConfig::grpc(format!("http://127.0.0.1:{port}"))
            })
            .export_timeout(Duration::from_secs(2))
            .export_interval(Duration::from_secs(3600)),
    );
    let _ = kit.client().force_flush();
    let snapshot = kit.collect();
    let grpc = ("otel.component.type", "otlp_grpc_metric_exporter");
    let unavailable = [grpc, ("error.type", "unavailable")];
    let failed = snapshot
        .histogram("otel.sdk.exporter.operation.duration", &unavailable)
        .unwrap();
    assert_eq!(
        failed.count,
        1,
        "failure not classified as unavailable: {:?}",
        snapshot.attribute_sets("otel.sdk.exporter.operation.duration")
    );
    let succeeded = snapshot
        .histogram("otel.sdk.exporter.operation.duration", &[grpc])
        .unwrap();
    assert_eq!(succeeded.count, 0, "the success series exists at zero");
    // Every data point of the failed export is counted with its error.
    let lost = snapshot
        .u64_value("otel.sdk.exporter.metric_data_point.exported", &unavailable)
        .unwrap();
    assert!(lost > 10, "{lost} data points counted as failed");
    assert_eq!(
        snapshot.u64_value("otel.sdk.exporter.metric_data_point.exported", &[grpc]),
        Some(0)
    );
    assert!(snapshot
        .value("telemetry.export.last_success", &[grpc])
        .is_none());
    kit.client().shutdown().unwrap_or_default();
}

#[test]
fn tls_push_with_a_private_ca_over_grpc_and_http() {
    let certificates = test_certificates();
    let certificate = certificates.server.clone();
    let dir = std::env::temp_dir().join(format!("telemetry-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &certificates.ca).unwrap();

    let receiver = grpc_tls_receiver(&certificate);
    let otlp = OtlpConfig {
        ca_certificate: Some(ca.clone()),
        ..OtlpConfig::grpc(format!("https://{}", receiver.addr))
    };
    push_and_check(otlp, &receiver, AggregationTemporality::Cumulative);

    let receiver = http_tls_receiver(&certificate);
    let otlp = OtlpConfig {
        ca_certificate: Some(ca.clone()),
        ..OtlpConfig::http(format!("https://{}/v1/metrics", receiver.addr))
    };
    push_and_check(otlp, &receiver, AggregationTemporality::Cumulative);

    // Without the CA the server is not trusted: the export fails, nothing arrives.
    let receiver = grpc_tls_receiver(&certificate);
    let client = TelemetryClient::builder("untrusted")
        .otlp(OtlpConfig::grpc(format!("https://{}", receiver.addr)))
        .export_timeout(Duration::from_secs(5))
        .export_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let _observation = record_known_values(&client);
    assert!(client.force_flush().is_err());
    assert_eq!(receiver.received.count(), 0);
    let _ = client.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes a PEM certificate file whose body is `body`, in a directory of this test's own.
fn certificate_file(name: &str, body: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("telemetry-bad-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"),
    )
    .unwrap();
    path
}

/// A corrupt certificate body under `#[tokio::main]`, as in the quickstart (issue 19): the
/// error names the variable, and nothing panics (the SDK's own runtime was dropped inside
/// the caller's async context, which tokio refuses with a panic).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_corrupt_certificate_body_is_an_error_naming_the_variable_inside_tokio() {
    let corrupt = certificate_file("corrupt.pem", "this is not base64 !!!");
    let corrupt = corrupt.to_str().unwrap().to_owned();
    for protocol in ["grpc", "http/protobuf"] {
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", corrupt.as_str()),
        ];
        let lookup = |name: &str| {
            env.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        };
        let error = TelemetryClient::builder("corrupt-ca")
            .with_env_from(lookup)
            .map_err(telemetry::BuildError::from)
            .and_then(|builder| builder.build())
            .expect_err("a corrupt certificate is refused");
        let message = error.to_string();
        assert!(
            message.contains("OTEL_EXPORTER_OTLP_CERTIFICATE") && message.contains("corrupt"),
            "{protocol}: {message}"
        );
        // Set from code, the certificate is checked by build() the same way.
        let mut otlp = OtlpConfig::grpc("https://127.0.0.1:4317");
        otlp.ca_certificate = Some(corrupt.clone().into());
        let error = TelemetryClient::builder("corrupt-ca")
            .otlp(otlp)
            .build()
            .expect_err("a corrupt certificate is refused");
        assert!(
            error.to_string().contains("OTEL_EXPORTER_OTLP_CERTIFICATE"),
            "{error}"
        );
    }
}

/// A certificate body that decodes but is no certificate fails only when the HTTP exporter
/// is built, after the SDK's runtime has started: inside a tokio runtime, `build()` returns
/// the exporter's error and nothing panics, whatever the signal. (tonic skips a root it
/// cannot parse, so over gRPC the build succeeds and the TLS handshake fails instead.)
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_exporter_build_error_inside_tokio_is_an_error_not_a_panic() {
    // DER of a SEQUENCE holding INTEGER 0: well-formed, not a certificate.
    let not_a_certificate = certificate_file("not-a-certificate.pem", "MAMCAQA=");
    let http = |signal: &str| OtlpConfig {
        ca_certificate: Some(not_a_certificate.clone()),
        ..OtlpConfig::http(format!("https://127.0.0.1:4318/v1/{signal}"))
    };
    for (signal, builder) in [
        (
            "metrics",
            TelemetryClient::builder("bad-ca").otlp(http("metrics")),
        ),
        (
            "traces",
            TelemetryClient::builder("bad-ca").traces(http("traces")),
        ),
        (
            "logs",
            TelemetryClient::builder("bad-ca").logs(http("logs")),
        ),
    ] {
        let error = builder.build().expect_err(signal);
        assert!(
            matches!(error, telemetry::BuildError::Exporter { .. })
                && error.to_string().contains("OTEL_EXPORTER_OTLP_CERTIFICATE"),
            "{signal}: {error}"
        );
    }
}
