//! Storage: persists blocks to an append-only file.

crate::metrics! {
    /// Time to append and sync one block.
    pub WRITE_DURATION: Histogram<f64, ()> = "node.storage.write.duration", "s";
    /// Bytes appended to the block file.
    pub WRITTEN: Counter<u64, ()> = "node.storage.written", "By";
    /// Size of the block file on disk.
    pub DISK_USAGE: ObservableGauge<u64, ()> = "node.storage.disk.usage", "By";
    /// Height of the last stored block.
    pub HEIGHT: Gauge<u64, ()> = "node.storage.height", "{block}";
}
