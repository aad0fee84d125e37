//! Validation of gossip before it is relayed: the verdict a validating subscriber of the
//! p2p-gateway reports for each received message (ACCEPT relays it, REJECT drops it and lowers
//! the sender's score, IGNORE drops it without penalty).
//!
//! The gateway has already checked what needs no state (size, decodes as a `ConsensusMessage`,
//! variant matches the topic). [`GossipCheck::check`] adds what needs the chain's configuration
//! and the node's position:
//!
//! | message | REJECT when | IGNORE when | delivered to consensus |
//! |---|---|---|---|
//! | vote, proposal | wrong chain, signer not a validator at the message's height (not the proposer of its round), bad signature, malformed | authentic but outside the relay window (height not within ±1 of the height being decided, or round more than [`MAX_ROUNDS_AHEAD`] ahead) | if authentic |
//! | finalized block | certificate does not verify against its height's set, malformed | height already final here, or beyond the relay window | if verified and not yet final |
//! | transactions | a transaction without our chain tag or with a bad signature, malformed | empty batch | if every one checks out |
//!
//! A REJECT is objective (a signature, a set membership, a chain id that every honest node
//! computes the same), so honest relays are never penalised; everything that depends on the
//! node's own position is an IGNORE. The cost is bounded per message: one ed25519 verification
//! for a vote or proposal (plus the block hash), one per signer for a certificate (at most the
//! set's size), one per transaction (the payload limit bounds their number).

use coinjecture_crypto_core::signatures;
use coinjecture_primitives::{BlockHeight, ChainId, Round, chain_tag};
use coinjecture_proto::convert;
use coinjecture_proto::v1 as pb;

use crate::admission::{self, Inauthentic};
use crate::validators::ValidatorSchedule;

/// Rounds ahead of the node's own that are still relayed (the engine's default window).
pub const MAX_ROUNDS_AHEAD: Round = 16;

/// The outcome to report to the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GossipVerdict {
    /// Valid: relay.
    Accept,
    /// Invalid: drop and penalise the sender.
    Reject,
    /// Valid but not worth relaying, or not ours to judge: drop without penalty.
    Ignore,
}

/// What to do with one received message.
#[derive(Debug, Clone)]
pub struct GossipOutcome {
    pub verdict: GossipVerdict,
    /// Why (a short label for logs and metrics).
    pub reason: &'static str,
    /// The message for consensus, when it is worth handing over.
    pub deliver: Option<pb::ConsensusMessage>,
}

impl GossipOutcome {
    fn reject(reason: &'static str) -> Self {
        Self { verdict: GossipVerdict::Reject, reason, deliver: None }
    }
    fn ignore(reason: &'static str, deliver: Option<pb::ConsensusMessage>) -> Self {
        Self { verdict: GossipVerdict::Ignore, reason, deliver }
    }
    fn accept(deliver: pb::ConsensusMessage) -> Self {
        Self { verdict: GossipVerdict::Accept, reason: "valid", deliver: Some(deliver) }
    }
}

/// Where the node is: the height it is deciding and its round (from the driver's status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePosition {
    pub height: BlockHeight,
    pub round: Round,
}

fn reason(e: Inauthentic) -> &'static str {
    match e {
        Inauthentic::WrongChain => "wrong_chain",
        Inauthentic::NotAValidator => "not_a_validator",
        Inauthentic::WrongProposer => "wrong_proposer",
        Inauthentic::BlockMismatch => "block_mismatch",
        Inauthentic::BadSignature => "bad_signature",
        Inauthentic::BadCertificate => "bad_certificate",
    }
}

/// The stateful checks of gossip: the chain id and the validator schedule.
#[derive(Debug, Clone)]
pub struct GossipCheck {
    chain_id: ChainId,
    schedule: ValidatorSchedule,
}

impl GossipCheck {
    pub fn new(chain_id: ChainId, schedule: ValidatorSchedule) -> Self {
        Self { chain_id, schedule }
    }

    /// The verdict on one received message (decoded from the payload; an undecodable payload
    /// is a REJECT), given the node's position.
    pub fn check(&self, message: pb::ConsensusMessage, at: NodePosition) -> GossipOutcome {
        use pb::consensus_message::Kind;
        let in_window = |height: BlockHeight, round: Round| {
            height.saturating_add(1) >= at.height
                && height <= at.height.saturating_add(1)
                && (height != at.height || round <= at.round.saturating_add(MAX_ROUNDS_AHEAD))
        };
        match &message.kind {
            Some(Kind::Vote(v)) => {
                let Ok(vote) = coinjecture_primitives::Vote::try_from(v) else {
                    return GossipOutcome::reject("malformed");
                };
                if let Err(e) = admission::check_vote(&self.schedule, &self.chain_id, &vote) {
                    return GossipOutcome::reject(reason(e));
                }
                if in_window(vote.height, vote.round) {
                    GossipOutcome::accept(message)
                } else {
                    GossipOutcome::ignore("outside_window", Some(message))
                }
            }
            Some(Kind::Proposal(p)) => {
                let Ok(proposal) = coinjecture_primitives::Proposal::try_from(p) else {
                    return GossipOutcome::reject("malformed");
                };
                if let Err(e) = admission::check_proposal(&self.schedule, &self.chain_id, &proposal) {
                    return GossipOutcome::reject(reason(e));
                }
                if in_window(proposal.height, proposal.round) {
                    GossipOutcome::accept(message)
                } else {
                    GossipOutcome::ignore("outside_window", Some(message))
                }
            }
            Some(Kind::FinalizedBlock(b)) => {
                let Ok((block, certificate)) = convert::finalized_block(b) else {
                    return GossipOutcome::reject("malformed");
                };
                let height = block.header.block_index;
                if height < at.height {
                    return GossipOutcome::ignore("already_final", None);
                }
                if let Err(e) = admission::check_decided(&self.schedule, &self.chain_id, &block, &certificate) {
                    return GossipOutcome::reject(reason(e));
                }
                if height <= at.height.saturating_add(1) {
                    GossipOutcome::accept(message)
                } else {
                    GossipOutcome::ignore("outside_window", Some(message))
                }
            }
            Some(Kind::Transactions(batch)) => {
                let Ok(txs) = convert::transactions(&batch.transactions, "transactions") else {
                    return GossipOutcome::reject("malformed");
                };
                if txs.is_empty() {
                    return GossipOutcome::ignore("empty", None);
                }
                let tag = chain_tag(&self.chain_id);
                if txs.iter().any(|t| !t.data.starts_with(&tag)) {
                    return GossipOutcome::reject("wrong_chain");
                }
                let messages: Vec<Vec<u8>> = txs.iter().map(|t| t.signing_message()).collect();
                let items: Vec<signatures::VerifyItem<'_>> = txs
                    .iter()
                    .zip(&messages)
                    .map(|(t, m)| signatures::VerifyItem { public_key: &t.from, message: m, signature: &t.signature })
                    .collect();
                if signatures::verify_batch(&items).iter().any(|ok| !ok) {
                    return GossipOutcome::reject("bad_signature");
                }
                GossipOutcome::accept(message)
            }
            None => GossipOutcome::reject("malformed"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use coinjecture_crypto_core::signatures::Keypair;
    use coinjecture_primitives::consensus::{Vote, VoteType};
    use coinjecture_primitives::{Block, BlockHeader, CommitCertificate, Signature, Transaction, TxType};
    use pb::consensus_message::Kind;

    use super::*;
    use crate::{QuorumMode, ValidatorSet};

    fn chain() -> ChainId {
        ChainId::new("coinjecture-gossip").unwrap()
    }

    fn keys() -> Vec<Keypair> {
        (0u8..4).map(|i| Keypair::from_seed(&[i + 1; 32])).collect()
    }

    fn check() -> GossipCheck {
        let set = ValidatorSet::new(keys().iter().map(Keypair::public_key).collect(), QuorumMode::Byzantine).unwrap();
        GossipCheck::new(chain(), ValidatorSchedule::fixed(set))
    }

    const AT: NodePosition = NodePosition { height: 10, round: 0 };

    fn vote_message(key: &Keypair, chain_id: ChainId, height: u64, round: u32, sign: bool) -> pb::ConsensusMessage {
        let mut v = Vote {
            chain_id,
            height,
            round,
            vote_type: VoteType::Prevote,
            block_hash: None,
            validator: key.public_key(),
            signature: Signature::ZERO,
        };
        if sign {
            v.signature = key.sign(&v.signing_bytes());
        }
        pb::ConsensusMessage { kind: Some(Kind::Vote((&v).into())) }
    }

    fn verdict(m: pb::ConsensusMessage) -> (GossipVerdict, &'static str, bool) {
        let o = check().check(m, AT);
        (o.verdict, o.reason, o.deliver.is_some())
    }

    #[test]
    fn votes_are_accepted_only_when_authentic_and_relayed_only_near_our_height() {
        let k = &keys()[1];
        assert_eq!(verdict(vote_message(k, chain(), 10, 0, true)), (GossipVerdict::Accept, "valid", true));
        assert_eq!(verdict(vote_message(k, chain(), 11, 3, true)).0, GossipVerdict::Accept);
        assert_eq!(verdict(vote_message(k, chain(), 10, 0, false)), (GossipVerdict::Reject, "bad_signature", false));
        let outsider = Keypair::from_seed(&[99; 32]);
        assert_eq!(
            verdict(vote_message(&outsider, chain(), 10, 0, true)),
            (GossipVerdict::Reject, "not_a_validator", false)
        );
        let other = ChainId::new("another-chain").unwrap();
        assert_eq!(verdict(vote_message(k, other, 10, 0, true)), (GossipVerdict::Reject, "wrong_chain", false));
        // Authentic but stale, far ahead, or many rounds ahead: not relayed, still delivered.
        for (h, r) in [(3, 0), (40, 0), (10, 100)] {
            assert_eq!(verdict(vote_message(k, chain(), h, r, true)), (GossipVerdict::Ignore, "outside_window", true));
        }
    }

    fn block(height: u64) -> Block {
        Block {
            header: BlockHeader { codec_version: 1, block_index: height, timestamp: 1, ..Default::default() },
            transactions: Vec::new(),
        }
    }

    fn finalized(height: u64, forge: bool) -> pb::ConsensusMessage {
        let b = block(height);
        let mut c = CommitCertificate { height, round: 0, block_hash: b.hash(), signatures: Vec::new() };
        let bytes = c.signing_bytes(&chain());
        c.signatures = keys()
            .iter()
            .take(3)
            .map(|k| (k.public_key(), if forge { Signature([3; 64]) } else { k.sign(&bytes) }))
            .collect();
        let c = c.sorted();
        pb::ConsensusMessage { kind: Some(Kind::FinalizedBlock(convert::finalized_block_to_pb(&b, &c))) }
    }

    #[test]
    fn finalized_blocks_are_checked_against_their_certificate() {
        assert_eq!(verdict(finalized(10, false)), (GossipVerdict::Accept, "valid", true));
        assert_eq!(verdict(finalized(10, true)), (GossipVerdict::Reject, "bad_certificate", false));
        assert_eq!(verdict(finalized(5, true)), (GossipVerdict::Ignore, "already_final", false));
        assert_eq!(verdict(finalized(30, false)), (GossipVerdict::Ignore, "outside_window", true));
    }

    fn transfer(from: &Keypair, data: Vec<u8>, sign: bool) -> Transaction {
        let mut t = Transaction {
            codec_version: 1,
            tx_type: TxType::Transfer,
            from: from.public_key(),
            to: keys()[0].public_key(),
            amount: 1,
            nonce: 0,
            gas_limit: 21_000,
            gas_price: 1,
            signature: Signature::ZERO,
            data,
            timestamp: 0,
        };
        if sign {
            t.signature = from.sign(&t.signing_message());
        }
        t
    }

    fn batch(txs: &[Transaction]) -> pb::ConsensusMessage {
        let batch = pb::TransactionBatch { transactions: txs.iter().map(Into::into).collect() };
        pb::ConsensusMessage { kind: Some(Kind::Transactions(batch)) }
    }

    #[test]
    fn transactions_are_relayed_only_with_our_chain_tag_and_valid_signatures() {
        let sender = Keypair::from_seed(&[42; 32]);
        let good = transfer(&sender, chain_tag(&chain()), true);
        assert_eq!(verdict(batch(&[good.clone(), good.clone()])), (GossipVerdict::Accept, "valid", true));
        let unsigned = transfer(&sender, chain_tag(&chain()), false);
        assert_eq!(verdict(batch(&[good.clone(), unsigned])), (GossipVerdict::Reject, "bad_signature", false));
        let elsewhere = transfer(&sender, chain_tag(&ChainId::new("another-chain").unwrap()), true);
        assert_eq!(verdict(batch(&[elsewhere, good])), (GossipVerdict::Reject, "wrong_chain", false));
        assert_eq!(verdict(batch(&[])).0, GossipVerdict::Ignore);
    }
}
