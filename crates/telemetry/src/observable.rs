//! Observable instruments: values read by a callback at each collection.
//!
//! Every callback runs inside `catch_unwind`: a panicking callback loses its own
//! observations for that collection, is counted in `node.telemetry.callback.failures` and
//! logged (rate-limited), and every other metric keeps exporting. Without this, one panic
//! kills the SDK's reader thread for good (opentelemetry-rust #3640).

use std::any::Any;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use opentelemetry::metrics::{self as otel, AsyncInstrument};
use opentelemetry::KeyValue;

use crate::attributes::AttributeSet;
use crate::definition::{kind, Kind, MetricDef, MetricInfo};
use crate::health::Health;
use crate::instruments::MeasureValue;

/// A callback as the SDK takes it.
pub type SdkCallback<T> = Box<dyn Fn(&dyn AsyncInstrument<T>) + Send + Sync>;

/// An observable kind marker: which SDK builder it uses.
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
    instrument: &'a dyn AsyncInstrument<T>,
    prepared: &'a [Vec<KeyValue>],
    instance: Option<&'a KeyValue>,
    health: &'a Health,
    metric: &'static str,
    monotonic: bool,
    _attributes: PhantomData<fn(A)>,
}

impl<T: MeasureValue, A: AttributeSet> Observer<'_, T, A> {
    /// Reports `value` for `attributes` (invalid values are dropped and counted).
    pub fn observe(&mut self, value: T, attributes: A) {
        if let Some(reason) = value.invalid(self.monotonic) {
            self.health.drops().dropped(self.metric, reason);
            return;
        }
        if A::CLOSED {
            self.instrument
                .observe(value, &self.prepared[attributes.index()]);
        } else {
            let mut key_values = attributes.key_values();
            key_values.extend(self.instance.cloned());
            self.instrument.observe(value, &key_values);
        }
    }
}

/// Keeps an observable instrument registered; the callback runs while the client lives.
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

/// Registers a panic-safe callback for `info`.
pub(crate) fn register<K, A, F>(
    meter: &otel::Meter,
    def: &'static MetricDef<K, A>,
    instance: Option<KeyValue>,
    health: Arc<Health>,
    callback: F,
) -> Observation
where
    K: ObservableKind,
    A: AttributeSet,
    F: Fn(&mut Observer<'_, K::Value, A>) + Send + Sync + 'static,
{
    let info = &def.info;
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
    let wrapped = move |instrument: &dyn AsyncInstrument<K::Value>| {
        let mut observer = Observer::<K::Value, A> {
            instrument,
            prepared: &prepared,
            instance: instance.as_ref(),
            health: &health,
            metric: info.name,
            monotonic: K::KIND.is_monotonic(),
            _attributes: PhantomData,
        };
        let outcome = quiet_panics(|| catch_unwind(AssertUnwindSafe(|| callback(&mut observer))));
        if let Err(panic) = outcome {
            health.callback_panicked(info.name, panic_message(&panic));
        }
    };
    Observation {
        _handle: Some(K::register(meter, info, Box::new(wrapped))),
    }
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
