//! Host and process metrics for a [`TelemetryClient`], named and shaped exactly as the
//! OpenTelemetry semantic conventions say ([`SystemMetrics`], [`ProcessMetrics`]).
//!
//! ```no_run
//! let client = telemetry::TelemetryClient::builder("node")
//!     .prometheus("127.0.0.1:9464".parse().unwrap())
//!     .build()?;
//! let config = host_metrics::HostMetricsConfig::default();
//! let _host = host_metrics::HostMetrics::register(&client, config);
//! # Ok::<(), telemetry::BuildError>(())
//! ```
//!
//! **Cost.** Every observable callback reads one shared [`Sample`]. The first callback of a
//! collection refreshes it (reading only the sources of the enabled groups); the others,
//! and any other reader's collection within [`HostMetricsConfig::min_interval`], reuse it:
//! with OTLP and Prometheus both attached, the sources are read once per interval, not
//! once per reader. Each refresh's duration is recorded in
//! `telemetry.host.refresh.duration`. Filesystems are read by a thread of their own, waited
//! for at most [`FILESYSTEM_READ_TIMEOUT`]: a hung mount does not block collections (see
//! [`Sampler::refresh`]).
//!
//! **Lifetime.** Dropping the [`HostMetrics`] stops it: its filesystem thread ends, and its
//! callbacks observe nothing and read no source from then on.
//!
//! **Portability.** A metric the platform cannot provide is not registered (see
//! [`sample::support`]), rather than reported as 0.

#![warn(missing_docs)]

pub mod config;
mod filesystems;
mod metrics;
pub mod sample;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use telemetry::{Callback, Observer, TelemetryClient, Unbounded};

pub use config::{Filter, Group, HostMetricsConfig};
pub use filesystems::FILESYSTEM_READ_TIMEOUT;
pub use metrics::*;
pub use sample::{Sample, Sampler};

/// Collections closer together than this always share one sample: the callbacks of one
/// collection run back to back, and rates (utilizations) need time between readings.
pub const MIN_REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The shared sample and when it was read.
struct Shared {
    sampler: Mutex<Sampler>,
    latest: Mutex<Option<(Instant, Arc<Sample>)>>,
    min_interval: std::time::Duration,
    refresh: RefreshMetrics,
    /// False once the [`HostMetrics`] is dropped.
    live: AtomicBool,
}

impl Shared {
    /// The current sample: the cached one when fresh enough, a new one otherwise; none
    /// once the [`HostMetrics`] is dropped.
    fn current(&self) -> Option<Arc<Sample>> {
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        if let Some((at, sample)) = latest.as_ref() {
            if at.elapsed() < self.min_interval {
                return Some(sample.clone());
            }
        }
        let started = Instant::now();
        let sample = Arc::new(
            self.sampler
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .refresh(),
        );
        self.refresh.refresh_duration.record_since(started, ());
        *latest = Some((Instant::now(), sample.clone()));
        Some(sample)
    }

    /// Stops reading: the callbacks observe nothing from now on, and the filesystem thread
    /// ends.
    fn retire(&self) {
        // Under the lock `current` holds: no collection is refreshing meanwhile.
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        self.live.store(false, Ordering::Release);
        *latest = None;
        drop(latest);
        self.sampler
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stop_filesystems();
    }
}

/// Registered host and process metrics; they are reported while this value lives, and
/// dropping it stops every read of the sources.
pub struct HostMetrics {
    /// Held for their callbacks.
    instruments: Option<(SystemMetrics, ProcessMetrics)>,
    /// What the callbacks read, retired on drop.
    shared: Option<Arc<Shared>>,
    registered: usize,
}

impl Drop for HostMetrics {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.retire();
        }
    }
}

impl std::fmt::Debug for HostMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostMetrics")
            .field("enabled", &self.instruments.is_some())
            .field("instruments", &self.registered)
            .finish()
    }
}

/// A callback reading the shared sample, or none when `enabled` is false (the group is
/// off, or the platform cannot provide the value: better absent than a false 0).
fn read<T, A>(
    shared: &Arc<Shared>,
    registered: &mut usize,
    enabled: bool,
    observe: impl Fn(&Sample, &mut Observer<'_, T, A>) + Send + Sync + 'static,
) -> Callback<T, A> {
    if !enabled {
        return Callback::none();
    }
    *registered += 1;
    let shared = shared.clone();
    Callback::new(move |observer| {
        if let Some(sample) = shared.current() {
            observe(&sample, observer);
        }
    })
}

impl HostMetrics {
    /// Registers every metric `config` enables and the platform supports.
    pub fn register(client: &TelemetryClient, config: HostMetricsConfig) -> Self {
        let off = Self {
            instruments: None,
            shared: None,
            registered: 0,
        };
        if !client.is_enabled() || !config.enabled {
            return off;
        }
        let sampler = match Sampler::new(config.clone()) {
            Ok(sampler) => sampler,
            Err(error) => {
                tracing::warn!(%error, "host metrics are not available on this platform");
                return off;
            }
        };
        let shared = Arc::new(Shared {
            min_interval: config.min_interval.max(MIN_REFRESH_INTERVAL),
            refresh: RefreshMetrics::new(client),
            sampler: Mutex::new(sampler),
            latest: Mutex::new(None),
            live: AtomicBool::new(true),
        });
        use sample::support;
        let (cpu, memory, paging, disk, filesystem, network, process) = (
            config.reports(Group::Cpu),
            config.reports(Group::Memory),
            config.reports(Group::Paging),
            config.reports(Group::Disk) && support::DISK_IO,
            config.reports(Group::Filesystem),
            config.reports(Group::Network),
            config.reports(Group::Process),
        );
        let n = &mut 0;
        let system = SystemMetricsCallbacks {
            cpu_logical_count: read(&shared, n, cpu, |s, o| o.observe(s.logical_cpus as i64, ())),
            cpu_time: read(&shared, n, cpu && support::CPU_MODES, |s, o| {
                if let Some(times) = s.cpu_times {
                    for (mode, seconds) in CpuMode::ALL.iter().zip(times) {
                        o.observe(seconds, (*mode,));
                    }
                }
            }),
            cpu_utilization: read(&shared, n, cpu && support::CPU_MODES, |s, o| {
                if let Some(fractions) = s.cpu_utilization {
                    for (mode, fraction) in CpuMode::ALL.iter().zip(fractions) {
                        o.observe(fraction, (*mode,));
                    }
                }
            }),
            memory_limit: read(&shared, n, memory, |s, o| {
                if let Some(m) = s.memory {
                    o.observe(m.total as i64, ());
                }
            }),
            memory_usage: read(&shared, n, memory, |s, o| {
                if let Some(m) = s.memory {
                    for (state, bytes) in memory_states(&m) {
                        o.observe(bytes as i64, (state,));
                    }
                }
            }),
            memory_utilization: read(&shared, n, memory, |s, o| {
                if let Some(m) = s.memory.filter(|m| m.total > 0) {
                    for (state, bytes) in memory_states(&m) {
                        o.observe(bytes as f64 / m.total as f64, (state,));
                    }
                }
            }),
            paging_usage: read(&shared, n, paging, |s, o| {
                if let Some((used, free)) = s.swap {
                    o.observe(used as i64, (PagingState::Used,));
                    o.observe(free as i64, (PagingState::Free,));
                }
            }),
            disk_io: read(&shared, n, disk, |s, o| {
                for d in &s.disks {
                    let device = || Unbounded::new(d.device.clone());
                    o.observe(d.read_bytes, (device(), DiskDirection::Read));
                    o.observe(d.written_bytes, (device(), DiskDirection::Write));
                }
            }),
            disk_operations: read(&shared, n, disk, |s, o| {
                for d in &s.disks {
                    let device = || Unbounded::new(d.device.clone());
                    o.observe(d.reads, (device(), DiskDirection::Read));
                    o.observe(d.writes, (device(), DiskDirection::Write));
                }
            }),
            filesystem_usage: read(&shared, n, filesystem, |s, o| {
                for fs in &s.filesystems {
                    for (state, bytes) in filesystem_states(fs) {
                        o.observe(bytes as i64, filesystem_attributes(fs, state));
                    }
                }
            }),
            filesystem_utilization: read(&shared, n, filesystem, |s, o| {
                for fs in &s.filesystems {
                    // In f64: the counts come from the filesystem and may sum past u64.
                    let total = fs.used as f64 + fs.free as f64 + fs.reserved as f64;
                    if total > 0.0 {
                        for (state, bytes) in filesystem_states(fs) {
                            let fraction = bytes as f64 / total;
                            o.observe(fraction, filesystem_attributes(fs, state));
                        }
                    }
                }
            }),
            network_io: read(&shared, n, network, |s, o| {
                for i in &s.interfaces {
                    o.observe(
                        i.transmitted_bytes,
                        interface(i, NetworkDirection::Transmit),
                    );
                    o.observe(i.received_bytes, interface(i, NetworkDirection::Receive));
                }
            }),
            network_errors: read(&shared, n, network, |s, o| {
                for i in &s.interfaces {
                    o.observe(i.transmit_errors, interface(i, NetworkDirection::Transmit));
                    o.observe(i.receive_errors, interface(i, NetworkDirection::Receive));
                }
            }),
            network_packet_dropped: read(
                &shared,
                n,
                network && support::DROPPED_PACKETS,
                |s, o| {
                    for i in &s.interfaces {
                        if let (Some(tx), Some(rx)) = (i.transmit_dropped, i.receive_dropped) {
                            o.observe(tx, interface(i, NetworkDirection::Transmit));
                            o.observe(rx, interface(i, NetworkDirection::Receive));
                        }
                    }
                },
            ),
            uptime: read(&shared, n, process, |s, o| o.observe(s.uptime, ())),
        };
        let process_callbacks = ProcessMetricsCallbacks {
            memory_usage: read(&shared, n, process, |s, o| {
                if let Some(p) = &s.process {
                    o.observe(p.memory as i64, ());
                }
            }),
            memory_virtual: read(&shared, n, process, |s, o| {
                if let Some(p) = &s.process {
                    o.observe(p.virtual_memory as i64, ());
                }
            }),
            disk_io: read(&shared, n, process, |s, o| {
                if let Some(p) = &s.process {
                    o.observe(p.disk_io.0, (DiskDirection::Read,));
                    o.observe(p.disk_io.1, (DiskDirection::Write,));
                }
            }),
            uptime: read(&shared, n, process, |s, o| {
                if let Some(p) = &s.process {
                    o.observe(p.uptime, ());
                }
            }),
            cpu_time: read(&shared, n, process && support::PROCESS_CPU, |s, o| {
                if let Some((user, system)) = s.process.as_ref().and_then(|p| p.cpu) {
                    o.observe(user, (ProcessCpuMode::User,));
                    o.observe(system, (ProcessCpuMode::System,));
                }
            }),
            cpu_utilization: read(&shared, n, process && support::PROCESS_CPU, |s, o| {
                if let Some((user, system)) = s.process.as_ref().and_then(|p| p.cpu_utilization) {
                    o.observe(user, (ProcessCpuMode::User,));
                    o.observe(system, (ProcessCpuMode::System,));
                }
            }),
            thread_count: read(&shared, n, process && support::PROCESS_COUNTS, |s, o| {
                if let Some(threads) = s.process.as_ref().and_then(|p| p.threads) {
                    o.observe(threads as i64, ());
                }
            }),
            unix_file_descriptor_count: read(
                &shared,
                n,
                process && support::PROCESS_COUNTS,
                |s, o| {
                    if let Some(fds) = s.process.as_ref().and_then(|p| p.file_descriptors) {
                        o.observe(fds as i64, ());
                    }
                },
            ),
        };
        let registered = *n;
        let instruments = (
            SystemMetrics::new(client, system),
            ProcessMetrics::new(client, process_callbacks),
        );
        tracing::debug!(instruments = registered, "host metrics registered");
        Self {
            instruments: Some(instruments),
            shared: Some(shared),
            registered,
        }
    }

    /// How many instruments were registered.
    pub fn instrument_count(&self) -> usize {
        self.registered
    }
}

fn interface(
    i: &sample::Interface,
    direction: NetworkDirection,
) -> (Unbounded<Interface>, NetworkDirection) {
    (Unbounded::new(i.name.clone()), direction)
}

fn memory_states(m: &sample::Memory) -> Vec<(MemoryState, u64)> {
    let mut states = vec![(MemoryState::Used, m.used), (MemoryState::Free, m.free)];
    states.extend(m.buffers.map(|b| (MemoryState::Buffers, b)));
    states.extend(m.cached.map(|c| (MemoryState::Cached, c)));
    states
}

fn filesystem_states(fs: &sample::Filesystem) -> [(FilesystemState, u64); 3] {
    [
        (FilesystemState::Used, fs.used),
        (FilesystemState::Free, fs.free),
        (FilesystemState::Reserved, fs.reserved),
    ]
}

fn filesystem_attributes(fs: &sample::Filesystem, state: FilesystemState) -> FilesystemAttributes {
    (
        Unbounded::new(fs.device.clone()),
        state,
        Unbounded::new(fs.kind.clone()),
        Unbounded::new(fs.mountpoint.clone()),
    )
}
