//! OTLP push: builds the opentelemetry-otlp exporters from an [`OtlpConfig`] and wraps
//! them so that every export is bounded by its timeout, runs its I/O on the telemetry
//! runtime, and is recorded in the pipeline's own metrics. The span and log exporters'
//! wrappers are in [`signal_export`](crate::signal_export).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry_otlp::{MetricExporter, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use tokio::runtime::Handle;
use tokio_util::context::TokioContext;

use crate::config::{read_ca_certificate, redact_endpoint, Compression, OtlpConfig, Protocol};
use crate::errors::BuildError;
use crate::health::Health;
use crate::self_telemetry::MetricExporterType;

/// What every OTLP exporter of a client shares: its endpoint, the bound on one export and
/// the runtime its I/O runs on.
#[derive(Debug, Clone)]
pub(crate) struct ExportContext {
    /// The endpoint as logs show it (redacted).
    pub(crate) endpoint: String,
    timeout: Duration,
    runtime: Handle,
}

impl ExportContext {
    pub(crate) fn new(endpoint: &str, timeout: Duration, runtime: Handle) -> Self {
        Self {
            endpoint: redact_endpoint(endpoint),
            timeout,
            runtime,
        }
    }

    /// Runs the export `start` creates, bounded by the timeout, with the telemetry runtime
    /// entered: the SDK's processor threads drive exports with a plain executor, which has
    /// no reactor for the exporter's I/O or the timeout. Resolves to the result and the
    /// time it took.
    pub(crate) fn run<F>(
        &self,
        start: impl FnOnce() -> F,
    ) -> impl Future<Output = (OTelSdkResult, Duration)> + Send
    where
        F: Future<Output = OTelSdkResult> + Send,
    {
        let bounded = {
            let _guard = self.runtime.enter();
            tokio::time::timeout(self.timeout, start())
        };
        let in_runtime = TokioContext::new(bounded, self.runtime.clone());
        let timeout = self.timeout;
        async move {
            let started = Instant::now();
            let result = in_runtime
                .await
                .unwrap_or(Err(OTelSdkError::Timeout(timeout)));
            (result, started.elapsed())
        }
    }

    /// Enters the telemetry runtime while an exporter is built (tonic's channel needs it).
    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.runtime.enter()
    }
}

/// The error of building the exporter for `config`.
fn build_error(config: &OtlpConfig, e: &dyn std::fmt::Display) -> BuildError {
    BuildError::Exporter {
        endpoint: config.endpoint.clone(),
        reason: e.to_string(),
    }
}

/// The CA certificate `config` names, read.
fn ca_certificate(config: &OtlpConfig) -> Result<Option<Vec<u8>>, BuildError> {
    Ok(match &config.ca_certificate {
        Some(path) => Some(read_ca_certificate(path)?),
        None => None,
    })
}

/// Applies `config` to a gRPC exporter builder of any signal.
pub(crate) fn grpc<B: WithExportConfig + WithTonicConfig>(
    builder: B,
    config: &OtlpConfig,
) -> Result<B, BuildError> {
    let mut builder = builder
        .with_endpoint(&config.endpoint)
        .with_timeout(config.timeout);
    if !config.headers.is_empty() {
        let mut headers = http::HeaderMap::new();
        for (key, value) in &config.headers {
            let name = http::HeaderName::from_bytes(key.as_bytes())
                .map_err(|e| build_error(config, &e))?;
            let value = http::HeaderValue::from_str(value).map_err(|e| build_error(config, &e))?;
            headers.append(name, value);
        }
        builder = builder.with_metadata(tonic::metadata::MetadataMap::from_headers(headers));
    }
    if config.compression == Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    if config.endpoint.starts_with("https://") {
        let mut tls = tonic::transport::ClientTlsConfig::new().with_enabled_roots();
        if let Some(pem) = ca_certificate(config)? {
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        builder = builder.with_tls_config(tls);
    }
    Ok(builder)
}

/// Applies `config` to an HTTP/protobuf exporter builder of any signal.
pub(crate) fn http<B: WithExportConfig + WithHttpConfig>(
    builder: B,
    config: &OtlpConfig,
) -> Result<B, BuildError> {
    let mut builder = builder
        .with_endpoint(&config.endpoint)
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_timeout(config.timeout)
        .with_headers(config.headers.iter().cloned().collect::<HashMap<_, _>>());
    if config.compression == Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    if let Some(pem) = ca_certificate(config)? {
        let certificate =
            reqwest::Certificate::from_pem(&pem).map_err(|e| build_error(config, &e))?;
        let client = reqwest::Client::builder()
            .add_root_certificate(certificate)
            .timeout(config.timeout)
            .build()
            .map_err(|e| {
                let cause = std::error::Error::source(&e)
                    .map(|cause| format!(": {cause}"))
                    .unwrap_or_default();
                let reason = format!("OTEL_EXPORTER_OTLP_CERTIFICATE is not usable: {e}{cause}");
                build_error(config, &reason)
            })?;
        builder = builder.with_http_client(client);
    }
    Ok(builder)
}

/// The OTLP metric exporter with timeout, runtime context and self-telemetry around each
/// export.
pub(crate) struct InstrumentedExporter {
    inner: MetricExporter,
    exporter: MetricExporterType,
    context: ExportContext,
    health: Arc<OnceLock<Arc<Health>>>,
}

impl std::fmt::Debug for InstrumentedExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedExporter")
            .field("endpoint", &self.context.endpoint)
            .finish()
    }
}

impl InstrumentedExporter {
    /// Builds the exporter for `config`; `context` bounds a whole export, retries included.
    pub(crate) fn build(
        config: &OtlpConfig,
        context: ExportContext,
        health: Arc<OnceLock<Arc<Health>>>,
    ) -> Result<Self, BuildError> {
        let _guard = context.enter();
        let (inner, exporter) = match config.protocol {
            Protocol::Grpc => (
                grpc(
                    MetricExporter::builder()
                        .with_tonic()
                        .with_temporality(config.temporality),
                    config,
                )?
                .build()
                .map_err(|e| build_error(config, &e))?,
                MetricExporterType::OtlpGrpc,
            ),
            Protocol::HttpProtobuf => (
                http(
                    MetricExporter::builder()
                        .with_http()
                        .with_temporality(config.temporality),
                    config,
                )?
                .build()
                .map_err(|e| build_error(config, &e))?,
                MetricExporterType::OtlpHttp,
            ),
        };
        drop(_guard);
        Ok(Self {
            inner,
            exporter,
            context,
            health,
        })
    }
}

impl PushMetricExporter for InstrumentedExporter {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let export = self.context.run(|| self.inner.export(metrics));
        let points = data_points(metrics);
        async move {
            let (result, elapsed) = export.await;
            if let Some(health) = self.health.get() {
                health.export_finished(
                    self.exporter,
                    &self.context.endpoint,
                    elapsed,
                    points,
                    &result,
                );
            }
            result
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// How many data points one export carries.
fn data_points(metrics: &ResourceMetrics) -> u64 {
    fn count<T>(data: &MetricData<T>) -> usize {
        match data {
            MetricData::Gauge(gauge) => gauge.data_points().count(),
            MetricData::Sum(sum) => sum.data_points().count(),
            MetricData::Histogram(histogram) => histogram.data_points().count(),
            MetricData::ExponentialHistogram(histogram) => histogram.data_points().count(),
        }
    }
    metrics
        .scope_metrics()
        .flat_map(|scope| scope.metrics())
        .map(|metric| match metric.data() {
            AggregatedMetrics::F64(data) => count(data),
            AggregatedMetrics::U64(data) => count(data),
            AggregatedMetrics::I64(data) => count(data),
        })
        .sum::<usize>() as u64
}
