//! Typed instruments: what a component records through.
//!
//! An [`Instrument`] is a field of a [`#[derive(Metrics)]`](derive@crate::Metrics) struct,
//! created with the struct. With a closed attribute set, recording is an
//! index computation and one atomic update: counters, up-down counters and gauges keep one
//! atomic cell per attribute combination, reported by an observable instrument at each
//! collection ([`cells`](crate::cells)); histograms keep one SDK bound handle per
//! combination. With an [`Unbounded`](crate::Unbounded) attribute, recording goes through
//! the SDK's attribute lookup, capped at the definition's cardinality limit. On a disabled
//! client an instrument holds nothing and a call is one branch. [`Instrument::bind`] resolves
//! one closed combination up front: a [`Bound`] handle's add is one atomic operation.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::metrics as otel;
use opentelemetry::KeyValue;

use crate::attributes::AttributeSet;
use crate::cells::{CellValue, Cells};
use crate::definition::{kind, Field, Kind, MetricInfo};
use crate::health::Drops;
use crate::meter::ComponentMeter;
use crate::observable::ObservableKind;
use crate::self_telemetry::DropReason;
use crate::series::{SeriesLease, SeriesLimit, SeriesRegistry};

/// Values typed instruments accept.
pub trait MeasureValue: CellValue + PartialOrd + crate::__private::Sealed {
    /// Zero, used to seed sums so every series exists before its first event.
    const ZERO: Self;
    /// `self - other` (wrapping for integers).
    fn minus(self, other: Self) -> Self;
    /// Why this value must be dropped, if it must (NaN, infinities, negative increments).
    fn invalid(self, monotonic: bool) -> Option<DropReason>;
}

impl crate::__private::Sealed for u64 {}
impl crate::__private::Sealed for i64 {}
impl crate::__private::Sealed for f64 {}

impl MeasureValue for u64 {
    const ZERO: Self = 0;
    fn minus(self, other: Self) -> Self {
        self.wrapping_sub(other)
    }
    #[inline(always)]
    fn invalid(self, _monotonic: bool) -> Option<DropReason> {
        None
    }
}

impl MeasureValue for i64 {
    const ZERO: Self = 0;
    fn minus(self, other: Self) -> Self {
        self.wrapping_sub(other)
    }
    #[inline(always)]
    fn invalid(self, _monotonic: bool) -> Option<DropReason> {
        None
    }
}

impl MeasureValue for f64 {
    const ZERO: Self = 0.0;
    fn minus(self, other: Self) -> Self {
        self - other
    }
    #[inline(always)]
    fn invalid(self, monotonic: bool) -> Option<DropReason> {
        if self.is_nan() {
            Some(DropReason::Nan)
        } else if self.is_infinite() {
            Some(DropReason::Infinite)
        } else if monotonic && self < 0.0 {
            Some(DropReason::Negative)
        } else {
            None
        }
    }
}

/// An SDK synchronous instrument and its bound form.
#[doc(hidden)]
pub trait OtelSync<T>: Send + Sync + 'static {
    /// The bound handle for one attribute set.
    type Bound: Send + Sync + 'static;
    /// Binds one attribute set.
    fn bind(&self, attributes: &[KeyValue]) -> Self::Bound;
    /// Records with attributes looked up per call.
    fn measure(&self, value: T, attributes: &[KeyValue]);
    /// Records on a bound handle.
    fn measure_bound(bound: &Self::Bound, value: T);
}

macro_rules! impl_otel_sync {
    ($($inst:ident / $bound:ident . $method:ident),+) => {$(
        impl<T: Send + Sync + 'static> OtelSync<T> for otel::$inst<T> {
            type Bound = otel::$bound<T>;
            fn bind(&self, attributes: &[KeyValue]) -> Self::Bound {
                otel::$inst::bind(self, attributes)
            }
            #[inline(always)]
            fn measure(&self, value: T, attributes: &[KeyValue]) {
                self.$method(value, attributes)
            }
            #[inline(always)]
            fn measure_bound(bound: &Self::Bound, value: T) {
                bound.$method(value)
            }
        }
    )+};
}
impl_otel_sync!(
    Counter / BoundCounter.add,
    UpDownCounter / BoundUpDownCounter.add,
    Gauge / BoundGauge.record,
    Histogram / BoundHistogram.record
);

/// A synchronous kind marker: which SDK instrument it builds and which values it takes.
#[doc(hidden)]
pub trait SyncKind: Kind {
    /// The value type recorded.
    type Value: MeasureValue;
    /// The SDK instrument behind it.
    type Otel: OtelSync<Self::Value>;
    /// Builds the SDK instrument for `info`.
    fn build(meter: &otel::Meter, info: &MetricInfo) -> Self::Otel;
    /// The cells of `instance`, shared with the instance's other live copies and reported
    /// by one observable instrument, for kinds that record into cells (counters, up-down
    /// counters, gauges); `None` for histograms.
    fn cells(
        series: &SeriesRegistry,
        meter: &otel::Meter,
        info: &'static MetricInfo,
        instance: Option<KeyValue>,
        attributes: &dyn Fn() -> Vec<Vec<KeyValue>>,
    ) -> Option<(Cells, SeriesLease)>;
}

macro_rules! impl_sync_kind {
    ($($marker:ident<$t:ty> => $otel:ident, $ctor:ident, $cells:ty $(, $boundaries:ident)?;)+) => {$(
        impl SyncKind for kind::$marker<$t> {
            type Value = $t;
            type Otel = otel::$otel<$t>;
            fn build(meter: &otel::Meter, info: &MetricInfo) -> Self::Otel {
                let builder = meter
                    .$ctor(info.name)
                    .with_description(info.description)
                    .with_unit(info.unit);
                $(let builder = builder.$boundaries(info.buckets.unwrap_or_default().to_vec());)?
                builder.build()
            }
            fn cells(
                series: &SeriesRegistry,
                meter: &otel::Meter,
                info: &'static MetricInfo,
                instance: Option<KeyValue>,
                attributes: &dyn Fn() -> Vec<Vec<KeyValue>>,
            ) -> Option<(Cells, SeriesLease)> {
                <$cells as CellReporter>::cells(series, meter, info, instance, attributes)
            }
        }
    )+};
}
/// Which observable kind reports a sync kind's cells (none for histograms).
trait CellReporter {
    fn cells(
        series: &SeriesRegistry,
        meter: &otel::Meter,
        info: &'static MetricInfo,
        instance: Option<KeyValue>,
        attributes: &dyn Fn() -> Vec<Vec<KeyValue>>,
    ) -> Option<(Cells, SeriesLease)>;
}

impl<O: ObservableKind> CellReporter for O
where
    O::Value: CellValue,
{
    fn cells(
        series: &SeriesRegistry,
        meter: &otel::Meter,
        info: &'static MetricInfo,
        instance: Option<KeyValue>,
        attributes: &dyn Fn() -> Vec<Vec<KeyValue>>,
    ) -> Option<(Cells, SeriesLease)> {
        Some(series.cells::<O>(meter, info, instance, attributes))
    }
}

/// Histograms record into SDK bound handles, not cells.
struct NoCells;

impl CellReporter for NoCells {
    fn cells(
        _: &SeriesRegistry,
        _: &otel::Meter,
        _: &'static MetricInfo,
        _: Option<KeyValue>,
        _: &dyn Fn() -> Vec<Vec<KeyValue>>,
    ) -> Option<(Cells, SeriesLease)> {
        None
    }
}

impl_sync_kind! {
    Counter<u64> => Counter, u64_counter, kind::ObservableCounter<u64>;
    Counter<f64> => Counter, f64_counter, kind::ObservableCounter<f64>;
    UpDownCounter<i64> => UpDownCounter, i64_up_down_counter, kind::ObservableUpDownCounter<i64>;
    UpDownCounter<f64> => UpDownCounter, f64_up_down_counter, kind::ObservableUpDownCounter<f64>;
    Gauge<u64> => Gauge, u64_gauge, kind::ObservableGauge<u64>;
    Gauge<i64> => Gauge, i64_gauge, kind::ObservableGauge<i64>;
    Gauge<f64> => Gauge, f64_gauge, kind::ObservableGauge<f64>;
    Histogram<f64> => Histogram, f64_histogram, NoCells, with_boundaries;
}

/// The SDK's bound handle type for kind `K`.
type BoundOf<K> = <<K as SyncKind>::Otel as OtelSync<<K as SyncKind>::Value>>::Bound;

/// How a live instrument records.
enum Path<K: SyncKind> {
    /// Closed attributes on a counter, up-down counter or gauge: one atomic cell per
    /// combination (held by the [`Instrument`] itself, so a measurement reaches its atomic
    /// through one pointer), shared by the instance's live copies and reported by one
    /// observable instrument ([`series`](crate::series)).
    Cells {
        /// Keeps the cells reported as live; retires them when the last copy drops.
        _lease: SeriesLease,
    },
    /// Closed attributes on a histogram: one SDK bound handle per combination, in
    /// mixed-radix order, bound up front (an empty histogram series is honest).
    Bound(Box<[BoundOf<K>]>),
    /// An unbounded attribute: the SDK instrument and its attribute lookup, with the
    /// attribute sets seen so far (to notice the cardinality limit).
    Unbound(K::Otel, Arc<SeriesLimit>),
}

/// What a live (enabled) instrument holds.
struct Live<K: SyncKind> {
    path: Path<K>,
    /// The component-instance attribute, appended to every series when set.
    instance: Option<KeyValue>,
    /// The metric's name, for logs.
    metric: &'static str,
    /// Where invalid measurements are counted and logged (absent for integer values).
    drops: Option<Arc<Drops>>,
}

/// A typed synchronous instrument; `K` is its [`kind`] marker and `A` its attribute set.
///
/// Use the aliases [`Counter`], [`UpDownCounter`], [`Gauge`] and [`Histogram`]. Cloning is
/// cheap (at most two `Arc`s).
pub struct Instrument<K: SyncKind, A> {
    /// The atomic cells, when recording goes to them (see [`Path::Cells`]).
    cells: Option<Cells>,
    live: Option<Arc<Live<K>>>,
    _attributes: PhantomData<fn(A)>,
}

impl<K: SyncKind, A> Clone for Instrument<K, A> {
    fn clone(&self) -> Self {
        Self {
            cells: self.cells.clone(),
            live: self.live.clone(),
            _attributes: PhantomData,
        }
    }
}

impl<K: SyncKind, A> std::fmt::Debug for Instrument<K, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrument")
            .field("enabled", &self.live.is_some())
            .finish()
    }
}

/// A monotonic counter.
pub type Counter<T, A> = Instrument<kind::Counter<T>, A>;
/// A counter that goes up and down (in-flight requests, queue length kept by the caller).
pub type UpDownCounter<T, A> = Instrument<kind::UpDownCounter<T>, A>;
/// The last recorded value.
pub type Gauge<T, A> = Instrument<kind::Gauge<T>, A>;
/// A distribution in the definition's buckets.
pub type Histogram<T, A> = Instrument<kind::Histogram<T>, A>;

impl<K: SyncKind, A: AttributeSet> Instrument<K, A> {
    /// An instrument that records nothing.
    pub fn disabled() -> Self {
        Self {
            cells: None,
            live: None,
            _attributes: PhantomData,
        }
    }

    /// Creates the instrument: cells and their observable reporter, bound handles, or the
    /// SDK instrument for unbounded attributes.
    pub(crate) fn new(
        series: &SeriesRegistry,
        meter: &otel::Meter,
        info: &'static MetricInfo,
        instance: Option<KeyValue>,
        drops: Option<Arc<Drops>>,
        health: Option<Arc<crate::health::Health>>,
        forgets: bool,
    ) -> Self {
        let combinations = || {
            (0..A::COMBINATIONS).map(|index| {
                let mut attributes = A::key_values_at(index);
                attributes.extend(instance.clone());
                attributes
            })
        };
        let mut cells = None;
        let path = if !A::CLOSED {
            Path::Unbound(K::build(meter, info), series.limit(info, health, forgets))
        } else {
            let attributes = || combinations().collect();
            match K::cells(series, meter, info, instance.clone(), &attributes) {
                Some((shared, lease)) => {
                    cells = Some(shared);
                    Path::Cells { _lease: lease }
                }
                None => {
                    series.bind_histogram(info, &instance);
                    let histogram = K::build(meter, info);
                    Path::Bound(
                        combinations()
                            .map(|attributes| histogram.bind(&attributes))
                            .collect(),
                    )
                }
            }
        };
        Self {
            cells,
            live: Some(Arc::new(Live {
                path,
                metric: info.name,
                instance,
                drops,
            })),
            _attributes: PhantomData,
        }
    }

    /// Whether this instrument records (false on a disabled client or an excluded metric).
    pub fn is_enabled(&self) -> bool {
        self.live.is_some()
    }

    /// Records one measurement. The common paths (disabled, cells, bound handles) are inlined
    /// into the caller; invalid values and unbounded attributes take out-of-line calls, so
    /// the inlined part stays small enough for the compiler to keep it inline.
    #[inline(always)]
    fn measure(&self, value: K::Value, attributes: A) {
        let Some(live) = &self.live else { return };
        if let Some(reason) = value.invalid(K::KIND.is_monotonic()) {
            return live.drop_invalid(reason);
        }
        if let Some(cells) = &self.cells {
            return if K::KIND.is_gauge() {
                cells.set(attributes.index(), value)
            } else {
                cells.add(attributes.index(), value)
            };
        }
        match &live.path {
            Path::Bound(handles) => K::Otel::measure_bound(&handles[attributes.index()], value),
            Path::Unbound(instrument, limit) => {
                live.measure_unbound(instrument, limit, value, attributes)
            }
            Path::Cells { .. } => {} // recorded through `self.cells` above
        }
    }
}

impl<K: SyncKind, A: AttributeSet> crate::__private::Sealed for Instrument<K, A> {}

impl<K: SyncKind, A: AttributeSet> Field for Instrument<K, A> {
    type Kind = K;
    type Attributes = A;
    type Callback = ();
    const OBSERVABLE: bool = false;
    fn create(meter: &ComponentMeter, info: &'static MetricInfo, _: ()) -> Self {
        meter.instrument(info)
    }
}

impl<K: SyncKind, A: AttributeSet> Instrument<K, A> {
    /// Resolves `attributes` once: the returned handle records without computing their
    /// position again. For a counter, up-down counter or gauge, its add is one atomic
    /// operation on a known address (the cost of a pre-bound `prometheus` counter).
    ///
    /// An unbounded attribute set has no pre-resolved series: its handle records through
    /// the SDK's lookup, as [`Instrument`] does.
    pub fn bind(&self, attributes: A) -> Bound<K> {
        let Some(live) = &self.live else {
            return Bound {
                path: BoundPath::Off,
            };
        };
        let index = attributes.index();
        let path = match (&self.cells, &live.path) {
            (Some(cells), _) => BoundPath::Cell {
                cells: cells.clone(),
                index,
                live: live.clone(),
            },
            (None, Path::Bound(_)) => BoundPath::Handle {
                live: live.clone(),
                index,
            },
            (None, _) => {
                let mut key_values = attributes.key_values();
                key_values.extend(live.instance.clone());
                BoundPath::Lookup {
                    live: live.clone(),
                    key_values,
                }
            }
        };
        Bound { path }
    }
}

/// One attribute combination of an [`Instrument`], resolved by [`Instrument::bind`].
/// Cheap to clone.
pub struct Bound<K: SyncKind> {
    path: BoundPath<K>,
}

enum BoundPath<K: SyncKind> {
    /// A disabled client or an excluded metric.
    Off,
    /// The combination's atomic cell.
    Cell {
        cells: Cells,
        index: usize,
        live: Arc<Live<K>>,
    },
    /// The combination's SDK bound handle (histograms).
    Handle { live: Arc<Live<K>>, index: usize },
    /// Unbounded attributes: the SDK's lookup with these attributes.
    Lookup {
        live: Arc<Live<K>>,
        key_values: Vec<KeyValue>,
    },
}

impl<K: SyncKind> Clone for Bound<K> {
    fn clone(&self) -> Self {
        let path = match &self.path {
            BoundPath::Off => BoundPath::Off,
            BoundPath::Cell { cells, index, live } => BoundPath::Cell {
                cells: cells.clone(),
                index: *index,
                live: live.clone(),
            },
            BoundPath::Handle { live, index } => BoundPath::Handle {
                live: live.clone(),
                index: *index,
            },
            BoundPath::Lookup { live, key_values } => BoundPath::Lookup {
                live: live.clone(),
                key_values: key_values.clone(),
            },
        };
        Self { path }
    }
}

impl<K: SyncKind> std::fmt::Debug for Bound<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("enabled", &!matches!(self.path, BoundPath::Off))
            .finish()
    }
}

impl<K: SyncKind> Bound<K> {
    /// Records one measurement on the resolved combination.
    #[inline(always)]
    fn measure(&self, value: K::Value) {
        match &self.path {
            BoundPath::Off => {}
            BoundPath::Cell { cells, index, live } => {
                if let Some(reason) = value.invalid(K::KIND.is_monotonic()) {
                    return live.drop_invalid(reason);
                }
                if K::KIND.is_gauge() {
                    cells.set(*index, value)
                } else {
                    cells.add(*index, value)
                }
            }
            BoundPath::Handle { live, index } => live.measure_handle(*index, value),
            BoundPath::Lookup { live, key_values } => live.measure_lookup(key_values, value),
        }
    }

    /// Whether this handle records (false on a disabled client or an excluded metric).
    pub fn is_enabled(&self) -> bool {
        !matches!(self.path, BoundPath::Off)
    }
}

/// A bound counter.
pub type BoundCounter<T> = Bound<kind::Counter<T>>;
/// A bound up-down counter.
pub type BoundUpDownCounter<T> = Bound<kind::UpDownCounter<T>>;
/// A bound gauge.
pub type BoundGauge<T> = Bound<kind::Gauge<T>>;
/// A bound histogram.
pub type BoundHistogram<T> = Bound<kind::Histogram<T>>;

impl<T> Bound<kind::Counter<T>>
where
    kind::Counter<T>: SyncKind<Value = T>,
{
    /// Adds `value` (negative, NaN and infinite increments are dropped and counted).
    #[inline]
    pub fn add(&self, value: T) {
        self.measure(value)
    }
}

impl<T> Bound<kind::UpDownCounter<T>>
where
    kind::UpDownCounter<T>: SyncKind<Value = T>,
{
    /// Adds `value`, which may be negative.
    #[inline]
    pub fn add(&self, value: T) {
        self.measure(value)
    }
}

impl<T> Bound<kind::Gauge<T>>
where
    kind::Gauge<T>: SyncKind<Value = T>,
{
    /// Sets the current value.
    #[inline]
    pub fn record(&self, value: T) {
        self.measure(value)
    }
}

impl Bound<kind::Histogram<f64>> {
    /// Records one observation.
    #[inline]
    pub fn record(&self, value: f64) {
        self.measure(value)
    }

    /// Records the seconds elapsed since `start`.
    #[inline]
    pub fn record_since(&self, start: Instant) {
        if self.is_enabled() {
            self.measure(start.elapsed().as_secs_f64())
        }
    }
}

impl<K: SyncKind> Live<K> {
    /// Records on the SDK bound handle at `index` (a bound histogram), dropping invalid values.
    #[inline]
    fn measure_handle(&self, index: usize, value: K::Value) {
        if let Some(reason) = value.invalid(K::KIND.is_monotonic()) {
            return self.drop_invalid(reason);
        }
        if let Path::Bound(handles) = &self.path {
            K::Otel::measure_bound(&handles[index], value)
        }
    }

    /// Records through the SDK's lookup with prepared attributes (a bound unbounded set).
    #[inline(never)]
    fn measure_lookup(&self, key_values: &[KeyValue], value: K::Value) {
        if let Some(reason) = value.invalid(K::KIND.is_monotonic()) {
            return self.drop_invalid(reason);
        }
        if let Path::Unbound(instrument, limit) = &self.path {
            limit.check(key_values);
            instrument.measure(value, key_values);
        }
    }

    /// Counts a measurement dropped as invalid.
    #[cold]
    #[inline(never)]
    fn drop_invalid(&self, reason: DropReason) {
        if let Some(drops) = &self.drops {
            drops.dropped(self.metric, reason);
        }
    }

    /// Records through the SDK's attribute lookup, noting the attribute set against the limit.
    #[inline(never)]
    fn measure_unbound<A: AttributeSet>(
        &self,
        instrument: &K::Otel,
        limit: &SeriesLimit,
        value: K::Value,
        attributes: A,
    ) {
        let mut key_values = attributes.key_values();
        key_values.extend(self.instance.clone());
        limit.check(&key_values);
        instrument.measure(value, &key_values);
    }
}

impl<T, A: AttributeSet> Instrument<kind::Counter<T>, A>
where
    kind::Counter<T>: SyncKind<Value = T>,
{
    /// Adds `value` (negative, NaN and infinite increments are dropped and counted).
    #[inline]
    pub fn add(&self, value: T, attributes: A) {
        self.measure(value, attributes)
    }
}

impl<T, A: AttributeSet> Instrument<kind::UpDownCounter<T>, A>
where
    kind::UpDownCounter<T>: SyncKind<Value = T>,
{
    /// Adds `value`, which may be negative.
    #[inline]
    pub fn add(&self, value: T, attributes: A) {
        self.measure(value, attributes)
    }
}

impl<T, A: AttributeSet> Instrument<kind::Gauge<T>, A>
where
    kind::Gauge<T>: SyncKind<Value = T>,
{
    /// Sets the current value.
    #[inline]
    pub fn record(&self, value: T, attributes: A) {
        self.measure(value, attributes)
    }
}

impl<A: AttributeSet> Instrument<kind::Histogram<f64>, A> {
    /// Records one observation.
    #[inline]
    pub fn record(&self, value: f64, attributes: A) {
        self.measure(value, attributes)
    }

    /// Records the seconds elapsed since `start`.
    #[inline]
    pub fn record_since(&self, start: Instant, attributes: A) {
        if self.live.is_some() {
            self.measure(start.elapsed().as_secs_f64(), attributes)
        }
    }

    /// Starts a timer that records the elapsed seconds with `attributes` when dropped.
    ///
    /// ```
    /// /// Work's instrumentation.
    /// #[derive(telemetry::Metrics)]
    /// #[metrics(prefix = "mynode.work")]
    /// struct WorkMetrics {
    ///     /// Time one piece of work took.
    ///     #[metric(unit = "s")]
    ///     duration: telemetry::Histogram<f64, ()>,
    /// }
    /// let work = WorkMetrics::new(&telemetry::TelemetryClient::disabled());
    /// {
    ///     let _timer = work.duration.start_timer(());
    ///     // ... the work being timed ...
    /// } // recorded here
    /// ```
    pub fn start_timer(&self, attributes: A) -> Timer<'_, A> {
        Timer {
            histogram: self,
            started: self.live.as_ref().map(|_| Instant::now()),
            attributes: Some(attributes),
        }
    }
}

/// Records elapsed seconds into a histogram when dropped (or at [`Timer::stop`]).
#[must_use = "a timer records when dropped; binding it to `_` drops it at once"]
pub struct Timer<'a, A: AttributeSet> {
    histogram: &'a Histogram<f64, A>,
    started: Option<Instant>,
    attributes: Option<A>,
}

impl<A: AttributeSet> Timer<'_, A> {
    /// Records now and returns the elapsed seconds (0 on a disabled instrument).
    pub fn stop(mut self) -> f64 {
        self.record()
    }

    /// Drops the timer without recording.
    pub fn discard(mut self) {
        self.attributes = None;
    }

    fn record(&mut self) -> f64 {
        match (self.started, self.attributes.take()) {
            (Some(started), Some(attributes)) => {
                let seconds = started.elapsed().as_secs_f64();
                self.histogram.measure(seconds, attributes);
                seconds
            }
            _ => 0.0,
        }
    }
}

impl<A: AttributeSet> Drop for Timer<'_, A> {
    fn drop(&mut self) {
        self.record();
    }
}
