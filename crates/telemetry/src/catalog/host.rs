//! Host and process metrics under the OpenTelemetry semantic conventions (v1.42), reported
//! by the `host-metrics` crate. Names, instrument kinds, units and attributes are the
//! conventions'; utilizations are fractions with unit `1`.

use crate::Unbounded;

crate::attribute_enum! {
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

crate::attribute_enum! {
    /// Process CPU time category (`cpu.mode`, the two a process has).
    pub enum ProcessCpuMode: "cpu.mode" {
        /// User space.
        User => "user",
        /// Kernel.
        System => "system",
    }
}

crate::attribute_enum! {
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

crate::attribute_enum! {
    /// Swap state (`system.paging.state`).
    pub enum PagingState: "system.paging.state" {
        /// In use.
        Used => "used",
        /// Unused.
        Free => "free",
    }
}

crate::attribute_enum! {
    /// Disk I/O direction (`disk.io.direction`).
    pub enum DiskDirection: "disk.io.direction" {
        /// Read.
        Read => "read",
        /// Written.
        Write => "write",
    }
}

crate::attribute_enum! {
    /// Network I/O direction (`network.io.direction`).
    pub enum NetworkDirection: "network.io.direction" {
        /// Sent.
        Transmit => "transmit",
        /// Received.
        Receive => "receive",
    }
}

crate::attribute_enum! {
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

crate::unbounded_attribute! {
    /// A block device or filesystem device (`system.device`).
    pub Device: "system.device", limit = 64
}
crate::unbounded_attribute! {
    /// A filesystem type (`system.filesystem.type`).
    pub FilesystemType: "system.filesystem.type", limit = 16
}
crate::unbounded_attribute! {
    /// A mount point (`system.filesystem.mountpoint`).
    pub Mountpoint: "system.filesystem.mountpoint", limit = 64
}
crate::unbounded_attribute! {
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

/// Series of a filesystem metric: one per mount point (device, type and mount point
/// describe the same filesystem) and state.
pub const FILESYSTEM_SERIES: usize = 64 * 3;

crate::metrics! {
    /// Seconds each logical CPU spent in each mode, summed over CPUs.
    pub SYSTEM_CPU_TIME: ObservableCounter<f64, (CpuMode,)> = "system.cpu.time", "s";
    /// Fraction of CPU time spent in each mode since the previous collection, all CPUs.
    pub SYSTEM_CPU_UTILIZATION: ObservableGauge<f64, (CpuMode,)> = "system.cpu.utilization", "1";
    /// Logical CPUs available.
    pub SYSTEM_CPU_LOGICAL_COUNT: ObservableUpDownCounter<i64, ()> = "system.cpu.logical.count", "{cpu}";
    /// Memory in use, by state.
    pub SYSTEM_MEMORY_USAGE: ObservableUpDownCounter<i64, (MemoryState,)> = "system.memory.usage", "By";
    /// Total memory.
    pub SYSTEM_MEMORY_LIMIT: ObservableUpDownCounter<i64, ()> = "system.memory.limit", "By";
    /// Fraction of total memory, by state.
    pub SYSTEM_MEMORY_UTILIZATION: ObservableGauge<f64, (MemoryState,)> = "system.memory.utilization", "1";
    /// Swap space, by state.
    pub SYSTEM_PAGING_USAGE: ObservableUpDownCounter<i64, (PagingState,)> = "system.paging.usage", "By";
    /// Bytes read from and written to block devices.
    pub SYSTEM_DISK_IO: ObservableCounter<u64, (Unbounded<Device>, DiskDirection)> = "system.disk.io", "By";
    /// Read and write operations completed by block devices.
    pub SYSTEM_DISK_OPERATIONS: ObservableCounter<u64, (Unbounded<Device>, DiskDirection)> =
        "system.disk.operations", "{operation}";
    /// Filesystem space, by state.
    pub SYSTEM_FILESYSTEM_USAGE: ObservableUpDownCounter<i64, FilesystemAttributes> =
        "system.filesystem.usage", "By", limit = FILESYSTEM_SERIES;
    /// Fraction of filesystem space, by state.
    pub SYSTEM_FILESYSTEM_UTILIZATION: ObservableGauge<f64, FilesystemAttributes> =
        "system.filesystem.utilization", "1", limit = FILESYSTEM_SERIES;
    /// Bytes sent and received, by interface.
    pub SYSTEM_NETWORK_IO: ObservableCounter<u64, (Unbounded<Interface>, NetworkDirection)> =
        "system.network.io", "By";
    /// Receive and transmit errors, by interface.
    pub SYSTEM_NETWORK_ERRORS: ObservableCounter<u64, (Unbounded<Interface>, NetworkDirection)> =
        "system.network.errors", "{error}";
    /// Packets dropped, by interface.
    pub SYSTEM_NETWORK_PACKET_DROPPED: ObservableCounter<u64, (Unbounded<Interface>, NetworkDirection)> =
        "system.network.packet.dropped", "{packet}";
    /// Seconds since the host booted.
    pub SYSTEM_UPTIME: ObservableGauge<f64, ()> = "system.uptime", "s";
    /// CPU seconds this process used, by mode.
    pub PROCESS_CPU_TIME: ObservableCounter<f64, (ProcessCpuMode,)> = "process.cpu.time", "s";
    /// Fraction of the available CPUs this process used since the previous collection.
    pub PROCESS_CPU_UTILIZATION: ObservableGauge<f64, (ProcessCpuMode,)> = "process.cpu.utilization", "1";
    /// Resident memory of this process.
    pub PROCESS_MEMORY_USAGE: ObservableUpDownCounter<i64, ()> = "process.memory.usage", "By";
    /// Virtual memory of this process.
    pub PROCESS_MEMORY_VIRTUAL: ObservableUpDownCounter<i64, ()> = "process.memory.virtual", "By";
    /// Threads of this process.
    pub PROCESS_THREAD_COUNT: ObservableUpDownCounter<i64, ()> = "process.thread.count", "{thread}";
    /// Open file descriptors of this process.
    pub PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: ObservableUpDownCounter<i64, ()> =
        "process.unix.file_descriptor.count", "{file_descriptor}";
    /// Bytes this process read from and wrote to storage.
    pub PROCESS_DISK_IO: ObservableCounter<u64, (DiskDirection,)> = "process.disk.io", "By";
    /// Seconds since this process started.
    pub PROCESS_UPTIME: ObservableGauge<f64, ()> = "process.uptime", "s";
}
