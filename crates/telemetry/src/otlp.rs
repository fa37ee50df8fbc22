//! OTLP push: builds the opentelemetry-otlp exporter from an [`OtlpConfig`] and wraps it so
//! that every export is bounded by the export timeout, runs its I/O on the telemetry
//! runtime, and is recorded in the pipeline's own metrics.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry_otlp::{MetricExporter, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use tokio::runtime::Handle;
use tokio_util::context::TokioContext;

use crate::config::{read_ca_certificate, Compression, OtlpConfig, Protocol};
use crate::errors::BuildError;
use crate::health::Health;
use crate::self_telemetry::MetricExporterType;

/// The OTLP exporter with timeout, runtime context and self-telemetry around each export.
pub(crate) struct InstrumentedExporter {
    inner: MetricExporter,
    exporter: MetricExporterType,
    endpoint: String,
    timeout: Duration,
    runtime: Handle,
    health: Arc<OnceLock<Arc<Health>>>,
}

impl std::fmt::Debug for InstrumentedExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedExporter")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl InstrumentedExporter {
    /// Builds the exporter for `config`; `export_timeout` bounds a whole export, retries
    /// included.
    pub(crate) fn build(
        config: &OtlpConfig,
        export_timeout: Duration,
        runtime: Handle,
        health: Arc<OnceLock<Arc<Health>>>,
    ) -> Result<Self, BuildError> {
        // tonic's channel needs the runtime when it is created.
        let _guard = runtime.enter();
        let error = |e: &dyn std::fmt::Display| BuildError::Exporter {
            endpoint: config.endpoint.clone(),
            reason: e.to_string(),
        };
        let ca = match &config.ca_certificate {
            Some(path) => Some(read_ca_certificate(path)?),
            None => None,
        };
        let (inner, exporter) = match config.protocol {
            Protocol::Grpc => {
                let mut builder = MetricExporter::builder()
                    .with_tonic()
                    .with_endpoint(&config.endpoint)
                    .with_timeout(config.timeout)
                    .with_temporality(config.temporality);
                if !config.headers.is_empty() {
                    let mut headers = http::HeaderMap::new();
                    for (key, value) in &config.headers {
                        let name =
                            http::HeaderName::from_bytes(key.as_bytes()).map_err(|e| error(&e))?;
                        let value = http::HeaderValue::from_str(value).map_err(|e| error(&e))?;
                        headers.append(name, value);
                    }
                    builder =
                        builder.with_metadata(tonic::metadata::MetadataMap::from_headers(headers));
                }
                if config.compression == Compression::Gzip {
                    builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                if config.endpoint.starts_with("https://") {
                    let mut tls = tonic::transport::ClientTlsConfig::new().with_enabled_roots();
                    if let Some(pem) = &ca {
                        tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
                    }
                    builder = builder.with_tls_config(tls);
                }
                (
                    builder.build().map_err(|e| error(&e))?,
                    MetricExporterType::OtlpGrpc,
                )
            }
            Protocol::HttpProtobuf => {
                let mut builder = MetricExporter::builder()
                    .with_http()
                    .with_endpoint(&config.endpoint)
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_timeout(config.timeout)
                    .with_temporality(config.temporality)
                    .with_headers(config.headers.iter().cloned().collect::<HashMap<_, _>>());
                if config.compression == Compression::Gzip {
                    builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                if let Some(pem) = &ca {
                    let certificate = reqwest::Certificate::from_pem(pem).map_err(|e| error(&e))?;
                    let client = reqwest::Client::builder()
                        .add_root_certificate(certificate)
                        .build()
                        .map_err(|e| error(&e))?;
                    builder = builder.with_http_client(client);
                }
                (
                    builder.build().map_err(|e| error(&e))?,
                    MetricExporterType::OtlpHttp,
                )
            }
        };
        Ok(Self {
            inner,
            exporter,
            endpoint: config.endpoint.clone(),
            timeout: export_timeout,
            runtime,
            health,
        })
    }
}

impl PushMetricExporter for InstrumentedExporter {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        // The SDK's reader thread drives this future with a plain executor: enter the
        // telemetry runtime so the exporter's I/O and this timeout have a reactor.
        let bounded = {
            let _guard = self.runtime.enter();
            tokio::time::timeout(self.timeout, self.inner.export(metrics))
        };
        let in_runtime = TokioContext::new(bounded, self.runtime.clone());
        let points = data_points(metrics);
        async move {
            let started = Instant::now();
            let result = in_runtime
                .await
                .unwrap_or(Err(OTelSdkError::Timeout(self.timeout)));
            if let Some(health) = self.health.get() {
                health.export_finished(
                    self.exporter,
                    &self.endpoint,
                    started.elapsed(),
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
