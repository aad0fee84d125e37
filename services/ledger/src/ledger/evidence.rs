//! Evidence of validator equivocation, recorded by consensus and read back after a restart
//! (table `evidence`, migrations/0005_evidence.sql).

use coinjecture_primitives::{Evidence, UnixMillis, sha256};

use super::Ledger;
use crate::error::LedgerError;

/// Largest encoded evidence accepted (two votes take under 600 bytes, two proposals without
/// transactions a few KiB).
pub(crate) const MAX_EVIDENCE_BYTES: usize = 64 * 1024;

/// Most records one listing returns.
pub(crate) const MAX_EVIDENCE_LIST: u32 = 10_000;

impl Ledger {
    /// Stores `evidence` once; returns false when the same evidence was stored before.
    pub async fn record_evidence(&self, evidence: &Evidence, detected_at_ms: UnixMillis) -> Result<bool, LedgerError> {
        let encoded = evidence.encode();
        let kind: i64 = match evidence {
            Evidence::DuplicateVote { .. } => 1,
            Evidence::DuplicateProposal { .. } => 2,
        };
        let (height, round) = evidence.position();
        let done = sqlx::query(
            "INSERT OR IGNORE INTO evidence (hash, kind, offender, height, round, detected_at_ms, encoded) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(sha256(&encoded).0.to_vec())
        .bind(kind)
        .bind(evidence.offender().0.to_vec())
        .bind(i64::try_from(height).unwrap_or(i64::MAX))
        .bind(i64::from(round.get()))
        .bind(detected_at_ms.get())
        .bind(encoded)
        .execute(&self.store.pool)
        .await
        .map_err(LedgerError::db("recording evidence"))?;
        Ok(done.rows_affected() == 1)
    }

    /// The newest `limit` records (1 to [`MAX_EVIDENCE_LIST`]), oldest first, with detection times.
    pub async fn recorded_evidence(&self, limit: u32) -> Result<Vec<(Evidence, UnixMillis)>, LedgerError> {
        if limit == 0 || limit > MAX_EVIDENCE_LIST {
            return Err(LedgerError::invalid("limit", format!("{limit}: must be 1 to {MAX_EVIDENCE_LIST}")));
        }
        let rows: Vec<(i64, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT id, encoded, detected_at_ms FROM \
             (SELECT id, encoded, detected_at_ms FROM evidence ORDER BY id DESC LIMIT ?) ORDER BY id",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.store.pool)
        .await
        .map_err(LedgerError::db("reading evidence"))?;
        rows.into_iter()
            .map(|(id, bytes, at)| {
                Evidence::decode(&bytes)
                    .map(|e| (e, UnixMillis(at)))
                    .map_err(LedgerError::corrupt_value(format!("evidence row {id} does not decode")))
            })
            .collect()
    }
}
