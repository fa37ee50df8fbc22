//! The demo node's components, each declaring its own metrics as one
//! `#[derive(telemetry::Metrics)]` struct under the node's namespace (`node.rpc`,
//! `node.mempool`, ...): the demo is the SDK's first user and uses nothing another node's
//! crate could not. The binary (`src/main.rs`) wires them together; see
//! `docs/demo-node.md`.

pub mod cli;
pub mod loadgen;
pub mod local_peer;
pub mod mempool;
pub mod node;
pub mod p2p;
pub mod prover;
pub mod rpc;
pub mod sequencer;
pub mod storage;
pub mod tx;
