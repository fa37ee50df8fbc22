//! The mempool: validates and holds transactions until a block includes them.

crate::attribute_enum! {
    /// What the mempool did with a submitted transaction.
    pub enum AdmissionOutcome: "mempool.outcome" {
        /// Accepted into the pool.
        Accepted => "accepted",
        /// Already in the pool or already included.
        Duplicate => "duplicate",
        /// The signature did not verify.
        InvalidSignature => "invalid_signature",
        /// Larger than the transaction size limit.
        TooLarge => "too_large",
    }
}

crate::attribute_enum! {
    /// Why a transaction left the pool.
    pub enum RemovalReason: "mempool.removal.reason" {
        /// Included in a block.
        Included => "included",
        /// Evicted to make room (the oldest goes first).
        Evicted => "evicted",
    }
}

crate::attribute_enum! {
    /// Where a transaction came from.
    pub enum Origin: "mempool.origin" {
        /// Submitted through this node's RPC.
        Rpc => "rpc",
        /// Gossiped by a peer.
        Gossip => "gossip",
    }
}

crate::metrics! {
    /// Transactions offered to the mempool, by origin and outcome.
    pub ADMISSIONS: Counter<u64, (Origin, AdmissionOutcome)> = "node.mempool.admissions", "{transaction}";
    /// Transactions that left the mempool, by reason.
    pub REMOVALS: Counter<u64, (RemovalReason,)> = "node.mempool.removals", "{transaction}";
    /// Transactions waiting in the mempool.
    pub SIZE: ObservableGauge<u64, ()> = "node.mempool.size", "{transaction}";
    /// Bytes of the transactions waiting in the mempool.
    pub USAGE: ObservableGauge<u64, ()> = "node.mempool.usage", "By";
    /// Time to validate one transaction (size, signature and duplicate checks).
    pub VALIDATION_DURATION: Histogram<f64, ()> = "node.mempool.validation.duration", "s";
}
