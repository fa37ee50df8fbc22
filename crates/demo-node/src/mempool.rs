//! The mempool: validates transactions (size, signature, duplicates), holds them up to a
//! capacity (evicting the oldest), and hands them to the sequencer.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use telemetry::{
    Callback, Counter, Freshness, Histogram, Metrics, ObservableGauge, TelemetryClient,
    TraceContext,
};

use crate::tx::Transaction;

/// A transaction waiting for a block.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The transaction.
    pub tx: Transaction,
    /// When it entered the pool.
    pub arrived: Instant,
    /// The trace of its admission, which the block that includes it links to.
    pub trace: TraceContext,
}

/// Why a transaction was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Already pending or already included.
    #[error("duplicate transaction")]
    Duplicate,
    /// Signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// Over the size limit.
    #[error("transaction too large")]
    TooLarge,
}

impl Rejection {
    fn outcome(self) -> AdmissionOutcome {
        match self {
            Rejection::Duplicate => AdmissionOutcome::Duplicate,
            Rejection::InvalidSignature => AdmissionOutcome::InvalidSignature,
            Rejection::TooLarge => AdmissionOutcome::TooLarge,
        }
    }
}

telemetry::attribute_enum! {
    /// What the mempool did with a submitted transaction.
    pub enum AdmissionOutcome: "mempool.outcome" {
        /// Accepted into the pool.
        Accepted => "accepted",
        /// Already in the pool or already included.
        Duplicate => "duplicate",
        /// The signature did not verify.
        InvalidSignature => "invalid_signature",
        /// Larger than the transaction size limit.
        TooLarge => "too_large",
    }
}

telemetry::attribute_enum! {
    /// Why a transaction left the pool.
    pub enum RemovalReason: "mempool.removal.reason" {
        /// Included in a block.
        Included => "included",
        /// Evicted to make room (the oldest goes first).
        Evicted => "evicted",
    }
}

telemetry::attribute_enum! {
    /// Where a transaction came from.
    pub enum Origin: "mempool.origin" {
        /// Submitted through this node's RPC.
        Rpc => "rpc",
        /// Gossiped by a peer.
        Gossip => "gossip",
    }
}

/// The mempool's instrumentation.
#[derive(Metrics)]
#[metrics(prefix = "node.mempool")]
struct MempoolMetrics {
    /// Transactions offered to the mempool, by origin and outcome.
    #[metric(unit = "{transaction}")]
    admissions: Counter<u64, (Origin, AdmissionOutcome)>,
    /// Transactions that left the mempool, by reason.
    #[metric(unit = "{transaction}")]
    removals: Counter<u64, (RemovalReason,)>,
    /// Transactions waiting in the mempool.
    #[metric(unit = "{transaction}")]
    size: ObservableGauge<u64, ()>,
    /// Bytes of the transactions waiting in the mempool.
    #[metric(unit = "By")]
    usage: ObservableGauge<u64, ()>,
    /// Time to validate one transaction (size, signature and duplicate checks).
    #[metric(name = "validation.duration", unit = "s")]
    validation: Histogram<f64, ()>,
}

#[derive(Default)]
struct Pool {
    pending: VecDeque<Pending>,
    pending_ids: HashSet<[u8; 32]>,
    /// Recently included ids (bounded), so a re-submission is a duplicate.
    included: VecDeque<[u8; 32]>,
    included_ids: HashSet<[u8; 32]>,
}

/// Limits of the pool.
#[derive(Debug, Clone, Copy)]
pub struct MempoolLimits {
    /// Transactions held at most.
    pub capacity: usize,
    /// Largest transaction accepted, bytes.
    pub max_tx_size: usize,
}

/// The mempool. Cheap to share behind an `Arc`.
pub struct Mempool {
    pool: Mutex<Pool>,
    limits: MempoolLimits,
    count: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    metrics: MempoolMetrics,
    freshness: Freshness,
}

/// How many included ids are remembered for duplicate detection. Small enough to fill
/// within minutes at the demo's rates (100 s at 100 tx/s), after which the node's memory is
/// flat: at 100,000 it kept growing for over an hour at the default rate, and the
/// 10-minute soak saw RSS rise 15% after warm-up.
const INCLUDED_MEMORY: usize = 10_000;

impl Mempool {
    /// An empty pool reporting through `client`.
    pub fn new(limits: MempoolLimits, client: &TelemetryClient) -> Self {
        let (count, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (c, b) = (count.clone(), bytes.clone());
        let metrics = MempoolMetrics::new(
            client,
            MempoolMetricsCallbacks {
                size: Callback::new(move |o| o.observe(c.load(Ordering::Relaxed), ())),
                usage: Callback::new(move |o| o.observe(b.load(Ordering::Relaxed), ())),
            },
        );
        let freshness = client.freshness("mempool");
        freshness.touch();
        Self {
            pool: Mutex::new(Pool::default()),
            limits,
            count,
            bytes,
            metrics,
            freshness,
        }
    }

    /// Validates and admits `tx`.
    pub fn submit(&self, tx: Transaction, origin: Origin) -> Result<(), Rejection> {
        let span = tracing::info_span!(
            "mempool.admit",
            mempool.origin = origin.as_str(),
            mempool.outcome = tracing::field::Empty,
        );
        let _entered = span.enter();
        let started = Instant::now();
        let result = self.admit(tx, TraceContext::of(&span));
        self.metrics.validation.record_since(started, ());
        let outcome = result
            .err()
            .map_or(AdmissionOutcome::Accepted, Rejection::outcome);
        span.record("mempool.outcome", outcome.as_str());
        self.metrics.admissions.add(1, (origin, outcome));
        result
    }

    fn admit(&self, tx: Transaction, trace: TraceContext) -> Result<(), Rejection> {
        if tx.size() > self.limits.max_tx_size {
            return Err(Rejection::TooLarge);
        }
        if !tx.verify() {
            return Err(Rejection::InvalidSignature);
        }
        let id = tx.id();
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.pending_ids.contains(&id) || pool.included_ids.contains(&id) {
            return Err(Rejection::Duplicate);
        }
        while pool.pending.len() >= self.limits.capacity {
            let Some(oldest) = pool.pending.pop_front() else {
                break;
            };
            pool.pending_ids.remove(&oldest.tx.id());
            self.bytes
                .fetch_sub(oldest.tx.size() as u64, Ordering::Relaxed);
            self.metrics.removals.add(1, (RemovalReason::Evicted,));
        }
        self.bytes.fetch_add(tx.size() as u64, Ordering::Relaxed);
        pool.pending_ids.insert(id);
        pool.pending.push_back(Pending {
            tx,
            arrived: Instant::now(),
            trace,
        });
        self.count
            .store(pool.pending.len() as u64, Ordering::Relaxed);
        self.freshness.touch();
        Ok(())
    }

    /// Takes up to `max` transactions, oldest first, for a block.
    pub fn take(&self, max: usize) -> Vec<Pending> {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        let n = max.min(pool.pending.len());
        let taken: Vec<Pending> = pool.pending.drain(..n).collect();
        for pending in &taken {
            let id = pending.tx.id();
            pool.pending_ids.remove(&id);
            pool.included.push_back(id);
            pool.included_ids.insert(id);
            self.bytes
                .fetch_sub(pending.tx.size() as u64, Ordering::Relaxed);
        }
        while pool.included.len() > INCLUDED_MEMORY {
            if let Some(old) = pool.included.pop_front() {
                pool.included_ids.remove(&old);
            }
        }
        self.count
            .store(pool.pending.len() as u64, Ordering::Relaxed);
        self.metrics
            .removals
            .add(taken.len() as u64, (RemovalReason::Included,));
        self.freshness.touch();
        taken
    }

    /// Transactions waiting.
    pub fn pending(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry::testing::TestTelemetry;

    #[test]
    fn validates_evicts_and_counts() {
        let kit = TestTelemetry::new();
        let pool = Mempool::new(
            MempoolLimits {
                capacity: 2,
                max_tx_size: 200,
            },
            kit.client(),
        );
        let a = Transaction::signed("a", 1, "x");
        assert_eq!(pool.submit(a.clone(), Origin::Rpc), Ok(()));
        assert_eq!(
            pool.submit(a.clone(), Origin::Gossip),
            Err(Rejection::Duplicate)
        );
        let bad = Transaction {
            signature: "00".into(),
            ..Transaction::signed("a", 2, "y")
        };
        assert_eq!(
            pool.submit(bad, Origin::Rpc),
            Err(Rejection::InvalidSignature)
        );
        assert_eq!(
            pool.submit(Transaction::signed("a", 3, "z".repeat(300)), Origin::Rpc),
            Err(Rejection::TooLarge)
        );
        pool.submit(Transaction::signed("b", 1, "p"), Origin::Rpc)
            .unwrap();
        pool.submit(Transaction::signed("c", 1, "q"), Origin::Rpc)
            .unwrap(); // evicts a
        assert_eq!(pool.pending(), 2);
        let taken = pool.take(10);
        assert_eq!(taken.len(), 2);
        assert_eq!(
            pool.submit(taken[0].tx.clone(), Origin::Rpc),
            Err(Rejection::Duplicate)
        );

        let s = kit.collect();
        let admissions = |origin, outcome| {
            s.u64_value(
                "node.mempool.admissions",
                &[("mempool.origin", origin), ("mempool.outcome", outcome)],
            )
        };
        assert_eq!(admissions("rpc", "accepted"), Some(3));
        assert_eq!(admissions("gossip", "duplicate"), Some(1));
        assert_eq!(admissions("rpc", "duplicate"), Some(1));
        assert_eq!(admissions("rpc", "invalid_signature"), Some(1));
        assert_eq!(admissions("rpc", "too_large"), Some(1));
        assert_eq!(
            s.u64_value(
                "node.mempool.removals",
                &[("mempool.removal.reason", "evicted")]
            ),
            Some(1)
        );
        assert_eq!(
            s.u64_value(
                "node.mempool.removals",
                &[("mempool.removal.reason", "included")]
            ),
            Some(2)
        );
        assert_eq!(s.u64_value("node.mempool.size", &[]), Some(0));
        assert_eq!(s.u64_value("node.mempool.usage", &[]), Some(0));
        assert!(s
            .value(
                "telemetry.source.last_update",
                &[("telemetry.source.name", "mempool")]
            )
            .is_some());
    }
}
