//! A second declaration of a name this node already uses (here in a test; in practice in
//! another crate it links) is refused, naming both definitions.

use telemetry::{BuildError, Counter, Metrics, TelemetryClient};
use third_party_node::SyncMetrics;

/// Someone else's sync metrics, under the same prefix.
#[derive(Metrics)]
#[metrics(prefix = "mynode.sync")]
pub struct OtherSyncMetrics {
    /// Blocks, counted a second time.
    #[metric(unit = "{block}")]
    pub blocks: Counter<u64, ()>,
}

#[test]
fn a_duplicate_declaration_is_refused_with_both_names() {
    let _ours = SyncMetrics::new(&TelemetryClient::disabled());
    let _theirs = OtherSyncMetrics::new(&TelemetryClient::disabled());
    let error = telemetry::catalog().check().unwrap_err().to_string();
    assert!(
        error.contains("metric `mynode.sync.blocks` is declared twice"),
        "{error}"
    );
    assert!(
        error.contains("`third_party_node::SyncMetrics::blocks`"),
        "{error}"
    );
    assert!(
        error.contains("`duplicate::OtherSyncMetrics::blocks`"),
        "{error}"
    );
    match TelemetryClient::builder("third-party-node")
        .prometheus("127.0.0.1:0".parse().unwrap())
        .build()
    {
        Err(BuildError::Catalog(refused)) => assert_eq!(refused.to_string(), error),
        other => panic!("a client was built over a conflicting catalog: {other:?}"),
    }
}
