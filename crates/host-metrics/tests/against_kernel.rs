//! Host metrics checked against the kernel's own numbers (Linux), through the in-memory
//! reader and through the Prometheus bridge.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::time::Duration;

use host_metrics::{Filter, HostMetrics, HostMetricsConfig};
use telemetry::testing::{Snapshot, TestTelemetry};

/// A `Key: value` line of /proc/self/status or /proc/meminfo, first number only.
fn proc_field(path: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("{key} in {path}"));
    line[key.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn config() -> HostMetricsConfig {
    HostMetricsConfig {
        min_interval: Duration::ZERO,
        interfaces: Filter {
            include: vec!["lo".into()],
            exclude: vec![],
        },
        ..HostMetricsConfig::default()
    }
}

fn value(s: &Snapshot, name: &str, attributes: &[(&str, &str)]) -> f64 {
    s.value(name, attributes).unwrap_or_else(|| {
        panic!(
            "{name} {attributes:?} missing; have {:?}",
            s.attribute_sets(name)
        )
    })
}

/// Spins until this process has used `how_much` more user CPU time, as the kernel counts
/// it (`/proc/self/stat`), not wall time: on a loaded machine 300 ms of wall time may be
/// 90 ms of CPU. Gives up after 60 s of wall time.
fn burn_cpu(how_much: Duration) -> u64 {
    let user = || {
        let ticks = procfs::process::Process::myself()
            .unwrap()
            .stat()
            .unwrap()
            .utime;
        Duration::from_secs_f64(ticks as f64 / procfs::ticks_per_second() as f64)
    };
    let target = user() + how_much;
    let started = std::time::Instant::now();
    let mut x = 0u64;
    while user() < target && started.elapsed() < Duration::from_secs(60) {
        for i in 0..100_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
    }
    x
}

/// One test, so no other test of this binary opens files or threads meanwhile.
#[test]
fn numbers_match_the_kernel() {
    let kit = TestTelemetry::new();
    let host = HostMetrics::register(kit.client(), config());
    assert!(
        host.instrument_count() >= 23,
        "{} instruments",
        host.instrument_count()
    );

    let s = kit.collect();
    // system.memory.limit is MemTotal.
    assert_eq!(
        value(&s, "system.memory.limit", &[]),
        (proc_field("/proc/meminfo", "MemTotal:") * 1024) as f64
    );
    // Threads and file descriptors, read right after the collection.
    let threads = proc_field("/proc/self/status", "Threads:");
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count() as f64 - 1.0; // minus read_dir's own
    assert_eq!(value(&s, "process.thread.count", &[]), threads as f64);
    assert_eq!(value(&s, "process.unix.file_descriptor.count", &[]), fds);
    // Resident memory within 5% of VmRSS at the same moment.
    let rss = (proc_field("/proc/self/status", "VmRSS:") * 1024) as f64;
    let reported = value(&s, "process.memory.usage", &[]);
    assert!(
        (reported - rss).abs() / rss < 0.05,
        "process.memory.usage {reported} vs VmRSS {rss}"
    );
    assert!(value(&s, "process.memory.virtual", &[]) >= reported);

    // Memory states add up to the limit; utilizations are fractions.
    let limit = value(&s, "system.memory.limit", &[]);
    let states = ["used", "free", "buffers", "cached"];
    let sum: f64 = states
        .iter()
        .map(|st| value(&s, "system.memory.usage", &[("system.memory.state", st)]))
        .sum();
    assert_eq!(sum, limit);
    for st in states {
        let u = value(
            &s,
            "system.memory.utilization",
            &[("system.memory.state", st)],
        );
        assert!((0.0..=1.0).contains(&u), "{st}: {u}");
    }
    assert_eq!(s.unit("system.memory.usage").as_deref(), Some("By"));
    assert_eq!(
        s.unit("system.cpu.utilization"),
        None,
        "utilization needs two readings"
    );

    // CPU times are monotonic and grow after burning CPU.
    let user_before = value(&s, "process.cpu.time", &[("cpu.mode", "user")]);
    let system_user_before = value(&s, "system.cpu.time", &[("cpu.mode", "user")]);
    std::hint::black_box(burn_cpu(Duration::from_millis(300)));
    let s2 = kit.collect();
    let user_after = value(&s2, "process.cpu.time", &[("cpu.mode", "user")]);
    assert!(
        user_after >= user_before + 0.1,
        "process user CPU {user_before} -> {user_after}"
    );
    assert!(value(&s2, "system.cpu.time", &[("cpu.mode", "user")]) > system_user_before);
    let utilization: f64 = [
        "user",
        "system",
        "nice",
        "idle",
        "iowait",
        "interrupt",
        "steal",
    ]
    .iter()
    .map(|m| value(&s2, "system.cpu.utilization", &[("cpu.mode", m)]))
    .sum();
    assert!(
        (utilization - 1.0).abs() < 1e-6,
        "system.cpu.utilization sums to {utilization}"
    );
    assert_eq!(s2.unit("system.cpu.utilization").as_deref(), Some("1"));
    let process_user = value(&s2, "process.cpu.utilization", &[("cpu.mode", "user")]);
    assert!(
        process_user > 0.0 && process_user <= 1.0,
        "process.cpu.utilization {process_user}"
    );

    // Loopback traffic shows in system.network.io when lo is included.
    let lo_tx = [
        ("network.interface.name", "lo"),
        ("network.io.direction", "transmit"),
    ];
    let before = value(&s2, "system.network.io", &lo_tx);
    let sent = send_over_loopback(1 << 20);
    std::thread::sleep(host_metrics::MIN_REFRESH_INTERVAL); // past the shared sample
    let s3 = kit.collect();
    let after = value(&s3, "system.network.io", &lo_tx);
    assert!(
        after - before >= sent as f64,
        "lo transmit grew {} after sending {sent}",
        after - before
    );

    // Everything else is there with the conventions' attributes.
    assert!(value(&s3, "system.cpu.logical.count", &[]) >= 1.0);
    assert!(value(&s3, "system.uptime", &[]) > 0.0);
    assert!(value(&s3, "process.uptime", &[]) >= 0.0);
    for direction in ["read", "write"] {
        assert!(s3
            .value("process.disk.io", &[("disk.io.direction", direction)])
            .is_some());
    }
    let filesystems = s3.attribute_sets("system.filesystem.usage");
    assert!(!filesystems.is_empty(), "no filesystem reported");
    for set in &filesystems {
        let keys: Vec<&str> = set.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "system.device",
                "system.filesystem.mountpoint",
                "system.filesystem.state",
                "system.filesystem.type"
            ]
        );
        let fstype = &set
            .iter()
            .find(|(k, _)| k == "system.filesystem.type")
            .unwrap()
            .1;
        assert!(
            !host_metrics::config::PSEUDO_FILESYSTEMS.contains(&fstype.as_str()),
            "{fstype} reported"
        );
    }
    assert!(s3
        .attribute_sets("system.network.errors")
        .iter()
        .all(|set| set.iter().any(|(_, v)| v == "lo")));
    assert!(!s3
        .attribute_sets("system.network.packet.dropped")
        .is_empty());
}

fn send_over_loopback(bytes: usize) -> usize {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut sink = Vec::new();
        stream.read_to_end(&mut sink).unwrap();
        sink.len()
    });
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(&vec![1u8; bytes]).unwrap();
    drop(stream);
    reader.join().unwrap()
}
