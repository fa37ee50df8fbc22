//! The prover: a pool of worker threads proving blocks with iterated sha256, sized by the
//! block. Every tenth block also gets a checkpoint job over the last ten roots.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use telemetry::{
    Callback, Counter, Histogram, Metrics, ObservableGauge, TelemetryClient, TraceContext,
    UpDownCounter,
};

telemetry::attribute_enum! {
    /// What a proving job proves.
    pub enum JobType: "prover.job.type" {
        /// One block's transactions.
        Block => "block",
        /// A checkpoint over the last blocks' roots.
        Checkpoint => "checkpoint",
    }
}

telemetry::attribute_enum! {
    /// How a proving job ended.
    pub enum JobOutcome: "prover.job.outcome" {
        /// The proof was produced in time.
        Proved => "proved",
        /// The job passed its deadline and was abandoned.
        TimedOut => "timed_out",
        /// The queue was full; the job was never started.
        Dropped => "dropped",
    }
}

/// One proving job.
#[derive(Debug, Clone)]
pub struct Job {
    /// What it proves.
    pub kind: JobType,
    /// The seed (a block root or a digest of roots).
    pub seed: [u8; 32],
    /// Hash iterations the proof takes.
    pub iterations: u64,
}

/// The prover's instrumentation.
#[derive(Metrics)]
#[metrics(prefix = "node.prover")]
struct ProverMetrics {
    /// Proving jobs finished, by type and outcome.
    #[metric(unit = "{job}")]
    jobs: Counter<u64, (JobType, JobOutcome)>,
    /// Time one proving job took, by type.
    #[metric(
        name = "job.duration",
        unit = "s",
        buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
    )]
    duration: Histogram<f64, (JobType,)>,
    /// Jobs waiting for a worker.
    #[metric(name = "queue.depth", unit = "{job}")]
    queue_depth: ObservableGauge<u64, ()>,
    /// Workers waiting for a job.
    #[metric(name = "workers.idle", unit = "{worker}")]
    idle: UpDownCounter<i64, ()>,
}

struct Queue {
    /// Jobs, each with the trace of the block it proves, and whether to stop.
    jobs: Mutex<(VecDeque<(Job, TraceContext)>, bool)>,
    ready: Condvar,
    depth: Arc<AtomicU64>,
}

/// Sizing of the pool.
#[derive(Debug, Clone, Copy)]
pub struct ProverConfig {
    /// Worker threads.
    pub workers: usize,
    /// Hash iterations per transaction of a block (plus one transaction's worth).
    pub iterations_per_transaction: u64,
    /// A job running longer than this is abandoned.
    pub deadline: Duration,
    /// Jobs queued at most; more are dropped.
    pub queue_capacity: usize,
}

/// The prover pool; workers stop when it is dropped or [`Prover::stop`] is called.
pub struct Prover {
    queue: Arc<Queue>,
    config: ProverConfig,
    metrics: Arc<ProverMetrics>,
    workers: Mutex<Vec<std::thread::JoinHandle<()>>>,
    recent_roots: Mutex<Vec<[u8; 32]>>,
    proved: Arc<AtomicU64>,
}

impl Prover {
    /// Starts `config.workers` worker threads.
    pub fn start(config: ProverConfig, client: &TelemetryClient) -> Self {
        let depth = Arc::new(AtomicU64::new(0));
        let observed = depth.clone();
        let metrics = Arc::new(ProverMetrics::new(
            client,
            ProverMetricsCallbacks {
                queue_depth: Callback::new(move |o| {
                    o.observe(observed.load(Ordering::Relaxed), ())
                }),
            },
        ));
        let queue = Arc::new(Queue {
            jobs: Mutex::new((VecDeque::new(), false)),
            ready: Condvar::new(),
            depth,
        });
        let proved = Arc::new(AtomicU64::new(0));
        let workers = (0..config.workers)
            .map(|i| {
                let (queue, metrics, proved) = (queue.clone(), metrics.clone(), proved.clone());
                std::thread::Builder::new()
                    .name(format!("prover-{i}"))
                    .spawn(move || work(&queue, &metrics, config.deadline, &proved))
                    .expect("spawning a prover thread")
            })
            .collect();
        Self {
            queue,
            config,
            metrics,
            workers: Mutex::new(workers),
            recent_roots: Mutex::new(Vec::new()),
            proved,
        }
    }

    /// Queues the jobs for a block with `transactions` and merkle `root`.
    pub fn prove_block(&self, root: [u8; 32], transactions: usize) {
        let iterations = self.config.iterations_per_transaction * (transactions as u64 + 1);
        self.submit(Job {
            kind: JobType::Block,
            seed: root,
            iterations,
        });
        let mut recent = self.recent_roots.lock().unwrap_or_else(|p| p.into_inner());
        recent.push(root);
        if recent.len() == 10 {
            let mut hasher = Sha256::new();
            for r in recent.drain(..) {
                hasher.update(r);
            }
            let iterations = self.config.iterations_per_transaction * 10;
            self.submit(Job {
                kind: JobType::Checkpoint,
                seed: hasher.finalize().into(),
                iterations,
            });
        }
    }

    fn submit(&self, job: Job) {
        // The job's span is a child of the block's (the span current here).
        let trace = TraceContext::of(&tracing::Span::current());
        let mut guard = self.queue.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if guard.0.len() >= self.config.queue_capacity {
            self.metrics.jobs.add(1, (job.kind, JobOutcome::Dropped));
            return;
        }
        guard.0.push_back((job, trace));
        self.queue
            .depth
            .store(guard.0.len() as u64, Ordering::Relaxed);
        self.queue.ready.notify_one();
    }

    /// Jobs proved so far.
    pub fn proved(&self) -> u64 {
        self.proved.load(Ordering::Relaxed)
    }

    /// Stops the workers after their current job; queued jobs are abandoned.
    pub fn stop(&self) {
        self.queue.jobs.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.queue.ready.notify_all();
        for worker in self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = worker.join();
        }
    }
}

impl Drop for Prover {
    fn drop(&mut self) {
        self.stop();
    }
}

fn work(queue: &Queue, metrics: &ProverMetrics, deadline: Duration, proved: &AtomicU64) {
    loop {
        metrics.idle.add(1, ());
        let job = {
            let mut guard = queue.jobs.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if guard.1 {
                    metrics.idle.add(-1, ());
                    return;
                }
                if let Some(job) = guard.0.pop_front() {
                    queue.depth.store(guard.0.len() as u64, Ordering::Relaxed);
                    break job;
                }
                guard = queue.ready.wait(guard).unwrap_or_else(|p| p.into_inner());
            }
        };
        metrics.idle.add(-1, ());
        let (job, trace) = job;
        let span = tracing::info_span!(
            "prover.prove",
            prover.job.type = job.kind.as_str(),
            prover.job.iterations = job.iterations,
            prover.job.outcome = tracing::field::Empty,
        );
        trace.set_as_parent_of(&span);
        let _entered = span.enter();
        let started = Instant::now();
        let outcome = match prove(&job, started + deadline) {
            Some(_) => {
                proved.fetch_add(1, Ordering::Relaxed);
                JobOutcome::Proved
            }
            None => {
                tracing::debug!(job = job.kind.as_str(), "proof missed its deadline");
                JobOutcome::TimedOut
            }
        };
        span.record("prover.job.outcome", outcome.as_str());
        metrics.duration.record_since(started, (job.kind,));
        metrics.jobs.add(1, (job.kind, outcome));
    }
}

/// Iterated sha256 over the seed; `None` when the deadline passes first.
pub fn prove(job: &Job, deadline: Instant) -> Option<[u8; 32]> {
    let mut digest = job.seed;
    for i in 0..job.iterations {
        digest = Sha256::digest(digest).into();
        if i % 1024 == 0 && Instant::now() > deadline {
            return None;
        }
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proves_times_out_and_reports() {
        let kit = telemetry::testing::TestTelemetry::new();
        let config = ProverConfig {
            workers: 2,
            iterations_per_transaction: 1000,
            deadline: Duration::from_secs(30),
            queue_capacity: 64,
        };
        let prover = Prover::start(config, kit.client());
        for i in 0..10u8 {
            prover.prove_block([i; 32], 3);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while prover.proved() < 11 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        prover.stop();
        let s = kit.collect();
        let jobs = |kind, outcome| {
            s.u64_value(
                "node.prover.jobs",
                &[("prover.job.type", kind), ("prover.job.outcome", outcome)],
            )
        };
        assert_eq!(jobs("block", "proved"), Some(10));
        assert_eq!(jobs("checkpoint", "proved"), Some(1));
        assert_eq!(s.value("node.prover.workers.idle", &[]), Some(0.0));
        assert_eq!(s.u64_value("node.prover.queue.depth", &[]), Some(0));

        let slow = Job {
            kind: JobType::Block,
            seed: [0; 32],
            iterations: u64::MAX,
        };
        assert!(prove(&slow, Instant::now() + Duration::from_millis(20)).is_none());
    }
}
