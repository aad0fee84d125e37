//! A deterministic network simulator for the consensus engine: N engines, virtual time, a seeded
//! network that drops, delays, reorders, duplicates and partitions messages, validators that
//! crash and restart with their persisted signing state and lock, and validators that equivocate.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use coinjecture_consensus::validators::verify_certificate;
use coinjecture_consensus::{
    Action, Engine, EngineConfig, Input, LockState, Message, QuorumMode, SignState, Timeout, ValidatorSchedule,
    ValidatorSet,
};
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::consensus::{Evidence, Proposal, Vote, VoteType};
use coinjecture_primitives::{
    Block, BlockHeader, ChainId, CommitCertificate, Hash32, Height, PoaExtra, PublicKey, Round, UnixMillis, sha256,
};
use sha2::{Digest, Sha256};

pub(crate) use crate::rng::Rng;

/// Network behaviour.
#[derive(Debug, Clone)]
pub(crate) struct NetParams {
    pub(crate) drop: f64,
    pub(crate) duplicate: f64,
    pub(crate) min_delay_ms: u64,
    pub(crate) max_delay_ms: u64,
}

/// One simulated node.
pub(crate) struct Node {
    pub(crate) key_seed: [u8; 32],
    pub(crate) engine: Option<Engine>,
    /// Committed blocks, height 1.. (index 0 = height 1).
    pub(crate) chain: Vec<(Block, CommitCertificate)>,
    /// What the node persisted with `PersistSignState` (survives crashes).
    pub(crate) persisted_sign_state: Option<SignState>,
    /// What the node persisted with `PersistLock` (survives crashes).
    pub(crate) persisted_lock: Option<LockState>,
    /// What the node persisted with `PersistOwnVotes` (survives crashes).
    pub(crate) persisted_votes: Vec<Vote>,
    /// Timer generation: bumped on crash so stale timers are ignored.
    pub(crate) epoch: u64,
    pub(crate) equivocates: bool,
    /// Byzantine: before each of its votes, sends every peer two signed votes for made-up blocks
    /// of the same (round, type), so the real one is its third version.
    pub(crate) junk_votes_first: bool,
    /// Byzantine "twin": each time it sends a fresh proposal, the even peers get the engine's
    /// block and the odd ones a new twin block (another Merkle root); each of its votes for one
    /// of them is sent for all of them.
    pub(crate) twin: bool,
    /// Byzantine: stamps the blocks it builds this far in the future.
    pub(crate) future_stamp_ms: i64,
    /// This node's clock minus the simulation's (a fast clock is positive).
    pub(crate) clock_offset_ms: i64,
    /// Crash right after sending its first prevote at this height (before anything it would do
    /// next in the same step, e.g. its precommit).
    pub(crate) crash_after_prevote_at: Option<u64>,
    /// A twin's block pairs (each hash maps to its twin).
    /// A twin's blocks: each hash maps to the other blocks of its slot.
    twins: BTreeMap<Hash32, Vec<Hash32>>,
    pub(crate) group: u32,
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant, reason = "a simulator event queue; size does not matter")]
enum Event {
    Deliver {
        to: usize,
        input: Input,
    },
    /// A sync response: finalized blocks in order, one network message.
    DeliverBatch {
        to: usize,
        inputs: Vec<Input>,
    },
    Timer {
        node: usize,
        epoch: u64,
        timeout: Timeout,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    Partition {
        groups: Vec<u32>,
    },
    Heal,
}

/// Outcome of a run.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) trace_hash: Hash32,
    pub(crate) heights: Vec<u64>,
    pub(crate) evidence: Vec<Evidence>,
    pub(crate) max_height: u64,
}

/// A simulation.
pub(crate) struct Sim {
    pub(crate) seed: u64,
    pub(crate) rng: Rng,
    pub(crate) now: i64,
    pub(crate) nodes: Vec<Node>,
    pub(crate) chain_id: ChainId,
    pub(crate) schedule: ValidatorSchedule,
    pub(crate) net: NetParams,
    pub(crate) block_time_ms: u64,
    queue: BinaryHeap<Reverse<(i64, u64, usize)>>,
    events: Vec<Option<Event>>,
    seq: u64,
    /// height → the first committed block hash (safety oracle).
    pub(crate) decided: BTreeMap<Height, Hash32>,
    pub(crate) evidence: Vec<Evidence>,
    trace: Sha256,
    pub(crate) genesis_hash: Hash32,
}

impl Sim {
    pub(crate) fn new(seed: u64, n: usize, mode: QuorumMode, net: NetParams) -> Self {
        let seeds: Vec<[u8; 32]> = (0..n).map(|i| sha256(format!("sim validator {i}").as_bytes()).0).collect();
        let keys: Vec<PublicKey> = seeds.iter().map(|s| Keypair::from_seed(s).public_key()).collect();
        let set = ValidatorSet::new(keys, mode).expect("distinct keys");
        Self::with_schedule(seed, seeds, ValidatorSchedule::fixed(set), net)
    }

    pub(crate) fn with_schedule(seed: u64, seeds: Vec<[u8; 32]>, schedule: ValidatorSchedule, net: NetParams) -> Self {
        let chain_id = ChainId::new("coinjecture-sim").expect("valid");
        let nodes = seeds
            .into_iter()
            .map(|key_seed| Node {
                key_seed,
                engine: None,
                chain: Vec::new(),
                persisted_sign_state: None,
                persisted_lock: None,
                persisted_votes: Vec::new(),
                epoch: 0,
                equivocates: false,
                junk_votes_first: false,
                twin: false,
                future_stamp_ms: 0,
                clock_offset_ms: 0,
                crash_after_prevote_at: None,
                twins: BTreeMap::new(),
                group: 0,
            })
            .collect();
        let mut sim = Self {
            seed,
            rng: Rng::new(seed),
            now: 1_767_225_600_000,
            nodes,
            chain_id,
            schedule,
            net,
            block_time_ms: 1000,
            queue: BinaryHeap::new(),
            events: Vec::new(),
            seq: 0,
            decided: BTreeMap::new(),
            evidence: Vec::new(),
            trace: Sha256::new(),
            genesis_hash: sha256(b"sim genesis"),
        };
        for i in 0..sim.nodes.len() {
            sim.boot(i);
        }
        sim
    }

    /// How far in the future a block may be stamped (the engine's setting).
    pub(crate) fn max_future_drift_ms(&self) -> i64 {
        self.block_time_ms.max(500) as i64
    }

    fn config(&self) -> EngineConfig {
        EngineConfig::with_block_time(self.chain_id.clone(), self.block_time_ms)
    }

    fn boot(&mut self, i: usize) {
        let node = &self.nodes[i];
        let height = node.chain.len() as u64 + 1;
        let last_commit_ms =
            node.chain.last().map_or(self.now + node.clock_offset_ms - self.block_time_ms as i64, |(b, _)| {
                b.header.timestamp_ms().get()
            });
        let mut engine = Engine::new(
            self.config(),
            self.schedule.clone(),
            Keypair::from_seed(&node.key_seed),
            Height(height),
            UnixMillis(last_commit_ms),
            node.persisted_sign_state.clone(),
        );
        if let Some(lock) = node.persisted_lock.clone() {
            engine.restore_lock(lock);
        }
        engine.restore_own_votes(node.persisted_votes.clone());
        self.nodes[i].engine = Some(engine);
        self.input(i, Input::Start);
    }

    fn push(&mut self, at: i64, event: Event) {
        self.seq += 1;
        self.events.push(Some(event));
        self.queue.push(Reverse((at, self.seq, self.events.len() - 1)));
    }

    pub(crate) fn at(&mut self, at_ms: i64, f: impl FnOnce(&mut Sim) -> Vec<(i64, EventSpec)>) {
        for (t, spec) in f(self) {
            let event = match spec {
                EventSpec::Crash(node) => Event::Crash { node },
                EventSpec::Restart(node) => Event::Restart { node },
                EventSpec::Partition(groups) => Event::Partition { groups },
                EventSpec::Heal => Event::Heal,
            };
            self.push(at_ms + t, event);
        }
    }

    /// Schedules a fault at an absolute virtual time.
    pub(crate) fn schedule(&mut self, at_ms: i64, spec: EventSpec) {
        self.at(at_ms, |_| vec![(0, spec)]);
    }

    fn trace(&mut self, line: &str) {
        self.trace.update(self.now.to_be_bytes());
        self.trace.update(line.as_bytes());
    }

    /// Node `i`'s clock.
    pub(crate) fn local_now(&self, i: usize) -> i64 {
        self.now + self.nodes[i].clock_offset_ms
    }

    fn input(&mut self, i: usize, input: Input) {
        let now = self.local_now(i);
        let Some(engine) = self.nodes[i].engine.as_mut() else { return };
        let actions = engine.handle(UnixMillis(now), input);
        for action in actions {
            if self.nodes[i].engine.is_none() {
                break; // crashed in the middle of carrying them out
            }
            self.act(i, action);
        }
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.nodes[a].group == self.nodes[b].group
    }

    fn send(&mut self, from: usize, to: usize, input: Input) {
        if !self.connected(from, to) || self.rng.chance(self.net.drop) {
            return;
        }
        let copies = if self.rng.chance(self.net.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let delay = self.rng.range(self.net.min_delay_ms, self.net.max_delay_ms) as i64;
            self.push(self.now + delay, Event::Deliver { to, input: input.clone() });
        }
    }

    /// Sends after exactly `delay` ms (if the link is up and the message is not dropped).
    fn send_after(&mut self, from: usize, to: usize, input: Input, delay: i64) {
        if !self.connected(from, to) || self.rng.chance(self.net.drop) {
            return;
        }
        self.push(self.now + delay, Event::Deliver { to, input });
    }

    fn broadcast(&mut self, from: usize, message: &Message) {
        for to in 0..self.nodes.len() {
            if to != from {
                let input = match message {
                    Message::Proposal(p) => Input::Proposal(p.clone()),
                    Message::Vote(v) => Input::Vote(v.clone()),
                };
                self.send(from, to, input);
            }
        }
    }

    fn act(&mut self, i: usize, action: Action) {
        match action {
            Action::PersistSignState(s) => self.nodes[i].persisted_sign_state = Some(s),
            Action::PersistLock(lock) => self.nodes[i].persisted_lock = Some(*lock),
            Action::PersistOwnVotes(votes) => self.nodes[i].persisted_votes = votes,
            Action::Broadcast(message) => {
                let own_key = Keypair::from_seed(&self.nodes[i].key_seed).public_key();
                let node = &self.nodes[i];
                match &message {
                    Message::Vote(v) if v.validator == own_key && node.equivocates => self.equivocate(i, v.clone()),
                    Message::Vote(v) if v.validator == own_key && node.junk_votes_first => {
                        self.junk_then_vote(i, v.clone());
                    }
                    Message::Vote(v) if v.validator == own_key && node.twin => self.twin_vote(i, v.clone()),
                    Message::Proposal(p) if p.proposer == own_key && node.twin && p.pol_round.is_none() => {
                        self.twin_proposal(i, p.clone());
                    }
                    _ => self.broadcast(i, &message),
                }
                if let Message::Vote(v) = &message
                    && v.validator == own_key
                    && v.vote_type == VoteType::Prevote
                    && self.nodes[i].crash_after_prevote_at == Some(v.height.get())
                {
                    self.nodes[i].crash_after_prevote_at = None;
                    self.crash(i);
                }
            }
            Action::ScheduleTimeout { at_ms, timeout } => {
                let epoch = self.nodes[i].epoch;
                let at = at_ms.get().saturating_sub(self.nodes[i].clock_offset_ms);
                self.push(at.max(self.now), Event::Timer { node: i, epoch, timeout });
            }
            Action::BuildBlock { height, round, min_timestamp_ms } => {
                let block = self.build_block(i, height, round, min_timestamp_ms);
                self.input(i, Input::BlockBuilt { height, round, block });
            }
            Action::ValidateBlock(block) => {
                let hash = block.hash();
                let valid = self.valid_next_block(i, &block);
                self.input(i, Input::BlockValidity { block_hash: hash, valid });
            }
            Action::Commit { block, certificate } => self.on_commit(i, block, certificate),
            Action::RequestSync { from_height } => self.sync(i, from_height.get()),
            Action::BroadcastDecided { height } => {
                if let Some((block, certificate)) = self.nodes[i].chain.get(height.get() as usize - 1).cloned() {
                    for to in 0..self.nodes.len() {
                        if to != i {
                            self.send(
                                i,
                                to,
                                Input::DecidedBlock { block: block.clone(), certificate: certificate.clone() },
                            );
                        }
                    }
                }
            }
            Action::Evidence(e) => {
                self.trace(&format!("evidence by {i}"));
                self.evidence.push(*e);
            }
            Action::Dropped(_) => {}
        }
    }

    /// A Byzantine validator sends its real vote to half the peers and a conflicting one (for a
    /// made-up block) to the others, bypassing its double-sign protection.
    fn equivocate(&mut self, i: usize, vote: Vote) {
        let key = Keypair::from_seed(&self.nodes[i].key_seed);
        let mut other = vote.clone();
        other.block_hash = Some(sha256(&self.rng.next_u64().to_be_bytes()));
        other.signature = key.sign(&other.signing_bytes());
        // Gossip relays both versions everywhere, in an order that differs between peers, so
        // some peers count one and some the other, and every peer can see the conflict.
        for to in 0..self.nodes.len() {
            if to == i {
                continue;
            }
            let (first, second) = if to % 2 == 0 { (&vote, &other) } else { (&other, &vote) };
            self.send(i, to, Input::Vote(first.clone()));
            self.send(i, to, Input::Vote(second.clone()));
        }
    }

    /// Two signed votes for made-up blocks, then the real one, to every peer in that order.
    fn junk_then_vote(&mut self, i: usize, vote: Vote) {
        let key = Keypair::from_seed(&self.nodes[i].key_seed);
        let mut junk = Vec::new();
        for _ in 0..2 {
            let mut other = vote.clone();
            other.block_hash = Some(sha256(&self.rng.next_u64().to_be_bytes()));
            other.signature = key.sign(&other.signing_bytes());
            junk.push(other);
        }
        for to in 0..self.nodes.len() {
            if to == i {
                continue;
            }
            let delay = self.rng.range(self.net.min_delay_ms, self.net.max_delay_ms) as i64;
            for (k, v) in junk.iter().chain(std::iter::once(&vote)).enumerate() {
                self.send_after(i, to, Input::Vote(v.clone()), delay + k as i64);
            }
        }
    }

    /// A twin's vote for one of its blocks goes out for both.
    fn twin_vote(&mut self, i: usize, vote: Vote) {
        let mut votes = vec![vote.clone()];
        let twins = vote.block_hash.and_then(|h| self.nodes[i].twins.get(&h).cloned()).unwrap_or_default();
        let key = Keypair::from_seed(&self.nodes[i].key_seed);
        for twin in twins {
            let mut other = vote.clone();
            other.block_hash = Some(twin);
            other.signature = key.sign(&other.signing_bytes());
            votes.push(other);
        }
        for to in 0..self.nodes.len() {
            if to != i {
                for v in &votes {
                    self.send(i, to, Input::Vote(v.clone()));
                }
            }
        }
    }

    /// A twin proposes different real blocks for one (height, round): the engine's to the even
    /// peers, a new twin block (another Merkle root) to the odd ones at every (re-)send.
    fn twin_proposal(&mut self, i: usize, proposal: Proposal) {
        let key = Keypair::from_seed(&self.nodes[i].key_seed);
        let a = proposal.block.hash();
        // Every (re-)send brings a new twin block.
        let mut other = proposal.clone();
        other.block.header.merkle_root = sha256(&self.rng.next_u64().to_be_bytes());
        other.signature = key.sign(&other.signing_bytes());
        let b = other.block.hash();
        let family = self.nodes[i].twins.entry(a).or_default();
        family.push(b);
        let family = family.clone();
        for h in &family {
            let mut others: Vec<Hash32> = family.iter().filter(|x| *x != h).copied().collect();
            others.push(a);
            self.nodes[i].twins.insert(*h, others);
        }
        for to in 0..self.nodes.len() {
            if to != i {
                let p = if to % 2 == 0 { &proposal } else { &other };
                self.send(i, to, Input::Proposal(p.clone()));
            }
        }
    }

    fn parent_hash(&self, i: usize) -> Hash32 {
        self.nodes[i].chain.last().map_or(self.genesis_hash, |(b, _)| b.hash())
    }

    fn build_block(&mut self, i: usize, height: Height, round: Round, min_timestamp_ms: UnixMillis) -> Block {
        let ts = (self.local_now(i) + self.nodes[i].future_stamp_ms).max(min_timestamp_ms.get());
        let extra = PoaExtra {
            round,
            timestamp_millis: ts.rem_euclid(1000) as u16,
            state_commitment: sha256(&height.to_be_bytes()),
            chain_id: None,
        };
        let header = BlockHeader {
            codec_version: 1,
            block_index: height,
            timestamp: ts.div_euclid(1000),
            parent_hash: self.parent_hash(i),
            merkle_root: sha256(&self.rng.next_u64().to_be_bytes()),
            miner_address: Keypair::from_seed(&self.nodes[i].key_seed).public_key(),
            commitment: Hash32::ZERO,
            difficulty_target: 0,
            nonce: 0,
            extra_data: extra.encode(),
        };
        Block { header, transactions: Vec::new() }
    }

    fn valid_next_block(&self, i: usize, block: &Block) -> bool {
        let node = &self.nodes[i];
        block.header.block_index == Height(node.chain.len() as u64 + 1)
            && block.header.parent_hash == self.parent_hash(i)
    }

    fn on_commit(&mut self, i: usize, block: Block, certificate: CommitCertificate) {
        let height = block.header.block_index;
        let hash = block.hash();
        assert_eq!(
            height,
            Height(self.nodes[i].chain.len() as u64 + 1),
            "seed {}: node {i} committed out of order",
            self.seed
        );
        assert!(
            self.valid_next_block(i, &block),
            "seed {}: node {i} committed a block not extending its chain",
            self.seed
        );
        verify_certificate(self.schedule.at(height), &self.chain_id, height, &hash, &certificate).unwrap_or_else(|e| {
            panic!("seed {}: node {i} committed height {height} with a bad certificate: {e}", self.seed)
        });
        match self.decided.get(&height) {
            Some(first) => {
                assert_eq!(*first, hash, "seed {}: SAFETY VIOLATION at height {height} (node {i})", self.seed)
            }
            None => {
                self.decided.insert(Height(height.get()), hash);
            }
        }
        self.trace(&format!("commit {i} {height} {hash}"));
        self.nodes[i].chain.push((block, certificate));
    }

    fn sync(&mut self, i: usize, from_height: u64) {
        // Ask one connected peer that has the blocks; it answers with up to 20 of them.
        let peers: Vec<usize> = (0..self.nodes.len())
            .filter(|&p| p != i && self.connected(i, p) && self.nodes[p].chain.len() as u64 >= from_height)
            .collect();
        if peers.is_empty() {
            return;
        }
        let peer = peers[self.rng.range(0, peers.len() as u64 - 1) as usize];
        let end = self.nodes[peer].chain.len().min(from_height as usize + 49);
        let inputs: Vec<Input> = (from_height as usize..=end)
            .map(|h| {
                let (block, certificate) = self.nodes[peer].chain[h - 1].clone();
                Input::DecidedBlock { block, certificate }
            })
            .collect();
        if self.connected(peer, i) && !self.rng.chance(self.net.drop) {
            let delay = self.rng.range(self.net.min_delay_ms, self.net.max_delay_ms) as i64;
            self.push(self.now + delay, Event::DeliverBatch { to: i, inputs });
        }
    }

    fn crash(&mut self, node: usize) {
        self.trace(&format!("crash {node}"));
        self.nodes[node].engine = None;
        self.nodes[node].epoch += 1;
    }

    /// Prints every node's (height, round, step) when SIM_DEBUG is set.
    pub(crate) fn debug_states(&self, label: &str) {
        if std::env::var_os("SIM_DEBUG").is_some() {
            let states: Vec<_> = self
                .nodes
                .iter()
                .map(|n| {
                    n.engine.as_ref().map(|e| {
                        let short = |x: Option<(Round, Hash32)>| x.map(|(r, h)| (r, h.to_hex()[..4].to_string()));
                        (e.height(), e.round(), e.step(), short(e.locked()), short(e.valid()))
                    })
                })
                .collect();
            println!(
                "{label} t={} {states:?} groups={:?}",
                self.now,
                self.nodes.iter().map(|n| n.group).collect::<Vec<_>>()
            );
        }
    }

    /// Runs until virtual time `until_ms`.
    pub(crate) fn run_until(&mut self, until_ms: i64) {
        while let Some(Reverse((at, _, idx))) = self.queue.peek().copied() {
            if at > until_ms {
                break;
            }
            self.queue.pop();
            self.now = at;
            let Some(event) = self.events[idx].take() else { continue };
            match event {
                Event::Deliver { to, input } => {
                    if self.nodes[to].engine.is_some() {
                        self.input(to, input);
                    }
                }
                Event::DeliverBatch { to, inputs } => {
                    for input in inputs {
                        if self.nodes[to].engine.is_some() {
                            self.input(to, input);
                        }
                    }
                }
                Event::Timer { node, epoch, timeout } => {
                    if self.nodes[node].epoch == epoch && self.nodes[node].engine.is_some() {
                        self.input(node, Input::Timeout(timeout));
                    }
                }
                Event::Crash { node } => self.crash(node),
                Event::Restart { node } => {
                    if self.nodes[node].engine.is_none() {
                        self.trace(&format!("restart {node}"));
                        self.boot(node);
                    }
                }
                Event::Partition { groups } => {
                    for (n, g) in self.nodes.iter_mut().zip(groups) {
                        n.group = g;
                    }
                }
                Event::Heal => {
                    for n in &mut self.nodes {
                        n.group = 0;
                    }
                }
            }
        }
        self.now = self.now.max(until_ms);
    }

    pub(crate) fn heights(&self) -> Vec<u64> {
        self.nodes.iter().map(|n| n.chain.len() as u64).collect()
    }

    pub(crate) fn report(&self) -> Report {
        let heights = self.heights();
        Report {
            trace_hash: Hash32(self.trace.clone().finalize().into()),
            max_height: heights.iter().copied().max().unwrap_or(0),
            heights,
            evidence: self.evidence.clone(),
        }
    }
}

/// Faults a scenario schedules.
#[derive(Debug, Clone)]
pub(crate) enum EventSpec {
    Crash(usize),
    Restart(usize),
    Partition(Vec<u32>),
    Heal,
}
