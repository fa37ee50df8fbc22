//! The Prometheus names of OpenTelemetry metrics.
//!
//! Both paths into Prometheus (the pull bridge, and Prometheus' own OTLP translation with
//! `UnderscoreEscapingWithSuffixes`) turn `node.rpc.request.duration` with unit `s` into
//! `node_rpc_request_duration_seconds`, add `_total` to monotonic sums and `_ratio` to gauges
//! of unit `1`. The definition rules (no unit words in names, unit `1` on gauges only, no
//! exponential histograms) keep the two paths equal; this module computes the result, for
//! the generated docs and for the tests and dashboard checks that compare against it.

use crate::definition::MetricInfo;

/// Replaces every character Prometheus does not allow in a name with `_`, collapsing runs.
pub(crate) fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out
}

/// The name-suffix word of a unit, if it has one (`{annotations}` have none).
pub(crate) fn unit_suffix(unit: &str, is_gauge: bool) -> Option<&'static str> {
    match unit {
        "s" => Some("seconds"),
        "By" => Some("bytes"),
        "1" if is_gauge => Some("ratio"),
        _ => None,
    }
}

/// The metric family name Prometheus shows for `info` (histograms add `_bucket`, `_sum`
/// and `_count` to it); public as [`MetricInfo::prometheus_name`].
pub(crate) fn family_name(info: &MetricInfo) -> String {
    let mut name = escape(info.name);
    if let Some(suffix) = unit_suffix(info.unit, info.kind.is_gauge()) {
        if !name.ends_with(&format!("_{suffix}")) {
            name.push('_');
            name.push_str(suffix);
        }
    }
    if info.kind.is_monotonic() {
        name.push_str("_total");
    }
    name
}

/// The Prometheus label name of an attribute key.
pub(crate) fn label_name(key: &str) -> String {
    escape(key)
}
