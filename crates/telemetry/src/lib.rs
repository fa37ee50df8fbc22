//! Production telemetry for a Rust node, on OpenTelemetry.
//!
//! - **Typed definitions**: every metric is declared once with [`metrics!`] (name, unit,
//!   kind, value type, buckets, attributes; the doc comment is the description) and checked
//!   at compile time. The node's definitions live in [`catalog`], listed by [`registry`].
//! - **Typed attributes**: closed sets are enums ([`attribute_enum!`]), pre-bound and seeded
//!   at zero; unbounded values ([`Unbounded`]) are declared with their cardinality limit;
//!   high-cardinality identifiers do not compile.
//! - **[`TelemetryClient`]**: built from code or the environment; OTLP push over gRPC or
//!   HTTP, a Prometheus pull bridge, both at once, or the no-op client.
//! - **Components** get a [`ComponentMeter`] and keep their instruments in one struct with
//!   domain methods (see the [`ComponentMeter`] example).
//! - **Self-telemetry** ([`catalog::telemetry`]): export attempts and failures, last success,
//!   scrapes, callback panics, dropped measurements.
//! - **[`testing`]**: an in-memory reader for asserting instrumentation in unit tests.
//!
//! See `docs/architecture.md` for the path of a measurement from a component to Prometheus.

#![warn(missing_docs)]

pub mod attributes;
mod bridge;
pub mod buckets;
pub mod catalog;
pub mod cells;
mod client;
pub mod config;
pub mod definition;
mod health;
pub mod instruments;
mod meter;
pub mod name;
pub mod observable;
mod otlp;
pub mod prometheus_name;
pub mod reference;
pub mod resource;
pub mod testing;

pub use attributes::{
    Attribute, AttributeInfo, AttributeSet, AttributeValues, Unbounded, UnboundedKey,
};
pub use bridge::CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE;
pub use catalog::registry;
pub use client::{ShutdownError, TelemetryBuilder, TelemetryClient};
pub use config::{
    BridgeAuth, Compression, ConfigError, OtlpConfig, PrometheusConfig, Protocol, TelemetryConfig,
};
pub use definition::{kind, InstrumentKind, MetricDef, MetricInfo, ValueType};
pub use health::{ExportStatus, Freshness};
pub use instruments::{Counter, Gauge, Histogram, Instrument, Timer, UpDownCounter};
pub use meter::ComponentMeter;
pub use observable::{Observation, Observer};

/// The attribute a [`TelemetryClient::component_instance`] meter adds to every series.
pub const COMPONENT_INSTANCE_KEY: &str = "component.instance";

/// Re-exports used by the declaration macros.
#[doc(hidden)]
pub mod __private {
    pub use opentelemetry::KeyValue;
}
