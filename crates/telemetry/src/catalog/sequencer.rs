//! The sequencer: builds a block from the mempool every slot.

crate::attribute_enum! {
    /// What a slot produced.
    pub enum SlotOutcome: "sequencer.slot.outcome" {
        /// A block with transactions.
        Built => "built",
        /// A block without transactions.
        Empty => "empty",
        /// The slot passed without a block (the sequencer was late).
        Missed => "missed",
    }
}

crate::metrics! {
    /// Slots, by outcome.
    pub SLOTS: Counter<u64, (SlotOutcome,)> = "node.sequencer.slots", "{slot}";
    /// Time to build one block (take transactions, compute the merkle root).
    pub BLOCK_BUILD_DURATION: Histogram<f64, ()> = "node.sequencer.block.build.duration", "s";
    /// Transactions per block.
    pub BLOCK_TRANSACTIONS: Histogram<f64, ()> = "node.sequencer.block.transactions", "{transaction}";
    /// Bytes of transactions per block.
    pub BLOCK_SIZE: Histogram<f64, ()> = "node.sequencer.block.size", "By";
    /// Transactions included in blocks.
    pub INCLUDED: Counter<u64, ()> = "node.sequencer.included", "{transaction}";
    /// Time from a transaction's arrival in the mempool to its inclusion in a block.
    pub INCLUSION_DELAY: Histogram<f64, ()> = "node.sequencer.inclusion.delay", "s";
}
