//! The series of one client, shared by every copy of a component's metrics and kept bounded
//! while components come and go.
//!
//! The SDK keeps one observable callback per registration forever, and an observable sum
//! keeps the last observation of a collection. So each metric name gets exactly one SDK
//! callback per client, registered by the first copy, and that callback reports what the
//! copies alive (or just dropped) hold:
//!
//! - [`CellSeries`]: the atomic cells of counters, up-down counters and gauges, one store
//!   per component instance. Copies with the same instance share the store, so their counts
//!   add up. When the last copy of an instance drops, its store is retired: still reported,
//!   final values included, until the client's retention has passed and a collection that
//!   may forget (below) has read it; that kind of collection then forgets it. A copy created
//!   before that takes the store back, so a counter never goes backwards while its series
//!   lives.
//! - [`ObservedSeries`]: the callbacks of observable fields. A dropped copy's callback is
//!   removed at once. Copies' observations of one attribute set add up (sums) or the last
//!   one wins (gauges). A monotonic sum never reports less than it did (a copy dropped, a
//!   source reset): the difference is carried as an offset while the series lives.
//! - [`SeriesLimit`]: the attribute sets of an unbounded metric recorded through the SDK,
//!   one per metric name, so that the values the SDK folds into its overflow series are
//!   counted.
//!
//! Which collections may forget: the SDK's delta sums subtract the last reported value in
//! `u64`, so a series must be absent from one collection of the OTLP reader before it may
//! come back lower. With an OTLP reader, only its collections (on its own thread) forget a
//! series; without one (the bridge, the test kit: cumulative readers), any collection does.
//!
//! Every path holds a metric to its cardinality limit the same way: instances past the
//! instance limit and observed sets past the limit are folded into one
//! `otel.metric.overflow=true` series (their sum, for a gauge one of their values), each
//! counted in `telemetry.cardinality.overflows`. An observed set keeps its series as long
//! as it is observed, so which sets have series does not change between collections.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{self as otel, AsyncInstrument};
use opentelemetry::KeyValue;

use crate::cells::{CellStore, CellValue, Cells};
use crate::definition::{MetricInfo, MAX_COMPONENT_INSTANCES};
use crate::health::Health;
use crate::instruments::MeasureValue;
use crate::observable::{ObservableKind, Observation};

/// The attribute set of a metric's overflow series (the SDK's own overflow attribute).
fn overflow_attributes() -> Vec<KeyValue> {
    vec![KeyValue::new("otel.metric.overflow", true)]
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether the running collection may forget series it no longer reports (see the module
/// documentation): any collection when no OTLP reader collects, else only the OTLP reader's.
fn may_forget(otlp: bool) -> bool {
    !otlp || std::thread::current().name() == Some("OpenTelemetry.Metrics.PeriodicReader")
}

/// A registration kept for the client's life: the shared series and the SDK instrument
/// whose one callback reports them.
type Registered<S> = (Arc<S>, Observation);

/// Every metric's shared series on one client.
pub struct SeriesRegistry {
    retention: Duration,
    health: Option<Arc<Health>>,
    /// Whether an OTLP reader collects.
    otlp: bool,
    cells: Mutex<HashMap<&'static str, Registered<CellSeries>>>,
    observed: Mutex<HashMap<&'static str, Registered<dyn Any + Send + Sync>>>,
    limits: Mutex<HashMap<&'static str, Arc<SeriesLimit>>>,
    /// The instances each histogram has bound (the SDK keeps their series).
    histograms: Mutex<HashMap<&'static str, HashSet<Option<KeyValue>>>>,
}

impl SeriesRegistry {
    /// A registry whose retired series stay reported for `retention`; overflows are counted
    /// in `health` (absent for the pipeline's own metrics, which are created before it).
    pub(crate) fn new(retention: Duration, health: Option<Arc<Health>>, otlp: bool) -> Self {
        Self {
            retention,
            health,
            otlp,
            cells: Mutex::default(),
            observed: Mutex::default(),
            limits: Mutex::default(),
            histograms: Mutex::default(),
        }
    }

    /// Notes that a histogram binds `instance`'s series: past the instances its limit holds,
    /// the SDK folds them into its overflow series, and that is counted once per instance.
    pub(crate) fn bind_histogram(&self, info: &'static MetricInfo, instance: &Option<KeyValue>) {
        let combinations = info.closed_series().unwrap_or(1).max(1);
        let max = (info.cardinality_limit / combinations).clamp(1, MAX_COMPONENT_INSTANCES);
        let mut histograms = lock(&self.histograms);
        let bound = histograms.entry(info.name).or_default();
        if bound.contains(instance) {
            return;
        }
        if bound.len() < max {
            bound.insert(instance.clone());
        } else if let Some(health) = &self.health {
            drop(histograms);
            health.overflowed(info.name, info.cardinality_limit);
        }
    }

    /// The cells of `instance` for `info`, reported by observable kind `O`: the store the
    /// instance's copies already use, or a new one (an overflow store past the instance
    /// limit). Recording stays on them while the lease lives.
    pub(crate) fn cells<O: ObservableKind>(
        &self,
        meter: &otel::Meter,
        info: &'static MetricInfo,
        instance: Option<KeyValue>,
        attributes: impl Fn() -> Vec<Vec<KeyValue>>,
    ) -> (Cells, SeriesLease)
    where
        O::Value: CellValue,
    {
        let series = lock(&self.cells)
            .entry(info.name)
            .or_insert_with(|| {
                let series = Arc::new(CellSeries {
                    info,
                    combinations: attributes().len().max(1),
                    retention: self.retention,
                    health: self.health.clone(),
                    otlp: self.otlp,
                    settle: settle::<O::Value>,
                    state: Mutex::default(),
                });
                let reported = series.clone();
                let only_set = O::KIND.is_gauge();
                let handle = O::register(
                    meter,
                    info,
                    Box::new(move |instrument| reported.report::<O::Value>(only_set, instrument)),
                );
                (series, Observation::new(handle))
            })
            .0
            .clone();
        series.acquire(instance, attributes)
    }

    /// Adds `callback` to the callbacks `O` runs for `info` at each collection; it is
    /// removed when the returned observation drops.
    pub(crate) fn observe<O: ObservableKind>(
        &self,
        meter: &otel::Meter,
        info: &'static MetricInfo,
        callback: ObservedCallback<O::Value>,
    ) -> Observation {
        let series = {
            let mut observed = lock(&self.observed);
            let (series, _) = observed.entry(info.name).or_insert_with(|| {
                let series = Arc::new(ObservedSeries::<O::Value> {
                    info,
                    sum: !O::KIND.is_gauge(),
                    monotonic: O::KIND.is_monotonic(),
                    otlp: self.otlp,
                    health: self.health.clone(),
                    callbacks: Mutex::default(),
                    next_id: AtomicU64::new(0),
                    state: Mutex::default(),
                });
                let collected = series.clone();
                let handle = O::register(
                    meter,
                    info,
                    Box::new(move |instrument| collected.collect(instrument)),
                );
                (series, Observation::new(handle))
            });
            series.clone()
        };
        let Ok(series) = series.downcast::<ObservedSeries<O::Value>>() else {
            // One metric name has one field type (the catalog's check): unreachable.
            return Observation::disabled();
        };
        let id = series.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&series.callbacks).push((id, callback));
        Observation::new(Box::new(CallbackGuard { series, id }))
    }

    /// The attribute sets of the unbounded metric `info`, shared by all its copies and
    /// instances (the SDK holds them per metric); `forgets` as for [`SeriesLimit`].
    pub(crate) fn limit(
        &self,
        info: &'static MetricInfo,
        health: Option<Arc<Health>>,
        forgets: bool,
    ) -> Arc<SeriesLimit> {
        lock(&self.limits)
            .entry(info.name)
            .or_insert_with(|| {
                Arc::new(SeriesLimit {
                    metric: info.name,
                    limit: info.cardinality_limit,
                    seen: Mutex::default(),
                    health,
                    forgets,
                })
            })
            .clone()
    }
}

/// One component instance's cells.
struct Entry {
    instance: Option<KeyValue>,
    store: Arc<CellStore>,
    /// Live copies using the store.
    leases: usize,
    /// Set when the last copy dropped.
    retired: Option<Retired>,
    /// Whether the instance records into the overflow series.
    overflow: bool,
}

struct Retired {
    at: Instant,
    /// Whether a collection that may forget has reported the store since.
    reported: bool,
}

#[derive(Default)]
struct CellState {
    entries: Vec<Entry>,
    /// What overflowed instances of a monotonic sum recorded before they were dropped.
    settled: AtomicU64,
    /// Whether any instance ever overflowed.
    overflowed: bool,
}

/// The cell stores of one counter, up-down counter or gauge, by component instance.
pub struct CellSeries {
    info: &'static MetricInfo,
    /// Attribute combinations per instance.
    combinations: usize,
    retention: Duration,
    health: Option<Arc<Health>>,
    otlp: bool,
    /// Adds a store's total to the settled overflow value (the value type's addition).
    settle: fn(&AtomicU64, &CellStore),
    state: Mutex<CellState>,
}

fn settle<T: CellValue>(settled: &AtomicU64, store: &CellStore) {
    if let Some(total) = store.total::<T>(false) {
        T::add(settled, total);
    }
}

impl CellSeries {
    /// How many instances get their own series: as many as the cardinality limit holds.
    fn max_instances(&self) -> usize {
        (self.info.cardinality_limit / self.combinations).clamp(1, MAX_COMPONENT_INSTANCES)
    }

    fn acquire(
        self: &Arc<Self>,
        instance: Option<KeyValue>,
        attributes: impl Fn() -> Vec<Vec<KeyValue>>,
    ) -> (Cells, SeriesLease) {
        let mut state = lock(&self.state);
        let lease = SeriesLease {
            series: self.clone(),
            instance: instance.clone(),
        };
        // Any entry of the instance, even one due to be forgotten: forgetting is for a
        // collection to do, or a reader could see the series come back lower.
        if let Some(entry) = state.entries.iter_mut().find(|e| e.instance == instance) {
            entry.leases += 1;
            entry.retired = None;
            return (entry.store.cells(), lease);
        }
        let own = state.entries.iter().filter(|e| !e.overflow).count();
        let overflow = own >= self.max_instances();
        let store = Arc::new(CellStore::new(if overflow {
            vec![overflow_attributes(); self.combinations]
        } else {
            attributes()
        }));
        if overflow {
            state.overflowed = true;
            if let Some(health) = &self.health {
                health.overflowed(self.info.name, self.info.cardinality_limit);
            }
        }
        let cells = store.cells();
        state.entries.push(Entry {
            instance,
            store,
            leases: 1,
            retired: None,
            overflow,
        });
        (cells, lease)
    }

    /// One copy of `instance` dropped: the last one retires its store. An overflowed
    /// instance leaves the overflow series at once (a monotonic sum keeps what it counted).
    fn release(&self, instance: &Option<KeyValue>) {
        let mut state = lock(&self.state);
        let Some(index) = state.entries.iter().position(|e| &e.instance == instance) else {
            return;
        };
        let entry = &mut state.entries[index];
        entry.leases = entry.leases.saturating_sub(1);
        if entry.leases > 0 {
            return;
        }
        if entry.overflow {
            let entry = state.entries.swap_remove(index);
            if self.info.kind.is_monotonic() {
                (self.settle)(&state.settled, &entry.store);
            }
        } else {
            entry.retired = Some(Retired {
                at: Instant::now(),
                reported: false,
            });
        }
    }

    /// Reports every instance's cells (retired ones until they are forgotten), then the
    /// overflow series.
    fn report<T: CellValue>(&self, only_set: bool, instrument: &dyn AsyncInstrument<T>) {
        let mut state = lock(&self.state);
        let forget = may_forget(self.otlp);
        let now = Instant::now();
        state.entries.retain(|e| {
            let expired = e
                .retired
                .as_ref()
                .is_some_and(|r| r.reported && now.duration_since(r.at) >= self.retention);
            !(forget && expired)
        });
        let state = &mut *state;
        let total = AtomicU64::new(state.settled.load(Ordering::Relaxed));
        let mut any_overflow = state.overflowed && !only_set;
        for entry in &mut state.entries {
            if let (Some(retired), true) = (&mut entry.retired, forget) {
                retired.reported = true;
            }
            if !entry.overflow {
                entry.store.report::<T>(only_set, |value, attributes| {
                    instrument.observe(value, attributes)
                });
            } else if let Some(value) = entry.store.total::<T>(only_set) {
                any_overflow = true;
                if only_set {
                    T::store(&total, value);
                } else {
                    T::add(&total, value);
                }
            }
        }
        if any_overflow {
            instrument.observe(T::load(&total), &overflow_attributes());
        }
    }
}

/// Keeps an instance's cells reported as live; retires them when the last copy drops.
pub struct SeriesLease {
    series: Arc<CellSeries>,
    instance: Option<KeyValue>,
}

impl Drop for SeriesLease {
    fn drop(&mut self) {
        self.series.release(&self.instance);
    }
}

/// One collection's observations of a metric, merged by attribute set.
pub(crate) struct Observations<T> {
    sum: bool,
    values: Vec<(Vec<KeyValue>, T)>,
    index: HashMap<Vec<KeyValue>, usize>,
}

impl<T: MeasureValue> Observations<T> {
    /// Adds `value` for `attributes` (sums), or replaces what was observed (gauges).
    pub(crate) fn record(&mut self, value: T, attributes: Vec<KeyValue>) {
        match self.index.get(&attributes) {
            Some(&i) if self.sum => self.values[i].1 = add(self.values[i].1, value),
            Some(&i) => self.values[i].1 = value,
            None => {
                self.index.insert(attributes.clone(), self.values.len());
                self.values.push((attributes, value));
            }
        }
    }
}

fn add<T: CellValue>(a: T, b: T) -> T {
    let cell = AtomicU64::new(0);
    T::store(&cell, a);
    T::add(&cell, b);
    T::load(&cell)
}

/// A callback of one copy of an observable field, writing into a collection's observations.
pub(crate) type ObservedCallback<T> = Arc<dyn Fn(&mut Observations<T>) + Send + Sync>;

/// What an observable metric keeps between collections.
struct ObservedState<T> {
    /// The attribute sets that hold a series of their own.
    admitted: HashSet<Vec<KeyValue>>,
    /// Monotonic sums: the sets in the overflow series (they stay there while observed, so
    /// their history is never counted twice).
    overflowed: HashSet<Vec<KeyValue>>,
    /// Monotonic sums: per reported set, the last value observed and the offset that keeps
    /// the reported value from going down.
    floors: HashMap<Vec<KeyValue>, (T, T)>,
}

impl<T> Default for ObservedState<T> {
    fn default() -> Self {
        Self {
            admitted: HashSet::new(),
            overflowed: HashSet::new(),
            floors: HashMap::new(),
        }
    }
}

impl<T: MeasureValue> ObservedState<T> {
    /// The value to report for `attributes` now: `value`, plus what the series lost when it
    /// went down (monotonic sums only).
    fn floored(&mut self, attributes: &[KeyValue], value: T) -> T {
        let (last, offset) = self
            .floors
            .entry(attributes.to_vec())
            .or_insert((value, T::ZERO));
        if value < *last {
            *offset = add(*offset, last.minus(value));
        }
        *last = value;
        add(value, *offset)
    }
}

/// The callbacks of one observable metric, and the attribute sets that hold its series.
pub struct ObservedSeries<T> {
    info: &'static MetricInfo,
    sum: bool,
    monotonic: bool,
    otlp: bool,
    health: Option<Arc<Health>>,
    callbacks: Mutex<Vec<(u64, ObservedCallback<T>)>>,
    next_id: AtomicU64,
    state: Mutex<ObservedState<T>>,
}

impl<T: MeasureValue> ObservedSeries<T> {
    /// Runs every live callback, merges their observations, and reports them within the
    /// cardinality limit.
    fn collect(&self, instrument: &dyn AsyncInstrument<T>) {
        // Run outside the lock: a callback may drop a copy (which removes its callback).
        let callbacks: Vec<ObservedCallback<T>> = lock(&self.callbacks)
            .iter()
            .map(|(_, c)| c.clone())
            .collect();
        let mut observations = Observations {
            sum: self.sum,
            values: Vec::new(),
            index: HashMap::new(),
        };
        for callback in &callbacks {
            callback(&mut observations);
        }
        self.report(observations, instrument);
        // The snapshot is dropped after the state's lock is released: a callback whose copy
        // was dropped meanwhile is dropped here, with whatever it owns.
        drop(callbacks);
    }

    /// Reports one collection's merged observations within the cardinality limit.
    fn report(&self, observations: Observations<T>, instrument: &dyn AsyncInstrument<T>) {
        let limit = self.info.cardinality_limit;
        let mut state = lock(&self.state);
        let state = &mut *state;
        // Sets not observed now give their series up first, so a newcomer takes a freed
        // series in this same collection.
        state
            .admitted
            .retain(|attributes| observations.index.contains_key(attributes));
        state
            .overflowed
            .retain(|attributes| observations.index.contains_key(attributes));
        let mut overflow: Option<T> = None;
        for (attributes, value) in observations.values {
            let kept_in_overflow = state.overflowed.contains(&attributes);
            if !kept_in_overflow
                && (state.admitted.contains(&attributes) || state.admitted.len() < limit)
            {
                let value = if self.monotonic {
                    state.floored(&attributes, value)
                } else {
                    value
                };
                instrument.observe(value, &attributes);
                state.admitted.insert(attributes);
                continue;
            }
            overflow = Some(match overflow {
                Some(sum) if self.sum => add(sum, value),
                _ => value,
            });
            if self.monotonic {
                state.overflowed.insert(attributes);
            }
            if let Some(health) = &self.health {
                health.overflowed(self.info.name, limit);
            }
        }
        if let Some(value) = overflow {
            let attributes = overflow_attributes();
            let value = if self.monotonic {
                state.floored(&attributes, value)
            } else {
                value
            };
            instrument.observe(value, &attributes);
        }
        if self.monotonic && may_forget(self.otlp) {
            let overflow = overflow_attributes();
            state.floors.retain(|attributes, _| {
                observations.index.contains_key(attributes)
                    || (attributes == &overflow && !state.overflowed.is_empty())
            });
        }
    }
}

/// Removes one copy's callback when the copy drops.
struct CallbackGuard<T> {
    series: Arc<ObservedSeries<T>>,
    id: u64,
}

impl<T> Drop for CallbackGuard<T> {
    fn drop(&mut self) {
        let removed = {
            let mut callbacks = lock(&self.series.callbacks);
            let index = callbacks.iter().position(|(id, _)| *id == self.id);
            index.map(|i| callbacks.swap_remove(i))
        };
        // Dropped outside the lock: the closure's captures may drop another copy.
        drop(removed);
    }
}

/// Tracks the distinct attribute sets of an unbounded metric up to its limit, as the SDK
/// holds them (one per metric name, whatever the copies and instances), so that values past
/// it (which the SDK folds into its overflow series) are counted and logged.
pub struct SeriesLimit {
    metric: &'static str,
    limit: usize,
    seen: Mutex<SeenSets>,
    health: Option<Arc<Health>>,
    /// Whether every reader has delta temporality for this metric (no bridge): the SDK then
    /// forgets, at each collection, the sets not recorded into since the one before.
    forgets: bool,
}

/// The attribute sets (hashed) the SDK holds for an unbounded metric.
#[derive(Default)]
struct SeenSets {
    /// Every set the SDK holds.
    held: HashSet<u64>,
    /// Sets recorded into since the last collection (delta only).
    recorded: HashSet<u64>,
    /// The export count at the last collection seen (delta only).
    exports: u64,
}

impl SeriesLimit {
    /// Notes a measurement with `attributes`; counts it when the SDK will fold it into the
    /// overflow series.
    pub(crate) fn check(&self, attributes: &[KeyValue]) {
        use std::hash::{BuildHasher, RandomState};
        static HASHER: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
        let hash = HASHER.get_or_init(RandomState::new).hash_one(attributes);
        let mut guard = lock(&self.seen);
        let sets = &mut *guard;
        if let (true, Some(health)) = (self.forgets, &self.health) {
            let exports = health.exports();
            if sets.exports != exports {
                // One collection: the SDK kept the sets recorded into since the one before.
                // More than one: it kept none.
                sets.held = if exports - sets.exports == 1 {
                    std::mem::take(&mut sets.recorded)
                } else {
                    HashSet::new()
                };
                sets.recorded.clear();
                sets.exports = exports;
            }
        }
        let admitted = sets.held.contains(&hash) || sets.held.len() < self.limit;
        if admitted {
            sets.held.insert(hash);
            if self.forgets {
                sets.recorded.insert(hash);
            }
        } else if let Some(health) = &self.health {
            drop(guard);
            health.overflowed(self.metric, self.limit);
        }
    }
}
