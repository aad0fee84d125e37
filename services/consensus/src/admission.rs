//! What a message must prove before it costs anything.
//!
//! A peer's message can make a node do expensive or lasting things: broadcast a whole finalized
//! block (an old-height message: "a peer is behind"), ask peers for blocks (messages from `f + 1`
//! validators at a later height: "we are behind"), keep it in memory (next-height messages,
//! finalized blocks for later heights). None of that may follow from a forged message, so each of
//! these paths first checks the message is **authentic**: the right chain, signed by a validator
//! of the set *at the message's height* (the proposer of its round, for a proposal), with a valid
//! signature. The checks are ordered cheapest first (chain, membership, then one ed25519
//! verification; a certificate costs one verification per signer, at most the set's size).
//!
//! Also here: the bounded buffers and rate limits those paths use —
//! [`NextHeightBuffer`] (bounded by count and bytes, with a per-sender share so one validator's
//! flood cannot crowd out the others), and [`HelpLimiter`] (finalized-block broadcasts per
//! height *and* overall, so alternating heights does not defeat the limit).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use coinjecture_crypto_core::signatures;
use coinjecture_primitives::consensus::{Proposal, Vote};
use coinjecture_primitives::{Block, ChainId, CommitCertificate, Height, PublicKey, Signature, UnixMillis, limits};

use crate::engine::{DropReason, Message};
use crate::validators::{self, ValidatorSchedule};

/// Why a message is not authentic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Inauthentic {
    #[error("the message is for another chain")]
    WrongChain,
    #[error("the signer is not a validator at the message's height")]
    NotAValidator,
    #[error("the signer is not the proposer of the message's (height, round)")]
    WrongProposer,
    #[error("the block does not match the proposal or certificate")]
    BlockMismatch,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the commit certificate does not verify")]
    BadCertificate,
}

impl From<Inauthentic> for DropReason {
    fn from(e: Inauthentic) -> Self {
        match e {
            Inauthentic::WrongChain => DropReason::WrongChain,
            Inauthentic::NotAValidator => DropReason::NotAValidator,
            Inauthentic::WrongProposer => DropReason::WrongProposer,
            Inauthentic::BlockMismatch => DropReason::BlockMismatch,
            Inauthentic::BadSignature => DropReason::BadSignature,
            Inauthentic::BadCertificate => DropReason::BadCertificate,
        }
    }
}

/// A vote for `chain`, signed by a validator of its height.
pub fn check_vote(schedule: &ValidatorSchedule, chain: &ChainId, vote: &Vote) -> Result<(), Inauthentic> {
    if vote.chain_id != *chain {
        return Err(Inauthentic::WrongChain);
    }
    if !schedule.at(vote.height).contains(&vote.validator) {
        return Err(Inauthentic::NotAValidator);
    }
    if !signatures::verify(&vote.validator, &vote.signing_bytes(), &vote.signature) {
        return Err(Inauthentic::BadSignature);
    }
    Ok(())
}

/// A proposal for `chain`, of a block at its height, signed by the proposer of its (height, round).
pub fn check_proposal(schedule: &ValidatorSchedule, chain: &ChainId, proposal: &Proposal) -> Result<(), Inauthentic> {
    if proposal.chain_id != *chain {
        return Err(Inauthentic::WrongChain);
    }
    if schedule.at(proposal.height).proposer(proposal.height, proposal.round) != proposal.proposer {
        return Err(Inauthentic::WrongProposer);
    }
    if proposal.block.header.block_index != proposal.height {
        return Err(Inauthentic::BlockMismatch);
    }
    if !signatures::verify(&proposal.proposer, &proposal.signing_bytes(), &proposal.signature) {
        return Err(Inauthentic::BadSignature);
    }
    Ok(())
}

/// A finalized block whose certificate holds a quorum of valid precommits of its height's set.
pub fn check_decided(
    schedule: &ValidatorSchedule,
    chain: &ChainId,
    block: &Block,
    certificate: &CommitCertificate,
) -> Result<(), Inauthentic> {
    let height = block.header.block_index;
    validators::verify_certificate(schedule.at(height), chain, height, &block.hash(), certificate)
        .map_err(|_| Inauthentic::BadCertificate)
}

/// [`check_vote`] or [`check_proposal`].
pub fn check_message(schedule: &ValidatorSchedule, chain: &ChainId, message: &Message) -> Result<(), Inauthentic> {
    match message {
        Message::Vote(v) => check_vote(schedule, chain, v),
        Message::Proposal(p) => check_proposal(schedule, chain, p),
    }
}

fn signature_of(message: &Message) -> Signature {
    match message {
        Message::Vote(v) => v.signature,
        Message::Proposal(p) => p.signature,
    }
}

/// What a buffered message is charged, in bytes: a close upper bound of its encoding.
pub fn message_cost(message: &Message) -> usize {
    match message {
        Message::Vote(_) => 256,
        Message::Proposal(p) => {
            let txs: usize = p.block.transactions.iter().map(|t| 300usize.saturating_add(t.data.len())).sum();
            1024usize.saturating_add(p.block.header.extra_data.len()).saturating_add(txs)
        }
    }
}

/// Why [`NextHeightBuffer::push`] refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferRefusal {
    /// This exact message (same signature) is already buffered.
    Duplicate,
    /// The buffer, or this sender's share of it, is full.
    Full,
}

/// Authentic messages for the next height, kept until it begins. Bounded by `max_messages` and
/// `max_bytes` in total, and per sender by its share (`1 / validators` of each, but never less
/// than 64 messages and one maximal message's bytes), so a Byzantine validator filling its own
/// share leaves room for everyone else's messages.
#[derive(Debug, Default)]
pub struct NextHeightBuffer {
    messages: Vec<Message>,
    signatures: HashSet<Signature>,
    bytes: usize,
    per_sender: HashMap<PublicKey, (usize, usize)>,
}

impl NextHeightBuffer {
    /// Whether this exact message is already buffered (a re-sent copy): no need to verify it.
    pub fn contains(&self, message: &Message) -> bool {
        self.signatures.contains(&signature_of(message))
    }

    /// Buffers an authentic message from `sender`, one of `validators` validators of its height.
    pub fn push(
        &mut self,
        sender: PublicKey,
        message: Message,
        validators: usize,
        max_messages: usize,
        max_bytes: usize,
    ) -> Result<(), BufferRefusal> {
        if self.contains(&message) {
            return Err(BufferRefusal::Duplicate);
        }
        let cost = message_cost(&message);
        let validators = validators.max(1);
        let share_messages = (max_messages / validators).max(64).min(max_messages);
        let share_bytes = (max_bytes / validators).max(limits::MAX_MESSAGE_BYTES).min(max_bytes);
        let (count, bytes) = self.per_sender.get(&sender).copied().unwrap_or((0, 0));
        let fits = self.messages.len() < max_messages
            && self.bytes.saturating_add(cost) <= max_bytes
            && count < share_messages
            && bytes.saturating_add(cost) <= share_bytes;
        if !fits {
            return Err(BufferRefusal::Full);
        }
        self.per_sender.insert(sender, (count + 1, bytes.saturating_add(cost)));
        self.bytes = self.bytes.saturating_add(cost);
        self.signatures.insert(signature_of(&message));
        self.messages.push(message);
        Ok(())
    }

    /// Takes every buffered message, in arrival order, and empties the buffer.
    pub fn take(&mut self) -> Vec<Message> {
        let messages = std::mem::take(&mut self.messages);
        *self = Self::default();
        messages
    }

    /// (messages, bytes) buffered.
    pub fn usage(&self) -> (usize, usize) {
        (self.messages.len(), self.bytes)
    }
}

/// Finalized-block broadcasts answering old-height messages: at most one per height and at most
/// [`Self::MAX_PER_INTERVAL`] in total per interval, so a peer cycling through old heights
/// gets a few answers, not one per message.
#[derive(Debug, Default)]
pub struct HelpLimiter {
    recent: VecDeque<(Height, UnixMillis)>,
}

impl HelpLimiter {
    /// Broadcasts per interval, over all heights.
    pub const MAX_PER_INTERVAL: usize = 4;

    /// Whether a broadcast of `height` is allowed at `now`; `interval_ms` is the retry interval.
    pub fn due(&mut self, height: Height, now: UnixMillis, interval_ms: u64) -> bool {
        let interval = Duration::from_millis(interval_ms);
        while self.recent.front().is_some_and(|(_, t)| now.duration_since(*t) >= interval) {
            self.recent.pop_front();
        }
        self.recent.len() < Self::MAX_PER_INTERVAL && !self.recent.iter().any(|(h, _)| *h == height)
    }

    /// Records a broadcast of `height` at `now`.
    pub fn record(&mut self, height: Height, now: UnixMillis) {
        self.recent.push_back((height, now));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use super::*;

    #[test]
    fn the_help_limiter_allows_one_per_height_and_a_few_overall_per_interval() {
        let mut l = HelpLimiter::default();
        assert!(l.due(Height(5), UnixMillis(0), 1000));
        l.record(Height(5), UnixMillis(0));
        assert!(!l.due(Height(5), UnixMillis(10), 1000));
        for h in 1..=3 {
            assert!(l.due(Height(h), UnixMillis(10), 1000));
            l.record(Height(h), UnixMillis(10));
        }
        assert!(!l.due(Height(9), UnixMillis(20), 1000), "the overall limit");
        assert!(l.due(Height(5), UnixMillis(1000), 1000), "a new interval");
    }
}
