//! The sans-I/O consensus engine: `handle(now, Input) -> Vec<Action>`.
//!
//! One [`Engine`] per node follows the Tendermint algorithm (Buchman, Kwon, Milosevic, "The
//! latest gossip on BFT consensus", arXiv:1807.04938, Algorithm 1) for one height at a time,
//! with `2f + 1` read as the validator set's quorum and `f + 1` as its skip threshold (see
//! [`QuorumMode`](crate::QuorumMode)). It performs no I/O and reads no clock: the driver feeds it
//! messages, timer expiries and block-validation results, and carries out the actions it returns,
//! **in order** (a `PersistSignState` must be durable before the `Broadcast` that follows it).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use coinjecture_crypto_core::signatures::{self, Keypair};
use coinjecture_primitives::consensus::{Evidence, Proposal, Vote, VoteType};
use coinjecture_primitives::{
    Block, ChainId, CommitCertificate, Hash32, Height, PublicKey, Round, Signature, UnixMillis,
};

use crate::admission::{self, HelpLimiter, NextHeightBuffer};
use crate::lock_state::LockState;
use crate::sign_state::{SignDecision, SignState, SignStep};
use crate::validators::{self, ValidatorSchedule, ValidatorSet};

/// Timing and resource limits of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    pub chain_id: ChainId,
    /// Target time between blocks; the proposer waits until the parent's time plus this.
    pub block_time_ms: u64,
    /// Propose timeout of round 0 (counted from when the proposal is due).
    pub timeout_propose_ms: u64,
    /// Prevote and precommit timeouts of round 0.
    pub timeout_vote_ms: u64,
    /// Added to every timeout per round.
    pub timeout_increase_ms: u64,
    /// No timeout grows beyond this (an uncapped backoff stalls small networks for minutes).
    pub timeout_cap_ms: u64,
    /// Messages for rounds further ahead than this are dropped (bounded memory).
    pub max_rounds_ahead: Round,
    /// Messages buffered for the next height, at most.
    pub max_buffered_messages: usize,
    /// Bytes of messages buffered for the next height, at most (each sender gets a share; see
    /// [`NextHeightBuffer`]).
    pub max_buffered_bytes: usize,
    /// Minimum time between two sync requests.
    pub sync_retry_ms: u64,
    /// How often a validator re-sends its own messages of the current height. Gossip is not
    /// reliable (drops, partitions); Tendermint's liveness assumes messages eventually arrive, so
    /// the engine repeats what it said until the height is decided.
    pub rebroadcast_ms: u64,
    /// Finalized blocks from sync kept for heights we have not reached yet, at most.
    pub max_pending_decided: usize,
    /// A fresh proposal whose block is stamped more than this beyond the local clock gets a nil
    /// prevote. Without the bound one fast clock (or a Byzantine proposer) could stamp a block
    /// hours ahead, and round 0 of every later height waits for the parent's time.
    pub max_future_drift_ms: u64,
}

impl EngineConfig {
    /// Defaults derived from the block time: propose timeout twice the block time, vote timeouts
    /// half of it, +half a block time per failed round, capped at ten block times.
    pub fn with_block_time(chain_id: ChainId, block_time_ms: u64) -> Self {
        Self {
            chain_id,
            block_time_ms,
            timeout_propose_ms: 2 * block_time_ms,
            timeout_vote_ms: block_time_ms / 2,
            timeout_increase_ms: block_time_ms / 2,
            timeout_cap_ms: 10 * block_time_ms,
            max_rounds_ahead: Round(16),
            max_buffered_messages: 4096,
            max_buffered_bytes: 64 * 1024 * 1024,
            sync_retry_ms: block_time_ms,
            rebroadcast_ms: block_time_ms / 4,
            max_pending_decided: 256,
            max_future_drift_ms: Self::default_max_future_drift_ms(block_time_ms),
        }
    }

    /// The default of [`Self::max_future_drift_ms`]: the larger of the block time and 500 ms
    /// (operators set it with `consensus.max_future_drift`).
    pub fn default_max_future_drift_ms(block_time_ms: u64) -> u64 {
        block_time_ms.max(500)
    }

    fn timeout(&self, base: u64, round: Round) -> u64 {
        base.saturating_add(self.timeout_increase_ms.saturating_mul(u64::from(round))).min(self.timeout_cap_ms)
    }
}

/// A message between validators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Proposal(Proposal),
    Vote(Vote),
}

/// The kinds of timer the engine sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimeoutKind {
    /// The proposer's slot has come: build the block.
    BuildBlock,
    /// Re-send this node's messages of the current height.
    Rebroadcast,
    Propose,
    Prevote,
    Precommit,
}

/// A timer, identified by what it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timeout {
    pub height: Height,
    pub round: Round,
    pub kind: TimeoutKind,
}

/// What the driver tells the engine.
#[derive(Debug, Clone)]
pub enum Input {
    /// Begin (or resume after a restart) at the engine's height.
    Start,
    /// A proposal received from the network.
    Proposal(Proposal),
    /// A vote received from the network.
    Vote(Vote),
    /// A timer set by [`Action::ScheduleTimeout`] expired.
    Timeout(Timeout),
    /// The block asked for by [`Action::BuildBlock`] (already executed by the ledger).
    BlockBuilt { height: Height, round: Round, block: Block },
    /// The ledger's verdict on a block asked for by [`Action::ValidateBlock`].
    BlockValidity { block_hash: Hash32, valid: bool },
    /// A finalized block with its certificate, from sync or gossip.
    DecidedBlock { block: Block, certificate: CommitCertificate },
}

/// Why an input was dropped (counted by the driver's metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    WrongChain,
    OldHeight,
    FutureHeightBufferFull,
    RoundTooFarAhead,
    NotAValidator,
    WrongProposer,
    BadSignature,
    BlockMismatch,
    Duplicate,
    Equivocation,
    BadCertificate,
}

/// What the engine asks the driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Make this the persisted signing state (durably) before anything that follows.
    PersistSignState(SignState),
    /// Make this the persisted lock (durably) before anything that follows: the validator has
    /// just locked on a block and is about to precommit it. Give it back with
    /// [`Engine::restore_lock`] after a restart.
    PersistLock(Box<LockState>),
    /// Send to all peers.
    Broadcast(Message),
    /// Deliver [`Input::Timeout`] at `at_ms` (engine time).
    ScheduleTimeout { at_ms: UnixMillis, timeout: Timeout },
    /// Build a block for (height, round) from the mempool, with the given parent and a timestamp
    /// no earlier than `min_timestamp_ms`; answer with [`Input::BlockBuilt`].
    BuildBlock { height: Height, round: Round, min_timestamp_ms: UnixMillis },
    /// Execute the block against the ledger without writing; answer with [`Input::BlockValidity`].
    ValidateBlock(Block),
    /// The block is final: apply it (with its certificate) before the next input.
    Commit { block: Block, certificate: CommitCertificate },
    /// We are behind: fetch finalized blocks from `from_height` on and feed them back as
    /// [`Input::DecidedBlock`].
    RequestSync { from_height: Height },
    /// A peer is still working on `height`, which we finalized: send it the finalized block and
    /// its certificate (as a `DecidedBlock` message).
    BroadcastDecided { height: Height },
    /// This validator's own votes of the current height that a restart should re-send (its
    /// latest rounds and its proof-of-lock prevotes), replacing the previous set. Persist them
    /// before the broadcast that follows (a process crash must not lose them; they are not
    /// needed for safety, so no fsync is required) and give them back with
    /// [`Engine::restore_own_votes`] after a restart: the node then resumes in the round it
    /// last signed in, instead of leaving it without the votes the others wait for.
    PersistOwnVotes(Vec<Vote>),
    /// Misbehaviour seen: keep it (boxed: two proposals' headers).
    Evidence(Box<Evidence>),
    /// An input was ignored, and why.
    Dropped(DropReason),
}

fn sign_step(vote_type: VoteType) -> SignStep {
    match vote_type {
        VoteType::Prevote => SignStep::Prevote,
        VoteType::Precommit => SignStep::Precommit,
    }
}

fn message_round(m: &Message) -> Round {
    match m {
        Message::Proposal(p) => p.round,
        Message::Vote(v) => v.round,
    }
}

/// The step within a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Propose,
    Prevote,
    Precommit,
}

/// The votes of one (round, type). A validator counts once per block hash; an equivocating
/// validator's second, conflicting vote is kept too (and reported as evidence) but no third, so
/// memory stays bounded. Counting an equivocator on both sides is safe: two quorums for
/// different blocks would still need an honest validator in both (quorum intersection), and it
/// keeps honest nodes that saw the two versions in different orders able to agree on a quorum.
#[derive(Debug, Default)]
struct VoteSet {
    votes: BTreeMap<(PublicKey, Option<Hash32>), Vote>,
    per_validator: HashMap<PublicKey, u8>,
    tally: HashMap<Option<Hash32>, usize>,
}

enum Added {
    New,
    Duplicate,
    /// A second vote of this validator for something else; the first one is returned.
    Conflict(Vote),
    /// Beyond two versions: ignored.
    Excess,
}

const MAX_VERSIONS_PER_VALIDATOR: u8 = 2;

impl VoteSet {
    /// Adds a vote. `named`: its block hash is one a known proposal (or this validator's lock)
    /// names, or nil. Such a vote is counted even past the version cap: otherwise a Byzantine
    /// validator could send two votes for made-up blocks first and have its real vote, the one
    /// an honest relay carries and a quorum may need, ignored forever. Memory stays bounded:
    /// at most two made-up versions per validator, plus the hashes named by known proposals.
    fn add(&mut self, vote: Vote, named: bool) -> Added {
        let key = (vote.validator, vote.block_hash);
        if self.votes.contains_key(&key) {
            return Added::Duplicate;
        }
        let versions = self.per_validator.entry(vote.validator).or_default();
        if *versions >= MAX_VERSIONS_PER_VALIDATOR && !named {
            return Added::Excess;
        }
        *versions = versions.saturating_add(1);
        let first = (*versions == 2)
            .then(|| self.votes.iter().find(|((v, _), _)| *v == vote.validator).map(|(_, first)| first.clone()))
            .flatten();
        *self.tally.entry(vote.block_hash).or_default() += 1;
        self.votes.insert(key, vote);
        match first {
            Some(first) => Added::Conflict(first),
            None => Added::New,
        }
    }

    fn count(&self, hash: Option<Hash32>) -> usize {
        self.tally.get(&hash).copied().unwrap_or(0)
    }

    /// Distinct validators that voted (anything).
    fn total(&self) -> usize {
        self.per_validator.len()
    }

    fn block_with(&self, quorum: usize) -> Option<Hash32> {
        self.tally.iter().find(|(h, n)| h.is_some() && **n >= quorum).and_then(|(h, _)| *h)
    }

    /// The votes for block `hash`.
    fn votes_for(&self, hash: Hash32) -> impl Iterator<Item = &Vote> {
        self.votes.values().filter(move |v| v.block_hash == Some(hash))
    }

    fn signatures_for(&self, hash: Hash32) -> Vec<(PublicKey, Signature)> {
        self.votes_for(hash).map(|v| (v.validator, v.signature)).collect()
    }

    /// Whether this exact vote (signature included) was counted.
    fn has_identical(&self, vote: &Vote) -> bool {
        self.votes.get(&(vote.validator, vote.block_hash)) == Some(vote)
    }
}

#[derive(Debug, Default)]
struct RoundState {
    proposal: Option<Proposal>,
    prevotes: VoteSet,
    precommits: VoteSet,
    senders: HashSet<PublicKey>,
    prevote_timeout_set: bool,
    precommit_timeout_set: bool,
    prevote_quorum_seen: bool,
    /// Duplicate-proposal evidence was reported for this round.
    proposal_evidence: bool,
}

/// The consensus state machine of one node (validator or observer).
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    schedule: ValidatorSchedule,
    key: Keypair,
    me: PublicKey,
    sign_state: Option<SignState>,
    height: Height,
    round: Round,
    step: Step,
    locked: Option<(Round, Hash32)>,
    valid: Option<(Round, Hash32)>,
    rounds: BTreeMap<Round, RoundState>,
    blocks: HashMap<Hash32, Block>,
    validity: HashMap<Hash32, bool>,
    validation_requested: HashSet<Hash32>,
    building: Option<Round>,
    last_commit_ms: UnixMillis,
    /// The local time at which the current height began (the parent was committed, or the
    /// node started): round 0 waits one block time after the earlier of this and the parent's
    /// timestamp, so a parent stamped in the future cannot push it back.
    local_commit_ms: UnixMillis,
    round_start_ms: UnixMillis,
    future: NextHeightBuffer,
    ahead_senders: HashSet<PublicKey>,
    last_sync_request_ms: Option<UnixMillis>,
    own_messages: Vec<Message>,
    pending_decided: BTreeMap<Height, (Block, CommitCertificate)>,
    help: HelpLimiter,
    started: bool,
}

impl Engine {
    /// An engine that will decide `height` (the ledger tip + 1). `last_commit_ms` is the tip's
    /// block time; `sign_state` the persisted signing state (None on a brand-new validator).
    pub fn new(
        config: EngineConfig,
        schedule: ValidatorSchedule,
        key: Keypair,
        height: Height,
        last_commit_ms: UnixMillis,
        sign_state: Option<SignState>,
    ) -> Self {
        let me = key.public_key();
        Self {
            config,
            schedule,
            key,
            me,
            sign_state,
            height,
            round: Round(0),
            step: Step::Propose,
            locked: None,
            valid: None,
            rounds: BTreeMap::new(),
            blocks: HashMap::new(),
            validity: HashMap::new(),
            validation_requested: HashSet::new(),
            building: None,
            last_commit_ms,
            local_commit_ms: last_commit_ms,
            round_start_ms: last_commit_ms,
            future: NextHeightBuffer::default(),
            ahead_senders: HashSet::new(),
            last_sync_request_ms: None,
            own_messages: Vec::new(),
            pending_decided: BTreeMap::new(),
            help: HelpLimiter::default(),
            started: false,
        }
    }

    /// The height being decided.
    pub fn height(&self) -> Height {
        self.height
    }

    /// The current round.
    pub fn round(&self) -> Round {
        self.round
    }

    /// The current step.
    pub fn step(&self) -> Step {
        self.step
    }

    /// (round, block) this validator is locked on, if any.
    pub fn locked(&self) -> Option<(Round, Hash32)> {
        self.locked
    }

    /// (round, block) of the latest proof-of-lock seen, if any.
    pub fn valid(&self) -> Option<(Round, Hash32)> {
        self.valid
    }

    /// (messages, bytes) buffered for the next height.
    pub fn next_height_buffer_usage(&self) -> (usize, usize) {
        self.future.usage()
    }

    /// The validator set deciding the current height.
    pub fn validator_set(&self) -> &ValidatorSet {
        self.schedule.at(self.height)
    }

    /// This node's public key.
    pub fn public_key(&self) -> PublicKey {
        self.me
    }

    /// The last signed message (what the driver persists).
    pub fn sign_state(&self) -> Option<&SignState> {
        self.sign_state.as_ref()
    }

    /// Takes back the lock persisted with [`Action::PersistLock`] before a restart; call it before
    /// [`Input::Start`]. A lock of another height (an older one, left behind by a height that was
    /// decided) is ignored. The lock itself is always honoured, since it is this validator's own
    /// commitment; the locked block becomes the one it re-proposes, and the prevotes that check
    /// out (this height and round, that block, a validator's valid signature) are kept as the
    /// proof of lock and relayed again. Returns whether the lock was taken.
    pub fn restore_lock(&mut self, lock: LockState) -> bool {
        let hash = lock.block.hash();
        if self.started || lock.height != self.height || lock.block.header.block_index != self.height {
            return false;
        }
        self.locked = Some((lock.round, hash));
        self.valid = Some((lock.round, hash));
        // It was valid on this parent before the restart (locking needs it), and the parent is
        // the same: the height has not moved.
        self.validity.insert(hash, true);
        self.validation_requested.insert(hash);
        self.blocks.insert(hash, lock.block);
        let (chain, height, round) = (self.config.chain_id.clone(), self.height, lock.round);
        for vote in lock.prevotes {
            let fits = vote.chain_id == chain
                && vote.height == height
                && vote.round == round
                && vote.vote_type == VoteType::Prevote
                && vote.block_hash == Some(hash)
                && self.set().contains(&vote.validator)
                && signatures::verify(&vote.validator, &vote.signing_bytes(), &vote.signature);
            if fits {
                if vote.validator == self.me {
                    self.own_messages.push(Message::Vote(vote.clone()));
                }
                // Counted as if received; there is nothing to report before the start.
                self.add_vote(vote, &mut Vec::new());
            }
        }
        true
    }

    /// Feeds one input; returns the actions to carry out, in order.
    pub fn handle(&mut self, now: UnixMillis, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start => {
                if !self.started {
                    self.started = true;
                    self.local_commit_ms = self.local_commit_ms.min(now);
                    self.resume(now, &mut out);
                    self.schedule_rebroadcast(now, &mut out);
                }
            }
            Input::Proposal(p) => self.on_proposal(now, p, &mut out),
            Input::Vote(v) => self.on_vote(now, v, &mut out),
            Input::Timeout(t) => self.on_timeout(now, t, &mut out),
            Input::BlockBuilt { height, round, block } => self.on_block_built(now, height, round, block, &mut out),
            Input::BlockValidity { block_hash, valid } => {
                if self.validation_requested.contains(&block_hash) {
                    self.validity.insert(block_hash, valid);
                }
            }
            Input::DecidedBlock { block, certificate } => self.on_decided_block(now, block, certificate, &mut out),
        }
        if self.started {
            self.evaluate(now, &mut out);
        }
        out
    }

    fn set(&self) -> &ValidatorSet {
        self.schedule.at(self.height)
    }

    /// Where a (re)started validator begins. Restarted mid-height, it resumes in the round it
    /// last signed in, after that step, when the vote it last signed was given back with
    /// [`Self::restore_own_votes`]: it re-sends it, and the peers waiting in that round for it
    /// (with another validator down, one validator moving on alone is not enough for them to
    /// skip) get it. Otherwise (its last message was a proposal, or its votes were not kept)
    /// those messages are gone and double-sign protection forbids signing anything else there;
    /// if every validator were in that position, waiting in that round would deadlock (each
    /// waits for votes nobody can send), so it resumes at the next round: moving to a later
    /// round is always safe.
    fn resume(&mut self, now: UnixMillis, out: &mut Vec<Action>) {
        let Some(last) = self.sign_state.as_ref().filter(|s| s.height == self.height).cloned() else {
            self.start_round(now, Round(0), out);
            return;
        };
        let kept = self.own_messages.iter().any(|m| match m {
            Message::Vote(v) => {
                v.round == last.round
                    && sign_step(v.vote_type) == last.step
                    && coinjecture_primitives::sha256(&v.signing_bytes()) == last.signed_bytes_hash
            }
            Message::Proposal(_) => false,
        });
        if !kept {
            self.start_round(now, last.round.saturating_add(1), out);
            return;
        }
        self.round = last.round;
        self.round_start_ms = now;
        self.building = None;
        self.step = if last.step == SignStep::Precommit { Step::Precommit } else { Step::Prevote };
    }

    /// Takes back this validator's own votes persisted with [`Action::PersistOwnVotes`] before
    /// a restart; call it before [`Input::Start`] (after [`Self::restore_lock`]). Votes of
    /// another height, another chain, another key or with a bad signature are ignored. Returns
    /// how many were taken.
    pub fn restore_own_votes(&mut self, votes: Vec<Vote>) -> usize {
        if self.started {
            return 0;
        }
        let mut taken = 0;
        for vote in votes {
            let fits = vote.chain_id == self.config.chain_id
                && vote.height == self.height
                && vote.validator == self.me
                && self.is_validator()
                && signatures::verify(&vote.validator, &vote.signing_bytes(), &vote.signature);
            let message = Message::Vote(vote.clone());
            if fits && !self.own_messages.contains(&message) {
                self.own_messages.push(message);
                self.add_vote(vote, &mut Vec::new());
                taken += 1;
            }
        }
        taken
    }

    /// The own votes a restart should re-send (see [`Action::PersistOwnVotes`]).
    fn own_votes_to_keep(&self) -> Vec<Vote> {
        let recent = self.round.saturating_sub(1);
        let pol_rounds: Vec<Round> = [self.locked, self.valid].iter().flatten().map(|(r, _)| *r).collect();
        self.own_messages
            .iter()
            .filter_map(|m| match m {
                Message::Vote(v) if v.round >= recent || pol_rounds.contains(&v.round) => Some(v.clone()),
                _ => None,
            })
            .collect()
    }

    fn is_validator(&self) -> bool {
        self.set().contains(&self.me)
    }

    fn round_state(&mut self, round: Round) -> &mut RoundState {
        self.rounds.entry(round).or_default()
    }

    fn schedule_timeout(&self, at_ms: UnixMillis, round: Round, kind: TimeoutKind, out: &mut Vec<Action>) {
        out.push(Action::ScheduleTimeout { at_ms, timeout: Timeout { height: self.height, round, kind } });
    }

    fn schedule_rebroadcast(&self, now: UnixMillis, out: &mut Vec<Action>) {
        let at = now.saturating_add(Duration::from_millis(self.config.rebroadcast_ms));
        self.schedule_timeout(at, Round(0), TimeoutKind::Rebroadcast, out);
    }

    fn start_round(&mut self, now: UnixMillis, round: Round, out: &mut Vec<Action>) {
        self.round = round;
        self.step = Step::Propose;
        self.round_start_ms = now;
        self.building = None;
        // Round 0's proposal is due one block time after the parent (by the local clock, if the
        // parent is stamped ahead of it); later rounds at once.
        let due = if round == Round(0) {
            let base = self.last_commit_ms.min(self.local_commit_ms);
            now.max(base.saturating_add(Duration::from_millis(self.config.block_time_ms)))
        } else {
            now
        };
        if self.set().proposer(self.height, round) == self.me {
            if let Some((valid_round, hash)) = self.valid
                && let Some(block) = self.blocks.get(&hash).cloned()
            {
                self.propose(now, block, Some(valid_round), out);
                return;
            }
            if due > now {
                self.schedule_timeout(due, round, TimeoutKind::BuildBlock, out);
            } else {
                self.request_block(round, out);
            }
        } else {
            let timeout = Duration::from_millis(self.config.timeout(self.config.timeout_propose_ms, round));
            self.schedule_timeout(due.saturating_add(timeout), round, TimeoutKind::Propose, out);
        }
    }

    fn request_block(&mut self, round: Round, out: &mut Vec<Action>) {
        if self.building.is_none() {
            self.building = Some(round);
            let min_timestamp_ms = self.last_commit_ms.saturating_add_millis(1);
            out.push(Action::BuildBlock { height: self.height, round, min_timestamp_ms });
        }
    }

    fn on_block_built(&mut self, now: UnixMillis, height: Height, round: Round, block: Block, out: &mut Vec<Action>) {
        if height != self.height || round != self.round || self.building != Some(round) || self.step != Step::Propose {
            return;
        }
        if block.header.block_index != height || block.header.miner_address != self.me {
            out.push(Action::Dropped(DropReason::BlockMismatch));
            return;
        }
        let hash = block.hash();
        // The driver built it through the ledger's ExecuteBlock: it is valid by construction.
        self.validity.insert(hash, true);
        self.validation_requested.insert(hash);
        self.propose(now, block, None, out);
    }

    fn propose(&mut self, now: UnixMillis, block: Block, pol_round: Option<Round>, out: &mut Vec<Action>) {
        let mut proposal = Proposal {
            chain_id: self.config.chain_id.clone(),
            height: self.height,
            round: self.round,
            pol_round,
            timestamp_ms: now,
            block,
            proposer: self.me,
            signature: Signature::ZERO,
        };
        let bytes = proposal.signing_bytes();
        let Some(signature) = self.sign(SignStep::Proposal, &bytes, out) else { return };
        proposal.signature = signature;
        out.push(Action::Broadcast(Message::Proposal(proposal.clone())));
        self.own_messages.push(Message::Proposal(proposal.clone()));
        self.accept_proposal(proposal);
    }

    /// Signs `bytes` at the current position if double-sign protection allows it.
    fn sign(&mut self, step: SignStep, bytes: &[u8], out: &mut Vec<Action>) -> Option<Signature> {
        match SignState::decide(self.sign_state.as_ref(), self.height, self.round, step, bytes) {
            SignDecision::Sign => {
                let signature = self.key.sign(bytes);
                let state = SignState::after(self.height, self.round, step, bytes, signature);
                self.sign_state = Some(state.clone());
                out.push(Action::PersistSignState(state));
                Some(signature)
            }
            SignDecision::Reuse(signature) => Some(signature),
            SignDecision::Refuse { .. } => None,
        }
    }

    fn vote(&mut self, vote_type: VoteType, block_hash: Option<Hash32>, out: &mut Vec<Action>) {
        if !self.is_validator() {
            return;
        }
        let mut vote = Vote {
            chain_id: self.config.chain_id.clone(),
            height: self.height,
            round: self.round,
            vote_type,
            block_hash,
            validator: self.me,
            signature: Signature::ZERO,
        };
        let step = sign_step(vote_type);
        let Some(signature) = self.sign(step, &vote.signing_bytes(), out) else { return };
        vote.signature = signature;
        self.own_messages.push(Message::Vote(vote.clone()));
        out.push(Action::PersistOwnVotes(self.own_votes_to_keep()));
        out.push(Action::Broadcast(Message::Vote(vote.clone())));
        self.add_vote(vote, out);
    }

    fn accept_proposal(&mut self, proposal: Proposal) {
        let hash = proposal.block.hash();
        self.blocks.entry(hash).or_insert_with(|| proposal.block.clone());
        let round = proposal.round;
        let rs = self.round_state(round);
        rs.senders.insert(proposal.proposer);
        rs.proposal = Some(proposal);
    }

    fn add_vote(&mut self, vote: Vote, out: &mut Vec<Action>) {
        let round = vote.round;
        let named = vote.block_hash.is_none_or(|h| self.blocks.contains_key(&h));
        let rs = self.rounds.entry(round).or_default();
        let set = match vote.vote_type {
            VoteType::Prevote => &mut rs.prevotes,
            VoteType::Precommit => &mut rs.precommits,
        };
        match set.add(vote.clone(), named) {
            Added::New => {
                rs.senders.insert(vote.validator);
            }
            Added::Duplicate => out.push(Action::Dropped(DropReason::Duplicate)),
            Added::Conflict(first) => {
                rs.senders.insert(vote.validator);
                if let Some(e) = Evidence::duplicate_vote(first, vote) {
                    out.push(Action::Evidence(Box::new(e)));
                }
            }
            Added::Excess => out.push(Action::Dropped(DropReason::Equivocation)),
        }
    }

    /// Common checks of a message's (height, round); buffers next-height messages.
    fn admit(
        &mut self,
        now: UnixMillis,
        height: Height,
        round: Round,
        sender: PublicKey,
        message: &Message,
        out: &mut Vec<Action>,
    ) -> bool {
        if height < self.height {
            out.push(Action::Dropped(DropReason::OldHeight));
            // A peer is behind: send it the finalized block, but only for an authentic message
            // (checked after the cheap rate limit, so a flood costs at most one check each).
            if self.help.due(height, now, self.config.sync_retry_ms)
                && admission::check_message(&self.schedule, &self.config.chain_id, message).is_ok()
            {
                self.help.record(height, now);
                out.push(Action::BroadcastDecided { height });
            }
            return false;
        }
        if height > self.height {
            let next = height == self.height.next();
            // A re-sent copy, or a sender already counted: nothing new, no check needed.
            if next && self.future.contains(message) {
                out.push(Action::Dropped(DropReason::Duplicate));
            } else if !next && self.ahead_senders.contains(&sender) {
                out.push(Action::Dropped(DropReason::FutureHeightBufferFull));
            } else if let Err(e) = admission::check_message(&self.schedule, &self.config.chain_id, message) {
                out.push(Action::Dropped(e.into()));
                return false;
            } else {
                self.ahead_senders.insert(sender);
                let pushed = next
                    && self
                        .future
                        .push(
                            sender,
                            message.clone(),
                            self.schedule.at(height).len(),
                            self.config.max_buffered_messages,
                            self.config.max_buffered_bytes,
                        )
                        .is_ok();
                if !pushed {
                    out.push(Action::Dropped(DropReason::FutureHeightBufferFull));
                }
            }
            // Only authentic senders are counted, so this never follows from forged messages.
            if self.ahead_senders.len() >= self.set().skip_threshold() {
                self.maybe_request_sync(now, out);
            }
            return false;
        }
        if round > self.round.saturating_add(self.config.max_rounds_ahead.get()) {
            out.push(Action::Dropped(DropReason::RoundTooFarAhead));
            return false;
        }
        true
    }

    fn maybe_request_sync(&mut self, now: UnixMillis, out: &mut Vec<Action>) {
        let due = self
            .last_sync_request_ms
            .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(self.config.sync_retry_ms));
        if due {
            self.last_sync_request_ms = Some(now);
            out.push(Action::RequestSync { from_height: self.height });
        }
    }

    fn on_proposal(&mut self, now: UnixMillis, proposal: Proposal, out: &mut Vec<Action>) {
        if proposal.chain_id != self.config.chain_id {
            out.push(Action::Dropped(DropReason::WrongChain));
            return;
        }
        let message = Message::Proposal(proposal.clone());
        if !self.admit(now, proposal.height, proposal.round, proposal.proposer, &message, out) {
            return;
        }
        if self.set().proposer(proposal.height, proposal.round) != proposal.proposer {
            out.push(Action::Dropped(DropReason::WrongProposer));
            return;
        }
        let header = &proposal.block.header;
        let pol_ok = proposal.pol_round.is_none_or(|r| r < proposal.round);
        // A fresh block names its proposer; a re-proposed one (with a proof-of-lock round) keeps
        // the header of the round it was first proposed in, so it names that round's proposer.
        let miner_ok = proposal.pol_round.is_some() || header.miner_address == proposal.proposer;
        if header.block_index != proposal.height || !miner_ok || !pol_ok {
            out.push(Action::Dropped(DropReason::BlockMismatch));
            return;
        }
        if let Some(rs) = self.rounds.get_mut(&proposal.round)
            && let Some(existing) = rs.proposal.as_ref()
        {
            if existing == &proposal {
                out.push(Action::Dropped(DropReason::Duplicate));
                return;
            }
            // A second, different proposal of this round's proposer: once per round, and only
            // when its signature checks out, it is evidence (the first was verified on arrival).
            if !rs.proposal_evidence
                && signatures::verify(&proposal.proposer, &proposal.signing_bytes(), &proposal.signature)
                && let Some(e) = Evidence::duplicate_proposal(existing.clone(), proposal)
            {
                rs.proposal_evidence = true;
                out.push(Action::Evidence(Box::new(e)));
            }
            out.push(Action::Dropped(DropReason::Equivocation));
            return;
        }
        if !signatures::verify(&proposal.proposer, &proposal.signing_bytes(), &proposal.signature) {
            out.push(Action::Dropped(DropReason::BadSignature));
            return;
        }
        let hash = proposal.block.hash();
        if !self.validity.contains_key(&hash) && self.validation_requested.insert(hash) {
            out.push(Action::ValidateBlock(proposal.block.clone()));
        }
        self.accept_proposal(proposal);
    }

    fn on_vote(&mut self, now: UnixMillis, vote: Vote, out: &mut Vec<Action>) {
        if vote.chain_id != self.config.chain_id {
            out.push(Action::Dropped(DropReason::WrongChain));
            return;
        }
        let message = Message::Vote(vote.clone());
        if !self.admit(now, vote.height, vote.round, vote.validator, &message, out) {
            return;
        }
        if !self.set().contains(&vote.validator) {
            out.push(Action::Dropped(DropReason::NotAValidator));
            return;
        }
        // Votes arrive many times (every validator re-sends its own until the height is decided,
        // and gossip duplicates): an identical copy of a vote already counted, signature and
        // all, was verified when it was counted, so it costs no second ed25519 check.
        let seen = self.rounds.get(&vote.round).is_some_and(|rs| match vote.vote_type {
            VoteType::Prevote => rs.prevotes.has_identical(&vote),
            VoteType::Precommit => rs.precommits.has_identical(&vote),
        });
        if seen {
            out.push(Action::Dropped(DropReason::Duplicate));
            return;
        }
        if !signatures::verify(&vote.validator, &vote.signing_bytes(), &vote.signature) {
            out.push(Action::Dropped(DropReason::BadSignature));
            return;
        }
        self.add_vote(vote, out);
    }

    fn on_timeout(&mut self, now: UnixMillis, t: Timeout, out: &mut Vec<Action>) {
        if t.kind == TimeoutKind::Rebroadcast {
            // One rebroadcast timer runs for the node's whole life, across heights.
            // This round and the last, plus our prevotes of the rounds we locked or saw a polka
            // in: a re-proposal with a proof-of-lock round needs those prevotes everywhere.
            let recent = self.round.saturating_sub(1);
            let pol_rounds: Vec<Round> = [self.locked, self.valid].iter().flatten().map(|(r, _)| *r).collect();
            for m in &self.own_messages {
                let round = message_round(m);
                let pol_vote =
                    matches!(m, Message::Vote(v) if v.vote_type == VoteType::Prevote) && pol_rounds.contains(&round);
                if round >= recent || pol_vote {
                    out.push(Action::Broadcast(m.clone()));
                }
            }
            // Relay the proof of lock itself (everyone's prevotes for our valid block in its
            // round): a validator that missed those prevotes cannot accept the re-proposal, and
            // their signers may have moved on or be Byzantine.
            if let Some((valid_round, hash)) = self.valid
                && let Some(rs) = self.rounds.get(&valid_round)
            {
                for vote in rs.prevotes.votes_for(hash).filter(|v| v.validator != self.me) {
                    out.push(Action::Broadcast(Message::Vote(vote.clone())));
                }
            }
            self.schedule_rebroadcast(now, out);
            return;
        }
        if t.height != self.height || t.round != self.round {
            return;
        }
        match t.kind {
            TimeoutKind::BuildBlock => {
                if self.step == Step::Propose && self.set().proposer(self.height, self.round) == self.me {
                    self.request_block(t.round, out);
                }
            }
            TimeoutKind::Propose => {
                if self.step == Step::Propose {
                    self.vote(VoteType::Prevote, None, out);
                    self.step = Step::Prevote;
                }
            }
            TimeoutKind::Prevote => {
                if self.step == Step::Prevote {
                    self.vote(VoteType::Precommit, None, out);
                    self.step = Step::Precommit;
                }
            }
            TimeoutKind::Precommit => self.start_round(now, t.round.saturating_add(1), out),
            TimeoutKind::Rebroadcast => {}
        }
    }

    fn on_decided_block(
        &mut self,
        now: UnixMillis,
        block: Block,
        certificate: CommitCertificate,
        out: &mut Vec<Action>,
    ) {
        let height = block.header.block_index;
        if height < self.height {
            return;
        }
        if height > self.height {
            // Kept only once its certificate verifies against that height's set, and never in
            // place of one already kept (which verified too).
            if self.pending_decided.contains_key(&height)
                || self.pending_decided.len() >= self.config.max_pending_decided
            {
                // Verified blocks of later heights are already here: we are behind.
                self.maybe_request_sync(now, out);
                return;
            }
            if let Err(e) = admission::check_decided(&self.schedule, &self.config.chain_id, &block, &certificate) {
                out.push(Action::Dropped(e.into()));
                return;
            }
            self.pending_decided.insert(height, (block, certificate));
            self.maybe_request_sync(now, out);
            return;
        }
        let hash = block.hash();
        let verified = validators::verify_certificate(self.set(), &self.config.chain_id, height, &hash, &certificate);
        if verified.is_err() {
            out.push(Action::Dropped(DropReason::BadCertificate));
            return;
        }
        self.commit(now, block, certificate, out);
    }

    fn commit(&mut self, now: UnixMillis, block: Block, certificate: CommitCertificate, out: &mut Vec<Action>) {
        let block_time = block.header.timestamp_ms();
        out.push(Action::Commit { block, certificate });
        self.local_commit_ms = now;
        self.height = self.height.next();
        self.round = Round(0);
        self.step = Step::Propose;
        self.locked = None;
        self.valid = None;
        self.rounds.clear();
        self.blocks.clear();
        self.validity.clear();
        self.validation_requested.clear();
        self.building = None;
        self.ahead_senders.clear();
        self.own_messages.clear();
        self.last_commit_ms = block_time;
        self.pending_decided = self.pending_decided.split_off(&self.height);
        if let Some((block, certificate)) = self.pending_decided.remove(&self.height) {
            // Catching up: the next finalized block is already here.
            self.on_decided_block(now, block, certificate, out);
            return;
        }
        self.start_round(now, Round(0), out);
        for message in self.future.take() {
            match message {
                Message::Proposal(p) => self.on_proposal(now, p, out),
                Message::Vote(v) => self.on_vote(now, v, out),
            }
        }
    }

    /// Applies the algorithm's "upon" rules until none fires.
    fn evaluate(&mut self, now: UnixMillis, out: &mut Vec<Action>) {
        let mut guard = 0;
        while self.fire_one_rule(now, out) {
            guard += 1;
            if guard > 64 {
                break; // every rule changes state monotonically; this is only a safety net
            }
        }
    }

    fn fire_one_rule(&mut self, now: UnixMillis, out: &mut Vec<Action>) -> bool {
        let quorum = self.set().quorum();
        let height = self.height;

        // Decide: a proposal's block with a precommit quorum in any round.
        let decided = self.rounds.iter().find_map(|(round, rs)| {
            let hash = rs.precommits.block_with(quorum)?;
            Some((*round, hash))
        });
        if let Some((round, hash)) = decided {
            match (self.blocks.get(&hash), self.validity.get(&hash)) {
                (Some(block), Some(true)) => {
                    let block = block.clone();
                    let signatures =
                        self.rounds.get(&round).map(|r| r.precommits.signatures_for(hash)).unwrap_or_default();
                    let certificate = CommitCertificate { height, round, block_hash: hash, signatures }.sorted();
                    self.commit(now, block, certificate, out);
                    return true;
                }
                (None, _) => self.maybe_request_sync(now, out),
                _ => {}
            }
        }

        // Skip ahead: f + 1 validators are already in a later round.
        let skip = self.set().skip_threshold();
        let later = self
            .rounds
            .range(self.round.saturating_add(1)..)
            .rev()
            .find(|(_, rs)| rs.senders.len() >= skip)
            .map(|(r, _)| *r);
        if let Some(round) = later {
            self.start_round(now, round, out);
            return true;
        }

        let round = self.round;
        let locked = self.locked;
        let step = self.step;

        // Prevote on this round's proposal.
        if step == Step::Propose {
            let proposal = self.rounds.get(&round).and_then(|rs| rs.proposal.as_ref());
            if let Some(p) = proposal {
                let hash = p.block.hash();
                let validity = self.validity.get(&hash).copied();
                // A fresh block must not be stamped beyond the local clock's allowed drift (a
                // re-proposal with a proof of lock already had a quorum's prevotes: honoured).
                let drift = i64::try_from(self.config.max_future_drift_ms).unwrap_or(i64::MAX);
                let timely = p.block.header.timestamp_ms() <= now.saturating_add_millis(drift);
                let decision = match p.pol_round {
                    None => validity.map(|valid| valid && timely && locked.is_none_or(|(_, h)| h == hash)),
                    Some(vr) => {
                        let pol = self.rounds.get(&vr).is_some_and(|rs| rs.prevotes.count(Some(hash)) >= quorum);
                        if pol {
                            validity.map(|valid| valid && locked.is_none_or(|(lr, h)| lr <= vr || h == hash))
                        } else {
                            None
                        }
                    }
                };
                if let Some(for_block) = decision {
                    self.vote(VoteType::Prevote, for_block.then_some(hash), out);
                    self.step = Step::Prevote;
                    return true;
                }
            }
        }

        let Some(rs) = self.rounds.get(&round) else { return false };
        let prevote_total = rs.prevotes.total();
        let prevote_nil = rs.prevotes.count(None);
        let precommit_total = rs.precommits.total();
        let proposal_hash = rs.proposal.as_ref().map(|p| p.block.hash());
        let polka =
            proposal_hash.filter(|h| rs.prevotes.count(Some(*h)) >= quorum && self.validity.get(h) == Some(&true));
        let (prevote_timeout_set, precommit_timeout_set, prevote_quorum_seen) =
            (rs.prevote_timeout_set, rs.precommit_timeout_set, rs.prevote_quorum_seen);

        // A prevote quorum for the proposal: lock and precommit (first time only).
        if step >= Step::Prevote
            && !prevote_quorum_seen
            && let Some(hash) = polka
        {
            self.round_state(round).prevote_quorum_seen = true;
            if step == Step::Prevote {
                self.locked = Some((round, hash));
                if self.is_validator()
                    && let Some(block) = self.blocks.get(&hash).cloned()
                {
                    let prevotes = self
                        .rounds
                        .get(&round)
                        .map(|rs| rs.prevotes.votes_for(hash).cloned().collect())
                        .unwrap_or_default();
                    out.push(Action::PersistLock(Box::new(LockState { height, round, block, prevotes })));
                }
                self.vote(VoteType::Precommit, Some(hash), out);
                self.step = Step::Precommit;
            }
            self.valid = Some((round, hash));
            return true;
        }

        if step == Step::Prevote && prevote_nil >= quorum {
            self.vote(VoteType::Precommit, None, out);
            self.step = Step::Precommit;
            return true;
        }

        if step == Step::Prevote && prevote_total >= quorum && !prevote_timeout_set {
            self.round_state(round).prevote_timeout_set = true;
            let at = now.saturating_add(Duration::from_millis(self.config.timeout(self.config.timeout_vote_ms, round)));
            self.schedule_timeout(at, round, TimeoutKind::Prevote, out);
            return true;
        }

        if precommit_total >= quorum && !precommit_timeout_set {
            self.round_state(round).precommit_timeout_set = true;
            let at = now.saturating_add(Duration::from_millis(self.config.timeout(self.config.timeout_vote_ms, round)));
            self.schedule_timeout(at, round, TimeoutKind::Precommit, out);
            return true;
        }
        false
    }
}
