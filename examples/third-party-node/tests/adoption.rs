//! What adopting the SDK gives a node from outside its workspace: its own namespace on its
//! own bridge with every series before the first event, the test kit, bound handles, and
//! its metrics reference.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use telemetry::testing::TestTelemetry;
use telemetry::TelemetryClient;
use third_party_node::{Block, BlockSync, SyncMetrics, SyncOutcome, SyncSource};

/// `GET /metrics` on the bridge, as text.
fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of the exposition line that starts with `series ` exactly.
fn value(text: &str, series: &str) -> Option<f64> {
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .map(|v| v.parse().unwrap())
}

#[test]
fn its_own_namespace_on_its_own_bridge_with_every_series_before_the_first_event() {
    let client = TelemetryClient::builder("third-party-node")
        .prometheus("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let sync = SyncMetrics::new(&client);
    let addr = client.prometheus_addr().unwrap();

    let text = scrape(addr);
    for source in ["peer", "checkpoint"] {
        for outcome in ["applied", "rejected", "stale"] {
            let series = format!(
                "mynode_sync_blocks_total{{sync_outcome=\"{outcome}\",sync_source=\"{source}\"}}"
            );
            assert_eq!(value(&text, &series), Some(0.0), "{series} in:\n{text}");
        }
    }
    for le in ["0.001", "0.01", "0.1", "1", "+Inf"] {
        let series = format!("mynode_sync_duration_seconds_bucket{{le=\"{le}\"}}");
        assert_eq!(value(&text, &series), Some(0.0), "{series} in:\n{text}");
    }
    assert_eq!(
        value(&text, "mynode_sync_duration_seconds_count"),
        Some(0.0)
    );
    // Nothing is put under a namespace this node did not choose.
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let family = line.split_whitespace().nth(2).unwrap();
        assert!(
            ["mynode_", "otel_sdk_", "telemetry_", "target_info"]
                .iter()
                .any(|p| family.starts_with(p)),
            "{family}"
        );
    }

    sync.blocks.add(1, (SyncSource::Peer, SyncOutcome::Applied));
    let applied = sync.blocks.bind((SyncSource::Peer, SyncOutcome::Applied));
    applied.add(1);
    applied.add(1);
    sync.duration.record(0.05, ());
    sync.height.record(3, ());
    let text = scrape(addr);
    assert_eq!(
        value(
            &text,
            "mynode_sync_blocks_total{sync_outcome=\"applied\",sync_source=\"peer\"}"
        ),
        Some(3.0)
    );
    assert_eq!(
        value(&text, "mynode_sync_duration_seconds_bucket{le=\"0.1\"}"),
        Some(1.0)
    );
    assert_eq!(value(&text, "mynode_sync_height"), Some(3.0));
    client.shutdown().unwrap();
}

#[test]
fn the_test_kit_reads_a_components_metrics_in_memory() {
    let kit = TestTelemetry::new();
    let mut sync = BlockSync::new(kit.client());
    let mut receive = |height, valid| sync.receive(Block { height, valid }, SyncSource::Peer);
    assert_eq!(
        [receive(1, true), receive(1, true), receive(2, false)],
        [
            SyncOutcome::Applied,
            SyncOutcome::Stale,
            SyncOutcome::Rejected
        ]
    );
    let s = kit.collect();
    let blocks = |outcome| {
        s.u64_value(
            "mynode.sync.blocks",
            &[("sync.source", "peer"), ("sync.outcome", outcome)],
        )
    };
    assert_eq!(
        (blocks("applied"), blocks("stale"), blocks("rejected")),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(s.u64_value("mynode.sync.height", &[]), Some(1));
    assert_eq!(s.histogram("mynode.sync.duration", &[]).unwrap().count, 3);
}

#[test]
fn its_reference_and_catalog_json_describe_its_metrics() {
    let _linked = SyncMetrics::new(&TelemetryClient::disabled());
    let catalog = telemetry::catalog();
    catalog.check().unwrap();
    let reference = catalog.markdown();
    assert!(reference.contains("\n## mynode.sync\n"), "{reference}");
    assert!(reference.contains(
        "| `mynode.sync.blocks` | `mynode_sync_blocks_total` | counter (u64) | `{block}` | \
         `sync.source` (`sync_source`): peer, checkpoint<br>`sync.outcome` (`sync_outcome`): applied, rejected, stale \
         | Blocks received by sync, by source and outcome. |"
    ), "{reference}");
    let json = catalog.json();
    assert!(
        json.contains("\"prometheus_name\": \"mynode_sync_blocks_total\""),
        "{json}"
    );
    let duration = catalog.get("mynode.sync.duration").unwrap();
    assert_eq!(duration.buckets, Some(&[0.001, 0.01, 0.1, 1.0][..]));
    assert_eq!(
        duration.defined_at,
        "third_party_node::SyncMetrics::duration"
    );
}
