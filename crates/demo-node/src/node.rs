//! Wires the components together, prints where to look and a summary line, and shuts
//! down gracefully.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use host_metrics::{HostMetrics, HostMetricsConfig};
use telemetry::{BuildError, TelemetryClient};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::Cli;
use crate::mempool::{Mempool, MempoolLimits};
use crate::p2p::P2p;
use crate::prover::{Prover, ProverConfig};
use crate::rpc::{self, RpcMetrics, RpcState};
use crate::sequencer::Sequencer;
use crate::storage::{Storage, StorageError};

/// The target of the summary log record, which goes to OTLP only: stdout has the line.
pub const SUMMARY_TARGET: &str = "demo_node::summary";

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Telemetry: its configuration, its metric catalog, or its start.
    #[error(transparent)]
    Telemetry(#[from] BuildError),
    /// A listening address.
    #[error("cannot listen on {what} {addr}: {source}")]
    Listen {
        /// rpc or p2p.
        what: &'static str,
        /// The address.
        addr: std::net::SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The block store.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The local peer process.
    #[error("cannot start the local peer (run with --alone to go without): {source}")]
    LocalPeer {
        /// The error.
        source: std::io::Error,
    },
}

/// The node's telemetry, started before anything else so that the log subscriber can carry
/// its layer: every configuration error is reported before anything starts.
pub struct Telemetry {
    /// The client every component receives.
    pub client: TelemetryClient,
    /// Whether it pushes metrics over OTLP.
    pushes: bool,
    host: HostMetricsConfig,
}

/// Reads the telemetry and host-metrics configuration and builds the client.
pub fn start_telemetry(cli: &Cli) -> Result<Telemetry, StartError> {
    let mut host = HostMetricsConfig::default();
    host.apply_process_env().map_err(BuildError::from)?;
    host.enabled &= !cli.no_host_metrics;
    let (client, pushes) = telemetry(cli)?;
    Ok(Telemetry {
        client,
        pushes,
        host,
    })
}

/// The client, and whether it pushes OTLP.
fn telemetry(cli: &Cli) -> Result<(TelemetryClient, bool), BuildError> {
    let mut builder = TelemetryClient::builder("demo-node")
        .service_version(env!("CARGO_PKG_VERSION"))
        .node_role(cli.role.clone())
        .with_env()?;
    if cli.no_metrics_bridge {
        // Off means off, even with TELEMETRY_PROMETHEUS_ADDR set (the image sets it).
        builder = builder.no_prometheus();
    } else {
        let mut bridge = builder
            .config()
            .prometheus
            .clone()
            .unwrap_or(telemetry::PrometheusConfig::new(cli.metrics_addr));
        bridge.listen = cli.metrics_addr;
        builder = builder.prometheus_config(bridge);
    }
    if cli.no_telemetry {
        builder = builder.disabled(true);
    }
    let pushes = builder.config().otlp.is_some();
    Ok((builder.build()?, pushes))
}

async fn bind(what: &'static str, addr: std::net::SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { what, addr, source })
}

/// Runs the node until SIGINT, SIGTERM or `--run-for`.
pub async fn run(cli: Cli, telemetry: Telemetry) -> Result<(), StartError> {
    let Telemetry {
        client,
        pushes,
        host,
    } = telemetry;
    let _host = HostMetrics::register(&client, host);

    let rpc_listener = bind("rpc", cli.rpc_addr).await?;
    let p2p_listener = bind("p2p", cli.p2p_addr).await?;
    let rpc_addr = rpc_listener
        .local_addr()
        .map_err(|source| StartError::Listen {
            what: "rpc",
            addr: cli.rpc_addr,
            source,
        })?;
    let p2p_addr = p2p_listener
        .local_addr()
        .map_err(|source| StartError::Listen {
            what: "p2p",
            addr: cli.p2p_addr,
            source,
        })?;
    // The default block store is temporary: removed at a clean exit. One given is kept.
    let temporary = cli.data_dir.is_none();
    let data_dir = cli.data_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "demo-node-{}-{}",
            std::process::id(),
            p2p_addr.port()
        ))
    });

    let mempool = Arc::new(Mempool::new(
        MempoolLimits {
            capacity: cli.mempool_capacity as usize,
            max_tx_size: cli.max_tx_size as usize,
        },
        &client,
    ));
    let storage = Arc::new(Storage::open(&data_dir, &client)?);
    let prover = Arc::new(Prover::start(
        ProverConfig {
            workers: cli.provers as usize,
            iterations_per_transaction: cli.prover_work,
            deadline: cli.slot * 10,
            queue_capacity: 1024,
        },
        &client,
    ));
    let p2p = Arc::new(P2p::new(mempool.clone(), &client));
    let sequencer = Arc::new(Sequencer::new(
        cli.slot,
        cli.max_block_txs as usize,
        mempool.clone(),
        storage.clone(),
        prover.clone(),
        p2p.clone(),
        &client,
    ));

    let cancel = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    let state = RpcState {
        mempool: mempool.clone(),
        p2p: p2p.clone(),
        sequencer: sequencer.clone(),
        metrics: Arc::new(RpcMetrics::new(&client)),
    };
    let rpc_cancel = cancel.clone();
    tasks.spawn(async move {
        let serve = axum::serve(rpc_listener, rpc::router(state))
            .with_graceful_shutdown(rpc_cancel.cancelled_owned());
        if let Err(error) = serve.await {
            tracing::error!(%error, "rpc server failed");
        }
    });
    tasks.spawn(p2p.clone().listen(p2p_listener, cancel.clone()));
    for peer in &cli.peers {
        tasks.spawn(p2p.clone().connect(*peer, cancel.clone()));
    }
    tasks.spawn(sequencer.clone().run(cancel.clone()));
    if !cli.no_load {
        let name = format!("load-{}", p2p_addr.port());
        tasks.spawn(crate::loadgen::run(
            rpc_addr,
            cli.load_rate,
            name,
            cli.max_tx_size as usize,
            cancel.clone(),
        ));
    }

    let local_peer = if cli.peers.is_empty() && !cli.alone {
        let peer = crate::local_peer::LocalPeer::start(&cli, p2p_addr, &data_dir)
            .map_err(|source| StartError::LocalPeer { source })?;
        Some(peer)
    } else {
        None
    };

    let metrics = match client.prometheus_addr() {
        Some(addr) => format!("http://{addr}/metrics"),
        None if client.is_enabled() => "(OTLP push only)".to_owned(),
        None => "(telemetry off)".to_owned(),
    };
    println!(
        "demo-node listening: rpc=http://{rpc_addr} p2p={p2p_addr} metrics={metrics} data={}",
        data_dir.display()
    );
    if let Some(peer) = &local_peer {
        println!(
            "demo-node: started a local peer (pid {}) that gossips with this node; --alone runs without it",
            peer.pid().unwrap_or_default()
        );
    }

    let started = Instant::now();
    let mut summary = tokio::time::interval_at(
        tokio::time::Instant::now() + cli.summary_every,
        cli.summary_every,
    );
    let mut last = (Instant::now(), 0u64);
    let stop = stop_signal(cli.run_for, cli.until_stdin_closes);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            reason = &mut stop => {
                println!("demo-node: {reason}; shutting down");
                break;
            }
            _ = summary.tick() => {
                let included = sequencer.included();
                let rate = (included - last.1) as f64 / last.0.elapsed().as_secs_f64();
                last = (Instant::now(), included);
                let (height, pending, peers, proofs, export) = (
                    storage.height(),
                    mempool.pending(),
                    p2p.peer_count(),
                    prover.proved(),
                    export_status(&client, pushes),
                );
                println!(
                    "demo-node: height={height} tx/s={rate:.1} mempool={pending} peers={peers} proofs={proofs} export={export}",
                );
                // The same line as a log record, with its numbers as attributes (not
                // printed again on stderr: see main.rs).
                tracing::info!(target: SUMMARY_TARGET, height, tx_per_s = rate, mempool = pending, peers, proofs, export, "summary");
            }
        }
    }

    cancel.cancel();
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::warn!("some tasks did not stop within 5 s");
    }
    prover.stop();
    if let Some(peer) = local_peer {
        peer.stop().await;
    }
    let flushed = tokio::task::spawn_blocking(move || client.shutdown()).await;
    match flushed {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "final telemetry flush incomplete"),
        Err(error) => tracing::warn!(%error, "final telemetry flush failed"),
    }
    println!(
        "demo-node: stopped after {:.1}s at height {}",
        started.elapsed().as_secs_f64(),
        storage.height()
    );
    if temporary {
        if let Err(error) = std::fs::remove_dir_all(&data_dir) {
            tracing::warn!(%error, dir = %data_dir.display(), "cannot remove the temporary block store");
        }
    }
    Ok(())
}

/// `off`, `pull-only`, `no export yet`, `ok(last 3s ago)` or `failing(N in a row)`.
fn export_status(client: &TelemetryClient, pushes: bool) -> String {
    let status = client.export_status();
    if !client.is_enabled() {
        return "off".into();
    }
    match (
        status.attempts,
        status.consecutive_failures,
        status.last_success_unix,
    ) {
        (0, _, _) if pushes => "no export yet".into(),
        (0, _, _) => "pull-only".into(),
        (_, 0, Some(at)) => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(at);
            format!("ok(last {:.0}s ago)", (now - at).max(0.0))
        }
        (_, failures, _) => format!("failing({failures} in a row)"),
    }
}

/// Resolves with the reason to stop: SIGINT, SIGTERM, the run time elapsed or, with
/// `until_stdin_closes`, the end of standard input.
async fn stop_signal(run_for: Option<Duration>, until_stdin_closes: bool) -> &'static str {
    let elapsed = async {
        match run_for {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    let stdin_closed = async {
        if until_stdin_closes {
            stdin_end().await
        } else {
            std::future::pending().await
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = terminate => "SIGTERM",
        _ = elapsed => "run time elapsed",
        _ = stdin_closed => "standard input closed (the parent node is gone)",
    }
}

/// Resolves when standard input reaches its end or fails. The read blocks a plain thread,
/// not one of the runtime's: a blocking task would hold up the runtime's shutdown.
async fn stdin_end() {
    use std::io::Read;
    let (closed, wait) = tokio::sync::oneshot::channel::<()>();
    let watcher = std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let mut buffer = [0u8; 256];
            loop {
                match std::io::stdin().read(&mut buffer) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = closed.send(());
        });
    match watcher {
        // A dropped sender (the thread ended) counts as closed too.
        Ok(_) => {
            let _ = wait.await;
        }
        Err(error) => {
            tracing::warn!(%error, "cannot watch standard input; it will not stop the node");
            std::future::pending().await
        }
    }
}
