//! Compile-time rules for metric names, units and attribute keys.
//!
//! Every check here is a `const fn`, so a definition that breaks a rule is a build error:
//! the constant that holds it fails to evaluate. The rules follow the OpenTelemetry
//! instrument-name syntax plus this project's conventions (see `docs/architecture.md`).

/// Longest metric name OpenTelemetry accepts.
pub const MAX_NAME_LEN: usize = 255;

/// Namespaces a metric name may start with: node metrics, and the OpenTelemetry
/// semantic-convention namespaces reported by `host-metrics`.
pub const NAMESPACES: &[&str] = &["node.", "system.", "process."];

/// Name segments that spell a unit or a Prometheus suffix. The unit belongs in the
/// definition's unit field, never in the name: exporters append it themselves.
pub const UNIT_WORDS: &[&str] = &[
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
pub const BANNED_ATTRIBUTE_KEYS: &[&str] = &[
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

/// Compares two strings in a `const` context.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn starts_with(s: &str, prefix: &str) -> bool {
    let (s, p) = (s.as_bytes(), prefix.as_bytes());
    if p.len() > s.len() {
        return false;
    }
    let mut i = 0;
    while i < p.len() {
        if s[i] != p[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether the segment `bytes[start..end]` equals one of `words`.
const fn segment_is_one_of(bytes: &[u8], start: usize, end: usize, words: &[&str]) -> bool {
    let mut w = 0;
    while w < words.len() {
        let word = words[w].as_bytes();
        if word.len() == end - start {
            let mut i = 0;
            let mut same = true;
            while i < word.len() {
                if bytes[start + i] != word[i] {
                    same = false;
                    break;
                }
                i += 1;
            }
            if same {
                return true;
            }
        }
        w += 1;
    }
    false
}

/// Checks the dotted-lowercase syntax shared by metric names and attribute keys:
/// segments of `[a-z0-9_]` starting with a letter, separated by single dots.
const fn check_dotted(s: &str) -> Result<(), &'static str> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err("is empty");
    }
    if b.len() > MAX_NAME_LEN {
        return Err("is longer than 255 characters");
    }
    let mut i = 0;
    let mut segment_start = true;
    while i < b.len() {
        let c = b[i];
        if c == b'.' {
            if segment_start {
                return Err("has an empty segment (leading, trailing or double dot)");
            }
            segment_start = true;
        } else {
            if segment_start && !c.is_ascii_lowercase() {
                return Err("has a segment that does not start with a lowercase letter");
            }
            if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_') {
                return Err("has a character outside [a-z0-9_.]");
            }
            segment_start = false;
        }
        i += 1;
    }
    if segment_start {
        return Err("ends with a dot");
    }
    Ok(())
}

/// Checks a metric name against every naming rule; `Err` says which rule failed.
///
/// ```
/// use telemetry::name::check_metric_name;
/// assert!(check_metric_name("node.sequencer.block.build.duration").is_ok());
/// assert!(check_metric_name("node.rpc.latency.seconds").is_err()); // unit in the name
/// assert!(check_metric_name("rpc.requests").is_err()); // no known namespace
/// ```
pub const fn check_metric_name(name: &str) -> Result<(), &'static str> {
    if let Err(e) = check_dotted(name) {
        return Err(e);
    }
    let mut ns = 0;
    let mut known = false;
    while ns < NAMESPACES.len() {
        if starts_with(name, NAMESPACES[ns]) {
            known = true;
        }
        ns += 1;
    }
    if !known {
        return Err("does not start with node., system. or process.");
    }
    let b = name.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i <= b.len() {
        if i == b.len() || b[i] == b'.' {
            if segment_is_one_of(b, start, i, UNIT_WORDS) {
                return Err("contains a unit or suffix word (seconds, bytes, total, ...): put the unit in the unit field");
            }
            start = i + 1;
        }
        i += 1;
    }
    Ok(())
}

/// Checks an attribute key: dotted lowercase and not a high-cardinality identifier.
///
/// ```
/// use telemetry::name::check_attribute_key;
/// assert!(check_attribute_key("rpc.method").is_ok());
/// assert!(check_attribute_key("tx.hash").is_err());
/// ```
pub const fn check_attribute_key(key: &str) -> Result<(), &'static str> {
    if let Err(e) = check_dotted(key) {
        return Err(e);
    }
    let mut i = 0;
    while i < BANNED_ATTRIBUTE_KEYS.len() {
        if str_eq(key, BANNED_ATTRIBUTE_KEYS[i]) {
            return Err("is a high-cardinality identifier and may not be a metric attribute");
        }
        i += 1;
    }
    Ok(())
}

/// Checks a unit: a base unit (`s`, `By`), the dimensionless `1`, or a `{annotation}` count.
///
/// These are the units both Prometheus paths (the pull bridge and Prometheus' own OTLP
/// translation) turn into the same metric-name suffix.
pub const fn check_unit(unit: &str) -> Result<(), &'static str> {
    if str_eq(unit, "s") || str_eq(unit, "By") || str_eq(unit, "1") {
        return Ok(());
    }
    let b = unit.as_bytes();
    if b.len() >= 3 && b[0] == b'{' && b[b.len() - 1] == b'}' {
        let mut i = 1;
        while i < b.len() - 1 {
            if !(b[i].is_ascii_lowercase() || b[i] == b'_' || b[i] == b'.') {
                return Err("annotation may only hold [a-z_.]");
            }
            i += 1;
        }
        return Ok(());
    }
    Err("must be s, By, 1 or a {annotation}")
}

/// Fails constant evaluation (a build error naming the offending constant) when `result`
/// is an error.
pub(crate) const fn expect_ok(result: Result<(), &'static str>) {
    if let Err(reason) = result {
        panic!("{}", reason);
    }
}

/// Removes leading and trailing ASCII spaces from a `&'static str` at compile time (used to
/// turn doc-comment text into descriptions).
pub const fn trim(s: &'static str) -> &'static str {
    let mut bytes = s.as_bytes();
    while let [first, rest @ ..] = bytes {
        if first.is_ascii_whitespace() {
            bytes = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = bytes {
        if last.is_ascii_whitespace() {
            bytes = rest;
        } else {
            break;
        }
    }
    match core::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(_) => panic!("description is not UTF-8"),
    }
}

/// Used by the declaration macros: fails the build when `key` breaks an attribute-key rule.
#[doc(hidden)]
pub const fn __expect_key(key: &str) {
    expect_ok(check_attribute_key(key));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        let cases: &[(&str, bool)] = &[
            ("node.rpc.requests", true),
            ("node.sequencer.block.build.duration", true),
            ("system.cpu.time", true),
            ("process.unix.file_descriptor.count", true),
            ("Node.rpc.requests", false),
            ("node.rpc..requests", false),
            ("node.rpc.requests.", false),
            ("node.rpc-requests", false),
            ("node.rpc.latency.seconds", false),
            ("node.rpc.requests.total", false),
            ("rpc.requests", false),
            ("node.9lives", false),
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
    fn units_and_keys() {
        for ok in ["s", "By", "1", "{request}", "{file_descriptor}"] {
            assert!(check_unit(ok).is_ok(), "{ok}");
        }
        for bad in ["ms", "seconds", "{}", "{Request}", "%", "KiBy"] {
            assert!(check_unit(bad).is_err(), "{bad}");
        }
        assert!(check_attribute_key("rpc.method").is_ok());
        assert!(check_attribute_key("peer.id").is_err());
        assert!(check_attribute_key("Rpc").is_err());
        assert_eq!(trim("  a description \n"), "a description");
    }
}
