//! The naming rules every metric and attribute declaration is checked against at compile
//! time. Each check returns `Err` with the rule that failed, worded to follow the name.

/// Longest metric name OpenTelemetry accepts.
const MAX_NAME_LEN: usize = 255;

/// Words that spell a unit or a Prometheus suffix. The unit belongs in the `unit` field,
/// never in the name: both Prometheus paths append it themselves, and a name that already
/// ends with it would be suffixed twice on one path and not on the other.
const UNIT_WORDS: &[&str] = &[
    "seconds",
    "second",
    "secs",
    "sec",
    "ms",
    "millis",
    "milliseconds",
    "micros",
    "nanos",
    "bytes",
    "byte",
    "kb",
    "kib",
    "mb",
    "mib",
    "gb",
    "gib",
    "total",
    "ratio",
    "percent",
    "pct",
];

/// Attribute keys that identify one object among unboundedly many. Such a key can never be
/// declared on a metric: it belongs on traces or logs.
const BANNED_ATTRIBUTE_KEYS: &[&str] = &[
    "block.number",
    "block.hash",
    "block.height",
    "tx.hash",
    "tx.id",
    "transaction.hash",
    "transaction.id",
    "peer.id",
    "peer.address",
    "address",
    "account",
    "user.id",
    "request.id",
    "trace.id",
    "span.id",
    "nonce",
];

/// Dotted lowercase: segments of `[a-z0-9_]` that start with a letter, single dots between.
fn check_dotted(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.len() > MAX_NAME_LEN {
        return Err(format!("is longer than {MAX_NAME_LEN} characters"));
    }
    for segment in s.split('.') {
        let mut chars = segment.chars();
        match chars.next() {
            None => return Err("has an empty segment (leading, trailing or double dot)".into()),
            Some(c) if !c.is_ascii_lowercase() => {
                return Err(format!(
                    "has a segment (`{segment}`) that does not start with a lowercase letter"
                ))
            }
            _ => {}
        }
        if let Some(c) = segment
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
        {
            return Err(format!("has the character `{c}`, outside [a-z0-9_.]"));
        }
        // Prometheus' OTLP translation collapses runs of `_` and the bridge does not, so a
        // run (written, or made by a dot after `_`) would be spelled two ways.
        if segment.contains("__") {
            return Err(format!(
                "has a double underscore (in `{segment}`): Prometheus' two paths would spell it differently"
            ));
        }
        if segment.ends_with('_') {
            return Err(format!(
                "has a segment (`{segment}`) that ends with `_`: Prometheus' two paths would spell it differently"
            ));
        }
    }
    Ok(())
}

/// A metric name (or a prefix of one): dotted lowercase, no unit word among its words.
pub fn check_metric_name(name: &str) -> Result<(), String> {
    check_dotted(name)?;
    if let Some(word) = name
        .split(['.', '_'])
        .find(|word| UNIT_WORDS.contains(word))
    {
        return Err(format!(
            "contains the unit or suffix word `{word}`: put the unit in `unit = \"...\"`, exporters append it"
        ));
    }
    Ok(())
}

/// An attribute key: dotted lowercase, and not a high-cardinality identifier.
pub fn check_attribute_key(key: &str) -> Result<(), String> {
    check_dotted(key)?;
    if matches!(key, "le" | "quantile") {
        return Err(
            "is a label Prometheus reserves (histogram buckets, summary quantiles): choose another key"
                .into(),
        );
    }
    if BANNED_ATTRIBUTE_KEYS.contains(&key) {
        return Err(
            "is a high-cardinality identifier (one series per object): put it on traces or logs, never on a metric"
                .into(),
        );
    }
    Ok(())
}

/// A unit: a base unit (`s`, `By`), the dimensionless `1`, or a `{annotation}` count. These
/// are the units both Prometheus paths turn into the same name suffix.
pub fn check_unit(unit: &str) -> Result<(), String> {
    if matches!(unit, "s" | "By" | "1") {
        return Ok(());
    }
    if let Some(annotation) = unit.strip_prefix('{').and_then(|u| u.strip_suffix('}')) {
        if !annotation.is_empty()
            && annotation
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
        {
            return Ok(());
        }
        return Err("is an annotation that may only hold [a-z_.]".into());
    }
    Err("is not allowed: use a base unit (s, By), 1, or a {annotation} such as {request}".into())
}

/// Histogram bucket boundaries: non-empty, finite, strictly increasing.
pub fn check_buckets(bounds: &[f64]) -> Result<(), String> {
    if bounds.is_empty() {
        return Err("histogram buckets must not be empty".into());
    }
    if bounds.iter().any(|b| !b.is_finite()) {
        return Err("histogram bucket boundaries must be finite".into());
    }
    if bounds.windows(2).any(|w| w[1] <= w[0]) {
        return Err("histogram bucket boundaries must be strictly increasing".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        let cases: &[(&str, bool)] = &[
            ("node.rpc.requests", true),
            ("mynode.sync.blocks", true),
            ("system.cpu.time", true),
            ("process.unix.file_descriptor.count", true),
            ("node.rpc.in_flight", true),
            ("Node.rpc.requests", false),
            ("node.rpc..requests", false),
            ("node.rpc.requests.", false),
            ("node.rpc-requests", false),
            ("node.rpc.latency.seconds", false),
            ("node.rpc.latency_seconds", false),
            ("node.rpc.requests.total", false),
            ("node.9lives", false),
            ("node.rpc__requests", false),
            ("node.rpc_.requests", false),
            ("node.rpc.requests_", false),
            ("", false),
        ];
        for (name, ok) in cases {
            assert_eq!(check_metric_name(name).is_ok(), *ok, "{name}");
        }
        let long = format!("node.{}", "a".repeat(251));
        assert!(check_metric_name(&long).is_err());
        assert!(check_metric_name(&long[..255]).is_ok());
    }

    #[test]
    fn units_keys_and_buckets() {
        for ok in ["s", "By", "1", "{request}", "{file_descriptor}"] {
            assert!(check_unit(ok).is_ok(), "{ok}");
        }
        for bad in ["ms", "seconds", "{}", "{Request}", "%", "KiBy"] {
            assert!(check_unit(bad).is_err(), "{bad}");
        }
        assert!(check_attribute_key("rpc.method").is_ok());
        assert!(check_attribute_key("peer.id").is_err());
        assert!(check_attribute_key("Rpc").is_err());
        assert!(check_attribute_key("le").is_err());
        assert!(check_attribute_key("quantile").is_err());
        assert!(check_attribute_key("rpc.le").is_ok());
        assert!(check_attribute_key("rpc__method").is_err());
        assert!(check_buckets(&[0.1, 1.0]).is_ok());
        assert!(check_buckets(&[1.0, 1.0]).is_err());
        assert!(check_buckets(&[]).is_err());
        assert!(check_buckets(&[f64::INFINITY]).is_err());
    }
}
