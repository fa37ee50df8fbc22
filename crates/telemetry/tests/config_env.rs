//! Every configuration variable, valid and invalid (table-driven, no process env touched).

use std::time::Duration;

use opentelemetry_sdk::metrics::Temporality;
use telemetry::{
    BatchConfig, BridgeAuth, Compression, ConfigError, OtlpConfig, PrometheusConfig, Protocol,
    Sampler, TelemetryClient, TelemetryConfig,
};

/// Environment variables as (name, value) pairs.
type Vars<'a> = &'a [(&'a str, &'a str)];

fn apply(vars: &[(&str, &str)]) -> Result<TelemetryConfig, ConfigError> {
    let mut config = TelemetryConfig::new("code");
    config.apply_env(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })?;
    config.validate()?;
    Ok(config)
}

const TOKEN_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bridge-token");
const EMPTY_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/empty");

#[test]
fn valid_values() {
    type Check = fn(&TelemetryConfig) -> bool;
    let cases: &[(Vars, Check)] = &[
        (&[], |c| {
            !c.disabled && c.otlp.is_none() && c.prometheus.is_none()
        }),
        (&[("OTEL_SDK_DISABLED", "TRUE")], |c| c.disabled),
        (&[("OTEL_SDK_DISABLED", "false")], |c| !c.disabled),
        (&[("OTEL_SERVICE_NAME", "svc")], |c| c.service_name == "svc"),
        (
            &[(
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=a,team=core%20infra",
            )],
            |c| {
                c.service_name == "a"
                    && c.resource_attributes == [("team".to_owned(), "core infra".to_owned())]
            },
        ),
        (
            &[
                ("OTEL_RESOURCE_ATTRIBUTES", "service.name=a"),
                ("OTEL_SERVICE_NAME", "b"),
            ],
            |c| c.service_name == "b",
        ),
        (
            &[("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=i-1")],
            |c| c.service_instance_id.as_deref() == Some("i-1"),
        ),
        (&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")], |c| {
            let o = c.otlp.as_ref().unwrap();
            o.endpoint == "http://c:4317"
                && o.protocol == Protocol::Grpc
                && o.timeout == Duration::from_secs(10)
        }),
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ],
            |c| {
                let o = c.otlp.as_ref().unwrap();
                o.endpoint == "http://c:4318/v1/metrics" && o.protocol == Protocol::HttpProtobuf
            },
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    "https://m.example:443/custom",
                ),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ],
            |c| c.otlp.as_ref().unwrap().endpoint == "https://m.example:443/custom",
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "a=1, b = x%3Dy "),
            ],
            |c| {
                c.otlp.as_ref().unwrap().headers
                    == [
                        ("a".to_owned(), "1".to_owned()),
                        ("b".to_owned(), "x=y".to_owned()),
                    ]
            },
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ],
            |c| c.otlp.as_ref().unwrap().timeout == Duration::from_millis(2500),
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ],
            |c| c.otlp.as_ref().unwrap().compression == Compression::Gzip,
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
            ],
            |c| c.otlp.as_ref().unwrap().compression == Compression::None,
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
            ],
            |c| c.otlp.as_ref().unwrap().temporality == Temporality::Delta,
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                    "lowmemory",
                ),
            ],
            |c| c.otlp.as_ref().unwrap().temporality == Temporality::LowMemory,
        ),
        (&[("OTEL_METRIC_EXPORT_INTERVAL", "5000")], |c| {
            c.export_interval == Duration::from_secs(5)
        }),
        (&[("OTEL_METRIC_EXPORT_TIMEOUT", "1000")], |c| {
            c.export_timeout == Duration::from_secs(1)
        }),
        (&[("TELEMETRY_PROMETHEUS_ADDR", "0.0.0.0:9464")], |c| {
            c.prometheus.as_ref().unwrap().listen == "0.0.0.0:9464".parse().unwrap()
        }),
        (&[("TELEMETRY_PROMETHEUS_ADDR", "[::1]:9000")], |c| {
            c.prometheus.as_ref().unwrap().listen.is_ipv6()
        }),
        (
            &[
                ("TELEMETRY_PROMETHEUS_ADDR", "127.0.0.1:1"),
                ("TELEMETRY_PROMETHEUS_BEARER_TOKEN", "tok"),
            ],
            |c| c.prometheus.as_ref().unwrap().auth == Some(BridgeAuth::Bearer("tok".into())),
        ),
        (
            &[
                ("TELEMETRY_PROMETHEUS_ADDR", "127.0.0.1:1"),
                ("TELEMETRY_PROMETHEUS_BASIC_AUTH", "u:p:q"),
            ],
            |c| {
                c.prometheus.as_ref().unwrap().auth
                    == Some(BridgeAuth::Basic {
                        user: "u".into(),
                        password: "p:q".into(),
                    })
            },
        ),
        (
            &[("TELEMETRY_INCLUDE_METRICS", "node.rpc, node.mempool,")],
            |c| c.include_metrics == ["node.rpc", "node.mempool"],
        ),
        (&[("TELEMETRY_EXCLUDE_METRICS", "system.")], |c| {
            c.exclude_metrics == ["system."]
        }),
        (
            &[
                ("TELEMETRY_PROMETHEUS_ADDR", "127.0.0.1:1"),
                ("TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE", TOKEN_FILE),
            ],
            |c| {
                c.prometheus.as_ref().unwrap().auth
                    == Some(BridgeAuth::Bearer("from-a-file".into()))
            },
        ),
        // Empty values count as unset, as the specification says.
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
                ("OTEL_SDK_DISABLED", " "),
            ],
            |c| c.otlp.is_none() && !c.disabled,
        ),
        // Traces and logs: the generic endpoint serves all three signals; HTTP appends
        // each signal's path; a signal's own variables win; `none` turns one off.
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "1500"),
            ],
            |c| {
                c.otlp.as_ref().unwrap().endpoint == "http://c:4318/v1/metrics"
                    && c.traces.as_ref().unwrap().endpoint == "http://c:4318/v1/traces"
                    && c.logs.as_ref().unwrap().endpoint == "http://c:4318/v1/logs"
                    && c.logs.as_ref().unwrap().timeout == Duration::from_millis(1500)
                    && c.traces.as_ref().unwrap().timeout == Duration::from_secs(10)
            },
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://t:443/x"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "k=v"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "g=1"),
                ("OTEL_LOGS_EXPORTER", "none"),
            ],
            |c| {
                let t = c.traces.as_ref().unwrap();
                t.endpoint == "https://t:443/x"
                    && t.protocol == Protocol::HttpProtobuf
                    && t.headers == [("k".to_owned(), "v".to_owned())]
                    && c.otlp.as_ref().unwrap().headers == [("g".to_owned(), "1".to_owned())]
                    && c.otlp.as_ref().unwrap().protocol == Protocol::Grpc
                    && c.logs.is_none()
            },
        ),
        (
            &[("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://l:4317")],
            |c| c.logs.is_some() && c.traces.is_none() && c.otlp.is_none(),
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_TRACES_EXPORTER", "none"),
            ],
            |c| c.traces.is_none() && c.logs.is_some() && c.otlp.is_some(),
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ],
            |c| c.tracing.sampler == Sampler::ParentBasedTraceIdRatio(0.25),
        ),
        (&[("OTEL_TRACES_SAMPLER", "traceidratio")], |c| {
            c.tracing.sampler == Sampler::TraceIdRatio(1.0)
        }),
        (&[("OTEL_TRACES_SAMPLER", "always_off")], |c| {
            c.tracing.sampler == Sampler::AlwaysOff
        }),
        (&[], |c| {
            c.tracing.sampler == Sampler::ParentBasedAlwaysOn
                && c.tracing.spans == BatchConfig::spans()
                && c.tracing.logs == BatchConfig::logs()
        }),
        (
            &[
                ("OTEL_BSP_SCHEDULE_DELAY", "200"),
                ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16"),
                ("OTEL_BSP_EXPORT_TIMEOUT", "3000"),
                ("OTEL_BLRP_MAX_QUEUE_SIZE", "4096"),
            ],
            |c| {
                c.tracing.spans
                    == BatchConfig {
                        schedule_delay: Duration::from_millis(200),
                        max_queue_size: 64,
                        max_export_batch_size: 16,
                        export_timeout: Duration::from_secs(3),
                    }
                    && c.tracing.logs.max_queue_size == 4096
                    && c.tracing.logs.schedule_delay == Duration::from_secs(1)
            },
        ),
    ];
    for (vars, check) in cases {
        let config = apply(vars).unwrap_or_else(|e| panic!("{vars:?} rejected: {e}"));
        assert!(check(&config), "{vars:?} gave {config:?}");
    }
}

#[test]
fn invalid_values_name_the_variable_and_value() {
    let otlp = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317");
    let cases: &[(Vars, &str, &str)] = &[
        (&[("OTEL_SDK_DISABLED", "yes")], "OTEL_SDK_DISABLED", "yes"),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "not a url",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://c:21")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "ftp://c:21",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "collector:4317",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://")],
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "http://",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_PROTOCOL", "udp")],
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "udp",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "http/json",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_HEADERS", "novalue")],
            "OTEL_EXPORTER_OTLP_HEADERS",
            "entry 1",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,=2")],
            "OTEL_EXPORTER_OTLP_HEADERS",
            "entry 2",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_HEADERS", "bad key=1")],
            "OTEL_EXPORTER_OTLP_HEADERS",
            "bad key",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_HEADERS", "k=%0A")],
            "OTEL_EXPORTER_OTLP_HEADERS",
            "k=<redacted>",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")],
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "10s",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_TIMEOUT", "0")],
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "0",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")],
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "zstd",
        ),
        (
            &[
                otlp,
                (
                    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                    "weekly",
                ),
            ],
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "weekly",
        ),
        (
            &[("OTEL_METRIC_EXPORT_INTERVAL", "-5")],
            "OTEL_METRIC_EXPORT_INTERVAL",
            "-5",
        ),
        (
            &[("OTEL_METRIC_EXPORT_INTERVAL", "1e3")],
            "OTEL_METRIC_EXPORT_INTERVAL",
            "1e3",
        ),
        (
            &[("OTEL_METRIC_EXPORT_TIMEOUT", "abc")],
            "OTEL_METRIC_EXPORT_TIMEOUT",
            "abc",
        ),
        (
            &[("OTEL_RESOURCE_ATTRIBUTES", "team")],
            "OTEL_RESOURCE_ATTRIBUTES",
            "team",
        ),
        (
            &[("OTEL_RESOURCE_ATTRIBUTES", "a=%FF")],
            "OTEL_RESOURCE_ATTRIBUTES",
            "a=%FF",
        ),
        (
            &[("TELEMETRY_PROMETHEUS_ADDR", "localhost")],
            "TELEMETRY_PROMETHEUS_ADDR",
            "localhost",
        ),
        (
            &[("TELEMETRY_PROMETHEUS_ADDR", "127.0.0.1:99999")],
            "TELEMETRY_PROMETHEUS_ADDR",
            "127.0.0.1:99999",
        ),
        (
            &[("TELEMETRY_PROMETHEUS_BEARER_TOKEN", "t")],
            "TELEMETRY_PROMETHEUS_BEARER_TOKEN",
            "<redacted>",
        ),
        (
            &[("TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE", TOKEN_FILE)],
            "TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE",
            "<redacted>",
        ),
        // An empty token file fails closed: it does not serve /metrics to anyone.
        (
            &[
                ("TELEMETRY_PROMETHEUS_ADDR", "127.0.0.1:1"),
                ("TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE", EMPTY_FILE),
            ],
            "TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE",
            EMPTY_FILE,
        ),
        (
            &[
                ("TELEMETRY_PROMETHEUS_ADDR", "127.0.0.1:1"),
                ("TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE", EMPTY_FILE),
                ("TELEMETRY_PROMETHEUS_BEARER_TOKEN", "t"),
            ],
            "TELEMETRY_PROMETHEUS_BEARER_TOKEN",
            "<redacted>",
        ),
        (
            &[
                ("TELEMETRY_PROMETHEUS_ADDR", "127.0.0.1:1"),
                ("TELEMETRY_PROMETHEUS_BEARER_TOKEN", "t"),
                ("TELEMETRY_PROMETHEUS_BASIC_AUTH", "u:p"),
            ],
            "TELEMETRY_PROMETHEUS_BASIC_AUTH",
            "<redacted>",
        ),
        (
            &[
                ("TELEMETRY_PROMETHEUS_ADDR", "127.0.0.1:1"),
                ("TELEMETRY_PROMETHEUS_BASIC_AUTH", "nopassword"),
            ],
            "TELEMETRY_PROMETHEUS_BASIC_AUTH",
            "<redacted>",
        ),
        (
            &[
                ("TELEMETRY_PROMETHEUS_ADDR", "127.0.0.1:1"),
                ("TELEMETRY_PROMETHEUS_BEARER_TOKEN", "two words"),
            ],
            "TELEMETRY_PROMETHEUS_BEARER_TOKEN",
            "<redacted>",
        ),
        (
            &[("TELEMETRY_INCLUDE_METRICS", "node.RPC")],
            "TELEMETRY_INCLUDE_METRICS",
            "node.RPC",
        ),
        (
            &[("TELEMETRY_EXCLUDE_METRICS", "node rpc")],
            "TELEMETRY_EXCLUDE_METRICS",
            "node rpc",
        ),
        (
            &[
                otlp,
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
            ],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "/nonexistent/ca.pem",
        ),
        (
            &[
                otlp,
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/proc/self/status"),
            ],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "/proc/self/status",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/dev/zero")],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "/dev/zero",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/tmp")],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "/tmp",
        ),
        (
            &[
                ("TELEMETRY_PROMETHEUS_ADDR", "127.0.0.1:1"),
                ("TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE", "/nonexistent"),
            ],
            "TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE",
            "/nonexistent",
        ),
        (
            &[("OTEL_TRACES_EXPORTER", "zipkin")],
            "OTEL_TRACES_EXPORTER",
            "zipkin",
        ),
        (
            &[("OTEL_LOGS_EXPORTER", "console")],
            "OTEL_LOGS_EXPORTER",
            "console",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://t:21")],
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "ftp://t:21",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json")],
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
            "http/json",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon")],
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "soon",
        ),
        (
            &[otlp, ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "zstd")],
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
            "zstd",
        ),
        (
            &[
                otlp,
                ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/nonexistent.pem"),
            ],
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            "/nonexistent.pem",
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "jaeger_remote")],
            "OTEL_TRACES_SAMPLER",
            "jaeger_remote",
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ],
            "OTEL_TRACES_SAMPLER_ARG",
            "1.5",
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "half"),
            ],
            "OTEL_TRACES_SAMPLER_ARG",
            "half",
        ),
        (
            &[("OTEL_BSP_MAX_QUEUE_SIZE", "lots")],
            "OTEL_BSP_MAX_QUEUE_SIZE",
            "lots",
        ),
        (
            &[("OTEL_BSP_MAX_QUEUE_SIZE", "0")],
            "OTEL_BSP_MAX_QUEUE_SIZE",
            "0",
        ),
        (
            &[("OTEL_BSP_SCHEDULE_DELAY", "0")],
            "OTEL_BSP_SCHEDULE_DELAY",
            "0",
        ),
        (
            &[
                ("OTEL_BLRP_MAX_QUEUE_SIZE", "100"),
                ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "200"),
            ],
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
            "200",
        ),
        (
            &[("OTEL_BLRP_EXPORT_TIMEOUT", "-1")],
            "OTEL_BLRP_EXPORT_TIMEOUT",
            "-1",
        ),
    ];
    for (vars, variable, value) in cases {
        match apply(vars) {
            Err(ConfigError::Invalid {
                variable: v,
                value: got,
                reason,
            }) => {
                assert_eq!(
                    (&v[..], &got[..]),
                    (*variable, *value),
                    "{vars:?}: {reason}"
                );
                let message = apply(vars).unwrap_err().to_string();
                assert!(message.contains(variable), "{message}");
            }
            other => panic!("{vars:?} gave {other:?}"),
        }
    }
}

#[test]
fn secrets_never_appear_in_errors() {
    let error = apply(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20topsecret%0A",
        ),
    ])
    .unwrap_err()
    .to_string();
    assert!(!error.contains("topsecret"), "{error}");
}

#[test]
fn an_empty_token_file_is_refused_naming_the_variable() {
    let message = apply(&[
        ("TELEMETRY_PROMETHEUS_ADDR", "127.0.0.1:1"),
        ("TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE", EMPTY_FILE),
    ])
    .unwrap_err()
    .to_string();
    assert_eq!(
        message,
        format!(
            "invalid TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE={EMPTY_FILE:?}: the file is empty: \
             write the secret into it, or unset TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE"
        )
    );
}

/// The bridge's address from code (a `--metrics-addr` flag), its token from the
/// environment: before or after `with_env`, the token applies; with no bridge at all,
/// `build` refuses it.
#[test]
fn env_credentials_apply_to_a_bridge_set_from_code() {
    let vars = |name: &str| {
        (name == "TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE").then(|| TOKEN_FILE.to_owned())
    };
    let addr = "127.0.0.1:0".parse().unwrap();
    let expected = Some(BridgeAuth::Bearer("from-a-file".into()));
    let after = TelemetryClient::builder("code")
        .with_env_from(vars)
        .unwrap()
        .prometheus(addr);
    assert_eq!(after.config().prometheus.as_ref().unwrap().auth, expected);
    let before = TelemetryClient::builder("code")
        .prometheus_config(PrometheusConfig {
            auth: Some(BridgeAuth::Bearer("from-code".into())),
            ..PrometheusConfig::new(addr)
        })
        .with_env_from(vars)
        .unwrap();
    assert_eq!(before.config().prometheus.as_ref().unwrap().auth, expected);

    let error = TelemetryClient::builder("code")
        .with_env_from(vars)
        .unwrap()
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "invalid TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE=\"<redacted>\": bridge credentials are \
         set but the bridge is not: set TELEMETRY_PROMETHEUS_ADDR or serve the bridge from code"
    );
}

#[test]
fn bridge_limits_set_from_code_are_checked() {
    const EMPTY_CREDENTIALS: &str = "invalid prometheus.auth=\"<redacted>\": empty credentials \
         would let an empty Authorization header in: set a token (or a user and a password), or \
         no auth";
    let addr = "127.0.0.1:0".parse().unwrap();
    let cases = [
        (
            PrometheusConfig {
                header_read_timeout: Duration::ZERO,
                ..PrometheusConfig::new(addr)
            },
            "invalid prometheus.header_read_timeout=\"0\": must be positive: a zero timeout \
             disconnects every client",
        ),
        (
            PrometheusConfig {
                max_connections: usize::MAX,
                ..PrometheusConfig::new(addr)
            },
            "invalid prometheus.max_connections=\"18446744073709551615\": must be between 1 and 10000",
        ),
        (
            PrometheusConfig {
                max_connections: 0,
                ..PrometheusConfig::new(addr)
            },
            "invalid prometheus.max_connections=\"0\": must be between 1 and 10000",
        ),
        // Empty credentials from code (an unset variable read with unwrap_or_default)
        // would let `Authorization: Bearer` with nothing after it in.
        (
            PrometheusConfig {
                auth: Some(telemetry::BridgeAuth::Bearer("  ".into())),
                ..PrometheusConfig::new(addr)
            },
            EMPTY_CREDENTIALS,
        ),
        (
            PrometheusConfig {
                auth: Some(telemetry::BridgeAuth::Basic {
                    user: String::new(),
                    password: String::new(),
                }),
                ..PrometheusConfig::new(addr)
            },
            EMPTY_CREDENTIALS,
        ),
    ];
    for (prometheus, expected) in cases {
        let mut config = TelemetryConfig::new("code");
        config.prometheus = Some(prometheus);
        assert_eq!(config.validate().unwrap_err().to_string(), expected);
    }
    let mut config = TelemetryConfig::new("code");
    config.prometheus = Some(PrometheusConfig {
        max_connections: 10_000,
        ..PrometheusConfig::new(addr)
    });
    config.validate().unwrap();
}

const SECRET_ENDPOINT: &str = "https://user:hunter2@collector.example:4318/v1/metrics?api_key=k3y";
const SHOWN_ENDPOINT: &str = "https://<redacted>@collector.example:4318/v1/metrics?<redacted>";

#[test]
fn otlp_config_debug_hides_header_values_userinfo_and_query() {
    let mut otlp = OtlpConfig::http(SECRET_ENDPOINT);
    otlp.headers = vec![
        ("authorization".into(), "Bearer t0psecret".into()),
        ("x-tenant".into(), "acme-private".into()),
    ];
    let mut config = TelemetryConfig::new("code");
    config.otlp = Some(otlp.clone());
    for shown in [format!("{otlp:?}"), format!("{config:#?}")] {
        for secret in ["t0psecret", "acme-private", "hunter2", "k3y"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains(SHOWN_ENDPOINT), "{shown}");
        assert!(shown.contains("authorization: <redacted>"), "{shown}");
        assert!(shown.contains("x-tenant: <redacted>"), "{shown}");
    }
}

#[test]
fn an_invalid_endpoint_is_named_with_its_secrets_redacted() {
    let cases = [
        (
            "ftp://user:hunter2@c:21/?api_key=k3y",
            "ftp://<redacted>@c:21/?<redacted>",
        ),
        (
            "http://user:hunter2@/?api_key=k3y",
            "<redacted> (not a URL)",
        ),
        ("not a url?api_key=k3y", "<redacted> (not a URL)"),
        ("not a url", "not a url"),
    ];
    for (endpoint, shown) in cases {
        match apply(&[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)]) {
            Err(ConfigError::Invalid {
                variable, value, ..
            }) => assert_eq!(
                (&variable[..], &value[..]),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", shown)
            ),
            other => panic!("{endpoint} gave {other:?}"),
        }
    }
}

/// A `Write` into a shared buffer: what a log subscriber printed.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn endpoints_are_logged_redacted() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let endpoint = "http://user:hunter2@127.0.0.1:1/v1/metrics?api_key=k3y";
    let client = tracing::subscriber::with_default(subscriber, || {
        TelemetryClient::builder("code")
            .otlp(OtlpConfig::http(endpoint))
            .traces(OtlpConfig::http(endpoint))
            .shutdown_timeout(Duration::from_millis(200))
            .build()
            .unwrap()
    });
    let _ = client.shutdown();
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        !logged.contains("hunter2") && !logged.contains("k3y"),
        "{logged}"
    );
    assert_eq!(
        logged
            .matches("http://<redacted>@127.0.0.1:1/v1/metrics?<redacted>")
            .count(),
        2,
        "{logged}"
    );
}

#[test]
fn an_exporter_build_error_shows_the_endpoint_redacted() {
    let error = telemetry::BuildError::Exporter {
        endpoint: SECRET_ENDPOINT.into(),
        reason: format!("invalid URI {SECRET_ENDPOINT}"),
    };
    assert_eq!(
        error.to_string(),
        format!(
            "cannot build the OTLP exporter for {SHOWN_ENDPOINT}: invalid URI {SHOWN_ENDPOINT}"
        )
    );
    let debug = format!("{error:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("k3y"),
        "{debug}"
    );
    assert!(debug.contains(SHOWN_ENDPOINT), "{debug}");
}

#[test]
fn bridge_credentials_never_show_in_debug() {
    let addr = "127.0.0.1:0".parse().unwrap();
    let basic = PrometheusConfig {
        auth: Some(BridgeAuth::Basic {
            user: "prom".into(),
            password: "pa55word".into(),
        }),
        ..PrometheusConfig::new(addr)
    };
    let bearer = TelemetryClient::builder("code")
        .with_env_from(|name| {
            (name == "TELEMETRY_PROMETHEUS_BEARER_TOKEN").then(|| "t0ken-value".to_owned())
        })
        .unwrap()
        .prometheus(addr);
    let shown = format!("{basic:?} {bearer:?}");
    assert!(
        !shown.contains("pa55word") && !shown.contains("t0ken-value"),
        "{shown}"
    );
    assert!(shown.contains("Basic(prom:<redacted>)"), "{shown}");
    assert!(shown.contains("Bearer(<redacted>)"), "{shown}");
}
