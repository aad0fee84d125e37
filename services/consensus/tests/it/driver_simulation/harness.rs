//! The driver simulation's world: several real drivers ([`driver::start_in`]) on one
//! current-thread tokio runtime in paused (virtual) time, each with an in-memory ledger and a
//! port on a seeded simulated network; the safety files are real files in a temporary
//! directory.
//!
//! Why this is deterministic: one thread runs every task (drivers, deliveries, the scenario)
//! from a FIFO run queue; time only moves when every task waits, and then straight to the next
//! timer; the drivers read a [`VirtualClock`] over that time; the network and the ledgers
//! draw every random choice (delay, loss, duplication, latency) from one seeded [`Rng`], in the
//! order the single thread makes the calls; the driver's main loop picks its next input in a
//! fixed order (consensus first, then intake in turn), not at random (`tokio::select!` would
//! start at a random branch). Nothing
//! else runs: no sockets, no blocking threads (the transaction journal is off). Two runs of
//! one seed give the same trace hash ([`Report::trace_hash`]), which the tests check.
//!
//! Oracles, checked as the run goes:
//! - **no validator signs twice**: every proposal and vote that any node publishes is recorded
//!   by (signer, height, round, step); a second, different message at one position is a
//!   double sign (across crashes and restarts too: the record is the network's, not a node's);
//! - **the safety files never go backwards**: at every call a driver makes to its ports (each
//!   publish and each ledger call) and at every restart, its signing state and lock files are
//!   read, and their (height, round, step) may never be lower than one seen before;
//! - **one chain**: at every height, every ledger holds the same block (checked at the end).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coinjecture_consensus::clock::VirtualClock;
use coinjecture_consensus::driver::{self, DriverConfig, DriverEnv, DriverError, DriverHandle};
use coinjecture_consensus::validators::verify_certificate;
use coinjecture_consensus::{EngineConfig, MempoolConfig, QuorumMode, SignStep, ValidatorSchedule, ValidatorSet};
use coinjecture_crypto_core::merkle::merkle_root;
use coinjecture_crypto_core::signatures::{self, Keypair};
use coinjecture_ledger::test_utils::{GENESIS_TIME_MS, TestChain};
use coinjecture_primitives::consensus::{Proposal, Vote, VoteType};
use coinjecture_primitives::{
    Block, ChainId, CommitCertificate, Hash32, Height, PoaExtra, PublicKey, RejectReason, Rejection, Round,
    Transaction, TxVerdict, UnixMillis, chain_tag, sha256,
};
use coinjecture_proto::ports::gateway::{GatewayError, GatewayPort, GossipMessage};
use coinjecture_proto::ports::ledger::{
    AccountAtTip, Applied, BlockRejectReason, BlockRejection, ChainInfo, CheckedTransaction, CheckedTransactions,
    Execution, LedgerPort, LedgerPortError, LedgerResult, StoredBlock, Tip,
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

pub(crate) use crate::rng::Rng;

/// Network behaviour.
#[derive(Debug, Clone)]
pub(crate) struct NetParams {
    pub(crate) drop: f64,
    pub(crate) duplicate: f64,
    pub(crate) min_delay_ms: u64,
    pub(crate) max_delay_ms: u64,
}

impl NetParams {
    pub(crate) fn good() -> Self {
        Self { drop: 0.0, duplicate: 0.0, min_delay_ms: 5, max_delay_ms: 50 }
    }
}

/// What a scenario's network rule does with one message from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// As the network parameters say.
    Pass,
    Drop,
    /// Kept back (under a tag) until a rule releases that tag ([`Control::release`]).
    Hold(u8),
}

/// What a rule may change besides its verdict.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// Deliver the messages held under these tags now (with the network's delays).
    pub(crate) release: Vec<u8>,
    /// Per node: every ledger call takes this long (a stalled disk), instead of the seeded
    /// latency.
    pub(crate) slow_ledger_ms: Vec<Option<u64>>,
}

/// A published message as a rule sees it.
pub(crate) struct Hop<'a> {
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) now: i64,
    pub(crate) message: &'a Parsed,
}

/// The consensus content of a published message.
#[derive(Debug, Clone)]
pub(crate) enum Parsed {
    Proposal(Proposal),
    Vote(Vote),
    Finalized(Height),
    Transactions,
    /// A request for missing transactions (or the full proposal) of a compact proposal.
    Request,
}

impl Parsed {
    fn of(message: &GossipMessage) -> Self {
        match message {
            GossipMessage::Proposal(p) => Self::Proposal(p.clone()),
            // The same signed bytes as the full proposal.
            GossipMessage::CompactProposal(c) => Self::Proposal(c.proposal.clone()),
            GossipMessage::TransactionRequest(_) => Self::Request,
            GossipMessage::Vote(v) => Self::Vote(v.clone()),
            GossipMessage::FinalizedBlock { block, .. } => Self::Finalized(block.header.block_index),
            GossipMessage::Transactions(_) => Self::Transactions,
        }
    }

    /// (height, round, step) of a signed consensus message, with its signer.
    pub(crate) fn position(&self) -> Option<(PublicKey, Height, u32, SignStep, Hash32)> {
        match self {
            Self::Proposal(p) => {
                Some((p.proposer, p.height, p.round.get(), SignStep::Proposal, sha256(&p.signing_bytes())))
            }
            Self::Vote(v) => {
                let step = if v.vote_type == VoteType::Prevote { SignStep::Prevote } else { SignStep::Precommit };
                Some((v.validator, v.height, v.round.get(), step, sha256(&v.signing_bytes())))
            }
            _ => None,
        }
    }
}

type Rule = Box<dyn FnMut(&Hop<'_>, &mut Control) -> Verdict + Send>;
type CrashTrigger = Box<dyn FnMut(usize, &Parsed) -> bool + Send>;
type Tamper = Box<dyn FnMut(usize, &GossipMessage) -> Option<GossipMessage> + Send>;

/// One node's ledger: in memory, kept across the node's crashes (it is its "disk").
#[derive(Debug, Default)]
pub(crate) struct LedgerState {
    /// Height 1.. (index 0 = height 1).
    pub(crate) blocks: Vec<(Block, CommitCertificate)>,
    accounts: BTreeMap<PublicKey, (u64, u64)>,
    commitment: Hash32,
}

/// Everything the nodes share: the network, the ledgers (for sync), the oracles.
pub(crate) struct World {
    pub(crate) rng: Rng,
    pub(crate) net: NetParams,
    pub(crate) up: Vec<bool>,
    pub(crate) group: Vec<u32>,
    inboxes: Vec<Option<mpsc::Sender<GossipMessage>>>,
    pub(crate) ledgers: Vec<Arc<Mutex<LedgerState>>>,
    aborts: Vec<Option<tokio::task::AbortHandle>>,
    trace: Sha256,
    pub(crate) delivered: u64,
    /// (signer, height, round, step) → hash of the signed bytes.
    signed: BTreeMap<(PublicKey, Height, u32, SignStep), Hash32>,
    pub(crate) violations: Vec<String>,
    sign_paths: Vec<PathBuf>,
    seen_sign: Vec<Option<(Height, Round, SignStep)>>,
    seen_lock: Vec<Option<(Height, Round)>>,
    pub(crate) rule: Option<Rule>,
    pub(crate) control: Control,
    held: Vec<(u8, usize, GossipMessage)>,
    /// Every signed message published: (node, time, signer's position).
    pub(crate) published: Vec<(usize, i64, Height, u32, SignStep)>,
    /// Crashes a node (at its next await) right after it publishes a message this accepts.
    pub(crate) crash_trigger: Option<CrashTrigger>,
    pub(crate) crashes_triggered: Vec<(usize, i64)>,
    /// Replaces what a node publishes (a lying proposer), before anything else sees it.
    pub(crate) tamper: Option<Tamper>,
    clock: VirtualClock,
    keys: Vec<PublicKey>,
    /// Ledger calls take up to this long (virtual), so other tasks run meanwhile.
    ledger_latency_ms: u64,
}

impl World {
    fn now(&self) -> i64 {
        coinjecture_consensus::clock::Clock::now_ms(&self.clock).get()
    }

    fn violation(&mut self, what: String) {
        let at = self.now();
        self.violations.push(format!("t={at}: {what}"));
    }

    /// Reads node `i`'s safety files: they may never go back.
    fn check_disk(&mut self, i: usize) {
        let path = self.sign_paths[i].clone();
        match driver::load_sign_state(&path) {
            Ok(Some(s)) => {
                let position = (s.height, s.round, s.step);
                if let Some(seen) = self.seen_sign[i]
                    && position < seen
                {
                    self.violation(format!(
                        "node {i}: its signing state on disk went back from {seen:?} to {position:?}"
                    ));
                }
                self.seen_sign[i] = self.seen_sign[i].max(Some(position));
            }
            Ok(None) => {
                if let Some(seen) = self.seen_sign[i] {
                    self.violation(format!("node {i}: its signing state at {seen:?} is gone"));
                }
            }
            Err(e) => self.violation(format!("node {i}: {e}")),
        }
        match driver::load_lock_state(&driver::lock_state_path(&path)) {
            Ok(Some(l)) => {
                let position = (l.height, l.round);
                if let Some(seen) = self.seen_lock[i]
                    && position < seen
                {
                    self.violation(format!("node {i}: its lock on disk went back from {seen:?} to {position:?}"));
                }
                self.seen_lock[i] = self.seen_lock[i].max(Some(position));
            }
            Ok(None) => {}
            Err(e) => self.violation(format!("node {i}: {e}")),
        }
    }

    /// Records a signed message: a second, different one at the same position is a double sign.
    fn record_signed(&mut self, parsed: &Parsed) {
        let Some((signer, height, round, step, hash)) = parsed.position() else { return };
        match self.signed.get(&(signer, height, round, step)) {
            Some(known) if *known != hash => {
                let who = self.keys.iter().position(|k| *k == signer).map_or("?".into(), |i| i.to_string());
                self.violation(format!(
                    "validator {who} signed twice at height {height}, round {round}, {step:?}: {} and {}",
                    known.to_hex(),
                    hash.to_hex()
                ));
            }
            Some(_) => {}
            None => {
                self.signed.insert((signer, height, round, step), hash);
            }
        }
    }

    fn crash(&mut self, i: usize) {
        self.up[i] = false;
        self.inboxes[i] = None;
        if let Some(abort) = self.aborts[i].take() {
            abort.abort();
        }
    }

    /// Sends `message` to `to` as the network parameters say (loss, duplication, delay).
    fn send(&mut self, world: &Shared, to: usize, message: &GossipMessage) {
        if self.rng.chance(self.net.drop) {
            return;
        }
        let copies = if self.rng.chance(self.net.duplicate) { 2 } else { 1 };
        // The payload as gossiped (the same bytes, so the same trace, as before the port).
        let digest = sha256(&coinjecture_proto::ports::gateway::encode_gossip(message).1);
        for _ in 0..copies {
            let delay = self.rng.range(self.net.min_delay_ms, self.net.max_delay_ms);
            let (world, message) = (world.clone(), message.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                let mut w = world.lock().unwrap();
                let Some(inbox) = w.inboxes[to].clone().filter(|_| w.up[to]) else { return };
                let now = w.now();
                w.trace(&[&now.to_be_bytes(), &(to as u64).to_be_bytes(), &digest.0]);
                w.delivered += 1;
                let _ = inbox.try_send(message);
            });
        }
    }

    fn trace(&mut self, parts: &[&[u8]]) {
        for p in parts {
            self.trace.update((p.len() as u64).to_be_bytes());
            self.trace.update(p);
        }
    }
}

type Shared = Arc<Mutex<World>>;

/// Node `me`'s network port.
struct NetPort {
    me: usize,
    world: Shared,
}

#[tonic::async_trait]
impl GatewayPort for NetPort {
    async fn publish(&self, message: &GossipMessage) -> Result<(), GatewayError> {
        let mut guard = self.world.lock().unwrap();
        let w = &mut *guard;
        let tampered = w.tamper.as_mut().and_then(|t| t(self.me, message));
        let message = tampered.as_ref().unwrap_or(message);
        let parsed = Parsed::of(message);
        w.check_disk(self.me);
        w.record_signed(&parsed);
        let now = w.now();
        if let Some((_, height, round, step, _)) = parsed.position() {
            w.published.push((self.me, now, height, round, step));
        }
        for to in 0..w.up.len() {
            if to == self.me || !w.up[to] || w.group[to] != w.group[self.me] {
                continue;
            }
            let verdict = match w.rule.as_mut() {
                Some(rule) => rule(&Hop { from: self.me, to, now, message: &parsed }, &mut w.control),
                None => Verdict::Pass,
            };
            match verdict {
                Verdict::Drop => {}
                Verdict::Hold(tag) => w.held.push((tag, to, message.clone())),
                Verdict::Pass => w.send(&self.world, to, message),
            }
        }
        let release = std::mem::take(&mut w.control.release);
        if !release.is_empty() {
            let (now_due, kept) =
                std::mem::take(&mut w.held).into_iter().partition(|(tag, _, _)| release.contains(tag));
            w.held = kept;
            for (_, to, message) in now_due {
                w.send(&self.world, to, &message);
            }
        }
        let crash = match w.crash_trigger.as_mut() {
            Some(trigger) => trigger(self.me, &parsed),
            None => false,
        };
        if crash && w.up[self.me] {
            // The driver runs on until its next await (a real crash could come anywhere; the
            // point is what is on disk by then).
            w.crash(self.me);
            let now = w.now();
            w.crashes_triggered.push((self.me, now));
        }
        Ok(())
    }

    async fn request_blocks(&self, from: Height, count: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
        let (rtt, lost, first) = {
            let mut w = self.world.lock().unwrap();
            w.check_disk(self.me);
            let (lo, hi) = (w.net.min_delay_ms, w.net.max_delay_ms);
            let rtt = w.rng.range(lo, hi) + w.rng.range(lo, hi);
            let drop = w.net.drop;
            let lost = w.rng.chance(drop);
            let n = w.up.len() as u64;
            (rtt, lost, w.rng.range(0, n - 1) as usize)
        };
        tokio::time::sleep(Duration::from_millis(rtt)).await;
        if lost {
            return Err(GatewayError::Unavailable("the sync request was lost".into()));
        }
        let w = self.world.lock().unwrap();
        let n = w.up.len();
        for k in 0..n {
            let peer = (first + k) % n;
            if peer == self.me || !w.up[peer] || w.group[peer] != w.group[self.me] {
                continue;
            }
            let ledger = w.ledgers[peer].lock().unwrap();
            let start = usize::try_from(from.saturating_sub(1).get()).unwrap_or(usize::MAX);
            let out: Vec<_> = ledger.blocks.iter().skip(start).take(count as usize).cloned().collect();
            if !out.is_empty() {
                return Ok(out);
            }
        }
        Ok(Vec::new())
    }
}

/// Node `me`'s ledger port: an in-memory ledger with the real one's contract (parent and
/// height checks, certificate verification at apply, transfers with signatures, nonces and
/// balances), and a made-up but deterministic state commitment.
struct SimLedger {
    me: usize,
    world: Shared,
    state: Arc<Mutex<LedgerState>>,
    chain_id: ChainId,
    schedule: ValidatorSchedule,
    genesis: (Hash32, i64),
}

const FEE_GAS: u64 = 21_000;

fn fee(tx: &Transaction) -> u64 {
    tx.gas_limit.saturating_mul(tx.gas_price)
}

impl SimLedger {
    /// Waits a seeded latency (other tasks run meanwhile) and checks the node's disk.
    async fn latency(&self) {
        let ms = {
            let mut w = self.world.lock().unwrap();
            w.check_disk(self.me);
            let max = w.ledger_latency_ms;
            let seeded = w.rng.range(0, max);
            w.control.slow_ledger_ms[self.me].unwrap_or(seeded)
        };
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }

    fn tip_of(&self, s: &LedgerState) -> Tip {
        match s.blocks.last() {
            Some((b, _)) => Tip {
                height: b.header.block_index,
                hash: b.hash(),
                timestamp_ms: b.header.timestamp_ms(),
                state_commitment: s.commitment,
            },
            None => Tip {
                height: Height(0),
                hash: self.genesis.0,
                timestamp_ms: UnixMillis(self.genesis.1),
                state_commitment: s.commitment,
            },
        }
    }

    /// The ledger's verdict on `tx` against `accounts` (the checks the real ledger makes, with
    /// the same reasons).
    fn check_one(&self, accounts: &BTreeMap<PublicKey, (u64, u64)>, tx: &Transaction) -> TxVerdict {
        let refuse = |reason, message: String| Err(Rejection::new(reason, message));
        if tx.data != chain_tag(&self.chain_id) {
            return refuse(RejectReason::WrongChain, "not this chain".into());
        }
        if tx.gas_limit < FEE_GAS {
            return refuse(RejectReason::GasLimitTooLow, "gas limit".into());
        }
        if !signatures::verify(&tx.from, &tx.signing_message(), &tx.signature) {
            return refuse(RejectReason::BadSignature, "bad signature".into());
        }
        let (balance, nonce) = accounts.get(&tx.from).copied().unwrap_or((0, 0));
        if tx.nonce < nonce {
            return refuse(RejectReason::NonceTooLow, format!("nonce {} < {nonce}", tx.nonce));
        }
        if tx.nonce > nonce {
            return refuse(RejectReason::NonceTooHigh, format!("nonce {} > {nonce}", tx.nonce));
        }
        if balance < tx.amount.saturating_add(fee(tx)) {
            return refuse(RejectReason::InsufficientBalance, "balance".into());
        }
        Ok(())
    }

    /// Runs `txs` on a copy of the state: the indices rejected, the resulting accounts.
    fn run(&self, s: &LedgerState, txs: &[Transaction]) -> (Vec<usize>, BTreeMap<PublicKey, (u64, u64)>) {
        let mut accounts = s.accounts.clone();
        let mut rejected = Vec::new();
        for (i, tx) in txs.iter().enumerate() {
            if self.check_one(&accounts, tx).is_err() {
                rejected.push(i);
                continue;
            }
            let from = accounts.entry(tx.from).or_default();
            from.0 -= tx.amount + fee(tx);
            from.1 += 1;
            accounts.entry(tx.to).or_default().0 += tx.amount;
        }
        (rejected, accounts)
    }

    fn roots(s: &LedgerState, txs: &[Transaction]) -> (Hash32, Hash32) {
        let hashes: Vec<Hash32> = txs.iter().map(Transaction::hash).collect();
        let root = merkle_root(&hashes);
        let mut h = Sha256::new();
        h.update(s.commitment.0);
        h.update(root.0);
        (root, Hash32(h.finalize().into()))
    }
}

#[tonic::async_trait]
impl LedgerPort for SimLedger {
    async fn chain_info(&self) -> LedgerResult<ChainInfo> {
        let tip = LedgerPort::tip(self).await?;
        Ok(ChainInfo { chain_id: self.chain_id.clone(), genesis_hash: self.genesis.0, tip, oldest_block: Height(0) })
    }
    async fn tip(&self) -> LedgerResult<Tip> {
        let s = self.state.lock().unwrap();
        Ok(self.tip_of(&s))
    }
    async fn block_by_height(&self, height: Height) -> LedgerResult<Option<StoredBlock>> {
        let s = self.state.lock().unwrap();
        let i = usize::try_from(height.get()).unwrap_or(usize::MAX);
        Ok(if i == 0 { None } else { s.blocks.get(i - 1).cloned() }.map(|(block, certificate)| StoredBlock {
            height,
            hash: block.hash(),
            block,
            certificate: Some(certificate),
        }))
    }
    async fn blocks(&self, _: Height, _: u32, _: usize) -> LedgerResult<Vec<StoredBlock>> {
        Err(LedgerPortError::Unimplemented("blocks"))
    }
    async fn account(&self, address: &PublicKey) -> LedgerResult<AccountAtTip> {
        let s = self.state.lock().unwrap();
        let (balance, nonce) = s.accounts.get(address).copied().unwrap_or((0, 0));
        Ok(AccountAtTip { address: *address, balance, nonce, height: self.tip_of(&s).height })
    }
    async fn check_transactions(
        &self,
        txs: &[coinjecture_primitives::SealedTransaction],
    ) -> LedgerResult<CheckedTransactions> {
        self.latency().await;
        let s = self.state.lock().unwrap();
        let results = txs
            .iter()
            .map(|tx| CheckedTransaction { tx_hash: Some(tx.hash()), verdict: self.check_one(&s.accounts, tx) })
            .collect();
        Ok(CheckedTransactions { results, height: self.tip_of(&s).height })
    }
    async fn execute_block(&self, block: &coinjecture_primitives::SealedBlock, draft: bool) -> LedgerResult<Execution> {
        self.latency().await;
        let s = self.state.lock().unwrap();
        let tip = self.tip_of(&s);
        if block.header.parent_hash != tip.hash || block.header.block_index != tip.height.next() {
            return Err(LedgerPortError::FailedPrecondition("the block does not extend the tip".into()));
        }
        let (rejected, _) = self.run(&s, &block.transactions);
        let (root, commitment) = Self::roots(&s, &block.transactions);
        let stated = PoaExtra::decode(&block.header.extra_data).map(|e| e.state_commitment).ok();
        let valid = rejected.is_empty()
            && (draft || (block.header.merkle_root == root && stated == Some(commitment)))
            && (draft || block.header.timestamp_ms() > tip.timestamp_ms);
        let results = (0..block.transactions.len())
            .map(|i| CheckedTransaction {
                tx_hash: None,
                verdict: if rejected.contains(&i) {
                    Err(coinjecture_primitives::Rejection::new(
                        coinjecture_primitives::RejectReason::Malformed,
                        "rejected",
                    ))
                } else {
                    Ok(())
                },
            })
            .collect();
        Ok(Execution {
            rejection: (!valid).then(|| BlockRejection {
                reason: BlockRejectReason::InvalidTransaction,
                message: "invalid block".into(),
            }),
            state_commitment: Some(commitment),
            merkle_root: Some(root),
            results,
        })
    }
    async fn apply_block(
        &self,
        block: &coinjecture_primitives::SealedBlock,
        certificate: &CommitCertificate,
    ) -> LedgerResult<Applied> {
        self.latency().await;
        let mut s = self.state.lock().unwrap();
        let tip = self.tip_of(&s);
        let height = block.header.block_index;
        if block.header.parent_hash != tip.hash || height != tip.height.next() {
            return Err(LedgerPortError::FailedPrecondition(format!(
                "block {height} does not extend the tip {}",
                tip.height
            )));
        }
        verify_certificate(self.schedule.at(height), &self.chain_id, height, &block.hash(), certificate)
            .map_err(|e| LedgerPortError::FailedPrecondition(e.to_string()))?;
        let (rejected, accounts) = self.run(&s, &block.transactions);
        if !rejected.is_empty() {
            return Err(LedgerPortError::FailedPrecondition("a finalized block with an invalid transaction".into()));
        }
        let (_, commitment) = Self::roots(&s, &block.transactions);
        s.accounts = accounts;
        s.commitment = commitment;
        s.blocks.push((block.block().clone(), certificate.clone()));
        let tip = self.tip_of(&s);
        drop(s);
        let mut w = self.world.lock().unwrap();
        let now = w.now();
        w.trace(&[b"apply", &(self.me as u64).to_be_bytes(), &now.to_be_bytes(), &block.hash().0]);
        Ok(Applied { tip, already_applied: false })
    }
    async fn record_evidence(&self, _: &coinjecture_primitives::Evidence, _: UnixMillis) -> LedgerResult<bool> {
        Ok(false)
    }
    async fn recorded_evidence(&self, _: u32) -> LedgerResult<Vec<(coinjecture_primitives::Evidence, UnixMillis)>> {
        Ok(Vec::new())
    }
}

/// One running (or crashed) node.
pub(crate) struct Node {
    pub(crate) handle: Option<DriverHandle>,
    task: Option<tokio::task::JoinHandle<Result<(), DriverError>>>,
}

/// A run's outcome.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) trace_hash: Hash32,
    pub(crate) heights: Vec<Height>,
    pub(crate) violations: Vec<String>,
    pub(crate) delivered: u64,
}

/// Settings of one world.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub(crate) seed: u64,
    pub(crate) n: usize,
    pub(crate) mode: QuorumMode,
    pub(crate) net: NetParams,
    pub(crate) block_time_ms: u64,
    pub(crate) ledger_latency_ms: u64,
    /// See [`DriverEnv::inline_sync_hazard`].
    pub(crate) inline_sync_hazard: bool,
}

/// A world of drivers.
pub(crate) struct Sim {
    pub(crate) setup: Setup,
    pub(crate) world: Shared,
    pub(crate) nodes: Vec<Node>,
    pub(crate) chain: TestChain,
    pub(crate) schedule: ValidatorSchedule,
    pub(crate) engine: EngineConfig,
    seeds: Vec<[u8; 32]>,
    pub(crate) dir: tempfile::TempDir,
    clock: VirtualClock,
}

/// Simulation starts one hour after the test chain's genesis.
const START_MS: i64 = GENESIS_TIME_MS + 3_600_000;

impl Sim {
    /// A world with every node started (call inside a current-thread runtime with paused time;
    /// see [`run`]).
    pub(crate) async fn new(setup: Setup) -> Self {
        let seeds: Vec<[u8; 32]> =
            (0..setup.n).map(|i| sha256(format!("driver sim validator {i}").as_bytes()).0).collect();
        let keys: Vec<PublicKey> = seeds.iter().map(|s| Keypair::from_seed(s).public_key()).collect();
        let schedule = ValidatorSchedule::fixed(ValidatorSet::new(keys.clone(), setup.mode).expect("distinct keys"));
        let chain = TestChain::new("coinjecture-driver-sim", 4, 1_000_000_000);
        let engine = EngineConfig::with_block_time(chain.chain_id().clone(), setup.block_time_ms);
        // In memory where there is a tmpfs: the safety files are fsynced at every signature,
        // which costs nothing there and real milliseconds on a disk (time the simulation
        // would spend waiting, not simulating).
        let shm = std::path::Path::new("/dev/shm");
        let dir =
            if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("a temporary directory");
        let clock = VirtualClock::starting_at(UnixMillis(START_MS));
        let genesis_accounts: BTreeMap<PublicKey, (u64, u64)> =
            chain.accounts.iter().map(|a| (*a, (chain.account(a).balance, 0))).collect();
        let ledgers = (0..setup.n)
            .map(|_| {
                Arc::new(Mutex::new(LedgerState {
                    blocks: Vec::new(),
                    accounts: genesis_accounts.clone(),
                    commitment: chain.tip().state_commitment,
                }))
            })
            .collect();
        let world = World {
            rng: Rng::new(setup.seed),
            net: setup.net.clone(),
            up: vec![false; setup.n],
            group: vec![0; setup.n],
            inboxes: vec![None; setup.n],
            ledgers,
            aborts: (0..setup.n).map(|_| None).collect(),
            trace: Sha256::new(),
            delivered: 0,
            signed: BTreeMap::new(),
            violations: Vec::new(),
            sign_paths: (0..setup.n).map(|i| dir.path().join(format!("node{i}.sign_state"))).collect(),
            seen_sign: vec![None; setup.n],
            seen_lock: vec![None; setup.n],
            rule: None,
            control: Control { release: Vec::new(), slow_ledger_ms: vec![None; setup.n] },
            held: Vec::new(),
            published: Vec::new(),
            crash_trigger: None,
            crashes_triggered: Vec::new(),
            tamper: None,
            clock,
            keys,
            ledger_latency_ms: setup.ledger_latency_ms,
        };
        let mut sim = Self {
            nodes: (0..setup.n).map(|_| Node { handle: None, task: None }).collect(),
            setup,
            world: Arc::new(Mutex::new(world)),
            chain,
            schedule,
            engine,
            seeds,
            dir,
            clock,
        };
        for i in 0..sim.setup.n {
            sim.start(i).await;
        }
        sim
    }

    pub(crate) fn now(&self) -> i64 {
        coinjecture_consensus::clock::Clock::now_ms(&self.clock).get()
    }

    /// Starts (or restarts) node `i` from its ledger and safety files.
    pub(crate) async fn start(&mut self, i: usize) {
        let (inbox, inbound) = mpsc::channel(4096);
        let state = {
            let mut w = self.world.lock().unwrap();
            w.check_disk(i);
            w.up[i] = true;
            w.inboxes[i] = Some(inbox);
            w.ledgers[i].clone()
        };
        let ledger = SimLedger {
            me: i,
            world: self.world.clone(),
            state,
            chain_id: self.chain.chain_id().clone(),
            schedule: self.schedule.clone(),
            genesis: (self.chain.genesis.hash(), GENESIS_TIME_MS),
        };
        let config = DriverConfig {
            engine: self.engine.clone(),
            schedule: self.schedule.clone(),
            mempool: MempoolConfig::default(),
            max_block_transactions: 100,
            block_limits: coinjecture_primitives::BlockLimits::default(),
            // Generous: these tests are about correctness, not the time budget.
            proposal_budget: std::time::Duration::from_secs(60),
            sign_state_path: self.dir.path().join(format!("node{i}.sign_state")),
            network_label: format!("sim{i}"),
            unsafe_reset_signing_state: false,
            // The journal runs on its own thread: not in a deterministic world.
            tx_journal: false,
            compact_proposals: true,
        };
        let env = DriverEnv {
            inline_sync_hazard: self.setup.inline_sync_hazard,
            ..DriverEnv::with_clock(Arc::new(self.clock))
        };
        let network = NetPort { me: i, world: self.world.clone() };
        let (handle, task) =
            driver::start_in(config, Keypair::from_seed(&self.seeds[i]), Arc::new(ledger), network, inbound, env)
                .await
                .unwrap_or_else(|e| panic!("seed {}: node {i} did not start: {e}", self.setup.seed));
        self.world.lock().unwrap().aborts[i] = Some(task.abort_handle());
        self.nodes[i] = Node { handle: Some(handle), task: Some(task) };
    }

    /// Crashes node `i`: its task stops at its current await; its memory (mempool, engine,
    /// timers, inbox) is gone; its ledger and safety files stay.
    pub(crate) fn crash(&mut self, i: usize) {
        self.world.lock().unwrap().crash(i);
        self.nodes[i].handle = None;
    }

    pub(crate) fn is_up(&self, i: usize) -> bool {
        self.world.lock().unwrap().up[i]
    }

    /// Restarts every node that is down (crashed by the scenario or by a trigger).
    pub(crate) async fn restart_crashed(&mut self) {
        for i in 0..self.setup.n {
            if !self.is_up(i) {
                self.nodes[i].handle = None;
                self.start(i).await;
            }
        }
    }

    /// Lets virtual time pass; panics (naming the seed) if a driver stopped with an error.
    pub(crate) async fn run_for(&mut self, ms: i64) {
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        for (i, node) in self.nodes.iter_mut().enumerate() {
            if node.task.as_ref().is_some_and(tokio::task::JoinHandle::is_finished)
                && let Some(task) = node.task.take()
            {
                match task.await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => panic!("seed {}: node {i}'s driver stopped: {e}", self.setup.seed),
                    Err(e) if e.is_cancelled() => {}
                    Err(e) => panic!("seed {}: node {i}'s driver panicked: {e}", self.setup.seed),
                }
            }
        }
    }

    /// Finalized heights of every node's ledger.
    pub(crate) fn heights(&self) -> Vec<Height> {
        let w = self.world.lock().unwrap();
        w.ledgers.iter().map(|l| Height(l.lock().unwrap().blocks.len() as u64)).collect()
    }

    /// Hands `message` to node `i` at once, as its gossip validation would (false when it is
    /// down or its inbox is full).
    pub(crate) fn deliver(&self, i: usize, message: GossipMessage) -> bool {
        let w = self.world.lock().unwrap();
        w.inboxes[i].as_ref().filter(|_| w.up[i]).is_some_and(|inbox| inbox.try_send(message).is_ok())
    }

    /// Submits transactions to node `i` (if up); returns how many it admitted.
    pub(crate) async fn submit(&self, i: usize, txs: Vec<Transaction>) -> usize {
        let Some(handle) = self.nodes[i].handle.clone() else { return 0 };
        match handle.submit(txs).await {
            Ok(results) => results.iter().filter(|r| r.outcome.is_ok()).count(),
            Err(_) => 0,
        }
    }

    /// Node `i`'s driver status (`None` while it is down).
    pub(crate) fn status(&self, i: usize) -> Option<coinjecture_consensus::driver::DriverStatus> {
        self.nodes[i].handle.as_ref().map(DriverHandle::status)
    }

    /// The round of the certificate of node `i`'s finalized block at `height`.
    pub(crate) fn commit_round(&self, i: usize, height: Height) -> Option<Round> {
        let w = self.world.lock().unwrap();
        let s = w.ledgers[i].lock().unwrap();
        let index = usize::try_from(height.get()).ok()?.checked_sub(1)?;
        s.blocks.get(index).map(|(_, c)| c.round)
    }

    /// The balance of `account` in node `i`'s ledger.
    pub(crate) fn balance(&self, i: usize, account: &PublicKey) -> u64 {
        let w = self.world.lock().unwrap();
        let s = w.ledgers[i].lock().unwrap();
        s.accounts.get(account).map_or(0, |a| a.0)
    }

    /// Checks one chain across the ledgers and the disks, stops every driver, and reports.
    pub(crate) fn finish(self) -> Report {
        let mut w = self.world.lock().unwrap();
        for i in 0..self.setup.n {
            w.check_disk(i);
            w.crash(i);
        }
        let chains: Vec<Vec<Hash32>> =
            w.ledgers.iter().map(|l| l.lock().unwrap().blocks.iter().map(|(b, _)| b.hash()).collect()).collect();
        let longest = chains.iter().map(Vec::len).max().unwrap_or(0);
        for h in 0..longest {
            let at: Vec<Hash32> = chains.iter().filter_map(|c| c.get(h).copied()).collect();
            if at.windows(2).any(|p| p[0] != p[1]) {
                let what = format!("two blocks finalized at height {}: {at:?}", h + 1);
                w.violation(what);
            }
        }
        let heights = chains.iter().map(|c| Height(c.len() as u64)).collect();
        let trace = std::mem::take(&mut w.trace);
        Report {
            trace_hash: Hash32(trace.finalize().into()),
            heights,
            violations: std::mem::take(&mut w.violations),
            delivered: w.delivered,
        }
    }
}

/// Runs `scenario` in a fresh current-thread runtime with paused time (the deterministic
/// executor of the driver simulation).
pub(crate) fn run<T>(scenario: impl std::future::Future<Output = T>) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(scenario)
}
