//! Command-line options; each has an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// How `--catalog` prints the metric catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CatalogFormat {
    /// Every definition as JSON.
    Json,
    /// The Markdown metrics reference.
    Markdown,
}

fn duration(value: &str) -> Result<Duration, String> {
    let parsed =
        humantime::parse_duration(value).map_err(|e| format!("{e} (examples: 500ms, 2s, 10m)"))?;
    if parsed.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(parsed)
}

fn positive_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 && rate <= 100_000.0 => Ok(rate),
        _ => Err("expected a number of transactions per second in (0, 100000]".into()),
    }
}

/// A small but real node: RPC, mempool, sequencer, storage, prover and p2p, instrumented
/// with the telemetry crate.
#[derive(Debug, Parser)]
#[command(
    name = "demo-node",
    version,
    after_help = "Telemetry is also configured by the OpenTelemetry environment variables: \
OTEL_EXPORTER_OTLP_ENDPOINT (push to a collector), OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_HEADERS, \
OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_CERTIFICATE, \
OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRIC_EXPORT_TIMEOUT, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, \
OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED; the bridge by TELEMETRY_PROMETHEUS_BEARER_TOKEN, TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE \
or TELEMETRY_PROMETHEUS_BASIC_AUTH; metric selection by TELEMETRY_INCLUDE_METRICS / TELEMETRY_EXCLUDE_METRICS; \
host metrics by TELEMETRY_HOST_METRICS_* (see docs/host-metrics.md)."
)]
pub struct Cli {
    /// Address of the HTTP JSON API.
    #[arg(long, env = "DEMO_RPC_ADDR", default_value = "127.0.0.1:8545")]
    pub rpc_addr: SocketAddr,

    /// Address peers connect to.
    #[arg(long, env = "DEMO_P2P_ADDR", default_value = "127.0.0.1:30303")]
    pub p2p_addr: SocketAddr,

    /// A peer to connect to (repeat, or comma-separate in the variable).
    #[arg(long = "peer", env = "DEMO_PEERS", value_delimiter = ',')]
    pub peers: Vec<SocketAddr>,

    /// Run without the local peer that is otherwise started when no --peer is given.
    #[arg(long, env = "DEMO_ALONE")]
    pub alone: bool,

    /// Address of the Prometheus bridge (GET /metrics).
    #[arg(
        long,
        env = "TELEMETRY_PROMETHEUS_ADDR",
        default_value = "127.0.0.1:9464"
    )]
    pub metrics_addr: SocketAddr,

    /// Do not serve the Prometheus bridge (OTLP push only, if configured).
    #[arg(long, env = "DEMO_NO_METRICS_BRIDGE")]
    pub no_metrics_bridge: bool,

    /// Turn telemetry off entirely (same as OTEL_SDK_DISABLED=true).
    #[arg(long, env = "DEMO_NO_TELEMETRY")]
    pub no_telemetry: bool,

    /// Do not report host and process metrics (same as TELEMETRY_HOST_METRICS=false).
    #[arg(long, env = "DEMO_NO_HOST_METRICS")]
    pub no_host_metrics: bool,

    /// Directory of the block file [default: a new directory under the system temp dir].
    #[arg(long, env = "DEMO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Slot length: one block per slot.
    #[arg(long, env = "DEMO_SLOT", default_value = "1s", value_parser = duration)]
    pub slot: Duration,

    /// Transactions per block at most.
    #[arg(long, env = "DEMO_MAX_BLOCK_TXS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_block_txs: u64,

    /// Transactions the mempool holds at most (the oldest is evicted beyond).
    #[arg(long, env = "DEMO_MEMPOOL_CAPACITY", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub mempool_capacity: u64,

    /// Largest transaction accepted, bytes.
    #[arg(long, env = "DEMO_MAX_TX_SIZE", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(64..=1_048_576))]
    pub max_tx_size: u64,

    /// Prover worker threads.
    #[arg(long, env = "DEMO_PROVERS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub provers: u64,

    /// Hash iterations a proof takes per transaction of the block.
    #[arg(long, env = "DEMO_PROVER_WORK", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub prover_work: u64,

    /// Load generator rate, transactions per second.
    #[arg(long, env = "DEMO_LOAD_RATE", default_value = "20", value_parser = positive_rate)]
    pub load_rate: f64,

    /// Do not run the load generator.
    #[arg(long, env = "DEMO_NO_LOAD")]
    pub no_load: bool,

    /// The node's role, exported as the `node.role` resource attribute.
    #[arg(long, env = "DEMO_NODE_ROLE", default_value = "sequencer")]
    pub role: String,

    /// Exit cleanly after this long (e.g. 30s, 10m).
    #[arg(long, env = "DEMO_RUN_FOR", value_parser = duration)]
    pub run_for: Option<Duration>,

    /// How often to print the summary line.
    #[arg(long, env = "DEMO_SUMMARY_EVERY", default_value = "5s", value_parser = duration)]
    pub summary_every: Duration,

    /// Stop (as on SIGTERM) when standard input reaches its end. A node starts its local
    /// peer with this and a pipe it holds: the pipe closes when the node dies, however it
    /// dies. Internal; not for users.
    #[arg(long, hide = true)]
    pub until_stdin_closes: bool,

    /// Print this binary's metric catalog and exit: `json` (what grafana/generate.py
    /// reads) or `markdown` (docs/metrics.md). Exits with an error if the catalog has a
    /// conflict.
    #[arg(long, value_enum)]
    pub catalog: Option<CatalogFormat>,
}
