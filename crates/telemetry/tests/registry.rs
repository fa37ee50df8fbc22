//! Walks the registry: every name valid and unique, no name both a leaf and a namespace,
//! Prometheus names unique, and `docs/metrics.md` generated from this registry.

use std::collections::HashSet;

use telemetry::prometheus_name::family_name;

#[test]
fn names_are_valid_unique_and_never_both_leaf_and_namespace() {
    let registry = telemetry::registry();
    assert!(!registry.is_empty());
    let names: HashSet<&str> = registry.iter().map(|m| m.name).collect();
    assert_eq!(
        names.len(),
        registry.len(),
        "duplicate metric names in the registry"
    );
    for info in &registry {
        assert_eq!(
            telemetry::name::check_metric_name(info.name),
            Ok(()),
            "{}",
            info.name
        );
        assert_eq!(
            telemetry::name::check_unit(info.unit),
            Ok(()),
            "{}",
            info.name
        );
        assert!(
            !info.description.is_empty(),
            "{} has no description",
            info.name
        );
        let mut prefix = String::new();
        for segment in info.name.split('.') {
            if !prefix.is_empty() {
                assert!(
                    !names.contains(prefix.as_str()),
                    "{prefix} is a metric and a namespace of {}",
                    info.name
                );
                prefix.push('.');
            }
            prefix.push_str(segment);
        }
        let keys: HashSet<&str> = info.attributes.iter().map(|a| a.key).collect();
        assert_eq!(
            keys.len(),
            info.attributes.len(),
            "{} declares an attribute twice",
            info.name
        );
        for key in keys {
            // Attribute names share the metric namespace: an attribute is never a metric name.
            assert!(
                !names.contains(key),
                "attribute {key} of {} is also a metric name",
                info.name
            );
        }
    }
    let families: HashSet<String> = registry.iter().map(|m| family_name(m)).collect();
    assert_eq!(
        families.len(),
        registry.len(),
        "two metrics map to one Prometheus name"
    );
}

#[test]
fn cardinality_limits_are_derived_from_declared_attributes() {
    for info in telemetry::registry() {
        let closed: usize = info
            .attributes
            .iter()
            .map(|a| match a.values {
                telemetry::AttributeValues::Closed(values) => values.len(),
                telemetry::AttributeValues::Unbounded { limit } => limit,
            })
            .product();
        let all_closed = info
            .attributes
            .iter()
            .all(|a| matches!(a.values, telemetry::AttributeValues::Closed(_)));
        let expected = if all_closed {
            closed * telemetry::definition::MAX_COMPONENT_INSTANCES
        } else {
            closed
        };
        // A definition may lower the derived limit (correlated attributes), never raise it.
        assert!(
            info.cardinality_limit <= expected && info.cardinality_limit > 0,
            "{}",
            info.name
        );
        assert!(
            info.cardinality_limit < 2000,
            "{} keeps the SDK's default limit",
            info.name
        );
    }
}

#[test]
fn metrics_reference_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/metrics.md");
    let rendered = telemetry::reference::render(&telemetry::registry());
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == rendered,
        "docs/metrics.md is out of date: run `cargo run -p telemetry --example metrics_reference > docs/metrics.md`"
    );
}
