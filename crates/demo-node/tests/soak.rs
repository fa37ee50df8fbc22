//! Soak: the demo node under load, pushing to a real OTLP receiver, for SOAK_SECS seconds
//! (default 30, what CI runs; `bash scripts/soak.sh` is the 10-minute run). After a warm-up
//! third, resident memory stays within 10% and no export fails while the receiver is up.

mod support;

use std::time::{Duration, Instant};

use otlp_test_receiver::grpc_receiver;
use support::*;

fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[test]
fn memory_is_flat_and_exports_succeed_under_load() {
    let seconds: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let receiver = grpc_receiver();
    let endpoint = format!("http://{}", receiver.addr);
    let node = Node::start(
        &["--slot", "250ms", "--load-rate", "100"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
        ],
    );
    let pid = node.pid();
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(1));
        samples.push(rss_of(pid));
        let _ = node.scrape(); // scrapes run alongside the pushes, as in production
    }
    let settled = &samples[samples.len() / 3..];
    let (low, high) = (
        *settled.iter().min().unwrap(),
        *settled.iter().max().unwrap(),
    );
    eprintln!(
        "soak {seconds}s: RSS after warm-up {:.1}..{:.1} MiB",
        low as f64 / 1048576.0,
        high as f64 / 1048576.0
    );
    assert!(
        high as f64 <= low as f64 * 1.10,
        "RSS grew from {low} to {high} bytes after warm-up"
    );
    let m = node.scrape();
    let exports = "otel_sdk_exporter_operation_duration_seconds_count";
    let failures: f64 = ["timeout", "unavailable", "rejected", "shutdown", "_OTHER"]
        .iter()
        .map(|error| m.sum(exports, &[("error_type", error)]))
        .sum();
    assert_eq!(failures, 0.0, "exports failed while the receiver was up");
    assert!(m.sum(exports, &[]) >= (seconds / 2) as f64);
    assert!(receiver.received.count() as u64 >= seconds / 2);
    let (status, _) = node.terminate();
    assert!(status.success());
}
