//! The demo node's components, each with its instrumentation struct built from the
//! `telemetry` crate's typed definitions (`telemetry::catalog::{rpc, mempool, sequencer,
//! storage, prover, p2p}`). The binary (`src/main.rs`) wires them together; see
//! `docs/demo-node.md`.

pub mod cli;
pub mod loadgen;
pub mod mempool;
pub mod node;
pub mod p2p;
pub mod prover;
pub mod rpc;
pub mod sequencer;
pub mod storage;
pub mod tx;
