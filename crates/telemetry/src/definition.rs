//! What a metric is, without its types: [`MetricInfo`], built at compile time by
//! [`#[derive(Metrics)]`](derive@crate::Metrics) from a struct's fields.

use crate::attributes::{AttributeInfo, AttributeSet};
use crate::meter::ComponentMeter;

/// The instrument kind of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentKind {
    /// Monotonic sum recorded by the caller.
    Counter,
    /// Non-monotonic sum recorded by the caller.
    UpDownCounter,
    /// Last value recorded by the caller.
    Gauge,
    /// Distribution of recorded values in explicit buckets.
    Histogram,
    /// Monotonic sum read by a callback at collection.
    ObservableCounter,
    /// Non-monotonic sum read by a callback at collection.
    ObservableUpDownCounter,
    /// Current value read by a callback at collection.
    ObservableGauge,
}

impl InstrumentKind {
    /// A human name for docs: `counter`, `observable gauge`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::UpDownCounter => "up-down counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::ObservableCounter => "observable counter",
            Self::ObservableUpDownCounter => "observable up-down counter",
            Self::ObservableGauge => "observable gauge",
        }
    }

    /// Whether the exported data is a monotonic sum (Prometheus `counter`, `_total` suffix).
    pub const fn is_monotonic(self) -> bool {
        matches!(self, Self::Counter | Self::ObservableCounter)
    }

    /// Whether the exported data is an OpenTelemetry gauge.
    pub const fn is_gauge(self) -> bool {
        matches!(self, Self::Gauge | Self::ObservableGauge)
    }
}

/// The numeric type of a metric's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Unsigned 64-bit integer.
    U64,
    /// Signed 64-bit integer.
    I64,
    /// 64-bit float.
    F64,
}

impl ValueType {
    /// `u64`, `i64` or `f64`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::U64 => "u64",
            Self::I64 => "i64",
            Self::F64 => "f64",
        }
    }
}

/// Kind markers: the first type parameter of [`Instrument`](crate::Instrument) and
/// [`Observable`](crate::Observable). Use the aliases ([`Counter`](crate::Counter), ...).
pub mod kind {
    use std::marker::PhantomData;

    macro_rules! markers {
        ($($(#[$m:meta])* $name:ident),+) => {$(
            $(#[$m])*
            #[derive(Debug)]
            pub struct $name<T>(PhantomData<T>);
        )+};
    }
    markers!(
        /// A counter of `T`.
        Counter,
        /// An up-down counter of `T`.
        UpDownCounter,
        /// A gauge of `T`.
        Gauge,
        /// A histogram of `T`.
        Histogram,
        /// An observable counter of `T`.
        ObservableCounter,
        /// An observable up-down counter of `T`.
        ObservableUpDownCounter,
        /// An observable gauge of `T`.
        ObservableGauge
    );
}

/// A kind marker with its value type; implemented for the supported combinations only.
pub trait Kind: crate::__private::Sealed + 'static {
    /// The instrument kind.
    const KIND: InstrumentKind;
    /// The value type.
    const VALUE_TYPE: ValueType;
}

macro_rules! impl_kind {
    ($($marker:ident<$t:ty> => $kind:ident, $vt:ident;)+) => {$(
        impl crate::__private::Sealed for kind::$marker<$t> {}
        impl Kind for kind::$marker<$t> {
            const KIND: InstrumentKind = InstrumentKind::$kind;
            const VALUE_TYPE: ValueType = ValueType::$vt;
        }
    )+};
}
impl_kind! {
    Counter<u64> => Counter, U64;
    Counter<f64> => Counter, F64;
    UpDownCounter<i64> => UpDownCounter, I64;
    UpDownCounter<f64> => UpDownCounter, F64;
    Gauge<u64> => Gauge, U64;
    Gauge<i64> => Gauge, I64;
    Gauge<f64> => Gauge, F64;
    Histogram<f64> => Histogram, F64;
    ObservableCounter<u64> => ObservableCounter, U64;
    ObservableCounter<f64> => ObservableCounter, F64;
    ObservableUpDownCounter<i64> => ObservableUpDownCounter, I64;
    ObservableUpDownCounter<f64> => ObservableUpDownCounter, F64;
    ObservableGauge<u64> => ObservableGauge, U64;
    ObservableGauge<i64> => ObservableGauge, I64;
    ObservableGauge<f64> => ObservableGauge, F64;
}

/// Everything known about one metric: what the catalog, the views, the generated docs
/// and the dashboards read.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct MetricInfo {
    /// Dotted OpenTelemetry name: the struct's prefix and the field's name.
    pub name: &'static str,
    /// One-line description (the field's doc comment).
    pub description: &'static str,
    /// UCUM unit: `s`, `By`, `1` or a `{annotation}`.
    pub unit: &'static str,
    /// Instrument kind.
    pub kind: InstrumentKind,
    /// Value type.
    pub value_type: ValueType,
    /// Bucket boundaries (histograms only).
    pub buckets: Option<&'static [f64]>,
    /// Declared attributes, in recording order.
    pub attributes: &'static [AttributeInfo],
    /// Series this metric may hold per reader before the overflow series takes the rest.
    pub cardinality_limit: usize,
    /// The prefix of the struct that declares it (its component, and its meter's name).
    pub component: &'static str,
    /// Where it is declared: `crate::module::Struct::field`.
    pub defined_at: &'static str,
}

impl MetricInfo {
    /// The metric family name Prometheus shows, the same on the bridge and through
    /// Prometheus' OTLP receiver (histograms add `_bucket`, `_sum` and `_count`).
    pub fn prometheus_name(&self) -> String {
        crate::prometheus_name::family_name(self)
    }

    /// How many series the closed attributes give (all combinations), or `None` when an
    /// attribute is unbounded.
    pub fn closed_series(&self) -> Option<usize> {
        self.attributes
            .iter()
            .map(AttributeInfo::closed_count)
            .product()
    }
}

/// How many instances of one component have series of their own on one client at once
/// (live or retired, the plain `new` counting as one) before further instances record into
/// the metric's overflow series. Each instance adds a `component.instance` attribute (see
/// the `new_instance` constructor that [`#[derive(Metrics)]`](derive@crate::Metrics)
/// generates); the lifecycle rules are in `docs/architecture.md`.
pub const MAX_COMPONENT_INSTANCES: usize = 4;

/// A component's metrics: one struct, one field per metric, implemented by
/// [`#[derive(Metrics)]`](derive@crate::Metrics) (never by hand).
///
/// ```
/// use telemetry::{Counter, Histogram, Metrics, TelemetryClient};
///
/// telemetry::attribute_enum! {
///     /// How a job ended.
///     pub enum Outcome: "job.outcome" { Done => "done", Failed => "failed" }
/// }
///
/// /// The worker's instrumentation.
/// #[derive(Metrics)]
/// #[metrics(prefix = "mynode.worker")]
/// pub struct WorkerMetrics {
///     /// Jobs finished, by outcome.
///     #[metric(unit = "{job}")]
///     pub jobs: Counter<u64, (Outcome,)>,
///     /// Time one job took.
///     #[metric(unit = "s", buckets = [0.01, 0.1, 1.0])]
///     pub duration: Histogram<f64, (Outcome,)>,
/// }
///
/// let worker = WorkerMetrics::new(&TelemetryClient::disabled());
/// worker.jobs.add(1, (Outcome::Done,));
/// assert_eq!(WorkerMetrics::DEFINITIONS[0].name, "mynode.worker.jobs");
/// assert_eq!(WorkerMetrics::DEFINITIONS[1].description, "Time one job took.");
/// ```
pub trait Metrics: Sized {
    /// The struct's namespace: every field is the metric `<PREFIX>.<field>`.
    const PREFIX: &'static str;
    /// One definition per field, in field order.
    const DEFINITIONS: &'static [MetricInfo];
    /// The callbacks of the observable fields (a generated `<Struct>Callbacks`), or `()`.
    type Callbacks;
    /// Creates every instrument on `meter`.
    #[doc(hidden)]
    fn register(meter: &ComponentMeter, callbacks: Self::Callbacks) -> Self;
}

/// What a field declares, before its type adds kind, value type and attributes.
#[doc(hidden)]
pub struct Declaration {
    pub name: &'static str,
    pub description: &'static str,
    pub unit: &'static str,
    pub buckets: Option<&'static [f64]>,
    pub limit: Option<usize>,
    pub component: &'static str,
    pub defined_at: &'static str,
}

/// A field type of a metrics struct: an [`Instrument`](crate::Instrument) or an
/// [`Observable`](crate::Observable).
#[doc(hidden)]
pub trait Field: crate::__private::Sealed + Sized + 'static {
    type Kind: Kind;
    type Attributes: AttributeSet;
    /// `()` for instruments the caller records into; the callback for observables.
    type Callback;
    const OBSERVABLE: bool;
    fn create(meter: &ComponentMeter, info: &'static MetricInfo, callback: Self::Callback) -> Self;
}

/// The cardinality limit the attributes give: every combination of closed attributes,
/// once per possible component instance; the declared limits of unbounded ones.
const fn derived_limit<A: AttributeSet>() -> usize {
    if A::CLOSED {
        A::COMBINATIONS * MAX_COMPONENT_INSTANCES
    } else {
        A::COMBINATIONS
    }
}

/// The full definition of field type `F` as declared.
#[doc(hidden)]
pub const fn definition<F: Field>(d: Declaration) -> MetricInfo {
    let buckets = match (F::Kind::KIND, d.buckets) {
        (InstrumentKind::Histogram, Some(buckets)) => Some(buckets),
        (InstrumentKind::Histogram, None) => Some(crate::buckets::for_unit(d.unit)),
        _ => None,
    };
    MetricInfo {
        name: d.name,
        description: d.description,
        unit: d.unit,
        kind: F::Kind::KIND,
        value_type: F::Kind::VALUE_TYPE,
        buckets,
        attributes: F::Attributes::ATTRIBUTES,
        cardinality_limit: match d.limit {
            Some(limit) => limit,
            None => derived_limit::<F::Attributes>(),
        },
        component: d.component,
        defined_at: d.defined_at,
    }
}

/// Fails the build when the field's kind disagrees with how the derive reads its type.
#[doc(hidden)]
pub const fn check_observable<F: Field>(observable: bool) {
    if F::OBSERVABLE != observable {
        panic!("declare observable instruments with the ObservableCounter, ObservableUpDownCounter or ObservableGauge types (not an alias), and others without the Observable prefix");
    }
}

/// Fails the build on unit `1` for anything but a gauge.
#[doc(hidden)]
pub const fn check_unit_for<F: Field>(unit: &str) {
    if crate::buckets::str_eq(unit, "1") && !F::Kind::KIND.is_gauge() {
        // Prometheus' OTLP translation adds `_ratio` to gauges only, the bridge to any
        // metric: restricting `1` to gauges keeps both paths' names equal.
        panic!("unit `1` is only allowed on gauges (Prometheus' OTLP translation and the bridge would name anything else differently)");
    }
}

/// Fails the build on buckets for anything but a histogram.
#[doc(hidden)]
pub const fn check_buckets_for<F: Field>() {
    if !matches!(F::Kind::KIND, InstrumentKind::Histogram) {
        panic!("only histograms have buckets");
    }
}

/// Fails the build on a cardinality limit above the one the attributes give, or, on a
/// recorded metric with closed attributes (every combination is a series from the start),
/// below their combinations.
#[doc(hidden)]
pub const fn check_limit_for<F: Field>(limit: usize) {
    if limit > derived_limit::<F::Attributes>() {
        panic!("a cardinality limit may only lower the one the attributes give");
    }
    if !F::OBSERVABLE && F::Attributes::CLOSED && limit < F::Attributes::COMBINATIONS {
        panic!("a recorded metric with closed attributes has every combination as a series from the start: its cardinality limit cannot be below their number");
    }
}
