//! Telemetry about telemetry: the export pipeline's own metrics, declared like any
//! component's. They make a silent pipeline visible (aztec-packages #16217: no data, logs
//! saying all is well).
//!
//! Where OpenTelemetry's semantic conventions name an SDK's own metric, that name is used
//! (`otel.sdk.*`, with `otel.component.type` and, on failures only, `error.type`), so fleet
//! dashboards built for other OpenTelemetry SDKs work here too. The rest sits under the
//! SDK's own neutral prefix, `telemetry.*`. Nothing is placed under the node's namespace.

use crate::{Counter, Gauge, Histogram, Metrics, ObservableGauge, Unbounded};

crate::attribute_enum! {
    /// The metric exporter an export went through (`otel.component.type`).
    pub enum MetricExporterType: "otel.component.type" {
        /// OTLP over gRPC.
        OtlpGrpc => "otlp_grpc_metric_exporter",
        /// OTLP over HTTP/protobuf.
        OtlpHttp => "otlp_http_metric_exporter",
    }
}

crate::attribute_enum! {
    /// The reader a collection ran for (`otel.component.type`).
    pub enum MetricReaderType: "otel.component.type" {
        /// The Prometheus pull bridge, collecting for one scrape.
        PrometheusBridge => "prometheus_http_text_metric_exporter",
    }
}

crate::attribute_enum! {
    /// Why an export or a collection failed (`error.type`; absent on success).
    pub enum ErrorType: "error.type" {
        /// It did not finish within its timeout.
        Timeout => "timeout",
        /// The receiver could not be reached (refused, unresolvable, connection reset).
        Unavailable => "unavailable",
        /// The receiver answered and refused the data.
        Rejected => "rejected",
        /// The exporter was already shut down.
        Shutdown => "shutdown",
        /// Anything else (the semantic conventions' fallback value).
        Other => "_OTHER",
    }
}

crate::attribute_enum! {
    /// Why a measurement was dropped before reaching the SDK.
    pub enum DropReason: "telemetry.drop.reason" {
        /// The value was NaN.
        Nan => "nan",
        /// The value was infinite.
        Infinite => "infinite",
        /// A negative increment on a monotonic counter.
        Negative => "negative",
    }
}

crate::attribute_enum! {
    /// How the Prometheus bridge answered a request.
    pub enum ScrapeOutcome: "telemetry.scrape.outcome" {
        /// Metrics served.
        Ok => "ok",
        /// Missing or wrong credentials.
        Unauthorized => "unauthorized",
        /// A path other than `/metrics`.
        NotFound => "not_found",
        /// A method other than GET or HEAD.
        MethodNotAllowed => "method_not_allowed",
        /// Collection or encoding failed.
        Error => "error",
    }
}

crate::unbounded_attribute! {
    /// The metric whose observable callback failed.
    pub CallbackMetric: "telemetry.callback.metric", limit = 256
}

crate::unbounded_attribute! {
    /// A metric whose cardinality limit was reached.
    pub OverflowMetric: "telemetry.overflow.metric", limit = 256
}

crate::unbounded_attribute! {
    /// A state source whose freshness is reported.
    pub SourceName: "telemetry.source.name", limit = 64
}

/// The OpenTelemetry semantic-convention metrics of the SDK itself.
#[derive(Metrics)]
#[metrics(prefix = "otel.sdk")]
pub(crate) struct SdkMetrics {
    /// Metric data points the exporter tried to send, by exporter; `error.type` is set on
    /// those whose export failed.
    #[metric(name = "exporter.metric_data_point.exported", unit = "{data_point}")]
    pub(crate) exported: Counter<u64, (MetricExporterType, Option<ErrorType>)>,
    /// Time one export took, by exporter; `error.type` is set on failures.
    #[metric(name = "exporter.operation.duration", unit = "s")]
    pub(crate) export_duration: Histogram<f64, (MetricExporterType, Option<ErrorType>)>,
    /// Time the Prometheus bridge took to collect and encode the metrics of one scrape;
    /// `error.type` is set on failures.
    #[metric(name = "metric_reader.collection.duration", unit = "s")]
    pub(crate) collection_duration: Histogram<f64, (MetricReaderType, Option<ErrorType>)>,
}

/// The pipeline's health where no semantic convention exists.
#[derive(Metrics)]
#[metrics(prefix = "telemetry")]
pub(crate) struct PipelineMetrics {
    /// Unix time of the last successful export, by exporter; stops moving while exports fail.
    #[metric(name = "export.last_success", unit = "s")]
    pub(crate) export_last_success: Gauge<f64, (MetricExporterType,)>,
    /// Requests answered by the Prometheus bridge, by outcome.
    #[metric(unit = "{scrape}")]
    pub(crate) scrapes: Counter<u64, (ScrapeOutcome,)>,
    /// Observable callbacks that panicked, by metric; the other metrics keep exporting.
    #[metric(name = "callback.failures", unit = "{failure}")]
    pub(crate) callback_failures: Counter<u64, (Unbounded<CallbackMetric>,)>,
    /// Measurements dropped as invalid (NaN, infinite, negative counter increment).
    #[metric(name = "measurements.dropped", unit = "{measurement}")]
    pub(crate) measurements_dropped: Counter<u64, (DropReason,)>,
    /// Measurements folded into a metric's overflow series because its cardinality limit
    /// was reached, by metric.
    #[metric(name = "cardinality.overflows", unit = "{measurement}")]
    pub(crate) cardinality_overflows: Counter<u64, (Unbounded<OverflowMetric>,)>,
}

/// How fresh the state behind observable gauges is.
#[derive(Metrics)]
#[metrics(prefix = "telemetry.source")]
pub(crate) struct FreshnessMetrics {
    /// Unix time a state source last changed, by source; an old value means stale
    /// observations.
    #[metric(unit = "s")]
    pub(crate) last_update: ObservableGauge<f64, (Unbounded<SourceName>,)>,
}
