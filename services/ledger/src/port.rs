//! The ledger core behind its port: [`Ledger`] implements
//! [`coinjecture_proto::ports::ledger::LedgerPort`], so a caller in the same process holds
//! `Arc<Ledger>` as its `Arc<dyn LedgerPort>` (no protobuf, sealed values as they are), and the
//! gRPC server ([`crate::service`]) serves the same methods to remote callers.

use coinjecture_primitives::UnixMillis;
use coinjecture_primitives::consensus::Evidence;
use coinjecture_primitives::{CommitCertificate, Hash32, Height, PublicKey, SealedBlock, SealedTransaction, limits};
use coinjecture_proto::ports::ledger::{
    AccountAtTip, Applied, BLOCK_OVERHEAD_BYTES, ChainInfo, CheckedTransaction, CheckedTransactions, Execution,
    HeaderExtras, HistoryPage, IndexedTransaction, LedgerPort, LedgerPortError, LedgerResult, StoredBlock,
    StoredHeader, Tip,
};

use crate::error::LedgerError;
use crate::execute;
use crate::ledger::{BlockExecution, DEFAULT_HISTORY_PAGE, HistoryCursor, Ledger, MAX_BLOCK_RANGE, MAX_HISTORY_PAGE};

/// Blocks read per database query while collecting a byte-bounded range.
const RANGE_READ_CHUNK: u32 = 8;

impl From<LedgerError> for LedgerPortError {
    fn from(e: LedgerError) -> Self {
        let message = e.to_string();
        match e {
            LedgerError::InvalidArgument { .. } | LedgerError::Genesis(_) => Self::InvalidArgument(message),
            LedgerError::NotNextHeight { .. }
            | LedgerError::ConflictingBlock { .. }
            | LedgerError::WrongParent { .. }
            | LedgerError::InvalidBlock { .. }
            | LedgerError::BadCertificate { .. }
            | LedgerError::Snapshot(_)
            | LedgerError::GenesisMismatch { .. } => Self::FailedPrecondition(message),
            LedgerError::Crypto(e) if e.is_unavailable() => Self::Unavailable(message),
            LedgerError::Corrupt(_) | LedgerError::CorruptValue { .. } | LedgerError::StoredCertificate { .. } => {
                Self::Corrupt(message)
            }
            LedgerError::Open { .. } => Self::Unavailable(message),
            LedgerError::Crypto(_) | LedgerError::Database { .. } => Self::Internal(message),
            LedgerError::Pruned { height, oldest } => Self::Pruned { height, oldest, message },
        }
    }
}

/// The ledger's verdict in the port's terms.
pub(crate) fn checked(v: &execute::TxVerdict) -> CheckedTransaction {
    CheckedTransaction { tx_hash: v.tx_hash, verdict: v.rejection.clone().map_or(Ok(()), Err) }
}

/// A block execution in the port's terms.
pub(crate) fn execution(e: &BlockExecution) -> Execution {
    Execution {
        rejection: e.rejection.clone(),
        state_commitment: e.state_commitment,
        merkle_root: e.merkle_root,
        results: e.verdicts.iter().map(checked).collect(),
    }
}

#[tonic::async_trait]
impl LedgerPort for Ledger {
    fn verified_signatures(&self) -> Option<std::sync::Arc<coinjecture_primitives::VerifiedSignatures>> {
        Some(Ledger::verified_signatures(self))
    }

    async fn chain_info(&self) -> LedgerResult<ChainInfo> {
        Ok(Ledger::chain_info(self).await?)
    }

    async fn tip(&self) -> LedgerResult<Tip> {
        Ok(Ledger::tip(self).await?)
    }

    async fn block_by_height(&self, height: Height) -> LedgerResult<Option<StoredBlock>> {
        Ok(Ledger::block_by_height(self, height).await?)
    }

    async fn block_by_hash(&self, hash: &Hash32) -> LedgerResult<Option<StoredBlock>> {
        Ok(Ledger::block_by_hash(self, hash).await?)
    }

    async fn blocks(&self, from: Height, limit: u32, max_bytes: usize) -> LedgerResult<Vec<StoredBlock>> {
        if limit == 0 || limit > MAX_BLOCK_RANGE {
            return Err(LedgerPortError::InvalidArgument(format!("limit: {limit} is not in 1..={MAX_BLOCK_RANGE}")));
        }
        // A few blocks per read, so a range of large blocks never sits in memory whole.
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut next = from;
        while bytes < max_bytes && out.len() < limit as usize {
            let chunk = (limit - out.len() as u32).min(RANGE_READ_CHUNK);
            let blocks = self.block_range(next, chunk).await?;
            let got = blocks.len();
            for block in blocks {
                if bytes >= max_bytes {
                    break;
                }
                bytes +=
                    BLOCK_OVERHEAD_BYTES + block.block.transactions.iter().map(|t| t.encoded_len_hint()).sum::<usize>();
                out.push(block);
            }
            if got < chunk as usize {
                break; // the tip
            }
            next = next.saturating_add(got as u64);
        }
        Ok(out)
    }

    async fn headers(&self, from: Height, limit: u32, extras: HeaderExtras) -> LedgerResult<Vec<StoredHeader>> {
        Ok(self.header_range_with(from, limit, extras).await?)
    }

    async fn transaction(&self, hash: &Hash32) -> LedgerResult<Option<IndexedTransaction>> {
        Ok(Ledger::transaction(self, hash).await?)
    }

    async fn account(&self, address: &PublicKey) -> LedgerResult<AccountAtTip> {
        let (state, height) = Ledger::account(self, address).await?;
        Ok(AccountAtTip { address: *address, balance: state.balance, nonce: state.nonce, height })
    }

    async fn account_history(&self, address: &PublicKey, page_token: &[u8], limit: u32) -> LedgerResult<HistoryPage> {
        let limit = match limit {
            0 => DEFAULT_HISTORY_PAGE,
            n if n > MAX_HISTORY_PAGE => {
                return Err(LedgerPortError::InvalidArgument(format!(
                    "limit: {n} exceeds the maximum {MAX_HISTORY_PAGE}"
                )));
            }
            n => n,
        };
        let cursor = if page_token.is_empty() { None } else { Some(HistoryCursor::from_token(page_token)?) };
        let page = Ledger::account_history(self, address, cursor, limit).await?;
        Ok(HistoryPage {
            transactions: page.transactions,
            next_page_token: page.next.map(HistoryCursor::to_token).unwrap_or_default(),
        })
    }

    async fn check_transactions(&self, txs: &[SealedTransaction]) -> LedgerResult<CheckedTransactions> {
        if txs.len() > limits::MAX_BATCH_ITEMS {
            return Err(LedgerPortError::InvalidArgument(format!(
                "transactions: {} items exceed the maximum {}",
                txs.len(),
                limits::MAX_BATCH_ITEMS
            )));
        }
        let done = self.check_sealed(txs).await?;
        Ok(CheckedTransactions { results: done.verdicts.iter().map(checked).collect(), height: done.height })
    }

    async fn execute_block(&self, block: &SealedBlock, draft: bool) -> LedgerResult<Execution> {
        let executed = self.execute_block_sealed(block.block(), block.transactions().to_vec(), draft).await?;
        Ok(execution(&executed))
    }

    async fn apply_block(&self, block: &SealedBlock, certificate: &CommitCertificate) -> LedgerResult<Applied> {
        Ok(self.apply_sealed_block(block, certificate).await?)
    }

    async fn apply_blocks(&self, blocks: &[(SealedBlock, CommitCertificate)]) -> LedgerResult<Tip> {
        let done = self.apply_sealed_blocks(blocks, crate::ReplayBatch::default()).await?;
        match done.tip {
            Some(tip) => Ok(tip),
            None => Ok(Ledger::tip(self).await?),
        }
    }

    async fn record_evidence(&self, evidence: &Evidence, detected_at_ms: UnixMillis) -> LedgerResult<bool> {
        Ok(Ledger::record_evidence(self, evidence, detected_at_ms).await?)
    }

    async fn recorded_evidence(&self, limit: u32) -> LedgerResult<Vec<(Evidence, UnixMillis)>> {
        Ok(Ledger::recorded_evidence(self, limit).await?)
    }
}
