//! Traces and logs from outside the workspace: the node installs the client's layer, its
//! sync step continues the sender's trace, and its warning is a log record in that span.
//! Against a real OTLP receiver on the official protobufs.

use otlp_test_receiver::{attribute, grpc_receiver, hex_id, log_body};
use telemetry::{OtlpConfig, TelemetryClient};
use third_party_node::{Block, BlockSync, SyncSource};
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn a_sync_step_continues_the_senders_trace_and_logs_inside_it() {
    let receiver = grpc_receiver();
    let otlp = OtlpConfig::grpc(format!("http://{}", receiver.addr));
    let client = TelemetryClient::builder("third-party-node")
        .traces(otlp.clone())
        .logs(otlp)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(client.tracing_layer());
    let sender = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    tracing::subscriber::with_default(subscriber, || {
        let mut sync = BlockSync::new(&client);
        let invalid = Block {
            height: 1,
            valid: false,
        };
        sync.receive_traced(invalid, SyncSource::Peer, Some(sender));
    });
    client.shutdown().unwrap(); // flushes spans and logs
    let spans = receiver.all_spans();
    assert_eq!(spans.len(), 1, "{spans:?}");
    let step = &spans[0];
    assert_eq!(step.name, "sync.receive");
    assert_eq!(hex_id(&step.trace_id), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(hex_id(&step.parent_span_id), "b7ad6b7169203331");
    assert_eq!(
        attribute(&step.attributes, "sync.outcome").as_deref(),
        Some("rejected")
    );
    let logs = receiver.all_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(log_body(&logs[0]), "block rejected");
    assert_eq!(logs[0].span_id, step.span_id);
}

/// A node that samples no root of its own (`parentbased_always_off`): its unsampled root
/// still propagates the decision, as `00-<trace>-<span>-00`, so the next node does not
/// sample the trace again (issue 19).
#[test]
fn an_unsampled_root_gives_a_traceparent_with_flags_00() {
    let receiver = grpc_receiver();
    let client = TelemetryClient::builder("third-party-node")
        .traces(OtlpConfig::grpc(format!("http://{}", receiver.addr)))
        .tracing(telemetry::TracingConfig {
            sampler: telemetry::Sampler::ParentBasedAlwaysOff,
            ..Default::default()
        })
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(client.tracing_layer());
    let traceparent = tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!("sync.produce");
        telemetry::TraceContext::of(&root).traceparent()
    })
    .expect("an unsampled root propagates its decision");
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[0], "00");
    assert!(
        parts[1].len() == 32 && parts[1] != "0".repeat(32),
        "{traceparent}"
    );
    assert!(
        parts[2].len() == 16 && parts[2] != "0".repeat(16),
        "{traceparent}"
    );
    assert_eq!(parts[3], "00", "not sampled: {traceparent}");
    client.shutdown().unwrap();
    assert!(receiver.all_spans().is_empty());
}
