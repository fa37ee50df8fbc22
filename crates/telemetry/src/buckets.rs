//! Histogram bucket boundaries chosen centrally by unit.
//!
//! Every histogram gets the boundaries of its unit unless its field declares its own with
//! `#[metric(buckets = [...])]`. The SDK's default boundaries (0, 5, 10, 25, ... 10000) suit
//! milliseconds and nothing else (aztec-packages #10636).

/// Durations in seconds: 0.5 ms to 60 s, roughly 1-2.5-5 steps.
pub(crate) const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Sizes in bytes: powers of four from 64 B to 64 MiB.
pub(crate) const BYTES: &[f64] = &[
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
    67108864.0,
];

/// Counts of things (`{transaction}`, `{peer}`, ...): 1 to 10,000, 1-2-5 steps.
pub(crate) const COUNTS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];

/// The default boundaries for a unit.
pub(crate) const fn for_unit(unit: &str) -> &'static [f64] {
    if str_eq(unit, "s") {
        SECONDS
    } else if str_eq(unit, "By") {
        BYTES
    } else {
        COUNTS
    }
}

/// Compares two strings in a `const` context.
pub(crate) const fn str_eq(a: &str, b: &str) -> bool {
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

#[cfg(test)]
mod tests {
    #[test]
    fn defaults_are_valid() {
        for b in [super::SECONDS, super::BYTES, super::COUNTS] {
            assert!(b.windows(2).all(|w| w[0] < w[1]));
        }
        assert!(super::str_eq("By", "By") && !super::str_eq("By", "s"));
        assert_eq!(super::for_unit("{block}"), super::COUNTS);
    }
}
