//! Stored data is verified when read: every transaction row served is checked against its
//! stored hash key, every block against its stored hash (the header's SHA-256), its Merkle root
//! and its row count, before it leaves the ledger. SQLite has no page checksums: a flipped bit
//! in a row passes `PRAGMA integrity_check` and would otherwise be served as chain data.
//!
//! A mismatch is a [`LedgerError::Corrupt`] naming the block height and the row (DATA_LOSS over
//! gRPC), logged, and counted in `coinjecture_ledger_corrupt_reads_total`.

use std::sync::LazyLock;

use coinjecture_crypto_core::merkle::merkle_root;
use coinjecture_primitives::{BlockHeader, CommitCertificate, Hash32, Height, Transaction, limits, sha256};
use prometheus_client::metrics::counter::Counter;

use crate::error::LedgerError;
use crate::store::hash_key;

/// The metric [`register_metrics`] registers (Prometheus adds `_total` to a counter's name).
pub const CORRUPT_READS_METRIC: &str = "coinjecture_ledger_corrupt_reads";

/// Reads that found stored data not matching its hashes, in this process.
static CORRUPT_READS: LazyLock<Counter> = LazyLock::new(Counter::default);

/// Finalized blocks and their transactions applied by this process (throughput: blocks and
/// transactions per second are their rates).
static BLOCKS_APPLIED: LazyLock<Counter> = LazyLock::new(Counter::default);
static TRANSACTIONS_APPLIED: LazyLock<Counter> = LazyLock::new(Counter::default);
static TRANSACTIONS_ASSUMED_VALID: LazyLock<Counter> = LazyLock::new(Counter::default);
static TRANSACTIONS_PRUNED: LazyLock<Counter> = LazyLock::new(Counter::default);

/// Registers `coinjecture_ledger_corrupt_reads_total` (blocks or transactions read from the
/// database that did not match their stored hashes; each such read was refused), and
/// `coinjecture_ledger_blocks_applied_total` / `coinjecture_ledger_transactions_applied_total`
/// (finalized blocks and transactions this process applied: their rates are the chain's block
/// rate and TPS).
pub fn register_metrics(registry: &mut prometheus_client::registry::Registry) {
    registry.register(
        CORRUPT_READS_METRIC,
        "Blocks or transactions read from the ledger database that did not match their stored hashes (each read was refused)",
        CORRUPT_READS.clone(),
    );
    registry.register(
        "coinjecture_ledger_blocks_applied",
        "Finalized blocks applied to the ledger by this process",
        BLOCKS_APPLIED.clone(),
    );
    registry.register(
        "coinjecture_ledger_transactions_applied",
        "Transactions of finalized blocks applied to the ledger by this process (its rate is the chain's TPS)",
        TRANSACTIONS_APPLIED.clone(),
    );
    registry.register(
        "coinjecture_ledger_transactions_assumed_valid",
        "Transactions of certified blocks applied without verifying their signatures (ledger.assume_valid_height)",
        TRANSACTIONS_ASSUMED_VALID.clone(),
    );
    registry.register(
        "coinjecture_ledger_transactions_pruned",
        "Transactions of old blocks deleted by pruning (ledger.keep_blocks)",
        TRANSACTIONS_PRUNED.clone(),
    );
}

/// Counts transactions applied without verifying their signatures (assume-valid).
pub(crate) fn count_assumed_valid(transactions: usize) {
    TRANSACTIONS_ASSUMED_VALID.inc_by(transactions as u64);
}

/// Counts transactions deleted by pruning.
pub(crate) fn count_pruned(transactions: u64) {
    TRANSACTIONS_PRUNED.inc_by(transactions);
}

/// Counts a block (with `transactions`) applied.
pub(crate) fn count_applied(transactions: usize) {
    BLOCKS_APPLIED.inc();
    TRANSACTIONS_APPLIED.inc_by(transactions as u64);
}

/// How many corrupt reads this process has refused.
pub fn corrupt_reads() -> u64 {
    CORRUPT_READS.get()
}

/// A corrupt read: counted, logged, returned as the error the caller gets.
pub(crate) fn corrupt_read(message: String) -> LedgerError {
    CORRUPT_READS.inc();
    tracing::error!(problem = %message, "corrupt data in the ledger database: not served");
    LedgerError::Corrupt(message)
}

/// Where a transaction row belongs, for messages: `block 123 transaction 456 (transactions row
/// position 8061422024)`.
pub(crate) fn row_name(position: i64) -> String {
    format!(
        "block {} transaction {} (transactions row position {position})",
        position >> crate::store::INDEX_BITS,
        position & ((1 << crate::store::INDEX_BITS) - 1)
    )
}

/// The hash of a transaction row, checked against its stored hash key (not decoded).
pub(crate) fn transaction_hash(position: i64, stored_key: i64, encoded: &[u8]) -> Result<Hash32, LedgerError> {
    let hash = sha256(encoded);
    if hash_key(&hash) != stored_key {
        return Err(corrupt_read(format!(
            "{}: the stored encoding hashes to {hash}, which does not match the row's stored hash key {stored_key:#018x}",
            row_name(position)
        )));
    }
    Ok(hash)
}

/// Decodes a transaction row and checks it against its stored hash key; returns the
/// transaction and its hash.
pub(crate) fn transaction_row(
    position: i64,
    stored_key: i64,
    encoded: &[u8],
) -> Result<(Transaction, Hash32), LedgerError> {
    let hash = transaction_hash(position, stored_key, encoded)?;
    let transaction = Transaction::decode(encoded).map_err(|e| corrupt_read(format!("{}: {e}", row_name(position))))?;
    Ok((transaction, hash))
}

/// A stored block row, checked: its header hashes to the stored hash and names the stored
/// height, its transactions (already checked one by one) are as many as the row says and have
/// the header's Merkle root, and its certificate names it.
pub(crate) struct BlockRow<'a> {
    pub(crate) height: Height,
    pub(crate) hash: Hash32,
    pub(crate) header_bytes: &'a [u8],
    pub(crate) tx_count: i64,
    pub(crate) certificate: Option<&'a [u8]>,
}

impl BlockRow<'_> {
    /// The decoded header and certificate, once everything matches.
    pub(crate) fn check(&self, tx_hashes: &[Hash32]) -> Result<(BlockHeader, Option<CommitCertificate>), LedgerError> {
        let height = self.height;
        let (header, certificate) = self.check_header()?;
        if i64::try_from(tx_hashes.len()).ok() != Some(self.tx_count) {
            return Err(corrupt_read(format!(
                "block {height}: {} transactions rows are stored, the block row says {}",
                tx_hashes.len(),
                self.tx_count
            )));
        }
        let root = merkle_root(tx_hashes);
        if root != header.merkle_root {
            return Err(corrupt_read(format!(
                "block {height}: its stored transactions have Merkle root {root}, the header says {}",
                header.merkle_root
            )));
        }
        Ok((header, certificate))
    }

    /// The decoded header and certificate, checked without the transactions: the header
    /// hashes to the stored hash and names the stored height, the certificate names the block,
    /// and the row's transaction count is possible. What a headers-only read can check.
    pub(crate) fn check_header(&self) -> Result<(BlockHeader, Option<CommitCertificate>), LedgerError> {
        let height = self.height;
        if !(0..=limits::MAX_BLOCK_TRANSACTIONS as i64).contains(&self.tx_count) {
            return Err(corrupt_read(format!(
                "block {height} (blocks row {height}): the row says {} transactions",
                self.tx_count
            )));
        }
        let computed = sha256(self.header_bytes);
        if computed != self.hash {
            return Err(corrupt_read(format!(
                "block {height} (blocks row {height}): the stored header hashes to {computed}, the stored block hash is {}",
                self.hash
            )));
        }
        let header = BlockHeader::decode(self.header_bytes)
            .map_err(|e| corrupt_read(format!("block {height} (blocks row {height}): header: {e}")))?;
        if header.block_index != height {
            return Err(corrupt_read(format!(
                "block {height} (blocks row {height}): the stored header is for height {}",
                header.block_index
            )));
        }
        let certificate = self
            .certificate
            .map(CommitCertificate::decode)
            .transpose()
            .map_err(|e| corrupt_read(format!("block {height} (blocks row {height}): certificate: {e}")))?;
        if let Some(c) = &certificate
            && (c.height != height || c.block_hash != self.hash)
        {
            return Err(corrupt_read(format!(
                "block {height} (blocks row {height}): the stored certificate names block {} at height {}",
                c.block_hash, c.height
            )));
        }
        Ok((header, certificate))
    }
}
