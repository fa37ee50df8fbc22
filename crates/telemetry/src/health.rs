//! The pipeline's own telemetry: what [`catalog::telemetry`](crate::catalog::telemetry)
//! defines, recorded from the exporter, the bridge and the instruments, and logged through
//! `tracing` at a bounded rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::metrics::Meter;
use opentelemetry_sdk::error::OTelSdkError;

use crate::catalog::telemetry::{
    CallbackMetric, DropReason, Exporter, FailureReason, OverflowMetric, ScrapeOutcome, Source,
    CALLBACK_FAILURES, CARDINALITY_OVERFLOWS, EXPORT_ATTEMPTS, EXPORT_DURATION, EXPORT_FAILURES,
    EXPORT_LAST_SUCCESS, MEASUREMENTS_DROPPED, SCRAPES, SCRAPE_DURATION, SOURCE_LAST_UPDATE,
};
use crate::instruments::{Counter, Gauge, Histogram, Instrument};
use crate::observable::{register, Observation};
use crate::Unbounded;

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
    fn new(meter: &Meter) -> Self {
        Self {
            counter: Instrument::new(meter, &MEASUREMENTS_DROPPED.info, None, None, None),
            log: LogLimiter::new(Duration::from_secs(60)),
        }
    }

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
    drops: Arc<Drops>,
    callback_failures: Counter<u64, (Unbounded<CallbackMetric>,)>,
    overflows: Counter<u64, (Unbounded<OverflowMetric>,)>,
    overflow_logged: Mutex<std::collections::HashSet<&'static str>>,
    export_attempts: Counter<u64, (Exporter,)>,
    export_failures: Counter<u64, (Exporter, FailureReason)>,
    export_duration: Histogram<f64, (Exporter,)>,
    export_last_success: Gauge<f64, (Exporter,)>,
    scrapes: Counter<u64, (ScrapeOutcome,)>,
    scrape_duration: Histogram<f64, ()>,
    status: Mutex<ExportStatus>,
    export_log: LogLimiter,
    callback_log: LogLimiter,
}

impl Health {
    /// Creates the instruments on `meter` (the pipeline's own scope).
    pub(crate) fn new(meter: &Meter) -> Self {
        let drops = Arc::new(Drops::new(meter));
        let counts_drops = Some(drops.clone());
        Self {
            callback_failures: Instrument::new(meter, &CALLBACK_FAILURES.info, None, None, None),
            overflows: Instrument::new(meter, &CARDINALITY_OVERFLOWS.info, None, None, None),
            overflow_logged: Mutex::default(),
            export_attempts: Instrument::new(meter, &EXPORT_ATTEMPTS.info, None, None, None),
            export_failures: Instrument::new(meter, &EXPORT_FAILURES.info, None, None, None),
            export_duration: Instrument::new(
                meter,
                &EXPORT_DURATION.info,
                None,
                counts_drops.clone(),
                None,
            ),
            export_last_success: Instrument::new(
                meter,
                &EXPORT_LAST_SUCCESS.info,
                None,
                counts_drops.clone(),
                None,
            ),
            scrapes: Instrument::new(meter, &SCRAPES.info, None, None, None),
            scrape_duration: Instrument::new(
                meter,
                &SCRAPE_DURATION.info,
                None,
                counts_drops,
                None,
            ),
            drops,
            status: Mutex::new(ExportStatus::default()),
            export_log: LogLimiter::new(Duration::from_secs(60)),
            callback_log: LogLimiter::new(Duration::from_secs(60)),
        }
    }

    /// Where invalid measurements are counted and logged.
    pub(crate) fn drops(&self) -> Arc<Drops> {
        self.drops.clone()
    }

    /// Counts a measurement folded into `metric`'s overflow series; logs the first per metric.
    pub(crate) fn overflowed(&self, metric: &'static str, limit: usize) {
        self.overflows.add(1, (Unbounded::new(metric),));
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
        self.callback_failures.add(1, (Unbounded::new(metric),));
        if let Some(held_back) = self.callback_log.permit() {
            tracing::error!(
                metric,
                panic = message,
                held_back,
                "observable callback panicked; its observations are skipped"
            );
        }
    }

    /// Records one finished export.
    pub(crate) fn export_finished(
        &self,
        exporter: Exporter,
        endpoint: &str,
        elapsed: Duration,
        result: &Result<(), OTelSdkError>,
    ) {
        self.export_attempts.add(1, (exporter,));
        self.export_duration
            .record(elapsed.as_secs_f64(), (exporter,));
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.attempts += 1;
        match result {
            Ok(()) => {
                let now = unix_seconds(SystemTime::now());
                self.export_last_success.record(now, (exporter,));
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
                let reason = classify(error);
                self.export_failures.add(1, (exporter, reason));
                status.failures += 1;
                status.consecutive_failures += 1;
                if let Some(held_back) = self.export_log.permit() {
                    tracing::warn!(
                        endpoint,
                        reason = reason.as_str(),
                        %error,
                        consecutive_failures = status.consecutive_failures,
                        held_back,
                        "OTLP export failed; data is kept and retried at the next interval"
                    );
                }
            }
        }
    }

    /// Records one request answered by the bridge.
    pub(crate) fn scrape_served(&self, outcome: ScrapeOutcome, elapsed: Option<Duration>) {
        self.scrapes.add(1, (outcome,));
        if let Some(elapsed) = elapsed {
            self.scrape_duration.record(elapsed.as_secs_f64(), ());
        }
    }

    /// The push pipeline's state.
    pub(crate) fn export_status(&self) -> ExportStatus {
        *self.status.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Sorts an export error into a [`FailureReason`] by what the exporters report.
pub(crate) fn classify(error: &OTelSdkError) -> FailureReason {
    let message = match error {
        OTelSdkError::Timeout(_) => return FailureReason::Timeout,
        OTelSdkError::AlreadyShutdown => return FailureReason::Shutdown,
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
        FailureReason::Timeout
    } else if UNAVAILABLE.iter().any(|w| message.contains(w)) {
        FailureReason::Unavailable
    } else if REJECTED.iter().any(|w| message.contains(w)) {
        FailureReason::Rejected
    } else {
        FailureReason::Other
    }
}

/// A state source whose last change is exported as `node.telemetry.source.last_update`.
///
/// A component calls [`Freshness::touch`] whenever the state its observable gauges read
/// changes; a dashboard then shows how old the observed values are (seed 000: gauges that
/// silently stopped updating).
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
    _observation: Observation,
}

impl FreshnessRegistry {
    pub(crate) fn new(meter: &Meter, health: Arc<Health>) -> Self {
        let sources: Sources = Arc::default();
        let read = sources.clone();
        let observation = register(meter, &SOURCE_LAST_UPDATE, None, health, move |observer| {
            let sources = read.lock().unwrap_or_else(|p| p.into_inner());
            for (name, cell) in sources.iter() {
                let nanos = cell.load(Ordering::Relaxed);
                if nanos > 0 {
                    observer.observe(
                        nanos as f64 / 1e9,
                        (Unbounded::<Source>::new(name.clone()),),
                    );
                }
            }
        });
        Self {
            sources,
            _observation: observation,
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
