//! One refresh serves every reader within the minimum interval; names through the bridge;
//! groups switch off; a disabled client registers nothing.

use std::io::{Read, Write};
use std::time::Duration;

use host_metrics::{Group, HostMetrics, HostMetricsConfig};
use telemetry::testing::TestTelemetry;
use telemetry::TelemetryClient;

fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    raw.split_once("\r\n\r\n").unwrap().1.to_owned()
}

#[test]
fn readers_share_one_refresh_within_the_interval() {
    // The in-memory reader and the bridge are two readers of one client.
    let kit = TestTelemetry::with_builder(
        TelemetryClient::builder("host").prometheus("127.0.0.1:0".parse().unwrap()),
    );
    let config = HostMetricsConfig {
        min_interval: Duration::from_secs(3600),
        ..HostMetricsConfig::default()
    };
    let _host = HostMetrics::register(kit.client(), config);
    let text = scrape(kit.client().prometheus_addr().unwrap());
    let s = kit.collect();
    let refreshes = s.histogram("telemetry.host.refresh.duration", &[]).unwrap();
    assert_eq!(
        refreshes.count, 1,
        "two readers' collections refreshed {} times",
        refreshes.count
    );

    // The bridge shows the conventions' names with Prometheus suffixes.
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let has = |name: &str, label: Option<(&str, &str)>| {
        parsed
            .samples
            .iter()
            .any(|x| x.metric == name && label.is_none_or(|(k, v)| x.labels.get(k) == Some(v)))
    };
    for (name, label) in [
        (
            "system_memory_usage_bytes",
            Some(("system_memory_state", "used")),
        ),
        ("system_memory_limit_bytes", None),
        (
            "system_memory_utilization_ratio",
            Some(("system_memory_state", "free")),
        ),
        ("system_cpu_time_seconds_total", Some(("cpu_mode", "idle"))),
        ("system_cpu_logical_count", None),
        (
            "system_filesystem_usage_bytes",
            Some(("system_filesystem_state", "used")),
        ),
        ("system_uptime_seconds", None),
        ("process_cpu_time_seconds_total", Some(("cpu_mode", "user"))),
        ("process_memory_usage_bytes", None),
        ("process_memory_virtual_bytes", None),
        ("process_thread_count", None),
        ("process_unix_file_descriptor_count", None),
        (
            "process_disk_io_bytes_total",
            Some(("disk_io_direction", "read")),
        ),
        ("process_uptime_seconds", None),
    ] {
        assert!(
            has(name, label),
            "{name} {label:?} missing from the bridge:\n{text}"
        );
    }
    let catalog = telemetry::catalog();
    let host = catalog
        .metrics()
        .iter()
        .filter(|m| m.component == "system" || m.component == "process");
    for info in host {
        let family = info.prometheus_name();
        // Utilizations need two readings and the network/disk/paging series depend on the
        // host's devices; everything else must be there.
        if family.contains("utilization")
            || family.starts_with("system_network")
            || family.starts_with("system_disk")
            || family.starts_with("system_paging")
        {
            continue;
        }
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} missing"
        );
    }
}

#[test]
fn groups_switch_off_and_disabled_clients_register_nothing() {
    let kit = TestTelemetry::new();
    let config = HostMetricsConfig {
        groups: vec![Group::Memory],
        ..HostMetricsConfig::default()
    };
    let host = HostMetrics::register(kit.client(), config);
    assert_eq!(host.instrument_count(), 3);
    let names = kit.collect().names();
    assert!(names.iter().any(|n| n == "system.memory.usage"));
    assert!(!names
        .iter()
        .any(|n| n.starts_with("process.") || n.starts_with("system.cpu")));

    let off = HostMetricsConfig {
        enabled: false,
        ..HostMetricsConfig::default()
    };
    assert_eq!(
        HostMetrics::register(kit.client(), off).instrument_count(),
        0
    );
    assert_eq!(
        HostMetrics::register(&TelemetryClient::disabled(), HostMetricsConfig::default())
            .instrument_count(),
        0
    );
}
