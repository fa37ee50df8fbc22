//! A dropped `HostMetrics` stops: no source is read again and its filesystem thread ends.
//! (A test binary of its own: it counts this process's threads by name.)

use std::time::{Duration, Instant};

use host_metrics::{HostMetrics, HostMetricsConfig, MIN_REFRESH_INTERVAL};
use telemetry::testing::TestTelemetry;

/// Threads of this process named `host-metrics-fs` (Linux: `/proc/self/task/*/comm`).
#[cfg(target_os = "linux")]
fn filesystem_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "host-metrics-fs")
        .count()
}

fn refreshes(kit: &TestTelemetry) -> u64 {
    kit.collect()
        .histogram("telemetry.host.refresh.duration", &[])
        .map_or(0, |h| h.count)
}

#[test]
fn a_dropped_host_metrics_reads_nothing_more() {
    let kit = TestTelemetry::new();
    let config = HostMetricsConfig {
        min_interval: MIN_REFRESH_INTERVAL,
        ..HostMetricsConfig::default()
    };
    let host = HostMetrics::register(kit.client(), config);
    // Two collections further apart than the interval: two refreshes.
    assert_eq!(refreshes(&kit), 1);
    std::thread::sleep(MIN_REFRESH_INTERVAL * 2);
    assert_eq!(refreshes(&kit), 2);
    assert!(kit
        .collect()
        .names()
        .iter()
        .any(|n| n == "system.memory.usage"));
    #[cfg(target_os = "linux")]
    assert_eq!(filesystem_threads(), 1);

    drop(host);
    std::thread::sleep(MIN_REFRESH_INTERVAL * 2);
    let after = kit.collect();
    assert_eq!(
        after
            .histogram("telemetry.host.refresh.duration", &[])
            .map_or(0, |h| h.count),
        2,
        "a dropped HostMetrics refreshed its sources"
    );
    #[cfg(target_os = "linux")]
    {
        let deadline = Instant::now() + Duration::from_secs(30);
        while filesystem_threads() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            filesystem_threads(),
            0,
            "the filesystem thread outlived its HostMetrics"
        );
    }
}
