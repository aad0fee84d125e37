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
