//! P2P: TCP connections to the peers given on the command line (and from peers that
//! connect), gossiping transactions and blocks as length-prefixed JSON frames:
//! `[topic: u8][length: u32 LE][body]`. A transaction's body carries the W3C
//! `traceparent` of its publication beside it: `{"tx": {...}, "traceparent": "00-..."}`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use host_metrics::NetworkDirection as Direction;
use telemetry::{Counter, Metrics, TelemetryClient, TraceContext, UpDownCounter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::mempool::{Mempool, Origin};
use crate::tx::{Block, Transaction};

/// Largest frame body accepted.
const MAX_FRAME: u32 = 8 * 1024 * 1024;
/// Frames queued per peer before new ones are dropped for that peer.
const PEER_QUEUE: usize = 4096;

telemetry::attribute_enum! {
    /// What a gossip message carries.
    pub enum Topic: "p2p.topic" {
        /// A transaction.
        Transaction => "transaction",
        /// A block announcement.
        Block => "block",
    }
}

telemetry::attribute_enum! {
    /// Why a connection attempt or connection failed.
    pub enum ConnectionFailure: "p2p.failure.reason" {
        /// The peer refused or could not be reached.
        Unreachable => "unreachable",
        /// The connection broke while in use.
        Broken => "broken",
        /// The peer sent something that is not a valid message.
        Protocol => "protocol",
    }
}

/// P2P instrumentation.
#[derive(Metrics)]
#[metrics(prefix = "node.p2p")]
struct P2pMetrics {
    /// Gossip messages, by direction and topic.
    #[metric(unit = "{message}")]
    messages: Counter<u64, (Direction, Topic)>,
    /// Gossip bytes on the wire (frames included), by direction and topic.
    #[metric(unit = "By")]
    traffic: Counter<u64, (Direction, Topic)>,
    /// Peers connected.
    #[metric(unit = "{peer}")]
    peers: UpDownCounter<i64, ()>,
    /// Failed connection attempts and broken connections, by reason.
    #[metric(name = "connection.failures", unit = "{failure}")]
    failures: Counter<u64, (ConnectionFailure,)>,
}

impl P2pMetrics {
    fn frame(&self, direction: Direction, topic: Topic, bytes: usize) {
        self.messages.add(1, (direction, topic));
        self.traffic.add(bytes as u64, (direction, topic));
    }
}

#[derive(Clone)]
struct Frame {
    topic: Topic,
    body: Arc<Vec<u8>>,
}

/// The gossip layer.
pub struct P2p {
    peers: Mutex<Vec<mpsc::Sender<Frame>>>,
    connected: AtomicUsize,
    mempool: Arc<Mempool>,
    metrics: P2pMetrics,
}

impl P2p {
    /// A gossip layer that feeds received transactions into `mempool`.
    pub fn new(mempool: Arc<Mempool>, client: &TelemetryClient) -> Self {
        Self {
            peers: Mutex::new(Vec::new()),
            connected: AtomicUsize::new(0),
            mempool,
            metrics: P2pMetrics::new(client),
        }
    }

    /// Peers connected now.
    pub fn peer_count(&self) -> usize {
        self.connected.load(Ordering::Relaxed)
    }

    /// Gossips a transaction this node accepted from its own RPC, with the trace context
    /// of its publication so that the peers' admission joins the same trace.
    pub fn gossip_transaction(&self, tx: &Transaction) {
        let span = messaging_span("publish", "send", Topic::Transaction);
        let _entered = span.enter();
        let message = GossipTransaction {
            tx: tx.clone(),
            traceparent: TraceContext::of(&span).traceparent(),
        };
        if let Ok(body) = serde_json::to_vec(&message) {
            span.record("messaging.message.body.size", body.len());
            self.broadcast(Frame {
                topic: Topic::Transaction,
                body: Arc::new(body),
            });
        }
    }

    /// Announces a block this node built.
    pub fn announce_block(&self, block: &Block) {
        if let Ok(body) = serde_json::to_vec(block) {
            self.broadcast(Frame {
                topic: Topic::Block,
                body: Arc::new(body),
            });
        }
    }

    fn broadcast(&self, frame: Frame) {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers.retain(|peer| match peer.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!("peer send queue full; frame dropped for that peer");
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    /// Accepts peers until cancelled.
    pub async fn listen(self: Arc<Self>, listener: TcpListener, cancel: CancellationToken) {
        loop {
            let accepted = tokio::select! {
                _ = cancel.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    tracing::info!(%peer, "peer connected (inbound)");
                    tokio::spawn(self.clone().serve(stream, cancel.clone()));
                }
                Err(error) => tracing::warn!(%error, "p2p accept failed"),
            }
        }
    }

    /// Keeps a connection to `addr` up until cancelled, retrying with backoff.
    pub async fn connect(self: Arc<Self>, addr: SocketAddr, cancel: CancellationToken) {
        let mut backoff = Duration::from_millis(250);
        loop {
            let attempt = tokio::select! {
                _ = cancel.cancelled() => return,
                attempt = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)) => attempt,
            };
            match attempt {
                Ok(Ok(stream)) => {
                    tracing::info!(peer = %addr, "peer connected (outbound)");
                    backoff = Duration::from_millis(250);
                    self.clone().serve(stream, cancel.clone()).await;
                }
                Ok(Err(_)) | Err(_) => {
                    self.metrics
                        .failures
                        .add(1, (ConnectionFailure::Unreachable,));
                    tracing::debug!(peer = %addr, "peer unreachable; retrying in {backoff:?}");
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// Runs one connection: a writer draining this peer's queue, and a reader.
    async fn serve(self: Arc<Self>, stream: TcpStream, cancel: CancellationToken) {
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let (sender, mut queue) = mpsc::channel::<Frame>(PEER_QUEUE);
        self.peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sender);
        self.connected.fetch_add(1, Ordering::Relaxed);
        self.metrics.peers.add(1, ());

        let this = self.clone();
        let write = async move {
            while let Some(frame) = queue.recv().await {
                let mut bytes = Vec::with_capacity(frame.body.len() + 5);
                bytes.push(topic_byte(frame.topic));
                bytes.extend_from_slice(&(frame.body.len() as u32).to_le_bytes());
                bytes.extend_from_slice(&frame.body);
                if writer.write_all(&bytes).await.is_err() {
                    return;
                }
                this.metrics
                    .frame(Direction::Transmit, frame.topic, bytes.len());
            }
        };
        let failure = tokio::select! {
            _ = cancel.cancelled() => None,
            _ = write => Some(ConnectionFailure::Broken),
            failure = self.read_frames(&mut reader) => Some(failure),
        };
        if let Some(reason) = failure {
            self.metrics.failures.add(1, (reason,));
        }
        self.connected.fetch_sub(1, Ordering::Relaxed);
        self.metrics.peers.add(-1, ());
        tracing::info!("peer disconnected");
    }

    /// Reads frames until the connection fails; returns why.
    async fn read_frames(&self, reader: &mut tokio::net::tcp::OwnedReadHalf) -> ConnectionFailure {
        loop {
            let mut head = [0u8; 5];
            if reader.read_exact(&mut head).await.is_err() {
                return ConnectionFailure::Broken;
            }
            let length = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
            let Some(topic) = topic_from_byte(head[0]).filter(|_| length <= MAX_FRAME) else {
                return ConnectionFailure::Protocol;
            };
            let mut body = vec![0u8; length as usize];
            if reader.read_exact(&mut body).await.is_err() {
                return ConnectionFailure::Broken;
            }
            self.metrics
                .frame(Direction::Receive, topic, body.len() + 5);
            match topic {
                Topic::Transaction => match serde_json::from_slice::<GossipTransaction>(&body) {
                    Ok(message) => {
                        let span = messaging_span("receive", "receive", Topic::Transaction);
                        span.record("messaging.message.body.size", body.len());
                        if let Some(parent) = message
                            .traceparent
                            .as_deref()
                            .and_then(TraceContext::from_traceparent)
                        {
                            parent.set_as_parent_of(&span);
                        }
                        let _ = span.in_scope(|| self.mempool.submit(message.tx, Origin::Gossip));
                    }
                    Err(_) => return ConnectionFailure::Protocol,
                },
                Topic::Block => match serde_json::from_slice::<Block>(&body) {
                    Ok(block) if block.verify() => {
                        tracing::debug!(height = block.height, "peer announced a block")
                    }
                    _ => return ConnectionFailure::Protocol,
                },
            }
        }
    }
}

/// A gossiped transaction and the W3C `traceparent` of its publication.
#[derive(serde::Serialize, serde::Deserialize)]
struct GossipTransaction {
    tx: Transaction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    traceparent: Option<String>,
}

/// A messaging span (semantic conventions: `{operation} {destination}`, producer or
/// consumer) for one gossip message.
fn messaging_span(operation: &'static str, kind: &'static str, topic: Topic) -> tracing::Span {
    tracing::info_span!(
        "p2p.gossip",
        otel.name = format!("{operation} {}", topic.as_str()),
        otel.kind = if kind == "send" { "producer" } else { "consumer" },
        messaging.system = "node.p2p",
        messaging.operation.name = operation,
        messaging.operation.type = kind,
        messaging.destination.name = topic.as_str(),
        messaging.message.body.size = tracing::field::Empty,
    )
}

fn topic_byte(topic: Topic) -> u8 {
    match topic {
        Topic::Transaction => 1,
        Topic::Block => 2,
    }
}

fn topic_from_byte(byte: u8) -> Option<Topic> {
    match byte {
        1 => Some(Topic::Transaction),
        2 => Some(Topic::Block),
        _ => None,
    }
}
