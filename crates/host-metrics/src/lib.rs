//! Host and process metrics for a [`TelemetryClient`], named and shaped exactly as the
//! OpenTelemetry semantic conventions say (definitions in
//! [`telemetry::catalog::host`]).
//!
//! ```no_run
//! let client = telemetry::TelemetryClient::builder("node")
//!     .prometheus("127.0.0.1:9464".parse().unwrap())
//!     .build()?;
//! let config = host_metrics::HostMetricsConfig::default();
//! let _host = host_metrics::HostMetrics::register(&client, config);
//! # Ok::<(), telemetry::ConfigError>(())
//! ```
//!
//! **Cost.** Every observable callback reads one shared [`Sample`]. The first callback of a
//! collection refreshes it (reading only the sources of the enabled groups); the others,
//! and any other reader's collection within [`HostMetricsConfig::min_interval`], reuse it:
//! with OTLP and Prometheus both attached, the sources are read once per interval, not
//! once per reader. Each refresh's duration is recorded in
//! `node.telemetry.host.refresh.duration`.
//!
//! **Portability.** A metric the platform cannot provide is not registered (see
//! [`sample::support`]), rather than reported as 0.

#![warn(missing_docs)]

pub mod config;
pub mod sample;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use telemetry::catalog::host::*;
use telemetry::catalog::telemetry::HOST_REFRESH_DURATION;
use telemetry::{Histogram, Observation, TelemetryClient, Unbounded};

pub use config::{Filter, Group, HostMetricsConfig};
pub use sample::{Sample, Sampler};

/// Collections closer together than this always share one sample: the callbacks of one
/// collection run back to back, and rates (utilizations) need time between readings.
pub const MIN_REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The shared sample and when it was read.
struct Shared {
    sampler: Mutex<Sampler>,
    latest: Mutex<Option<(Instant, Arc<Sample>)>>,
    min_interval: std::time::Duration,
    refresh_duration: Histogram<f64, ()>,
}

impl Shared {
    /// The current sample: the cached one when fresh enough, a new one otherwise.
    fn current(&self) -> Arc<Sample> {
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, sample)) = latest.as_ref() {
            if at.elapsed() < self.min_interval {
                return sample.clone();
            }
        }
        let started = Instant::now();
        let sample = Arc::new(
            self.sampler
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .refresh(),
        );
        self.refresh_duration.record_since(started, ());
        *latest = Some((Instant::now(), sample.clone()));
        sample
    }
}

/// Registered host and process metrics; they are reported while this value lives.
pub struct HostMetrics {
    observations: Vec<Observation>,
}

impl std::fmt::Debug for HostMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostMetrics")
            .field("instruments", &self.observations.len())
            .finish()
    }
}

impl HostMetrics {
    /// Registers every metric `config` enables and the platform supports.
    pub fn register(client: &TelemetryClient, config: HostMetricsConfig) -> Self {
        if !client.is_enabled() || !config.enabled {
            return Self {
                observations: Vec::new(),
            };
        }
        let sampler = match Sampler::new(config.clone()) {
            Ok(sampler) => sampler,
            Err(error) => {
                tracing::warn!(%error, "host metrics are not available on this platform");
                return Self {
                    observations: Vec::new(),
                };
            }
        };
        let meter = client.component("host");
        let shared = Arc::new(Shared {
            min_interval: config.min_interval.max(MIN_REFRESH_INTERVAL),
            refresh_duration: client
                .component("telemetry")
                .histogram(&HOST_REFRESH_DURATION),
            sampler: Mutex::new(sampler),
            latest: Mutex::new(None),
        });
        let mut observations = Vec::new();
        macro_rules! observe {
            ($def:expr, |$sample:ident, $o:ident| $body:expr) => {{
                let shared = shared.clone();
                observations.push(meter.observe(&$def, move |$o| {
                    let $sample = shared.current();
                    $body
                }));
            }};
        }
        use sample::support;

        if config.reports(Group::Cpu) {
            observe!(SYSTEM_CPU_LOGICAL_COUNT, |s, o| o
                .observe(s.logical_cpus as i64, ()));
            if support::CPU_MODES {
                observe!(SYSTEM_CPU_TIME, |s, o| if let Some(times) = s.cpu_times {
                    for (mode, seconds) in CpuMode::ALL.iter().zip(times) {
                        o.observe(seconds, (*mode,));
                    }
                });
                observe!(
                    SYSTEM_CPU_UTILIZATION,
                    |s, o| if let Some(fractions) = s.cpu_utilization {
                        for (mode, fraction) in CpuMode::ALL.iter().zip(fractions) {
                            o.observe(fraction, (*mode,));
                        }
                    }
                );
            }
        }
        if config.reports(Group::Memory) {
            observe!(SYSTEM_MEMORY_LIMIT, |s, o| if let Some(m) = s.memory {
                o.observe(m.total as i64, ());
            });
            observe!(SYSTEM_MEMORY_USAGE, |s, o| if let Some(m) = s.memory {
                for (state, bytes) in memory_states(&m) {
                    o.observe(bytes as i64, (state,));
                }
            });
            observe!(SYSTEM_MEMORY_UTILIZATION, |s, o| if let Some(m) =
                s.memory.filter(|m| m.total > 0)
            {
                for (state, bytes) in memory_states(&m) {
                    o.observe(bytes as f64 / m.total as f64, (state,));
                }
            });
        }
        if config.reports(Group::Paging) {
            observe!(
                SYSTEM_PAGING_USAGE,
                |s, o| if let Some((used, free)) = s.swap {
                    o.observe(used as i64, (PagingState::Used,));
                    o.observe(free as i64, (PagingState::Free,));
                }
            );
        }
        if config.reports(Group::Disk) && support::DISK_IO {
            observe!(SYSTEM_DISK_IO, |s, o| for d in &s.disks {
                o.observe(
                    d.read_bytes,
                    (Unbounded::new(d.device.clone()), DiskDirection::Read),
                );
                o.observe(
                    d.written_bytes,
                    (Unbounded::new(d.device.clone()), DiskDirection::Write),
                );
            });
            observe!(SYSTEM_DISK_OPERATIONS, |s, o| for d in &s.disks {
                o.observe(
                    d.reads,
                    (Unbounded::new(d.device.clone()), DiskDirection::Read),
                );
                o.observe(
                    d.writes,
                    (Unbounded::new(d.device.clone()), DiskDirection::Write),
                );
            });
        }
        if config.reports(Group::Filesystem) {
            observe!(SYSTEM_FILESYSTEM_USAGE, |s, o| for fs in &s.filesystems {
                for (state, bytes) in filesystem_states(fs) {
                    o.observe(bytes as i64, filesystem_attributes(fs, state));
                }
            });
            observe!(
                SYSTEM_FILESYSTEM_UTILIZATION,
                |s, o| for fs in &s.filesystems {
                    let total = fs.used + fs.free + fs.reserved;
                    if total > 0 {
                        for (state, bytes) in filesystem_states(fs) {
                            o.observe(
                                bytes as f64 / total as f64,
                                filesystem_attributes(fs, state),
                            );
                        }
                    }
                }
            );
        }
        if config.reports(Group::Network) {
            observe!(SYSTEM_NETWORK_IO, |s, o| for i in &s.interfaces {
                o.observe(
                    i.transmitted_bytes,
                    (Unbounded::new(i.name.clone()), NetworkDirection::Transmit),
                );
                o.observe(
                    i.received_bytes,
                    (Unbounded::new(i.name.clone()), NetworkDirection::Receive),
                );
            });
            observe!(SYSTEM_NETWORK_ERRORS, |s, o| for i in &s.interfaces {
                o.observe(
                    i.transmit_errors,
                    (Unbounded::new(i.name.clone()), NetworkDirection::Transmit),
                );
                o.observe(
                    i.receive_errors,
                    (Unbounded::new(i.name.clone()), NetworkDirection::Receive),
                );
            });
            if support::DROPPED_PACKETS {
                observe!(
                    SYSTEM_NETWORK_PACKET_DROPPED,
                    |s, o| for i in &s.interfaces {
                        if let (Some(tx), Some(rx)) = (i.transmit_dropped, i.receive_dropped) {
                            o.observe(
                                tx,
                                (Unbounded::new(i.name.clone()), NetworkDirection::Transmit),
                            );
                            o.observe(
                                rx,
                                (Unbounded::new(i.name.clone()), NetworkDirection::Receive),
                            );
                        }
                    }
                );
            }
        }
        if config.reports(Group::Process) {
            observe!(SYSTEM_UPTIME, |s, o| o.observe(s.uptime, ()));
            observe!(PROCESS_MEMORY_USAGE, |s, o| if let Some(p) = &s.process {
                o.observe(p.memory as i64, ());
            });
            observe!(PROCESS_MEMORY_VIRTUAL, |s, o| if let Some(p) = &s.process {
                o.observe(p.virtual_memory as i64, ());
            });
            observe!(PROCESS_DISK_IO, |s, o| if let Some(p) = &s.process {
                o.observe(p.disk_io.0, (DiskDirection::Read,));
                o.observe(p.disk_io.1, (DiskDirection::Write,));
            });
            observe!(PROCESS_UPTIME, |s, o| if let Some(p) = &s.process {
                o.observe(p.uptime, ());
            });
            if support::PROCESS_CPU {
                observe!(PROCESS_CPU_TIME, |s, o| if let Some((user, system)) =
                    s.process.as_ref().and_then(|p| p.cpu)
                {
                    o.observe(user, (ProcessCpuMode::User,));
                    o.observe(system, (ProcessCpuMode::System,));
                });
                observe!(
                    PROCESS_CPU_UTILIZATION,
                    |s, o| if let Some((user, system)) =
                        s.process.as_ref().and_then(|p| p.cpu_utilization)
                    {
                        o.observe(user, (ProcessCpuMode::User,));
                        o.observe(system, (ProcessCpuMode::System,));
                    }
                );
            }
            if support::PROCESS_COUNTS {
                observe!(PROCESS_THREAD_COUNT, |s, o| if let Some(n) =
                    s.process.as_ref().and_then(|p| p.threads)
                {
                    o.observe(n as i64, ());
                });
                observe!(PROCESS_UNIX_FILE_DESCRIPTOR_COUNT, |s, o| if let Some(n) =
                    s.process.as_ref().and_then(|p| p.file_descriptors)
                {
                    o.observe(n as i64, ());
                });
            }
        }
        tracing::debug!(instruments = observations.len(), "host metrics registered");
        Self { observations }
    }

    /// How many instruments were registered.
    pub fn instrument_count(&self) -> usize {
        self.observations.len()
    }
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
