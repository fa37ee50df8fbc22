//! A node's block sync, instrumented with the telemetry SDK from outside its repository.
//! Everything here is what the SDK's README asks of a node: one struct of metrics under
//! the node's own namespace, typed attributes, and `tracing` spans that continue the
//! sender's trace (`TraceContext`), and nothing else.

use telemetry::{Counter, Gauge, Histogram, Metrics, TelemetryClient, TraceContext};

telemetry::attribute_enum! {
    /// Where a block came from.
    pub enum SyncSource: "sync.source" {
        /// Gossiped by a peer.
        Peer => "peer",
        /// Loaded from a checkpoint.
        Checkpoint => "checkpoint",
    }
}

telemetry::attribute_enum! {
    /// What sync did with a block.
    pub enum SyncOutcome: "sync.outcome" {
        /// Appended to the chain.
        Applied => "applied",
        /// Failed validation.
        Rejected => "rejected",
        /// Already known.
        Stale => "stale",
    }
}

/// Block sync's instrumentation: one field, one metric, named `<prefix>.<field>`.
#[derive(Metrics)]
#[metrics(prefix = "mynode.sync")]
pub struct SyncMetrics {
    /// Blocks received by sync, by source and outcome.
    #[metric(unit = "{block}")]
    pub blocks: Counter<u64, (SyncSource, SyncOutcome)>,
    /// Time to run one sync step.
    #[metric(unit = "s", buckets = [0.001, 0.01, 0.1, 1.0])]
    pub duration: Histogram<f64, ()>,
    /// Height of the local chain head.
    #[metric(unit = "{block}")]
    pub height: Gauge<u64, ()>,
}

/// A block as sync sees it.
#[derive(Debug, Clone, Copy)]
pub struct Block {
    /// Its height.
    pub height: u64,
    /// Whether its (simulated) validation passes.
    pub valid: bool,
}

/// The chain head and the sync step that advances it.
pub struct BlockSync {
    head: u64,
    metrics: SyncMetrics,
}

impl BlockSync {
    /// Sync at height 0, reporting through `client`.
    pub fn new(client: &TelemetryClient) -> Self {
        let metrics = SyncMetrics::new(client);
        metrics.height.record(0, ());
        Self { head: 0, metrics }
    }

    /// One sync step: applies `block` if it extends the head.
    pub fn receive(&mut self, block: Block, source: SyncSource) -> SyncOutcome {
        self.receive_traced(block, source, None)
    }

    /// One sync step for a block whose message carried the sender's W3C `traceparent`:
    /// the step's span continues the sender's trace.
    pub fn receive_traced(
        &mut self,
        block: Block,
        source: SyncSource,
        traceparent: Option<&str>,
    ) -> SyncOutcome {
        let span = tracing::info_span!(
            "sync.receive",
            block.height = block.height,
            sync.outcome = tracing::field::Empty,
        );
        if let Some(parent) = traceparent.and_then(TraceContext::from_traceparent) {
            parent.set_as_parent_of(&span);
        }
        let _entered = span.enter();
        let _step = self.metrics.duration.start_timer(());
        let outcome = if block.height <= self.head {
            SyncOutcome::Stale
        } else if !block.valid || block.height != self.head + 1 {
            SyncOutcome::Rejected
        } else {
            self.head = block.height;
            self.metrics.height.record(self.head, ());
            SyncOutcome::Applied
        };
        self.metrics.blocks.add(1, (source, outcome));
        span.record("sync.outcome", outcome.as_str());
        if outcome == SyncOutcome::Rejected {
            tracing::warn!(height = block.height, "block rejected");
        }
        outcome
    }

    /// The chain head.
    pub fn head(&self) -> u64 {
        self.head
    }
}
