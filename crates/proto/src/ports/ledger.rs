//! The ledger port (see [`super`]): [`LedgerPort`], what consensus, api and p2p-gateway call the
//! ledger through; [`RemoteLedger`], its one remote implementation over `Ledger` gRPC; and the
//! wire conversions of its values, both directions (the ledger's gRPC server uses the same
//! functions, so each message is converted in one place).
//!
//! In one process the caller's `Arc<dyn LedgerPort>` is the ledger itself
//! (`Arc<coinjecture_ledger::Ledger>`): sealed transactions and blocks reach it as they are, with
//! their encodings and hashes. Split, it is a [`RemoteLedger`]; the ledger's server converts the
//! request back and calls the same core through the same trait.
//!
//! Deadlines: a [`RemoteLedger`] puts no deadline on its calls; callers bound what they wait for
//! (the block reads are bounded by their `limit` and byte budget).

use coinjecture_primitives::consensus::Evidence;
use coinjecture_primitives::{
    Block, BlockHeader, ChainId, CommitCertificate, Hash32, Height, PublicKey, SealedBlock, SealedTransaction,
    Transaction, TxVerdict, UnixMillis,
};
use prost::Message as _;
use tonic::Code;

use crate::client::{MESSAGE_LIMIT, TracedChannel};
use crate::convert::{self, ConversionError};
use crate::v1 as pb;
use crate::v1::ledger_client::LedgerClient;

/// Most blocks one range read returns.
pub const MAX_BLOCK_RANGE: u32 = 1_000;

/// What a block weighs besides its transactions in [`LedgerPort::blocks`]'s byte estimate (its
/// header and commit certificate, rounded up).
pub const BLOCK_OVERHEAD_BYTES: usize = 1024;

/// The finalized tip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tip {
    pub height: Height,
    pub hash: Hash32,
    /// Block time (header seconds × 1000 + PoA milliseconds).
    pub timestamp_ms: UnixMillis,
    /// State commitment after the tip block.
    pub state_commitment: Hash32,
}

/// Chain identity and the tip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainInfo {
    pub chain_id: ChainId,
    pub genesis_hash: Hash32,
    pub tip: Tip,
    /// The lowest height whose block the ledger keeps whole: 0 on an archive node (see
    /// [`LedgerPortError::Pruned`]).
    pub oldest_block: Height,
}

/// A finalized block as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
    pub height: Height,
    pub hash: Hash32,
    pub block: Block,
    /// `None` only for genesis.
    pub certificate: Option<CommitCertificate>,
}

/// A finalized block's header as stored, without its transactions (a headers-only read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHeader {
    pub height: Height,
    pub hash: Hash32,
    pub header: BlockHeader,
    /// `None` only for genesis.
    pub certificate: Option<CommitCertificate>,
    /// How many transactions the block has.
    pub transaction_count: u32,
    /// The transactions' hashes in block order, when asked for (read and hashed, not decoded).
    pub transaction_hashes: Option<Vec<Hash32>>,
    /// The summed length of the transactions' stored encodings, when asked for (SQLite's
    /// `length()`, which does not read a long value's content).
    pub transactions_bytes: Option<u64>,
}

/// What a header listing reads besides the `blocks` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderExtras {
    /// Nothing.
    None,
    /// The transactions' hashes (their rows read and hashed).
    Hashes,
    /// The transactions' stored sizes (their lengths only): what a byte-bounded listing of
    /// whole blocks decides on before reading any.
    Sizes,
}

/// A finalized transaction with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedTransaction {
    pub transaction: Transaction,
    pub tx_hash: Hash32,
    pub block_height: Height,
    pub block_hash: Hash32,
    /// Zero-based position within the block.
    pub index: u32,
}

/// An account at the tip (zero balance and nonce when never seen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountAtTip {
    pub address: PublicKey,
    pub balance: u64,
    pub nonce: u64,
    /// The tip height it was read at.
    pub height: Height,
}

/// One page of an account's history, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryPage {
    pub transactions: Vec<IndexedTransaction>,
    /// Opaque cursor of the next (older) page; empty when there is none.
    pub next_page_token: Vec<u8>,
}

/// The ledger's verdict on one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTransaction {
    /// `None` only when the transaction was too malformed to hash.
    pub tx_hash: Option<Hash32>,
    pub verdict: TxVerdict,
}

/// The result of [`LedgerPort::check_transactions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTransactions {
    /// One per transaction, in request order.
    pub results: Vec<CheckedTransaction>,
    /// The tip height the transactions were checked against.
    pub height: Height,
}

/// Why a candidate block is invalid (the wire's `BlockRejectReason` without its zero value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockRejectReason {
    MalformedHeader,
    BadTimestamp,
    BadMerkleRoot,
    BadStateCommitment,
    InvalidTransaction,
    BadWork,
    TooLarge,
}

/// A candidate block's rejection: the first rule that failed and a message naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason:?}: {message}")]
pub struct BlockRejection {
    pub reason: BlockRejectReason,
    pub message: String,
}

/// The ledger's answer to a block execution (an invalid block is an answer, not an error).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Execution {
    /// `None` when the block is valid.
    pub rejection: Option<BlockRejection>,
    /// The state commitment after the block; `None` when execution stopped early.
    pub state_commitment: Option<Hash32>,
    /// The Merkle root of the transaction hashes; `None` when execution stopped before hashing.
    pub merkle_root: Option<Hash32>,
    /// One per transaction, in block order (empty when execution stopped before).
    pub results: Vec<CheckedTransaction>,
}

impl Execution {
    /// True when the block would apply on the tip.
    pub fn is_valid(&self) -> bool {
        self.rejection.is_none()
    }

    /// Indices of the rejected transactions.
    pub fn rejected(&self) -> Vec<usize> {
        self.results.iter().enumerate().filter(|(_, r)| r.verdict.is_err()).map(|(i, _)| i).collect()
    }
}

/// The result of [`LedgerPort::apply_block`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The tip after the call.
    pub tip: Tip,
    /// True when this exact block was already final (nothing was written).
    pub already_applied: bool,
}

/// Why a ledger call failed. Each kind is one gRPC status code at the edge ([`From`] both ways),
/// so a caller sees the same error in one process and split.
#[derive(Debug, thiserror::Error)]
pub enum LedgerPortError {
    /// Malformed input; the message names the field (`block.commit_certificate.block_hash: ...`).
    #[error("{0}")]
    InvalidArgument(String),
    /// The block does not fit the ledger's state (not for tip + 1, wrong parent, a different
    /// block final at that height, a certificate that does not verify, a block that does not
    /// apply).
    #[error("{0}")]
    FailedPrecondition(String),
    /// Stored data does not verify (corruption).
    #[error("{0}")]
    Corrupt(String),
    /// The ledger cannot answer now (not open yet, crypto-core down); retry later.
    #[error("{0}")]
    Unavailable(String),
    /// The ledger failed (its database, crypto-core answering nonsense).
    #[error("{0}")]
    Internal(String),
    /// The block at `height` was pruned by this ledger (`ledger.keep_blocks`); `oldest` is the
    /// lowest height whose block it keeps whole. gRPC: OUT_OF_RANGE with the metadata
    /// [`OLDEST_HEIGHT_METADATA`] = `oldest` (see [`pruned_status`]).
    #[error("{message}")]
    Pruned { height: Height, oldest: Height, message: String },
    /// This implementation does not offer the call (test doubles).
    #[error("the ledger port {0} is not implemented here")]
    Unimplemented(&'static str),
    /// A remote call failed with a status of no other kind, or the answer did not convert.
    #[error("Ledger.{call}: {source}")]
    Remote {
        call: &'static str,
        #[source]
        source: Box<tonic::Status>,
    },
}

/// gRPC metadata key of a pruned-height answer (OUT_OF_RANGE): the lowest height whose block the
/// ledger keeps whole, in decimal.
pub const OLDEST_HEIGHT_METADATA: &str = "coinjecture-oldest-height";

/// The status of a read of a pruned height: OUT_OF_RANGE, `message` (which names the height and
/// the oldest kept one), and [`OLDEST_HEIGHT_METADATA`] = `oldest`.
pub fn pruned_status(message: String, oldest: Height) -> tonic::Status {
    let mut status = tonic::Status::out_of_range(message);
    if let Ok(value) = oldest.to_string().parse() {
        status.metadata_mut().insert(OLDEST_HEIGHT_METADATA, value);
    }
    status
}

/// The oldest kept height a pruned-height status carries ([`pruned_status`]); `None` for any
/// other status.
pub fn pruned_oldest(status: &tonic::Status) -> Option<Height> {
    if status.code() != Code::OutOfRange {
        return None;
    }
    status.metadata().get(OLDEST_HEIGHT_METADATA)?.to_str().ok()?.parse().ok()
}

/// The height a pruned-height message names ("block 12 is pruned: ...").
fn pruned_height(message: &str) -> Option<Height> {
    message.strip_prefix("block ")?.split(' ').next()?.parse().ok()
}

impl LedgerPortError {
    /// The error a remote `call` answered with.
    pub fn from_status(call: &'static str, status: tonic::Status) -> Self {
        let message = status.message().to_string();
        match status.code() {
            Code::InvalidArgument => Self::InvalidArgument(message),
            Code::FailedPrecondition => Self::FailedPrecondition(message),
            Code::DataLoss => Self::Corrupt(message),
            Code::Unavailable => Self::Unavailable(format!("Ledger.{call}: {message}")),
            Code::Unimplemented => Self::Unimplemented(call),
            Code::OutOfRange => match pruned_oldest(&status) {
                Some(oldest) => Self::Pruned { height: pruned_height(&message).unwrap_or(Height(0)), oldest, message },
                None => Self::Remote { call, source: Box::new(status) },
            },
            _ => Self::Remote { call, source: Box::new(status) },
        }
    }

    fn malformed_answer(call: &'static str, e: ConversionError) -> Self {
        Self::Remote { call, source: Box::new(tonic::Status::internal(format!("the answer does not convert: {e}"))) }
    }
}

impl From<LedgerPortError> for tonic::Status {
    fn from(e: LedgerPortError) -> Self {
        let message = e.to_string();
        match e {
            LedgerPortError::InvalidArgument(_) => tonic::Status::invalid_argument(message),
            LedgerPortError::FailedPrecondition(_) => tonic::Status::failed_precondition(message),
            LedgerPortError::Corrupt(_) => tonic::Status::data_loss(message),
            LedgerPortError::Unavailable(_) => tonic::Status::unavailable(message),
            LedgerPortError::Internal(_) => tonic::Status::internal(message),
            LedgerPortError::Unimplemented(_) => tonic::Status::unimplemented(message),
            LedgerPortError::Pruned { oldest, .. } => pruned_status(message, oldest),
            LedgerPortError::Remote { source, .. } => *source,
        }
    }
}

/// Shorthand for the port's results.
pub type LedgerResult<T> = Result<T, LedgerPortError>;

/// The ledger contract (`proto/coinjecture/v1/ledger.proto`) in domain types: finalized blocks,
/// transactions, accounts, the mempool's admission check, block execution and application, and
/// evidence. Implemented by the ledger core (`coinjecture_ledger::Ledger`) and by
/// [`RemoteLedger`].
#[tonic::async_trait]
pub trait LedgerPort: Send + Sync + 'static {
    /// Chain identity and the tip.
    async fn chain_info(&self) -> LedgerResult<ChainInfo>;

    /// The finalized tip (with its millisecond time).
    async fn tip(&self) -> LedgerResult<Tip>;

    /// The finalized block at `height` (genesis at 0); `None` above the tip.
    async fn block_by_height(&self, height: Height) -> LedgerResult<Option<StoredBlock>>;

    /// The finalized block with `hash`; `None` when unknown.
    async fn block_by_hash(&self, hash: &Hash32) -> LedgerResult<Option<StoredBlock>> {
        let _ = hash;
        Err(LedgerPortError::Unimplemented("block_by_hash"))
    }

    /// Consecutive finalized blocks from `from`, at most `limit` (1 to [`MAX_BLOCK_RANGE`]);
    /// fewer at the tip, and no more once about `max_bytes` of blocks were read (at least one
    /// block when there is one), so a range of large blocks never sits in memory whole. The
    /// caller trims to its exact budget (the size is estimated: the protobuf size remotely, the
    /// transactions' encodings plus [`BLOCK_OVERHEAD_BYTES`] in the ledger's process).
    async fn blocks(&self, from: Height, limit: u32, max_bytes: usize) -> LedgerResult<Vec<StoredBlock>>;

    /// Consecutive finalized headers from `from`, at most `limit` (1 to [`MAX_BLOCK_RANGE`]),
    /// without transactions; `extras` says what else is read.
    async fn headers(&self, from: Height, limit: u32, extras: HeaderExtras) -> LedgerResult<Vec<StoredHeader>> {
        let _ = (from, limit, extras);
        Err(LedgerPortError::Unimplemented("headers"))
    }

    /// A finalized transaction by hash; `None` when no finalized block includes it.
    async fn transaction(&self, hash: &Hash32) -> LedgerResult<Option<IndexedTransaction>> {
        let _ = hash;
        Err(LedgerPortError::Unimplemented("transaction"))
    }

    /// An account at the tip.
    async fn account(&self, address: &PublicKey) -> LedgerResult<AccountAtTip>;

    /// Transactions sent or received by `address`, newest first, `limit` of them (0 means 100,
    /// at most 1,000), after `page_token` (empty: the newest).
    async fn account_history(&self, address: &PublicKey, page_token: &[u8], limit: u32) -> LedgerResult<HistoryPage> {
        let _ = (address, page_token, limit);
        Err(LedgerPortError::Unimplemented("account_history"))
    }

    /// The mempool's admission test: `txs` in order against the tip, each on the state left by
    /// the earlier accepted ones.
    async fn check_transactions(&self, txs: &[SealedTransaction]) -> LedgerResult<CheckedTransactions>;

    /// Executes a candidate block on the tip without writing. `draft` (a proposer building):
    /// the header's Merkle root and state commitment are not checked and the answer gives them.
    async fn execute_block(&self, block: &SealedBlock, draft: bool) -> LedgerResult<Execution>;

    /// Applies a finalized block with its commit certificate (verified by the ledger) and makes
    /// it the tip. Idempotent.
    async fn apply_block(&self, block: &SealedBlock, certificate: &CommitCertificate) -> LedgerResult<Applied>;

    /// Catch-up: applies consecutive finalized blocks with their certificates, each checked as
    /// by [`Self::apply_block`], the ledger free to commit several in one storage transaction
    /// (the ledger core does, within bounds; readers still see whole blocks). For blocks behind
    /// the chain's tip (sync), never for the live path. Stops at the first refused block (the
    /// ones before it stay applied). The tip after the call. Default (a remote ledger): one
    /// `apply_block` each.
    async fn apply_blocks(&self, blocks: &[(SealedBlock, CommitCertificate)]) -> LedgerResult<Tip> {
        let mut tip = None;
        for (block, certificate) in blocks {
            tip = Some(self.apply_block(block, certificate).await?.tip);
        }
        match tip {
            Some(tip) => Ok(tip),
            None => self.tip().await,
        }
    }

    /// Stores evidence once; `false` when it was stored before.
    async fn record_evidence(&self, evidence: &Evidence, detected_at_ms: UnixMillis) -> LedgerResult<bool>;

    /// The newest `limit` (1 to 10,000) stored records, oldest first.
    async fn recorded_evidence(&self, limit: u32) -> LedgerResult<Vec<(Evidence, UnixMillis)>>;

    /// The verified-signature cache of a ledger in this process, for the node's other checks
    /// of transactions (gossip validation) to share: `None` for a remote ledger (a verdict is
    /// never taken from another process's word).
    fn verified_signatures(&self) -> Option<std::sync::Arc<coinjecture_primitives::VerifiedSignatures>> {
        None
    }
}

// ---- wire conversions (the ledger's server and RemoteLedger both use these) ----

/// A stored block as the wire's `Block` (certificate included).
pub fn block_to_pb(stored: &StoredBlock) -> pb::Block {
    let mut block = pb::Block::from(&stored.block);
    block.commit_certificate = stored.certificate.as_ref().map(Into::into);
    block
}

/// A wire block with its hash as a stored block (the hash is recomputed from the header, not
/// trusted); `field` prefixes conversion errors.
pub fn stored_block_from_pb(block: &pb::Block, field: &str) -> Result<StoredBlock, ConversionError> {
    let certificate = block
        .commit_certificate
        .as_ref()
        .map(CommitCertificate::try_from)
        .transpose()
        .map_err(|e| e.within(&format!("{field}.commit_certificate")))?;
    let block = Block::try_from(block).map_err(|e| e.within(field))?;
    Ok(StoredBlock { height: block.header.block_index, hash: block.hash(), block, certificate })
}

/// A full range item on the wire.
pub fn range_item_to_pb(stored: &StoredBlock) -> pb::GetBlockRangeResponse {
    pb::GetBlockRangeResponse {
        block: Some(block_to_pb(stored)),
        block_hash: stored.hash.0.to_vec(),
        transaction_count: u32::try_from(stored.block.transactions.len()).unwrap_or(u32::MAX),
        transaction_hashes: Vec::new(),
        transactions_bytes: 0,
    }
}

/// A headers-only range item on the wire: the block without its transactions.
pub fn header_to_pb(stored: &StoredHeader) -> pb::GetBlockRangeResponse {
    let block = pb::Block {
        header: Some((&stored.header).into()),
        transactions: Vec::new(),
        commit_certificate: stored.certificate.as_ref().map(Into::into),
        work: None,
    };
    pb::GetBlockRangeResponse {
        block: Some(block),
        block_hash: stored.hash.0.to_vec(),
        transaction_count: stored.transaction_count,
        transaction_hashes: stored.transaction_hashes.iter().flatten().map(|h| h.0.to_vec()).collect(),
        transactions_bytes: stored.transactions_bytes.unwrap_or(0),
    }
}

/// A headers-only range item from the wire.
pub fn header_from_pb(item: &pb::GetBlockRangeResponse, extras: HeaderExtras) -> Result<StoredHeader, ConversionError> {
    let block = item.block.as_ref().ok_or_else(|| ConversionError::new("block", "is required"))?;
    let header = block.header.as_ref().ok_or_else(|| ConversionError::new("block.header", "is required"))?;
    let header = BlockHeader::try_from(header).map_err(|e| e.within("block.header"))?;
    let certificate = block
        .commit_certificate
        .as_ref()
        .map(CommitCertificate::try_from)
        .transpose()
        .map_err(|e| e.within("block.commit_certificate"))?;
    let transaction_hashes = match extras {
        HeaderExtras::Hashes => Some(
            item.transaction_hashes
                .iter()
                .enumerate()
                .map(|(i, h)| convert::hash32(h, &format!("transaction_hashes[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        _ => None,
    };
    Ok(StoredHeader {
        height: header.block_index,
        hash: header.hash(),
        header,
        certificate,
        transaction_count: item.transaction_count,
        transaction_hashes,
        transactions_bytes: (extras == HeaderExtras::Sizes).then_some(item.transactions_bytes),
    })
}

/// The wire request of a headers-only range.
pub fn headers_request(from: Height, limit: u32, extras: HeaderExtras) -> pb::GetBlockRangeRequest {
    pb::GetBlockRangeRequest {
        from_height: from.get(),
        limit,
        headers_only: true,
        with_transaction_hashes: extras == HeaderExtras::Hashes,
        with_transactions_bytes: extras == HeaderExtras::Sizes,
    }
}

/// What a wire range request asks for: `None` for full blocks, else the headers' extras.
pub fn range_request_extras(request: &pb::GetBlockRangeRequest) -> Option<HeaderExtras> {
    match (request.headers_only, request.with_transaction_hashes, request.with_transactions_bytes) {
        (false, _, _) => None,
        (true, true, _) => Some(HeaderExtras::Hashes),
        (true, false, true) => Some(HeaderExtras::Sizes),
        (true, false, false) => Some(HeaderExtras::None),
    }
}

/// An indexed transaction on the wire.
pub fn indexed_to_pb(t: &IndexedTransaction) -> pb::IndexedTransaction {
    pb::IndexedTransaction {
        transaction: Some((&t.transaction).into()),
        tx_hash: t.tx_hash.0.to_vec(),
        block_height: t.block_height.get(),
        block_hash: t.block_hash.0.to_vec(),
        index: t.index,
    }
}

/// An indexed transaction from the wire.
pub fn indexed_from_pb(t: &pb::IndexedTransaction) -> Result<IndexedTransaction, ConversionError> {
    let transaction = t.transaction.as_ref().ok_or_else(|| ConversionError::new("transaction", "is required"))?;
    Ok(IndexedTransaction {
        transaction: Transaction::try_from(transaction).map_err(|e| e.within("transaction"))?,
        tx_hash: convert::hash32(&t.tx_hash, "tx_hash")?,
        block_height: Height(t.block_height),
        block_hash: convert::hash32(&t.block_hash, "block_hash")?,
        index: t.index,
    })
}

/// An account on the wire.
pub fn account_to_pb(a: &AccountAtTip) -> pb::LedgerGetAccountResponse {
    pb::LedgerGetAccountResponse {
        account: Some(pb::Account { address: a.address.0.to_vec(), balance: a.balance, nonce: a.nonce }),
        height: a.height.get(),
    }
}

/// A transaction verdict on the wire.
pub fn checked_to_pb(c: &CheckedTransaction) -> pb::TransactionResult {
    convert::transaction_result(&c.verdict, c.tx_hash.map(|h| h.0.to_vec()).unwrap_or_default())
}

/// A transaction verdict from the wire.
pub fn checked_from_pb(r: &pb::TransactionResult) -> CheckedTransaction {
    CheckedTransaction { tx_hash: convert::hash32(&r.tx_hash, "tx_hash").ok(), verdict: convert::verdict(r) }
}

impl From<BlockRejectReason> for pb::BlockRejectReason {
    fn from(r: BlockRejectReason) -> Self {
        use BlockRejectReason as R;
        match r {
            R::MalformedHeader => Self::MalformedHeader,
            R::BadTimestamp => Self::BadTimestamp,
            R::BadMerkleRoot => Self::BadMerkleRoot,
            R::BadStateCommitment => Self::BadStateCommitment,
            R::InvalidTransaction => Self::InvalidTransaction,
            R::BadWork => Self::BadWork,
            R::TooLarge => Self::TooLarge,
        }
    }
}

/// The domain reason of a wire block reason; `None` for `UNSPECIFIED`.
pub fn block_reject_reason(r: pb::BlockRejectReason) -> Option<BlockRejectReason> {
    use BlockRejectReason as R;
    use pb::BlockRejectReason as W;
    Some(match r {
        W::Unspecified => return None,
        W::MalformedHeader => R::MalformedHeader,
        W::BadTimestamp => R::BadTimestamp,
        W::BadMerkleRoot => R::BadMerkleRoot,
        W::BadStateCommitment => R::BadStateCommitment,
        W::InvalidTransaction => R::InvalidTransaction,
        W::BadWork => R::BadWork,
        W::TooLarge => R::TooLarge,
    })
}

/// An execution on the wire.
pub fn execution_to_pb(e: &Execution) -> pb::ExecuteBlockResponse {
    pb::ExecuteBlockResponse {
        valid: e.is_valid(),
        reason: e.rejection.as_ref().map_or(pb::BlockRejectReason::Unspecified, |r| r.reason.into()).into(),
        message: e.rejection.as_ref().map(|r| r.message.clone()).unwrap_or_default(),
        state_commitment: e.state_commitment.map(|h| h.0.to_vec()).unwrap_or_default(),
        merkle_root: e.merkle_root.map(|h| h.0.to_vec()).unwrap_or_default(),
        results: e.results.iter().map(checked_to_pb).collect(),
    }
}

/// An execution from the wire (an invalid answer without a known reason reads as
/// `InvalidTransaction`, keeping its message).
pub fn execution_from_pb(r: &pb::ExecuteBlockResponse) -> Execution {
    let hash = |b: &[u8]| convert::hash32(b, "").ok();
    let rejection = (!r.valid).then(|| BlockRejection {
        reason: pb::BlockRejectReason::try_from(r.reason)
            .ok()
            .and_then(block_reject_reason)
            .unwrap_or(BlockRejectReason::InvalidTransaction),
        message: r.message.clone(),
    });
    Execution {
        rejection,
        state_commitment: hash(&r.state_commitment),
        merkle_root: hash(&r.merkle_root),
        results: r.results.iter().map(checked_from_pb).collect(),
    }
}

/// A tip on the wire's `ApplyBlockResponse`.
pub fn applied_to_pb(a: &Applied) -> pb::ApplyBlockResponse {
    pb::ApplyBlockResponse {
        tip_height: a.tip.height.get(),
        tip_hash: a.tip.hash.0.to_vec(),
        state_commitment: a.tip.state_commitment.0.to_vec(),
        already_applied: a.already_applied,
    }
}

/// Chain info on the wire (the wire's tip time is in seconds).
pub fn chain_info_to_pb(info: &ChainInfo) -> pb::GetChainInfoResponse {
    pb::GetChainInfoResponse {
        chain_id: info.chain_id.to_string(),
        genesis_hash: info.genesis_hash.0.to_vec(),
        tip_height: info.tip.height.get(),
        tip_hash: info.tip.hash.0.to_vec(),
        tip_timestamp: info.tip.timestamp_ms.whole_secs(),
        state_commitment: info.tip.state_commitment.0.to_vec(),
        oldest_block_height: info.oldest_block.into(),
    }
}

/// Evidence as the wire's `RecordEvidenceRequest`.
pub fn evidence_request(evidence: &Evidence, detected_at_ms: UnixMillis) -> pb::RecordEvidenceRequest {
    pb::RecordEvidenceRequest { evidence: evidence.encode(), detected_at_ms: detected_at_ms.get() }
}

// ---- the remote implementation ----

/// The ledger in another process, over the generated `Ledger` client (built with
/// [`crate::client::connect`], message limit [`MESSAGE_LIMIT`] both ways).
#[derive(Debug, Clone)]
pub struct RemoteLedger {
    client: LedgerClient<TracedChannel>,
}

impl RemoteLedger {
    /// A remote ledger over `channel`.
    pub fn new(channel: TracedChannel) -> Self {
        Self {
            client: LedgerClient::new(channel)
                .max_decoding_message_size(MESSAGE_LIMIT)
                .max_encoding_message_size(MESSAGE_LIMIT),
        }
    }

    /// A remote ledger at `endpoint` (connects lazily: calls fail with
    /// [`LedgerPortError::Unavailable`] until the ledger is up).
    pub fn connect(endpoint: tonic::transport::Endpoint) -> Self {
        Self::new(crate::client::connect(endpoint))
    }

    fn client(&self) -> LedgerClient<TracedChannel> {
        self.client.clone()
    }

    /// `GetChainInfo` and the tip from it: the wire's chain info has the tip time in seconds, the
    /// tip block has the milliseconds (a second call).
    async fn info_and_tip(&self) -> LedgerResult<(pb::GetChainInfoResponse, Tip)> {
        let call = "GetChainInfo";
        let info = self
            .client()
            .get_chain_info(pb::GetChainInfoRequest {})
            .await
            .map_err(|s| LedgerPortError::from_status(call, s))?
            .into_inner();
        let state_commitment = convert::hash32(&info.state_commitment, "state_commitment")
            .map_err(|e| LedgerPortError::malformed_answer(call, e))?;
        let block = self.block_by_height(Height(info.tip_height)).await?.ok_or_else(|| {
            LedgerPortError::Internal(format!("the ledger's tip block {} is not served", info.tip_height))
        })?;
        let tip = Tip {
            height: block.height,
            hash: block.hash,
            timestamp_ms: block.block.header.timestamp_ms(),
            state_commitment,
        };
        Ok((info, tip))
    }

    /// Collects a range stream (stopping at `max_bytes` of transactions, at least one block).
    async fn range(
        &self,
        request: pb::GetBlockRangeRequest,
        max_bytes: usize,
    ) -> LedgerResult<Vec<pb::GetBlockRangeResponse>> {
        let status = |s| LedgerPortError::from_status("GetBlockRange", s);
        let mut stream = self.client().get_block_range(request).await.map_err(status)?.into_inner();
        let mut items = Vec::new();
        let mut bytes = 0usize;
        // Dropping the stream early cancels the rest of the range.
        while bytes < max_bytes {
            match stream.message().await.map_err(status)? {
                Some(item) => {
                    bytes += item.block.as_ref().map_or(0, |b| b.encoded_len());
                    items.push(item);
                }
                None => break,
            }
        }
        Ok(items)
    }
}

#[tonic::async_trait]
impl LedgerPort for RemoteLedger {
    async fn chain_info(&self) -> LedgerResult<ChainInfo> {
        let (info, tip) = self.info_and_tip().await?;
        let malformed = |e| LedgerPortError::malformed_answer("GetChainInfo", e);
        let chain_id =
            ChainId::new(&info.chain_id).map_err(|e| malformed(ConversionError::new("chain_id", e.to_string())))?;
        let genesis_hash = convert::hash32(&info.genesis_hash, "genesis_hash").map_err(malformed)?;
        Ok(ChainInfo { chain_id, genesis_hash, tip, oldest_block: Height(info.oldest_block_height) })
    }

    async fn tip(&self) -> LedgerResult<Tip> {
        Ok(self.info_and_tip().await?.1)
    }

    async fn block_by_height(&self, height: Height) -> LedgerResult<Option<StoredBlock>> {
        let call = "GetBlockByHeight";
        match self.client().get_block_by_height(pb::GetBlockByHeightRequest { height: height.get() }).await {
            Ok(r) => {
                let block = r.into_inner().block.ok_or_else(|| {
                    LedgerPortError::malformed_answer(call, ConversionError::new("block", "is required"))
                })?;
                stored_block_from_pb(&block, "block").map(Some).map_err(|e| LedgerPortError::malformed_answer(call, e))
            }
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(LedgerPortError::from_status(call, s)),
        }
    }

    async fn block_by_hash(&self, hash: &Hash32) -> LedgerResult<Option<StoredBlock>> {
        let call = "GetBlockByHash";
        match self.client().get_block_by_hash(pb::GetBlockByHashRequest { block_hash: hash.0.to_vec() }).await {
            Ok(r) => {
                let block = r.into_inner().block.ok_or_else(|| {
                    LedgerPortError::malformed_answer(call, ConversionError::new("block", "is required"))
                })?;
                stored_block_from_pb(&block, "block").map(Some).map_err(|e| LedgerPortError::malformed_answer(call, e))
            }
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(LedgerPortError::from_status(call, s)),
        }
    }

    async fn blocks(&self, from: Height, limit: u32, max_bytes: usize) -> LedgerResult<Vec<StoredBlock>> {
        let request = pb::GetBlockRangeRequest { from_height: from.get(), limit, ..Default::default() };
        self.range(request, max_bytes)
            .await?
            .iter()
            .map(|item| {
                let block = item.block.as_ref().ok_or_else(|| ConversionError::new("block", "is required"))?;
                stored_block_from_pb(block, "block")
            })
            .collect::<Result<_, _>>()
            .map_err(|e| LedgerPortError::malformed_answer("GetBlockRange", e))
    }

    async fn headers(&self, from: Height, limit: u32, extras: HeaderExtras) -> LedgerResult<Vec<StoredHeader>> {
        self.range(headers_request(from, limit, extras), usize::MAX)
            .await?
            .iter()
            .map(|item| header_from_pb(item, extras))
            .collect::<Result<_, _>>()
            .map_err(|e| LedgerPortError::malformed_answer("GetBlockRange", e))
    }

    async fn transaction(&self, hash: &Hash32) -> LedgerResult<Option<IndexedTransaction>> {
        let call = "GetTransaction";
        match self.client().get_transaction(pb::LedgerGetTransactionRequest { tx_hash: hash.0.to_vec() }).await {
            Ok(r) => {
                let found = r.into_inner().transaction.ok_or_else(|| {
                    LedgerPortError::malformed_answer(call, ConversionError::new("transaction", "is required"))
                })?;
                indexed_from_pb(&found).map(Some).map_err(|e| LedgerPortError::malformed_answer(call, e))
            }
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(LedgerPortError::from_status(call, s)),
        }
    }

    async fn account(&self, address: &PublicKey) -> LedgerResult<AccountAtTip> {
        let r = self
            .client()
            .get_account(pb::LedgerGetAccountRequest { address: address.0.to_vec() })
            .await
            .map_err(|s| LedgerPortError::from_status("GetAccount", s))?
            .into_inner();
        let account = r.account.unwrap_or_default();
        Ok(AccountAtTip { address: *address, balance: account.balance, nonce: account.nonce, height: Height(r.height) })
    }

    async fn account_history(&self, address: &PublicKey, page_token: &[u8], limit: u32) -> LedgerResult<HistoryPage> {
        let call = "GetAccountHistory";
        let request =
            pb::GetAccountHistoryRequest { address: address.0.to_vec(), page_token: page_token.to_vec(), limit };
        let r = self
            .client()
            .get_account_history(request)
            .await
            .map_err(|s| LedgerPortError::from_status(call, s))?
            .into_inner();
        let transactions = r
            .transactions
            .iter()
            .map(indexed_from_pb)
            .collect::<Result<_, _>>()
            .map_err(|e| LedgerPortError::malformed_answer(call, e))?;
        Ok(HistoryPage { transactions, next_page_token: r.next_page_token })
    }

    async fn check_transactions(&self, txs: &[SealedTransaction]) -> LedgerResult<CheckedTransactions> {
        let request =
            pb::CheckTransactionsRequest { transactions: txs.iter().map(|t| t.transaction().into()).collect() };
        let r = self
            .client()
            .check_transactions(request)
            .await
            .map_err(|s| LedgerPortError::from_status("CheckTransactions", s))?
            .into_inner();
        Ok(CheckedTransactions { results: r.results.iter().map(checked_from_pb).collect(), height: Height(r.height) })
    }

    async fn execute_block(&self, block: &SealedBlock, draft: bool) -> LedgerResult<Execution> {
        let request = pb::ExecuteBlockRequest { block: Some(block.block().into()), draft };
        let r = self
            .client()
            .execute_block(request)
            .await
            .map_err(|s| LedgerPortError::from_status("ExecuteBlock", s))?
            .into_inner();
        Ok(execution_from_pb(&r))
    }

    async fn apply_block(&self, block: &SealedBlock, certificate: &CommitCertificate) -> LedgerResult<Applied> {
        let call = "ApplyBlock";
        let request = pb::ApplyBlockRequest { block: Some(convert::finalized_block_to_pb(block.block(), certificate)) };
        let r =
            self.client().apply_block(request).await.map_err(|s| LedgerPortError::from_status(call, s))?.into_inner();
        let malformed = |e| LedgerPortError::malformed_answer(call, e);
        Ok(Applied {
            tip: Tip {
                height: Height(r.tip_height),
                hash: convert::hash32(&r.tip_hash, "tip_hash").map_err(malformed)?,
                // The answer carries no time; the applied block's is the tip's.
                timestamp_ms: if r.tip_height == block.header().block_index.get() {
                    block.header().timestamp_ms()
                } else {
                    UnixMillis::EPOCH
                },
                state_commitment: convert::hash32(&r.state_commitment, "state_commitment").map_err(malformed)?,
            },
            already_applied: r.already_applied,
        })
    }

    async fn record_evidence(&self, evidence: &Evidence, detected_at_ms: UnixMillis) -> LedgerResult<bool> {
        Ok(self
            .client()
            .record_evidence(evidence_request(evidence, detected_at_ms))
            .await
            .map_err(|s| LedgerPortError::from_status("RecordEvidence", s))?
            .into_inner()
            .recorded)
    }

    async fn recorded_evidence(&self, limit: u32) -> LedgerResult<Vec<(Evidence, UnixMillis)>> {
        let r = self
            .client()
            .list_recorded_evidence(pb::ListRecordedEvidenceRequest { limit })
            .await
            .map_err(|s| LedgerPortError::from_status("ListRecordedEvidence", s))?
            .into_inner();
        r.records
            .into_iter()
            .map(|r| {
                Evidence::decode(&r.evidence)
                    .map(|e| (e, UnixMillis(r.detected_at_ms)))
                    .map_err(|e| LedgerPortError::Corrupt(format!("stored evidence does not decode: {e}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use super::*;
    use coinjecture_primitives::{RejectReason, Rejection};

    #[test]
    fn errors_keep_their_kind_across_the_wire() {
        for e in [
            LedgerPortError::InvalidArgument("limit: 0 is not in 1..=1000".into()),
            LedgerPortError::FailedPrecondition("block 9 is not for the next height 3".into()),
            LedgerPortError::Corrupt("block 2 does not match its hash".into()),
            LedgerPortError::Unavailable("not open".into()),
        ] {
            let kind = std::mem::discriminant(&e);
            let message = e.to_string();
            let back = LedgerPortError::from_status("Call", tonic::Status::from(e));
            assert_eq!(std::mem::discriminant(&back), kind, "{back:?}");
            assert!(back.to_string().contains(&message), "{back} keeps {message}");
        }
        let other = LedgerPortError::from_status("GetTip", tonic::Status::internal("disk"));
        assert!(matches!(other, LedgerPortError::Remote { call: "GetTip", .. }), "{other:?}");
        assert!(std::error::Error::source(&other).is_some(), "the status is the source");
    }

    #[test]
    fn an_execution_round_trips_through_the_wire() {
        let e = Execution {
            rejection: Some(BlockRejection {
                reason: BlockRejectReason::BadMerkleRoot,
                message: "header.merkle_root".into(),
            }),
            state_commitment: None,
            merkle_root: Some(Hash32([4; 32])),
            results: vec![
                CheckedTransaction { tx_hash: Some(Hash32([1; 32])), verdict: Ok(()) },
                CheckedTransaction {
                    tx_hash: Some(Hash32([2; 32])),
                    verdict: Err(Rejection::new(RejectReason::NonceTooLow, "nonce 0, expected 1")),
                },
            ],
        };
        let back = execution_from_pb(&execution_to_pb(&e));
        assert_eq!(back, e);
        assert_eq!(back.rejected(), vec![1]);
    }

    #[test]
    fn header_requests_name_their_extras() {
        for extras in [HeaderExtras::None, HeaderExtras::Hashes, HeaderExtras::Sizes] {
            assert_eq!(range_request_extras(&headers_request(Height(3), 10, extras)), Some(extras));
        }
        assert_eq!(range_request_extras(&pb::GetBlockRangeRequest::default()), None);
    }
}
