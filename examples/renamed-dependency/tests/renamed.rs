//! The renamed SDK's derive and attribute macros record and register as usual.

use node_telemetry::testing::TestTelemetry;
use node_telemetry::Unbounded;
use renamed_dependency::{Source, SyncMetrics};

#[test]
fn metrics_declared_through_a_renamed_dependency_record_and_are_in_the_catalog() {
    let telemetry = TestTelemetry::new();
    let sync = SyncMetrics::new(telemetry.client());
    sync.blocks.add(2, (Source::Checkpoint,));
    sync.by_client.add(1, (Unbounded::new("reth/1.2"),));
    let snapshot = telemetry.collect();
    assert_eq!(
        snapshot.u64_value("renamed.sync.blocks", &[("sync.source", "checkpoint")]),
        Some(2)
    );
    assert_eq!(
        snapshot.u64_value(
            "renamed.sync.by_client",
            &[("sync.peer.client", "reth/1.2")]
        ),
        Some(1)
    );
    let catalog = node_telemetry::catalog();
    assert!(catalog.check().is_ok());
    assert!(catalog
        .metrics()
        .iter()
        .any(|m| m.name == "renamed.sync.blocks"));
}
