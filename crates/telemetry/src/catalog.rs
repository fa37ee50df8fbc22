//! The metric catalog: every definition linked into this binary, registered by
//! [`#[derive(Metrics)]`](derive@crate::Metrics) itself (no hand-kept list), with the checks
//! across definitions that no single struct can make, and the renderings that docs and
//! dashboards are generated from.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use crate::attributes::AttributeValues;
use crate::definition::{InstrumentKind, MetricInfo};
use crate::prometheus_name::label_name;

/// Where the derive registers each struct's definitions.
#[linkme::distributed_slice]
pub static CATALOG: [&'static [MetricInfo]];

/// Every metric definition linked into this binary, grouped by component (the struct's
/// prefix), in field order within a struct.
///
/// A struct's definitions are linked when the binary uses the struct (constructs it):
/// a library's metrics are in the catalog of every binary that runs them.
///
/// ```
/// use telemetry::{Counter, Metrics};
///
/// /// Sync's instrumentation.
/// #[derive(Metrics)]
/// #[metrics(prefix = "mynode.sync")]
/// pub struct SyncMetrics {
///     /// Blocks received.
///     #[metric(unit = "{block}")]
///     pub blocks: Counter<u64, ()>,
/// }
///
/// let _sync = SyncMetrics::new(&telemetry::TelemetryClient::disabled());
/// let catalog = telemetry::catalog();
/// catalog.check()?;
/// assert!(catalog.get("mynode.sync.blocks").is_some());
/// assert!(catalog.markdown().contains("`mynode_sync_blocks_total`"));
/// # Ok::<(), telemetry::CatalogError>(())
/// ```
pub fn catalog() -> Catalog {
    let mut structs: Vec<&'static [MetricInfo]> =
        CATALOG.iter().copied().filter(|s| !s.is_empty()).collect();
    structs.sort_by_key(|s| (s[0].component, s[0].defined_at));
    Catalog {
        metrics: structs.into_iter().flatten().collect(),
    }
}

/// The definitions linked into this binary. Obtained from [`catalog()`].
#[derive(Debug, Clone)]
pub struct Catalog {
    metrics: Vec<&'static MetricInfo>,
}

/// A conflict between two definitions of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conflict {
    /// Two fields declare the same metric name.
    DuplicateName {
        /// The name.
        name: &'static str,
        /// One definition (`crate::module::Struct::field`).
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// A name (a metric's, or an attribute key) is also the namespace of a metric.
    NameIsNamespace {
        /// The name used as a namespace.
        name: &'static str,
        /// Where it is declared (an attribute key says so).
        declared_by: String,
        /// The metric under it.
        metric: &'static str,
        /// Where that metric is declared.
        metric_defined_at: &'static str,
    },
    /// An attribute key is also a metric name.
    AttributeIsMetric {
        /// The key and name.
        name: &'static str,
        /// The metric declaring the attribute.
        attribute_of: &'static str,
        /// The metric of that name.
        metric_defined_at: &'static str,
    },
    /// Two metrics give the same Prometheus series name.
    PrometheusCollision {
        /// The series name.
        series: String,
        /// One definition.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// One metric declares an attribute key twice.
    RepeatedAttribute {
        /// The key.
        key: &'static str,
        /// The metric.
        defined_at: &'static str,
    },
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DuplicateName { name, first, second } => {
                write!(f, "metric `{name}` is declared twice: by `{first}` and by `{second}`")
            }
            Self::NameIsNamespace {
                name,
                declared_by,
                metric,
                metric_defined_at,
            } => write!(
                f,
                "`{name}` ({declared_by}) is also the namespace of metric `{metric}` (`{metric_defined_at}`)"
            ),
            Self::AttributeIsMetric {
                name,
                attribute_of,
                metric_defined_at,
            } => write!(
                f,
                "`{name}` is an attribute key of `{attribute_of}` and a metric (`{metric_defined_at}`)"
            ),
            Self::PrometheusCollision {
                series,
                first,
                second,
            } => write!(
                f,
                "Prometheus series `{series}` would come from `{first}` and from `{second}`"
            ),
            Self::RepeatedAttribute { key, defined_at } => {
                write!(f, "`{defined_at}` declares attribute `{key}` twice")
            }
        }
    }
}

/// Every conflict [`Catalog::check`] found, each naming both definitions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the metric catalog has {} conflict(s):{}", .conflicts.len(), .conflicts.iter().map(|c| format!("\n  - {c}")).collect::<String>())]
pub struct CatalogError {
    /// The conflicts, in catalog order.
    pub conflicts: Vec<Conflict>,
}

/// The Prometheus series names a metric exposes (family plus histogram suffixes).
fn series_names(info: &MetricInfo) -> Vec<String> {
    let family = info.prometheus_name();
    match info.kind {
        InstrumentKind::Histogram => ["_bucket", "_sum", "_count"]
            .iter()
            .map(|suffix| format!("{family}{suffix}"))
            .collect(),
        _ => vec![family],
    }
}

/// `a.b.c` -> `a`, `a.b`.
fn namespaces(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices('.').map(move |(at, _)| &name[..at])
}

impl Catalog {
    /// The definitions, grouped by component.
    pub fn metrics(&self) -> &[&'static MetricInfo] {
        &self.metrics
    }

    /// The definition of `name`, if linked.
    pub fn get(&self, name: &str) -> Option<&'static MetricInfo> {
        self.metrics.iter().copied().find(|m| m.name == name)
    }

    /// Checks what no single struct can: duplicate names, a name (metric or attribute key)
    /// that is also a metric's namespace, an attribute key that is a metric, two metrics
    /// that Prometheus would name alike, an attribute declared twice on one metric.
    /// Reports every conflict at once, each naming both definitions.
    pub fn check(&self) -> Result<(), CatalogError> {
        let mut conflicts = Vec::new();
        let mut by_name: HashMap<&str, &MetricInfo> = HashMap::new();
        for info in &self.metrics {
            if let Some(first) = by_name.insert(info.name, info) {
                conflicts.push(Conflict::DuplicateName {
                    name: info.name,
                    first: first.defined_at,
                    second: info.defined_at,
                });
            }
        }
        let mut series: HashMap<String, &MetricInfo> = HashMap::new();
        for info in &self.metrics {
            for name in series_names(info) {
                match series.get(name.as_str()) {
                    Some(first) if first.name != info.name => {
                        conflicts.push(Conflict::PrometheusCollision {
                            series: name,
                            first: first.defined_at,
                            second: info.defined_at,
                        })
                    }
                    Some(_) => {}
                    None => {
                        series.insert(name, info);
                    }
                }
            }
        }
        for info in &self.metrics {
            for namespace in namespaces(info.name) {
                if let Some(holder) = by_name.get(namespace) {
                    conflicts.push(Conflict::NameIsNamespace {
                        name: holder.name,
                        declared_by: format!("metric `{}`", holder.defined_at),
                        metric: info.name,
                        metric_defined_at: info.defined_at,
                    });
                }
            }
            for (position, attribute) in info.attributes.iter().enumerate() {
                if info.attributes[..position]
                    .iter()
                    .any(|a| a.key == attribute.key)
                {
                    conflicts.push(Conflict::RepeatedAttribute {
                        key: attribute.key,
                        defined_at: info.defined_at,
                    });
                }
                if let Some(metric) = by_name.get(attribute.key) {
                    conflicts.push(Conflict::AttributeIsMetric {
                        name: attribute.key,
                        attribute_of: info.defined_at,
                        metric_defined_at: metric.defined_at,
                    });
                }
            }
        }
        for info in &self.metrics {
            for attribute in info.attributes {
                for other in &self.metrics {
                    if namespaces(other.name).any(|ns| ns == attribute.key) {
                        let conflict = Conflict::NameIsNamespace {
                            name: attribute.key,
                            declared_by: format!("attribute key of `{}`", info.defined_at),
                            metric: other.name,
                            metric_defined_at: other.defined_at,
                        };
                        if !conflicts.contains(&conflict) {
                            conflicts.push(conflict);
                        }
                    }
                }
            }
        }
        if conflicts.is_empty() {
            Ok(())
        } else {
            Err(CatalogError { conflicts })
        }
    }

    /// The Markdown metrics reference: one table per component.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "# Metric reference\n\n\
             Generated from the binary's metric catalog (`telemetry::catalog().markdown()`);\n\
             do not edit by hand.\n\n\
             The Prometheus name is the same on both paths: the node's `/metrics` bridge and the\n\
             collector's OTLP push into Prometheus. Histograms add `_bucket`, `_sum` and `_count`.\n",
        );
        let mut current = None;
        for info in &self.metrics {
            if current != Some(info.component) {
                current = Some(info.component);
                let _ = write!(
                    out,
                    "\n## {}\n\n| Name | Prometheus name | Kind | Unit | Attributes | Description |\n|---|---|---|---|---|---|\n",
                    info.component
                );
            }
            let value_type = match info.kind {
                InstrumentKind::Histogram => String::new(),
                _ => format!(" ({})", info.value_type.as_str()),
            };
            let attributes = if info.attributes.is_empty() {
                "—".to_owned()
            } else {
                info.attributes
                    .iter()
                    .map(|a| {
                        let mut values = match a.values {
                            AttributeValues::Closed(values) => values.join(", "),
                            AttributeValues::Unbounded { limit } => {
                                format!("any, at most {limit} values")
                            }
                        };
                        if a.optional {
                            values.push_str(" (or absent)");
                        }
                        format!("`{}` (`{}`): {}", a.key, label_name(a.key), values)
                    })
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {}{} | `{}` | {} | {} |",
                info.name,
                info.prometheus_name(),
                info.kind.as_str(),
                value_type,
                info.unit,
                attributes,
                info.description.replace('|', "\\|"),
            );
        }
        out
    }

    /// The catalog as JSON, what dashboard generators read: per metric its name,
    /// Prometheus name, component, kind, value type, unit, description, attributes with
    /// their label names and values, buckets, cardinality limit and definition site.
    pub fn json(&self) -> String {
        let metrics: Vec<serde_json::Value> = self
            .metrics
            .iter()
            .map(|info| {
                let attributes: Vec<serde_json::Value> = info
                    .attributes
                    .iter()
                    .map(|a| {
                        let mut attribute = BTreeMap::new();
                        attribute.insert("key", serde_json::json!(a.key));
                        attribute.insert("label", serde_json::json!(label_name(a.key)));
                        attribute.insert("optional", serde_json::json!(a.optional));
                        match a.values {
                            AttributeValues::Closed(values) => {
                                attribute.insert("values", serde_json::json!(values))
                            }
                            AttributeValues::Unbounded { limit } => {
                                attribute.insert("limit", serde_json::json!(limit))
                            }
                        };
                        serde_json::json!(attribute)
                    })
                    .collect();
                serde_json::json!({
                    "name": info.name,
                    "prometheus_name": info.prometheus_name(),
                    "component": info.component,
                    "kind": info.kind.as_str(),
                    "monotonic": info.kind.is_monotonic(),
                    "value_type": info.value_type.as_str(),
                    "unit": info.unit,
                    "description": info.description,
                    "attributes": attributes,
                    "buckets": info.buckets,
                    "cardinality_limit": info.cardinality_limit,
                    "closed_series": info.closed_series(),
                    "defined_at": info.defined_at,
                })
            })
            .collect();
        let mut json = serde_json::to_string_pretty(&serde_json::json!({ "metrics": metrics }))
            .unwrap_or_default();
        json.push('\n');
        json
    }
}
