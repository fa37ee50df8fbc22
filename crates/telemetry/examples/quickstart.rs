//! Quickstart: one small component recording from real work.
//!
//! A worker hashes batches of data (real CPU work), a queue feeds it, and its
//! instrumentation struct turns each event into metrics. Configured by the environment
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, `TELEMETRY_PROMETHEUS_ADDR`, ...); with neither set it
//! serves the Prometheus bridge on 127.0.0.1:9464. Runs until Ctrl-C, or for
//! `QUICKSTART_RUN_FOR_SECS` seconds, then shuts down cleanly (flushing the last data).
//!
//! ```text
//! cargo run -p telemetry --example quickstart
//! curl -s localhost:9464/metrics | grep quickstart_worker
//! ```

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use telemetry::{
    Callback, Counter, Histogram, Metrics, ObservableGauge, TelemetryClient, UpDownCounter,
};

telemetry::attribute_enum! {
    /// How a job ended.
    pub enum Outcome: "worker.outcome" {
        /// The digest met the acceptance rule.
        Accepted => "accepted",
        /// The digest did not.
        Rejected => "rejected",
    }
}

/// The worker's instrumentation: one field per metric, under the application's own
/// namespace; one method per event.
#[derive(Metrics)]
#[metrics(prefix = "quickstart.worker")]
struct WorkerMetrics {
    /// Jobs processed, by outcome.
    #[metric(unit = "{job}")]
    jobs: Counter<u64, (Outcome,)>,
    /// Time to process one job.
    #[metric(name = "job.duration", unit = "s")]
    duration: Histogram<f64, (Outcome,)>,
    /// Bytes hashed.
    #[metric(unit = "By")]
    hashed: Counter<u64, ()>,
    /// Jobs being processed right now.
    #[metric(unit = "{job}")]
    in_flight: UpDownCounter<i64, ()>,
    /// Jobs waiting in the queue.
    #[metric(name = "queue.depth", unit = "{job}")]
    queue_depth: ObservableGauge<u64, ()>,
}

impl WorkerMetrics {
    fn job_started(&self) {
        self.in_flight.add(1, ());
    }

    fn job_finished(&self, outcome: Outcome, started: Instant, bytes: u64) {
        self.in_flight.add(-1, ());
        self.jobs.add(1, (outcome,));
        self.duration.record_since(started, (outcome,));
        self.hashed.add(bytes, ());
    }
}

/// Real work: hash `rounds` times over a buffer; accept when the digest has 3 low zero bits.
fn process(job: u64, buffer: &[u8], rounds: u32) -> Outcome {
    let mut digest = job;
    for _ in 0..rounds {
        let mut hasher = DefaultHasher::new();
        digest.hash(&mut hasher);
        buffer.hash(&mut hasher);
        digest = hasher.finish();
    }
    if digest & 0b111 == 0 {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = TelemetryClient::builder("quickstart")
        .service_version(env!("CARGO_PKG_VERSION"))
        .with_env()?;
    if builder.config().otlp.is_none() && builder.config().prometheus.is_none() {
        builder = builder.prometheus(telemetry::DEFAULT_PROMETHEUS_ADDR.parse()?);
    }
    let pushes = builder.config().otlp.is_some();
    let client = builder.build()?;
    if let Some(addr) = client.prometheus_addr() {
        println!("quickstart: metrics at http://{addr}/metrics");
    }
    let run_for = match std::env::var("QUICKSTART_RUN_FOR_SECS") {
        Ok(v) => {
            Some(Duration::from_secs(v.parse().map_err(|_| {
                format!("invalid QUICKSTART_RUN_FOR_SECS={v:?}")
            })?))
        }
        Err(_) => None,
    };

    let queue = Arc::new(AtomicU64::new(0));
    let observed = queue.clone();
    let metrics = Arc::new(WorkerMetrics::new(
        &client,
        WorkerMetricsCallbacks {
            queue_depth: Callback::new(move |o| o.observe(observed.load(Ordering::Relaxed), ())),
        },
    ));
    let (jobs_tx, mut jobs_rx) = tokio::sync::mpsc::channel::<u64>(1024);

    let producer_queue = queue.clone();
    tokio::spawn(async move {
        let mut next = 0u64;
        let mut tick = tokio::time::interval(Duration::from_millis(5));
        loop {
            tick.tick().await;
            next += 1;
            producer_queue.fetch_add(1, Ordering::Relaxed);
            if jobs_tx.send(next).await.is_err() {
                return;
            }
        }
    });
    let worker_metrics = metrics.clone();
    let done = Arc::new(AtomicU64::new(0));
    let worker_done = done.clone();
    tokio::spawn(async move {
        let buffer = vec![7u8; 4096];
        while let Some(job) = jobs_rx.recv().await {
            queue.fetch_sub(1, Ordering::Relaxed);
            worker_metrics.job_started();
            let started = Instant::now();
            let buffer = buffer.clone();
            let rounds = 50 + (job % 200) as u32;
            let outcome = tokio::task::spawn_blocking(move || process(job, &buffer, rounds))
                .await
                .unwrap_or(Outcome::Rejected);
            worker_metrics.job_finished(outcome, started, 4096 * u64::from(rounds));
            worker_done.fetch_add(1, Ordering::Relaxed);
        }
    });

    let started = Instant::now();
    let mut report = tokio::time::interval(Duration::from_secs(5));
    report.tick().await;
    loop {
        let remaining = run_for.map(|d| d.saturating_sub(started.elapsed()));
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(remaining.unwrap_or(Duration::MAX)), if remaining.is_some() => break,
            _ = report.tick() => {
                let status = client.export_status();
                let push = if !pushes {
                    "pull only".to_owned()
                } else if status.attempts == 0 {
                    "no OTLP export yet".to_owned()
                } else {
                    format!("OTLP exports {} ok / {} failed", status.attempts - status.failures, status.failures)
                };
                println!("quickstart: {} jobs done; {push}", done.load(Ordering::Relaxed));
            }
        }
    }
    println!(
        "quickstart: shutting down after {} jobs",
        done.load(Ordering::Relaxed)
    );
    client.shutdown()?;
    Ok(())
}
