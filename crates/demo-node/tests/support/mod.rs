//! Runs the real `demo-node` binary on ephemeral ports and talks to it like a user would.
#![allow(dead_code)] // each test binary uses part of the support module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running node.
pub struct Node {
    child: Child,
    pub rpc: SocketAddr,
    pub p2p: SocketAddr,
    pub metrics: SocketAddr,
    /// The block store directory (removed when the node is dropped).
    data: std::path::PathBuf,
    lines: mpsc::Receiver<String>,
}

fn addr_after(line: &str, key: &str) -> SocketAddr {
    let start = line
        .find(key)
        .unwrap_or_else(|| panic!("{key} in {line:?}"))
        + key.len();
    let value = line[start..].split_whitespace().next().unwrap();
    let value = value
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    value.parse().unwrap_or_else(|e| panic!("{value:?}: {e}"))
}

impl Node {
    /// Starts the node with ephemeral ports plus `args` and `env`; waits (bounded) for its
    /// "listening" line. Without a `--peer` it runs `--alone` (no local peer), so a test's
    /// counts are its own node's; `start_with_local_peer` keeps the default.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Node {
        let alone = (!args.contains(&"--peer")).then_some("--alone");
        Self::spawn(args.iter().copied().chain(alone), env)
    }

    /// Starts the node as the README's main job does: with its local peer.
    pub fn start_with_local_peer(args: &[&str]) -> Node {
        Self::spawn(args.iter().copied(), &[])
    }

    fn spawn<'a>(args: impl Iterator<Item = &'a str>, env: &[(&str, &str)]) -> Node {
        let args: Vec<&str> = args.collect();
        let mut command = Command::new(env!("CARGO_BIN_EXE_demo-node"));
        // Ephemeral ports, unless the test chose its own.
        for option in ["--rpc-addr", "--p2p-addr", "--metrics-addr"] {
            if !args.contains(&option) {
                command.args([option, "127.0.0.1:0"]);
            }
        }
        command
            .args(["--summary-every", "1s"])
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("demo-node starts");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let listening = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("demo-node printed where it listens");
        assert!(listening.starts_with("demo-node listening:"), "{listening}");
        Node {
            rpc: addr_after(&listening, "rpc="),
            p2p: addr_after(&listening, "p2p="),
            metrics: addr_after(&listening, "metrics="),
            data: listening.rsplit_once(" data=").expect("data=").1.into(),
            child,
            lines,
        }
    }

    /// The pid of the local peer, from the line the node prints when it starts one.
    pub fn local_peer_pid(&self) -> Option<u32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some(rest) = line.strip_prefix("demo-node: started a local peer (pid ") {
                return rest.split(')').next()?.parse().ok();
            }
        }
        None
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// POSTs a JSON body to the RPC; returns the status code.
    pub fn post(&self, path: &str, body: &str) -> u16 {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        request(self.rpc, &(head + body)).0
    }

    /// GETs an RPC path; returns status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        request(
            self.rpc,
            &format!("GET {path} HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n"),
        )
    }

    /// Scrapes the bridge and parses it.
    pub fn scrape(&self) -> Exposition {
        let (status, body) = request(
            self.metrics,
            "GET /metrics HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status, 200);
        Exposition(
            prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap(),
            body,
        )
    }

    /// The chain height from the RPC.
    pub fn height(&self) -> u64 {
        let (_, body) = self.get("/height");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        value["height"].as_u64().unwrap()
    }

    /// SIGKILL, then waits for the exit: the node gets no chance to run its shutdown path.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("the killed node is reaped");
    }

    /// SIGTERM; asserts a clean exit (which removes a default, temporary block store) and
    /// returns the height the node printed when it stopped.
    pub fn terminate_cleanly(self) -> f64 {
        let data = self.data.clone();
        let temporary = data.starts_with(std::env::temp_dir())
            && data
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("demo-node-"));
        let (status, output) = self.terminate();
        assert!(status.success(), "{status:?}");
        assert!(
            !(temporary && data.exists()),
            "the temporary block store {} was left behind",
            data.display()
        );
        let stopped = output
            .iter()
            .find(|l| l.contains("stopped after"))
            .expect("a final line");
        stopped.rsplit(' ').next().unwrap().parse().unwrap()
    }

    /// SIGTERM, then waits (bounded) for exit; returns the status and the rest of stdout.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let rest = self.lines.try_iter().collect();
                return (status, rest);
            }
            assert!(
                Instant::now() < deadline,
                "demo-node did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    /// Kills the node if it still runs and removes its block store (a clean exit removes a
    /// default one itself; a killed node cannot).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Sends a raw HTTP/1.1 request; returns status and body.
pub fn request(addr: SocketAddr, raw: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// A parsed scrape.
pub struct Exposition(pub prometheus_parse::Scrape, pub String);

impl Exposition {
    /// Sum of the samples of `name` whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    }

    /// A label of the `target_info` series.
    pub fn target_info(&self, label: &str) -> Option<String> {
        self.0
            .samples
            .iter()
            .find(|s| s.metric == "target_info")
            .and_then(|s| s.labels.get(label).map(str::to_owned))
    }
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
/// The demo node's metric catalog as the binary prints it (`--catalog json|markdown`).
pub fn catalog(format: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_demo-node"))
        .args(["--catalog", format])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}

/// A correctly signed transaction as JSON.
pub fn signed_tx(sender: &str, nonce: u64, payload: &str) -> String {
    serde_json::to_string(&demo_node::tx::Transaction::signed(sender, nonce, payload)).unwrap()
}
