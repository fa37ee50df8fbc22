//! The sequencer: every slot, takes transactions from the mempool, builds a block (sha256
//! merkle root), stores it, hands it to the prover and announces it to peers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use telemetry::{Counter, Histogram, Metrics, TelemetryClient};
use tokio_util::sync::CancellationToken;

use crate::mempool::Mempool;
use crate::p2p::P2p;
use crate::prover::Prover;
use crate::storage::Storage;
use crate::tx::Block;

telemetry::attribute_enum! {
    /// What a slot produced.
    pub enum SlotOutcome: "sequencer.slot.outcome" {
        /// A block with transactions.
        Built => "built",
        /// A block without transactions.
        Empty => "empty",
        /// The slot passed without a block (the sequencer was late).
        Missed => "missed",
    }
}

/// The sequencer's instrumentation.
#[derive(Metrics)]
#[metrics(prefix = "node.sequencer")]
struct SequencerMetrics {
    /// Slots, by outcome.
    #[metric(unit = "{slot}")]
    slots: Counter<u64, (SlotOutcome,)>,
    /// Time to build one block (take transactions, compute the merkle root).
    #[metric(name = "block.build.duration", unit = "s")]
    build_duration: Histogram<f64, ()>,
    /// Transactions per block.
    #[metric(name = "block.transactions", unit = "{transaction}")]
    block_transactions: Histogram<f64, ()>,
    /// Bytes of transactions per block.
    #[metric(name = "block.size", unit = "By")]
    block_size: Histogram<f64, ()>,
    /// Transactions included in blocks.
    #[metric(unit = "{transaction}")]
    included: Counter<u64, ()>,
    /// Time from a transaction's arrival in the mempool to its inclusion in a block.
    #[metric(name = "inclusion.delay", unit = "s")]
    inclusion_delay: Histogram<f64, ()>,
}

impl SequencerMetrics {
    fn block_built(&self, block: &Block, build_time: Duration) {
        let outcome = if block.transactions.is_empty() {
            SlotOutcome::Empty
        } else {
            SlotOutcome::Built
        };
        self.slots.add(1, (outcome,));
        self.build_duration.record(build_time.as_secs_f64(), ());
        self.block_transactions
            .record(block.transactions.len() as f64, ());
        self.block_size.record(block.size() as f64, ());
        self.included.add(block.transactions.len() as u64, ());
    }
}

/// The sequencer and what it feeds.
pub struct Sequencer {
    /// Slot length.
    pub slot: Duration,
    /// Transactions per block at most.
    pub max_block_transactions: usize,
    /// Where transactions come from.
    pub mempool: Arc<Mempool>,
    /// Where blocks go.
    pub storage: Arc<Storage>,
    /// Who proves them.
    pub prover: Arc<Prover>,
    /// Who hears about them.
    pub p2p: Arc<P2p>,
    metrics: SequencerMetrics,
    included: AtomicU64,
}

impl Sequencer {
    /// A sequencer reporting through `client`.
    pub fn new(
        slot: Duration,
        max_block_transactions: usize,
        mempool: Arc<Mempool>,
        storage: Arc<Storage>,
        prover: Arc<Prover>,
        p2p: Arc<P2p>,
        client: &TelemetryClient,
    ) -> Self {
        Self {
            slot,
            max_block_transactions,
            mempool,
            storage,
            prover,
            p2p,
            metrics: SequencerMetrics::new(client),
            included: AtomicU64::new(0),
        }
    }

    /// Transactions included so far.
    pub fn included(&self) -> u64 {
        self.included.load(Ordering::Relaxed)
    }

    /// Builds one block per slot until cancelled. A slot whose tick comes late (the
    /// runtime was busy) is counted as missed.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let started = Instant::now();
        let mut ticks =
            tokio::time::interval_at(tokio::time::Instant::now() + self.slot, self.slot);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_slot = 0u128;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let slot = started.elapsed().as_nanos() / self.slot.as_nanos().max(1);
            let missed = slot.saturating_sub(last_slot + 1) as u64;
            if missed > 0 {
                self.metrics.slots.add(missed, (SlotOutcome::Missed,));
                tracing::warn!(missed, "sequencer missed slots");
            }
            last_slot = slot;
            let this = self.clone();
            // Storage syncs to disk and the merkle root is CPU work: off the async workers.
            match tokio::task::spawn_blocking(move || this.build_block()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::error!(%error, "block not stored; slot missed");
                    self.metrics.slots.add(1, (SlotOutcome::Missed,));
                }
                Err(error) => tracing::error!(%error, "block builder task failed"),
            }
        }
    }

    /// Builds, stores, proves and announces one block: one trace, its root span linked to
    /// the admission of every transaction it includes.
    fn build_block(&self) -> Result<(), crate::storage::StorageError> {
        let span = tracing::info_span!(
            parent: None,
            "block.produce",
            block.height = self.storage.height() + 1,
            block.transactions = tracing::field::Empty,
        );
        let _entered = span.enter();
        let started = Instant::now();
        let pending = tracing::info_span!("block.select").in_scope(|| {
            let pending = self.mempool.take(self.max_block_transactions);
            for p in &pending {
                p.trace.link_from(&span);
            }
            pending
        });
        span.record("block.transactions", pending.len());
        let arrivals: Vec<Instant> = pending.iter().map(|p| p.arrived).collect();
        let block = Block::new(
            self.storage.height() + 1,
            pending.into_iter().map(|p| p.tx).collect(),
        );
        let build_time = started.elapsed();
        tracing::info_span!("storage.write").in_scope(|| self.storage.append(&block))?;
        let now = Instant::now();
        for arrived in arrivals {
            self.metrics
                .inclusion_delay
                .record(now.duration_since(arrived).as_secs_f64(), ());
        }
        self.metrics.block_built(&block, build_time);
        self.included
            .fetch_add(block.transactions.len() as u64, Ordering::Relaxed);
        let mut root = [0u8; 32];
        if hex::decode_to_slice(&block.root, &mut root).is_ok() {
            tracing::info_span!("prover.submit")
                .in_scope(|| self.prover.prove_block(root, block.transactions.len()));
        }
        self.p2p.announce_block(&block);
        Ok(())
    }
}
