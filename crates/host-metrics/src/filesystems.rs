//! Filesystem space, read off the collection path.
//!
//! `statvfs` (and the `stat` sysinfo makes of a new mount point) on a hung mount, such as
//! an NFS or CIFS share mounted `hard` whose server is gone, blocks until the server
//! answers, perhaps forever. So the filesystems are read by a thread of their own. A
//! collection asks it for a new read and waits for it at most
//! [`FILESYSTEM_READ_TIMEOUT`]; past that, or while an earlier read is still stuck, it
//! serves the last complete read at once. A stuck read is logged once as a warning; its
//! series keep their last good values until it returns.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::sample::Filesystem;

/// How long a collection waits for the filesystem read it asked for before it serves the
/// last complete one (a read takes milliseconds; a hung mount, forever).
pub const FILESYSTEM_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// One read of every reported filesystem.
pub(crate) type Read = Box<dyn FnMut() -> Vec<Filesystem> + Send>;

#[derive(Default)]
struct State {
    /// The last complete read.
    latest: Arc<Vec<Filesystem>>,
    /// Reads completed so far.
    completed: u64,
    /// A collection asked for a new read.
    requested: bool,
    /// The reader is to stop.
    stopped: bool,
    /// When the read in progress started.
    reading_since: Option<Instant>,
    /// The read in progress was reported as stuck.
    warned: bool,
}

/// What the collection path shares with the reader thread; the thread stops, and drops
/// its reader, when this is dropped (at once when it waits, after the read in progress
/// otherwise).
pub(crate) struct Filesystems {
    shared: Arc<(Mutex<State>, Condvar)>,
    /// Whether the thread started.
    running: bool,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Filesystems {
    /// Starts the reader thread, which calls `read` when [`latest`](Self::latest) asks.
    /// Without a thread (the OS refused one), filesystems are not reported.
    pub(crate) fn start(mut read: Read) -> Self {
        let shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let theirs = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("host-metrics-fs".into())
            .spawn(move || {
                let (state, wake) = &*theirs;
                loop {
                    let mut guard = lock(state);
                    while !guard.requested && !guard.stopped {
                        guard = wake.wait(guard).unwrap_or_else(|p| p.into_inner());
                    }
                    if guard.stopped {
                        return;
                    }
                    guard.requested = false;
                    guard.reading_since = Some(Instant::now());
                    drop(guard);
                    let filesystems = read();
                    let mut guard = lock(state);
                    if guard.warned {
                        tracing::info!("reading filesystems returned after being stuck");
                    }
                    guard.latest = Arc::new(filesystems);
                    guard.completed += 1;
                    guard.reading_since = None;
                    guard.warned = false;
                    wake.notify_all();
                }
            });
        if let Err(error) = &spawned {
            tracing::warn!(%error, "cannot start the filesystem reader; filesystems are not reported");
        }
        Self {
            shared,
            running: spawned.is_ok(),
        }
    }

    /// A new read if it completes within [`FILESYSTEM_READ_TIMEOUT`], the last complete
    /// one otherwise (empty before the first). While a read is stuck past the timeout,
    /// returns at once.
    pub(crate) fn latest(&self) -> Arc<Vec<Filesystem>> {
        let (state, wake) = &*self.shared;
        let mut guard = lock(state);
        if !self.running {
            return guard.latest.clone();
        }
        let target = guard.completed + 1;
        let deadline = match guard.reading_since {
            // A read in progress (asked for by an earlier collection) gets what is left of
            // its own time.
            Some(since) => since + FILESYSTEM_READ_TIMEOUT,
            None => {
                guard.requested = true;
                wake.notify_all();
                Instant::now() + FILESYSTEM_READ_TIMEOUT
            }
        };
        while guard.completed < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                if !guard.warned {
                    guard.warned = true;
                    tracing::warn!(
                        timeout = ?FILESYSTEM_READ_TIMEOUT,
                        "reading filesystem space has not returned (a hung mount?); serving the last complete read"
                    );
                }
                break;
            }
            guard = wake
                .wait_timeout(guard, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        guard.latest.clone()
    }
}

impl Drop for Filesystems {
    /// Tells the reader to stop, without waiting for it: it may be stuck in a read.
    fn drop(&mut self) {
        let (state, wake) = &*self.shared;
        lock(state).stopped = true;
        wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crate::config::{Group, HostMetricsConfig};
    use crate::sample::{Filesystem, Sampler};

    fn filesystem(used: u64) -> Filesystem {
        Filesystem {
            device: "server:/export".into(),
            kind: "nfs4".into(),
            mountpoint: "/mnt/nfs".into(),
            used,
            free: 1,
            reserved: 0,
        }
    }

    fn eventually(mut check: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if check() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The reader of a hung mount: the first read returns, the second blocks until the test
    /// releases it. A refresh (the collection path) never waits for the hung read: it
    /// serves the last good sample; the sampler's drop does not wait either, and the
    /// thread ends once the read returns.
    #[test]
    fn a_hung_filesystem_read_blocks_no_refresh_and_the_last_good_sample_is_served() {
        let config = HostMetricsConfig {
            groups: vec![Group::Filesystem],
            ..HostMetricsConfig::default()
        };
        let (release, hung) = mpsc::channel::<()>();
        let alive = Arc::new(());
        let held = alive.clone();
        let mut reads = 0;
        let sampler = Sampler::with_filesystem_reader(
            config,
            Box::new(move || {
                let _held = &held;
                reads += 1;
                if reads == 2 {
                    let _ = hung.recv();
                }
                vec![filesystem(reads)]
            }),
        )
        .unwrap();

        // Refreshes run on a thread of their own, each result sent back: one blocked on
        // the hung read would never answer.
        let (ask, asked) = mpsc::channel::<()>();
        let (answer, answers) = mpsc::channel();
        let collector = std::thread::spawn(move || {
            let mut sampler = sampler;
            while asked.recv().is_ok() {
                let _ = answer.send(sampler.refresh().filesystems);
            }
            sampler
        });
        let refresh = || {
            ask.send(()).unwrap();
            answers
                .recv_timeout(Duration::from_secs(10))
                .expect("a refresh returned within 10 s")
        };
        assert_eq!(refresh(), [filesystem(1)], "the first read, waited for");
        // The second read hangs: the refresh that asked for it waits at most the timeout,
        // the next ones not at all; all serve the first read.
        let started = Instant::now();
        for _ in 0..3 {
            assert_eq!(refresh(), [filesystem(1)]);
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?} for three refreshes",
            started.elapsed()
        );

        // The hung read returns: a later refresh serves it (or the read after it).
        drop(release);
        assert!(eventually(|| refresh()[0].used >= 2));

        // Dropping the sampler stops the thread, which drops its reader.
        drop(ask);
        drop(collector.join().unwrap());
        assert!(
            eventually(|| Arc::strong_count(&alive) == 1),
            "the filesystem thread outlived its sampler"
        );
    }

    /// A sampler dropped while its read hangs: the drop returns at once, and the thread
    /// ends as soon as the read does.
    #[test]
    fn a_sampler_dropped_during_a_hung_read_stops_its_thread_afterwards() {
        let config = HostMetricsConfig {
            groups: vec![Group::Filesystem],
            ..HostMetricsConfig::default()
        };
        let (release, hung) = mpsc::channel::<()>();
        let alive = Arc::new(());
        let held = alive.clone();
        let mut sampler = Sampler::with_filesystem_reader(
            config,
            Box::new(move || {
                let _held = &held;
                let _ = hung.recv();
                Vec::new()
            }),
        )
        .unwrap();
        assert!(sampler.refresh().filesystems.is_empty());
        drop(sampler);
        assert_eq!(Arc::strong_count(&alive), 2, "the read is still hung");
        drop(release);
        assert!(
            eventually(|| Arc::strong_count(&alive) == 1),
            "the filesystem thread outlived its sampler"
        );
    }
}
