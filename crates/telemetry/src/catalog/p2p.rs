//! P2P: TCP connections to peers, gossiping transactions and blocks.

pub use super::host::NetworkDirection as Direction;

crate::attribute_enum! {
    /// What a gossip message carries.
    pub enum Topic: "p2p.topic" {
        /// A transaction.
        Transaction => "transaction",
        /// A block announcement.
        Block => "block",
    }
}

crate::attribute_enum! {
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

crate::metrics! {
    /// Gossip messages, by direction and topic.
    pub MESSAGES: Counter<u64, (Direction, Topic)> = "node.p2p.messages", "{message}";
    /// Gossip bytes on the wire (frames included), by direction and topic.
    pub TRAFFIC: Counter<u64, (Direction, Topic)> = "node.p2p.traffic", "By";
    /// Peers connected.
    pub PEERS: UpDownCounter<i64, ()> = "node.p2p.peers", "{peer}";
    /// Failed connection attempts and broken connections, by reason.
    pub CONNECTION_FAILURES: Counter<u64, (ConnectionFailure,)> = "node.p2p.connection.failures", "{failure}";
}
