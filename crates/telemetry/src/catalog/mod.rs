//! The node's metric catalog: every typed definition, grouped by component, and the
//! [`registry`] that lists them all.
//!
//! Components build their instrumentation from these definitions (see
//! `docs/architecture.md`); `docs/metrics.md` is generated from [`registry`].

pub mod host;
pub mod mempool;
pub mod p2p;
pub mod prover;
pub mod rpc;
pub mod sequencer;
pub mod storage;
pub mod telemetry;

use crate::MetricInfo;

/// Every metric definition of the catalog, grouped by component in a stable order.
pub fn registry() -> Vec<&'static MetricInfo> {
    [
        rpc::ALL,
        mempool::ALL,
        sequencer::ALL,
        storage::ALL,
        prover::ALL,
        p2p::ALL,
        telemetry::ALL,
        host::ALL,
    ]
    .into_iter()
    .flatten()
    .copied()
    .collect()
}
