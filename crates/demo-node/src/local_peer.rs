//! The local peer: when the node is given no `--peer`, it starts a second node (this same
//! binary, `--alone --no-telemetry`) that dials it, so gossip flows both ways and every
//! component, p2p included, does real work in the README's main job. `--alone` runs
//! without it.
//!
//! The peer dies with its node even when the node is killed without its shutdown path
//! (SIGKILL, a crash): on Linux the kernel sends it SIGTERM when the node dies
//! (`PR_SET_PDEATHSIG`), and on every platform it stops when its standard input, a pipe
//! only the node holds, closes (`--until-stdin-closes`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, ChildStdin, Command};

use crate::cli::Cli;

/// A running local peer; stopped (SIGTERM, then killed after 10 s) by [`LocalPeer::stop`]
/// and killed if dropped.
pub struct LocalPeer {
    child: Child,
    /// The write end of the peer's standard input, never written: the peer stops when it
    /// closes, which the OS does when this process ends.
    _lifeline: Option<ChildStdin>,
}

impl LocalPeer {
    /// Starts the peer: it dials `node_p2p`, keeps its blocks under `data_dir/local-peer`
    /// and generates load at the node's rate, without telemetry of its own.
    pub fn start(cli: &Cli, node_p2p: SocketAddr, data_dir: &Path) -> std::io::Result<Self> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args(["--alone", "--no-telemetry", "--no-metrics-bridge"])
            .args(["--rpc-addr", "127.0.0.1:0", "--p2p-addr", "127.0.0.1:0"])
            .arg("--peer")
            .arg(node_p2p.to_string())
            .arg("--data-dir")
            .arg(data_dir.join("local-peer"))
            .arg("--slot")
            .arg(humantime::format_duration(cli.slot).to_string())
            .arg("--load-rate")
            .arg(cli.load_rate.to_string())
            .args(["--summary-every", "1h"])
            .arg("--until-stdin-closes")
            // The node's own settings stay the node's.
            .env_remove("DEMO_RUN_FOR")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        if cli.no_load {
            command.arg("--no-load");
        }
        #[cfg(target_os = "linux")]
        die_with_this_process(&mut command);
        let mut child = command.spawn()?;
        Ok(Self {
            _lifeline: child.stdin.take(),
            child,
        })
    }

    /// The peer's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Asks the peer to stop and waits for it (at most 10 s, then kills it).
    pub async fn stop(mut self) {
        #[cfg(unix)]
        if let Some(pid) = self
            .child
            .id()
            .and_then(|p| rustix::process::Pid::from_raw(p as i32))
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => tracing::warn!(%status, "the local peer exited with an error"),
            Ok(Err(error)) => tracing::warn!(%error, "cannot wait for the local peer"),
            Err(_) => {
                tracing::warn!("the local peer did not stop within 10 s; killing it");
                let _ = self.child.kill().await;
            }
        }
    }
}

/// Has the kernel send the child SIGTERM when this process dies (`PR_SET_PDEATHSIG`).
///
/// The signal follows the thread that spawned the child, not the process: the node spawns
/// its peer from the thread that runs it, which lives as long as the node; the stdin pipe
/// covers any other case.
#[cfg(target_os = "linux")]
fn die_with_this_process(command: &mut Command) {
    use rustix::process::{getppid, set_parent_process_death_signal, Pid, Signal};
    let parent = Pid::from_raw(std::process::id() as i32);
    // SAFETY: between fork and exec the closure makes two raw system calls (prctl,
    // getppid) and allocates nothing, which is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            set_parent_process_death_signal(Some(Signal::TERM))?;
            // The node may have died before the signal was armed: then do not start.
            if getppid() != parent {
                return Err(rustix::io::Errno::SRCH.into());
            }
            Ok(())
        });
    }
}
