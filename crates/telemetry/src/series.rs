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
//!   add up. When the last copy of an instance drops, its store is retired: still reported
//!   (its final value reaches every reader) until the client's retention has passed and at
//!   least one collection has read it, then forgotten. A copy created before that takes the
//!   store back, so a counter never goes backwards while its series lives.
//! - [`ObservedSeries`]: the callbacks of observable fields. A dropped copy's callback is
//!   removed at once and never runs again. Copies' observations of one attribute set add
//!   up (sums) or the last one wins (gauges).
//!
//! Both hold a metric to its cardinality limit on every path, the same way: cell stores
//! past the instance limit share one overflow store, observed attribute sets past the
//! limit are folded into one series; each is `otel.metric.overflow=true` and is counted in
//! `telemetry.metric.cardinality_overflows`. An observed attribute set keeps its series as
//! long as it is observed, so which sets have series does not change between collections.

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

/// A registration kept for the client's life: the shared series and the SDK instrument
/// whose one callback reports them.
type Registered<S> = (Arc<S>, Observation);

/// Every metric's shared series on one client.
pub struct SeriesRegistry {
    retention: Duration,
    health: Option<Arc<Health>>,
    cells: Mutex<HashMap<&'static str, Registered<CellSeries>>>,
    observed: Mutex<HashMap<&'static str, Registered<dyn Any + Send + Sync>>>,
}

impl SeriesRegistry {
    /// A registry whose retired series stay reported for `retention`; overflows are counted
    /// in `health` (absent for the pipeline's own metrics, which are created before it).
    pub(crate) fn new(retention: Duration, health: Option<Arc<Health>>) -> Self {
        Self {
            retention,
            health,
            cells: Mutex::default(),
            observed: Mutex::default(),
        }
    }

    /// The cells of `instance` for `info`, reported by observable kind `O`: the store the
    /// instance's live copies already use, or a new one (the overflow store past the
    /// instance limit). Recording stays on them while the lease lives.
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
                    health: self.health.clone(),
                    callbacks: Mutex::default(),
                    next_id: AtomicU64::new(0),
                    admitted: Mutex::default(),
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
}

/// One component instance's cells.
struct Entry {
    instance: Option<KeyValue>,
    store: Arc<CellStore>,
    /// Live copies using the store.
    leases: usize,
    /// Set when the last copy dropped.
    retired: Option<Retired>,
}

struct Retired {
    at: Instant,
    /// Whether a collection has reported the store since.
    reported: bool,
}

#[derive(Default)]
struct CellState {
    entries: Vec<Entry>,
    overflow: Option<Arc<CellStore>>,
}

/// The cell stores of one counter, up-down counter or gauge, by component instance.
pub struct CellSeries {
    info: &'static MetricInfo,
    /// Attribute combinations per instance.
    combinations: usize,
    retention: Duration,
    health: Option<Arc<Health>>,
    state: Mutex<CellState>,
}

impl CellSeries {
    /// How many instances get their own series: as many as the cardinality limit holds.
    fn max_instances(&self) -> usize {
        (self.info.cardinality_limit / self.combinations).clamp(1, MAX_COMPONENT_INSTANCES)
    }

    /// Whether a retired entry has been reported and outlived the retention.
    fn expired(&self, entry: &Entry, now: Instant) -> bool {
        entry
            .retired
            .as_ref()
            .is_some_and(|r| r.reported && now.duration_since(r.at) >= self.retention)
    }

    fn acquire(
        self: &Arc<Self>,
        instance: Option<KeyValue>,
        attributes: impl Fn() -> Vec<Vec<KeyValue>>,
    ) -> (Cells, SeriesLease) {
        let mut state = lock(&self.state);
        let now = Instant::now();
        state.entries.retain(|e| !self.expired(e, now));
        if let Some(entry) = state.entries.iter_mut().find(|e| e.instance == instance) {
            entry.leases += 1;
            entry.retired = None;
            let lease = SeriesLease {
                series: Some(self.clone()),
                instance,
            };
            return (entry.store.cells(), lease);
        }
        if state.entries.len() < self.max_instances() {
            let store = Arc::new(CellStore::new(attributes()));
            let cells = store.cells();
            state.entries.push(Entry {
                instance: instance.clone(),
                store,
                leases: 1,
                retired: None,
            });
            let lease = SeriesLease {
                series: Some(self.clone()),
                instance,
            };
            return (cells, lease);
        }
        if let Some(health) = &self.health {
            health.overflowed(self.info.name, self.info.cardinality_limit);
        }
        let combinations = self.combinations;
        let overflow = state.overflow.get_or_insert_with(|| {
            Arc::new(CellStore::new(vec![overflow_attributes(); combinations]))
        });
        (overflow.cells(), SeriesLease::none())
    }

    fn release(&self, instance: &Option<KeyValue>) {
        let mut state = lock(&self.state);
        if let Some(entry) = state.entries.iter_mut().find(|e| &e.instance == instance) {
            entry.leases = entry.leases.saturating_sub(1);
            if entry.leases == 0 {
                entry.retired = Some(Retired {
                    at: Instant::now(),
                    reported: false,
                });
            }
        }
    }

    /// Reports every instance's cells (retired ones until they expire), then the overflow.
    fn report<T: CellValue>(&self, only_set: bool, instrument: &dyn AsyncInstrument<T>) {
        let mut state = lock(&self.state);
        let now = Instant::now();
        state.entries.retain(|e| !self.expired(e, now));
        for entry in &mut state.entries {
            if let Some(retired) = &mut entry.retired {
                retired.reported = true;
            }
            entry.store.report::<T>(only_set, |value, attributes| {
                instrument.observe(value, attributes)
            });
        }
        if let Some(overflow) = &state.overflow {
            if let Some(value) = overflow.total::<T>(only_set) {
                instrument.observe(value, &overflow_attributes());
            }
        }
    }
}

/// Keeps an instance's cells reported as live; retires them when the last copy drops.
pub struct SeriesLease {
    series: Option<Arc<CellSeries>>,
    instance: Option<KeyValue>,
}

impl SeriesLease {
    /// The lease of the overflow store, which lives as long as the client.
    fn none() -> Self {
        Self {
            series: None,
            instance: None,
        }
    }
}

impl Drop for SeriesLease {
    fn drop(&mut self) {
        if let Some(series) = &self.series {
            series.release(&self.instance);
        }
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

/// The callbacks of one observable metric, and the attribute sets that hold its series.
pub(crate) struct ObservedSeries<T> {
    info: &'static MetricInfo,
    sum: bool,
    health: Option<Arc<Health>>,
    callbacks: Mutex<Vec<(u64, ObservedCallback<T>)>>,
    next_id: AtomicU64,
    admitted: Mutex<HashSet<Vec<KeyValue>>>,
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
        for callback in callbacks {
            callback(&mut observations);
        }
        let limit = self.info.cardinality_limit;
        let mut admitted = lock(&self.admitted);
        // Sets not observed now give their series up first, so a newcomer takes a freed
        // series in this same collection.
        admitted.retain(|attributes| observations.index.contains_key(attributes));
        let mut overflow: Option<T> = None;
        for (attributes, value) in observations.values {
            if admitted.contains(&attributes) || admitted.len() < limit {
                instrument.observe(value, &attributes);
                admitted.insert(attributes);
            } else {
                overflow = Some(match overflow {
                    Some(sum) if self.sum => add(sum, value),
                    _ => value,
                });
                if let Some(health) = &self.health {
                    health.overflowed(self.info.name, limit);
                }
            }
        }
        if let Some(value) = overflow {
            instrument.observe(value, &overflow_attributes());
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
        lock(&self.series.callbacks).retain(|(id, _)| *id != self.id);
    }
}
