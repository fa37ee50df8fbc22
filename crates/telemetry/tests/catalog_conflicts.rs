//! A binary whose linked catalog conflicts: `check()` reports every conflict, each naming
//! both definitions, and no client can be built in it (not even the no-op client).

use telemetry::{BuildError, Conflict, Counter, Metrics, TelemetryClient};

telemetry::attribute_enum! {
    /// Keyed by a name that is also a metric.
    pub enum Clash: "mynode.clash.kind" { A => "a" }
}

/// One crate's sync metrics.
#[derive(Metrics)]
#[metrics(prefix = "mynode.sync")]
pub struct SyncMetrics {
    /// Blocks.
    #[metric(unit = "{block}")]
    pub blocks: Counter<u64, ()>,
}

/// Another crate declaring the same name.
#[derive(Metrics)]
#[metrics(prefix = "mynode.sync")]
pub struct OtherSyncMetrics {
    /// Blocks again.
    #[metric(unit = "{block}")]
    pub blocks: Counter<u64, ()>,
}

/// A metric under a name that another metric uses as its namespace, a metric named like
/// an attribute key, and two names Prometheus spells alike.
#[derive(Metrics)]
#[metrics(prefix = "mynode")]
pub struct MixedMetrics {
    /// A leaf that is also a namespace.
    #[metric(unit = "{item}")]
    pub queue: Counter<u64, ()>,
    /// Under the leaf above.
    #[metric(name = "queue.depth", unit = "{item}")]
    pub queue_depth: Counter<u64, (Clash,)>,
    /// Named like the attribute key above.
    #[metric(name = "clash.kind", unit = "{item}")]
    pub clash_kind: Counter<u64, ()>,
    /// Spelled `mynode_a_b_total` in Prometheus.
    #[metric(name = "a.b", unit = "{item}")]
    pub a_b_dotted: Counter<u64, ()>,
    /// Also spelled `mynode_a_b_total`.
    #[metric(name = "a_b", unit = "{item}")]
    pub a_b_underscored: Counter<u64, ()>,
}

#[test]
fn check_reports_every_conflict_with_both_definitions() {
    let error = telemetry::catalog().check().unwrap_err();
    let conflicts = &error.conflicts;
    assert!(
        conflicts.contains(&Conflict::DuplicateName {
            name: "mynode.sync.blocks",
            first: "catalog_conflicts::OtherSyncMetrics::blocks",
            second: "catalog_conflicts::SyncMetrics::blocks",
        }) || conflicts.contains(&Conflict::DuplicateName {
            name: "mynode.sync.blocks",
            first: "catalog_conflicts::SyncMetrics::blocks",
            second: "catalog_conflicts::OtherSyncMetrics::blocks",
        }),
        "{error}"
    );
    assert!(
        conflicts.iter().any(|c| matches!(
            c,
            Conflict::NameIsNamespace {
                name: "mynode.queue",
                metric: "mynode.queue.depth",
                ..
            }
        )),
        "{error}"
    );
    assert!(
        conflicts.iter().any(|c| matches!(
            c,
            Conflict::AttributeIsMetric {
                name: "mynode.clash.kind",
                ..
            }
        )),
        "{error}"
    );
    assert!(
        conflicts.iter().any(|c| matches!(c,
        Conflict::PrometheusCollision { series, .. } if series == "mynode_a_b_total")),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("`catalog_conflicts::SyncMetrics::blocks`"),
        "{message}"
    );
    assert!(
        message.contains("`catalog_conflicts::OtherSyncMetrics::blocks`"),
        "{message}"
    );
    assert!(
        message.contains("`catalog_conflicts::MixedMetrics::a_b_dotted`"),
        "{message}"
    );
    assert!(
        message.contains("`catalog_conflicts::MixedMetrics::a_b_underscored`"),
        "{message}"
    );
}

#[test]
fn no_client_is_built_over_a_conflicting_catalog() {
    for builder in [
        TelemetryClient::builder("conflicted").prometheus("127.0.0.1:0".parse().unwrap()),
        TelemetryClient::builder("conflicted"), // the no-op client too
    ] {
        match builder.build() {
            Err(BuildError::Catalog(error)) => {
                let message = error.to_string();
                assert!(
                    message.contains("metric `mynode.sync.blocks` is declared twice"),
                    "{message}"
                );
            }
            other => panic!("expected a catalog error, got {other:?}"),
        }
    }
}
