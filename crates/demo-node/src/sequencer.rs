//! The sequencer: every slot, takes transactions from the mempool, builds a block (sha256
//! merkle root), stores it, hands it to the prover and announces it to peers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use telemetry::catalog::sequencer::{
    SlotOutcome, BLOCK_BUILD_DURATION, BLOCK_SIZE, BLOCK_TRANSACTIONS, INCLUDED, INCLUSION_DELAY,
    SLOTS,
};
use telemetry::{Counter, Histogram, TelemetryClient};
use tokio_util::sync::CancellationToken;

use crate::mempool::Mempool;
use crate::p2p::P2p;
use crate::prover::Prover;
use crate::storage::Storage;
use crate::tx::Block;

/// The sequencer's instrumentation.
struct SequencerMetrics {
    slots: Counter<u64, (SlotOutcome,)>,
    build_duration: Histogram<f64, ()>,
    block_transactions: Histogram<f64, ()>,
    block_size: Histogram<f64, ()>,
    included: Counter<u64, ()>,
    inclusion_delay: Histogram<f64, ()>,
}

impl SequencerMetrics {
    fn new(client: &TelemetryClient) -> Self {
        let meter = client.component("sequencer");
        Self {
            slots: meter.counter(&SLOTS),
            build_duration: meter.histogram(&BLOCK_BUILD_DURATION),
            block_transactions: meter.histogram(&BLOCK_TRANSACTIONS),
            block_size: meter.histogram(&BLOCK_SIZE),
            included: meter.counter(&INCLUDED),
            inclusion_delay: meter.histogram(&INCLUSION_DELAY),
        }
    }

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

    fn build_block(&self) -> Result<(), crate::storage::StorageError> {
        let started = Instant::now();
        let pending = self.mempool.take(self.max_block_transactions);
        let arrivals: Vec<Instant> = pending.iter().map(|p| p.arrived).collect();
        let block = Block::new(
            self.storage.height() + 1,
            pending.into_iter().map(|p| p.tx).collect(),
        );
        let build_time = started.elapsed();
        self.storage.append(&block)?;
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
            self.prover.prove_block(root, block.transactions.len());
        }
        self.p2p.announce_block(&block);
        Ok(())
    }
}
