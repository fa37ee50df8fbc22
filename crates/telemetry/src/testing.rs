//! A test kit for instrumentation: a client backed by an in-memory reader, and helpers that
//! read a metric's current value by name and attributes. Enable the `testing` feature in
//! `[dev-dependencies]` only: production builds compile none of it.
//!
//! ```toml
//! [dev-dependencies]
//! telemetry = { path = "...", features = ["testing"] }
//! ```
//!
//! ```
//! use telemetry::testing::TestTelemetry;
//! use telemetry::{Counter, Metrics};
//!
//! /// Work's instrumentation.
//! #[derive(Metrics)]
//! #[metrics(prefix = "mynode.work")]
//! struct WorkMetrics {
//!     /// Things done.
//!     #[metric(unit = "{thing}")]
//!     done: Counter<u64, ()>,
//! }
//!
//! let kit = TestTelemetry::new();
//! let work = WorkMetrics::new(kit.client());
//! work.done.add(3, ());
//! assert_eq!(kit.collect().u64_value("mynode.work.done", &[]), Some(3));
//! ```

use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::Value;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

use crate::client::{TelemetryBuilder, TelemetryClient};

/// A [`ManualReader`] shared between the provider and the test kit.
#[derive(Debug, Clone)]
pub(crate) struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// A live client whose metrics are read in memory.
#[derive(Debug)]
pub struct TestTelemetry {
    client: TelemetryClient,
    reader: SharedReader,
}

impl Default for TestTelemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl TestTelemetry {
    /// A client with only the in-memory reader.
    pub fn new() -> Self {
        Self::with_builder(TelemetryClient::builder("test"))
    }

    /// Adds the in-memory reader to `builder` (which may also configure OTLP or the bridge).
    ///
    /// # Panics
    /// When `builder`'s configuration is invalid: a test kit is for tests.
    pub fn with_builder(builder: TelemetryBuilder) -> Self {
        let reader = SharedReader(Arc::new(ManualReader::builder().build()));
        let client = builder
            .reader(reader.clone())
            .build()
            .expect("test telemetry configuration");
        Self { client, reader }
    }

    /// The client to hand to the component under test.
    pub fn client(&self) -> &TelemetryClient {
        &self.client
    }

    /// Collects every metric now (runs the observable callbacks).
    pub fn collect(&self) -> Snapshot {
        let mut metrics = ResourceMetrics::default();
        if let Err(error) = self.reader.collect(&mut metrics) {
            tracing::warn!(%error, "test telemetry collection failed");
        }
        Snapshot { metrics }
    }
}

/// One histogram data point.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    /// Observations.
    pub count: u64,
    /// Sum of the observations.
    pub sum: f64,
    /// Upper bucket boundaries.
    pub bounds: Vec<f64>,
    /// Observations per bucket (one more than `bounds`).
    pub bucket_counts: Vec<u64>,
}

/// The metrics of one collection.
#[derive(Debug)]
pub struct Snapshot {
    metrics: ResourceMetrics,
}

/// Whether a point's attributes are exactly `wanted` (in any order).
fn same_attributes<'a>(
    point: impl Iterator<Item = &'a opentelemetry::KeyValue>,
    wanted: &[(&str, &str)],
) -> bool {
    let point: Vec<_> = point.collect();
    point.len() == wanted.len()
        && wanted.iter().all(|(k, v)| {
            point
                .iter()
                .any(|kv| kv.key.as_str() == *k && kv.value.as_str() == *v)
        })
}

macro_rules! find_value {
    ($data:expr, $wanted:expr, $convert:expr) => {
        match $data {
            MetricData::Sum(sum) => sum
                .data_points()
                .find(|p| same_attributes(p.attributes(), $wanted))
                .map(|p| $convert(p.value())),
            MetricData::Gauge(gauge) => gauge
                .data_points()
                .find(|p| same_attributes(p.attributes(), $wanted))
                .map(|p| $convert(p.value())),
            _ => None,
        }
    };
}

impl Snapshot {
    /// Every metric with this name, across scopes.
    fn metrics<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Metric> + 'a {
        self.metrics
            .scope_metrics()
            .flat_map(|s| s.metrics())
            .filter(move |m| m.name() == name)
    }

    /// The names of every collected metric.
    pub fn names(&self) -> Vec<String> {
        self.metrics
            .scope_metrics()
            .flat_map(|s| s.metrics())
            .map(|m| m.name().to_owned())
            .collect()
    }

    /// The unit a metric was exported with.
    pub fn unit(&self, name: &str) -> Option<String> {
        self.metrics(name).next().map(|m| m.unit().to_owned())
    }

    /// A resource attribute.
    pub fn resource_attribute(&self, key: &str) -> Option<String> {
        self.metrics
            .resource()
            .get(&opentelemetry::Key::from(key.to_owned()))
            .map(|v| v.as_str().into_owned())
    }

    /// The value of a sum or gauge point with exactly `attributes`, as `f64`.
    pub fn value(&self, name: &str, attributes: &[(&str, &str)]) -> Option<f64> {
        self.metrics(name).find_map(|m| match m.data() {
            AggregatedMetrics::F64(d) => find_value!(d, attributes, |v: f64| v),
            AggregatedMetrics::U64(d) => find_value!(d, attributes, |v: u64| v as f64),
            AggregatedMetrics::I64(d) => find_value!(d, attributes, |v: i64| v as f64),
        })
    }

    /// The exact value of a `u64` sum or gauge point with exactly `attributes`.
    pub fn u64_value(&self, name: &str, attributes: &[(&str, &str)]) -> Option<u64> {
        self.metrics(name).find_map(|m| match m.data() {
            AggregatedMetrics::U64(d) => find_value!(d, attributes, |v: u64| v),
            _ => None,
        })
    }

    /// The histogram point with exactly `attributes`.
    pub fn histogram(&self, name: &str, attributes: &[(&str, &str)]) -> Option<HistogramPoint> {
        self.metrics(name).find_map(|m| match m.data() {
            AggregatedMetrics::F64(MetricData::Histogram(h)) => h
                .data_points()
                .find(|p| same_attributes(p.attributes(), attributes))
                .map(|p| HistogramPoint {
                    count: p.count(),
                    sum: p.sum(),
                    bounds: p.bounds().collect(),
                    bucket_counts: p.bucket_counts().collect(),
                }),
            _ => None,
        })
    }

    /// The attribute sets of every point of a metric, each sorted by key.
    pub fn attribute_sets(&self, name: &str) -> Vec<Vec<(String, String)>> {
        fn sorted<'a>(
            attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>,
        ) -> Vec<(String, String)> {
            let mut set: Vec<_> = attributes
                .map(|kv| (kv.key.to_string(), value_string(&kv.value)))
                .collect();
            set.sort();
            set
        }
        macro_rules! sets {
            ($d:expr) => {
                match $d {
                    MetricData::Sum(s) => s
                        .data_points()
                        .map(|p| sorted(p.attributes()))
                        .collect::<Vec<_>>(),
                    MetricData::Gauge(g) => {
                        g.data_points().map(|p| sorted(p.attributes())).collect()
                    }
                    MetricData::Histogram(h) => {
                        h.data_points().map(|p| sorted(p.attributes())).collect()
                    }
                    MetricData::ExponentialHistogram(h) => {
                        h.data_points().map(|p| sorted(p.attributes())).collect()
                    }
                }
            };
        }
        self.metrics(name)
            .flat_map(|m| match m.data() {
                AggregatedMetrics::F64(d) => sets!(d),
                AggregatedMetrics::U64(d) => sets!(d),
                AggregatedMetrics::I64(d) => sets!(d),
            })
            .collect()
    }
}

fn value_string(value: &Value) -> String {
    value.as_str().into_owned()
}
