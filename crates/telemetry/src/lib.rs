//! The telemetry SDK of a Rust node, on OpenTelemetry.
//!
//! - **One struct per component, one field per metric**: [`#[derive(Metrics)]`](derive@Metrics)
//!   with the node's own namespace (`#[metrics(prefix = "mynode.sync")]`); the doc comment
//!   is the description; names, units, buckets and attribute keys are checked at compile
//!   time, with the error on the offending field or literal.
//! - **Typed attributes**: closed sets are enums ([`attribute_enum!`]), pre-bound and seeded
//!   at zero; unbounded values ([`Unbounded`]) are declared with their cardinality limit;
//!   high-cardinality identifiers do not compile.
//! - **An open [`catalog()`]**: every definition linked into the binary registers itself;
//!   [`Catalog::check`] refuses conflicts, [`Catalog::markdown`] and [`Catalog::json`] feed
//!   the docs and the dashboards.
//! - **[`TelemetryClient`]**: built from code or the environment; OTLP push over gRPC or
//!   HTTP, a Prometheus pull bridge, both at once, or the no-op client (one branch a call).
//! - **Self-telemetry** under the OpenTelemetry semantic-convention names (`otel.sdk.*`) and
//!   the SDK's own `telemetry.*` prefix: exports, scrapes, callback panics, dropped
//!   measurements, cardinality overflows.
//! - **A test kit** (`testing`, behind the `testing` feature) reading metrics in memory.
//!
//! ```
//! use telemetry::{Counter, Gauge, Histogram, Metrics, TelemetryClient};
//!
//! telemetry::attribute_enum! {
//!     /// Where a block came from.
//!     pub enum SyncSource: "sync.source" {
//!         /// Gossiped by a peer.
//!         Peer => "peer",
//!         /// Loaded from a checkpoint.
//!         Checkpoint => "checkpoint",
//!     }
//! }
//!
//! /// Block sync's instrumentation: one field, one metric, named `<prefix>.<field>`.
//! #[derive(Metrics)]
//! #[metrics(prefix = "mynode.sync")]
//! pub struct SyncMetrics {
//!     /// Blocks received by sync, by source.
//!     #[metric(unit = "{block}")]
//!     pub blocks: Counter<u64, (SyncSource,)>,
//!     /// Time to run one sync step.
//!     #[metric(unit = "s", buckets = [0.001, 0.01, 0.1, 1.0])]
//!     pub duration: Histogram<f64, ()>,
//!     /// Height of the local chain head.
//!     #[metric(unit = "{block}")]
//!     pub height: Gauge<u64, ()>,
//! }
//!
//! let client = TelemetryClient::builder("mynode").build()?; // no exporter: the no-op client
//! let sync = SyncMetrics::new(&client);
//! sync.blocks.add(1, (SyncSource::Peer,));
//! let from_peers = sync.blocks.bind((SyncSource::Peer,));
//! from_peers.add(1); // one atomic add on a live client
//! telemetry::catalog().check()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See `docs/architecture.md` for adopting it in a node.

#![warn(missing_docs)]

// The derive's expansion names `::telemetry`, also inside this crate.
extern crate self as telemetry;

mod attributes;
mod bridge;
mod buckets;
mod catalog;
mod cells;
mod client;
mod config;
mod definition;
mod errors;
mod head_sampling;
mod health;
mod instruments;
mod meter;
mod observable;
mod otlp;
mod prometheus_name;
mod propagation;
mod resource;
mod self_telemetry;
mod series;
mod signal_export;
#[cfg(feature = "testing")]
pub mod testing;
mod tracing_config;
mod tracing_pipeline;

pub use attributes::{
    Attribute, AttributeInfo, AttributeSet, AttributeValues, Unbounded, UnboundedKey,
    MAX_ATTRIBUTE_VALUE_LEN,
};
#[doc(hidden)]
pub use bridge::admits as bridge_admits;
pub use bridge::CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE;
pub use catalog::{catalog, Catalog, CatalogError, Conflict};
pub use client::{TelemetryBuilder, TelemetryClient};
pub use config::{
    BridgeAuth, Compression, ConfigError, OtlpConfig, PrometheusConfig, Protocol, TelemetryConfig,
    DEFAULT_PROMETHEUS_ADDR,
};
pub use definition::{
    kind, InstrumentKind, Kind, MetricInfo, Metrics, ValueType, MAX_COMPONENT_INSTANCES,
};
pub use errors::{BuildError, FlushError, ShutdownError};
pub use health::{ExportStatus, Freshness};
pub use instruments::{
    Bound, BoundCounter, BoundGauge, BoundHistogram, BoundUpDownCounter, Counter, Gauge, Histogram,
    Instrument, Timer, UpDownCounter,
};
pub use observable::{
    Callback, Observable, ObservableCounter, ObservableGauge, ObservableUpDownCounter, Observer,
};
pub use propagation::TraceContext;
pub use resource::NODE_ROLE_KEY;
pub use tracing_config::{BatchConfig, Sampler, TracingConfig};

/// Declares a component's metrics: one struct, one field per metric.
///
/// `#[metrics(prefix = "...")]` on the struct is its namespace (and the name of its
/// meter); every field is the metric `<prefix>.<field>`, its type the instrument
/// ([`Counter`], [`UpDownCounter`], [`Gauge`], [`Histogram`], [`ObservableCounter`],
/// [`ObservableUpDownCounter`], [`ObservableGauge`]) with its value type and attribute
/// tuple, its doc comment the description. `#[metric(...)]` on a field takes:
///
/// - `unit = "..."` (required): `s`, `By`, `1` (gauges only) or a `{annotation}`;
/// - `name = "..."`: the name after the prefix, when the field's name will not do
///   (`name = "cpu.time"` under `system` is `system.cpu.time`);
/// - `buckets = [...]` (histograms): boundaries, otherwise the unit's defaults;
/// - `limit = N`: a cardinality limit lower than the attributes give (attributes that
///   describe one entity together).
///
/// The derive generates `new(&client)` (with the struct's `<Struct>Callbacks` as a second
/// argument when it has observable fields) and `new_instance(&client, instance, ...)`, and
/// registers the definitions in the [`catalog()`]. Broken rules are compile errors on the
/// offending field or literal:
///
/// ```compile_fail
/// #[derive(telemetry::Metrics)]
/// #[metrics(prefix = "mynode.rpc")]
/// struct RpcMetrics {
///     /// Request latency, with the unit wrongly in the name.
///     #[metric(unit = "s")]
///     latency_seconds: telemetry::Histogram<f64, ()>,
/// }
/// ```
pub use telemetry_macros::Metrics;

/// The attribute [`Metrics`]' `new_instance` adds to every series.
pub const COMPONENT_INSTANCE_KEY: &str = "component.instance";

/// What the macros' expansions use; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::catalog::CATALOG;
    pub use crate::definition::{
        check_buckets_for, check_limit_for, check_observable, check_unit_for, definition,
        Declaration, Field,
    };
    pub use crate::meter::ComponentMeter;
    pub use linkme;
    pub use opentelemetry::KeyValue;
    pub use telemetry_macros::{attribute_enum, unbounded_attribute};

    /// Implemented by the macros only: keeps the traits that carry it closed.
    pub trait Sealed {}

    /// Creates metrics struct `M` on `client`'s meter for `M::PREFIX`.
    pub fn register<M: crate::Metrics>(
        client: &crate::TelemetryClient,
        instance: Option<String>,
        callbacks: M::Callbacks,
    ) -> M {
        M::register(&client.meter(M::PREFIX, instance), callbacks)
    }
}
