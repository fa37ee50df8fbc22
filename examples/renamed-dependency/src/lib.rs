//! A component whose metrics are declared through the SDK renamed `node_telemetry`: no
//! crate named `telemetry` is in scope here.

use node_telemetry::{Counter, Metrics, Unbounded};

node_telemetry::attribute_enum! {
    /// Where a block came from.
    pub enum Source: "sync.source" { Peer => "peer", Checkpoint => "checkpoint" }
}

node_telemetry::unbounded_attribute! {
    /// The client software a peer announced.
    pub PeerClient: "sync.peer.client", limit = 8
}

/// Block sync's instrumentation.
#[derive(Metrics)]
#[metrics(prefix = "renamed.sync", crate = "node_telemetry")]
pub struct SyncMetrics {
    /// Blocks received, by source.
    #[metric(unit = "{block}")]
    pub blocks: Counter<u64, (Source,)>,
    /// Blocks received, by the sending peer's client.
    #[metric(unit = "{block}")]
    pub by_client: Counter<u64, (Unbounded<PeerClient>,)>,
}
