//! Storage: appends each block to `blocks.log` (length-prefixed JSON records) and syncs it.
//! A restarted node continues from the height it finds there.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use telemetry::{Callback, Counter, Gauge, Histogram, Metrics, ObservableGauge, TelemetryClient};

use crate::tx::Block;

/// Storage's instrumentation.
#[derive(Metrics)]
#[metrics(prefix = "node.storage")]
struct StorageMetrics {
    /// Time to append and sync one block.
    #[metric(name = "write.duration", unit = "s")]
    write_duration: Histogram<f64, ()>,
    /// Bytes appended to the block file.
    #[metric(unit = "By")]
    written: Counter<u64, ()>,
    /// Size of the block file on disk.
    #[metric(name = "disk.usage", unit = "By")]
    disk_usage: ObservableGauge<u64, ()>,
    /// Height of the last stored block.
    #[metric(unit = "{block}")]
    height: Gauge<u64, ()>,
}

/// The append-only block store.
pub struct Storage {
    file: Mutex<File>,
    path: PathBuf,
    height: AtomicU64,
    size: Arc<AtomicU64>,
    metrics: StorageMetrics,
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The file could not be opened, read or written.
    #[error("block store {path}: {source}")]
    Io {
        /// The block file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A record could not be encoded.
    #[error("block store: cannot encode block: {0}")]
    Encode(#[from] serde_json::Error),
}

impl Storage {
    /// Opens (or creates) `dir/blocks.log` and recovers the stored height.
    pub fn open(dir: &Path, client: &TelemetryClient) -> Result<Self, StorageError> {
        let path = dir.join("blocks.log");
        let io = |source| StorageError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let height = recover_height(&path).map_err(io)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        let size = Arc::new(AtomicU64::new(file.metadata().map_err(io)?.len()));
        let observed = size.clone();
        let metrics = StorageMetrics::new(
            client,
            StorageMetricsCallbacks {
                disk_usage: Callback::new(move |o| o.observe(observed.load(Ordering::Relaxed), ())),
            },
        );
        metrics.height.record(height, ());
        Ok(Self {
            file: Mutex::new(file),
            path,
            height: AtomicU64::new(height),
            size,
            metrics,
        })
    }

    /// Appends `block` and syncs the file.
    pub fn append(&self, block: &Block) -> Result<(), StorageError> {
        let started = Instant::now();
        let body = serde_json::to_vec(block)?;
        let mut record = Vec::with_capacity(body.len() + 4);
        record.extend_from_slice(&(body.len() as u32).to_le_bytes());
        record.extend_from_slice(&body);
        {
            let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
            let io = |source| StorageError::Io {
                path: self.path.clone(),
                source,
            };
            file.write_all(&record).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        self.size.fetch_add(record.len() as u64, Ordering::Relaxed);
        self.height.store(block.height, Ordering::Relaxed);
        self.metrics.written.add(record.len() as u64, ());
        self.metrics.height.record(block.height, ());
        self.metrics.write_duration.record_since(started, ());
        Ok(())
    }

    /// Height of the last stored block (0 when empty).
    pub fn height(&self) -> u64 {
        self.height.load(Ordering::Relaxed)
    }
}

/// Counts the complete records of an existing block file.
fn recover_height(path: &Path) -> std::io::Result<u64> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut reader = BufReader::new(file);
    let mut height = 0;
    let mut length = [0u8; 4];
    while reader.read_exact(&mut length).is_ok() {
        let len = u32::from_le_bytes(length) as u64;
        if std::io::copy(&mut reader.by_ref().take(len), &mut std::io::sink())? < len {
            break; // a torn last record
        }
        height += 1;
    }
    Ok(height)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::Transaction;

    #[test]
    fn appends_recovers_and_reports() {
        let dir = std::env::temp_dir().join(format!("demo-storage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let kit = telemetry::testing::TestTelemetry::new();
        let storage = Storage::open(&dir, kit.client()).unwrap();
        storage
            .append(&Block::new(1, vec![Transaction::signed("a", 1, "x")]))
            .unwrap();
        storage.append(&Block::new(2, vec![])).unwrap();
        let on_disk = std::fs::metadata(dir.join("blocks.log")).unwrap().len();
        let s = kit.collect();
        assert_eq!(s.u64_value("node.storage.height", &[]), Some(2));
        assert_eq!(s.u64_value("node.storage.written", &[]), Some(on_disk));
        assert_eq!(s.u64_value("node.storage.disk.usage", &[]), Some(on_disk));
        assert_eq!(
            s.histogram("node.storage.write.duration", &[])
                .unwrap()
                .count,
            2
        );
        drop(storage);
        assert_eq!(Storage::open(&dir, kit.client()).unwrap().height(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
