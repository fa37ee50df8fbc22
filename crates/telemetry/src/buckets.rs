//! Histogram bucket boundaries chosen centrally by unit.
//!
//! Every histogram definition gets the boundaries of its unit unless it declares its own with
//! [`MetricDef::with_buckets`](crate::MetricDef::with_buckets). The SDK's default boundaries
//! (0, 5, 10, 25, ... 10000) suit milliseconds and nothing else (aztec-packages #10636).

/// Durations in seconds: 0.5 ms to 60 s, roughly 1-2.5-5 steps.
pub const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Sizes in bytes: powers of four from 64 B to 64 MiB.
pub const BYTES: &[f64] = &[
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
    67108864.0,
];

/// Counts of things (`{transaction}`, `{peer}`, ...): 1 to 10,000, 1-2-5 steps.
pub const COUNTS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];

/// The default boundaries for a unit.
pub const fn for_unit(unit: &str) -> &'static [f64] {
    if crate::name::str_eq(unit, "s") {
        SECONDS
    } else if crate::name::str_eq(unit, "By") {
        BYTES
    } else {
        COUNTS
    }
}

/// Fails constant evaluation unless `bounds` is non-empty, finite and strictly increasing.
pub(crate) const fn check(bounds: &[f64]) -> Result<(), &'static str> {
    if bounds.is_empty() {
        return Err("histogram buckets must not be empty");
    }
    let mut i = 0;
    while i < bounds.len() {
        if !bounds[i].is_finite() {
            return Err("histogram bucket boundaries must be finite");
        }
        if i > 0 && bounds[i] <= bounds[i - 1] {
            return Err("histogram bucket boundaries must be strictly increasing");
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn defaults_are_valid() {
        for b in [super::SECONDS, super::BYTES, super::COUNTS] {
            assert!(super::check(b).is_ok());
        }
        assert!(super::check(&[1.0, 1.0]).is_err());
        assert!(super::check(&[]).is_err());
        assert_eq!(super::for_unit("{block}"), super::COUNTS);
    }
}
