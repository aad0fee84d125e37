//! Compact proposals (issue #24 item 1): a proposer publishes the header and the transaction
//! hashes; a validator rebuilds the block from its mempool and asks its peers for what it misses.
//!
//! - The proposer publishes a [`CompactProposal`] (the signed proposal, a block of header only,
//!   and the hashes in block order). The signature covers the block hash, which the header alone
//!   determines: it is the full proposal's signature, so the signed bytes do not change.
//! - A validator checks that the hashes give the header's Merkle root (else the proposal is
//!   dropped: the engine never sees it and prevotes nil when its propose timeout fires), takes
//!   each transaction from its mempool by hash (sealed: nothing is hashed again) and, when some
//!   are missing, publishes a [`TransactionRequest`] for them. Any peer holding some answers
//!   with a `transactions` batch, in request order (identical answers from several peers are one
//!   gossip message: the id is the payload's hash).
//! - When the block is still incomplete after [`retry_ms`], the validator asks for the full
//!   proposal (`full_block`); a peer holding the whole block (the proposer, or a validator that
//!   rebuilt it) publishes the full proposal. After that the engine's propose timeout decides:
//!   a proposer that never serves its transactions gets a nil prevote and the round moves on.
//! - Only a complete block whose transaction hashes give the header's root reaches the engine,
//!   which asks the ledger to validate it as any other proposal.
//!
//! Bounds: at most [`MAX_REBUILDS`] proposals being rebuilt at once (the oldest goes); a request
//! names at most [`MAX_REQUESTED_TRANSACTIONS`] hashes; a node answers at most [`MAX_ANSWERS`]
//! requests per (height, round), each with at most [`MAX_ANSWER_BYTES`] of transactions.

use std::collections::HashMap;

use coinjecture_primitives::consensus::Proposal;
use coinjecture_primitives::{Hash32, SealedBlock, SealedTransaction, UnixMillis};
use coinjecture_proto::ports::gateway::{CompactProposal, MAX_REQUESTED_TRANSACTIONS, TransactionRequest};

/// Proposals being rebuilt at once.
pub(crate) const MAX_REBUILDS: usize = 4;

/// Requests one node answers per (height, round).
pub(crate) const MAX_ANSWERS: u32 = 32;

/// Most transaction bytes in one answer.
pub(crate) const MAX_ANSWER_BYTES: usize = 4 << 20;

/// How long a validator waits for missing transactions before it asks for the full proposal:
/// a quarter of the propose timeout, between 50 ms and 500 ms.
pub(crate) fn retry_ms(timeout_propose_ms: u64) -> i64 {
    i64::try_from((timeout_propose_ms / 4).clamp(50, 500)).unwrap_or(500)
}

/// Why a compact proposal is not rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The hashes do not give the header's Merkle root.
    MerkleMismatch,
}

/// A compact proposal being rebuilt.
#[derive(Debug)]
pub(crate) struct Rebuild {
    /// The signed proposal (header-only block).
    pub(crate) proposal: Proposal,
    pub(crate) block_hash: Hash32,
    hashes: Vec<Hash32>,
    slots: Vec<Option<SealedTransaction>>,
    /// Missing hash → its positions in the block.
    missing: HashMap<Hash32, Vec<usize>>,
    /// Transactions taken from elsewhere than the mempool (fetched).
    pub(crate) fetched: usize,
    /// When the next step is due: the full-block request, then never.
    pub(crate) retry_at_ms: UnixMillis,
    pub(crate) asked_full: bool,
}

impl Rebuild {
    /// Starts rebuilding `compact`, taking what `lookup` holds.
    pub(crate) fn start(
        compact: CompactProposal,
        lookup: impl Fn(&Hash32) -> Option<SealedTransaction>,
        retry_at_ms: UnixMillis,
    ) -> Result<Self, Refused> {
        let CompactProposal { proposal, tx_hashes } = compact;
        if coinjecture_crypto_core::merkle::merkle_root(&tx_hashes) != proposal.block.header.merkle_root {
            return Err(Refused::MerkleMismatch);
        }
        let mut missing: HashMap<Hash32, Vec<usize>> = HashMap::new();
        let slots = tx_hashes
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let found = lookup(h);
                if found.is_none() {
                    missing.entry(*h).or_default().push(i);
                }
                found
            })
            .collect();
        let block_hash = proposal.block.hash();
        Ok(Self { proposal, block_hash, hashes: tx_hashes, slots, missing, fetched: 0, retry_at_ms, asked_full: false })
    }

    /// The hashes still missing, in block order, at most [`MAX_REQUESTED_TRANSACTIONS`].
    pub(crate) fn missing(&self) -> Vec<Hash32> {
        let mut positions: Vec<(usize, Hash32)> =
            self.missing.iter().filter_map(|(h, at)| at.first().map(|i| (*i, *h))).collect();
        positions.sort_unstable();
        positions.into_iter().map(|(_, h)| h).take(MAX_REQUESTED_TRANSACTIONS).collect()
    }

    /// How many transactions are missing.
    pub(crate) fn missing_count(&self) -> usize {
        self.missing.len()
    }

    /// Puts `tx` where the block has it; true when it was missing.
    pub(crate) fn fill(&mut self, tx: &SealedTransaction) -> bool {
        let Some(at) = self.missing.remove(&tx.hash()) else { return false };
        for i in at {
            if let Some(slot) = self.slots.get_mut(i) {
                *slot = Some(tx.clone());
            }
        }
        self.fetched += 1;
        true
    }

    /// Whether `hash` is one of the transactions still missing.
    pub(crate) fn wants(&self, hash: &Hash32) -> bool {
        self.missing.contains_key(hash)
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// The request for what is missing (or for the full proposal).
    pub(crate) fn request(&self, full_block: bool) -> TransactionRequest {
        TransactionRequest {
            height: self.proposal.height,
            round: self.proposal.round,
            block_hash: self.block_hash,
            tx_hashes: if full_block { Vec::new() } else { self.missing() },
            full_block,
        }
    }

    /// The full proposal and its sealed block; `None` while incomplete. The block's transaction
    /// hashes are the compact proposal's, which gave the header's Merkle root.
    pub(crate) fn finish(self) -> Option<(Proposal, SealedBlock)> {
        let txs: Option<Vec<SealedTransaction>> = self.slots.into_iter().collect();
        let txs = txs?;
        debug_assert!(txs.iter().map(SealedTransaction::hash).eq(self.hashes.iter().copied()));
        let sealed = SealedBlock::from_sealed(self.proposal.block.header.clone(), txs);
        let mut proposal = self.proposal;
        proposal.block = sealed.block().clone();
        Some((proposal, sealed))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use coinjecture_primitives::{Block, BlockHeader, ChainId, Height, PublicKey, Round, Signature, Transaction};

    use super::*;

    fn tx(nonce: u64) -> SealedTransaction {
        SealedTransaction::seal(Transaction {
            codec_version: 1,
            tx_type: coinjecture_primitives::TxType::Transfer,
            from: PublicKey([1; 32]),
            to: PublicKey([2; 32]),
            amount: 1,
            nonce,
            gas_limit: 21_000,
            gas_price: 1,
            signature: Signature([0; 64]),
            data: Vec::new(),
            timestamp: 0,
        })
    }

    fn compact(txs: &[SealedTransaction], root: Option<Hash32>) -> CompactProposal {
        let hashes: Vec<Hash32> = txs.iter().map(SealedTransaction::hash).collect();
        let header = BlockHeader {
            codec_version: 1,
            block_index: Height(1),
            timestamp: 1,
            parent_hash: Hash32::ZERO,
            merkle_root: root.unwrap_or_else(|| coinjecture_crypto_core::merkle::merkle_root(&hashes)),
            miner_address: PublicKey([3; 32]),
            commitment: Hash32::ZERO,
            difficulty_target: 0,
            nonce: 0,
            extra_data: Vec::new(),
        };
        let proposal = Proposal {
            chain_id: ChainId::new("compact").unwrap(),
            height: Height(1),
            round: Round(0),
            pol_round: None,
            timestamp_ms: UnixMillis(1),
            block: Block { header, transactions: Vec::new() },
            proposer: PublicKey([3; 32]),
            signature: Signature([0; 64]),
        };
        CompactProposal { proposal, tx_hashes: hashes }
    }

    #[test]
    fn a_block_is_rebuilt_in_order_from_what_is_held_and_what_arrives() {
        let txs: Vec<SealedTransaction> = (0..5).map(tx).collect();
        let held: HashMap<Hash32, SealedTransaction> =
            [0, 2, 4].iter().map(|&i| (txs[i].hash(), txs[i].clone())).collect();
        let mut r = Rebuild::start(compact(&txs, None), |h| held.get(h).cloned(), UnixMillis(0)).unwrap();
        assert_eq!(r.missing(), vec![txs[1].hash(), txs[3].hash()]);
        assert!(!r.fill(&tx(99)), "a transaction not in the block fills nothing");
        assert!(r.fill(&txs[3]) && !r.is_complete());
        assert_eq!(r.request(false).tx_hashes, vec![txs[1].hash()]);
        assert!(r.request(true).tx_hashes.is_empty() && r.request(true).full_block);
        assert!(r.fill(&txs[1]) && r.is_complete());
        let (proposal, sealed) = r.finish().unwrap();
        assert_eq!(proposal.block.transactions, txs.iter().map(|t| t.transaction().clone()).collect::<Vec<_>>());
        assert_eq!(sealed.hash(), proposal.block.hash());
    }

    #[test]
    fn hashes_that_do_not_give_the_headers_root_are_refused() {
        let txs: Vec<SealedTransaction> = (0..3).map(tx).collect();
        let lie = compact(&txs, Some(Hash32([7; 32])));
        assert_eq!(Rebuild::start(lie, |_| None, UnixMillis(0)).unwrap_err(), Refused::MerkleMismatch);
    }

    #[test]
    fn the_full_block_request_comes_after_a_quarter_of_the_propose_timeout_within_bounds() {
        assert_eq!(retry_ms(4_000), 500);
        assert_eq!(retry_ms(1_000), 250);
        assert_eq!(retry_ms(40), 50);
    }
}
