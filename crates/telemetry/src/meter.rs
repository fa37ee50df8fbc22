//! [`ComponentMeter`]: a component's scope, from which it creates its instruments.

use std::sync::Arc;

use opentelemetry::metrics::Meter;
use opentelemetry::KeyValue;

use crate::attributes::AttributeSet;
use crate::client::Shared;
use crate::definition::{kind, MetricDef};
use crate::instruments::{Counter, Gauge, Histogram, Instrument, SyncKind, UpDownCounter};
use crate::observable::{self, ObservableKind, Observation, Observer};

/// A component's meter, named after the component. Obtained from
/// [`TelemetryClient::component`](crate::TelemetryClient::component).
///
/// ```
/// use telemetry::{Counter, Histogram, TelemetryClient};
///
/// telemetry::attribute_enum! {
///     /// How a job ended.
///     pub enum Outcome: "job.outcome" { Done => "done", Failed => "failed" }
/// }
/// telemetry::metrics! {
///     /// Jobs finished, by outcome.
///     pub JOBS: Counter<u64, (Outcome,)> = "node.worker.jobs", "{job}";
///     /// Time one job took.
///     pub JOB_DURATION: Histogram<f64, (Outcome,)> = "node.worker.job.duration", "s";
/// }
///
/// /// The worker's instrumentation: one field per metric, one method per event.
/// pub struct WorkerMetrics {
///     jobs: Counter<u64, (Outcome,)>,
///     duration: Histogram<f64, (Outcome,)>,
/// }
///
/// impl WorkerMetrics {
///     pub fn new(client: &TelemetryClient) -> Self {
///         let meter = client.component("worker");
///         Self { jobs: meter.counter(&JOBS), duration: meter.histogram(&JOB_DURATION) }
///     }
///
///     pub fn job_finished(&self, seconds: f64, outcome: Outcome) {
///         self.jobs.add(1, (outcome,));
///         self.duration.record(seconds, (outcome,));
///     }
/// }
/// # WorkerMetrics::new(&TelemetryClient::disabled()).job_finished(0.1, Outcome::Done);
/// ```
#[derive(Clone)]
pub struct ComponentMeter {
    live: Option<LiveMeter>,
}

#[derive(Clone)]
struct LiveMeter {
    meter: Meter,
    instance: Option<KeyValue>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ComponentMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentMeter")
            .field("enabled", &self.live.is_some())
            .finish()
    }
}

impl ComponentMeter {
    pub(crate) fn disabled() -> Self {
        Self { live: None }
    }

    pub(crate) fn new(meter: Meter, instance: Option<KeyValue>, shared: Arc<Shared>) -> Self {
        Self {
            live: Some(LiveMeter {
                meter,
                instance,
                shared,
            }),
        }
    }

    /// The live meter, if `name` is to be recorded; registers the metric's cardinality limit
    /// for the provider's view first.
    fn admit(&self, info: &'static crate::MetricInfo) -> Option<&LiveMeter> {
        let live = self.live.as_ref()?;
        if !live.shared.records(info.name) {
            return None;
        }
        live.shared
            .limits
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(info.name, info.cardinality_limit);
        Some(live)
    }

    /// Creates the synchronous instrument `def` declares.
    pub fn instrument<K: SyncKind, A: AttributeSet>(
        &self,
        def: &'static MetricDef<K, A>,
    ) -> Instrument<K, A> {
        match self.admit(&def.info) {
            None => Instrument::disabled(),
            Some(live) => {
                let drops =
                    (K::VALUE_TYPE == crate::ValueType::F64).then(|| live.shared.health.drops());
                Instrument::new(
                    &live.meter,
                    &def.info,
                    live.instance.clone(),
                    drops,
                    Some(live.shared.health.clone()),
                )
            }
        }
    }

    /// Creates a counter.
    pub fn counter<T, A: AttributeSet>(
        &self,
        def: &'static MetricDef<kind::Counter<T>, A>,
    ) -> Counter<T, A>
    where
        kind::Counter<T>: SyncKind,
    {
        self.instrument(def)
    }

    /// Creates an up-down counter.
    pub fn up_down_counter<T, A: AttributeSet>(
        &self,
        def: &'static MetricDef<kind::UpDownCounter<T>, A>,
    ) -> UpDownCounter<T, A>
    where
        kind::UpDownCounter<T>: SyncKind,
    {
        self.instrument(def)
    }

    /// Creates a gauge.
    pub fn gauge<T, A: AttributeSet>(
        &self,
        def: &'static MetricDef<kind::Gauge<T>, A>,
    ) -> Gauge<T, A>
    where
        kind::Gauge<T>: SyncKind,
    {
        self.instrument(def)
    }

    /// Creates a histogram.
    pub fn histogram<A: AttributeSet>(
        &self,
        def: &'static MetricDef<kind::Histogram<f64>, A>,
    ) -> Histogram<f64, A> {
        self.instrument(def)
    }

    /// Registers an observable instrument whose `callback` reports values at each
    /// collection (each OTLP export and each scrape). A panic in `callback` is caught,
    /// counted and logged; other metrics keep exporting. Keep the returned [`Observation`]
    /// for as long as the callback should run.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// telemetry::metrics! {
    ///     /// Transactions waiting.
    ///     pub QUEUE: ObservableGauge<u64, ()> = "node.example.queue.size", "{transaction}";
    /// }
    /// let depth = Arc::new(AtomicU64::new(0));
    /// let client = telemetry::TelemetryClient::disabled();
    /// let read = depth.clone();
    /// let _observation = client
    ///     .component("example")
    ///     .observe(&QUEUE, move |observer| observer.observe(read.load(Ordering::Relaxed), ()));
    /// ```
    pub fn observe<K, A, F>(&self, def: &'static MetricDef<K, A>, callback: F) -> Observation
    where
        K: ObservableKind,
        A: AttributeSet,
        F: Fn(&mut Observer<'_, K::Value, A>) + Send + Sync + 'static,
    {
        match self.admit(&def.info) {
            None => Observation::disabled(),
            Some(live) => observable::register::<K, A, F>(
                &live.meter,
                def,
                live.instance.clone(),
                live.shared.health.clone(),
                callback,
            ),
        }
    }
}
