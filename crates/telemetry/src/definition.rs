//! Typed metric definitions: name, description, unit, kind, value type, buckets and
//! attributes declared once, checked at compile time.

use std::marker::PhantomData;

use crate::attributes::{AttributeInfo, AttributeSet};
use crate::name::{check_metric_name, check_unit, expect_ok, str_eq};

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

/// Kind markers used as the first type parameter of [`MetricDef`].
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
pub trait Kind: 'static {
    /// The instrument kind.
    const KIND: InstrumentKind;
    /// The value type.
    const VALUE_TYPE: ValueType;
}

macro_rules! impl_kind {
    ($($marker:ident<$t:ty> => $kind:ident, $vt:ident;)+) => {$(
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

/// Everything known about a metric, without its types: what the registry, the views and
/// the generated docs read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricInfo {
    /// Dotted OpenTelemetry name, e.g. `node.rpc.request.duration`.
    pub name: &'static str,
    /// One-line description (the doc comment of the definition).
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
}

/// How many instances of one component a process may run before their series overflow.
/// Each instance adds a `component.instance` attribute (see
/// [`TelemetryClient::component_instance`](crate::TelemetryClient::component_instance)).
pub const MAX_COMPONENT_INSTANCES: usize = 4;

/// A typed metric definition: `K` is a [`kind`] marker, `A` the [`AttributeSet`].
///
/// Normally declared with [`metrics!`](crate::metrics). Constructing one is a `const`
/// evaluation that fails the build on a malformed name, unit or bucket list:
///
/// ```compile_fail
/// use telemetry::{MetricDef, kind};
/// const BAD: MetricDef<kind::Counter<u64>, ()> =
///     MetricDef::new("node.rpc.latency.seconds", "s", "unit in the name");
/// let _ = BAD;
/// ```
#[derive(Debug)]
pub struct MetricDef<K, A> {
    /// The untyped description (also available through [`MetricDef::info`]).
    pub info: MetricInfo,
    _types: PhantomData<fn() -> (K, A)>,
}

impl<K: Kind, A: AttributeSet> MetricDef<K, A> {
    /// A definition with the unit's default buckets (for histograms).
    pub const fn new(name: &'static str, unit: &'static str, description: &'static str) -> Self {
        expect_ok(check_metric_name(name));
        expect_ok(check_unit(unit));
        if str_eq(unit, "1") && !K::KIND.is_gauge() {
            // Prometheus' OTLP translation adds `_ratio` to gauges only, the bridge to any
            // metric: restricting `1` to gauges keeps both paths' names equal.
            panic!("unit `1` is only allowed on gauges");
        }
        if description.is_empty() {
            panic!("a metric needs a description");
        }
        let buckets = match K::KIND {
            InstrumentKind::Histogram => Some(crate::buckets::for_unit(unit)),
            _ => None,
        };
        let mut combinations = A::COMBINATIONS;
        if A::CLOSED {
            combinations *= MAX_COMPONENT_INSTANCES;
        }
        Self {
            info: MetricInfo {
                name,
                description,
                unit,
                kind: K::KIND,
                value_type: K::VALUE_TYPE,
                buckets,
                attributes: A::ATTRIBUTES,
                cardinality_limit: combinations,
            },
            _types: PhantomData,
        }
    }

    /// Replaces the unit's default bucket boundaries (histograms only).
    pub const fn with_buckets(mut self, bounds: &'static [f64]) -> Self {
        if !matches!(K::KIND, InstrumentKind::Histogram) {
            panic!("only histograms have buckets");
        }
        expect_ok(crate::buckets::check(bounds));
        self.info.buckets = Some(bounds);
        self
    }

    /// Lowers the derived cardinality limit, for unbounded attributes that describe one
    /// entity together (a filesystem's device, type and mount point): their product
    /// overstates the series the metric can have.
    pub const fn with_cardinality_limit(mut self, limit: usize) -> Self {
        if limit == 0 || limit > self.info.cardinality_limit {
            panic!("a cardinality limit may only lower the one derived from the attributes");
        }
        self.info.cardinality_limit = limit;
        self
    }

    /// The untyped description of this metric.
    pub const fn info(&self) -> &MetricInfo {
        &self.info
    }
}

/// Declares typed metric definitions; the doc comment of each is its description.
///
/// Also defines `pub const ALL: &[&MetricInfo]` listing every definition of the
/// invocation, for the crate's [`registry`](crate::registry).
///
/// ```
/// telemetry::attribute_enum! {
///     /// Outcome of a block build.
///     pub enum Outcome: "block.outcome" { Built => "built", Failed => "failed" }
/// }
/// telemetry::metrics! {
///     /// Blocks built, by outcome.
///     pub BLOCKS: Counter<u64, (Outcome,)> = "node.example.blocks", "{block}";
///     /// Time to build one block.
///     pub BUILD_DURATION: Histogram<f64, ()> = "node.example.build.duration", "s",
///         buckets = &[0.01, 0.1, 1.0];
/// }
/// assert_eq!(BLOCKS.info().description, "Blocks built, by outcome.");
/// assert_eq!(ALL.len(), 2);
/// ```
///
/// An attribute that was not declared on the metric does not compile:
///
/// ```compile_fail
/// telemetry::attribute_enum! {
///     /// Outcome.
///     pub enum Outcome: "block.outcome" { Built => "built" }
/// }
/// telemetry::attribute_enum! {
///     /// Other.
///     pub enum Other: "other.thing" { A => "a" }
/// }
/// telemetry::metrics! {
///     /// Blocks built.
///     pub BLOCKS: Counter<u64, (Outcome,)> = "node.example.blocks", "{block}";
/// }
/// let client = telemetry::TelemetryClient::disabled();
/// let blocks = client.component("example").counter(&BLOCKS);
/// blocks.add(1, (Other::A,));
/// ```
#[macro_export]
macro_rules! metrics {
    ($(
        $(#[doc = $doc:literal])+
        $vis:vis $name:ident : $kind:ident < $t:ty, $attrs:ty > = $metric:literal, $unit:literal
            $(, buckets = $buckets:expr)? $(, limit = $limit:expr)? ;
    )+) => {
        $(
            $(#[doc = $doc])+
            $vis const $name: $crate::MetricDef<$crate::kind::$kind<$t>, $attrs> =
                $crate::MetricDef::new($metric, $unit, $crate::name::trim(concat!($($doc),+)))
                $(.with_buckets($buckets))? $(.with_cardinality_limit($limit))?;
        )+

        /// Every metric defined in this module.
        pub const ALL: &[&$crate::MetricInfo] = &[$(&$name.info),+];
    };
}
