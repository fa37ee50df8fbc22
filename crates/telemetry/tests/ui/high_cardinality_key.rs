telemetry::unbounded_attribute! {
    /// A transaction hash: one series per transaction.
    pub TxHash: "tx.hash", limit = 100000
}
telemetry::metrics! {
    /// Transactions, by hash (never do this).
    pub TXS: Counter<u64, (telemetry::Unbounded<TxHash>,)> = "node.mempool.txs", "{transaction}";
}

fn main() {
    let _ = &TXS;
}
