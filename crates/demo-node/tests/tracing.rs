//! The demo node, traced: two peered `demo-node` processes push spans and log records to a
//! real in-process OTLP receiver (official protobufs), and a transaction's journey arrives
//! as one trace: RPC server span (continuing the caller's `traceparent`), mempool
//! admission, gossip publication, the peer's receipt and admission; the block that
//! includes it links to it. With `RUST_LOG=trace` on the node, no transport crate's record
//! is exported.

mod support;

use std::time::Duration;

use otlp_test_receiver::{
    attribute, from_export_path, grpc_receiver, hex_id, log_body, string_attributes, Receiver, Span,
};
use support::{eventually, request, signed_tx, Node};

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// The spans a receiver got, with the `service.instance.id` of the node that sent each.
fn spans_by_node(receiver: &Receiver) -> Vec<(String, Span)> {
    receiver
        .spans
        .requests()
        .into_iter()
        .flat_map(|r| r.resource_spans)
        .flat_map(|r| {
            let instance = r
                .resource
                .as_ref()
                .and_then(|res| {
                    string_attributes(&res.attributes)
                        .into_iter()
                        .find(|(k, _)| k == "service.instance.id")
                })
                .map(|(_, v)| v)
                .unwrap_or_default();
            r.scope_spans
                .into_iter()
                .flat_map(|s| s.spans)
                .map(move |s| (instance.clone(), s))
        })
        .collect()
}

fn post_with_traceparent(node: &Node, body: &str, span_id: &str) -> (u16, String) {
    request(
        node.rpc,
        &format!(
            "POST /tx HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n\
             traceparent: 00-{CALLER_TRACE}-{span_id}-01\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn refs(e: &[(String, String)]) -> Vec<(&str, &str)> {
    e.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn env(receiver: &Receiver, instance: &str, rust_log: &str) -> Vec<(String, String)> {
    [
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{}", receiver.addr),
        ),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000".into()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".into()),
        ("OTEL_BLRP_SCHEDULE_DELAY", "200".into()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            format!("service.instance.id={instance}"),
        ),
        ("RUST_LOG", rust_log.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[test]
fn a_transactions_journey_is_one_trace_across_two_nodes() {
    let receiver = grpc_receiver();
    let env_a = env(&receiver, "node-a", "trace");
    let env_b = env(&receiver, "node-b", "info");
    let a = Node::start(&["--no-load", "--slot", "500ms"], &refs(&env_a));
    let peer = a.p2p.to_string();
    // B runs its load generator: its HTTP client spans carry traceparent to its RPC.
    let b = Node::start(
        &["--load-rate", "20", "--slot", "500ms", "--peer", &peer],
        &refs(&env_b),
    );
    assert!(
        eventually(Duration::from_secs(30), || a
            .scrape()
            .sum("node_p2p_peers", &[])
            >= 1.0),
        "b connected to a"
    );

    let (status, answer) = post_with_traceparent(&a, &signed_tx("alice", 1, "traced"), CALLER_SPAN);
    assert_eq!(status, 200, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer["trace_id"], CALLER_TRACE,
        "the caller's trace continues"
    );
    // A rejected transaction: its log record sits in its request's span.
    let forged = signed_tx("mallory", 1, "x").replace("\"signature\":\"", "\"signature\":\"00");
    let (status, _) = post_with_traceparent(&a, &forged, "00000000000000aa");
    assert_eq!(status, 422);

    let complete = |r: &Receiver| {
        let spans = spans_by_node(r);
        let gossip_admitted = spans.iter().any(|(node, s)| {
            node == "node-b" && s.name == "mempool.admit" && hex_id(&s.trace_id) == CALLER_TRACE
        });
        let included_on_both = ["node-a", "node-b"].iter().all(|n| {
            spans.iter().any(|(node, s)| {
                node == n
                    && s.name == "block.produce"
                    && s.links.iter().any(|l| hex_id(&l.trace_id) == CALLER_TRACE)
            })
        });
        let proved = spans.iter().any(|(_, s)| s.name == "prover.prove");
        gossip_admitted && included_on_both && proved
    };
    let arrived = eventually(Duration::from_secs(60), || complete(&receiver));
    let spans = spans_by_node(&receiver);
    let journey: Vec<&(String, Span)> = spans
        .iter()
        .filter(|(_, s)| hex_id(&s.trace_id) == CALLER_TRACE)
        .collect();
    assert!(
        arrived,
        "journey so far: {:?}",
        journey
            .iter()
            .map(|(n, s)| format!("{n}:{}", s.name))
            .collect::<Vec<_>>()
    );
    let find = |node: &str, name: &str| -> &Span {
        journey
            .iter()
            .find(|(n, s)| n == node && s.name == name)
            .map(|(_, s)| s)
            .unwrap_or_else(|| panic!("{node}:{name} not in the journey"))
    };
    // Node A: the RPC server span, child of the caller's span.
    let server = find("node-a", "POST /tx");
    assert_eq!(hex_id(&server.parent_span_id), CALLER_SPAN);
    assert_eq!(server.kind, 2, "SPAN_KIND_SERVER");
    assert_eq!(
        attribute(&server.attributes, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        attribute(&server.attributes, "http.route").as_deref(),
        Some("/tx")
    );
    assert_eq!(
        attribute(&server.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );
    let admit_a = find("node-a", "mempool.admit");
    assert_eq!(admit_a.parent_span_id, server.span_id);
    assert_eq!(
        attribute(&admit_a.attributes, "mempool.origin").as_deref(),
        Some("rpc")
    );
    assert_eq!(
        attribute(&admit_a.attributes, "mempool.outcome").as_deref(),
        Some("accepted")
    );
    let publish = find("node-a", "publish transaction");
    assert_eq!(publish.parent_span_id, server.span_id);
    assert_eq!(publish.kind, 4, "SPAN_KIND_PRODUCER");
    assert_eq!(
        attribute(&publish.attributes, "messaging.destination.name").as_deref(),
        Some("transaction")
    );
    // Node B: the receipt, child of A's publication, and its admission.
    let receive = find("node-b", "receive transaction");
    assert_eq!(receive.parent_span_id, publish.span_id);
    assert_eq!(receive.kind, 5, "SPAN_KIND_CONSUMER");
    let admit_b = find("node-b", "mempool.admit");
    assert_eq!(admit_b.parent_span_id, receive.span_id);
    assert_eq!(
        attribute(&admit_b.attributes, "mempool.origin").as_deref(),
        Some("gossip")
    );

    // Each node's block links to that node's admission, and is one trace of its own.
    for (node, admit) in [("node-a", admit_a), ("node-b", admit_b)] {
        let block = spans
            .iter()
            .find(|(n, s)| {
                n == node
                    && s.name == "block.produce"
                    && s.links.iter().any(|l| l.span_id == admit.span_id)
            })
            .map(|(_, s)| s)
            .unwrap_or_else(|| panic!("{node}: no block links to its admission"));
        assert!(block.parent_span_id.is_empty(), "a block is a root");
        assert_ne!(hex_id(&block.trace_id), CALLER_TRACE);
        assert!(attribute(&block.attributes, "block.height").is_some());
        for child in ["block.select", "storage.write", "prover.submit"] {
            assert!(
                spans.iter().any(|(n, s)| n == node
                    && s.name == child
                    && s.parent_span_id == block.span_id),
                "{node}: {child} is not a child of its block"
            );
        }
    }
    let submit_ids: Vec<&Vec<u8>> = spans
        .iter()
        .filter(|(_, s)| s.name == "prover.submit")
        .map(|(_, s)| &s.span_id)
        .collect();
    assert!(
        spans
            .iter()
            .filter(|(_, s)| s.name == "prover.prove")
            .all(|(_, s)| submit_ids.contains(&&s.parent_span_id)),
        "every proof job is a child of its block's prover.submit"
    );

    // B's load generator: a client span, and B's server span as its child (HTTP injection).
    let client_span = spans
        .iter()
        .find(|(n, s)| n == "node-b" && s.name == "POST" && s.kind == 3)
        .map(|(_, s)| s)
        .expect("a load generator client span (SPAN_KIND_CLIENT)");
    assert!(client_span.parent_span_id.is_empty());
    assert_eq!(
        attribute(&client_span.attributes, "http.request.method").as_deref(),
        Some("POST")
    );
    assert!(
        spans.iter().any(|(n, s)| n == "node-b"
            && s.name == "POST /tx"
            && s.parent_span_id == client_span.span_id
            && s.trace_id == client_span.trace_id),
        "B's server span continues its client's trace"
    );

    // Log records: the rejection, inside its request's span; the summary line.
    assert!(eventually(Duration::from_secs(30), || receiver
        .all_logs()
        .iter()
        .any(|l| log_body(l) == "summary")));
    let logs = receiver.all_logs();
    let rejected = logs
        .iter()
        .find(|l| log_body(l) == "transaction rejected")
        .expect("the rejection was logged over OTLP");
    assert_eq!(hex_id(&rejected.trace_id), CALLER_TRACE);
    let rejected_request = spans
        .iter()
        .find(|(_, s)| s.name == "POST /tx" && hex_id(&s.parent_span_id) == "00000000000000aa")
        .map(|(_, s)| s)
        .expect("the rejected request's span");
    assert_eq!(rejected.span_id, rejected_request.span_id);

    // RUST_LOG=trace on node A: nothing from the export path went out.
    let scopes: Vec<String> = receiver
        .logs_by_scope()
        .into_iter()
        .map(|(scope, _)| scope)
        .collect();
    let leaked: Vec<&String> = scopes.iter().filter(|s| from_export_path(s)).collect();
    assert!(
        leaked.is_empty(),
        "export-path records exported: {leaked:?}"
    );
    assert!(
        scopes.iter().any(|s| s.starts_with("demo_node")),
        "{scopes:?}"
    );
    otlp_test_receiver::note(&format!(
        "demo-node tracing: {} spans and {} log records from two nodes; the journey had {} spans",
        spans.len(),
        logs.len(),
        journey.len()
    ));
    b.terminate_cleanly();
    a.terminate_cleanly();
}
