//! The pipeline's own telemetry: what [`self_telemetry`](crate::self_telemetry) declares,
//! recorded from the exporter, the bridge and the instruments, and logged through
//! `tracing` at a bounded rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_sdk::error::OTelSdkError;

use crate::meter::ComponentMeter;
use crate::self_telemetry::{
    DropReason, ErrorType, FreshnessMetrics, FreshnessMetricsCallbacks, MetricExporterType,
    MetricReaderType, PipelineMetrics, ScrapeOutcome, SdkMetrics, SourceName,
};
use crate::{Callback, Counter, Metrics, Unbounded};

/// Lets one log line through per `period` and counts the ones held back.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    period: Duration,
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl LogLimiter {
    pub(crate) fn new(period: Duration) -> Self {
        Self {
            period,
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when a line may be logged now, `n` being how many were held back since.
    pub(crate) fn permit(&self) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match *last {
            Some(at) if now.duration_since(at) < self.period => {
                self.suppressed.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => {
                *last = Some(now);
                Some(self.suppressed.swap(0, Ordering::Relaxed))
            }
        }
    }
}

/// Counts measurements dropped as invalid, by reason, and logs them at a bounded rate
/// (one line a minute, naming the metric and how many were held back).
pub(crate) struct Drops {
    counter: Counter<u64, (DropReason,)>,
    log: LogLimiter,
}

impl Drops {
    /// Counts and (rate-limited) logs one invalid measurement of `metric`.
    pub(crate) fn dropped(&self, metric: &'static str, reason: DropReason) {
        self.counter.add(1, (reason,));
        if let Some(held_back) = self.log.permit() {
            tracing::warn!(
                metric,
                reason = reason.as_str(),
                held_back,
                "dropped an invalid measurement"
            );
        }
    }
}

/// Seconds since the Unix epoch, as exported by the `*.last_*` gauges.
pub(crate) fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A snapshot of the push pipeline's state, for status lines and health checks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ExportStatus {
    /// Export attempts so far.
    pub attempts: u64,
    /// Failed exports so far.
    pub failures: u64,
    /// Failures since the last success.
    pub consecutive_failures: u64,
    /// Unix time of the last successful export, if any.
    pub last_success_unix: Option<f64>,
}

/// Records the pipeline's own metrics.
pub(crate) struct Health {
    sdk: SdkMetrics,
    pipeline: PipelineMetrics,
    drops: Arc<Drops>,
    overflow_logged: Mutex<std::collections::HashSet<&'static str>>,
    status: Mutex<ExportStatus>,
    export_log: LogLimiter,
    callback_log: LogLimiter,
    /// Metrics exports attempted: each follows one collection of the OTLP reader.
    exports: AtomicU64,
}

impl Health {
    /// Creates the instruments on `meter` (the pipeline's own meter).
    pub(crate) fn new(meter: &ComponentMeter) -> Self {
        let pipeline = PipelineMetrics::register(meter, ());
        Self {
            drops: Arc::new(Drops {
                counter: pipeline.measurements_dropped.clone(),
                log: LogLimiter::new(Duration::from_secs(60)),
            }),
            sdk: SdkMetrics::register(meter, ()),
            pipeline,
            overflow_logged: Mutex::default(),
            status: Mutex::new(ExportStatus::default()),
            export_log: LogLimiter::new(Duration::from_secs(60)),
            callback_log: LogLimiter::new(Duration::from_secs(60)),
            exports: AtomicU64::new(0),
        }
    }

    /// Where invalid measurements are counted and logged.
    pub(crate) fn drops(&self) -> Arc<Drops> {
        self.drops.clone()
    }

    /// Counts a measurement folded into `metric`'s overflow series; logs the first per metric.
    pub(crate) fn overflowed(&self, metric: &'static str, limit: usize) {
        self.pipeline
            .cardinality_overflows
            .add(1, (Unbounded::new(metric),));
        if self
            .overflow_logged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(metric)
        {
            tracing::warn!(
                metric,
                limit,
                "cardinality limit reached: further new attribute values go to the otel.metric.overflow series"
            );
        }
    }

    /// Counts and logs a panicking observable callback.
    pub(crate) fn callback_panicked(&self, metric: &'static str, message: &str) {
        self.pipeline
            .callback_failures
            .add(1, (Unbounded::new(metric),));
        if let Some(held_back) = self.callback_log.permit() {
            tracing::error!(
                metric,
                panic = message,
                held_back,
                "observable callback panicked; its observations are skipped"
            );
        }
    }

    /// How many metrics exports have been attempted: with a delta-only pipeline, each one
    /// follows a collection after which the SDK forgets the attribute sets not recorded
    /// into since the collection before.
    pub(crate) fn exports(&self) -> u64 {
        self.exports.load(Ordering::Acquire)
    }

    /// Records one finished export of `points` data points.
    pub(crate) fn export_finished(
        &self,
        exporter: MetricExporterType,
        endpoint: &str,
        elapsed: Duration,
        points: u64,
        result: &Result<(), OTelSdkError>,
    ) {
        self.exports.fetch_add(1, Ordering::Release);
        let error = result.as_ref().err().map(classify);
        self.sdk.exported.add(points, (exporter, error));
        self.sdk
            .export_duration
            .record(elapsed.as_secs_f64(), (exporter, error));
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.attempts += 1;
        match result {
            Ok(()) => {
                let now = unix_seconds(SystemTime::now());
                self.pipeline.export_last_success.record(now, (exporter,));
                if status.last_success_unix.is_none() {
                    tracing::info!(endpoint, "first OTLP export succeeded");
                } else if status.consecutive_failures > 0 {
                    tracing::info!(
                        endpoint,
                        failures = status.consecutive_failures,
                        "OTLP export recovered"
                    );
                }
                status.last_success_unix = Some(now);
                status.consecutive_failures = 0;
            }
            Err(error) => {
                status.failures += 1;
                status.consecutive_failures += 1;
                if let Some(held_back) = self.export_log.permit() {
                    tracing::warn!(
                        endpoint,
                        reason = classify(error).as_str(),
                        %error,
                        consecutive_failures = status.consecutive_failures,
                        held_back,
                        "OTLP export failed; data is kept and retried at the next interval"
                    );
                }
            }
        }
    }

    /// Records one request answered by the bridge, with the collection's duration when it
    /// collected.
    pub(crate) fn scrape_served(&self, outcome: ScrapeOutcome, collection: Option<Duration>) {
        self.pipeline.scrapes.add(1, (outcome,));
        if let Some(elapsed) = collection {
            let error = (outcome == ScrapeOutcome::Error).then_some(ErrorType::Other);
            self.sdk.collection_duration.record(
                elapsed.as_secs_f64(),
                (MetricReaderType::PrometheusBridge, error),
            );
        }
    }

    /// The push pipeline's state.
    pub(crate) fn export_status(&self) -> ExportStatus {
        *self.status.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Sorts an export error into an [`ErrorType`] by what the exporters report.
pub(crate) fn classify(error: &OTelSdkError) -> ErrorType {
    let message = match error {
        OTelSdkError::Timeout(_) => return ErrorType::Timeout,
        OTelSdkError::AlreadyShutdown => return ErrorType::Shutdown,
        OTelSdkError::InternalFailure(message) => message.to_ascii_lowercase(),
    };
    const UNAVAILABLE: &[&str] = &[
        "unavailable",
        "connect",
        "dns",
        "resolve",
        "refused",
        "reset",
        "broken pipe",
        "transport error",
        "error sending request",
        "tcp",
    ];
    const REJECTED: &[&str] = &[
        "invalidargument",
        "invalid argument",
        "permissiondenied",
        "permission denied",
        "unauthenticated",
        "resourceexhausted",
        "unimplemented",
        "status: 4",
        "status code: 4",
        "400",
        "401",
        "403",
        "404",
        "413",
        "415",
        "429",
    ];
    if message.contains("timed out") || message.contains("deadline") || message.contains("timeout")
    {
        ErrorType::Timeout
    } else if UNAVAILABLE.iter().any(|w| message.contains(w)) {
        ErrorType::Unavailable
    } else if REJECTED.iter().any(|w| message.contains(w)) {
        ErrorType::Rejected
    } else {
        ErrorType::Other
    }
}

/// A state source whose last change is exported as `telemetry.source.last_update`.
///
/// A component calls [`Freshness::touch`] whenever the state its observable gauges read
/// changes; a dashboard then shows how old the observed values are (gauges that silently
/// stopped updating). Obtained from [`TelemetryClient::freshness`](crate::TelemetryClient::freshness).
#[derive(Debug, Clone, Default)]
pub struct Freshness {
    unix_nanos: Option<Arc<AtomicU64>>,
}

impl Freshness {
    /// Marks the source as updated now.
    #[inline]
    pub fn touch(&self) {
        if let Some(cell) = &self.unix_nanos {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            cell.store(nanos, Ordering::Relaxed);
        }
    }
}

/// Named freshness cells, shared with the gauge's callback.
type Sources = Arc<Mutex<Vec<(String, Arc<AtomicU64>)>>>;

/// The registered freshness sources and the gauge that reports them.
pub(crate) struct FreshnessRegistry {
    sources: Sources,
    _metrics: FreshnessMetrics,
}

impl FreshnessRegistry {
    pub(crate) fn new(meter: &ComponentMeter) -> Self {
        let sources: Sources = Arc::default();
        let read = sources.clone();
        let last_update = Callback::new(move |observer| {
            let sources = read.lock().unwrap_or_else(|p| p.into_inner());
            for (name, cell) in sources.iter() {
                let nanos = cell.load(Ordering::Relaxed);
                if nanos > 0 {
                    observer.observe(
                        nanos as f64 / 1e9,
                        (Unbounded::<SourceName>::new(name.clone()),),
                    );
                }
            }
        });
        Self {
            sources,
            _metrics: FreshnessMetrics::register(meter, FreshnessMetricsCallbacks { last_update }),
        }
    }

    /// Registers (or returns the existing) source `name`.
    pub(crate) fn source(&self, name: &str) -> Freshness {
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let cell = match sources.iter().find(|(n, _)| n == name) {
            Some((_, cell)) => cell.clone(),
            None => {
                let cell = Arc::new(AtomicU64::new(0));
                sources.push((name.to_owned(), cell.clone()));
                cell
            }
        };
        Freshness {
            unix_nanos: Some(cell),
        }
    }
}
