//! Client configuration: built from code, and from the environment following the
//! OpenTelemetry SDK environment specification plus this crate's `TELEMETRY_*` variables.
//!
//! Every invalid value is a [`ConfigError`] naming the variable (or builder setting) and the
//! value; nothing falls back silently.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use opentelemetry_sdk::metrics::Temporality;

use crate::tracing_config::TracingConfig;

/// An invalid configuration value, or a resource the configuration names that cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    #[error("invalid {variable}={value:?}: {reason}")]
    Invalid {
        /// The environment variable or builder setting.
        variable: String,
        /// The offending value (secrets are redacted).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(variable: &str, value: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            variable: variable.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (tonic); the default.
    Grpc,
    /// OTLP over HTTP with protobuf bodies.
    HttpProtobuf,
}

/// Payload compression for OTLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// No compression; the default.
    None,
    /// gzip.
    Gzip,
}

/// Where and how to push OTLP. Its `Debug` hides the header values and the endpoint's
/// userinfo and query string.
#[derive(Clone, PartialEq)]
pub struct OtlpConfig {
    /// The full endpoint URL (`http://collector:4317`, `https://host/v1/metrics`).
    pub endpoint: String,
    /// gRPC or HTTP/protobuf.
    pub protocol: Protocol,
    /// Extra request headers (e.g. authorization).
    pub headers: Vec<(String, String)>,
    /// Timeout of one export request.
    pub timeout: Duration,
    /// Payload compression.
    pub compression: Compression,
    /// Cumulative (the default), delta or low-memory temporality.
    pub temporality: Temporality,
    /// PEM file of a CA to trust for `https` endpoints, beside the system's roots.
    pub ca_certificate: Option<PathBuf>,
}

impl OtlpConfig {
    /// gRPC to `endpoint` with the specification's defaults (10 s timeout, cumulative).
    pub fn grpc(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            protocol: Protocol::Grpc,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            compression: Compression::None,
            temporality: Temporality::Cumulative,
            ca_certificate: None,
        }
    }

    /// HTTP/protobuf to the full `endpoint` URL (including `/v1/metrics`).
    pub fn http(endpoint: impl Into<String>) -> Self {
        Self {
            protocol: Protocol::HttpProtobuf,
            ..Self::grpc(endpoint)
        }
    }
}

impl std::fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, _)| format!("{name}: {REDACTED}"))
            .collect();
        f.debug_struct("OtlpConfig")
            .field("endpoint", &redact_endpoint(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("temporality", &self.temporality)
            .field("ca_certificate", &self.ca_certificate)
            .finish()
    }
}

/// What a secret is shown as.
const REDACTED: &str = "<redacted>";

/// `endpoint` as a log line, an error or `Debug` may show it: any `user:password@` and query
/// string replaced by `<redacted>`. A value that is not a URL is shown only when it cannot
/// hold either.
pub(crate) fn redact_endpoint(endpoint: &str) -> String {
    let Ok(uri) = endpoint.parse::<http::Uri>() else {
        return if endpoint.contains(['@', '?']) {
            format!("{REDACTED} (not a URL)")
        } else {
            endpoint.to_owned()
        };
    };
    let mut shown = endpoint.to_owned();
    if let Some(authority) = uri.authority() {
        if let Some((_, host)) = authority.as_str().rsplit_once('@') {
            shown = shown.replacen(authority.as_str(), &format!("{REDACTED}@{host}"), 1);
        }
    }
    if uri.query().is_some() {
        if let Some(at) = shown.find('?') {
            shown.truncate(at);
            shown.push('?');
            shown.push_str(REDACTED);
        }
    }
    shown
}

/// Credentials the Prometheus bridge requires.
#[derive(Clone, PartialEq, Eq)]
pub enum BridgeAuth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic ...` for this user and password.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
}

impl std::fmt::Debug for BridgeAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bearer(_) => write!(f, "Bearer({REDACTED})"),
            Self::Basic { user, .. } => write!(f, "Basic({user}:{REDACTED})"),
        }
    }
}

/// The Prometheus pull bridge.
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusConfig {
    /// Listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Required credentials, if any.
    pub auth: Option<BridgeAuth>,
    /// Connections served at once, 1 to 10 000; more wait (up to four times as many, for
    /// up to 10 s) for a free slot, and beyond that are closed.
    pub max_connections: usize,
    /// Time a client has to send its request head (positive); slower clients are
    /// disconnected.
    pub header_read_timeout: Duration,
    /// Largest request head accepted, in bytes.
    pub max_header_bytes: usize,
}

impl PrometheusConfig {
    /// The bridge on `listen`, without authentication, with default limits.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            auth: None,
            max_connections: 64,
            header_read_timeout: Duration::from_secs(5),
            max_header_bytes: 16 * 1024,
        }
    }
}

/// Most connections the bridge may serve at once (each holds a socket and a task).
const MAX_BRIDGE_CONNECTIONS: usize = 10_000;

/// The default bridge address of the library: loopback only.
pub const DEFAULT_PROMETHEUS_ADDR: &str = "127.0.0.1:9464";

/// Everything a [`TelemetryClient`](crate::TelemetryClient) is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// `OTEL_SDK_DISABLED`: when true the client is the no-op client.
    pub disabled: bool,
    /// `service.name`.
    pub service_name: String,
    /// `service.version`.
    pub service_version: Option<String>,
    /// `service.instance.id`; a random UUID when unset.
    pub service_instance_id: Option<String>,
    /// `node.role`, set from code.
    pub node_role: Option<String>,
    /// Further resource attributes (`OTEL_RESOURCE_ATTRIBUTES`).
    pub resource_attributes: Vec<(String, String)>,
    /// OTLP push of metrics, when configured.
    pub otlp: Option<OtlpConfig>,
    /// OTLP push of spans (`OTEL_EXPORTER_OTLP_TRACES_*`, or the generic variables unless
    /// `OTEL_TRACES_EXPORTER=none`), when configured.
    pub traces: Option<OtlpConfig>,
    /// OTLP push of log records (`OTEL_EXPORTER_OTLP_LOGS_*`, or the generic variables
    /// unless `OTEL_LOGS_EXPORTER=none`), when configured.
    pub logs: Option<OtlpConfig>,
    /// Sampling and the span and log batch processors.
    pub tracing: TracingConfig,
    /// Prometheus pull bridge, when configured.
    pub prometheus: Option<PrometheusConfig>,
    /// `OTEL_METRIC_EXPORT_INTERVAL`.
    pub export_interval: Duration,
    /// `OTEL_METRIC_EXPORT_TIMEOUT`: bound on one whole export, retries included.
    pub export_timeout: Duration,
    /// `TELEMETRY_INCLUDE_METRICS`: when non-empty, only metrics under these name prefixes.
    pub include_metrics: Vec<String>,
    /// `TELEMETRY_EXCLUDE_METRICS`: metrics under these name prefixes are not recorded.
    pub exclude_metrics: Vec<String>,
    /// Bound on [`TelemetryClient::shutdown`](crate::TelemetryClient::shutdown).
    pub shutdown_timeout: Duration,
}

impl TelemetryConfig {
    /// Defaults for `service_name`: nothing exported until OTLP or the bridge is configured.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            disabled: false,
            service_name: service_name.into(),
            service_version: None,
            service_instance_id: None,
            node_role: None,
            resource_attributes: Vec::new(),
            otlp: None,
            traces: None,
            logs: None,
            tracing: TracingConfig::default(),
            prometheus: None,
            export_interval: Duration::from_secs(60),
            export_timeout: Duration::from_secs(30),
            include_metrics: Vec::new(),
            exclude_metrics: Vec::new(),
            shutdown_timeout: Duration::from_secs(5),
        }
    }

    /// Overrides this configuration with the environment, read through `lookup` (pass
    /// `|name| std::env::var(name).ok()` for the process environment).
    ///
    /// Bridge credentials (`TELEMETRY_PROMETHEUS_BEARER_TOKEN[_FILE]`,
    /// `TELEMETRY_PROMETHEUS_BASIC_AUTH`) need a bridge: `TELEMETRY_PROMETHEUS_ADDR`, or
    /// [`TelemetryConfig::prometheus`] set before this call. (The
    /// [`TelemetryBuilder`](crate::TelemetryBuilder) also applies them to a bridge set from
    /// code after its `with_env`.)
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(env_auth) = self.apply_env_but_bridge_auth(lookup)? {
            match &mut self.prometheus {
                Some(prometheus) => prometheus.auth = Some(env_auth.auth),
                None => return Err(env_auth.without_bridge()),
            }
        }
        Ok(())
    }

    /// [`TelemetryConfig::apply_env`] but for the bridge credentials, which are returned.
    pub(crate) fn apply_env_but_bridge_auth(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<EnvBridgeAuth>, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = var("OTEL_SDK_DISABLED") {
            self.disabled = parse_bool("OTEL_SDK_DISABLED", &v)?;
        }
        if let Some(v) = var("OTEL_RESOURCE_ATTRIBUTES") {
            for (key, value) in parse_key_values("OTEL_RESOURCE_ATTRIBUTES", &v, false)? {
                match key.as_str() {
                    "service.name" => self.service_name = value,
                    "service.instance.id" => self.service_instance_id = Some(value),
                    "service.version" => self.service_version = Some(value),
                    _ => self.resource_attributes.push((key, value)),
                }
            }
        }
        if let Some(v) = var("OTEL_SERVICE_NAME") {
            self.service_name = v;
        }
        if let Some(v) = var("OTEL_METRIC_EXPORT_INTERVAL") {
            self.export_interval = parse_millis("OTEL_METRIC_EXPORT_INTERVAL", &v)?;
        }
        if let Some(v) = var("OTEL_METRIC_EXPORT_TIMEOUT") {
            self.export_timeout = parse_millis("OTEL_METRIC_EXPORT_TIMEOUT", &v)?;
        }
        self.apply_otlp_env(&var)?;
        if let Some(v) = var("TELEMETRY_PROMETHEUS_ADDR") {
            let listen = parse_addr("TELEMETRY_PROMETHEUS_ADDR", &v)?;
            match &mut self.prometheus {
                Some(prometheus) => prometheus.listen = listen,
                None => self.prometheus = Some(PrometheusConfig::new(listen)),
            }
        }
        let auth = bridge_auth_env(&var)?;
        if let Some(v) = var("TELEMETRY_INCLUDE_METRICS") {
            self.include_metrics = parse_prefixes("TELEMETRY_INCLUDE_METRICS", &v)?;
        }
        if let Some(v) = var("TELEMETRY_EXCLUDE_METRICS") {
            self.exclude_metrics = parse_prefixes("TELEMETRY_EXCLUDE_METRICS", &v)?;
        }
        Ok(auth)
    }

    fn apply_otlp_env(&mut self, var: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        self.otlp = signal_otlp(var, Signal::Metrics, self.otlp.take())?;
        if let Some(otlp) = &mut self.otlp {
            if let Some(v) = var("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
                otlp.temporality = v.trim().parse().map_err(|()| {
                    ConfigError::invalid(
                        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                        &v,
                        "expected cumulative, delta or lowmemory",
                    )
                })?;
            }
        }
        self.traces = match exporter_choice(var, "OTEL_TRACES_EXPORTER")? {
            false => None,
            true => signal_otlp(var, Signal::Traces, self.traces.take())?,
        };
        self.logs = match exporter_choice(var, "OTEL_LOGS_EXPORTER")? {
            false => None,
            true => signal_otlp(var, Signal::Logs, self.logs.take())?,
        };
        self.tracing.apply_env(var)
    }

    /// Checks values set from code the same way the environment's are checked.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.service_name.trim().is_empty() {
            return Err(ConfigError::invalid(
                "service_name",
                &self.service_name,
                "must not be empty",
            ));
        }
        if self.export_interval.is_zero() {
            return Err(ConfigError::invalid(
                "export_interval",
                "0",
                "must be positive",
            ));
        }
        if self.export_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "export_timeout",
                "0",
                "must be positive",
            ));
        }
        for (setting, otlp) in [
            ("otlp", &self.otlp),
            ("traces", &self.traces),
            ("logs", &self.logs),
        ] {
            let Some(otlp) = otlp else { continue };
            validate_endpoint(&format!("{setting}.endpoint"), &otlp.endpoint)?;
            if otlp.timeout.is_zero() {
                return Err(ConfigError::invalid(
                    &format!("{setting}.timeout"),
                    "0",
                    "must be positive",
                ));
            }
            for (key, value) in &otlp.headers {
                validate_header(&format!("{setting}.headers"), key, value)?;
            }
            if let Some(path) = &otlp.ca_certificate {
                read_ca_certificate(path)?;
            }
        }
        self.tracing.validate()?;
        if let Some(prometheus) = &self.prometheus {
            if !(1..=MAX_BRIDGE_CONNECTIONS).contains(&prometheus.max_connections) {
                return Err(ConfigError::invalid(
                    "prometheus.max_connections",
                    &prometheus.max_connections.to_string(),
                    format!("must be between 1 and {MAX_BRIDGE_CONNECTIONS}"),
                ));
            }
            if prometheus.header_read_timeout.is_zero() {
                return Err(ConfigError::invalid(
                    "prometheus.header_read_timeout",
                    "0",
                    "must be positive: a zero timeout disconnects every client",
                ));
            }
            let empty = match &prometheus.auth {
                Some(BridgeAuth::Bearer(token)) => token.trim().is_empty(),
                Some(BridgeAuth::Basic { user, password }) => {
                    user.is_empty() || password.is_empty()
                }
                None => false,
            };
            if empty {
                return Err(ConfigError::invalid(
                    "prometheus.auth",
                    "<redacted>",
                    "empty credentials would let an empty Authorization header in: set a token (or a user and a password), or no auth",
                ));
            }
            if prometheus.max_header_bytes < 8192 {
                return Err(ConfigError::invalid(
                    "prometheus.max_header_bytes",
                    &prometheus.max_header_bytes.to_string(),
                    "must be at least 8192",
                ));
            }
        }
        Ok(())
    }
}

/// Bridge credentials read from the environment, with the variable that gave them.
#[derive(Debug)]
pub(crate) struct EnvBridgeAuth {
    pub(crate) auth: BridgeAuth,
    pub(crate) variable: &'static str,
}

impl EnvBridgeAuth {
    /// The error when there is no bridge to require these credentials.
    pub(crate) fn without_bridge(&self) -> ConfigError {
        ConfigError::invalid(
            self.variable,
            REDACTED,
            "bridge credentials are set but the bridge is not: set TELEMETRY_PROMETHEUS_ADDR \
             or serve the bridge from code",
        )
    }
}

/// `TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE`, `TELEMETRY_PROMETHEUS_BEARER_TOKEN` and
/// `TELEMETRY_PROMETHEUS_BASIC_AUTH`: at most one of them.
fn bridge_auth_env(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Option<EnvBridgeAuth>, ConfigError> {
    const FILE: &str = "TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE";
    const TOKEN: &str = "TELEMETRY_PROMETHEUS_BEARER_TOKEN";
    const BASIC: &str = "TELEMETRY_PROMETHEUS_BASIC_AUTH";
    let set: Vec<&'static str> = [FILE, TOKEN, BASIC]
        .into_iter()
        .filter(|name| var(name).is_some())
        .collect();
    let variable = match set[..] {
        [] => return Ok(None),
        [variable] => variable,
        [first, second, ..] => {
            return Err(ConfigError::invalid(
                second,
                REDACTED,
                format!("set either {first} or {second}, not both"),
            ))
        }
    };
    let value = var(variable).unwrap_or_default();
    let auth = match variable {
        // A secret mounted as a file (Docker/Kubernetes secrets).
        FILE => parse_bearer(FILE, &read_secret(FILE, &value)?)?,
        TOKEN => parse_bearer(TOKEN, &value)?,
        _ => parse_basic(BASIC, &value)?,
    };
    Ok(Some(EnvBridgeAuth { auth, variable }))
}

/// The OTLP signals, each with its own `OTEL_EXPORTER_OTLP_<SIGNAL>_*` variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Metrics,
    Traces,
    Logs,
}

impl Signal {
    /// The infix of the signal's variables.
    fn infix(self) -> &'static str {
        match self {
            Signal::Metrics => "METRICS",
            Signal::Traces => "TRACES",
            Signal::Logs => "LOGS",
        }
    }

    /// The path HTTP appends to the generic endpoint.
    fn path(self) -> &'static str {
        match self {
            Signal::Metrics => "/v1/metrics",
            Signal::Traces => "/v1/traces",
            Signal::Logs => "/v1/logs",
        }
    }
}

/// `OTEL_TRACES_EXPORTER` / `OTEL_LOGS_EXPORTER`: whether the signal is pushed over OTLP
/// (`otlp`, the default) or not at all (`none`).
fn exporter_choice(
    var: &impl Fn(&str) -> Option<String>,
    variable: &str,
) -> Result<bool, ConfigError> {
    match var(variable) {
        None => Ok(true),
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "otlp" => Ok(true),
            "none" => Ok(false),
            _ => Err(ConfigError::invalid(variable, &v, "expected otlp or none")),
        },
    }
}

/// One signal's OTLP settings from the environment over `current`: the signal's own
/// variable wins over the generic `OTEL_EXPORTER_OTLP_*` one. `None` when no endpoint is
/// configured for the signal anywhere.
fn signal_otlp(
    var: &impl Fn(&str) -> Option<String>,
    signal: Signal,
    current: Option<OtlpConfig>,
) -> Result<Option<OtlpConfig>, ConfigError> {
    // The signal's variable when set, else the generic one; with the name of the one read.
    let pick = |setting: &str| {
        let own = format!("OTEL_EXPORTER_OTLP_{}_{setting}", signal.infix());
        match var(&own) {
            Some(value) => Some((own, value)),
            None => {
                let generic = format!("OTEL_EXPORTER_OTLP_{setting}");
                var(&generic).map(|value| (generic, value))
            }
        }
    };
    let protocol = match pick("PROTOCOL") {
        Some((variable, v)) => Some(parse_protocol(&variable, &v)?),
        None => None,
    };
    let own_endpoint = format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", signal.infix());
    let endpoint = if let Some(v) = var(&own_endpoint) {
        validate_endpoint(&own_endpoint, &v)?;
        Some(v)
    } else if let Some(v) = var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        validate_endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", &v)?;
        let protocol = protocol.or(current.as_ref().map(|o| o.protocol));
        Some(match protocol.unwrap_or(Protocol::Grpc) {
            Protocol::Grpc => v,
            // The generic endpoint is a base URL: HTTP appends the signal path.
            Protocol::HttpProtobuf => format!("{}{}", v.trim_end_matches('/'), signal.path()),
        })
    } else {
        None
    };
    let otlp = match (current, endpoint) {
        (Some(mut otlp), Some(endpoint)) => {
            otlp.endpoint = endpoint;
            Some(otlp)
        }
        (None, Some(endpoint)) => Some(OtlpConfig::grpc(endpoint)),
        (otlp, None) => otlp,
    };
    let Some(mut otlp) = otlp else {
        return Ok(None);
    };
    if let Some(protocol) = protocol {
        otlp.protocol = protocol;
    }
    if let Some((variable, v)) = pick("HEADERS") {
        otlp.headers = parse_key_values(&variable, &v, true)?;
    }
    if let Some((variable, v)) = pick("TIMEOUT") {
        otlp.timeout = parse_millis(&variable, &v)?;
    }
    if let Some((variable, v)) = pick("COMPRESSION") {
        otlp.compression = match v.trim().to_ascii_lowercase().as_str() {
            "gzip" => Compression::Gzip,
            "none" => Compression::None,
            _ => return Err(ConfigError::invalid(&variable, &v, "expected gzip or none")),
        };
    }
    if let Some((variable, v)) = pick("CERTIFICATE") {
        // Checked now, so that the error names the variable that was set.
        read_ca_certificate_of(&variable, std::path::Path::new(&v))?;
        otlp.ca_certificate = Some(PathBuf::from(v));
    }
    Ok(Some(otlp))
}

/// Reads the PEM CA certificate named by `OTEL_EXPORTER_OTLP_CERTIFICATE`.
pub(crate) fn read_ca_certificate(path: &std::path::Path) -> Result<Vec<u8>, ConfigError> {
    read_ca_certificate_of("OTEL_EXPORTER_OTLP_CERTIFICATE", path)
}

/// Reads the PEM CA certificate at `path`, named by `variable`.
fn read_ca_certificate_of(variable: &str, path: &std::path::Path) -> Result<Vec<u8>, ConfigError> {
    let shown = path.display().to_string();
    let invalid = |reason: String| ConfigError::invalid(variable, &shown, reason);
    let metadata = std::fs::metadata(path).map_err(|e| invalid(format!("cannot read it: {e}")))?;
    if !metadata.is_file() {
        return Err(invalid("not a regular file".into()));
    }
    if metadata.len() > 1 << 20 {
        return Err(invalid("larger than 1 MiB: not a CA certificate".into()));
    }
    let pem = std::fs::read(path).map_err(|e| invalid(format!("cannot read it: {e}")))?;
    // Every certificate's body is decoded now: a corrupt one would otherwise fail (or be
    // skipped) only when the exporter is built.
    use base64::Engine as _;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(&pem);
    let blocks: Vec<&str> = text.split(BEGIN).skip(1).collect();
    if blocks.is_empty() {
        return Err(invalid("holds no PEM certificate".into()));
    }
    for (n, block) in (1..).zip(blocks) {
        let Some((body, _)) = block.split_once(END) else {
            return Err(invalid(format!("certificate {n} has no {END} line")));
        };
        let body: String = body.split_ascii_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| invalid(format!("certificate {n} is corrupt (its base64: {e})")))?;
        if der.first() != Some(&0x30) {
            return Err(invalid(format!(
                "certificate {n} is corrupt (not a DER certificate)"
            )));
        }
    }
    Ok(pem)
}

/// Reads a secret file (at most 4 KiB, not empty).
fn read_secret(variable: &str, path: &str) -> Result<String, ConfigError> {
    let invalid = |reason: String| ConfigError::invalid(variable, path, reason);
    let metadata = std::fs::metadata(path).map_err(|e| invalid(format!("cannot read it: {e}")))?;
    if !metadata.is_file() || metadata.len() > 4096 {
        return Err(invalid("not a regular file of at most 4 KiB".into()));
    }
    let secret =
        std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read it: {e}")))?;
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(invalid(format!(
            "the file is empty: write the secret into it, or unset {variable}"
        )));
    }
    Ok(secret.to_owned())
}

fn parse_bool(variable: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::invalid(
            variable,
            value,
            "expected true or false",
        )),
    }
}

pub(crate) fn parse_millis(variable: &str, value: &str) -> Result<Duration, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(0) => Err(ConfigError::invalid(
            variable,
            value,
            "must be a positive number of milliseconds",
        )),
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(_) => Err(ConfigError::invalid(
            variable,
            value,
            "expected a whole number of milliseconds",
        )),
    }
}

fn parse_protocol(variable: &str, value: &str) -> Result<Protocol, ConfigError> {
    match value.trim() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Err(ConfigError::invalid(
            variable,
            value,
            "http/json is not supported; use grpc or http/protobuf",
        )),
        _ => Err(ConfigError::invalid(
            variable,
            value,
            "expected grpc or http/protobuf",
        )),
    }
}

fn parse_addr(variable: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|e| ConfigError::invalid(variable, value, format!("expected IP:PORT ({e})")))
}

/// Checks an OTLP endpoint: an absolute `http` or `https` URL with a host.
pub(crate) fn validate_endpoint(variable: &str, endpoint: &str) -> Result<(), ConfigError> {
    let value = &redact_endpoint(endpoint);
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| ConfigError::invalid(variable, value, format!("not a URL ({e})")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => {
            return Err(ConfigError::invalid(
                variable,
                value,
                format!("scheme {other} is not http or https"),
            ))
        }
        None => {
            return Err(ConfigError::invalid(
                variable,
                value,
                "missing http:// or https://",
            ))
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(ConfigError::invalid(variable, value, "missing host"));
    }
    Ok(())
}

fn validate_header(variable: &str, key: &str, value: &str) -> Result<(), ConfigError> {
    http::HeaderName::from_bytes(key.as_bytes())
        .map_err(|_| ConfigError::invalid(variable, key, "not a valid header name"))?;
    http::HeaderValue::from_str(value).map_err(|_| {
        ConfigError::invalid(
            variable,
            &format!("{key}={REDACTED}"),
            "not a valid header value",
        )
    })?;
    Ok(())
}

/// Parses the W3C-baggage-like `key=value,key=value` lists of `OTEL_RESOURCE_ATTRIBUTES`
/// and `OTEL_EXPORTER_OTLP_HEADERS` (values percent-decoded). Header values are secrets:
/// errors show keys only.
pub(crate) fn parse_key_values(
    variable: &str,
    value: &str,
    headers: bool,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    for (position, entry) in value.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let shown = |e: &str| {
            if headers {
                format!("entry {}", position + 1)
            } else {
                e.to_owned()
            }
        };
        let Some((key, raw)) = entry.split_once('=') else {
            return Err(ConfigError::invalid(
                variable,
                &shown(entry),
                "expected key=value",
            ));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::invalid(variable, &shown(entry), "empty key"));
        }
        let decoded = percent_encoding::percent_decode_str(raw.trim())
            .decode_utf8()
            .map_err(|_| {
                ConfigError::invalid(
                    variable,
                    &shown(entry),
                    "value is not UTF-8 after percent-decoding",
                )
            })?
            .into_owned();
        if headers {
            validate_header(variable, key, &decoded)?;
        }
        pairs.push((key.to_owned(), decoded));
    }
    Ok(pairs)
}

fn parse_prefixes(variable: &str, value: &str) -> Result<Vec<String>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|prefix| {
            if prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_')
            {
                Ok(prefix.to_owned())
            } else {
                Err(ConfigError::invalid(
                    variable,
                    prefix,
                    "a metric name prefix holds only [a-z0-9._]",
                ))
            }
        })
        .collect()
}

fn parse_bearer(variable: &str, token: &str) -> Result<BridgeAuth, ConfigError> {
    let token = token.trim();
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::invalid(
            variable,
            REDACTED,
            "a bearer token may not contain spaces",
        ));
    }
    Ok(BridgeAuth::Bearer(token.to_owned()))
}

fn parse_basic(variable: &str, pair: &str) -> Result<BridgeAuth, ConfigError> {
    match pair.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok(BridgeAuth::Basic {
                user: user.to_owned(),
                password: password.to_owned(),
            })
        }
        _ => Err(ConfigError::invalid(
            variable,
            REDACTED,
            "expected user:password with both parts non-empty",
        )),
    }
}
