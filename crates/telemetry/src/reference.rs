//! Renders the metric reference (`docs/metrics.md`) from the [`registry`](crate::registry).
//!
//! Regenerate with `cargo run -p telemetry --example metrics_reference > docs/metrics.md`;
//! a test fails when the committed file differs from what the registry renders.

use std::fmt::Write;

use crate::attributes::AttributeValues;
use crate::definition::{InstrumentKind, MetricInfo};
use crate::prometheus_name::{family_name, label_name};

/// The component a metric belongs to: `node.<component>.…`, or the semantic-convention
/// namespace (`system`, `process`).
pub fn component_of(name: &str) -> &str {
    let mut parts = name.split('.');
    match (parts.next(), parts.next()) {
        (Some("node"), Some(component)) => component,
        (Some(namespace), _) => namespace,
        _ => name,
    }
}

/// The Markdown reference for `metrics`, grouped by component in registry order.
pub fn render(metrics: &[&MetricInfo]) -> String {
    let mut out = String::new();
    out.push_str("# Metric reference\n\n");
    out.push_str(
        "Generated from `telemetry::registry()` by\n`cargo run -p telemetry --example metrics_reference > docs/metrics.md`;\n\
         do not edit by hand (a test fails when this file and the registry differ).\n\n\
         The Prometheus name is the same on both paths: the node's `/metrics` bridge and the\n\
         collector's OTLP push into Prometheus. Histograms add `_bucket`, `_sum` and `_count`.\n",
    );
    let mut current = None;
    for info in metrics {
        let component = component_of(info.name);
        if current != Some(component) {
            current = Some(component);
            let _ = write!(
                out,
                "\n## {component}\n\n| Name | Prometheus name | Kind | Unit | Attributes | Description |\n|---|---|---|---|---|---|\n"
            );
        }
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {}{} | `{}` | {} | {} |",
            info.name,
            family_name(info),
            info.kind.as_str(),
            value_type_note(info),
            info.unit,
            attributes(info),
            info.description.replace('|', "\\|"),
        );
    }
    out
}

fn value_type_note(info: &MetricInfo) -> &'static str {
    match (info.kind, info.value_type) {
        (InstrumentKind::Histogram, _) => "",
        (_, crate::ValueType::U64) => " (u64)",
        (_, crate::ValueType::I64) => " (i64)",
        (_, crate::ValueType::F64) => " (f64)",
    }
}

fn attributes(info: &MetricInfo) -> String {
    if info.attributes.is_empty() {
        return "—".to_owned();
    }
    info.attributes
        .iter()
        .map(|a| {
            let values = match a.values {
                AttributeValues::Closed(values) => values.join(", "),
                AttributeValues::Unbounded { limit } => format!("any, at most {limit} values"),
            };
            format!("`{}` (`{}`): {}", a.key, label_name(a.key), values)
        })
        .collect::<Vec<_>>()
        .join("<br>")
}
