//! Observable instruments: values read by a callback at each collection.
//!
//! Every callback runs inside `catch_unwind`: a panicking callback loses its own
//! observations for that collection, is counted in `telemetry.callback.failures` and
//! logged (rate-limited), and every other metric keeps exporting. Without this, one panic
//! kills the SDK's reader thread for good (opentelemetry-rust #3640).

use std::any::Any;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use opentelemetry::metrics::{self as otel, AsyncInstrument};
use opentelemetry::KeyValue;

use crate::attributes::AttributeSet;
use crate::definition::{kind, Field, Kind, MetricInfo};
use crate::health::Health;
use crate::instruments::MeasureValue;
use crate::meter::ComponentMeter;
use crate::series::{Observations, SeriesRegistry};

/// A callback as the SDK takes it.
pub(crate) type SdkCallback<T> = Box<dyn Fn(&dyn AsyncInstrument<T>) + Send + Sync>;

/// An observable kind marker: which SDK builder it uses.
#[doc(hidden)]
pub trait ObservableKind: Kind {
    /// The value type observed.
    type Value: MeasureValue;
    /// Registers `callback` for `info` on `meter`; returns the SDK handle.
    fn register(
        meter: &otel::Meter,
        info: &MetricInfo,
        callback: SdkCallback<Self::Value>,
    ) -> Box<dyn Any + Send + Sync>;
}

macro_rules! impl_observable_kind {
    ($($marker:ident<$t:ty> => $ctor:ident;)+) => {$(
        impl ObservableKind for kind::$marker<$t> {
            type Value = $t;
            fn register(
                meter: &otel::Meter,
                info: &MetricInfo,
                callback: SdkCallback<$t>,
            ) -> Box<dyn Any + Send + Sync> {
                Box::new(
                    meter
                        .$ctor(info.name)
                        .with_description(info.description)
                        .with_unit(info.unit)
                        .with_callback(move |instrument| callback(instrument))
                        .build(),
                )
            }
        }
    )+};
}
impl_observable_kind! {
    ObservableCounter<u64> => u64_observable_counter;
    ObservableCounter<f64> => f64_observable_counter;
    ObservableUpDownCounter<i64> => i64_observable_up_down_counter;
    ObservableUpDownCounter<f64> => f64_observable_up_down_counter;
    ObservableGauge<u64> => u64_observable_gauge;
    ObservableGauge<i64> => i64_observable_gauge;
    ObservableGauge<f64> => f64_observable_gauge;
}

/// Handed to an observable callback: records this collection's values.
pub struct Observer<'a, T, A> {
    observations: &'a mut Observations<T>,
    prepared: &'a [Vec<KeyValue>],
    instance: Option<&'a KeyValue>,
    health: Option<&'a Health>,
    metric: &'static str,
    monotonic: bool,
    _attributes: PhantomData<fn(A)>,
}

impl<T: MeasureValue, A: AttributeSet> Observer<'_, T, A> {
    /// Reports `value` for `attributes` (invalid values are dropped and counted).
    pub fn observe(&mut self, value: T, attributes: A) {
        if let Some(reason) = value.invalid(self.monotonic) {
            if let Some(health) = self.health {
                health.drops().dropped(self.metric, reason);
            }
            return;
        }
        let key_values = if A::CLOSED {
            self.prepared[attributes.index()].clone()
        } else {
            let mut key_values = attributes.key_values();
            key_values.extend(self.instance.cloned());
            key_values
        };
        self.observations.record(value, key_values);
    }
}

/// A function an observable instrument calls at each collection (each OTLP export, each
/// scrape) to read its current values. Supplied at construction, in the generated
/// `<Struct>Callbacks`.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use telemetry::{Callback, Metrics, ObservableGauge, TelemetryClient};
///
/// /// The queue's instrumentation.
/// #[derive(Metrics)]
/// #[metrics(prefix = "mynode.queue")]
/// struct QueueMetrics {
///     /// Jobs waiting.
///     #[metric(unit = "{job}")]
///     depth: ObservableGauge<u64, ()>,
/// }
///
/// let depth = Arc::new(AtomicU64::new(0));
/// let read = depth.clone();
/// let _metrics = QueueMetrics::new(
///     &TelemetryClient::disabled(),
///     QueueMetricsCallbacks {
///         depth: Callback::new(move |o| o.observe(read.load(Ordering::Relaxed), ())),
///     },
/// );
/// ```
pub struct Callback<T, A> {
    function: Option<ObserveFn<T, A>>,
}

/// A callback's function, boxed.
pub(crate) type ObserveFn<T, A> = Box<dyn Fn(&mut Observer<'_, T, A>) + Send + Sync>;

impl<T, A> Callback<T, A> {
    /// Reads values with `function` at each collection.
    pub fn new(function: impl Fn(&mut Observer<'_, T, A>) + Send + Sync + 'static) -> Self {
        Self {
            function: Some(Box::new(function)),
        }
    }

    /// No callback: the instrument is not registered and exports nothing (for a value the
    /// platform or the configuration does not provide; better absent than a false 0).
    pub fn none() -> Self {
        Self { function: None }
    }
}

impl<T, A> std::fmt::Debug for Callback<T, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback")
            .field("registered", &self.function.is_some())
            .finish()
    }
}

/// An observable instrument: a field of a [`#[derive(Metrics)]`](derive@crate::Metrics)
/// struct whose values a [`Callback`] reads at each collection. Use the aliases
/// [`ObservableCounter`], [`ObservableUpDownCounter`] and [`ObservableGauge`]. The callback
/// runs while this value lives.
pub struct Observable<K, A> {
    _observation: Observation,
    _types: PhantomData<fn() -> (K, A)>,
}

impl<K, A> std::fmt::Debug for Observable<K, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self._observation.fmt(f)
    }
}

/// A monotonic sum read at collection (CPU seconds, bytes sent).
pub type ObservableCounter<T, A> = Observable<kind::ObservableCounter<T>, A>;
/// A sum that goes up and down, read at collection (memory in use).
pub type ObservableUpDownCounter<T, A> = Observable<kind::ObservableUpDownCounter<T>, A>;
/// A current value read at collection (queue depth, utilization).
pub type ObservableGauge<T, A> = Observable<kind::ObservableGauge<T>, A>;

impl<K: ObservableKind, A: AttributeSet> crate::__private::Sealed for Observable<K, A> {}

impl<K: ObservableKind, A: AttributeSet> Field for Observable<K, A> {
    type Kind = K;
    type Attributes = A;
    type Callback = Callback<K::Value, A>;
    const OBSERVABLE: bool = true;
    fn create(meter: &ComponentMeter, info: &'static MetricInfo, callback: Self::Callback) -> Self {
        let observation = match callback.function {
            Some(function) => meter.observe::<K, A>(info, function),
            None => Observation::disabled(),
        };
        Self {
            _observation: observation,
            _types: PhantomData,
        }
    }
}

/// Keeps an observable instrument's callback registered: it runs at each collection while
/// this value lives, and never after it is dropped.
#[doc(hidden)]
pub struct Observation {
    _handle: Option<Box<dyn Any + Send + Sync>>,
}

impl Observation {
    /// An observation on a disabled client: never called.
    pub(crate) fn disabled() -> Self {
        Self { _handle: None }
    }

    /// Keeps the SDK handle `handle` registered.
    pub(crate) fn new(handle: Box<dyn Any + Send + Sync>) -> Self {
        Self {
            _handle: Some(handle),
        }
    }
}

impl std::fmt::Debug for Observation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observation")
            .field("enabled", &self._handle.is_some())
            .finish()
    }
}

/// Registers a panic-safe callback for `info`, run at each collection while the returned
/// observation lives ([`series`](crate::series)).
pub(crate) fn register<K, A, F>(
    series: &SeriesRegistry,
    meter: &otel::Meter,
    info: &'static MetricInfo,
    instance: Option<KeyValue>,
    health: Option<Arc<Health>>,
    callback: F,
) -> Observation
where
    K: ObservableKind,
    A: AttributeSet,
    F: Fn(&mut Observer<'_, K::Value, A>) + Send + Sync + 'static,
{
    let prepared: Vec<Vec<KeyValue>> = if A::CLOSED {
        (0..A::COMBINATIONS)
            .map(|index| {
                let mut attributes = A::key_values_at(index);
                attributes.extend(instance.clone());
                attributes
            })
            .collect()
    } else {
        Vec::new()
    };
    let wrapped = move |observations: &mut Observations<K::Value>| {
        let mut observer = Observer::<K::Value, A> {
            observations,
            prepared: &prepared,
            instance: instance.as_ref(),
            health: health.as_deref(),
            metric: info.name,
            monotonic: K::KIND.is_monotonic(),
            _attributes: PhantomData,
        };
        let outcome = quiet_panics(|| catch_unwind(AssertUnwindSafe(|| callback(&mut observer))));
        if let (Err(panic), Some(health)) = (outcome, &health) {
            health.callback_panicked(info.name, panic_message(&panic));
        }
    };
    series.observe::<K>(meter, info, Arc::new(wrapped))
}

/// Whether this thread is running an observable callback: the SDK holds its pipeline's
/// lock then, so creating an instrument would deadlock.
pub(crate) fn in_callback() -> bool {
    IN_CALLBACK.with(std::cell::Cell::get)
}

thread_local! {
    static IN_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the panic hook's output silenced for this thread: a callback that panics
/// at every collection is counted and logged once a minute (by the caller), not printed by
/// the default hook at every collection. The hook is installed once, chains to the previous
/// one for every other panic, and changes nothing else.
fn quiet_panics<R>(f: impl FnOnce() -> R) -> R {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_CALLBACK.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    IN_CALLBACK.with(|flag| flag.set(true));
    let result = f();
    IN_CALLBACK.with(|flag| flag.set(false));
    result
}

/// The text of a panic payload, when it has one.
fn panic_message(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}
