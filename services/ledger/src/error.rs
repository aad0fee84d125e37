//! The ledger's error type, and how each kind maps onto a gRPC status.

use std::path::{Path, PathBuf};

use coinjecture_primitives::validators::ValidatorError;
use coinjecture_primitives::{Hash32, Height};
use coinjecture_proto::ports::ledger::BlockRejection;

use crate::genesis::GenesisError;

/// Why a ledger operation failed. Rule violations of transactions and candidate blocks are not
/// errors: they are answers ([`crate::TxVerdict`], [`crate::BlockExecution`]).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database file could not be created, opened, migrated or read at start.
    /// `reason` says what failed, and `source` (when there is one) why; the message is both.
    #[error("cannot open the ledger database {path}: {reason}{}", source.as_ref().map(ToString::to_string).unwrap_or_default())]
    Open {
        path: PathBuf,
        reason: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The database was initialised with another genesis block.
    #[error(
        "the ledger database {path} belongs to another chain: its genesis hash is {stored}, the configured genesis \
         hashes to {configured}; use the genesis file this database was created with, or another database path"
    )]
    GenesisMismatch { path: PathBuf, stored: Hash32, configured: Hash32 },

    /// A state-sync snapshot refused (see `crate::snapshot`).
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),

    /// The genesis configuration is invalid.
    #[error(transparent)]
    Genesis(#[from] GenesisError),

    /// Malformed input; `field` names it (`block.commit_certificate.block_hash`).
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },

    /// A block that is not for tip + 1 (ApplyBlock: above it; ExecuteBlock: any other height).
    #[error("block {height} is not for the next height {next}: the ledger's tip is {tip}", next = tip.next())]
    NotNextHeight { height: Height, tip: Height },

    /// A block whose height is final already with a different block.
    #[error("a different block is already final at height {height}: stored {stored}, offered {offered}")]
    ConflictingBlock { height: Height, stored: Hash32, offered: Hash32 },

    /// A block for tip + 1 whose parent is not the tip.
    #[error("block {height} has parent_hash {parent}, but the tip (height {tip_height}) is {tip_hash}")]
    WrongParent { height: Height, parent: Hash32, tip_height: Height, tip_hash: Hash32 },

    /// A commit certificate that does not prove the block final: a signer outside the validator
    /// set of that height, no quorum, or an invalid signature (ApplyBlock).
    #[error("block {height} ({hash}): block.commit_certificate does not verify: {source}")]
    BadCertificate {
        height: Height,
        hash: Hash32,
        #[source]
        source: ValidatorError,
    },

    /// The stored tip's certificate does not verify at open: the database was written under
    /// another validator configuration, or it is corrupt.
    #[error(
        "the ledger database {path}: the stored certificate of the tip block {height} does not verify against the \
         configured validators: {reason}; check consensus.validators and consensus.validator_changes, or run \
         `coinjectured db verify --database {path}`",
        reason = source
    )]
    StoredCertificate {
        path: PathBuf,
        height: Height,
        #[source]
        source: StoredCertificateError,
    },

    /// A finalized block that does not execute validly on the tip (ApplyBlock).
    #[error("block {height} ({hash}) does not apply on the tip: {source}")]
    InvalidBlock {
        height: Height,
        hash: Hash32,
        #[source]
        source: InvalidBlockError,
    },

    /// crypto-core (in process or remote) failed or answered inconsistently.
    #[error(transparent)]
    Crypto(#[from] coinjecture_proto::ports::crypto::CryptoError),

    /// The database failed while the ledger was running. `hint` says what SQLite's error code
    /// usually means for an operator (disk full, read-only, failing disk), or is empty.
    #[error("ledger database error while {context}: {source}{hint}")]
    Database {
        context: &'static str,
        #[source]
        source: sqlx::Error,
        hint: &'static str,
    },

    /// The block at `height` was pruned (`ledger.keep_blocks`): its header and certificate are
    /// kept, its transactions are not. `oldest` is the lowest height whose block is kept whole.
    #[error(
        "block {height} is pruned: this node keeps the blocks from height {oldest} on (ledger.keep_blocks); ask an \
         archive node"
    )]
    Pruned { height: Height, oldest: Height },

    /// Data read from the database does not make sense (manual edits, disk corruption).
    #[error("the ledger database is corrupt: {0}")]
    Corrupt(String),

    /// A stored value that does not decode (`what` names it); `source` is the decoder's error.
    #[error("the ledger database is corrupt: {what}: {source}")]
    CorruptValue {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl LedgerError {
    pub(crate) fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { context, hint: sqlite_hint(&source), source }
    }

    /// [`Self::Open`] for `path` without an underlying error (`reason` is the whole story).
    pub(crate) fn open(path: &Path, reason: impl Into<String>) -> Self {
        Self::Open { path: path.to_path_buf(), reason: reason.into(), source: None }
    }

    /// [`Self::Open`] for `path` because of `source`; `context` (e.g. `"schema migration
    /// failed: "`, or empty) goes before its message.
    pub(crate) fn open_failed(
        path: &Path,
        context: impl Into<String>,
    ) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> Self {
        let (path, reason) = (path.to_path_buf(), context.into());
        move |source| Self::Open { path, reason, source: Some(source) }
    }

    /// [`Self::CorruptValue`]: the stored `what` does not decode.
    pub(crate) fn corrupt_value<E: std::error::Error + Send + Sync + 'static>(
        what: impl Into<String>,
    ) -> impl FnOnce(E) -> Self {
        let what = what.into();
        move |source| Self::CorruptValue { what, source: Box::new(source) }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument { field: field.into(), reason: reason.into() }
    }
}

/// What an SQLite result code means for the operator, by its primary code (the low byte).
fn sqlite_hint(error: &sqlx::Error) -> &'static str {
    let sqlx::Error::Database(db) = error else { return "" };
    let Some(code) = db.code().and_then(|c| c.parse::<i32>().ok()) else { return "" };
    match code & 0xff {
        8 => " (the database file or its directory is read-only)",
        10 => " (a read or write on disk failed: the disk may be full, over a file size limit, or failing)",
        11 | 26 => " (the database file is damaged or not a database)",
        13 => " (the disk is full)",
        14 => " (a database file cannot be opened: check the directory and its permissions)",
        _ => "",
    }
}

/// Why the stored tip's certificate is refused at open (the source of
/// [`LedgerError::StoredCertificate`]).
#[derive(Debug, thiserror::Error)]
pub enum StoredCertificateError {
    /// The tip row names a block that cannot be read.
    #[error("the tip block is missing")]
    TipMissing,
    /// The tip block has no certificate.
    #[error("it has no certificate")]
    NoCertificate,
    /// The certificate does not verify against the configured validators.
    #[error(transparent)]
    Invalid(#[from] ValidatorError),
}

/// Why a finalized block does not apply on the tip (the source of [`LedgerError::InvalidBlock`]).
#[derive(Debug, thiserror::Error)]
pub enum InvalidBlockError {
    /// Execution refused it: the first rule that failed.
    #[error("{}", .0.message)]
    Rejected(BlockRejection),
    /// Execution stopped early without naming a rule.
    #[error("execution stopped")]
    Stopped,
    /// The block carries subset-sum work, which this ledger does not accept yet.
    #[error("block.work: this ledger does not accept blocks carrying subset-sum work yet")]
    Work,
}

impl From<LedgerError> for tonic::Status {
    fn from(e: LedgerError) -> Self {
        let message = e.to_string();
        match e {
            LedgerError::InvalidArgument { .. } | LedgerError::Genesis(_) => tonic::Status::invalid_argument(message),
            LedgerError::NotNextHeight { .. }
            | LedgerError::ConflictingBlock { .. }
            | LedgerError::WrongParent { .. }
            | LedgerError::InvalidBlock { .. }
            | LedgerError::BadCertificate { .. }
            | LedgerError::Snapshot(_)
            | LedgerError::GenesisMismatch { .. } => tonic::Status::failed_precondition(message),
            LedgerError::Crypto(e) if e.is_unavailable() => tonic::Status::unavailable(message),
            LedgerError::Corrupt(_) | LedgerError::CorruptValue { .. } | LedgerError::StoredCertificate { .. } => {
                tonic::Status::data_loss(message)
            }
            LedgerError::Open { .. } => tonic::Status::unavailable(message),
            LedgerError::Crypto(_) | LedgerError::Database { .. } => tonic::Status::internal(message),
            LedgerError::Pruned { oldest, .. } => coinjecture_proto::ports::ledger::pruned_status(message, oldest),
        }
    }
}
