//! The prover: a worker pool proving blocks with CPU work.

crate::attribute_enum! {
    /// What a proving job proves.
    pub enum JobType: "prover.job.type" {
        /// One block's transactions.
        Block => "block",
        /// A checkpoint over the last blocks' roots.
        Checkpoint => "checkpoint",
    }
}

crate::attribute_enum! {
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

crate::metrics! {
    /// Proving jobs finished, by type and outcome.
    pub JOBS: Counter<u64, (JobType, JobOutcome)> = "node.prover.jobs", "{job}";
    /// Time one proving job took, by type.
    pub JOB_DURATION: Histogram<f64, (JobType,)> = "node.prover.job.duration", "s",
        buckets = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
    /// Jobs waiting for a worker.
    pub QUEUE_DEPTH: ObservableGauge<u64, ()> = "node.prover.queue.depth", "{job}";
    /// Workers waiting for a job.
    pub IDLE_WORKERS: UpDownCounter<i64, ()> = "node.prover.workers.idle", "{worker}";
}
