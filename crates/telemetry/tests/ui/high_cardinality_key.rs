telemetry::unbounded_attribute! {
    /// A transaction hash: one series per transaction.
    pub TxHash: "tx.hash", limit = 100000
}

fn main() {}
