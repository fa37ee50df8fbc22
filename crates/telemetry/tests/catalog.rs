//! The catalog of this binary: every struct it links registers itself, the checks pass,
//! limits come from the declared attributes, and the renderings carry every definition.

use telemetry::{AttributeValues, Counter, Histogram, Metrics, ObservableGauge};

telemetry::attribute_enum! {
    /// Test outcome.
    pub enum Outcome: "test.catalog.outcome" { Ok => "ok", Failed => "failed" }
}

telemetry::attribute_enum! {
    /// Why it failed; absent on success.
    pub enum Reason: "test.catalog.reason" { Timeout => "timeout", Refused => "refused" }
}

/// A gauge under another name: unit `1` is allowed, the derive reads the kind from the type.
type Fill = telemetry::Gauge<f64, ()>;

/// A component declared in this test binary, not in the SDK.
#[derive(Metrics)]
#[metrics(prefix = "mynode.catalog")]
pub struct CatalogMetrics {
    /// Jobs, by outcome and reason.
    #[metric(unit = "{job}")]
    pub jobs: Counter<u64, (Outcome, Option<Reason>)>,
    /// Job time.
    #[metric(name = "job.duration", unit = "s", buckets = [0.5, 1.0])]
    pub duration: Histogram<f64, ()>,
    /// Queue depth.
    #[metric(name = "queue.depth", unit = "{job}")]
    pub depth: ObservableGauge<u64, ()>,
    /// Queue fill, through an alias.
    #[metric(unit = "1")]
    pub fill: Fill,
}

#[test]
fn a_binary_catalog_holds_its_own_and_the_sdk_definitions_and_checks_clean() {
    let catalog = telemetry::catalog();
    catalog.check().unwrap();
    let names: Vec<&str> = catalog.metrics().iter().map(|m| m.name).collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("mynode.catalog."))
            .count(),
        4,
        "{names:?}"
    );
    for own in [
        "otel.sdk.exporter.metric_data_point.exported",
        "otel.sdk.exporter.operation.duration",
        "otel.sdk.metric_reader.collection.duration",
        "telemetry.scrapes",
        "telemetry.source.last_update",
    ] {
        assert!(names.contains(&own), "{own} missing: {names:?}");
    }
    // Nothing the SDK emits is under a namespace this node chose, or under `node.`.
    assert!(names.iter().all(|n| !n.starts_with("node.")), "{names:?}");

    let jobs = catalog.get("mynode.catalog.jobs").unwrap();
    assert_eq!(jobs.description, "Jobs, by outcome and reason.");
    assert_eq!(jobs.component, "mynode.catalog");
    assert_eq!(jobs.defined_at, "catalog::CatalogMetrics::jobs");
    assert_eq!(jobs.closed_series(), Some(2 * 3));
    assert_eq!(
        jobs.cardinality_limit,
        2 * 3 * telemetry::MAX_COMPONENT_INSTANCES
    );
    assert!(jobs.attributes[1].optional);
    let duration = catalog.get("mynode.catalog.job.duration").unwrap();
    assert_eq!(duration.buckets, Some(&[0.5, 1.0][..]));
    assert_eq!(
        duration.prometheus_name(),
        "mynode_catalog_job_duration_seconds"
    );
}

#[test]
fn every_limit_is_derived_from_the_declared_attributes() {
    for info in telemetry::catalog().metrics() {
        let product: usize = info
            .attributes
            .iter()
            .map(|a| match a.values {
                AttributeValues::Closed(values) => values.len() + usize::from(a.optional),
                AttributeValues::Unbounded { limit } => limit,
            })
            .product();
        let expected = match info.closed_series() {
            Some(_) => product * telemetry::MAX_COMPONENT_INSTANCES,
            None => product,
        };
        assert_eq!(info.cardinality_limit, expected, "{}", info.name);
        assert!(
            info.cardinality_limit < 2000,
            "{} keeps the SDK's default",
            info.name
        );
    }
}

#[test]
fn markdown_and_json_carry_every_definition() {
    let catalog = telemetry::catalog();
    let markdown = catalog.markdown();
    let json: serde_json::Value = serde_json::from_str(&catalog.json()).unwrap();
    let entries = json["metrics"].as_array().unwrap();
    assert_eq!(entries.len(), catalog.metrics().len());
    for info in catalog.metrics() {
        assert!(
            markdown.contains(&format!(
                "| `{}` | `{}` |",
                info.name,
                info.prometheus_name()
            )),
            "{} missing from the reference",
            info.name
        );
    }
    let jobs = entries
        .iter()
        .find(|m| m["name"] == "mynode.catalog.jobs")
        .unwrap();
    assert_eq!(jobs["prometheus_name"], "mynode_catalog_jobs_total");
    assert_eq!(jobs["kind"], "counter");
    assert_eq!(jobs["monotonic"], true);
    assert_eq!(jobs["unit"], "{job}");
    assert_eq!(jobs["attributes"][0]["label"], "test_catalog_outcome");
    assert_eq!(
        jobs["attributes"][0]["values"],
        serde_json::json!(["ok", "failed"])
    );
    assert_eq!(jobs["attributes"][1]["optional"], true);
    assert!(markdown.contains("timeout, refused (or absent)"));
}
