//! Fuzzes the environment configuration (every OTEL_* and TELEMETRY_* variable, those of
//! traces and logs included, the OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES
//! lists, and host-metrics' TELEMETRY_HOST_METRICS_* variables): whatever the values,
//! applying and validating them returns Ok or an error naming the variable, never a panic;
//! the host-metrics filters then accept or refuse any name without a panic. The same input
//! is also the Prometheus bridge's `Authorization` header (see `bridge_authorization`).
#![no_main]

use libfuzzer_sys::fuzz_target;

const VARIABLES: &[&str] = &[
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_METRIC_EXPORT_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
    "OTEL_TRACES_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BLRP_SCHEDULE_DELAY",
    "OTEL_BLRP_MAX_QUEUE_SIZE",
    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BLRP_EXPORT_TIMEOUT",
    "TELEMETRY_PROMETHEUS_ADDR",
    "TELEMETRY_PROMETHEUS_BEARER_TOKEN",
    "TELEMETRY_PROMETHEUS_BASIC_AUTH",
    "TELEMETRY_INCLUDE_METRICS",
    "TELEMETRY_EXCLUDE_METRICS",
];

fuzz_target!(|data: &[u8]| {
    bridge_authorization(data);
    // Each line of the input is the value of the next variable (cycling through them).
    let text = String::from_utf8_lossy(data);
    let values: Vec<(&str, String)> = text
        .lines()
        .zip(
            VARIABLES
                .iter()
                .chain(host_metrics::config::VARIABLES)
                .cycle(),
        )
        .map(|(value, name)| (*name, value.to_owned()))
        .collect();
    let lookup = |name: &str| {
        values
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    let mut config = telemetry::TelemetryConfig::new("fuzz");
    let applied = config.apply_env(lookup);
    if let Err(error) = applied.and_then(|()| config.validate()) {
        let message = error.to_string();
        assert!(
            message.contains("invalid") || message.contains("cannot"),
            "{message}"
        );
    }

    let mut host = host_metrics::HostMetricsConfig::default();
    match host.apply_env(lookup) {
        Ok(()) => {
            for (_, value) in &values {
                for filter in [&host.devices, &host.interfaces, &host.mountpoints] {
                    std::hint::black_box(filter.allows(value));
                }
            }
        }
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains("TELEMETRY_HOST_METRICS") && message.contains("invalid"),
                "{message}"
            );
        }
    }
});

/// The bridge's `Authorization` check on arbitrary bytes (the first byte picks bearer or
/// basic credentials, the rest is the header value): never a panic, and nothing passes that
/// does not end with the credentials.
fn bridge_authorization(data: &[u8]) {
    let (auth, credentials): (_, &[u8]) = if data.first().is_some_and(|b| b & 1 == 0) {
        (telemetry::BridgeAuth::Bearer("fuzz-token".into()), b"fuzz-token")
    } else {
        let auth = telemetry::BridgeAuth::Basic { user: "fuzz".into(), password: "pw".into() };
        (auth, b"ZnV6ejpwdw==") // "fuzz:pw" in base64
    };
    let header = data.get(1..).unwrap_or_default();
    if telemetry::bridge_admits(&auth, header) {
        assert!(header.ends_with(credentials), "{header:?} passed");
    }
}
