//! The OpenTelemetry resource: who is reporting.
//!
//! `service.name`, `service.version`, `service.instance.id` (stable for the process),
//! `host.name`, `node.role`, the SDK's `telemetry.sdk.*`, and what the configuration adds.
//! Never argv or the environment at large: secrets live there.

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry_sdk::resource::{Resource, TelemetryResourceDetector};

use crate::config::TelemetryConfig;

/// The `node.role` resource attribute key.
pub const NODE_ROLE_KEY: &str = "node.role";

/// A random id for this process, the same for every client it builds.
pub fn process_instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| uuid::Uuid::new_v4().to_string())
}

/// Builds the resource for `config`.
pub(crate) fn build(config: &TelemetryConfig) -> Resource {
    let mut attributes: Vec<KeyValue> = config
        .resource_attributes
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    attributes.push(KeyValue::new(
        "service.instance.id",
        config
            .service_instance_id
            .clone()
            .unwrap_or_else(|| process_instance_id().to_owned()),
    ));
    if let Some(version) = &config.service_version {
        attributes.push(KeyValue::new("service.version", version.clone()));
    }
    if let Some(role) = &config.node_role {
        attributes.push(KeyValue::new(NODE_ROLE_KEY, role.clone()));
    }
    if !config
        .resource_attributes
        .iter()
        .any(|(k, _)| k == "host.name")
    {
        attributes.push(KeyValue::new(
            "host.name",
            gethostname::gethostname().to_string_lossy().into_owned(),
        ));
    }
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_service_name(config.service_name.clone())
        .with_attributes(attributes)
        .build()
}
