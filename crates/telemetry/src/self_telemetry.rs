//! Telemetry about telemetry: the export pipeline's own metrics, declared like any
//! component's. They make a silent pipeline visible (aztec-packages #16217: no data, logs
//! saying all is well).
//!
//! Where OpenTelemetry's semantic conventions name an SDK's own metric, that name is used
//! (`otel.sdk.*`, with `otel.component.type` and, on failures only, `error.type`), so fleet
//! dashboards built for other OpenTelemetry SDKs work here too. The rest sits under the
//! SDK's own neutral prefix, `telemetry.*`. Nothing is placed under the node's namespace.

use crate::{
    Counter, Gauge, Histogram, Metrics, ObservableGauge, ObservableUpDownCounter, Unbounded,
    UpDownCounter,
};

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

crate::attribute_enum! {
    /// The span exporter an export went through (`otel.component.type`).
    pub enum SpanExporterType: "otel.component.type" {
        /// OTLP over gRPC.
        OtlpGrpc => "otlp_grpc_span_exporter",
        /// OTLP over HTTP/protobuf.
        OtlpHttp => "otlp_http_span_exporter",
    }
}

crate::attribute_enum! {
    /// The log record exporter an export went through (`otel.component.type`).
    pub enum LogExporterType: "otel.component.type" {
        /// OTLP over gRPC.
        OtlpGrpc => "otlp_grpc_log_exporter",
        /// OTLP over HTTP/protobuf.
        OtlpHttp => "otlp_http_log_exporter",
    }
}

crate::attribute_enum! {
    /// Why a batch processor did not pass a record on (`error.type`; absent when it did).
    pub enum ProcessorError: "error.type" {
        /// The queue was full: the record was dropped, the caller did not wait.
        QueueFull => "queue_full",
        /// The pipeline was already shut down.
        AlreadyShutdown => "already_shutdown",
    }
}

crate::attribute_enum! {
    /// The signal an export carried (`telemetry.signal`).
    pub enum Signal: "telemetry.signal" {
        /// Spans.
        Traces => "traces",
        /// Log records.
        Logs => "logs",
    }
}

/// The span pipeline's semantic-convention metrics. Spans the sampler drops are never
/// recorded, so they are not counted here.
#[derive(Metrics)]
#[metrics(prefix = "otel.sdk")]
pub(crate) struct SpanMetrics {
    /// Sampled spans started.
    #[metric(name = "span.started", unit = "{span}")]
    pub(crate) started: Counter<u64, ()>,
    /// Sampled spans started and not yet ended.
    #[metric(name = "span.live", unit = "{span}")]
    pub(crate) live: UpDownCounter<i64, ()>,
    /// Ended spans the batch processor handed to the exporter; with `error.type`, the ones
    /// it dropped instead (a full queue, or after shutdown).
    #[metric(name = "processor.span.processed", unit = "{span}")]
    pub(crate) processed: Counter<u64, (Option<ProcessorError>,)>,
    /// Spans waiting in the batch processor's queue or being exported.
    #[metric(name = "processor.span.queue.size", unit = "{span}")]
    pub(crate) queue_size: ObservableUpDownCounter<i64, ()>,
    /// Spans the batch processor's queue holds at most.
    #[metric(name = "processor.span.queue.capacity", unit = "{span}")]
    pub(crate) queue_capacity: ObservableUpDownCounter<i64, ()>,
    /// Spans the exporter tried to send, by exporter; `error.type` is set on those whose
    /// export failed.
    #[metric(name = "exporter.span.exported", unit = "{span}")]
    pub(crate) exported: Counter<u64, (SpanExporterType, Option<ErrorType>)>,
}

/// The log pipeline's semantic-convention metrics.
#[derive(Metrics)]
#[metrics(prefix = "otel.sdk")]
pub(crate) struct LogMetrics {
    /// Log records emitted to the log pipeline.
    #[metric(name = "log.created", unit = "{log_record}")]
    pub(crate) created: Counter<u64, ()>,
    /// Log records the batch processor handed to the exporter; with `error.type`, the ones
    /// it dropped instead (a full queue, or after shutdown).
    #[metric(name = "processor.log.processed", unit = "{log_record}")]
    pub(crate) processed: Counter<u64, (Option<ProcessorError>,)>,
    /// Log records waiting in the batch processor's queue or being exported.
    #[metric(name = "processor.log.queue.size", unit = "{log_record}")]
    pub(crate) queue_size: ObservableUpDownCounter<i64, ()>,
    /// Log records the batch processor's queue holds at most.
    #[metric(name = "processor.log.queue.capacity", unit = "{log_record}")]
    pub(crate) queue_capacity: ObservableUpDownCounter<i64, ()>,
    /// Log records the exporter tried to send, by exporter; `error.type` is set on those
    /// whose export failed.
    #[metric(name = "exporter.log.exported", unit = "{log_record}")]
    pub(crate) exported: Counter<u64, (LogExporterType, Option<ErrorType>)>,
}

/// Export requests of the span and log pipelines, where no semantic convention exists
/// (the metric pipeline's are the count of `otel.sdk.exporter.operation.duration`).
#[derive(Metrics)]
#[metrics(prefix = "telemetry")]
pub(crate) struct SignalExportMetrics {
    /// Export requests, by signal; `error.type` is set on the failed ones.
    #[metric(unit = "{request}")]
    pub(crate) exports: Counter<u64, (Signal, Option<ErrorType>)>,
}
