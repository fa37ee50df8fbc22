//! Telemetry about telemetry: the health of the export pipeline itself.
//!
//! These make a silent pipeline visible (aztec-packages #16217: no data, logs saying all
//! is well): failed exports are counted by reason, the time of the last successful export
//! stops moving, callback panics and dropped measurements are counted.

crate::attribute_enum! {
    /// Which exporter an export attempt went through.
    pub enum Exporter: "telemetry.exporter" {
        /// OTLP over gRPC.
        OtlpGrpc => "otlp_grpc",
        /// OTLP over HTTP/protobuf.
        OtlpHttp => "otlp_http",
    }
}

crate::attribute_enum! {
    /// Why an export failed.
    pub enum FailureReason: "telemetry.failure.reason" {
        /// The export did not finish within its timeout.
        Timeout => "timeout",
        /// The receiver could not be reached (refused, unresolvable, connection reset).
        Unavailable => "unavailable",
        /// The receiver answered and refused the data.
        Rejected => "rejected",
        /// The exporter was already shut down.
        Shutdown => "shutdown",
        /// Anything else.
        Other => "other",
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
        /// Encoding failed.
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
    pub Source: "telemetry.source", limit = 64
}

crate::metrics! {
    /// Export attempts, by exporter.
    pub EXPORT_ATTEMPTS: Counter<u64, (Exporter,)> = "node.telemetry.export.attempts", "{attempt}";
    /// Failed exports, by exporter and reason.
    pub EXPORT_FAILURES: Counter<u64, (Exporter, FailureReason)> =
        "node.telemetry.export.failures", "{failure}";
    /// Time one export took, successful or not.
    pub EXPORT_DURATION: Histogram<f64, (Exporter,)> = "node.telemetry.export.duration", "s";
    /// Unix time of the last successful export; stops moving while exports fail.
    pub EXPORT_LAST_SUCCESS: Gauge<f64, (Exporter,)> = "node.telemetry.export.last_success", "s";
    /// Requests answered by the Prometheus bridge, by outcome.
    pub SCRAPES: Counter<u64, (ScrapeOutcome,)> = "node.telemetry.scrapes", "{scrape}";
    /// Time the bridge took to collect and encode one scrape.
    pub SCRAPE_DURATION: Histogram<f64, ()> = "node.telemetry.scrape.duration", "s";
    /// Observable callbacks that panicked, by metric; the other metrics keep exporting.
    pub CALLBACK_FAILURES: Counter<u64, (crate::Unbounded<CallbackMetric>,)> =
        "node.telemetry.callback.failures", "{failure}";
    /// Measurements dropped as invalid (NaN, infinite, negative counter increment).
    pub MEASUREMENTS_DROPPED: Counter<u64, (DropReason,)> =
        "node.telemetry.measurements.dropped", "{measurement}";
    /// Measurements folded into a metric's overflow series because its cardinality limit
    /// was reached, by metric.
    pub CARDINALITY_OVERFLOWS: Counter<u64, (crate::Unbounded<OverflowMetric>,)> =
        "node.telemetry.cardinality.overflows", "{measurement}";
    /// Time one host-metrics refresh took (sysinfo and /proc reads).
    pub HOST_REFRESH_DURATION: Histogram<f64, ()> = "node.telemetry.host.refresh.duration", "s";
    /// Unix time a state source last changed; an old value means stale observations.
    pub SOURCE_LAST_UPDATE: ObservableGauge<f64, (crate::Unbounded<Source>,)> =
        "node.telemetry.source.last_update", "s";
}
