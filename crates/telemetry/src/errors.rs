//! What can go wrong once the configuration itself is valid: starting the pipeline,
//! flushing it, shutting it down. (An invalid value is a [`ConfigError`].)

use std::net::SocketAddr;
use std::time::Duration;

use crate::catalog::CatalogError;
use crate::config::{redact_endpoint, ConfigError};

/// Why [`TelemetryBuilder::build`](crate::TelemetryBuilder::build) did not start a client.
/// Its `Display` and `Debug` show an endpoint's userinfo and query string redacted.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The metric definitions linked into this binary conflict (the error names both sides
    /// of every conflict).
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The Prometheus bridge cannot listen on its address.
    #[error("cannot listen on {variable}={addr}: {source}")]
    Bind {
        /// The environment variable or builder setting that gave the address.
        variable: String,
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The OTLP exporter rejected its configuration.
    #[error(
        "cannot build the OTLP exporter for {}: {}",
        redact_endpoint(.endpoint),
        redacted_reason(.endpoint, .reason)
    )]
    Exporter {
        /// The endpoint URL (as configured: shown redacted).
        endpoint: String,
        /// The exporter's error.
        reason: String,
    },
    /// The telemetry I/O thread could not be started.
    #[error("cannot start the telemetry runtime: {0}")]
    Runtime(std::io::Error),
}

impl std::fmt::Debug for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(error) => f.debug_tuple("Config").field(error).finish(),
            Self::Catalog(error) => f.debug_tuple("Catalog").field(error).finish(),
            Self::Bind {
                variable,
                addr,
                source,
            } => f
                .debug_struct("Bind")
                .field("variable", variable)
                .field("addr", addr)
                .field("source", source)
                .finish(),
            Self::Exporter { endpoint, reason } => f
                .debug_struct("Exporter")
                .field("endpoint", &redact_endpoint(endpoint))
                .field("reason", &redacted_reason(endpoint, reason))
                .finish(),
            Self::Runtime(error) => f.debug_tuple("Runtime").field(error).finish(),
        }
    }
}

/// The exporter's `reason`, with `endpoint` redacted where it quotes it.
fn redacted_reason(endpoint: &str, reason: &str) -> String {
    if endpoint.is_empty() {
        return reason.to_owned();
    }
    reason.replace(endpoint, &redact_endpoint(endpoint))
}

/// Why [`TelemetryClient::shutdown`](crate::TelemetryClient::shutdown) did not complete
/// cleanly.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShutdownError {
    /// The final flush did not finish within the shutdown timeout.
    #[error("telemetry shutdown did not finish within {0:?}; the last interval may be lost")]
    Timeout(Duration),
    /// The SDK reported an error (for example, the final export failed).
    #[error("telemetry shutdown: {0}")]
    Sdk(String),
}

/// Why [`TelemetryClient::force_flush`](crate::TelemetryClient::force_flush) did not
/// complete.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FlushError {
    /// The export did not finish within the shutdown timeout; it goes on in the background.
    #[error("telemetry flush did not finish within {0:?}")]
    Timeout(Duration),
    /// The SDK reported an error (for example, the export failed).
    #[error("telemetry flush: {0}")]
    Sdk(String),
}
