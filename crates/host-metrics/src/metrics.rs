//! The host and process metrics, under the OpenTelemetry semantic conventions (v1.42):
//! names, instrument kinds, units and attributes are the conventions'; utilizations are
//! fractions with unit `1`. Process identity (pid, executable) belongs in the resource.

use telemetry::{
    Histogram, Metrics, ObservableCounter, ObservableGauge, ObservableUpDownCounter, Unbounded,
};

telemetry::attribute_enum! {
    /// CPU time category (`cpu.mode`).
    pub enum CpuMode: "cpu.mode" {
        /// User space.
        User => "user",
        /// Kernel.
        System => "system",
        /// Niced user space.
        Nice => "nice",
        /// Idle.
        Idle => "idle",
        /// Waiting for I/O.
        Iowait => "iowait",
        /// Hardware and software interrupts.
        Interrupt => "interrupt",
        /// Stolen by the hypervisor.
        Steal => "steal",
    }
}

telemetry::attribute_enum! {
    /// Process CPU time category (`cpu.mode`, the two a process has).
    pub enum ProcessCpuMode: "cpu.mode" {
        /// User space.
        User => "user",
        /// Kernel.
        System => "system",
    }
}

telemetry::attribute_enum! {
    /// Memory state (`system.memory.state`).
    pub enum MemoryState: "system.memory.state" {
        /// In use (total minus free, buffers and cache).
        Used => "used",
        /// Unused.
        Free => "free",
        /// Kernel buffers.
        Buffers => "buffers",
        /// Page cache.
        Cached => "cached",
    }
}

telemetry::attribute_enum! {
    /// Swap state (`system.paging.state`).
    pub enum PagingState: "system.paging.state" {
        /// In use.
        Used => "used",
        /// Unused.
        Free => "free",
    }
}

telemetry::attribute_enum! {
    /// Disk I/O direction (`disk.io.direction`).
    pub enum DiskDirection: "disk.io.direction" {
        /// Read.
        Read => "read",
        /// Written.
        Write => "write",
    }
}

telemetry::attribute_enum! {
    /// Network I/O direction (`network.io.direction`).
    pub enum NetworkDirection: "network.io.direction" {
        /// Sent.
        Transmit => "transmit",
        /// Received.
        Receive => "receive",
    }
}

telemetry::attribute_enum! {
    /// Filesystem space state (`system.filesystem.state`).
    pub enum FilesystemState: "system.filesystem.state" {
        /// In use.
        Used => "used",
        /// Available to unprivileged users.
        Free => "free",
        /// Reserved for the superuser.
        Reserved => "reserved",
    }
}

telemetry::unbounded_attribute! {
    /// A block device or filesystem device (`system.device`).
    pub Device: "system.device", limit = 64
}
telemetry::unbounded_attribute! {
    /// A filesystem type (`system.filesystem.type`).
    pub FilesystemType: "system.filesystem.type", limit = 16
}
telemetry::unbounded_attribute! {
    /// A mount point (`system.filesystem.mountpoint`).
    pub Mountpoint: "system.filesystem.mountpoint", limit = 64
}
telemetry::unbounded_attribute! {
    /// A network interface (`network.interface.name`).
    pub Interface: "network.interface.name", limit = 32
}

/// Attributes of a filesystem point.
pub type FilesystemAttributes = (
    Unbounded<Device>,
    FilesystemState,
    Unbounded<FilesystemType>,
    Unbounded<Mountpoint>,
);

/// Host-wide metrics (`system.*`).
#[derive(Metrics)]
#[metrics(prefix = "system")]
pub struct SystemMetrics {
    /// Seconds each logical CPU spent in each mode, summed over CPUs.
    #[metric(name = "cpu.time", unit = "s")]
    pub cpu_time: ObservableCounter<f64, (CpuMode,)>,
    /// Fraction of CPU time spent in each mode since the previous collection, all CPUs.
    #[metric(name = "cpu.utilization", unit = "1")]
    pub cpu_utilization: ObservableGauge<f64, (CpuMode,)>,
    /// Logical CPUs available.
    #[metric(name = "cpu.logical.count", unit = "{cpu}")]
    pub cpu_logical_count: ObservableUpDownCounter<i64, ()>,
    /// Memory in use, by state.
    #[metric(name = "memory.usage", unit = "By")]
    pub memory_usage: ObservableUpDownCounter<i64, (MemoryState,)>,
    /// Total memory.
    #[metric(name = "memory.limit", unit = "By")]
    pub memory_limit: ObservableUpDownCounter<i64, ()>,
    /// Fraction of total memory, by state.
    #[metric(name = "memory.utilization", unit = "1")]
    pub memory_utilization: ObservableGauge<f64, (MemoryState,)>,
    /// Swap space, by state.
    #[metric(name = "paging.usage", unit = "By")]
    pub paging_usage: ObservableUpDownCounter<i64, (PagingState,)>,
    /// Bytes read from and written to block devices.
    #[metric(name = "disk.io", unit = "By")]
    pub disk_io: ObservableCounter<u64, (Unbounded<Device>, DiskDirection)>,
    /// Read and write operations completed by block devices.
    #[metric(name = "disk.operations", unit = "{operation}")]
    pub disk_operations: ObservableCounter<u64, (Unbounded<Device>, DiskDirection)>,
    /// Filesystem space, by state (device, type and mount point describe one filesystem:
    /// 64 filesystems of 3 states).
    #[metric(name = "filesystem.usage", unit = "By", limit = 192)]
    pub filesystem_usage: ObservableUpDownCounter<i64, FilesystemAttributes>,
    /// Fraction of filesystem space, by state.
    #[metric(name = "filesystem.utilization", unit = "1", limit = 192)]
    pub filesystem_utilization: ObservableGauge<f64, FilesystemAttributes>,
    /// Bytes sent and received, by interface.
    #[metric(name = "network.io", unit = "By")]
    pub network_io: ObservableCounter<u64, (Unbounded<Interface>, NetworkDirection)>,
    /// Receive and transmit errors, by interface.
    #[metric(name = "network.errors", unit = "{error}")]
    pub network_errors: ObservableCounter<u64, (Unbounded<Interface>, NetworkDirection)>,
    /// Packets dropped, by interface.
    #[metric(name = "network.packet.dropped", unit = "{packet}")]
    pub network_packet_dropped: ObservableCounter<u64, (Unbounded<Interface>, NetworkDirection)>,
    /// Seconds since the host booted.
    #[metric(unit = "s")]
    pub uptime: ObservableGauge<f64, ()>,
}

/// This process's metrics (`process.*`).
#[derive(Metrics)]
#[metrics(prefix = "process")]
pub struct ProcessMetrics {
    /// CPU seconds this process used, by mode.
    #[metric(name = "cpu.time", unit = "s")]
    pub cpu_time: ObservableCounter<f64, (ProcessCpuMode,)>,
    /// Fraction of the available CPUs this process used since the previous collection.
    #[metric(name = "cpu.utilization", unit = "1")]
    pub cpu_utilization: ObservableGauge<f64, (ProcessCpuMode,)>,
    /// Resident memory of this process.
    #[metric(name = "memory.usage", unit = "By")]
    pub memory_usage: ObservableUpDownCounter<i64, ()>,
    /// Virtual memory of this process.
    #[metric(name = "memory.virtual", unit = "By")]
    pub memory_virtual: ObservableUpDownCounter<i64, ()>,
    /// Threads of this process.
    #[metric(name = "thread.count", unit = "{thread}")]
    pub thread_count: ObservableUpDownCounter<i64, ()>,
    /// Open file descriptors of this process.
    #[metric(name = "unix.file_descriptor.count", unit = "{file_descriptor}")]
    pub unix_file_descriptor_count: ObservableUpDownCounter<i64, ()>,
    /// Bytes this process read from and wrote to storage.
    #[metric(name = "disk.io", unit = "By")]
    pub disk_io: ObservableCounter<u64, (DiskDirection,)>,
    /// Seconds since this process started.
    #[metric(unit = "s")]
    pub uptime: ObservableGauge<f64, ()>,
}

/// The cost of host metrics themselves.
#[derive(Metrics)]
#[metrics(prefix = "telemetry.host")]
pub struct RefreshMetrics {
    /// Time one host-metrics refresh took (sysinfo and /proc reads).
    #[metric(name = "refresh.duration", unit = "s")]
    pub refresh_duration: Histogram<f64, ()>,
}
