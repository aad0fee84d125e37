//! The driver: runs an [`Engine`] against the real world — the ledger (through its port,
//! [`LedgerPort`]: the ledger itself in one process, a `RemoteLedger` split), the network (p2p-gateway), a clock with timers, the mempool, and the
//! persisted signing state — and serves the `Consensus` gRPC service through a [`DriverHandle`].
//!
//! One task owns everything; inputs are processed one at a time and every action is carried out
//! before the next input, in order, so `PersistSignState` is durable before the `Broadcast` after
//! it and a `Commit` is in SQLite before the engine sees anything else.
//!
//! **Consensus first.** Votes, proposals and finalized blocks are handled ahead of transaction
//! intake: the main loop moves everything that arrived into two queues — consensus messages,
//! and gossiped transaction batches (bounded, see [`MAX_QUEUED_GOSSIP_TRANSACTIONS`]) — and takes
//! a consensus message or a due timer whenever there is one; only then one intake item (a
//! submission or a gossiped batch, in turn). A burst of transactions therefore delays a vote by
//! at most the one intake batch being admitted. Signatures are verified before intake reaches
//! the driver (by [`DriverHandle::submit`] on the verification pool, or by the gossip
//! validation), so admission here only checks state.
//!
//! **Backpressure.** At or above the mempool's high-water mark
//! ([`MempoolConfig::high_water_transactions`] / `_bytes`) submissions are refused as a whole
//! with [`ConsensusError::Overloaded`] (RESOURCE_EXHAUSTED / 503 with `Retry-After`: one block
//! time), and gossiped transactions are dropped and counted (`dropped{reason}`:
//! `transactions_backpressure`, `transactions_queue_full`).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::consensus::{Evidence, Proposal};
use coinjecture_primitives::{
    Block, BlockHeader, BlockLimits, ChainId, CommitCertificate, Hash32, Height, PoaExtra, PublicKey, SealedBlock,
    SealedTransaction, Transaction, limits,
};
use coinjecture_primitives::{RejectReason, Rejection, Round, UnixMillis};
use coinjecture_proto::ports::consensus::ConsensusError;
use coinjecture_proto::ports::gateway::{CompactProposal, GatewayPort, GossipMessage, TransactionRequest};
use coinjecture_proto::ports::ledger::{self as ledger_port, LedgerPort, LedgerPortError};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument as _;

use crate::engine::{Action, DropReason, Engine, EngineConfig, Input, Message, Step, Timeout};
use crate::lock_state::LockState;
use crate::mempool::{FillStop, Mempool, MempoolConfig, MempoolError, SelectLimits};
use crate::safety_file::Format;
use crate::sign_state::SignState;
use crate::signing_checks;
use crate::signing_pause::SigningPause;
use crate::tx_journal::{self, TxJournal};
use crate::validators::ValidatorSchedule;

mod compact;
mod safety;
use compact::Rebuild;
use safety::new_engine;

/// The finalized tip as the ledger reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tip {
    pub height: Height,
    pub hash: Hash32,
    pub timestamp_ms: UnixMillis,
}

impl From<ledger_port::Tip> for Tip {
    fn from(t: ledger_port::Tip) -> Self {
        Self { height: t.height, hash: t.hash, timestamp_ms: t.timestamp_ms }
    }
}

/// The finalized block at `height` with its certificate; `None` above the tip and for genesis
/// (never served as a decided block: it has no certificate).
pub(crate) async fn finalized(
    ledger: &dyn LedgerPort,
    height: Height,
) -> Result<Option<(Block, CommitCertificate)>, LedgerPortError> {
    Ok(ledger.block_by_height(height).await?.and_then(|b| Some((b.block, b.certificate?))))
}

/// Driver settings.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub engine: EngineConfig,
    pub schedule: ValidatorSchedule,
    pub mempool: MempoolConfig,
    /// Most transactions in a block this node proposes: at most the decoder's bound
    /// ([`limits::MAX_BLOCK_TRANSACTIONS`], what nodes use); tests set less.
    pub max_block_transactions: usize,
    /// The chain's block limits (from its genesis): a proposal never exceeds them (and the
    /// ledger refuses a block that does, so validators prevote nil on it).
    pub block_limits: BlockLimits,
    /// The proposer's time budget: filling a block (nonces, selection, and the draft execution
    /// that gives the state commitment) stops taking transactions when its estimated cost would
    /// overrun this (`consensus.proposal_budget`; default [`default_proposal_budget`]).
    pub proposal_budget: Duration,
    /// Where the signing state is kept (one small file, replaced atomically). The lock (the
    /// block this validator precommitted at the current height, with its proof of lock) is
    /// kept beside it, in [`lock_state_path`] of this path.
    pub sign_state_path: PathBuf,
    /// Short network label for logs and metrics (e.g. "A").
    pub network_label: String,
    /// `--unsafe-reset-signing-state`: start even though the signing state or lock is damaged,
    /// missing on a database this validator signed in, or far ahead of the chain (see
    /// [`signing_checks`]).
    pub unsafe_reset_signing_state: bool,
    /// Journal the transactions submitted through [`DriverHandle::submit`] before answering
    /// (`<database>.tx_journal`, see [`tx_journal`]). Off only for measurements.
    pub tx_journal: bool,
    /// Publish proposals compact (header and transaction hashes; see [`compact`]) rather than
    /// with every transaction. Received proposals are taken in either form.
    pub compact_proposals: bool,
}

/// One proposal event, for the node's metrics (see [`ProposalStats`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProposalSample {
    /// This validator published a proposal: `bytes` of gossip payload (the protobuf
    /// `ConsensusMessage`) for a block whose transactions encode to `block_bytes`.
    Published { compact: bool, bytes: usize, block_bytes: usize },
    /// A proposal from another validator is complete here (received full, or rebuilt):
    /// `seconds` from the proposer's publish (its signed `timestamp_ms`) to the complete block,
    /// `fetched` transactions of it asked from peers.
    Received { compact: bool, seconds: f64, fetched: usize },
}

/// Proposal sizes and propagation, recorded by the driver and drained by the node's metrics
/// (`coinjecture_proposal_bytes`, `coinjecture_proposal_propagation_seconds`, ...).
#[derive(Debug, Default)]
pub struct ProposalStats {
    samples: std::sync::Mutex<VecDeque<ProposalSample>>,
    /// Requests for missing transactions, and for full proposals, this node published.
    pub transaction_requests: std::sync::atomic::AtomicU64,
    pub full_block_requests: std::sync::atomic::AtomicU64,
    /// Compact proposals dropped because their hashes did not give the header's Merkle root.
    pub merkle_mismatches: std::sync::atomic::AtomicU64,
    /// Requests this node answered (with transactions or a full proposal).
    pub answers: std::sync::atomic::AtomicU64,
}

/// Samples kept until the metrics drain them (the oldest go first).
const MAX_PROPOSAL_SAMPLES: usize = 1024;

impl ProposalStats {
    fn record(&self, sample: ProposalSample) {
        if let Ok(mut q) = self.samples.lock() {
            if q.len() >= MAX_PROPOSAL_SAMPLES {
                q.pop_front();
            }
            q.push_back(sample);
        }
    }

    /// The samples recorded since the last call.
    pub fn drain(&self) -> Vec<ProposalSample> {
        self.samples.lock().map(|mut q| q.drain(..).collect()).unwrap_or_default()
    }

    fn count(counter: &std::sync::atomic::AtomicU64) {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Status snapshot published after every input.
#[derive(Debug, Clone, Default)]
pub struct DriverStatus {
    pub finalized_height: Height,
    pub finalized_hash: Hash32,
    pub finalized_timestamp_ms: UnixMillis,
    pub height: Height,
    pub round: Round,
    pub step: Option<Step>,
    pub proposer: Option<PublicKey>,
    pub mempool_size: usize,
    pub mempool_bytes: usize,
    pub mempool_senders: usize,
    pub syncing: bool,
    pub blocks_produced: u64,
    /// Blocks this node built as proposer (finalized or not), and how long the last one took
    /// from the engine's request to the executed block (mempool selection + draft execution).
    pub blocks_built: u64,
    pub last_build_seconds: f64,
    /// Blocks built here by what ended their filling ([`FillStop::as_str`]: `empty`, `gas`,
    /// `bytes`, `time`, `transactions`).
    pub fill_stops: HashMap<&'static str, u64>,
    /// Transactions in the last block built here.
    pub last_build_transactions: usize,
    pub dropped: HashMap<String, u64>,
    /// Why this validator is not signing right now (None while it signs): a safety file could
    /// not be written, or it waits for a height (see [`crate::signing_pause`]).
    pub signing_paused: Option<String>,
    /// Writes of the signing state or lock that failed since start.
    pub persist_failures: u64,
    /// The transaction journal's counters (None without a journal).
    pub journal: Option<Arc<tx_journal::JournalStats>>,
    /// Proposal sizes and propagation (see [`ProposalStats`]).
    pub proposals: Arc<ProposalStats>,
}

/// The result of submitting one transaction (the consensus port's).
pub use coinjecture_proto::ports::consensus::SubmitResult;

enum Command {
    /// `span`: the caller's, so the admission joins the submitter's trace.
    Submit {
        txs: Vec<SealedTransaction>,
        gossip: bool,
        reply: Option<oneshot::Sender<Result<Vec<SubmitResult>, ConsensusError>>>,
        span: tracing::Span,
    },
    Evidence {
        reply: oneshot::Sender<Vec<(Evidence, UnixMillis)>>,
    },
}

/// Most gossiped transactions queued for admission; a batch that would go past it is dropped
/// (and counted): peers re-gossip, and the transactions reach this node again in a proposal.
pub const MAX_QUEUED_GOSSIP_TRANSACTIONS: usize = 20_000;

/// Submitted transactions being verified (on the intake pool) or waiting for the driver's
/// admission at once, per driver: about two seconds of this machine's intake. A submission that would go past it is refused as
/// overloaded (RESOURCE_EXHAUSTED / 503 with `Retry-After`), like one above the mempool's
/// high-water mark, so on saturated cores clients are told to come back (or go to another
/// node) instead of waiting in a queue that grows with the offered load. A batch larger than
/// this takes the whole budget.
pub const VERIFYING_TRANSACTIONS: usize = 20_000;

/// A cloneable handle to a running driver (what the gRPC service and the API use).
#[derive(Debug, Clone)]
pub struct DriverHandle {
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<DriverStatus>,
    /// False once the node is stopping: submissions are refused (see [`Self::stop_admitting`]).
    admitting: Arc<std::sync::atomic::AtomicBool>,
    pub chain_id: ChainId,
    pub schedule: ValidatorSchedule,
    pub local_validator: PublicKey,
    pub mempool_config: MempoolConfig,
    /// `Retry-After` of a backpressure refusal ([`retry_after_secs`]).
    retry_after_secs: u64,
    /// Bounds the submitted transactions verified at once ([`VERIFYING_TRANSACTIONS`]).
    verifying: Arc<tokio::sync::Semaphore>,
    /// Gossiped transaction batches the gossip loop shed (its transaction lane was full);
    /// reported in [`DriverStatus::dropped`] as `transaction_batches_shed`.
    gossip_shed: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Submit { .. } => "Submit",
            Self::Evidence { .. } => "Evidence",
        })
    }
}

impl DriverHandle {
    /// Submits transactions: checked against the ledger, admitted to the mempool, gossiped.
    /// UNAVAILABLE once the node is stopping, so the client sends them to another node.
    /// Sealed transactions keep their encoding and hash all the way; plain ones are sealed here.
    pub async fn submit<T: Into<SealedTransaction>>(&self, txs: Vec<T>) -> Result<Vec<SubmitResult>, ConsensusError> {
        let txs: Vec<SealedTransaction> = txs.into_iter().map(Into::into).collect();
        if !self.admitting.load(std::sync::atomic::Ordering::Acquire) {
            return Err(ConsensusError::Stopping);
        }
        self.refuse_above_high_water()?;
        // Verified here, on the intake pool (bounded, below consensus's priority), not on the
        // driver's task: each verdict is recorded on its sealed transaction, and the ledger's
        // admission check uses it instead of verifying again.
        let current_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
        // Held until the driver has answered: the budget counts the transactions being verified
        // and those waiting for admission (the driver admits one intake item after consensus
        // work), so saturated cores give clients a Retry-After, not ever slower answers.
        let mut _intake = None;
        if current_thread {
            // No pool to hand it to without leaving the (deterministic) thread: verify here.
            coinjecture_crypto_core::signatures::verify_transactions(&txs);
        } else if txs.iter().any(|t| t.signature_verdict().is_none()) {
            _intake = Some(self.reserve_intake(txs.len())?);
            let (done, verified) = oneshot::channel();
            coinjecture_crypto_core::signatures::verify_intake_then(txs.clone(), move |v| {
                let _ = done.send(v);
            });
            verified.await.map_err(|_| ConsensusError::Stopped)?;
        } else {
            _intake = Some(self.reserve_intake(txs.len())?);
        }
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Submit { txs, gossip: true, reply: Some(reply), span: tracing::Span::current() })
            .await
            .map_err(|_| ConsensusError::Stopped)?;
        rx.await.map_err(|_| ConsensusError::Stopped)?
    }

    /// A place for `n` transactions in the intake budget ([`VERIFYING_TRANSACTIONS`]: being
    /// verified or waiting for admission), held until the permit is dropped;
    /// [`ConsensusError::Overloaded`] when it is spent.
    pub fn reserve_intake(&self, n: usize) -> Result<tokio::sync::SemaphorePermit<'_>, ConsensusError> {
        let want = u32::try_from(n.clamp(1, VERIFYING_TRANSACTIONS)).unwrap_or(u32::MAX);
        match self.verifying.try_acquire_many(want) {
            Ok(permit) => Ok(permit),
            Err(tokio::sync::TryAcquireError::Closed) => Err(ConsensusError::Stopped),
            Err(tokio::sync::TryAcquireError::NoPermits) => Err(ConsensusError::Overloaded {
                message: format!(
                    "the node is verifying or admitting {} submitted transactions already (its intake \
                     limit is {VERIFYING_TRANSACTIONS}): its cores are saturated",
                    VERIFYING_TRANSACTIONS - self.verifying.available_permits()
                ),
                retry_after_secs: self.retry_after_secs,
            }),
        }
    }

    /// [`ConsensusError::Overloaded`] when the mempool (as last published) is at or above its
    /// high-water mark.
    fn refuse_above_high_water(&self) -> Result<(), ConsensusError> {
        let (count, bytes) = {
            let s = self.status.borrow();
            (s.mempool_size, s.mempool_bytes)
        };
        if self.mempool_config.above_high_water(count, bytes) {
            return Err(overloaded(&self.mempool_config, count, bytes, self.retry_after_secs));
        }
        Ok(())
    }

    /// Stops admitting submitted transactions (every clone of this handle refuses them from
    /// now on). A stopping node calls this before it stops gossip: a transaction it accepted
    /// after gossip ended would leave it only at its next start (from its journal).
    pub fn stop_admitting(&self) {
        self.admitting.store(false, std::sync::atomic::Ordering::Release);
    }

    /// The latest status.
    pub fn status(&self) -> DriverStatus {
        self.status.borrow().clone()
    }

    /// The counter the gossip loop raises for each transaction batch it sheds
    /// ([`crate::gossip::forward`]); the driver reports it with its own drops.
    pub fn gossip_shed(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.gossip_shed.clone()
    }

    /// A receiver that changes after every input (for watchers, e.g. the API's block stream).
    pub fn watch(&self) -> watch::Receiver<DriverStatus> {
        self.status.clone()
    }

    /// Evidence recorded so far, with detection times.
    pub async fn evidence(&self) -> Result<Vec<(Evidence, UnixMillis)>, ConsensusError> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(Command::Evidence { reply }).await.map_err(|_| ConsensusError::Stopped)?;
        rx.await.map_err(|_| ConsensusError::Stopped)
    }
}

/// `Retry-After` of a backpressure refusal: one block time (what a block takes out of the
/// mempool), in whole seconds, at least 1.
fn retry_after_secs(block_time_ms: u64) -> u64 {
    block_time_ms.div_ceil(1000).max(1)
}

/// The backpressure refusal of a mempool holding `count` transactions and `bytes` bytes.
fn overloaded(config: &MempoolConfig, count: usize, bytes: usize, retry_after_secs: u64) -> ConsensusError {
    ConsensusError::Overloaded {
        message: format!(
            "the mempool is above its high-water mark ({count} transactions, {bytes} bytes; the mark is {} \
             transactions or {} bytes): the node takes no new transactions until blocks drain it",
            config.high_water_transactions, config.high_water_bytes
        ),
        retry_after_secs,
    }
}

/// Errors that stop the driver (it never stops for bad input from peers).
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The signing state cannot be read or does not decode (an I/O or a decode error).
    #[error("reading the signing state {path}: {source}")]
    SignStateRead {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("writing the signing state {path}: {source}")]
    SignStateWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The lock cannot be read or does not decode (an I/O or a decode error).
    #[error(
        "reading the lock {path}: {source} (it holds the block this validator precommitted; move it away only if the height it names is final everywhere)"
    )]
    LockStateRead {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("writing the lock {path}: {source}")]
    LockStateWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A safety file the node will not start with; `action` says what the operator can do.
    #[error("the {what} {path} {problem}: {action}")]
    SafetyFileRefused { what: &'static str, path: PathBuf, problem: String, action: String },
    #[error(transparent)]
    Journal(#[from] crate::tx_journal::JournalError),
    /// A ledger call failed (the port's error, which keeps the gRPC code of a remote ledger).
    #[error("the ledger failed: {0}")]
    Ledger(#[from] LedgerPortError),
    /// The ledger could not be reached within the start-up wait.
    #[error("the ledger is not reachable: {0}")]
    LedgerUnreachable(#[source] LedgerPortError),
    /// The ledger answered something that does not fit the question.
    #[error("the ledger's answer does not fit: {0}")]
    LedgerAnswer(String),
}

/// The driver's clock (see [`crate::clock`]): the system clock unless started with another.
fn now_ms() -> UnixMillis {
    crate::clock::now_ms()
}

/// Loads the persisted signing state (None when the validator never signed), in format 2
/// (checked) or 1 (see [`crate::safety_file`]). [`start`] reads it through
/// [`signing_checks::check`], which also checks it against the chain.
pub fn load_sign_state(path: &Path) -> Result<Option<SignState>, DriverError> {
    let err =
        |source: Box<dyn std::error::Error + Send + Sync>| DriverError::SignStateRead { path: path.into(), source };
    let bytes = read_if_present(path).map_err(|e| err(e.into()))?;
    let state = bytes.map(|b| SignState::from_file_bytes(&b)).transpose().map_err(|e| err(e.into()))?;
    Ok(state.map(|(s, _): (SignState, Format)| s))
}

/// The file's bytes; None when it does not exist.
fn read_if_present(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes the signing state durably (format 2): temp file, fsync, rename over, fsync the
/// directory.
pub fn store_sign_state(path: &Path, state: &SignState) -> Result<(), DriverError> {
    write_durably(path, &state.to_file_bytes())
        .map_err(|source| DriverError::SignStateWrite { path: path.into(), source })
}

/// Where the lock is kept for a signing state at `sign_state_path`: the same name with the
/// extension `lock_state` (e.g. `data/validator-1.lock_state`).
pub fn lock_state_path(sign_state_path: &Path) -> PathBuf {
    sign_state_path.with_extension("lock_state")
}

/// Loads the persisted lock (None when there is none), in format 2 (checked) or 1.
pub fn load_lock_state(path: &Path) -> Result<Option<LockState>, DriverError> {
    let err =
        |source: Box<dyn std::error::Error + Send + Sync>| DriverError::LockStateRead { path: path.into(), source };
    let bytes = read_if_present(path).map_err(|e| err(e.into()))?;
    let lock = bytes.map(|b| LockState::from_file_bytes(&b)).transpose().map_err(|e| err(e.into()))?;
    Ok(lock.map(|(l, _): (LockState, Format)| l))
}

/// Writes the lock durably (format 2, as the signing state).
pub fn store_lock_state(path: &Path, lock: &LockState) -> Result<(), DriverError> {
    store_lock_file(path, &lock.to_file_bytes())
}

/// Writes a lock file's bytes durably.
fn store_lock_file(path: &Path, bytes: &[u8]) -> Result<(), DriverError> {
    write_durably(path, bytes).map_err(|source| DriverError::LockStateWrite { path: path.into(), source })
}

/// Temp file, fsync, rename over `path`, fsync the directory: after a crash the file holds
/// either the old or the new bytes. A failed write removes its temp file (best effort; a crash
/// leaves it for the next start to remove).
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = signing_checks::temp_path(path);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        d.sync_all()?;
    }
    Ok(())
}

/// The running driver's state.
struct Driver<N> {
    config: DriverConfig,
    engine: Engine,
    /// See [`DriverHandle::gossip_shed`].
    gossip_shed: Arc<std::sync::atomic::AtomicU64>,
    me: PublicKey,
    ledger: Arc<dyn LedgerPort>,
    /// The last few blocks sealed here (built, validated, committed), newest last: a block
    /// passes from proposal through validation, the lock file and the commit sealed once.
    sealed_blocks: VecDeque<SealedBlock>,
    network: Arc<N>,
    mempool: Mempool,
    nonces: HashMap<PublicKey, u64>,
    timers: BTreeSet<(UnixMillis, Timeout)>,
    evidence: VecDeque<(Evidence, UnixMillis)>,
    status: watch::Sender<DriverStatus>,
    blocks_produced: u64,
    blocks_built: u64,
    last_build_seconds: f64,
    fill_stops: HashMap<&'static str, u64>,
    last_build_transactions: usize,
    /// Estimated seconds of draft execution per transaction (learned from this node's builds;
    /// see [`INITIAL_BUILD_SECONDS_PER_TX`]): what the time budget divides.
    build_seconds_per_tx: f64,
    dropped: HashMap<String, u64>,
    syncing: bool,
    tip: Tip,
    /// Finalized blocks fetched by a sync request, fed to the engine after the current batch.
    sync_results: VecDeque<Input>,
    /// Catch-up's next fetch, started when a sync answer was full (see [`SyncFetch`]).
    prefetch: Option<SyncFetch>,
    /// Blocks of sync answers the ledger applied already (in one batched call, see
    /// [`Self::take_synced`]) and the engine has not committed yet, in height order (height,
    /// hash): their commit only updates the driver's state.
    synced: VecDeque<(Height, Hash32)>,
    persisted: Persisted,
    /// The key again, to rebuild the engine (see [`Self::rebuild_engine`]).
    key: Keypair,
    /// What is on disk: the last signing state and lock written successfully.
    durable_sign_state: Option<SignState>,
    durable_lock: Option<LockState>,
    /// Set while this validator does not sign (see [`crate::signing_pause`]).
    pause: Option<SigningPause>,
    /// The last pause's backoff and end time, for the next one's backoff.
    last_pause: Option<(Duration, UnixMillis)>,
    persist_failures: u64,
    /// Bumped whenever the engine is replaced: actions of the old one are not carried out.
    engine_generation: u64,
    journal: Option<TxJournal>,
    /// Journaled transactions to re-admit before the first input.
    replay: Vec<Transaction>,
    /// See [`DriverEnv::inline_sync_hazard`] (tests only).
    inline_sync_hazard: bool,
    /// Consensus messages received and not handled yet (handled before any intake).
    consensus_inbox: VecDeque<GossipMessage>,
    /// Gossiped transaction batches waiting for admission, and how many transactions they hold
    /// (at most [`MAX_QUEUED_GOSSIP_TRANSACTIONS`]).
    gossip_inbox: VecDeque<Vec<SealedTransaction>>,
    gossip_queued: usize,
    /// Which intake source goes first next time (submissions, gossiped batches, in turn): fair
    /// between them, and without `tokio::select!`'s random start, so a run in virtual time can be
    /// replayed.
    turn: usize,
    /// Compact proposals being rebuilt (see [`compact`]), oldest first.
    rebuilds: VecDeque<Rebuild>,
    /// Full proposals known here (published or received or rebuilt), newest last: what a
    /// `full_block` request is answered with.
    recent_full: VecDeque<Proposal>,
    /// Requests answered per (height, round).
    answered: HashMap<(Height, Round), u32>,
    /// The last (height, round) this validator published a proposal for (re-broadcasts of the
    /// same proposal are not sampled again).
    last_published: Option<(Height, Round)>,
    proposal_stats: Arc<ProposalStats>,
}

/// What woke the driver's main loop.
#[allow(clippy::large_enum_variant, reason = "one at a time, on the stack, handled at once")]
enum Wake {
    Message(Option<GossipMessage>),
    Command(Option<Command>),
    Timer,
    Fetched(Height, Result<SyncedBlocks, tokio::task::JoinError>),
}

/// Blocks a sync request asks for: one answer, and the size of a batch the ledger applies.
const SYNC_BATCH: u32 = 100;

/// Finalized blocks of a sync answer, sealed, with their certificates (unverified).
type SyncedBlocks = Result<Vec<(SealedBlock, CommitCertificate)>, coinjecture_proto::ports::gateway::GatewayError>;

/// Catch-up's read-ahead (#22 item 2): when a sync answer is full (peers likely have more), the
/// next [`SYNC_BATCH`] blocks are fetched and sealed on a task of their own while the driver
/// applies these; the driver takes them as soon as they are here (no wait for the engine's next
/// sync request, nor for a message from a validator ahead). One at a time; in one process and
/// split alike (it goes through the gateway port).
struct SyncFetch {
    from: Height,
    task: tokio::task::JoinHandle<SyncedBlocks>,
}

impl Drop for SyncFetch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Fetches `from..from + count` through `network` and seals each block (yielding between
/// blocks: sealing 10,000 transactions takes ~10 ms).
async fn fetch_synced<N: GatewayPort>(network: Arc<N>, from: Height, count: u32) -> SyncedBlocks {
    let blocks = network.request_blocks(from, count).await?;
    let mut sealed = Vec::with_capacity(blocks.len());
    for (block, certificate) in blocks {
        sealed.push((SealedBlock::seal(block), certificate));
        tokio::task::yield_now().await;
    }
    Ok(sealed)
}

/// Positions of what is on disk: (height, round, step) of the signing state and (height,
/// round) of the lock. Neither file is ever replaced by an older one.
#[derive(Debug, Default)]
struct Persisted {
    sign: Option<(Height, Round, crate::sign_state::SignStep)>,
    lock: Option<(Height, Round)>,
}

const MAX_EVIDENCE: usize = 10_000;

/// Sealed blocks a driver keeps (see `Driver::sealed_blocks`): a height's proposals over a few
/// rounds.
const SEALED_BLOCKS_KEPT: usize = 8;

/// Starts a driver; returns its handle and the task (which ends with an error only when the
/// ledger or the signing-state file fails: the node must stop rather than sign blindly).
pub async fn start<N: GatewayPort>(
    config: DriverConfig,
    key: Keypair,
    ledger: Arc<dyn LedgerPort>,
    network: N,
    inbound: mpsc::Receiver<GossipMessage>,
) -> Result<(DriverHandle, tokio::task::JoinHandle<Result<(), DriverError>>), DriverError> {
    start_with_clock(config, key, ledger, network, inbound, Arc::new(crate::clock::SystemClock)).await
}

/// [`start`] with another clock (e.g. a [`crate::clock::VirtualClock`] in a test running in
/// tokio's paused time).
pub async fn start_with_clock<N: GatewayPort>(
    config: DriverConfig,
    key: Keypair,
    ledger: Arc<dyn LedgerPort>,
    network: N,
    inbound: mpsc::Receiver<GossipMessage>,
    clock: Arc<dyn crate::clock::Clock>,
) -> Result<(DriverHandle, tokio::task::JoinHandle<Result<(), DriverError>>), DriverError> {
    start_in(config, key, ledger, network, inbound, DriverEnv::with_clock(clock)).await
}

/// What a driver runs with besides its configuration and its ports (ledger, network): the
/// clock, and switches that only tests set.
///
/// The driver runs on the tokio runtime it is started on. Its only sources of
/// nondeterminism are that runtime's scheduling, the clock and the ports: on a current-thread
/// runtime with paused time (`start_paused`), a [`crate::clock::VirtualClock`] and in-memory
/// ports, several drivers run the same way every time (the driver simulation,
/// `tests/driver_simulation`).
#[derive(Clone)]
pub struct DriverEnv {
    pub clock: Arc<dyn crate::clock::Clock>,
    /// TEST ONLY: puts issue #19 item 5's hazard back, to show that the driver simulation
    /// catches it. `RequestSync` is then carried out inline, in the middle of the action batch
    /// that asked for it (the fetched blocks are committed at once and the engine may sign at
    /// the next height), and the signing state and lock on disk may go backwards (an older
    /// `PersistSignState`/`PersistLock` of the same batch is written over the newer one). The
    /// node never sets it.
    #[doc(hidden)]
    pub inline_sync_hazard: bool,
}

impl DriverEnv {
    /// The system clock; no test switch.
    pub fn system() -> Self {
        Self::with_clock(Arc::new(crate::clock::SystemClock))
    }

    /// Another clock; no test switch.
    pub fn with_clock(clock: Arc<dyn crate::clock::Clock>) -> Self {
        Self { clock, inline_sync_hazard: false }
    }
}

impl std::fmt::Debug for DriverEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverEnv").field("inline_sync_hazard", &self.inline_sync_hazard).finish_non_exhaustive()
    }
}

/// [`start`] in `env` (see [`DriverEnv`]).
pub async fn start_in<N: GatewayPort>(
    config: DriverConfig,
    key: Keypair,
    ledger: Arc<dyn LedgerPort>,
    network: N,
    inbound: mpsc::Receiver<GossipMessage>,
    env: DriverEnv,
) -> Result<(DriverHandle, tokio::task::JoinHandle<Result<(), DriverError>>), DriverError> {
    let DriverEnv { clock, inline_sync_hazard } = env;
    crate::clock::with_clock(
        clock.clone(),
        start_task(config, key, ledger, network, inbound, clock, inline_sync_hazard),
    )
    .await
}

async fn start_task<N: GatewayPort>(
    config: DriverConfig,
    key: Keypair,
    ledger: Arc<dyn LedgerPort>,
    network: N,
    inbound: mpsc::Receiver<GossipMessage>,
    clock: Arc<dyn crate::clock::Clock>,
    inline_sync_hazard: bool,
) -> Result<(DriverHandle, tokio::task::JoinHandle<Result<(), DriverError>>), DriverError> {
    let tip: Tip = ledger.tip().await?.into();
    // Evidence recorded before a restart is served again (ListEvidence).
    let evidence: VecDeque<(Evidence, UnixMillis)> = match ledger.recorded_evidence(MAX_EVIDENCE as u32).await {
        Ok(records) => records.into(),
        Err(e) => {
            tracing::warn!(error = %e, "reading recorded evidence from the ledger failed; serving new evidence only");
            VecDeque::new()
        }
    };
    let lock_path = lock_state_path(&config.sign_state_path);
    let journal_path = tx_journal::journal_path(&config.sign_state_path);
    let own_votes_path = crate::own_votes::path(&config.sign_state_path);
    signing_checks::remove_stale_temp_files(&[&config.sign_state_path, &lock_path, &journal_path, &own_votes_path]);
    let me = key.public_key();
    let checked = signing_checks::check(
        &config.sign_state_path,
        &lock_path,
        &tip,
        me,
        &*ledger,
        config.unsafe_reset_signing_state,
        now_ms(),
    )
    .await?;
    if let Some(pause) = &checked.pause {
        tracing::warn!(reason = %pause.reason(), "signing paused");
    }
    let (journal, replay) = if config.tx_journal {
        let (journal, replay) = TxJournal::open(journal_path)?;
        if replay.discarded_bytes > 0 || replay.undecodable > 0 {
            tracing::warn!(
                discarded_bytes = replay.discarded_bytes,
                undecodable = replay.undecodable,
                "the transaction journal ended in a torn or damaged record (cut off; it was never acknowledged)"
            );
        }
        (Some(journal), replay.transactions)
    } else {
        (None, Vec::new())
    };
    let engine_key = Keypair::from_seed(&key.seed());
    let mut engine = new_engine(
        &config,
        engine_key,
        &tip,
        checked.sign_state.clone(),
        checked.lock.clone(),
        checked.pause.is_some(),
    );
    // This validator's signed votes of the current height, re-sent after a restart (liveness; see
    // own_votes). Not while paused: a paused validator sends nothing.
    if checked.pause.is_none() {
        let own_votes = engine.restore_own_votes(crate::own_votes::load(&own_votes_path));
        if own_votes > 0 {
            tracing::info!(votes = own_votes, "re-sending this validator's votes of the current height");
        }
    }
    let persisted = Persisted {
        sign: checked.sign_state.as_ref().map(|s| (s.height, s.round, s.step)),
        lock: checked.lock.as_ref().map(|l| (l.height, l.round)),
    };
    // The tip from the start, not zeros: the node logs and serves its status (height, hash)
    // before the driver task has handled its first input.
    let proposal_stats = Arc::new(ProposalStats::default());
    let (status_tx, status_rx) = watch::channel(DriverStatus {
        finalized_height: tip.height,
        finalized_hash: tip.hash,
        finalized_timestamp_ms: tip.timestamp_ms,
        height: tip.height.next(),
        signing_paused: checked.pause.as_ref().map(SigningPause::reason),
        journal: journal.as_ref().map(|j| j.stats().clone()),
        proposals: proposal_stats.clone(),
        ..DriverStatus::default()
    });
    let (commands, command_rx) = mpsc::channel(1024);
    let gossip_shed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let handle = DriverHandle {
        commands,
        admitting: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        status: status_rx,
        chain_id: config.engine.chain_id.clone(),
        schedule: config.schedule.clone(),
        local_validator: me,
        mempool_config: config.mempool.clone(),
        retry_after_secs: retry_after_secs(config.engine.block_time_ms),
        verifying: Arc::new(tokio::sync::Semaphore::new(VERIFYING_TRANSACTIONS)),
        gossip_shed: gossip_shed.clone(),
    };
    let driver = Driver {
        gossip_shed,
        mempool: Mempool::new(config.mempool.clone()),
        config,
        engine,
        me,
        ledger,
        sealed_blocks: VecDeque::new(),
        network: Arc::new(network),
        nonces: HashMap::new(),
        timers: BTreeSet::new(),
        evidence,
        status: status_tx,
        blocks_produced: 0,
        blocks_built: 0,
        last_build_seconds: 0.0,
        fill_stops: HashMap::new(),
        last_build_transactions: 0,
        build_seconds_per_tx: INITIAL_BUILD_SECONDS_PER_TX,
        dropped: HashMap::new(),
        syncing: false,
        tip,
        sync_results: VecDeque::new(),
        prefetch: None,
        synced: VecDeque::new(),
        persisted,
        key,
        durable_sign_state: checked.sign_state,
        durable_lock: checked.lock,
        pause: checked.pause,
        last_pause: None,
        persist_failures: 0,
        engine_generation: 0,
        journal,
        replay,
        inline_sync_hazard,
        consensus_inbox: VecDeque::new(),
        gossip_inbox: VecDeque::new(),
        gossip_queued: 0,
        turn: 0,
        rebuilds: VecDeque::new(),
        recent_full: VecDeque::new(),
        answered: HashMap::new(),
        last_published: None,
        proposal_stats,
    };
    let task = tokio::spawn(crate::clock::with_clock(clock, driver.run(inbound, command_rx)));
    Ok((handle, task))
}

impl<N: GatewayPort> Driver<N> {
    async fn run(
        mut self,
        mut inbound: mpsc::Receiver<GossipMessage>,
        mut commands: mpsc::Receiver<Command>,
    ) -> Result<(), DriverError> {
        self.replay_journal().await?;
        self.input(Input::Start).await?;
        let mut inbound_open = true;
        loop {
            // Everything that arrived, sorted into the queues (consensus first).
            while inbound_open {
                match inbound.try_recv() {
                    Ok(m) => self.sort_in(m),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => inbound_open = false,
                }
            }
            let retry = self.pause.as_ref().map(|p| p.retry_at_ms);
            let rebuild = self.rebuilds.iter().map(|r| r.retry_at_ms).filter(|at| *at < UnixMillis(i64::MAX)).min();
            let next_timer = [self.timers.first().map(|(at, _)| *at), retry, rebuild].into_iter().flatten().min();
            if next_timer.is_some_and(|at| at <= now_ms()) {
                self.on_timers().await?;
                continue;
            }
            if let Some(m) = self.consensus_inbox.pop_front() {
                self.on_message(m).await?;
                continue;
            }
            // Catch-up: the next sync answer, fetched while the last one was applied.
            if let Some(fetch) = self.prefetch.take_if(|f| f.task.is_finished()) {
                let from = fetch.from;
                let fetched = (&mut { fetch }.task).await;
                self.on_fetched(from, fetched).await?;
                continue;
            }
            // Then one intake item: a submission or a gossiped batch, in turn.
            let first = self.turn;
            self.turn = (self.turn + 1) % 2;
            let mut took = false;
            for k in 0..2 {
                if (first + k).is_multiple_of(2) {
                    match commands.try_recv() {
                        Ok(c) => self.on_command(c).await?,
                        Err(mpsc::error::TryRecvError::Empty) => continue,
                        Err(mpsc::error::TryRecvError::Disconnected) => return Ok(()),
                    }
                } else {
                    let Some(txs) = self.gossip_inbox.pop_front() else { continue };
                    self.gossip_queued = self.gossip_queued.saturating_sub(txs.len());
                    // A proposal may have started waiting for some of them since they were
                    // queued, and the mempool may have crossed its mark meanwhile.
                    self.take_gossiped(txs).await?;
                }
                took = true;
                break;
            }
            if took {
                continue;
            }
            if !inbound_open {
                return Ok(());
            }
            // Nothing to do: wait for a message, a command or the next timer (in that order of
            // preference when several are ready).
            let sleep = next_timer.map(|at| tokio::time::sleep(at.duration_since(now_ms())));
            let mut sleep = std::pin::pin!(sleep);
            let prefetch = &mut self.prefetch;
            let wake = std::future::poll_fn(|cx| {
                use std::task::Poll;
                if let Poll::Ready(m) = inbound.poll_recv(cx) {
                    return Poll::Ready(Wake::Message(m));
                }
                if let Some(fetch) = prefetch.as_mut()
                    && let Poll::Ready(fetched) = std::pin::Pin::new(&mut fetch.task).poll(cx)
                {
                    let from = fetch.from;
                    // Completed: dropping it aborts nothing.
                    *prefetch = None;
                    return Poll::Ready(Wake::Fetched(from, fetched));
                }
                if let Some(s) = sleep.as_mut().as_pin_mut()
                    && std::future::Future::poll(s, cx).is_ready()
                {
                    return Poll::Ready(Wake::Timer);
                }
                commands.poll_recv(cx).map(Wake::Command)
            })
            .await;
            match wake {
                Wake::Message(Some(m)) => self.sort_in(m),
                Wake::Message(None) => inbound_open = false,
                Wake::Command(Some(c)) => self.on_command(c).await?,
                Wake::Command(None) => return Ok(()),
                Wake::Timer => self.on_timers().await?,
                Wake::Fetched(from, fetched) => self.on_fetched(from, fetched).await?,
            }
        }
    }

    /// Due timers and a due signing retry.
    async fn on_timers(&mut self) -> Result<(), DriverError> {
        let now = now_ms();
        if self.pause.as_ref().is_some_and(|p| p.retry_at_ms <= now) {
            self.retry_signing().await?;
        }
        self.retry_rebuilds(now).await;
        while let Some((at, t)) = self.timers.first().copied() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            self.input(Input::Timeout(t)).await?;
        }
        Ok(())
    }

    /// A received message into its queue: consensus messages always; a gossiped batch only
    /// below the high-water mark and while the queue has room (else dropped and counted).
    fn sort_in(&mut self, message: GossipMessage) {
        let GossipMessage::Transactions(txs) = &message else {
            self.consensus_inbox.push_back(message);
            return;
        };
        // Transactions a proposal being rebuilt is waiting for (fetched, or gossip that raced the
        // proposal) are consensus work: handled first, and never dropped for backpressure.
        if self.rebuilds.iter().any(|r| txs.iter().any(|t| r.wants(&t.hash()))) {
            self.consensus_inbox.push_back(message);
            return;
        }
        let GossipMessage::Transactions(txs) = message else { return };
        let drop = if self.above_high_water() {
            Some("transactions_backpressure")
        } else if self.gossip_queued.saturating_add(txs.len()) > MAX_QUEUED_GOSSIP_TRANSACTIONS {
            Some("transactions_queue_full")
        } else {
            None
        };
        match drop {
            Some(reason) => self.count_drops(reason, txs.len()),
            None => {
                self.gossip_queued += txs.len();
                self.gossip_inbox.push_back(txs);
            }
        }
    }

    fn count_drop(&mut self, reason: &str) {
        self.count_drops(reason, 1);
    }

    fn count_drops(&mut self, reason: &str, n: usize) {
        *self.dropped.entry(reason.to_string()).or_default() += n as u64;
    }

    /// The mempool is at or above its high-water mark (backpressure).
    fn above_high_water(&self) -> bool {
        self.config.mempool.above_high_water(self.mempool.len(), self.mempool.bytes())
    }

    /// Gossiped transactions: first into any proposal being rebuilt, then admitted unless the
    /// mempool is at its high-water mark (then dropped and counted).
    async fn take_gossiped(&mut self, txs: Vec<SealedTransaction>) -> Result<(), DriverError> {
        self.fill_rebuilds(&txs).await?;
        if self.above_high_water() {
            self.count_drops("transactions_backpressure", txs.len());
            return Ok(());
        }
        self.submit(txs, false).await?;
        Ok(())
    }

    async fn on_message(&mut self, message: GossipMessage) -> Result<(), DriverError> {
        match message {
            GossipMessage::Proposal(p) => {
                let hash = p.block.hash();
                let rebuilding = self.rebuilds.len();
                self.rebuilds.retain(|r| r.block_hash != hash);
                if p.proposer != self.me {
                    let seconds = now_ms().millis_since(p.timestamp_ms).max(0) as f64 / 1000.0;
                    self.proposal_stats.record(ProposalSample::Received { compact: false, seconds, fetched: 0 });
                    if rebuilding != self.rebuilds.len() {
                        tracing::debug!(
                            height = p.height.get(),
                            round = p.round.get(),
                            "full proposal received while rebuilding it"
                        );
                    }
                }
                self.remember_full(&p);
                self.input(Input::Proposal(p)).await?;
            }
            GossipMessage::CompactProposal(c) => self.on_compact(c).await?,
            GossipMessage::TransactionRequest(r) => self.answer(r).await,
            GossipMessage::Vote(v) => self.input(Input::Vote(v)).await?,
            GossipMessage::FinalizedBlock { block, certificate } => {
                self.input(Input::DecidedBlock { block, certificate }).await?;
            }
            // Sealed when it was decoded: not encoded or hashed again here.
            GossipMessage::Transactions(txs) => self.take_gossiped(txs).await?,
        }
        Ok(())
    }

    async fn on_command(&mut self, command: Command) -> Result<(), DriverError> {
        match command {
            Command::Submit { txs, gossip, reply, span } => {
                // Queued before the mempool crossed its high-water mark: refused now.
                let (count, bytes) = (self.mempool.len(), self.mempool.bytes());
                if self.config.mempool.above_high_water(count, bytes) {
                    if let Some(reply) = reply {
                        let retry = retry_after_secs(self.config.engine.block_time_ms);
                        let _ = reply.send(Err(overloaded(&self.config.mempool, count, bytes, retry)));
                    }
                    self.publish_status();
                    return Ok(());
                }
                let span = tracing::info_span!(parent: &span, "admit transactions", txs = txs.len());
                let (results, admitted) = self.admit(txs, gossip).instrument(span).await?;
                if let Some(reply) = reply {
                    self.journal_then_reply(admitted, results, reply);
                }
            }
            Command::Evidence { reply } => {
                let _ = reply.send(self.evidence.iter().cloned().collect());
            }
        }
        self.publish_status();
        Ok(())
    }

    /// `block`, sealed: the one sealed here before (built or received: same hash, same
    /// transactions), else sealed now (each transaction encoded and hashed once) and kept.
    fn sealed(&mut self, block: &Block) -> SealedBlock {
        let hash = block.hash();
        if let Some(known) = self.sealed_blocks.iter().find(|s| s.hash() == hash && s.block() == block) {
            return known.clone();
        }
        let sealed = SealedBlock::seal(block.clone());
        self.remember_sealed(sealed.clone());
        sealed
    }

    fn remember_sealed(&mut self, block: SealedBlock) {
        if self.sealed_blocks.len() >= SEALED_BLOCKS_KEPT {
            self.sealed_blocks.pop_front();
        }
        self.sealed_blocks.push_back(block);
    }

    /// Keeps a full proposal to answer `full_block` requests with.
    fn remember_full(&mut self, proposal: &Proposal) {
        let hash = proposal.block.hash();
        if self.recent_full.iter().any(|p| p.round == proposal.round && p.block.hash() == hash) {
            return;
        }
        if self.recent_full.len() >= SEALED_BLOCKS_KEPT {
            self.recent_full.pop_front();
        }
        self.recent_full.push_back(proposal.clone());
    }

    /// A compact proposal: rebuilt from the mempool at once, or kept until what it misses
    /// arrives (see [`compact`]).
    async fn on_compact(&mut self, compact: CompactProposal) -> Result<(), DriverError> {
        let (height, round) = (compact.proposal.height, compact.proposal.round);
        // The engine would drop it anyway: not worth a request.
        if height < self.engine.height() || height > self.engine.height().saturating_add(1) {
            self.count_drop("compact_outside_window");
            return Ok(());
        }
        let hash = compact.proposal.block.hash();
        if self.rebuilds.iter().any(|r| r.block_hash == hash)
            || self.recent_full.iter().any(|p| p.block.hash() == hash && p.round == round)
        {
            return Ok(());
        }
        // A block known here already (a re-proposal in a later round, or a rebroadcast): whole.
        if let Some(known) = self.sealed_blocks.iter().find(|b| b.hash() == hash).cloned()
            && known.transaction_hashes() == compact.tx_hashes
        {
            let mut proposal = compact.proposal;
            proposal.block = known.block().clone();
            self.remember_full(&proposal);
            return self.input(Input::Proposal(proposal)).await;
        }
        let retry_at = now_ms().saturating_add_millis(compact::retry_ms(self.config.engine.timeout_propose_ms));
        let mempool = &self.mempool;
        let rebuild = match Rebuild::start(compact, |h| mempool.get(h).cloned(), retry_at) {
            Ok(r) => r,
            Err(compact::Refused::MerkleMismatch) => {
                // The engine never sees it: it prevotes nil when its propose timeout fires.
                tracing::info!(height = height.get(), round = round.get(), block = %hash, "compact proposal refused: its transaction hashes do not give the header's Merkle root");
                ProposalStats::count(&self.proposal_stats.merkle_mismatches);
                self.count_drop("compact_merkle_mismatch");
                return Ok(());
            }
        };
        if rebuild.is_complete() {
            return self.finish_rebuild(rebuild).await;
        }
        tracing::debug!(
            height = height.get(),
            round = round.get(),
            missing = rebuild.missing_count(),
            "compact proposal misses transactions; asking peers"
        );
        let request = rebuild.request(false);
        let engine_height = self.engine.height();
        self.rebuilds.retain(|r| r.proposal.height >= engine_height);
        if self.rebuilds.len() >= compact::MAX_REBUILDS {
            self.rebuilds.pop_front();
        }
        self.rebuilds.push_back(rebuild);
        ProposalStats::count(&self.proposal_stats.transaction_requests);
        self.broadcast(GossipMessage::TransactionRequest(request)).await;
        Ok(())
    }

    /// Hands a rebuilt proposal to the engine (its block sealed already).
    async fn finish_rebuild(&mut self, rebuild: Rebuild) -> Result<(), DriverError> {
        let fetched = rebuild.fetched;
        let Some((proposal, sealed)) = rebuild.finish() else { return Ok(()) };
        let seconds = now_ms().millis_since(proposal.timestamp_ms).max(0) as f64 / 1000.0;
        self.proposal_stats.record(ProposalSample::Received { compact: true, seconds, fetched });
        self.remember_sealed(sealed);
        self.remember_full(&proposal);
        self.input(Input::Proposal(proposal)).await
    }

    /// Transactions that arrived: those a rebuild misses fill it; complete ones go to the engine.
    async fn fill_rebuilds(&mut self, txs: &[SealedTransaction]) -> Result<(), DriverError> {
        if self.rebuilds.is_empty() {
            return Ok(());
        }
        for r in &mut self.rebuilds {
            for tx in txs {
                r.fill(tx);
            }
        }
        while let Some(i) = self.rebuilds.iter().position(Rebuild::is_complete) {
            if let Some(done) = self.rebuilds.remove(i) {
                self.finish_rebuild(done).await?;
            }
        }
        Ok(())
    }

    /// Rebuilds still incomplete when their wait is over ask for the full proposal (once).
    async fn retry_rebuilds(&mut self, now: UnixMillis) {
        let engine_height = self.engine.height();
        self.rebuilds.retain(|r| r.proposal.height >= engine_height);
        let mut requests = Vec::new();
        for r in &mut self.rebuilds {
            if r.retry_at_ms <= now {
                r.retry_at_ms = UnixMillis(i64::MAX);
                if !r.asked_full {
                    r.asked_full = true;
                    tracing::info!(
                        height = r.proposal.height.get(),
                        round = r.proposal.round.get(),
                        missing = r.missing_count(),
                        "compact proposal still incomplete; asking for the full proposal"
                    );
                    requests.push(r.request(true));
                }
            }
        }
        for request in requests {
            ProposalStats::count(&self.proposal_stats.full_block_requests);
            self.broadcast(GossipMessage::TransactionRequest(request)).await;
        }
    }

    /// Answers a peer's request with what this node holds (bounded: see [`compact`]).
    async fn answer(&mut self, request: TransactionRequest) {
        let key = (request.height, request.round);
        let engine_height = self.engine.height();
        self.answered.retain(|(h, _), _| h.saturating_add(1) >= engine_height);
        let count = self.answered.entry(key).or_default();
        if *count >= compact::MAX_ANSWERS {
            self.count_drop("transaction_request_over_limit");
            return;
        }
        *count += 1;
        let message = if request.full_block {
            match self.recent_full.iter().find(|p| p.block.hash() == request.block_hash && p.round == request.round) {
                Some(p) => GossipMessage::Proposal(p.clone()),
                None => return,
            }
        } else {
            let block = self.sealed_blocks.iter().find(|b| b.hash() == request.block_hash).cloned();
            let in_block: HashMap<Hash32, &SealedTransaction> =
                block.as_ref().map(|b| b.transactions().iter().map(|t| (t.hash(), t)).collect()).unwrap_or_default();
            let mut bytes = 0;
            let mut found = Vec::new();
            for h in &request.tx_hashes {
                let Some(tx) = self.mempool.get(h).or_else(|| in_block.get(h).copied()) else { continue };
                bytes += tx.encoded_len();
                if bytes > compact::MAX_ANSWER_BYTES {
                    break;
                }
                found.push(tx.clone());
            }
            if found.is_empty() {
                return;
            }
            GossipMessage::Transactions(found)
        };
        ProposalStats::count(&self.proposal_stats.answers);
        self.broadcast(message).await;
    }

    async fn nonce_of(&mut self, sender: PublicKey) -> Result<u64, DriverError> {
        if let Some(n) = self.nonces.get(&sender) {
            return Ok(*n);
        }
        let n = self.ledger.account(&sender).await?.nonce;
        self.nonces.insert(sender, n);
        Ok(n)
    }

    /// [`Self::admit`], for transactions that need no journal (gossip).
    async fn submit(&mut self, txs: Vec<SealedTransaction>, gossip: bool) -> Result<Vec<SubmitResult>, DriverError> {
        Ok(self.admit(txs, gossip).await?.0)
    }

    /// Admission: ledger check in one batch, then the mempool. A nonce ahead of the account
    /// nonce is admitted when the gap is filled by pending transactions of the same sender.
    /// Returns each one's result and the admitted ones.
    async fn admit(
        &mut self,
        txs: Vec<SealedTransaction>,
        gossip: bool,
    ) -> Result<(Vec<SubmitResult>, Vec<SealedTransaction>), DriverError> {
        if txs.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let verdicts = self
            .ledger
            .check_transactions(&txs)
            .instrument(tracing::info_span!("check transactions", txs = txs.len()))
            .await?
            .results;
        if verdicts.len() != txs.len() {
            return Err(DriverError::LedgerAnswer(format!(
                "CheckTransactions answered {} verdicts for {} transactions",
                verdicts.len(),
                txs.len()
            )));
        }
        let mut results = Vec::with_capacity(txs.len());
        let mut admitted = Vec::new();
        for (tx, checked) in txs.into_iter().zip(verdicts) {
            let verdict = checked.verdict;
            // Sealed: computed once, when the transaction was sealed.
            let hash = tx.hash();
            let outcome = match verdict {
                Err(r) if r.reason == RejectReason::NonceTooHigh => {
                    let base = self.nonce_of(tx.from).await?;
                    let pending_up_to = (base..tx.nonce).all(|n| self.mempool_has(tx.from, n));
                    if pending_up_to { Ok(()) } else { Err(r) }
                }
                other => other,
            };
            let refuse = |reason, message: String| Err(Rejection::new(reason, message));
            let outcome = match outcome.and_then(|()| self.fits_a_block(&tx)) {
                Ok(()) => match self.mempool.add(tx.clone(), tx.encoded_len()) {
                    Ok(()) => {
                        admitted.push(tx);
                        Ok(())
                    }
                    Err(MempoolError::Duplicate(_)) => refuse(RejectReason::Duplicate, "already pending".into()),
                    Err(e @ MempoolError::NonceTaken { .. }) => refuse(RejectReason::Duplicate, e.to_string()),
                    Err(e @ MempoolError::FeeBelowSizeMinimum { .. }) => refuse(RejectReason::FeeTooLow, e.to_string()),
                    Err(e) => refuse(RejectReason::MempoolFull, e.to_string()),
                },
                Err(e) => Err(e),
            };
            results.push(SubmitResult { tx_hash: hash, outcome });
        }
        if gossip && !admitted.is_empty() {
            let message = GossipMessage::Transactions(admitted.clone());
            let span = tracing::info_span!("gossip transactions", txs = admitted.len());
            if let Err(e) = self.network.publish(&message).instrument(span).await {
                tracing::warn!(error = %e, "gossiping transactions failed");
            }
        }
        Ok((results, admitted))
    }

    /// A transaction no block of this chain could hold (its `gas_limit` above `max_block_gas`,
    /// or too large for `max_block_bytes`) is refused at admission: in the mempool it would
    /// wait forever, holding back its sender's later nonces.
    fn fits_a_block(&self, tx: &SealedTransaction) -> Result<(), Rejection> {
        let chain = self.config.block_limits;
        if tx.gas_limit > chain.max_gas {
            return Err(Rejection::new(
                RejectReason::Malformed,
                format!(
                    "gas_limit {} is more than the chain's max_block_gas {}: no block can hold it",
                    tx.gas_limit, chain.max_gas
                ),
            ));
        }
        let room = usize::try_from(chain.max_bytes).unwrap_or(usize::MAX).saturating_sub(BLOCK_ENVELOPE_BYTES);
        if tx.encoded_len() > room {
            return Err(Rejection::new(
                RejectReason::Malformed,
                format!(
                    "the transaction's {} bytes do not fit the chain's max_block_bytes {}: no block can hold it",
                    tx.encoded_len(),
                    chain.max_bytes
                ),
            ));
        }
        Ok(())
    }

    fn mempool_has(&self, sender: PublicKey, nonce: u64) -> bool {
        // The mempool is keyed by hash; look the (sender, nonce) up through selection order.
        self.mempool.has_nonce(&sender, nonce)
    }

    async fn input(&mut self, input: Input) -> Result<(), DriverError> {
        let generation = self.engine_generation;
        let mut queue: VecDeque<Input> = VecDeque::from([input]);
        'inputs: while let Some(input) = queue.pop_front() {
            let actions = self.engine.handle(now_ms(), input);
            for action in actions {
                match self.act(action).await {
                    Ok(Some(next)) => queue.push_back(next),
                    Ok(None) => {}
                    // Not persisted: the message it was for (next in `actions`) must not
                    // leave. Drop the rest and stop signing until the disk takes writes again.
                    Err(e @ (DriverError::SignStateWrite { .. } | DriverError::LockStateWrite { .. })) => {
                        self.pause_signing(e.to_string()).await?;
                        break 'inputs;
                    }
                    Err(e) => return Err(e),
                }
                if self.engine_generation != generation {
                    // The engine was replaced (a nested input paused signing): the old one's
                    // remaining actions are void.
                    break 'inputs;
                }
            }
            queue.extend(self.sync_results.drain(..));
        }
        self.publish_status();
        Ok(())
    }

    async fn broadcast(&self, message: GossipMessage) {
        if let Err(e) = self.network.publish(&message).await {
            tracing::warn!(error = %e, "publishing a consensus message failed");
        }
    }

    /// Carries out one action; returns an input to feed back (answers to engine requests).
    async fn act(&mut self, action: Action) -> Result<Option<Input>, DriverError> {
        match action {
            Action::PersistSignState(state) => {
                // Never backwards (the engine's signing state only moves forward; this guards
                // the order in which the driver carries its actions out).
                let position = (state.height, state.round, state.step);
                if self.persisted.sign.is_some_and(|p| p > position) && !self.inline_sync_hazard {
                    tracing::error!(?position, newer = ?self.persisted.sign, "refusing to move the signing state back");
                } else {
                    store_sign_state(&self.config.sign_state_path, &state)?;
                    self.persisted.sign = Some(position);
                    self.durable_sign_state = Some(state);
                }
            }
            // A paused engine still locks (it follows the rounds) but never signs the precommit
            // the lock is for: nothing to persist, and no file to write on a failing disk.
            Action::PersistLock(_) if self.pause.is_some() => {}
            Action::PersistLock(lock)
                if self.persisted.lock.is_some_and(|p| p > (lock.height, lock.round)) && !self.inline_sync_hazard =>
            {
                tracing::error!(height = lock.height.get(), round = lock.round.get(), newer = ?self.persisted.lock, "refusing to move the lock back");
            }
            Action::PersistLock(lock) => {
                let started = std::time::Instant::now();
                // The locked block is one this validator validated: sealed already.
                let block = self.sealed(&lock.block).encode();
                store_lock_file(&lock_state_path(&self.config.sign_state_path), &lock.to_file_bytes_with(&block))?;
                self.persisted.lock = Some((lock.height, lock.round));
                tracing::debug!(height = lock.height.get(), round = lock.round.get(), elapsed = ?started.elapsed(), "lock persisted");
                self.durable_lock = Some(*lock);
            }
            Action::PersistOwnVotes(votes) => {
                // Liveness only (see own_votes): a failed write is logged, not fatal.
                let path = crate::own_votes::path(&self.config.sign_state_path);
                if let Err(e) = crate::own_votes::store(&path, &votes) {
                    tracing::warn!(file = %path.display(), error = %e, "persisting own votes failed");
                }
            }
            Action::Broadcast(Message::Proposal(p)) => {
                let span = tracing::info_span!("gossip proposal", height = p.height.get(), round = p.round.get());
                let sealed = self.sealed(&p.block);
                let block_bytes = sealed.transactions().iter().map(SealedTransaction::encoded_len).sum();
                self.remember_full(&p);
                let compact = self.config.compact_proposals;
                let message = if compact {
                    GossipMessage::CompactProposal(CompactProposal::of(&p, sealed.transaction_hashes()))
                } else {
                    GossipMessage::Proposal(p.clone())
                };
                if self.last_published != Some((p.height, p.round)) {
                    self.last_published = Some((p.height, p.round));
                    let bytes = coinjecture_proto::ports::gateway::gossip_encoded_len(&message);
                    self.proposal_stats.record(ProposalSample::Published { compact, bytes, block_bytes });
                }
                self.broadcast(message).instrument(span).await;
            }
            Action::Broadcast(Message::Vote(v)) => {
                self.broadcast(GossipMessage::Vote(v)).await;
            }
            Action::ScheduleTimeout { at_ms, timeout } => {
                self.timers.insert((at_ms, timeout));
            }
            // The ledger is past this height already (a sync answer applied in one batch, see
            // `take_synced`), and its certified block is queued for the engine: a block built
            // or validated for it now would be void (and would not fit the ledger's tip).
            Action::BuildBlock { height, .. } if self.is_synced(height) => {}
            Action::ValidateBlock(block) if self.is_synced(block.header.block_index) => {}
            Action::BuildBlock { height, round, min_timestamp_ms } => {
                let started = std::time::Instant::now();
                let span = tracing::info_span!("propose block", height = height.get(), round = round.get());
                let block = self.build_block(height, round, min_timestamp_ms).instrument(span).await?;
                self.blocks_built += 1;
                self.last_build_seconds = started.elapsed().as_secs_f64();
                return Ok(Some(Input::BlockBuilt { height, round, block }));
            }
            Action::ValidateBlock(block) => {
                let hash = block.hash();
                let span = tracing::info_span!("validate block", height = block.header.block_index.get());
                let sealed = self.sealed(&block);
                let valid = match self.ledger.execute_block(&sealed, false).instrument(span).await {
                    Ok(e) => {
                        if let Some(rejection) = &e.rejection {
                            tracing::info!(block = %hash, reason = %rejection.message, "proposed block rejected");
                        }
                        e.is_valid()
                    }
                    // The ledger refuses a block that does not fit its tip (wrong parent) or
                    // does not decode: the proposer's fault, an invalid block, not a reason for
                    // this validator to stop.
                    Err(e @ (LedgerPortError::FailedPrecondition(_) | LedgerPortError::InvalidArgument(_))) => {
                        tracing::info!(block = %hash, reason = %e, "proposed block refused by the ledger");
                        false
                    }
                    Err(e) => return Err(DriverError::Ledger(e)),
                };
                return Ok(Some(Input::BlockValidity { block_hash: hash, valid }));
            }
            Action::Commit { block, certificate } => {
                let span = tracing::info_span!(
                    "apply block",
                    height = block.header.block_index.get(),
                    txs = block.transactions.len()
                );
                self.commit(block, certificate).instrument(span).await?;
            }
            Action::RequestSync { from_height } if !self.inline_sync_hazard => {
                self.syncing = true;
                let fetched = match self.prefetch.take() {
                    // Fetched (or being fetched) already, while the last answer was applied.
                    Some(fetch) if fetch.from == from_height => (&mut { fetch }.task).await.unwrap_or_else(|e| {
                        Err(coinjecture_proto::ports::gateway::GatewayError::Unavailable(e.to_string()))
                    }),
                    // Another range: dropped (aborted).
                    _ => fetch_synced(Arc::clone(&self.network), from_height, SYNC_BATCH).await,
                };
                match fetched {
                    Ok(blocks) => self.take_synced(from_height, blocks).await?,
                    Err(e) => tracing::debug!(error = %e, from_height = from_height.get(), "sync request failed"),
                }
            }
            Action::RequestSync { from_height } => {
                self.syncing = true;
                match self.network.request_blocks(from_height, SYNC_BATCH).await {
                    // The driver before issue #19 item 5's fix (tests only, see DriverEnv).
                    Ok(blocks) if self.inline_sync_hazard => {
                        for (block, certificate) in blocks {
                            let actions = self.engine.handle(now_ms(), Input::DecidedBlock { block, certificate });
                            for a in actions {
                                if let Some(next) = Box::pin(self.act(a)).await? {
                                    Box::pin(self.input(next)).await?;
                                }
                            }
                        }
                    }
                    // Fed in order as inputs after the rest of this batch (the engine buffers
                    // and checks certificates). Not here: committing them would move the engine
                    // on, and the batch's remaining (older) persist actions would then be
                    // carried out after newer ones.
                    Ok(blocks) => self.sync_results.extend(
                        blocks.into_iter().map(|(block, certificate)| Input::DecidedBlock { block, certificate }),
                    ),
                    Err(e) => tracing::debug!(error = %e, from_height = from_height.get(), "sync request failed"),
                }
            }
            Action::BroadcastDecided { height } => {
                if let Ok(Some((block, certificate))) = finalized(&*self.ledger, height).await {
                    self.broadcast(GossipMessage::FinalizedBlock { block, certificate }).await;
                }
            }
            Action::Evidence(e) => {
                let e = *e;
                let ((height, round), validator) = (e.position(), e.offender());
                let kind = if matches!(e, Evidence::DuplicateVote { .. }) { "vote" } else { "proposal" };
                tracing::warn!(%validator, height = height.get(), round = round.get(), kind, "equivocation detected");
                // Seen again after a restart: recorded already.
                if self.evidence.iter().any(|(known, _)| *known == e) {
                    return Ok(None);
                }
                let at = now_ms();
                if let Err(status) = self.ledger.record_evidence(&e, at).await {
                    tracing::warn!(error = %status, "recording evidence in the ledger failed; kept in memory only");
                }
                if self.evidence.len() >= MAX_EVIDENCE {
                    self.evidence.pop_front();
                }
                self.evidence.push_back((e, at));
            }
            Action::Dropped(reason) => {
                let name = drop_name(reason);
                tracing::debug!(reason = name, "consensus input dropped");
                self.count_drop(name);
            }
        }
        Ok(None)
    }

    async fn build_block(
        &mut self,
        height: Height,
        round: Round,
        min_timestamp_ms: UnixMillis,
    ) -> Result<Block, DriverError> {
        // tokio's clock: real in a node, virtual (deterministic) in the driver simulation.
        let started = tokio::time::Instant::now();
        let budget = self.config.proposal_budget;
        // Nonces first (one ledger read per sender not yet known), within half the budget: a
        // sender left out waits for the next block.
        let senders: Vec<PublicKey> = self.mempool.senders().copied().collect();
        let mut nonces_cut = false;
        for s in senders {
            if !self.nonces.contains_key(&s) && started.elapsed() >= budget / 2 {
                nonces_cut = true;
                break;
            }
            self.nonce_of(s).await?;
        }
        // What the rest of the budget pays for, at the learned cost per transaction.
        let left = budget.saturating_sub(started.elapsed()).as_secs_f64();
        // At least one, so the chain moves whatever the budget.
        let by_time =
            (left / self.build_seconds_per_tx.max(1e-9)).clamp(1.0, limits::MAX_BLOCK_TRANSACTIONS as f64) as usize;
        let by_count = self.config.max_block_transactions.min(limits::MAX_BLOCK_TRANSACTIONS);
        let chain = self.config.block_limits;
        let select = SelectLimits {
            max_transactions: by_count.min(by_time),
            max_bytes: usize::try_from(chain.max_bytes).unwrap_or(usize::MAX).saturating_sub(BLOCK_ENVELOPE_BYTES),
            max_gas: chain.max_gas,
        };
        let (mut txs, mut stop) = {
            let nonces = &self.nonces;
            self.mempool.select(&select, |k| nonces.get(k).copied())
        };
        if (stop == FillStop::Transactions && by_time < by_count) || (stop == FillStop::Empty && nonces_cut) {
            stop = FillStop::Time;
        }
        *self.fill_stops.entry(stop.as_str()).or_default() += 1;
        self.last_build_transactions = txs.len();
        if stop == FillStop::Time {
            tracing::info!(
                height = height.get(),
                txs = txs.len(),
                budget_ms = budget.as_millis() as u64,
                per_tx_us = self.build_seconds_per_tx * 1e6,
                "the proposal's time budget, not a block limit, ended this block"
            );
        } else {
            tracing::debug!(height = height.get(), txs = txs.len(), stop = stop.as_str(), "block filled");
        }
        if txs.is_empty() {
            tracing::warn!(network = %self.config.network_label, block_number = height.get(), "No transactions in mempool");
        }
        let timestamp_ms = now_ms().max(min_timestamp_ms);
        let mut header = BlockHeader {
            codec_version: 1,
            block_index: height,
            timestamp: timestamp_ms.whole_secs(),
            parent_hash: self.tip.hash,
            merkle_root: Hash32::ZERO,
            miner_address: self.me,
            commitment: Hash32::ZERO,
            difficulty_target: 0,
            nonce: 0,
            extra_data: Vec::new(),
        };
        let extra = |state_commitment: Hash32| PoaExtra {
            round,
            timestamp_millis: timestamp_ms.secs_and_millis().1,
            state_commitment,
            chain_id: None,
        };
        // Draft execution computes the Merkle root and state commitment; transactions the
        // ledger rejects (e.g. balance spent by an earlier one) leave the block and the mempool.
        for _ in 0..3 {
            header.extra_data = extra(Hash32::ZERO).encode();
            let draft = SealedBlock::from_sealed(header.clone(), txs.clone());
            let executing = tokio::time::Instant::now();
            let e = self.ledger.execute_block(&draft, true).await?;
            self.learn_build_cost(txs.len(), executing.elapsed());
            let rejected = e.rejected();
            if rejected.is_empty() {
                if let (Some(root), Some(state)) = (e.merkle_root, e.state_commitment) {
                    header.merkle_root = root;
                    header.extra_data = extra(state).encode();
                    tracing::debug!(
                        height = height.get(),
                        txs = txs.len(),
                        ms = started.elapsed().as_millis() as u64,
                        "block built"
                    );
                    // Sealed from the mempool's sealed transactions: validating, locking and
                    // committing it encodes and hashes nothing again.
                    let built = SealedBlock::from_sealed(header, txs);
                    self.remember_sealed(built.clone());
                    return Ok(built.block().clone());
                }
                break;
            }
            let message = e.rejection.as_ref().map(|r| r.message.clone()).unwrap_or_default();
            let bad: Vec<Hash32> = rejected.iter().filter_map(|i| txs.get(*i)).map(SealedTransaction::hash).collect();
            // Rare (admission checked them against an earlier tip), and a dropped transaction
            // is gone from this validator: say which and why.
            tracing::warn!(
                height = height.get(),
                dropped = bad.len(),
                first = %bad.first().map(ToString::to_string).unwrap_or_default(),
                reason = %message,
                "transactions the ledger rejected leave the proposal and the mempool"
            );
            self.mempool.remove_committed(&bad);
            let keep: Vec<SealedTransaction> =
                txs.into_iter().enumerate().filter(|(i, _)| !rejected.contains(i)).map(|(_, t)| t).collect();
            txs = keep;
        }
        // Fall back to an empty block (always valid) rather than miss the slot.
        let empty = SealedBlock::from_sealed(header.clone(), Vec::new());
        let e = self.ledger.execute_block(&empty, true).await?;
        header.merkle_root = e.merkle_root.unwrap_or(Hash32::ZERO);
        header.extra_data = extra(e.state_commitment.unwrap_or(Hash32::ZERO)).encode();
        Ok(Block { header, transactions: Vec::new() })
    }

    /// Updates [`Self::build_seconds_per_tx`] from one draft execution of `count` transactions
    /// (blocks too small to say much are not counted).
    fn learn_build_cost(&mut self, count: usize, took: Duration) {
        if count < MIN_TRANSACTIONS_TO_LEARN {
            return;
        }
        let sample = took.as_secs_f64() / count as f64;
        self.build_seconds_per_tx = 0.5 * self.build_seconds_per_tx + 0.5 * sample;
    }

    async fn commit(&mut self, block: Block, certificate: CommitCertificate) -> Result<(), DriverError> {
        let height = block.header.block_index;
        while self.synced.front().is_some_and(|(h, _)| *h < height) {
            self.synced.pop_front();
        }
        if self.synced.front() == Some(&(height, block.hash())) {
            // Applied by the ledger in a batch already (`take_synced`): the same block.
            self.synced.pop_front();
        } else {
            let sealed = self.sealed(&block);
            self.ledger.apply_block(&sealed, &certificate).await?;
        }
        let block = &block;
        // The block's transactions leave the mempool by nonce (the prune below: each used its
        // sender's nonce), so none is hashed again here.
        for tx in &block.transactions {
            let next = tx.nonce.saturating_add(1);
            let n = self.nonces.entry(tx.from).or_insert(next);
            *n = (*n).max(next);
        }
        let nonces = &self.nonces;
        self.mempool.prune(|k| nonces.get(k).copied().unwrap_or(0));
        self.nonces.retain(|k, _| self.mempool.has_sender(k));
        self.tip = Tip { height, hash: block.hash(), timestamp_ms: block.header.timestamp_ms() };
        self.syncing = false;
        if let Some(journal) = &self.journal
            && journal.wants_compaction()
        {
            journal.compact(self.mempool.hashes().copied().collect());
        }
        let proposer = block.header.miner_address;
        if proposer == self.me {
            self.blocks_produced += 1;
            tracing::info!(
                network = %self.config.network_label,
                block_number = height.get(),
                tx_count = block.transactions.len(),
                block_hash = %self.tip.hash,
                "New block produced"
            );
        } else {
            tracing::info!(
                network = %self.config.network_label,
                block_number = height.get(),
                tx_count = block.transactions.len(),
                validator = %proposer,
                "Block accepted"
            );
        }
        Ok(())
    }

    /// True when the ledger applied the block of `height` from a sync answer and the engine
    /// has not committed it yet.
    fn is_synced(&self, height: Height) -> bool {
        self.synced.iter().any(|(h, _)| *h == height)
    }

    /// A sync answer for `from..`: starts fetching the next range when this one is full, has
    /// the ledger apply the blocks that follow its tip in one batched call (several blocks per
    /// SQLite transaction, see `LedgerPort::apply_blocks`; each still checked in full, its
    /// certificate included), then queues them all for the engine, which verifies their
    /// certificates, commits them in order and moves on (their commits only update the
    /// driver's state: see [`Self::commit`]).
    async fn take_synced(
        &mut self,
        from: Height,
        blocks: Vec<(SealedBlock, CommitCertificate)>,
    ) -> Result<(), DriverError> {
        if blocks.len() == SYNC_BATCH as usize {
            let next = from.saturating_add(u64::from(SYNC_BATCH));
            let task = tokio::spawn(fetch_synced(Arc::clone(&self.network), next, SYNC_BATCH));
            self.prefetch = Some(SyncFetch { from: next, task });
        }
        // The consecutive run after the tip (a peer answers from `from`, in order).
        let start = blocks.iter().position(|(b, _)| b.header().block_index == self.tip.height.next());
        if let Some(start) = start {
            let len = blocks[start..]
                .iter()
                .enumerate()
                .take_while(|(i, (b, _))| b.header().block_index == self.tip.height.saturating_add(1 + *i as u64))
                .count();
            let run = &blocks[start..start + len];
            let started = std::time::Instant::now();
            let applied = match self.ledger.apply_blocks(run).await {
                Ok(tip) => tip.height,
                // A block refused (a peer's forgery, or not final): those before it are applied;
                // the engine drops the rest when their certificate fails, as for any answer.
                Err(e) => {
                    tracing::warn!(error = %e, from = from.get(), "a synced block was refused by the ledger");
                    self.ledger.tip().await?.height
                }
            };
            let count = run.iter().filter(|(b, _)| b.header().block_index <= applied).count();
            let txs: usize = run.iter().take(count).map(|(b, _)| b.transactions().len()).sum();
            tracing::debug!(
                from = self.tip.height.next().get(),
                to = applied.get(),
                blocks = count,
                txs,
                elapsed = ?started.elapsed(),
                "synced blocks applied"
            );
            self.synced.extend(run.iter().take(count).map(|(b, _)| (b.header().block_index, b.hash())));
        }
        // The sealed encodings are freed here; the engine gets the blocks (moved, not copied).
        self.sync_results.extend(
            blocks
                .into_iter()
                .map(|(block, certificate)| Input::DecidedBlock { block: block.into_block(), certificate }),
        );
        Ok(())
    }

    /// The read-ahead's answer arrived ([`SyncFetch`]): applied and fed to the engine now.
    async fn on_fetched(
        &mut self,
        from: Height,
        fetched: Result<SyncedBlocks, tokio::task::JoinError>,
    ) -> Result<(), DriverError> {
        let blocks = match fetched {
            Ok(Ok(blocks)) => blocks,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, from_height = from.get(), "sync read-ahead failed");
                return Ok(());
            }
            Err(_) => return Ok(()),
        };
        // Stale (the chain moved past it by gossip) or too far ahead: the engine's own sync
        // requests take over.
        if blocks.is_empty() || from > self.tip.height.next() {
            return Ok(());
        }
        self.syncing = true;
        self.take_synced(from, blocks).await?;
        match self.sync_results.pop_front() {
            Some(first) => self.input(first).await,
            None => Ok(()),
        }
    }

    fn publish_status(&self) {
        let set = self.engine.validator_set();
        let status = DriverStatus {
            finalized_height: self.tip.height,
            finalized_hash: self.tip.hash,
            finalized_timestamp_ms: self.tip.timestamp_ms,
            height: self.engine.height(),
            round: self.engine.round(),
            step: Some(self.engine.step()),
            proposer: Some(set.proposer(self.engine.height(), self.engine.round())),
            mempool_size: self.mempool.len(),
            mempool_bytes: self.mempool.bytes(),
            mempool_senders: self.mempool.senders().count(),
            syncing: self.syncing,
            blocks_produced: self.blocks_produced,
            blocks_built: self.blocks_built,
            last_build_seconds: self.last_build_seconds,
            fill_stops: self.fill_stops.clone(),
            last_build_transactions: self.last_build_transactions,
            dropped: {
                let mut dropped = self.dropped.clone();
                let shed = self.gossip_shed.load(std::sync::atomic::Ordering::Relaxed);
                if shed > 0 {
                    dropped.insert("transaction_batches_shed".to_string(), shed);
                }
                dropped
            },
            signing_paused: self.pause.as_ref().map(SigningPause::reason),
            persist_failures: self.persist_failures,
            journal: self.journal.as_ref().map(|j| j.stats().clone()),
            proposals: self.proposal_stats.clone(),
        };
        self.status.send_replace(status);
    }
}

fn drop_name(reason: DropReason) -> &'static str {
    match reason {
        DropReason::WrongChain => "wrong_chain",
        DropReason::OldHeight => "old_height",
        DropReason::FutureHeightBufferFull => "future_height",
        DropReason::RoundTooFarAhead => "round_too_far_ahead",
        DropReason::NotAValidator => "not_a_validator",
        DropReason::WrongProposer => "wrong_proposer",
        DropReason::BadSignature => "bad_signature",
        DropReason::BlockMismatch => "block_mismatch",
        DropReason::Duplicate => "duplicate",
        DropReason::Equivocation => "equivocation",
        DropReason::BadCertificate => "bad_certificate",
    }
}

/// Bytes of a block's encoding besides its transactions' (the map, keys, array header and a
/// header with the largest `extra_data`), kept free under `max_block_bytes` when filling.
pub const BLOCK_ENVELOPE_BYTES: usize = 1024;

/// The draft execution's cost per transaction assumed before this node has measured its own
/// (20 µs: a 2 s block's default 500 ms budget then takes 25,000).
pub const INITIAL_BUILD_SECONDS_PER_TX: f64 = 20e-6;

/// Builds with fewer transactions do not update the learned cost per transaction.
const MIN_TRANSACTIONS_TO_LEARN: usize = 100;

/// Default `consensus.proposal_budget`: a quarter of the block time. A block is due one block
/// time after its parent and its timestamp is taken when filling ends, so the budget, the
/// validators' execution of the block and the two vote rounds must fit in one block time.
pub fn default_proposal_budget(block_time: Duration) -> Duration {
    block_time / 4
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use super::*;

    #[test]
    fn a_missing_lock_is_none_and_a_damaged_one_stops_the_start_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_state_path(&dir.path().join("validator-1.sign_state"));
        assert_eq!(path, dir.path().join("validator-1.lock_state"));
        assert!(load_lock_state(&path).unwrap().is_none());
        std::fs::write(&path, b"\x01garbage").unwrap();
        let err = load_lock_state(&path).unwrap_err().to_string();
        assert!(err.contains("validator-1.lock_state") && err.contains("reading the lock"), "{err}");
    }
}
