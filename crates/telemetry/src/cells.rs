//! Atomic cells: how counters, up-down counters and gauges with closed attribute sets record.
//!
//! One cell per attribute combination holds the running value; an observable instrument
//! of the same name reports every cell at each collection. Recording is then one atomic
//! operation on a known address: no attribute hashing, no lock, no virtual call. (The SDK's
//! bound instruments cost two atomics and a virtual call per measurement; see
//! `docs/performance.md`.) Sums report every cell, zero included, so every series exists
//! from the start; a gauge cell reports only once something was recorded into it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use opentelemetry::KeyValue;

/// How a value type lives in an `AtomicU64`.
pub trait CellValue: Copy + Send + Sync + 'static {
    /// Adds `value` to the cell.
    fn add(cell: &AtomicU64, value: Self);
    /// Stores `value` in the cell.
    fn store(cell: &AtomicU64, value: Self);
    /// Reads the cell.
    fn load(cell: &AtomicU64) -> Self;
}

impl CellValue for u64 {
    #[inline(always)]
    fn add(cell: &AtomicU64, value: Self) {
        cell.fetch_add(value, Ordering::Relaxed);
    }
    #[inline(always)]
    fn store(cell: &AtomicU64, value: Self) {
        cell.store(value, Ordering::Relaxed);
    }
    fn load(cell: &AtomicU64) -> Self {
        cell.load(Ordering::Relaxed)
    }
}

impl CellValue for i64 {
    #[inline(always)]
    fn add(cell: &AtomicU64, value: Self) {
        // Two's complement: wrapping addition of the bit pattern is signed addition.
        cell.fetch_add(value as u64, Ordering::Relaxed);
    }
    #[inline(always)]
    fn store(cell: &AtomicU64, value: Self) {
        cell.store(value as u64, Ordering::Relaxed);
    }
    fn load(cell: &AtomicU64) -> Self {
        cell.load(Ordering::Relaxed) as i64
    }
}

impl CellValue for f64 {
    #[inline(always)]
    fn add(cell: &AtomicU64, value: Self) {
        let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
            Some((f64::from_bits(bits) + value).to_bits())
        });
    }
    #[inline(always)]
    fn store(cell: &AtomicU64, value: Self) {
        cell.store(value.to_bits(), Ordering::Relaxed);
    }
    fn load(cell: &AtomicU64) -> Self {
        f64::from_bits(cell.load(Ordering::Relaxed))
    }
}

/// One attribute combination's running value.
#[derive(Default)]
pub(crate) struct Cell {
    value: AtomicU64,
    /// Gauges only: whether the cell was ever set.
    set: AtomicBool,
}

/// The recording side of a [`CellStore`]: the cells themselves, so a measurement reaches
/// its atomic through one pointer.
#[derive(Clone)]
pub struct Cells(Arc<[Cell]>);

impl Cells {
    /// Adds to cell `index`.
    #[inline(always)]
    pub(crate) fn add<T: CellValue>(&self, index: usize, value: T) {
        T::add(&self.0[index].value, value)
    }

    /// Sets cell `index` (gauges).
    #[inline(always)]
    pub(crate) fn set<T: CellValue>(&self, index: usize, value: T) {
        let cell = &self.0[index];
        T::store(&cell.value, value);
        // Release: a reader that sees the flag also sees the value (never a spurious 0).
        cell.set.store(true, Ordering::Release);
    }
}

/// The cells of one instrument and the attributes each is reported with.
pub struct CellStore {
    cells: Cells,
    attributes: Vec<Vec<KeyValue>>,
}

impl CellStore {
    /// Zeroed cells for `attributes` (one per combination, in index order).
    pub(crate) fn new(attributes: Vec<Vec<KeyValue>>) -> Self {
        Self {
            cells: Cells(attributes.iter().map(|_| Cell::default()).collect()),
            attributes,
        }
    }

    /// The handle recording goes through.
    pub(crate) fn cells(&self) -> Cells {
        self.cells.clone()
    }

    /// Reports every cell (only the ones ever set, when `only_set`).
    pub(crate) fn report<T: CellValue>(
        &self,
        only_set: bool,
        mut observe: impl FnMut(T, &[KeyValue]),
    ) {
        for (cell, attributes) in self.cells.0.iter().zip(&self.attributes) {
            if !only_set || cell.set.load(Ordering::Acquire) {
                observe(T::load(&cell.value), attributes);
            }
        }
    }

    /// Every cell as one value: the sum of all cells, or (when `only_set`, for gauges) the
    /// last cell ever set in index order; `None` for gauges never set.
    pub(crate) fn total<T: CellValue>(&self, only_set: bool) -> Option<T> {
        let total = AtomicU64::new(0);
        let mut any = !only_set;
        self.report::<T>(only_set, |value, _| {
            if only_set {
                T::store(&total, value);
            } else {
                T::add(&total, value);
            }
            any = true;
        });
        any.then(|| T::load(&total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_cells() {
        let cell = AtomicU64::new(0);
        i64::add(&cell, 5);
        i64::add(&cell, -8);
        assert_eq!(i64::load(&cell), -3);
        let cell = AtomicU64::new(0.0f64.to_bits());
        f64::add(&cell, 0.25);
        f64::add(&cell, 1.5);
        assert_eq!(f64::load(&cell), 1.75);
        let store = CellStore::new(vec![vec![], vec![KeyValue::new("k", "v")]]);
        store.cells().set(1, 2.5f64);
        let mut seen = Vec::new();
        store.report::<f64>(true, |v, a| seen.push((v, a.len())));
        assert_eq!(seen, [(2.5, 1)]);
    }
}
