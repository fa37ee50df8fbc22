//! Typed instruments: what a component records through.
//!
//! An [`Instrument`] is created from a [`MetricDef`] by a
//! [`ComponentMeter`](crate::ComponentMeter). For a closed attribute set it holds one
//! pre-bound SDK handle per attribute combination, so recording is an index computation and
//! an atomic update; for a set with an [`Unbounded`](crate::Unbounded) attribute it goes
//! through the SDK's attribute lookup, capped at the definition's cardinality limit. On a
//! disabled client an instrument holds nothing and a call is one branch.

use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use opentelemetry::metrics as otel;
use opentelemetry::KeyValue;

use crate::attributes::AttributeSet;
use crate::catalog::telemetry::DropReason;
use crate::definition::{kind, InstrumentKind, Kind, MetricInfo};

/// Values typed instruments accept.
pub trait MeasureValue: Copy + Send + Sync + 'static {
    /// Zero, used to seed sums so every series exists before its first event.
    const ZERO: Self;
    /// Why this value must be dropped, if it must (NaN, infinities, negative increments).
    fn invalid(self, monotonic: bool) -> Option<DropReason>;
}

impl MeasureValue for u64 {
    const ZERO: Self = 0;
    #[inline(always)]
    fn invalid(self, _monotonic: bool) -> Option<DropReason> {
        None
    }
}

impl MeasureValue for i64 {
    const ZERO: Self = 0;
    #[inline(always)]
    fn invalid(self, _monotonic: bool) -> Option<DropReason> {
        None
    }
}

impl MeasureValue for f64 {
    const ZERO: Self = 0.0;
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
pub trait SyncKind: Kind {
    /// The value type recorded.
    type Value: MeasureValue;
    /// The SDK instrument behind it.
    type Otel: OtelSync<Self::Value>;
    /// Builds the SDK instrument for `info`.
    fn build(meter: &otel::Meter, info: &MetricInfo) -> Self::Otel;
}

macro_rules! impl_sync_kind {
    ($($marker:ident<$t:ty> => $otel:ident, $ctor:ident $(, $boundaries:ident)?;)+) => {$(
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
        }
    )+};
}
impl_sync_kind! {
    Counter<u64> => Counter, u64_counter;
    Counter<f64> => Counter, f64_counter;
    UpDownCounter<i64> => UpDownCounter, i64_up_down_counter;
    UpDownCounter<f64> => UpDownCounter, f64_up_down_counter;
    Gauge<u64> => Gauge, u64_gauge;
    Gauge<i64> => Gauge, i64_gauge;
    Gauge<f64> => Gauge, f64_gauge;
    Histogram<f64> => Histogram, f64_histogram, with_boundaries;
}

/// Counts measurements dropped as invalid, by reason.
pub(crate) type DropCounter = Instrument<kind::Counter<u64>, (DropReason,)>;

/// The SDK's bound handle type for kind `K`.
type BoundOf<K> = <<K as SyncKind>::Otel as OtelSync<<K as SyncKind>::Value>>::Bound;

/// What a live (enabled) instrument holds.
struct Live<K: SyncKind> {
    /// One handle per attribute combination (closed sets), in mixed-radix order. Sums and
    /// histograms are bound up front (their zero is honest); a gauge binds a combination at
    /// its first recording, so it never reports a value nobody set.
    bound: Box<[OnceLock<BoundOf<K>>]>,
    /// The SDK instrument, for sets with an unbounded attribute.
    unbound: K::Otel,
    /// The component-instance attribute, appended to every series when set.
    instance: Option<KeyValue>,
    /// Where invalid measurements are counted (absent for the drop counter itself).
    drops: Option<DropCounter>,
}

impl<K: SyncKind> Live<K> {
    /// The bound handle of combination `index`, binding it on first use.
    #[inline(always)]
    fn bound_at<A: AttributeSet>(&self, index: usize) -> &BoundOf<K> {
        self.bound[index].get_or_init(|| {
            let mut attributes = A::key_values_at(index);
            attributes.extend(self.instance.clone());
            self.unbound.bind(&attributes)
        })
    }
}

/// A typed synchronous instrument; `K` is its [`kind`] marker and `A` its attribute set.
///
/// Use the aliases [`Counter`], [`UpDownCounter`], [`Gauge`] and [`Histogram`]. Cloning is
/// cheap (one `Arc`).
pub struct Instrument<K: SyncKind, A> {
    live: Option<Arc<Live<K>>>,
    _attributes: PhantomData<fn(A)>,
}

impl<K: SyncKind, A> Clone for Instrument<K, A> {
    fn clone(&self) -> Self {
        Self {
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
            live: None,
            _attributes: PhantomData,
        }
    }

    /// Builds the SDK instrument and, for a closed attribute set, binds every combination.
    pub(crate) fn new(
        meter: &otel::Meter,
        info: &MetricInfo,
        instance: Option<KeyValue>,
        drops: Option<DropCounter>,
    ) -> Self {
        let unbound = K::build(meter, info);
        let slots = if A::CLOSED { A::COMBINATIONS } else { 0 };
        let live = Live {
            bound: (0..slots).map(|_| OnceLock::new()).collect(),
            unbound,
            instance,
            drops,
        };
        if !K::KIND.is_gauge() {
            for index in 0..slots {
                let handle = live.bound_at::<A>(index);
                if K::KIND != InstrumentKind::Histogram {
                    // Seed sums so `rate()` and alerts see every series from the start
                    // (aztec-packages #18964); a histogram's empty series is already there.
                    K::Otel::measure_bound(handle, K::Value::ZERO);
                }
            }
        }
        Self {
            live: Some(Arc::new(live)),
            _attributes: PhantomData,
        }
    }

    /// Whether this instrument records (false on a disabled client or an excluded metric).
    pub fn is_enabled(&self) -> bool {
        self.live.is_some()
    }

    #[inline]
    fn measure(&self, value: K::Value, attributes: A) {
        let Some(live) = &self.live else { return };
        if let Some(reason) = value.invalid(K::KIND.is_monotonic()) {
            if let Some(drops) = &live.drops {
                drops.add(1, (reason,));
            }
            return;
        }
        if A::CLOSED {
            K::Otel::measure_bound(live.bound_at::<A>(attributes.index()), value);
        } else {
            let mut key_values = attributes.key_values();
            key_values.extend(live.instance.clone());
            live.unbound.measure(value, &key_values);
        }
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
    /// # telemetry::metrics! { /// Work time.
    /// #   pub WORK: Histogram<f64, ()> = "node.example.work.duration", "s"; }
    /// let client = telemetry::TelemetryClient::disabled();
    /// let work = client.component("example").histogram(&WORK);
    /// {
    ///     let _timer = work.start_timer(());
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
