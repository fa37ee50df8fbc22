//! Transactions and blocks: signing, verification, identifiers and merkle roots (sha256).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Domain separator of the demo's hash-based signature scheme.
const SIGNING_DOMAIN: &[u8] = b"demo-node/tx-signature/v1";

/// A transaction as submitted over RPC and gossiped between peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Who sends it.
    pub sender: String,
    /// Sender-chosen sequence number.
    pub nonce: u64,
    /// Opaque payload.
    pub payload: String,
    /// Hex sha256 over the domain, sender, nonce and payload.
    pub signature: String,
}

impl Transaction {
    /// A correctly signed transaction.
    pub fn signed(sender: impl Into<String>, nonce: u64, payload: impl Into<String>) -> Self {
        let (sender, payload) = (sender.into(), payload.into());
        let signature = hex::encode(signing_digest(&sender, nonce, &payload));
        Self {
            sender,
            nonce,
            payload,
            signature,
        }
    }

    /// Whether the signature matches the contents.
    pub fn verify(&self) -> bool {
        hex::decode(&self.signature)
            .is_ok_and(|s| s == signing_digest(&self.sender, self.nonce, &self.payload))
    }

    /// The transaction's identifier: sha256 of its signed contents.
    pub fn id(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.signature.as_bytes());
        hasher.update(self.sender.as_bytes());
        hasher.update(self.nonce.to_le_bytes());
        hasher.update(self.payload.as_bytes());
        hasher.finalize().into()
    }

    /// Bytes the transaction occupies in a block.
    pub fn size(&self) -> usize {
        self.sender.len() + 8 + self.payload.len() + self.signature.len()
    }
}

fn signing_digest(sender: &str, nonce: u64, payload: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(SIGNING_DOMAIN);
    hasher.update(sender.as_bytes());
    hasher.update(nonce.to_le_bytes());
    hasher.update(payload.as_bytes());
    hasher.finalize().into()
}

/// A block as stored and announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Height, starting at 1.
    pub height: u64,
    /// Hex merkle root of the transaction ids.
    pub root: String,
    /// Unix milliseconds when built.
    pub timestamp_ms: u64,
    /// The transactions.
    pub transactions: Vec<Transaction>,
}

impl Block {
    /// Builds block `height` over `transactions`.
    pub fn new(height: u64, transactions: Vec<Transaction>) -> Self {
        let ids: Vec<[u8; 32]> = transactions.iter().map(Transaction::id).collect();
        let timestamp_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self {
            height,
            root: hex::encode(merkle_root(&ids)),
            timestamp_ms,
            transactions,
        }
    }

    /// Whether the root matches the transactions.
    pub fn verify(&self) -> bool {
        let ids: Vec<[u8; 32]> = self.transactions.iter().map(Transaction::id).collect();
        hex::encode(merkle_root(&ids)) == self.root
    }

    /// Bytes of the block's transactions.
    pub fn size(&self) -> usize {
        self.transactions.iter().map(Transaction::size).sum()
    }
}

/// The sha256 merkle root of `leaves` (the last node of an odd level is paired with itself;
/// the root of no leaves is sha256 of nothing).
pub fn merkle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    if leaves.is_empty() {
        return Sha256::digest([]).into();
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| {
                let mut hasher = Sha256::new();
                hasher.update(pair[0]);
                hasher.update(pair.get(1).unwrap_or(&pair[0]));
                hasher.finalize().into()
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_roots() {
        let tx = Transaction::signed("alice", 1, "hello");
        assert!(tx.verify());
        let forged = Transaction {
            payload: "hullo".into(),
            ..tx.clone()
        };
        assert!(!forged.verify());
        assert_ne!(tx.id(), forged.id());
        let block = Block::new(1, vec![tx.clone(), forged]);
        assert!(block.verify());
        let tampered = Block {
            transactions: vec![tx],
            ..block
        };
        assert!(!tampered.verify());
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        assert_eq!(merkle_root(&[a]), a);
        assert_eq!(
            merkle_root(&[a, b, c]),
            merkle_root(&[merkle_root(&[a, b]), merkle_root(&[c, c])])
        );
    }
}
