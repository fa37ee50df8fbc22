//! Reading the sources once per refresh into a [`Sample`] that every metric's callback
//! serves from.
//!
//! sysinfo is the portable source (memory, swap, filesystems, network, this process). On
//! Linux, `/proc` (through the procfs crate) adds what sysinfo does not expose: CPU time by
//! mode, memory buffers and cache, block-device I/O and operations, dropped packets, and
//! this process's user and system CPU time.

use std::time::Instant;

use sysinfo::{
    DiskRefreshKind, Disks, MemoryRefreshKind, Networks, Pid, ProcessRefreshKind,
    ProcessesToUpdate, System,
};

use crate::config::{Group, HostMetricsConfig};
use crate::filesystems::{self, Filesystems};

/// Seconds per CPU mode, in `CpuMode` order: user, system, nice, idle, iowait, interrupt, steal.
pub type CpuModes = [f64; 7];

/// Memory by state, bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Memory {
    /// Total memory.
    pub total: u64,
    /// In use.
    pub used: u64,
    /// Unused.
    pub free: u64,
    /// Kernel buffers (Linux).
    pub buffers: Option<u64>,
    /// Page cache (Linux).
    pub cached: Option<u64>,
}

/// One block device's cumulative I/O.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskIo {
    /// Device name (`sda`, `nvme0n1`).
    pub device: String,
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub written_bytes: u64,
    /// Reads completed.
    pub reads: u64,
    /// Writes completed.
    pub writes: u64,
}

/// One mounted filesystem's space, bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Filesystem {
    /// Device.
    pub device: String,
    /// Filesystem type.
    pub kind: String,
    /// Mount point.
    pub mountpoint: String,
    /// In use.
    pub used: u64,
    /// Available to unprivileged users.
    pub free: u64,
    /// Reserved for the superuser (0 where the platform does not say).
    pub reserved: u64,
}

/// One interface's cumulative counters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Interface {
    /// Interface name.
    pub name: String,
    /// Bytes received.
    pub received_bytes: u64,
    /// Bytes sent.
    pub transmitted_bytes: u64,
    /// Receive errors.
    pub receive_errors: u64,
    /// Transmit errors.
    pub transmit_errors: u64,
    /// Received packets dropped (Linux).
    pub receive_dropped: Option<u64>,
    /// Sent packets dropped (Linux).
    pub transmit_dropped: Option<u64>,
}

/// This process.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProcessStats {
    /// User and system CPU seconds (Linux).
    pub cpu: Option<(f64, f64)>,
    /// Fraction of the available CPUs used in user and system mode since the previous refresh.
    pub cpu_utilization: Option<(f64, f64)>,
    /// Resident memory, bytes.
    pub memory: u64,
    /// Virtual memory, bytes.
    pub virtual_memory: u64,
    /// Threads.
    pub threads: Option<u64>,
    /// Open file descriptors.
    pub file_descriptors: Option<u64>,
    /// Bytes read from and written to storage.
    pub disk_io: (u64, u64),
    /// Seconds since the process started.
    pub uptime: f64,
}

/// One refresh of every source that is reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// CPU seconds by mode, summed over CPUs (Linux).
    pub cpu_times: Option<CpuModes>,
    /// Fraction of CPU time per mode since the previous refresh (Linux, from the second on).
    pub cpu_utilization: Option<CpuModes>,
    /// Logical CPUs.
    pub logical_cpus: usize,
    /// Memory.
    pub memory: Option<Memory>,
    /// Swap used and free, bytes.
    pub swap: Option<(u64, u64)>,
    /// Block devices (Linux).
    pub disks: Vec<DiskIo>,
    /// Filesystems.
    pub filesystems: Vec<Filesystem>,
    /// Interfaces.
    pub interfaces: Vec<Interface>,
    /// Seconds since boot.
    pub uptime: f64,
    /// This process.
    pub process: Option<ProcessStats>,
}

/// Owns the sources and the state needed for rates between refreshes. Filesystems are read
/// by a thread of its own (see [`Sampler::refresh`]), which ends when the sampler is dropped.
pub struct Sampler {
    config: HostMetricsConfig,
    system: System,
    /// The filesystem reader, when the filesystem group is reported.
    filesystems: Option<Filesystems>,
    networks: Networks,
    pid: Option<Pid>,
    previous_cpu: Option<CpuModes>,
    previous_process_cpu: Option<((f64, f64), Instant)>,
}

impl Sampler {
    /// Sources for what `config` reports; nothing is read yet (the filesystem reader
    /// thread starts, idle). Fails on a platform sysinfo does not support.
    pub fn new(config: HostMetricsConfig) -> Result<Self, sysinfo::Error> {
        let mut disks = Disks::new()?;
        let filter = config.clone();
        Self::with_filesystem_reader(
            config,
            Box::new(move || read_filesystems(&mut disks, &filter)),
        )
    }

    /// A sampler whose filesystem reader thread calls `read`.
    pub(crate) fn with_filesystem_reader(
        config: HostMetricsConfig,
        read: filesystems::Read,
    ) -> Result<Self, sysinfo::Error> {
        Ok(Self {
            filesystems: config
                .reports(Group::Filesystem)
                .then(|| Filesystems::start(read)),
            config,
            system: System::new()?,
            networks: Networks::new()?,
            pid: sysinfo::get_current_pid().ok(),
            previous_cpu: None,
            previous_process_cpu: None,
        })
    }

    /// Stops the filesystem reader thread (after its read in progress, if any); from then
    /// on no filesystem is reported.
    pub(crate) fn stop_filesystems(&mut self) {
        self.filesystems = None;
    }

    /// Reads every reported source once. Filesystems are read by the filesystem thread:
    /// this call asks it for a new read and waits for it at most
    /// [`FILESYSTEM_READ_TIMEOUT`](crate::FILESYSTEM_READ_TIMEOUT), then serves the last
    /// complete read (none before the first). While a read is stuck (a hung mount), it does
    /// not wait at all.
    pub fn refresh(&mut self) -> Sample {
        let mut sample = Sample {
            uptime: System::uptime().unwrap_or(0) as f64,
            ..Sample::default()
        };
        if self.config.reports(Group::Cpu) {
            sample.logical_cpus = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            sample.cpu_times = platform::cpu_times();
            if let (Some(now), Some(before)) = (sample.cpu_times, self.previous_cpu) {
                sample.cpu_utilization = utilization(&before, &now);
            }
            self.previous_cpu = sample.cpu_times;
        }
        if self.config.reports(Group::Memory) || self.config.reports(Group::Paging) {
            self.system
                .refresh_memory_specifics(MemoryRefreshKind::everything());
            if self.config.reports(Group::Memory) {
                sample.memory = Some(platform::memory(&self.system));
            }
            if self.config.reports(Group::Paging) && self.system.total_swap() > 0 {
                sample.swap = Some((self.system.used_swap(), self.system.free_swap()));
            }
        }
        if self.config.reports(Group::Disk) {
            sample.disks = platform::disks()
                .into_iter()
                .filter(|d| self.config.devices.allows(&d.device))
                .collect();
        }
        if let Some(filesystems) = &self.filesystems {
            sample.filesystems = filesystems.latest().to_vec();
        }
        if self.config.reports(Group::Network) {
            sample.interfaces = self.interfaces();
        }
        if self.config.reports(Group::Process) {
            sample.process = self.process(sample.logical_cpus.max(1));
        }
        sample
    }

    fn interfaces(&mut self) -> Vec<Interface> {
        let dropped = platform::dropped_packets();
        self.networks.refresh(true);
        self.networks
            .iter()
            .map(|(name, data)| (name.to_string_lossy(), data))
            .filter(|(name, _)| self.config.interfaces.allows(name))
            .map(|(name, data)| {
                let drops = dropped.iter().find(|(n, _, _)| *n == name);
                Interface {
                    name: name.into_owned(),
                    received_bytes: data.total_received(),
                    transmitted_bytes: data.total_transmitted(),
                    receive_errors: data.total_errors_on_received(),
                    transmit_errors: data.total_errors_on_transmitted(),
                    receive_dropped: drops.map(|d| d.1),
                    transmit_dropped: drops.map(|d| d.2),
                }
            })
            .collect()
    }

    fn process(&mut self, cpus: usize) -> Option<ProcessStats> {
        let pid = self.pid?;
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            false,
            ProcessRefreshKind::nothing()
                .with_memory()
                .with_disk_usage(),
        );
        let process = self.system.process(pid)?;
        let cpu = platform::process_cpu();
        let now = Instant::now();
        let cpu_utilization = match (cpu, self.previous_process_cpu) {
            (Some((user, system)), Some(((user0, system0), at))) => {
                let wall = now.duration_since(at).as_secs_f64() * cpus as f64;
                (wall > 0.0).then(|| {
                    (
                        ((user - user0) / wall).max(0.0),
                        ((system - system0) / wall).max(0.0),
                    )
                })
            }
            _ => None,
        };
        if let Some(cpu) = cpu {
            self.previous_process_cpu = Some((cpu, now));
        }
        let disk = process.disk_usage();
        Some(ProcessStats {
            cpu,
            cpu_utilization,
            memory: process.memory(),
            virtual_memory: process.virtual_memory(),
            threads: platform::thread_count(),
            file_descriptors: platform::file_descriptors(),
            disk_io: (disk.total_read_bytes, disk.total_written_bytes),
            uptime: process.run_time() as f64,
        })
    }
}

/// Every filesystem `config` reports, with its space: on the filesystem thread only, since
/// it may block on a hung mount.
fn read_filesystems(disks: &mut Disks, config: &HostMetricsConfig) -> Vec<Filesystem> {
    disks.refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
    disks
        .iter()
        .filter_map(|disk| {
            let kind = disk.file_system().to_string_lossy().into_owned();
            let mountpoint = disk.mount_point().to_string_lossy().into_owned();
            if !config.filesystem_types.allows(&kind) || !config.mountpoints.allows(&mountpoint) {
                return None;
            }
            let (used, free, reserved) = platform::space(disk.mount_point()).unwrap_or((
                disk.total_space().saturating_sub(disk.available_space()),
                disk.available_space(),
                0,
            ));
            Some(Filesystem {
                device: disk.name().to_string_lossy().into_owned(),
                kind,
                mountpoint,
                used,
                free,
                reserved,
            })
        })
        .collect()
}

/// Per-mode fractions of the time elapsed between two readings.
fn utilization(before: &CpuModes, now: &CpuModes) -> Option<CpuModes> {
    let deltas: Vec<f64> = now
        .iter()
        .zip(before)
        .map(|(n, b)| (n - b).max(0.0))
        .collect();
    let total: f64 = deltas.iter().sum();
    (total > 0.0).then(|| std::array::from_fn(|i| deltas[i] / total))
}

#[cfg(target_os = "linux")]
mod platform {
    //! `/proc` readings through the procfs crate.
    use procfs::{Current, CurrentSI};

    use super::{CpuModes, DiskIo, Memory};

    fn seconds(ticks: u64) -> f64 {
        ticks as f64 / procfs::ticks_per_second() as f64
    }

    pub fn cpu_times() -> Option<CpuModes> {
        let stats = procfs::KernelStats::current()
            .map_err(|e| tracing::debug!(error = %e, "/proc/stat"))
            .ok()?;
        let t = stats.total;
        Some([
            seconds(t.user),
            seconds(t.system),
            seconds(t.nice),
            seconds(t.idle),
            seconds(t.iowait.unwrap_or(0)),
            seconds(t.irq.unwrap_or(0).saturating_add(t.softirq.unwrap_or(0))),
            seconds(t.steal.unwrap_or(0)),
        ])
    }

    pub fn memory(system: &sysinfo::System) -> Memory {
        match procfs::Meminfo::current() {
            Ok(m) => Memory {
                total: m.mem_total,
                used: m.mem_total.saturating_sub(
                    m.mem_free
                        .saturating_add(m.buffers)
                        .saturating_add(m.cached),
                ),
                free: m.mem_free,
                buffers: Some(m.buffers),
                cached: Some(m.cached),
            },
            Err(e) => {
                tracing::debug!(error = %e, "/proc/meminfo; using sysinfo");
                super::portable_memory(system)
            }
        }
    }

    pub fn disks() -> Vec<DiskIo> {
        // Partitions repeat their disk's I/O: report whole devices only.
        let Ok(stats) = procfs::diskstats() else {
            return Vec::new();
        };
        let sector = 512;
        stats
            .into_iter()
            .filter(|d| std::path::Path::new(&format!("/sys/block/{}", d.name)).exists())
            .map(|d| DiskIo {
                device: d.name,
                read_bytes: d.sectors_read.saturating_mul(sector),
                written_bytes: d.sectors_written.saturating_mul(sector),
                reads: d.reads,
                writes: d.writes,
            })
            .collect()
    }

    pub fn dropped_packets() -> Vec<(String, u64, u64)> {
        procfs::net::dev_status()
            .map(|devices| {
                devices
                    .into_values()
                    .map(|d| (d.name, d.recv_drop, d.sent_drop))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn process_cpu() -> Option<(f64, f64)> {
        let stat = procfs::process::Process::myself()
            .and_then(|p| p.stat())
            .ok()?;
        Some((seconds(stat.utime), seconds(stat.stime)))
    }

    pub fn thread_count() -> Option<u64> {
        let stat = procfs::process::Process::myself()
            .and_then(|p| p.stat())
            .ok()?;
        u64::try_from(stat.num_threads).ok()
    }

    pub fn file_descriptors() -> Option<u64> {
        // Listing /proc/self/fd holds one descriptor open for the listing itself.
        procfs::process::Process::myself()
            .and_then(|p| p.fd_count())
            .ok()
            .map(|n| (n as u64).saturating_sub(1))
    }

    pub fn space(mountpoint: &std::path::Path) -> Option<(u64, u64, u64)> {
        super::unix_space(mountpoint)
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    //! What sysinfo alone provides; the rest is not registered on these platforms.
    use super::{CpuModes, DiskIo, Memory};

    pub fn cpu_times() -> Option<CpuModes> {
        None
    }
    pub fn memory(system: &sysinfo::System) -> Memory {
        super::portable_memory(system)
    }
    pub fn disks() -> Vec<DiskIo> {
        Vec::new()
    }
    pub fn dropped_packets() -> Vec<(String, u64, u64)> {
        Vec::new()
    }
    pub fn process_cpu() -> Option<(f64, f64)> {
        None
    }
    pub fn thread_count() -> Option<u64> {
        None
    }
    pub fn file_descriptors() -> Option<u64> {
        None
    }
    #[cfg(unix)]
    pub fn space(mountpoint: &std::path::Path) -> Option<(u64, u64, u64)> {
        super::unix_space(mountpoint)
    }
    #[cfg(not(unix))]
    pub fn space(_mountpoint: &std::path::Path) -> Option<(u64, u64, u64)> {
        None
    }
}

/// Which metrics the platform can provide: the ones it cannot are not registered.
pub mod support {
    /// CPU time and utilization by mode.
    pub const CPU_MODES: bool = cfg!(target_os = "linux");
    /// Block-device I/O and operations.
    pub const DISK_IO: bool = cfg!(target_os = "linux");
    /// Dropped packets.
    pub const DROPPED_PACKETS: bool = cfg!(target_os = "linux");
    /// This process's CPU time by mode.
    pub const PROCESS_CPU: bool = cfg!(target_os = "linux");
    /// Open file descriptors and thread count.
    pub const PROCESS_COUNTS: bool = cfg!(target_os = "linux");
}

fn portable_memory(system: &System) -> Memory {
    Memory {
        total: system.total_memory(),
        used: system.used_memory(),
        free: system.free_memory(),
        buffers: None,
        cached: None,
    }
}

/// Used, available and reserved bytes of the filesystem at `mountpoint` (statvfs).
#[cfg(unix)]
fn unix_space(mountpoint: &std::path::Path) -> Option<(u64, u64, u64)> {
    let stat = rustix::fs::statvfs(mountpoint).ok()?;
    Some(space_of(
        stat.f_blocks,
        stat.f_bfree,
        stat.f_bavail,
        stat.f_frsize,
    ))
}

/// Used, available and reserved bytes from statvfs block counts. A filesystem (FUSE, a
/// network mount) may report any counts: the arithmetic saturates rather than overflows.
#[cfg(unix)]
fn space_of(blocks: u64, bfree: u64, bavail: u64, unit: u64) -> (u64, u64, u64) {
    (
        blocks.saturating_sub(bfree).saturating_mul(unit),
        bavail.saturating_mul(unit),
        bfree.saturating_sub(bavail).saturating_mul(unit),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utilization_is_a_fraction_of_elapsed_time() {
        let before = [10.0, 5.0, 0.0, 85.0, 0.0, 0.0, 0.0];
        let now = [13.0, 6.0, 0.0, 91.0, 0.0, 0.0, 0.0];
        let u = super::utilization(&before, &now).unwrap();
        assert!(
            (u[0] - 0.3).abs() < 1e-9 && (u[1] - 0.1).abs() < 1e-9 && (u[3] - 0.6).abs() < 1e-9
        );
        assert!((u.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(super::utilization(&now, &now).is_none());
    }

    /// Counts a FUSE or network filesystem may report: no overflow, no panic.
    #[cfg(unix)]
    #[test]
    fn space_saturates_on_absurd_statvfs_counts() {
        assert_eq!(
            super::space_of(100, 40, 30, 4096),
            (60 * 4096, 30 * 4096, 10 * 4096)
        );
        assert_eq!(
            super::space_of(u64::MAX, 0, u64::MAX, 1 << 20),
            (u64::MAX, u64::MAX, 0)
        );
        assert_eq!(super::space_of(0, 5, 9, 4096), (0, 9 * 4096, 0));
    }
}
