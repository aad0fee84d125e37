//! [`Ledger`]: the store, the crypto backend and the chain rules together. Every public method
//! is what one Ledger RPC does, in Rust types.

mod evidence;
mod prune;
mod snapshot;
pub(crate) use evidence::MAX_EVIDENCE_BYTES;
pub use prune::{MIN_KEEP_BLOCKS, PRUNE_BATCH_TRANSACTIONS};

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use coinjecture_primitives::RejectReason as TxRejectReason;
use coinjecture_primitives::validators::ValidatorSchedule;
use coinjecture_primitives::{
    Block, BlockLimits, ChainId, CommitCertificate, Hash32, Height, PoaExtra, PublicKey, SealedBlock,
    SealedTransaction, Transaction, limits,
};
use coinjecture_proto::convert;
use coinjecture_proto::ports::crypto::{CryptoError, CryptoPort};
use coinjecture_proto::ports::ledger::BlockRejectReason;
pub use coinjecture_proto::ports::ledger::BlockRejection;
use coinjecture_proto::v1 as pb;
use sqlx::SqliteConnection;

use crate::cache::{AccountCache, AccountView, DEFAULT_CAPACITY, DEFAULT_VERIFIED, RecentHashes};
use crate::error::{InvalidBlockError, LedgerError, StoredCertificateError};
use crate::execute::{BatchAccounts, TxRejection, TxVerdict, run_batch};
use crate::genesis::GenesisConfig;
use crate::state::{AccountState, next_state_commitment};
use crate::store::{
    AccountRow, BlockWrite, ERA_TRANSACTIONS, HeaderExtras, INDEX_BITS, IndexedTransaction, Store, StoredBlock,
    StoredHeader, Tip, hash_key, position,
};
use coinjecture_primitives::VerifiedSignatures;

/// Most transactions one history page returns.
pub const MAX_HISTORY_PAGE: u32 = 1_000;
/// History page size when the caller asks for 0.
pub const DEFAULT_HISTORY_PAGE: u32 = 100;
/// How many valid executions ExecuteBlock remembers, so that ApplyBlock of the same block on the
/// same tip (consensus: ExecuteBlock before voting, ApplyBlock once it is final) writes the
/// remembered result instead of verifying and executing the block again.
const EXECUTIONS_REMEMBERED: usize = 4;

/// The account journal is folded into `accounts` once it holds this many account rows (about
/// 57 MiB of journal and a few seconds of replay at open) ...
const FOLD_JOURNAL_ROWS: usize = 1_000_000;
/// ... or this many blocks, whichever comes first (a chain of small blocks still folds).
const FOLD_JOURNAL_BLOCKS: usize = 256;

const META_CHAIN_ID: &str = "chain_id";
const META_GENESIS_HASH: &str = "genesis_hash";
const META_CREATED_BY: &str = "created_by";

/// The outcome of executing a block on the tip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockExecution {
    /// `None` when the block is valid.
    pub rejection: Option<BlockRejection>,
    /// The state commitment after the block; `None` when execution stopped early or a
    /// transaction failed.
    pub state_commitment: Option<Hash32>,
    /// The Merkle root of the transaction hashes; `None` when execution stopped before hashing.
    pub merkle_root: Option<Hash32>,
    /// One verdict per transaction, in block order (empty when execution stopped before).
    pub verdicts: Vec<TxVerdict>,
    changes: Vec<(PublicKey, AccountState)>,
    /// The accounts the block touches and each transaction's slots among them.
    batch: BatchAccounts,
    /// The account rows execution started from, in `batch.accounts` order (for ApplyBlock's
    /// history links).
    loaded: Vec<(PublicKey, AccountRow)>,
}

impl BlockExecution {
    /// True when the block would apply on the tip.
    pub fn is_valid(&self) -> bool {
        self.rejection.is_none()
    }

    fn rejected(reason: BlockRejectReason, message: impl Into<String>) -> Self {
        Self {
            rejection: Some(BlockRejection { reason, message: message.into() }),
            state_commitment: None,
            merkle_root: None,
            verdicts: Vec::new(),
            changes: Vec::new(),
            batch: BatchAccounts::default(),
            loaded: Vec::new(),
        }
    }
}

/// The result of [`Ledger::check_transactions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTransactions {
    /// One verdict per transaction, in request order.
    pub verdicts: Vec<TxVerdict>,
    /// The tip height the transactions were checked against.
    pub height: Height,
}

/// Whether ApplyBlock verifies transaction signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Verify them through crypto-core (skipped only when this ledger's ExecuteBlock verified
    /// this exact block recently).
    Verify,
    /// The caller has verified them (consensus after ExecuteBlock, benchmarks). Everything else
    /// is still checked: heights, parent, header, Merkle root, nonces, balances, commitment.
    AlreadyVerified,
}

pub use coinjecture_proto::ports::ledger::{Applied, ChainInfo, MAX_BLOCK_RANGE};

/// The ledger's settings beyond its genesis and validators (config: `ledger.assume_valid_height`,
/// `ledger.keep_blocks`). The default verifies every signature and keeps every block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerOptions {
    /// Assume-valid, for fast catch-up: ApplyBlock of a certified block at a height up to this
    /// one does not verify its transactions' signatures (0, the default: every signature is
    /// verified). Everything else is checked as always: the commit certificate (a quorum of
    /// the validator set of that height), the parent, the header, the Merkle root of the
    /// transactions' hashes, nonces, balances and the state commitment; so a forged block or a
    /// wrong state is refused. What is trusted is that the quorum of validators who certified
    /// the block verified its signatures (they did, when fewer than a third are faulty).
    /// ExecuteBlock (a proposal before a vote) always verifies.
    pub assume_valid_height: Height,
    /// Pruning: keep the bodies (transactions) of the last `n` blocks only; `None` (default):
    /// an archive node keeps every block. Headers and certificates are always kept.
    pub keep_blocks: Option<u64>,
    /// State sync: make a snapshot of the account state after every block whose height is a
    /// multiple of this (0: never; see `crate::snapshot`).
    pub snapshot_interval: u64,
    /// How many snapshots to keep (the newest; at least 1 when snapshots are made).
    pub snapshots_kept: usize,
}

/// Where an account-history page starts: strictly after this transaction in the page order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HistoryCursor {
    pub height: Height,
    pub index: u32,
}

impl HistoryCursor {
    const TOKEN_VERSION: u8 = 1;
    const TOKEN_LEN: usize = 1 + 8 + 4;

    /// The opaque page token: `01 ‖ height u64 BE ‖ index u32 BE`.
    pub fn to_token(self) -> Vec<u8> {
        let mut token = Vec::with_capacity(Self::TOKEN_LEN);
        token.push(Self::TOKEN_VERSION);
        token.extend_from_slice(&self.height.to_be_bytes());
        token.extend_from_slice(&self.index.to_be_bytes());
        token
    }

    /// Parses a page token issued by [`Self::to_token`].
    pub fn from_token(token: &[u8]) -> Result<Self, LedgerError> {
        let bad = || LedgerError::invalid("page_token", "is not a page token this ledger issued");
        if token.len() != Self::TOKEN_LEN || token[0] != Self::TOKEN_VERSION {
            return Err(bad());
        }
        let height = u64::from_be_bytes(token[1..9].try_into().map_err(|_| bad())?);
        let index = u32::from_be_bytes(token[9..13].try_into().map_err(|_| bad())?);
        if index >= (1 << INDEX_BITS) || height > (i64::MAX >> INDEX_BITS) as u64 {
            return Err(bad());
        }
        Ok(Self { height: Height(height), index })
    }

    fn position(self) -> i64 {
        // from_token and history rows bound both parts, so this cannot overflow.
        ((self.height.get() as i64) << INDEX_BITS) | i64::from(self.index)
    }
}

/// One page of an account's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub transactions: Vec<IndexedTransaction>,
    /// Where the next (older) page starts; `None` when there are no older transactions.
    pub next: Option<HistoryCursor>,
}

/// One transaction's hash (`None`: it could not be converted) and signature verdict.
struct TxDigest {
    tx_hash: Option<Hash32>,
    signature_valid: bool,
}

/// What execution needs to know about the block's transactions before running them.
enum Verification {
    /// Draft: the transactions are sealed here (hashed locally), their signatures and Merkle
    /// root go to crypto-core; Merkle root and state commitment are computed, not compared.
    Draft,
    /// As [`Self::Draft`], everything compared.
    Full,
    /// Signatures verified before; these are the hashes (computed locally).
    Verified(Vec<Hash32>),
    /// The block's transactions, sealed (one process: the proposer's own block): their hashes
    /// are known, signatures not verified before are verified. `draft` as for [`Self::Draft`].
    Sealed { txs: Vec<SealedTransaction>, draft: bool },
}

/// The writer's state (behind the write lock): the hash-index era ApplyBlock writes to and how
/// many transactions it holds, and when the account journal is folded.
#[derive(Debug, Clone, Copy)]
struct EraCursor {
    era: i64,
    transactions: u64,
    /// Transactions per era (ERA_TRANSACTIONS; smaller in tests).
    size: u64,
    /// Fold the journal at this many blocks or account rows (FOLD_JOURNAL_*; smaller in tests).
    fold_blocks: usize,
    fold_rows: usize,
}

impl EraCursor {
    /// The era of a block of `count` transactions: a new one once the current one is full.
    fn for_block(self, count: usize) -> Self {
        if self.transactions >= self.size {
            Self { era: self.era + 1, transactions: count as u64, ..self }
        } else {
            Self { transactions: self.transactions + count as u64, ..self }
        }
    }
}

/// The bounds of one SQLite transaction of [`Ledger::apply_sealed_blocks`] (catch-up): the
/// transaction is committed once any is reached (after the block that reached it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayBatch {
    /// Blocks per commit.
    pub max_blocks: usize,
    /// Transactions per commit (the WAL grows by about 330 bytes per transaction until the
    /// commit and the next checkpoint).
    pub max_transactions: usize,
    /// Bytes of encoded transactions per commit.
    pub max_bytes: usize,
    /// Time since the transaction started: readers (the API, `/v1/status`) see the tip move at
    /// least this often, and the live path waits at most this long for the write lock.
    pub max_time: std::time::Duration,
}

impl Default for ReplayBatch {
    /// 64 blocks, 100,000 transactions, 32 MiB, 1 s.
    fn default() -> Self {
        Self {
            max_blocks: 64,
            max_transactions: 100_000,
            max_bytes: 32 << 20,
            max_time: std::time::Duration::from_secs(1),
        }
    }
}

impl ReplayBatch {
    /// One block per commit (what [`Ledger::apply_sealed_block`] does).
    pub const ONE_BLOCK: Self =
        Self { max_blocks: 1, max_transactions: usize::MAX, max_bytes: usize::MAX, max_time: std::time::Duration::MAX };
}

/// What [`Ledger::apply_sealed_blocks`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchApplied {
    /// The tip after the call (`None` only inside the call).
    pub tip: Option<Tip>,
    /// Blocks written (blocks already final are not counted).
    pub applied: usize,
    /// SQLite transactions committed.
    pub commits: usize,
}

/// One block written by [`Ledger::write_in`], not committed yet.
struct WrittenBlock {
    tip: Tip,
    era: EraCursor,
    keys: Vec<(i64, i64)>,
    parent_view: AccountView,
    new_view: AccountView,
    accounts: Vec<(PublicKey, AccountRow)>,
    txs: usize,
    bytes: usize,
    assumed_valid: bool,
    executed: std::time::Duration,
}

impl WrittenBlock {
    /// The metrics of a committed block.
    fn count(&self) {
        crate::verify::count_applied(self.txs);
        if self.assumed_valid {
            crate::verify::count_assumed_valid(self.txs);
        }
    }
}

#[allow(clippy::large_enum_variant, reason = "one at a time, moved once, on the write path")]
enum Written {
    /// The block was final already; the tip.
    Already(Tip),
    Block(WrittenBlock),
}

/// Why [`Ledger::write_in`] did not write a block.
enum WriteError {
    /// The block is refused (or could not be checked); nothing of it was written.
    Refused(LedgerError),
    /// Writing it failed half-way: the transaction must be rolled back.
    Failed(LedgerError),
}

impl From<LedgerError> for WriteError {
    fn from(e: LedgerError) -> Self {
        Self::Refused(e)
    }
}

/// A valid execution of `block` on the tip `parent`, remembered for ApplyBlock.
struct Executed {
    parent: Hash32,
    block: Hash32,
    execution: BlockExecution,
}

/// The ledger: a SQLite store of the finalized chain plus the state transition. Cheap to share
/// behind an `Arc`; all methods take `&self`. Writes (ApplyBlock) are serialised; reads run
/// concurrently, each on one consistent snapshot.
pub struct Ledger {
    store: Store,
    crypto: Arc<dyn CryptoPort>,
    genesis: GenesisConfig,
    /// Who signs the commit certificate of each height (ApplyBlock verifies every one).
    validators: ValidatorSchedule,
    genesis_block: Block,
    genesis_hash: Hash32,
    /// Serialises writers (ApplyBlock, the journal fold); holds the hash-index era new
    /// transactions go to.
    write_lock: Arc<tokio::sync::Mutex<EraCursor>>,
    executed: Mutex<VecDeque<Executed>>,
    /// The account state at the tip: the journal in full, the table cached (see `cache`).
    accounts: Arc<AccountCache>,
    verified: Arc<VerifiedSignatures>,
    /// True while a background WAL checkpoint runs.
    checkpointing: Arc<std::sync::atomic::AtomicBool>,
    /// True while background maintenance (sealing an era, folding the journal) is queued or
    /// runs.
    maintaining: Arc<std::sync::atomic::AtomicBool>,
    /// The hash index of the unsealed eras.
    recent: Arc<RecentHashes>,
    options: LedgerOptions,
    /// The lowest height whose block is kept whole (0: nothing pruned); raised by the pruner
    /// before its transaction commits, so a reader may refuse a block still in its snapshot,
    /// never read a half-pruned one (reads that may meet pruned heights check their snapshot's
    /// `meta`, see [`Ledger::oldest_in`]).
    oldest: Arc<std::sync::atomic::AtomicU64>,
    /// True while the pruner runs.
    pruning: Arc<std::sync::atomic::AtomicBool>,
    /// The state-sync snapshots made (`options.snapshot_interval`).
    snapshots: Arc<crate::snapshot::Snapshots>,
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.store.path)
            .field("chain_id", &self.genesis.chain_id)
            .field("genesis_hash", &self.genesis_hash)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens the ledger database at `path` (created with its parent directories if missing).
    /// An empty database is initialised with `genesis` in one transaction; an existing one must
    /// have been created with the same genesis (same hash), or this fails saying both hashes.
    /// `validators` says who signs the commit certificates of each height: the stored tip's
    /// certificate is verified against it here (a database written under other validators, or a
    /// corrupt one, is refused), and every ApplyBlock's.
    pub async fn open(
        path: impl AsRef<Path>,
        genesis: GenesisConfig,
        validators: ValidatorSchedule,
        crypto: Arc<dyn CryptoPort>,
    ) -> Result<Self, LedgerError> {
        Self::open_with(path, genesis, validators, crypto, LedgerOptions::default()).await
    }

    /// [`Self::open`] with [`LedgerOptions`] (assume-valid, pruning).
    pub async fn open_with(
        path: impl AsRef<Path>,
        genesis: GenesisConfig,
        validators: ValidatorSchedule,
        crypto: Arc<dyn CryptoPort>,
        options: LedgerOptions,
    ) -> Result<Self, LedgerError> {
        let path = path.as_ref();
        if let Some(keep) = options.keep_blocks
            && keep < MIN_KEEP_BLOCKS
        {
            return Err(LedgerError::invalid(
                "ledger.keep_blocks",
                format!("{keep} is below the minimum {MIN_KEEP_BLOCKS}"),
            ));
        }
        genesis.validate()?;
        let genesis_block = genesis.block();
        let genesis_hash = genesis_block.hash();
        let store = Store::open(path).await?;
        let open_err = |e: sqlx::Error| LedgerError::open_failed(path, "")(e.into());
        let mut tx = store.pool.begin_with("BEGIN IMMEDIATE").await.map_err(open_err)?;
        match Store::meta(&mut tx, META_GENESIS_HASH).await? {
            Some(stored) => {
                let stored = Hash32::from_slice(&stored)
                    .map_err(|_| LedgerError::Corrupt(format!("meta.genesis_hash holds {} bytes", stored.len())))?;
                if stored != genesis_hash {
                    return Err(LedgerError::GenesisMismatch {
                        path: path.to_path_buf(),
                        stored,
                        configured: genesis_hash,
                    });
                }
                if Store::hash_at(&mut tx, Height(0)).await? != Some(genesis_hash) {
                    return Err(LedgerError::Corrupt("the genesis block row does not match meta.genesis_hash".into()));
                }
                tx.rollback().await.map_err(LedgerError::db("ending the open transaction"))?;
            }
            None => {
                if Store::tip(&mut tx).await?.is_some() {
                    return Err(LedgerError::Corrupt("blocks are stored but no genesis hash is recorded".into()));
                }
                let accounts: Vec<(PublicKey, AccountRow)> = genesis
                    .sorted_allocations()
                    .into_iter()
                    .map(|(address, state)| (address, AccountRow { state, last_tx: None }))
                    .collect();
                let header = &genesis_block.header;
                let write = BlockWrite {
                    height: Height(0),
                    hash: genesis_hash,
                    header,
                    certificate: None,
                    timestamp_ms: header.timestamp_ms().get(),
                    state_commitment: genesis.state_commitment(),
                    transactions: &[],
                    tx_encodings: &[],
                    tx_hashes: &[],
                    era: 0,
                    tx_links: &[],
                    accounts: &accounts,
                };
                Store::write_block(&mut tx, &write).await?;
                Store::set_meta(&mut tx, META_CHAIN_ID, genesis.chain_id.as_str().as_bytes().to_vec()).await?;
                Store::set_meta(&mut tx, META_GENESIS_HASH, genesis_hash.0.to_vec()).await?;
                let created_by = format!("coinjecture-ledger {}", env!("CARGO_PKG_VERSION"));
                Store::set_meta(&mut tx, META_CREATED_BY, created_by.into_bytes()).await?;
                tx.commit().await.map_err(LedgerError::db("writing genesis"))?;
                tracing::info!(path = %path.display(), genesis = %genesis_hash, chain = %genesis.chain_id, "ledger initialised with genesis");
            }
        }
        let recent = Arc::new(RecentHashes::default());
        let era = {
            let mut tx = store.pool.begin_with("BEGIN IMMEDIATE").await.map_err(open_err)?;
            let (era, transactions, first_position) = Store::current_era(&mut tx).await?;
            // Eras a crash left unsealed (their last block committed, the seal not).
            for unsealed in Store::unsealed_eras(&mut tx, era).await? {
                Store::seal_era(&mut tx, unsealed).await?;
            }
            if let Some(first) = first_position {
                recent.push(era, Store::era_keys(&mut tx, first).await?);
            }
            tx.commit().await.map_err(LedgerError::db("sealing eras at open"))?;
            EraCursor {
                era,
                transactions,
                size: ERA_TRANSACTIONS,
                fold_blocks: FOLD_JOURNAL_BLOCKS,
                fold_rows: FOLD_JOURNAL_ROWS,
            }
        };
        let ledger = Self {
            store,
            crypto,
            genesis,
            validators,
            genesis_block,
            genesis_hash,
            write_lock: Arc::new(tokio::sync::Mutex::new(era)),
            executed: Mutex::new(VecDeque::new()),
            accounts: Arc::new(AccountCache::new(DEFAULT_CAPACITY)),
            verified: Arc::new(VerifiedSignatures::new(DEFAULT_VERIFIED)),
            checkpointing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            maintaining: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            recent,
            options,
            oldest: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            pruning: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            snapshots: Arc::new(crate::snapshot::Snapshots::new(options.snapshots_kept)),
        };
        let tip = {
            let mut read = ledger.read().await?;
            let tip = Self::tip_in(&mut read).await?;
            ledger.load_journal(&mut read, &tip).await?;
            ledger.oldest.store(Store::oldest_kept(&mut read).await?.into(), std::sync::atomic::Ordering::Release);
            tip
        };
        ledger.verify_stored_tip(&tip).await?;
        tracing::info!(
            path = %path.display(),
            height = tip.height.get(),
            tip = %tip.hash,
            oldest_block = ledger.oldest_block().get(),
            keep_blocks = ?options.keep_blocks,
            assume_valid_height = options.assume_valid_height.get(),
            "ledger open"
        );
        ledger.spawn_prune(tip.height);
        Ok(ledger)
    }

    /// Test hook: starts a new hash-index era every `size` transactions instead of every
    /// 131,072, so tests reach several eras quickly.
    #[cfg(feature = "test-utils")]
    pub async fn set_era_size_for_tests(&self, size: u64) {
        self.write_lock.lock().await.size = size.max(1);
    }

    /// Test hook: folds the account journal once it holds `blocks` blocks or `rows` account
    /// rows instead of 256 or 1,000,000.
    #[cfg(feature = "test-utils")]
    pub async fn set_fold_threshold_for_tests(&self, blocks: usize, rows: usize) {
        let mut writer = self.write_lock.lock().await;
        writer.fold_blocks = blocks.max(1);
        writer.fold_rows = rows.max(1);
    }

    /// Test hook: runs the background maintenance now (sealing full eras, folding the journal
    /// when due) and waits for it.
    #[cfg(feature = "test-utils")]
    pub async fn maintain_now_for_tests(&self) -> Result<(), LedgerError> {
        self.maintaining.store(true, std::sync::atomic::Ordering::Release);
        maintain(&self.store, &self.accounts, &self.recent, &self.write_lock, &self.maintaining).await
    }

    /// Test hook: the work maintenance has not done yet: (journal blocks, journaled account
    /// rows, hash-index entries held in memory).
    #[cfg(feature = "test-utils")]
    pub fn pending_maintenance_for_tests(&self) -> (usize, usize, usize) {
        let (blocks, rows) = self.accounts.journal_size().unwrap_or((0, 0));
        (blocks, rows, self.recent.len())
    }

    /// The settings this ledger was opened with.
    pub fn options(&self) -> LedgerOptions {
        self.options
    }

    /// The lowest height whose block this ledger keeps whole (0: every block; see
    /// [`LedgerOptions::keep_blocks`]).
    pub fn oldest_block(&self) -> Height {
        Height(self.oldest.load(std::sync::atomic::Ordering::Acquire))
    }

    /// The oldest kept height in `conn`'s snapshot (0 without a read when this ledger never
    /// pruned and does not prune).
    async fn oldest_in(&self, conn: &mut SqliteConnection) -> Result<Height, LedgerError> {
        if self.options.keep_blocks.is_none() && self.oldest_block() == Height(0) {
            return Ok(Height(0));
        }
        Store::oldest_kept(conn).await
    }

    /// Refuses reading the bodies of heights `from..from + count` when one of them (other than
    /// genesis, which has none) is below `oldest`.
    fn refuse_pruned(from: Height, count: u64, oldest: Height) -> Result<(), LedgerError> {
        let first = from.max(Height(1));
        if first < oldest && first < from.saturating_add(count) {
            return Err(LedgerError::Pruned { height: first, oldest });
        }
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.store.path
    }

    /// The chain id (from the genesis).
    pub fn chain_id(&self) -> &ChainId {
        &self.genesis.chain_id
    }

    /// The genesis configuration this ledger was opened with.
    pub fn genesis(&self) -> &GenesisConfig {
        &self.genesis
    }

    /// The genesis block.
    pub fn genesis_block(&self) -> &Block {
        &self.genesis_block
    }

    /// The genesis hash.
    pub fn genesis_hash(&self) -> Hash32 {
        self.genesis_hash
    }

    /// Who signs the commit certificates of each height.
    pub fn validators(&self) -> &ValidatorSchedule {
        &self.validators
    }

    /// The hashes of the transactions whose signature this ledger verified (or accepted a
    /// verdict for from this process): shared with the node's gossip validation, so a
    /// transaction met first in a proposal is not verified again when its gossip arrives.
    pub fn verified_signatures(&self) -> Arc<VerifiedSignatures> {
        self.verified.clone()
    }

    /// Forgets which signatures were verified before, so the next calls verify every signature
    /// again (benchmarks: validation of a block none of whose transactions was seen before).
    #[cfg(feature = "test-utils")]
    pub fn forget_verified_signatures(&self) {
        self.verified.clear();
    }

    /// Verifies `certificate` as the proof that block `hash` is final at `height`: it names
    /// that block and height, its signers are members of the validator set of that height and
    /// reach its quorum, and every signature is a valid precommit (one batched crypto-core
    /// call, in process or remote).
    pub async fn verify_certificate(
        &self,
        height: Height,
        hash: &Hash32,
        certificate: &CommitCertificate,
    ) -> Result<(), LedgerError> {
        let bad = |source| LedgerError::BadCertificate { height, hash: *hash, source };
        let set = self.validators.at(height);
        let pending = set.check_certificate(&self.genesis.chain_id, height, hash, certificate).map_err(bad)?;
        let valid = self.crypto.verify_signatures(&pending.message, &pending.signatures).await?;
        pending.conclude(&valid).map_err(bad)
    }

    /// At open: the stored tip block is read (and so checked against its hashes) and its
    /// certificate verified against the configured validators.
    async fn verify_stored_tip(&self, tip: &Tip) -> Result<(), LedgerError> {
        if tip.height == Height(0) {
            return Ok(());
        }
        let refused = |source: StoredCertificateError| LedgerError::StoredCertificate {
            path: self.store.path.clone(),
            height: tip.height,
            source,
        };
        // The header only: a state-synced ledger has no body for its first block.
        let mut read = self.read().await?;
        let (_, certificate) = Store::header_at(&mut read, tip.height)
            .await?
            .ok_or_else(|| refused(StoredCertificateError::TipMissing))?;
        drop(read);
        let certificate = certificate.ok_or_else(|| refused(StoredCertificateError::NoCertificate))?;
        match self.verify_certificate(tip.height, &tip.hash, &certificate).await {
            Ok(()) => Ok(()),
            Err(LedgerError::BadCertificate { source, .. }) => Err(refused(source.into())),
            Err(e) => Err(e),
        }
    }

    /// Closes the connection pool (waits for a running ApplyBlock or journal fold, then for
    /// running queries).
    pub async fn close(&self) {
        let _writer = self.write_lock.lock().await;
        self.store.pool.close().await;
    }

    /// SQLite's `PRAGMA integrity_check` (full); `Ok` when the file is consistent.
    pub async fn integrity_check(&self) -> Result<(), String> {
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.store.pool)
            .await
            .map_err(|e| e.to_string())?;
        if rows.len() == 1 && rows[0] == "ok" { Ok(()) } else { Err(rows.join("; ")) }
    }

    async fn read(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, LedgerError> {
        self.store.pool.begin().await.map_err(LedgerError::db("starting a read"))
    }

    /// The account view of `conn`'s snapshot, whose tip is `tip`.
    async fn view_in(conn: &mut SqliteConnection, tip: &Tip) -> Result<AccountView, LedgerError> {
        Ok(AccountView { tip: tip.hash, journal_start: Store::journal_start(conn, tip.height).await? })
    }

    /// Rebuilds the in-memory account state from the journal in `conn`'s snapshot (at `tip`).
    async fn load_journal(&self, conn: &mut SqliteConnection, tip: &Tip) -> Result<(), LedgerError> {
        let view = Self::view_in(conn, tip).await?;
        let (journaled, blocks, rows) = Store::read_journal(conn).await?;
        tracing::debug!(height = tip.height.get(), blocks, accounts = journaled.len(), "account journal loaded");
        self.accounts.reset(view, journaled, blocks, rows);
        Ok(())
    }

    /// A read snapshot with its tip and account view, preferably one the in-memory account state
    /// is at: a snapshot taken while a block or fold was landing is retried (up to 3 times), so
    /// that account reads rarely fall back to reading the journal from SQLite.
    async fn read_at_tip(&self) -> Result<(sqlx::Transaction<'static, sqlx::Sqlite>, Tip, AccountView), LedgerError> {
        let mut attempt = 0;
        loop {
            let mut read = self.read().await?;
            let tip = Self::tip_in(&mut read).await?;
            let view = Self::view_in(&mut read, &tip).await?;
            attempt += 1;
            if attempt >= 3 || self.accounts.is_at(&view) {
                return Ok((read, tip, view));
            }
            drop(read);
            tokio::task::yield_now().await;
        }
    }

    async fn tip_in(conn: &mut SqliteConnection) -> Result<Tip, LedgerError> {
        Store::tip(conn).await?.ok_or_else(|| LedgerError::Corrupt("no blocks are stored (not even genesis)".into()))
    }

    /// The finalized tip.
    pub async fn tip(&self) -> Result<Tip, LedgerError> {
        let mut conn = self.store.pool.acquire().await.map_err(LedgerError::db("reading the tip"))?;
        Self::tip_in(&mut conn).await
    }

    /// Chain id, genesis hash and tip.
    pub async fn chain_info(&self) -> Result<ChainInfo, LedgerError> {
        let mut conn = self.store.pool.acquire().await.map_err(LedgerError::db("reading the tip"))?;
        let tip = Self::tip_in(&mut conn).await?;
        let oldest_block = self.oldest_in(&mut conn).await?;
        Ok(ChainInfo { chain_id: self.genesis.chain_id.clone(), genesis_hash: self.genesis_hash, tip, oldest_block })
    }

    /// The finalized block at `height`.
    /// [`LedgerError::Pruned`] for a pruned height.
    pub async fn block_by_height(&self, height: Height) -> Result<Option<StoredBlock>, LedgerError> {
        let mut tx = self.read().await?;
        Self::refuse_pruned(height, 1, self.oldest_in(&mut tx).await?)?;
        Store::block_by_height(&mut tx, height).await
    }

    /// The finalized block with `hash`.
    /// [`LedgerError::Pruned`] for the hash of a pruned block.
    pub async fn block_by_hash(&self, hash: &Hash32) -> Result<Option<StoredBlock>, LedgerError> {
        let mut tx = self.read().await?;
        let oldest = self.oldest_in(&mut tx).await?;
        if oldest > Height(1) {
            let height: Option<i64> = sqlx::query_scalar("SELECT height FROM blocks WHERE hash = ?")
                .bind(hash.0.to_vec())
                .fetch_optional(&mut *tx)
                .await
                .map_err(LedgerError::db("reading a block"))?;
            if let Some(height) = height.and_then(|h| u64::try_from(h).ok()) {
                Self::refuse_pruned(Height(height), 1, oldest)?;
            }
        }
        Store::block_by_hash(&mut tx, hash).await
    }

    /// The tip block.
    pub async fn latest_block(&self) -> Result<StoredBlock, LedgerError> {
        let mut tx = self.read().await?;
        let tip = Self::tip_in(&mut tx).await?;
        Store::block_by_height(&mut tx, tip.height)
            .await?
            .ok_or_else(|| LedgerError::Corrupt(format!("the tip block {} vanished", tip.height)))
    }

    /// Up to `limit` (1 to 1,000) consecutive blocks from `from`; fewer at the tip.
    pub async fn block_range(&self, from: Height, limit: u32) -> Result<Vec<StoredBlock>, LedgerError> {
        if limit == 0 || limit > MAX_BLOCK_RANGE {
            return Err(LedgerError::invalid("limit", format!("{limit} is not in 1..={MAX_BLOCK_RANGE}")));
        }
        let mut tx = self.read().await?;
        Self::refuse_pruned(from, u64::from(limit), self.oldest_in(&mut tx).await?)?;
        Store::block_range(&mut tx, from, limit).await
    }

    /// Up to `limit` (1 to 1,000) consecutive block headers from `from`, without transactions
    /// (with their hashes when `hashes`); fewer at the tip. Reads the block rows only, unless
    /// `hashes`.
    pub async fn header_range(&self, from: Height, limit: u32, hashes: bool) -> Result<Vec<StoredHeader>, LedgerError> {
        let extras = if hashes { HeaderExtras::Hashes } else { HeaderExtras::None };
        self.header_range_with(from, limit, extras).await
    }

    /// [`Self::header_range`], choosing what is read besides the block rows ([`HeaderExtras`]).
    pub async fn header_range_with(
        &self,
        from: Height,
        limit: u32,
        extras: HeaderExtras,
    ) -> Result<Vec<StoredHeader>, LedgerError> {
        if limit == 0 || limit > MAX_BLOCK_RANGE {
            return Err(LedgerError::invalid("limit", format!("{limit} is not in 1..={MAX_BLOCK_RANGE}")));
        }
        let mut tx = self.read().await?;
        if extras == HeaderExtras::Hashes {
            // The headers of pruned blocks are kept; their transactions' hashes are not.
            Self::refuse_pruned(from, u64::from(limit), self.oldest_in(&mut tx).await?)?;
        }
        Store::header_range(&mut tx, from, limit, extras).await
    }

    /// A finalized transaction by hash, with its block height, index and block hash.
    pub async fn transaction(&self, hash: &Hash32) -> Result<Option<IndexedTransaction>, LedgerError> {
        let recent = self.recent.positions(hash_key(hash));
        let mut tx = self.read().await?;
        Store::transaction(&mut tx, hash, &recent).await
    }

    /// An account at the tip (zero if never seen) and the tip height it was read at.
    pub async fn account(&self, address: &PublicKey) -> Result<(AccountState, Height), LedgerError> {
        let (mut tx, tip, view) = self.read_at_tip().await?;
        let accounts = self.load_accounts(&mut tx, &view, std::slice::from_ref(address)).await?;
        Ok((accounts.first().map(|(_, row)| row.state).unwrap_or_default(), tip.height))
    }

    /// Transactions sent or received by `address`, newest first (by height, then descending
    /// index), `limit` (1 to 1,000) of them, starting after `cursor` (or at the newest).
    pub async fn account_history(
        &self,
        address: &PublicKey,
        cursor: Option<HistoryCursor>,
        limit: u32,
    ) -> Result<HistoryPage, LedgerError> {
        if limit == 0 || limit > MAX_HISTORY_PAGE {
            return Err(LedgerError::invalid("limit", format!("{limit} is not in 1..={MAX_HISTORY_PAGE}")));
        }
        let (mut tx, _, view) = self.read_at_tip().await?;
        let newest = match cursor {
            Some(_) => None,
            None => self
                .load_accounts(&mut tx, &view, std::slice::from_ref(address))
                .await?
                .first()
                .and_then(|(_, row)| row.last_tx),
        };
        let oldest = self.oldest_in(&mut tx).await?;
        let (transactions, more) =
            Store::history(&mut tx, address, cursor.map(HistoryCursor::position), newest, limit, oldest).await?;
        let next = if more {
            transactions.last().map(|t| HistoryCursor { height: t.block_height, index: t.index })
        } else {
            None
        };
        Ok(HistoryPage { transactions, next })
    }

    /// The mempool's admission test: checks `txs` in order against the tip, each on the state
    /// left by the earlier accepted ones. Malformed transactions (wrong field lengths) are
    /// per-item MALFORMED verdicts naming the field. The others are sealed here (encoded and
    /// hashed once) and checked as [`Self::check_sealed`] does.
    pub async fn check_transactions(&self, txs: Vec<pb::Transaction>) -> Result<CheckedTransactions, LedgerError> {
        if txs.len() > limits::MAX_BATCH_ITEMS {
            return Err(LedgerError::invalid(
                "transactions",
                format!("{} items exceed the maximum {}", txs.len(), limits::MAX_BATCH_ITEMS),
            ));
        }
        let converted: Vec<Result<SealedTransaction, convert::ConversionError>> = txs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Transaction::try_from(t)
                    .map(SealedTransaction::seal)
                    .map_err(|e| e.within(&format!("transactions[{i}]")))
            })
            .collect();
        let sealed: Vec<SealedTransaction> = converted.iter().filter_map(|t| t.as_ref().ok().cloned()).collect();
        let (_, mut valid) = self.verify_sealed(&sealed).await?;
        valid.reverse();
        let digests: Vec<TxDigest> = converted
            .iter()
            .map(|t| match t {
                Ok(t) => TxDigest { tx_hash: Some(t.hash()), signature_valid: valid.pop().unwrap_or(false) },
                Err(_) => TxDigest { tx_hash: None, signature_valid: false },
            })
            .collect();
        let converted: Vec<Result<Transaction, convert::ConversionError>> =
            converted.into_iter().map(|t| t.map(SealedTransaction::into_transaction)).collect();
        self.check_digested(&converted, &digests).await
    }

    /// [`Self::check_transactions`] for sealed transactions (one process: consensus passes what
    /// it sealed at admission). Their hashes are known, so nothing is encoded or hashed here;
    /// signatures verified before (see [`SignatureCheck`]) are not verified again, the others
    /// in one crypto-core batch call.
    pub async fn check_sealed(&self, txs: &[SealedTransaction]) -> Result<CheckedTransactions, LedgerError> {
        if txs.len() > limits::MAX_BATCH_ITEMS {
            return Err(LedgerError::invalid(
                "transactions",
                format!("{} items exceed the maximum {}", txs.len(), limits::MAX_BATCH_ITEMS),
            ));
        }
        let (hashes, valid) = self.verify_sealed(txs).await?;
        let converted: Vec<Result<Transaction, convert::ConversionError>> =
            txs.iter().map(|t| Ok(t.transaction().clone())).collect();
        let digests: Vec<TxDigest> = hashes
            .iter()
            .zip(valid)
            .map(|(h, signature_valid)| TxDigest { tx_hash: Some(*h), signature_valid })
            .collect();
        self.check_digested(&converted, &digests).await
    }

    /// The hashes of sealed transactions and whether each signature is valid: verified before
    /// (the cache, or the verdict the sealed transaction carries), or now in one crypto-core
    /// batch call.
    async fn verify_sealed(&self, txs: &[SealedTransaction]) -> Result<(Vec<Hash32>, Vec<bool>), LedgerError> {
        let hashes: Vec<Hash32> = txs.iter().map(SealedTransaction::hash).collect();
        let (mut valid, unknown) = self.unverified(txs, &hashes);
        if !unknown.is_empty() {
            let to_verify: Vec<SealedTransaction> = unknown.iter().filter_map(|i| txs.get(*i).cloned()).collect();
            let verdicts = self.crypto.verify_transactions(&to_verify).await?;
            self.learn(txs, &hashes, &mut valid, &unknown, verdicts)?;
        }
        Ok((hashes, valid))
    }

    /// A block's transaction hashes, signature verdicts and Merkle root, in one crypto-core
    /// call: the signatures verified before (the cache, the sealed verdicts) are not sent.
    async fn verify_block(&self, txs: &[SealedTransaction]) -> Result<(Vec<Hash32>, Vec<bool>, Hash32), LedgerError> {
        let hashes: Vec<Hash32> = txs.iter().map(SealedTransaction::hash).collect();
        let (mut valid, unknown) = self.unverified(txs, &hashes);
        let to_verify: Vec<SealedTransaction> = unknown.iter().filter_map(|i| txs.get(*i).cloned()).collect();
        let crypto = self.crypto.verify_block(&hashes, &to_verify).await?;
        self.learn(txs, &hashes, &mut valid, &unknown, crypto.signatures_valid)?;
        Ok((hashes, valid, crypto.merkle_root))
    }

    /// Which of `txs` (with their `hashes`) carry a verdict already — a signature verified
    /// before here (the cache), or a verdict carried by the sealed transaction (verified where
    /// it entered this process: the API's intake or gossip validation) — and the positions of
    /// the others. Valid carried verdicts join the cache, so the transaction's later arrival
    /// in a block (sealed again from the proposal) is not verified either.
    fn unverified(&self, txs: &[SealedTransaction], hashes: &[Hash32]) -> (Vec<bool>, Vec<usize>) {
        let mut valid = self.verified.known(hashes);
        let mut unknown = Vec::new();
        let mut carried = Vec::new();
        for (i, tx) in txs.iter().enumerate() {
            if valid[i] {
                continue;
            }
            match tx.signature_verdict() {
                Some(true) => {
                    valid[i] = true;
                    carried.push(hashes[i]);
                }
                Some(false) => {}
                None => unknown.push(i),
            }
        }
        self.verified.insert(carried);
        (valid, unknown)
    }

    /// Records crypto-core's `verdicts` for the `unknown` positions of `hashes` in `valid` (and
    /// on the sealed transactions), and remembers the valid ones.
    fn learn(
        &self,
        txs: &[SealedTransaction],
        hashes: &[Hash32],
        valid: &mut [bool],
        unknown: &[usize],
        verdicts: Vec<bool>,
    ) -> Result<(), LedgerError> {
        if verdicts.len() != unknown.len() {
            return Err(LedgerError::Crypto(CryptoError::BadAnswer {
                call: "Ed25519VerifyBatch",
                reason: format!("{} verdicts for {} signatures", verdicts.len(), unknown.len()),
            }));
        }
        for (i, v) in unknown.iter().zip(verdicts) {
            valid[*i] = v;
            if let Some(tx) = txs.get(*i) {
                tx.record_signature_verdict(v);
            }
        }
        self.verified.insert(unknown.iter().filter(|i| valid[**i]).map(|i| hashes[*i]));
        Ok(())
    }

    /// The state half of a CheckTransactions: `converted` and `digests` are one per transaction.
    async fn check_digested(
        &self,
        converted: &[Result<Transaction, convert::ConversionError>],
        digests: &[TxDigest],
    ) -> Result<CheckedTransactions, LedgerError> {
        let mut good_index = Vec::new();
        let mut good_txs = Vec::new();
        let mut hashes = Vec::new();
        let mut signatures = Vec::new();
        for (i, (tx, digest)) in converted.iter().zip(digests).enumerate() {
            if let (Ok(tx), Some(hash)) = (tx, digest.tx_hash) {
                good_index.push(i);
                good_txs.push(tx.clone());
                hashes.push(hash);
                signatures.push(digest.signature_valid);
            }
        }
        let (mut read, tip, view) = self.read_at_tip().await?;
        let batch = BatchAccounts::new(&good_txs, None);
        let rows = self.load_accounts(&mut read, &view, &batch.accounts).await?;
        drop(read);
        let initial: Vec<AccountState> = rows.iter().map(|(_, row)| row.state).collect();
        let transition = run_batch(&self.genesis.chain_id, &batch, &initial, &good_txs, &hashes, Some(&signatures));
        let mut verdicts: Vec<TxVerdict> = converted
            .iter()
            .zip(digests)
            .map(|(tx, digest)| {
                let message = match tx {
                    Err(e) => e.to_string(),
                    Ok(_) => "the transaction has no hash".to_string(),
                };
                TxVerdict {
                    tx_hash: digest.tx_hash,
                    rejection: Some(TxRejection::new(TxRejectReason::Malformed, message)),
                }
            })
            .collect();
        for (k, i) in good_index.into_iter().enumerate() {
            verdicts[i] = TxVerdict { tx_hash: Some(hashes[k]), rejection: transition.rejections[k].clone() };
        }
        Ok(CheckedTransactions { verdicts, height: tip.height })
    }

    /// Executes `block` on the tip without writing. `draft = true` (a proposer building): the
    /// Merkle root and the state commitment in the header are not checked and the result gives
    /// their values. Errors (not answers) when the block is not for tip + 1 or its parent is not
    /// the tip.
    pub async fn execute_block(&self, block: &Block, draft: bool) -> Result<BlockExecution, LedgerError> {
        let verification = if draft { Verification::Draft } else { Verification::Full };
        self.execute_verifying(block, verification, draft).await
    }

    /// [`Self::execute_block`] of a block whose transactions are `txs`, sealed (one process:
    /// the proposer's own block): their hashes are used, not computed again. `txs` must be the
    /// block's transactions, in order (InvalidArgument otherwise).
    pub async fn execute_block_sealed(
        &self,
        block: &Block,
        txs: Vec<SealedTransaction>,
        draft: bool,
    ) -> Result<BlockExecution, LedgerError> {
        if txs.len() != block.transactions.len()
            || txs.iter().zip(&block.transactions).any(|(sealed, tx)| sealed.transaction() != tx)
        {
            return Err(LedgerError::invalid(
                "transactions",
                "the sealed transactions are not the block's transactions",
            ));
        }
        self.execute_verifying(block, Verification::Sealed { txs, draft }, draft).await
    }

    async fn execute_verifying(
        &self,
        block: &Block,
        verification: Verification,
        draft: bool,
    ) -> Result<BlockExecution, LedgerError> {
        let (mut read, tip, view) = self.read_at_tip().await?;
        let execution = self.execute_on(&mut read, &tip, &view, block, verification).await?;
        drop(read);
        if !draft && execution.is_valid() {
            self.remember_execution(&tip, block.hash(), &execution);
        }
        Ok(execution)
    }

    /// Applies a finalized block with its commit certificate, in one SQLite transaction, and
    /// makes it the tip; verifies the certificate and the transactions' signatures (see
    /// [`SignatureCheck::Verify`]).
    pub async fn apply_block(&self, block: &Block, certificate: &CommitCertificate) -> Result<Applied, LedgerError> {
        self.apply_block_with(block, certificate, SignatureCheck::Verify).await
    }

    /// [`Self::apply_block`] with a choice of signature verification.
    ///
    /// Idempotent: the block already final at its height is a success with `already_applied`.
    /// Refused: a certificate that does not name this block (InvalidArgument); a certificate
    /// that does not prove the block final ([`LedgerError::BadCertificate`]: a signer outside
    /// the validator set of that height, fewer distinct signers than its quorum, an invalid
    /// signature), a height above tip + 1, a different block at a final height, a wrong parent,
    /// a block that does not execute validly (each a precondition error). The ledger verifies
    /// the certificate itself, whoever calls (consensus has verified it too): no caller of the
    /// internal port can write a block consensus would not have accepted.
    /// [`SignatureCheck`] is about the transactions' signatures only; the certificate is
    /// always verified.
    pub async fn apply_block_with(
        &self,
        block: &Block,
        certificate: &CommitCertificate,
        signatures: SignatureCheck,
    ) -> Result<Applied, LedgerError> {
        self.apply_with(block, None, certificate, signatures).await
    }

    /// [`Self::apply_block`] of a sealed block (one process: consensus's block): the stored
    /// transaction rows are its sealed encodings and hashes, nothing is encoded or hashed again;
    /// signatures not verified before (see [`SignatureCheck`]) are verified.
    pub async fn apply_sealed_block(
        &self,
        block: &SealedBlock,
        certificate: &CommitCertificate,
    ) -> Result<Applied, LedgerError> {
        self.apply_with(block.block(), Some(block), certificate, SignatureCheck::Verify).await
    }

    async fn apply_with(
        &self,
        block: &Block,
        sealed: Option<&SealedBlock>,
        certificate: &CommitCertificate,
        signatures: SignatureCheck,
    ) -> Result<Applied, LedgerError> {
        let started = std::time::Instant::now();
        let hash = self.check_certified(block, sealed, certificate).await?;
        let mut writer = self.write_lock.lock().await;
        let mut tx =
            self.store.pool.begin_with("BEGIN IMMEDIATE").await.map_err(LedgerError::db("starting a write"))?;
        let written = match self.write_in(&mut tx, *writer, block, sealed, hash, certificate, signatures).await {
            Ok(Written::Already(tip)) => return Ok(Applied { tip, already_applied: true }),
            Ok(Written::Block(written)) => written,
            Err(WriteError::Refused(e) | WriteError::Failed(e)) => return Err(e),
        };
        let executed = written.executed;
        let wrote = started.elapsed();
        tx.commit().await.map_err(LedgerError::db("committing the block"))?;
        let new_era = written.era.era != writer.era;
        *writer = written.era;
        self.accounts.advance(&written.parent_view, written.new_view, &written.accounts);
        written.count();
        self.recent.push(written.era.era, written.keys);
        self.pin_snapshot(written.tip.height).await;
        drop(writer);
        let tip = written.tip;
        tracing::debug!(
            height = tip.height.get(),
            block = %hash,
            txs = written.txs,
            accounts = written.accounts.len(),
            execute = ?executed,
            write = ?wrote.saturating_sub(executed),
            commit = ?started.elapsed().saturating_sub(wrote),
            "block applied"
        );
        self.after_commit(new_era, &written.era, tip.height);
        Ok(Applied { tip, already_applied: false })
    }

    /// ApplyBlock's checks before the write lock: the certificate names this block (hash and
    /// height), the block is not the genesis, and the certificate proves it final. The block's
    /// hash.
    async fn check_certified(
        &self,
        block: &Block,
        sealed: Option<&SealedBlock>,
        certificate: &CommitCertificate,
    ) -> Result<Hash32, LedgerError> {
        let hash = sealed.map_or_else(|| block.hash(), SealedBlock::hash);
        let height = block.header.block_index;
        if certificate.block_hash != hash {
            return Err(LedgerError::invalid(
                "block.commit_certificate.block_hash",
                format!("{} is not the block's hash {hash}", certificate.block_hash),
            ));
        }
        if certificate.height != height {
            return Err(LedgerError::invalid(
                "block.commit_certificate.height",
                format!("{} is not the block's height {height}", certificate.height),
            ));
        }
        if height == Height(0) {
            return Err(LedgerError::invalid("block.header.block_index", "the genesis block is never applied"));
        }
        self.verify_certificate(height, &hash, certificate).await?;
        Ok(hash)
    }

    /// Executes the certified `block` on the tip of `tx` (the write transaction, under the write
    /// lock: `era` is the writer's cursor as of that tip) and writes it, without committing.
    /// A block already final at its height is [`Written::Already`]. Every check of ApplyBlock
    /// but the certificate's ([`Self::check_certified`]) is here.
    #[allow(clippy::too_many_arguments, reason = "one private step of ApplyBlock")]
    async fn write_in(
        &self,
        tx: &mut SqliteConnection,
        era: EraCursor,
        block: &Block,
        sealed: Option<&SealedBlock>,
        hash: Hash32,
        certificate: &CommitCertificate,
        signatures: SignatureCheck,
    ) -> Result<Written, WriteError> {
        let started = std::time::Instant::now();
        let height = block.header.block_index;
        let tip = Self::tip_in(&mut *tx).await?;
        if height <= tip.height {
            let stored = Store::hash_at(&mut *tx, height)
                .await?
                .ok_or_else(|| LedgerError::Corrupt(format!("block {height} is below the tip but missing")))?;
            if stored == hash {
                return Ok(Written::Already(tip));
            }
            return Err(LedgerError::ConflictingBlock { height, stored, offered: hash }.into());
        }
        let (encodings, hashes) = match sealed {
            Some(sealed) => (sealed.transaction_bytes().map(<[u8]>::to_vec).collect(), sealed.transaction_hashes()),
            None => encode_and_hash(&block.transactions),
        };
        let era = era.for_block(block.transactions.len());
        let view = Self::view_in(&mut *tx, &tip).await?;
        if !self.accounts.is_at(&view) {
            // A commit or fold whose in-memory step was lost (or a failed one): rebuild.
            tracing::warn!(height = tip.height.get(), "account state not at the tip; reloading the journal");
            self.load_journal(&mut *tx, &tip).await?;
        }
        let mut assumed_valid = false;
        let execution = match self.remembered_execution(&tip, &hash, &hashes) {
            Some(execution) => execution,
            None => {
                assumed_valid = signatures == SignatureCheck::Verify && height <= self.options.assume_valid_height;
                let verification = match (signatures, sealed) {
                    (SignatureCheck::AlreadyVerified, _) => Verification::Verified(hashes.clone()),
                    // Assume-valid (LedgerOptions::assume_valid_height): the certificate was
                    // verified before; the Merkle root and state commitment are checked below.
                    (SignatureCheck::Verify, _) if assumed_valid => Verification::Verified(hashes.clone()),
                    (SignatureCheck::Verify, Some(sealed)) => {
                        Verification::Sealed { txs: sealed.transactions().to_vec(), draft: false }
                    }
                    (SignatureCheck::Verify, None) => Verification::Full,
                };
                self.execute_on(&mut *tx, &tip, &view, block, verification).await?
            }
        };
        let (Some(state_commitment), None) = (execution.state_commitment, &execution.rejection) else {
            let source = execution.rejection.map_or(InvalidBlockError::Stopped, InvalidBlockError::Rejected);
            return Err(LedgerError::InvalidBlock { height, hash, source }.into());
        };
        let timestamp_ms = block.header.timestamp_ms();
        let executed = started.elapsed();
        let (tx_links, accounts) = history_links(height, block, &execution)?;
        let write = BlockWrite {
            height,
            hash,
            header: &block.header,
            certificate: Some(certificate),
            timestamp_ms: timestamp_ms.get(),
            state_commitment,
            transactions: &block.transactions,
            tx_encodings: &encodings,
            tx_hashes: &hashes,
            era: era.era,
            tx_links: &tx_links,
            accounts: &accounts,
        };
        // From here on the transaction holds part of this block: a failure rolls it back whole.
        let failed = WriteError::Failed;
        Store::write_block(&mut *tx, &write).await.map_err(failed)?;
        let first = position(height, 0).map_err(failed)?;
        let keys: Vec<(i64, i64)> = hashes.iter().enumerate().map(|(i, h)| (hash_key(h), first + i as i64)).collect();
        let new_view =
            AccountView { tip: hash, journal_start: Store::journal_start(&mut *tx, height).await.map_err(failed)? };
        Ok(Written::Block(WrittenBlock {
            tip: Tip { height, hash, timestamp_ms, state_commitment },
            era,
            keys,
            parent_view: view,
            new_view,
            accounts,
            txs: block.transactions.len(),
            bytes: encodings.iter().map(Vec::len).sum(),
            assumed_valid,
            executed,
        }))
    }

    /// Background work after a commit: maintenance when an era filled or the journal is due a
    /// fold (else a WAL checkpoint), and pruning.
    fn after_commit(&self, new_era: bool, writer: &EraCursor, height: Height) {
        if new_era || needs_fold(&self.accounts, writer) {
            self.spawn_maintenance();
        } else {
            self.spawn_checkpoint();
        }
        self.spawn_prune(height);
    }

    /// Catch-up (#22 item 2): applies consecutive certified blocks, several per SQLite
    /// transaction, within `bounds` (blocks, transactions, bytes, time: whichever is reached
    /// first ends a transaction). Each block is checked exactly as by
    /// [`Self::apply_sealed_block`] (certificate, parent, header, Merkle root, nonces, balances,
    /// state commitment; signatures unless assume-valid covers it); what changes is only that
    /// one fsynced commit covers several blocks. Readers see whole batches: the tip moves from
    /// one commit to the next, each a whole block; a crash loses at most the batch being
    /// written and leaves the last committed block as the tip.
    ///
    /// Blocks already final are skipped (a conflicting one is refused). When a block is
    /// refused, the blocks before it that were written are committed (they were checked in full)
    /// and the error is returned; when a write fails, the transaction is rolled back whole.
    ///
    /// For blocks behind the tip of the chain (sync); the live path (a block just decided at
    /// the tip) is [`Self::apply_sealed_block`], one commit per block.
    pub async fn apply_sealed_blocks(
        &self,
        blocks: &[(SealedBlock, CommitCertificate)],
        bounds: ReplayBatch,
    ) -> Result<BatchApplied, LedgerError> {
        let mut done = BatchApplied { tip: None, applied: 0, commits: 0 };
        let mut rest = blocks;
        while !rest.is_empty() {
            let (taken, outcome) = self.apply_batch(rest, bounds, &mut done).await;
            rest = &rest[taken..];
            outcome?;
        }
        if done.tip.is_none() {
            done.tip = Some(self.tip().await?);
        }
        Ok(done)
    }

    /// One SQLite transaction of [`Self::apply_sealed_blocks`]: blocks from the front of
    /// `blocks` until a bound is reached. How many blocks it took, and the error that stopped
    /// it.
    async fn apply_batch(
        &self,
        blocks: &[(SealedBlock, CommitCertificate)],
        bounds: ReplayBatch,
        done: &mut BatchApplied,
    ) -> (usize, Result<(), LedgerError>) {
        let started = std::time::Instant::now();
        let mut writer = self.write_lock.lock().await;
        let mut tx = match self.store.pool.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => tx,
            Err(e) => return (0, Err(LedgerError::db("starting a write")(e))),
        };
        let mut era = *writer;
        let mut written: Vec<WrittenBlock> = Vec::new();
        let (mut taken, mut txs, mut bytes) = (0usize, 0usize, 0usize);
        let mut stopped = None;
        for (sealed, certificate) in blocks {
            let checked = match self.check_certified(sealed.block(), Some(sealed), certificate).await {
                Ok(hash) => {
                    self.write_in(&mut tx, era, sealed.block(), Some(sealed), hash, certificate, SignatureCheck::Verify)
                        .await
                }
                Err(e) => Err(WriteError::Refused(e)),
            };
            match checked {
                Ok(Written::Already(_)) => taken += 1,
                Ok(Written::Block(block)) => {
                    taken += 1;
                    era = block.era;
                    txs += block.txs;
                    bytes += block.bytes;
                    // The next block executes on this one: the in-memory state moves on now
                    // (readers, whose snapshots are older, read SQLite until the commit).
                    self.accounts.advance(&block.parent_view, block.new_view, &block.accounts);
                    written.push(block);
                }
                Err(WriteError::Refused(e)) => {
                    stopped = Some(e);
                    break;
                }
                Err(WriteError::Failed(e)) => {
                    drop(tx);
                    if !written.is_empty() {
                        self.accounts.invalidate();
                    }
                    return (taken, Err(e));
                }
            }
            // A snapshot height ends a transaction too: its snapshot reads the state as of that
            // block, pinned right after it commits.
            let at_snapshot = written.last().is_some_and(|b| self.is_snapshot_height(b.tip.height));
            if written.len() >= bounds.max_blocks
                || txs >= bounds.max_transactions
                || bytes >= bounds.max_bytes
                || started.elapsed() >= bounds.max_time
                || at_snapshot
            {
                break;
            }
        }
        if written.is_empty() {
            drop(tx);
            return (taken, stopped.map_or(Ok(()), Err));
        }
        let wrote = started.elapsed();
        if let Err(e) = tx.commit().await {
            self.accounts.invalidate();
            return (taken, Err(LedgerError::db("committing a batch of blocks")(e)));
        }
        let new_era = era.era != writer.era;
        *writer = era;
        for block in &mut written {
            self.recent.push(block.era.era, std::mem::take(&mut block.keys));
            block.count();
        }
        let (first, last) = (written[0].tip.height, written[written.len() - 1].tip.clone());
        self.pin_snapshot(last.height).await;
        drop(writer);
        tracing::debug!(
            from = first.get(),
            to = last.height.get(),
            blocks = written.len(),
            txs,
            bytes,
            write = ?wrote,
            commit = ?started.elapsed().saturating_sub(wrote),
            "blocks applied in one transaction"
        );
        let height = last.height;
        done.tip = Some(last);
        done.applied += written.len();
        done.commits += 1;
        self.after_commit(new_era, &era, height);
        (taken, stopped.map_or(Ok(()), Err))
    }

    /// Runs [`maintain`] in the background (unless it is queued or running), then
    /// checkpoints. It takes the write lock: the next ApplyBlock waits for it.
    fn spawn_maintenance(&self) {
        if self.maintaining.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let (store, accounts, recent, writer, flag) = (
            self.store.clone(),
            Arc::clone(&self.accounts),
            Arc::clone(&self.recent),
            Arc::clone(&self.write_lock),
            Arc::clone(&self.maintaining),
        );
        tokio::spawn(async move {
            // Nothing is lost on failure: the journal and the unsealed eras stay, and the next
            // trigger (or the next open) tries again.
            if let Err(e) = maintain(&store, &accounts, &recent, &writer, &flag).await {
                tracing::warn!(error = %e, "ledger maintenance (sealing an era, folding the journal) failed");
            }
            store.checkpoint().await;
        });
    }

    /// Starts a WAL checkpoint in the background unless one is running.
    fn spawn_checkpoint(&self) {
        if self.checkpointing.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let store = self.store.clone();
        let flag = Arc::clone(&self.checkpointing);
        tokio::spawn(async move {
            store.checkpoint().await;
            flag.store(false, std::sync::atomic::Ordering::Release);
        });
    }

    fn remember_execution(&self, tip: &Tip, block: Hash32, execution: &BlockExecution) {
        if let Ok(mut executed) = self.executed.lock() {
            if executed.len() >= EXECUTIONS_REMEMBERED {
                executed.pop_front();
            }
            executed.push_back(Executed { parent: tip.hash, block, execution: execution.clone() });
        }
    }

    /// Takes the remembered valid execution of block `hash` on `tip`, if its transaction hashes
    /// are `tx_hashes` (they are the block's, so this only guards against a hash collision).
    fn remembered_execution(&self, tip: &Tip, hash: &Hash32, tx_hashes: &[Hash32]) -> Option<BlockExecution> {
        let mut executed = self.executed.lock().ok()?;
        let index = executed.iter().position(|e| e.parent == tip.hash && e.block == *hash)?;
        let remembered = executed.remove(index)?;
        let same_transactions = remembered.execution.verdicts.len() == tx_hashes.len()
            && remembered.execution.verdicts.iter().zip(tx_hashes).all(|(v, h)| v.tx_hash.as_ref() == Some(h));
        same_transactions.then_some(remembered.execution)
    }

    /// Account rows of `addresses` (sorted, unique) at `view`, the account view of `conn`'s
    /// snapshot, in their order, zero rows for accounts never seen: from the in-memory state
    /// when it is at that view, the rest from the `accounts` table (then cached). A snapshot at
    /// another view (a block or fold landed meanwhile) reads the table and the journal.
    async fn load_accounts(
        &self,
        conn: &mut SqliteConnection,
        view: &AccountView,
        addresses: &[PublicKey],
    ) -> Result<Vec<(PublicKey, AccountRow)>, LedgerError> {
        let known = match self.accounts.lookup(view, addresses) {
            Some(known) => known,
            None => {
                tracing::debug!(tip = %view.tip, "account state moved on; reading the snapshot's journal");
                let mut found = Store::load_accounts(&mut *conn, addresses).await?;
                let (journaled, _, _) = Store::read_journal(conn).await?;
                found.extend(journaled.into_iter().filter(|(address, _)| addresses.binary_search(address).is_ok()));
                return Ok(addresses.iter().map(|a| (*a, found.get(a).copied().unwrap_or_default())).collect());
            }
        };
        let missing: Vec<PublicKey> =
            addresses.iter().zip(&known).filter(|(_, row)| row.is_none()).map(|(a, _)| *a).collect();
        let loaded = if missing.is_empty() {
            HashMap::new()
        } else {
            let loaded = Store::load_accounts(conn, &missing).await?;
            self.accounts.fill(view, &missing, &loaded);
            loaded
        };
        Ok(addresses
            .iter()
            .zip(known)
            .map(|(a, row)| (*a, row.or_else(|| loaded.get(a).copied()).unwrap_or_default()))
            .collect())
    }

    /// The block rules, in order: height and parent (errors), header layout, size, timestamp,
    /// work, hashes and signatures, Merkle root, transactions, state commitment.
    async fn execute_on(
        &self,
        conn: &mut SqliteConnection,
        tip: &Tip,
        view: &AccountView,
        block: &Block,
        verification: Verification,
    ) -> Result<BlockExecution, LedgerError> {
        let header = &block.header;
        let height = header.block_index;
        if height != tip.height.next() {
            return Err(LedgerError::NotNextHeight { height, tip: tip.height });
        }
        if header.parent_hash != tip.hash {
            return Err(LedgerError::WrongParent {
                height,
                parent: header.parent_hash,
                tip_height: tip.height,
                tip_hash: tip.hash,
            });
        }
        use BlockRejectReason as R;
        if let Err(e) = header.validate() {
            return Ok(BlockExecution::rejected(R::MalformedHeader, format!("header: {e}")));
        }
        let extra = match PoaExtra::decode_at(&header.extra_data, height) {
            Ok(extra) => extra,
            Err(e) => return Ok(BlockExecution::rejected(R::MalformedHeader, format!("header.extra_data: {e}"))),
        };
        if header.difficulty_target != 0 || header.nonce != 0 {
            return Ok(BlockExecution::rejected(
                R::MalformedHeader,
                "header.difficulty_target and header.nonce must be 0 on the proof-of-authority chain",
            ));
        }
        if header.miner_address.is_zero() {
            return Ok(BlockExecution::rejected(R::MalformedHeader, "header.miner_address is zero (no proposer)"));
        }
        let sealed_bytes = match &verification {
            Verification::Sealed { txs, .. } => Some(txs.iter().map(SealedTransaction::encoded_len)),
            _ => None,
        };
        if let Some(message) = too_large(block, sealed_bytes, &self.genesis.block_limits) {
            return Ok(BlockExecution::rejected(R::TooLarge, message));
        }
        let timestamp_ms = header.timestamp_ms();
        if timestamp_ms <= tip.timestamp_ms {
            return Ok(BlockExecution::rejected(
                R::BadTimestamp,
                format!("block time {timestamp_ms} ms is not after the parent's {} ms", tip.timestamp_ms),
            ));
        }
        if !header.commitment.is_zero() {
            return Ok(BlockExecution::rejected(
                R::BadWork,
                "header.commitment is set, but this ledger does not accept blocks carrying subset-sum work yet",
            ));
        }

        let draft = matches!(verification, Verification::Draft | Verification::Sealed { draft: true, .. });
        // The block's crypto (one crypto-core call) runs while its accounts are read: with a
        // remote crypto-core (Network B) the round trip overlaps the reads.
        let crypto = async move {
            Ok::<_, LedgerError>(match verification {
                Verification::Verified(hashes) => {
                    let merkle_root = self.crypto.verify_block(&hashes, &[]).await?.merkle_root;
                    (hashes, None, merkle_root)
                }
                Verification::Sealed { txs, .. } => {
                    let (hashes, valid, merkle_root) = self.verify_block(&txs).await?;
                    (hashes, Some(valid), merkle_root)
                }
                Verification::Draft | Verification::Full => {
                    let txs: Vec<SealedTransaction> =
                        block.transactions.iter().cloned().map(SealedTransaction::seal).collect();
                    let (hashes, valid, merkle_root) = self.verify_block(&txs).await?;
                    (hashes, Some(valid), merkle_root)
                }
            })
        };
        let batch = BatchAccounts::new(&block.transactions, Some(&header.miner_address));
        let (crypto, loaded) = tokio::join!(crypto, self.load_accounts(conn, view, &batch.accounts));
        let (hashes, signature_valid, merkle_root) = crypto?;
        if !draft && merkle_root != header.merkle_root {
            let mut rejected = BlockExecution::rejected(
                R::BadMerkleRoot,
                format!("header.merkle_root {} is not the transactions' root {merkle_root}", header.merkle_root),
            );
            rejected.merkle_root = Some(merkle_root);
            return Ok(rejected);
        }
        let loaded = loaded?;
        let initial: Vec<AccountState> = loaded.iter().map(|(_, row)| row.state).collect();
        let transition = run_batch(
            &self.genesis.chain_id,
            &batch,
            &initial,
            &block.transactions,
            &hashes,
            signature_valid.as_deref(),
        );
        let verdicts: Vec<TxVerdict> = hashes
            .iter()
            .zip(&transition.rejections)
            .map(|(hash, rejection)| TxVerdict { tx_hash: Some(*hash), rejection: rejection.clone() })
            .collect();
        if let Some((index, rejection)) = transition.first_rejection() {
            return Ok(BlockExecution {
                rejection: Some(BlockRejection {
                    reason: R::InvalidTransaction,
                    message: format!("transactions[{index}]: {}", rejection.message),
                }),
                state_commitment: None,
                merkle_root: Some(merkle_root),
                verdicts,
                changes: Vec::new(),
                batch: BatchAccounts::default(),
                loaded: Vec::new(),
            });
        }
        let state_commitment = next_state_commitment(&tip.state_commitment, &transition.changes);
        let rejection = (!draft && extra.state_commitment != state_commitment).then(|| BlockRejection {
            reason: R::BadStateCommitment,
            message: format!(
                "header.extra_data.state_commitment {} is not the state after execution {state_commitment}",
                extra.state_commitment
            ),
        });
        Ok(BlockExecution {
            state_commitment: Some(state_commitment),
            rejection,
            merkle_root: Some(merkle_root),
            verdicts,
            changes: transition.changes,
            batch,
            loaded,
        })
    }
}

/// True when the account journal should be folded.
fn needs_fold(accounts: &AccountCache, writer: &EraCursor) -> bool {
    matches!(accounts.journal_size(), Some((blocks, rows)) if blocks >= writer.fold_blocks || rows >= writer.fold_rows)
}

/// Background maintenance, under the write lock, each step one SQLite transaction:
///
/// 1. seal every full era not in `tx_hash_index` yet (migrations/0004_sealed_hash_index.sql),
///    then forget the in-memory index of the eras before it;
/// 2. fold the account journal into `accounts` when it is large enough
///    (migrations/0003_account_journal.sql): the journaled rows are upserted and the journal
///    emptied. Skipped when the in-memory state is not at the tip (the next ApplyBlock
///    rebuilds it).
///
/// Clears `flag` while still holding the lock, so a block applied after this never finds a
/// stale flag and skips its trigger.
async fn maintain(
    store: &Store,
    accounts: &AccountCache,
    recent: &RecentHashes,
    writer: &tokio::sync::Mutex<EraCursor>,
    flag: &std::sync::atomic::AtomicBool,
) -> Result<(), LedgerError> {
    let writer = writer.lock().await;
    flag.store(false, std::sync::atomic::Ordering::Release);
    if store.pool.is_closed() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let unsealed = {
        let mut conn = store.pool.acquire().await.map_err(LedgerError::db("starting maintenance"))?;
        Store::unsealed_eras(&mut conn, writer.era).await?
    };
    for era in unsealed {
        let mut tx = store.pool.begin_with("BEGIN IMMEDIATE").await.map_err(LedgerError::db("starting a seal"))?;
        match recent.era(era) {
            Some(pairs) => Store::seal_era_from(&mut tx, era, &pairs).await?,
            None => Store::seal_era(&mut tx, era).await?,
        }
        tx.commit().await.map_err(LedgerError::db("committing a seal"))?;
        recent.forget_before(era);
        tracing::debug!(era, elapsed = ?started.elapsed(), in_memory = recent.len(), "hash-index era sealed");
    }
    if !needs_fold(accounts, &writer) {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut tx = store.pool.begin_with("BEGIN IMMEDIATE").await.map_err(LedgerError::db("starting the fold"))?;
    let tip = Ledger::tip_in(&mut tx).await?;
    let view = Ledger::view_in(&mut tx, &tip).await?;
    let Some(rows) = accounts.journal(&view).filter(|rows| !rows.is_empty()) else { return Ok(()) };
    Store::fold_journal(&mut tx, &rows).await?;
    tx.commit().await.map_err(LedgerError::db("committing the fold"))?;
    accounts.folded(&view, AccountView { tip: tip.hash, journal_start: tip.height.next() });
    tracing::debug!(rows = rows.len(), elapsed = ?started.elapsed(), "account journal folded");
    Ok(())
}

/// The history links of a block's transactions ((sender_prev, recipient_prev) each) and the
/// account rows to write: every sender and recipient (new `last_tx`) and every account whose
/// state changed (the proposer), sorted by address.
#[allow(clippy::type_complexity, reason = "a private helper's two outputs")]
fn history_links(
    height: Height,
    block: &Block,
    execution: &BlockExecution,
) -> Result<(Vec<(Option<i64>, Option<i64>)>, Vec<(PublicKey, AccountRow)>), LedgerError> {
    let first = position(height, 0)?;
    let batch = &execution.batch;
    if execution.loaded.len() != batch.accounts.len() || batch.slots.len() != block.transactions.len() {
        return Err(LedgerError::Corrupt("the execution does not describe this block's accounts".into()));
    }
    // The loaded rows (every account the block touches, in the batch's order) updated in
    // place, with a flag for the rows to write.
    let mut rows: Vec<(PublicKey, AccountRow, bool)> =
        execution.loaded.iter().map(|(address, row)| (*address, *row, false)).collect();
    let mut links = Vec::with_capacity(block.transactions.len());
    for (i, (from, to)) in batch.slots.iter().enumerate() {
        let position = first + i as i64;
        let last = |slot: usize| rows.get(slot).and_then(|(_, row, _)| row.last_tx);
        links.push((last(*from), last(*to)));
        for slot in [*from, *to] {
            if let Some((_, row, written)) = rows.get_mut(slot) {
                row.last_tx = Some(position);
                *written = true;
            }
        }
    }
    // `changes` is sorted in the same order as the rows: one merge walk.
    let mut changes = execution.changes.iter().peekable();
    for (address, row, written) in &mut rows {
        if let Some((_, state)) = changes.next_if(|(changed, _)| changed == address) {
            row.state = *state;
            *written = true;
        }
    }
    if changes.next().is_some() {
        return Err(LedgerError::Corrupt("a state change names an account the block does not touch".into()));
    }
    // Senders and recipients whose state did not change keep their loaded state.
    let written = rows.into_iter().filter(|(_, _, written)| *written).map(|(a, row, _)| (a, row)).collect();
    Ok((links, written))
}

/// Each transaction's canonical encoding and its hash (SHA-256 of the encoding), the two halves
/// of a large block on two threads.
fn encode_and_hash(txs: &[Transaction]) -> (Vec<Vec<u8>>, Vec<Hash32>) {
    let work =
        |txs: &[Transaction]| -> Vec<(Vec<u8>, Hash32)> { txs.iter().map(Transaction::encode_and_hash).collect() };
    if txs.len() < 2_048 {
        return work(txs).into_iter().unzip();
    }
    let (left, right) = txs.split_at(txs.len() / 2);
    let (mut first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| work(right));
        (work(left), second.join())
    });
    // A panic in the helper thread (none is expected) is not the block's fault: redo its half.
    first.extend(second.unwrap_or_else(|_| work(right)));
    first.into_iter().unzip()
}

/// The TOO_LARGE rule: at most 50,000 transactions (the decoder's bound), at most the chain's
/// `max_block_gas` in summed `gas_limit`, and at most its `max_block_bytes` (and 16 MiB) of
/// block encoding. `sealed_lens`: the transactions' encoded lengths when known (sealed), so
/// nothing is encoded to measure them.
fn too_large(
    block: &Block,
    sealed_lens: Option<impl ExactSizeIterator<Item = usize>>,
    chain: &BlockLimits,
) -> Option<String> {
    if block.transactions.len() > limits::MAX_BLOCK_TRANSACTIONS {
        return Some(format!(
            "{} transactions exceed the maximum {}",
            block.transactions.len(),
            limits::MAX_BLOCK_TRANSACTIONS
        ));
    }
    let gas: u128 = block.transactions.iter().map(|tx| u128::from(tx.gas_limit)).sum();
    if gas > u128::from(chain.max_gas) {
        return Some(format!(
            "the transactions' gas limits sum to {gas}, more than the chain's max_block_gas {} (genesis)",
            chain.max_gas
        ));
    }
    let max = usize::try_from(chain.max_bytes).unwrap_or(usize::MAX).min(limits::MAX_MESSAGE_BYTES);
    let len = match sealed_lens {
        Some(lens) => Block::encoded_len_with(&block.header, lens),
        None => {
            // Transaction::encoded_len_hint is an upper bound; encode exactly only near the limit.
            let bound: usize = 300 + block.transactions.iter().map(Transaction::encoded_len_hint).sum::<usize>();
            if bound <= max {
                return None;
            }
            block.encode().len()
        }
    };
    (len > max)
        .then(|| format!("the encoded block is {len} bytes, more than the chain's max_block_bytes {max} (genesis)"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

    use super::*;
    use crate::test_utils::{TestChain, certificate, local_crypto};

    /// A reader whose snapshot predates a block (or a fold) finds the in-memory state at another
    /// view and must read the state of its own snapshot from SQLite: the table and the journal.
    #[tokio::test]
    async fn a_snapshot_from_before_a_block_or_a_fold_reads_its_own_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut chain = TestChain::new_unsigned("coinjecture-views", 4, 1_000_000);
        let ledger =
            Ledger::open(dir.path().join("ledger.db"), chain.genesis.clone(), chain.validators(), local_crypto())
                .await
                .unwrap();
        let push = |chain: &mut TestChain, amount| {
            let tx = chain.next_transfer(0, chain.accounts[1], amount);
            chain.push(vec![tx])
        };
        let sender = chain.accounts[0];
        let b1 = push(&mut chain, 10);
        ledger
            .apply_block_with(&b1, &certificate(ledger.chain_id(), &b1), SignatureCheck::AlreadyVerified)
            .await
            .unwrap();
        let at_b1 = chain.account(&sender);

        // A snapshot at block 1, then block 2 lands: the snapshot still reads block 1's state.
        let mut old = ledger.read().await.unwrap();
        let old_tip = Ledger::tip_in(&mut old).await.unwrap();
        let b2 = push(&mut chain, 20);
        ledger
            .apply_block_with(&b2, &certificate(ledger.chain_id(), &b2), SignatureCheck::AlreadyVerified)
            .await
            .unwrap();
        let old_view = Ledger::view_in(&mut old, &old_tip).await.unwrap();
        assert!(!ledger.accounts.is_at(&old_view), "the in-memory state moved on to block 2");
        let rows = ledger.load_accounts(&mut old, &old_view, &[sender]).await.unwrap();
        assert_eq!(rows[0].1.state, at_b1, "a stale snapshot reads its own journal");
        drop(old);
        assert_eq!(ledger.account(&sender).await.unwrap(), (chain.account(&sender), Height(2)));

        // A snapshot at block 2, then a fold empties the journal: the snapshot (whose journal
        // still holds blocks 1 and 2, and whose accounts table predates them) reads block 2.
        let mut old = ledger.read().await.unwrap();
        let old_tip = Ledger::tip_in(&mut old).await.unwrap();
        let old_view = Ledger::view_in(&mut old, &old_tip).await.unwrap();
        ledger.set_fold_threshold_for_tests(1, 1).await;
        ledger.maintain_now_for_tests().await.unwrap();
        assert_eq!(ledger.pending_maintenance_for_tests().0, 0, "folded");
        assert!(!ledger.accounts.is_at(&old_view), "the fold moved the in-memory state on");
        let rows = ledger.load_accounts(&mut old, &old_view, &[sender]).await.unwrap();
        assert_eq!(rows[0].1.state, chain.account(&sender));
        drop(old);
        assert_eq!(ledger.account(&sender).await.unwrap(), (chain.account(&sender), Height(2)));
    }
}
