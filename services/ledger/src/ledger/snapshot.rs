//! State-sync snapshots of this ledger (`ledger.snapshot_interval`, `ledger.snapshots_kept`):
//! made in the background from a read pinned right after a block at a multiple of the interval
//! commits, and installed into an empty ledger by a joining node (see `crate::snapshot`).

use std::collections::BTreeMap;
use std::sync::Arc;

use coinjecture_primitives::{BlockHeader, Height, PoaExtra, PublicKey};

use super::{AccountRow, BlockWrite, Ledger, Store};
use crate::error::LedgerError;
use crate::snapshot::{
    Snapshot, SnapshotError, SnapshotManifest, Snapshots, chunk_accounts, snapshot_root, verify_chunk,
};
use crate::state::AccountState;
use crate::store::Tip;

impl Ledger {
    /// The snapshots this ledger made (empty when `snapshot_interval` is 0).
    pub fn snapshots(&self) -> &Arc<Snapshots> {
        &self.snapshots
    }

    /// Whether a snapshot is made after block `height` (a multiple of a non-zero interval).
    pub(super) fn is_snapshot_height(&self, height: Height) -> bool {
        let interval = self.options.snapshot_interval;
        interval != 0 && height.get().is_multiple_of(interval)
    }

    /// Called with the write lock held, right after block `height` committed: when `height` is
    /// a multiple of the interval, pins a read of the state at `height` (nothing can commit
    /// before the read starts) and computes the snapshot from it in the background.
    pub(super) async fn pin_snapshot(&self, height: Height) {
        if !self.is_snapshot_height(height) {
            return;
        }
        let mut read = match self.read().await {
            Ok(read) => read,
            Err(e) => return tracing::warn!(height = height.get(), error = %e, "snapshot: no read"),
        };
        // The first statement fixes the read's view of the database (WAL): the tip is `height`.
        match Self::tip_in(&mut read).await {
            Ok(tip) if tip.height == height => {}
            Ok(tip) => return tracing::warn!(height = height.get(), tip = tip.height.get(), "snapshot: tip moved"),
            Err(e) => return tracing::warn!(height = height.get(), error = %e, "snapshot: no tip"),
        }
        let snapshots = Arc::clone(&self.snapshots);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match make_snapshot(read, height).await {
                Ok(snapshot) => {
                    tracing::info!(
                        height = height.get(),
                        root = %snapshot.manifest.root,
                        accounts = snapshot.manifest.accounts,
                        chunks = snapshot.chunks.len(),
                        elapsed = ?started.elapsed(),
                        "state snapshot made"
                    );
                    snapshots.add(snapshot);
                }
                Err(e) => tracing::warn!(height = height.get(), error = %e, "state snapshot failed"),
            }
        });
    }

    /// Verifies a manifest against this ledger's chain and validator schedule: chunk hashes
    /// give the root, attestations by a quorum of the set at its height with valid signatures,
    /// and the header's commit certificate. Errors name the problem.
    pub async fn verify_snapshot_manifest(&self, manifest: &SnapshotManifest) -> Result<(), SnapshotError> {
        let height = manifest.height;
        let (message, signatures) = manifest.check(&self.genesis.chain_id, &self.validators)?;
        let valid = self
            .crypto
            .verify_signatures(&message, &signatures)
            .await
            .map_err(|e| SnapshotError::Install { height, reason: format!("crypto-core: {e}") })?;
        if let Some(((validator, _), _)) = signatures.iter().zip(&valid).find(|(_, ok)| !**ok) {
            return Err(SnapshotError::ForgedAttestation { height, validator: *validator });
        }
        match self.verify_certificate(height, &manifest.header.hash(), &manifest.certificate).await {
            Ok(()) => Ok(()),
            Err(LedgerError::BadCertificate { source, .. }) => {
                Err(SnapshotError::BadCertificate { height, reason: source.to_string() })
            }
            Err(e) => Err(SnapshotError::BadCertificate { height, reason: e.to_string() }),
        }
    }

    /// Installs a verified snapshot (see [`Self::verify_snapshot_manifest`]) into this ledger,
    /// which must hold genesis only: every chunk is checked against the manifest, the accounts
    /// written, block `height`'s header and certificate stored as the tip, and the ledger marked
    /// pruned below `height + 1` — all in one SQLite transaction, so a crash leaves either the
    /// empty ledger or the installed one. The next block's state commitment continues from the
    /// header's.
    pub async fn install_snapshot(&self, manifest: &SnapshotManifest, chunks: &[Vec<u8>]) -> Result<Tip, LedgerError> {
        let height = manifest.height;
        let install = |reason: String| LedgerError::Snapshot(SnapshotError::Install { height, reason });
        if chunks.len() != manifest.chunk_hashes.len() {
            return Err(install(format!("{} chunks for a manifest of {}", chunks.len(), manifest.chunk_hashes.len())));
        }
        if snapshot_root(&manifest.chunk_hashes) != manifest.root {
            return Err(LedgerError::Snapshot(SnapshotError::WrongRoot {
                height,
                chunks: manifest.chunk_hashes.len(),
                root: manifest.root,
                computed: snapshot_root(&manifest.chunk_hashes),
            }));
        }
        let mut rows: Vec<(PublicKey, AccountRow)> = Vec::with_capacity(manifest.accounts as usize);
        for (index, bytes) in chunks.iter().enumerate() {
            let accounts = verify_chunk(manifest, index, bytes)?;
            if let (Some((last, _)), Some((first, _))) = (rows.last(), accounts.first())
                && last >= first
            {
                return Err(LedgerError::Snapshot(SnapshotError::BadChunk {
                    index,
                    reason: format!("its first account {first} is not above the previous chunk's last"),
                }));
            }
            rows.extend(accounts.into_iter().map(|(a, state)| (a, AccountRow { state, last_tx: None })));
        }
        if rows.len() as u64 != manifest.accounts {
            return Err(install(format!(
                "the chunks hold {} accounts, the manifest says {}",
                rows.len(),
                manifest.accounts
            )));
        }
        let header: &BlockHeader = &manifest.header;
        let extra =
            PoaExtra::decode_at(&header.extra_data, height).map_err(|e| install(format!("header extra_data: {e}")))?;
        let hash = header.hash();

        let writer = self.write_lock.lock().await;
        let mut tx =
            self.store.pool.begin_with("BEGIN IMMEDIATE").await.map_err(LedgerError::db("starting a write"))?;
        let tip = Self::tip_in(&mut tx).await?;
        if tip.height != Height(0) {
            return Err(install(format!("the ledger is not empty: its tip is block {}", tip.height)));
        }
        let write = BlockWrite {
            height,
            hash,
            header,
            certificate: Some(&manifest.certificate),
            timestamp_ms: header.timestamp_ms().get(),
            state_commitment: extra.state_commitment,
            transactions: &[],
            tx_encodings: &[],
            tx_hashes: &[],
            era: writer.era,
            tx_links: &[],
            accounts: &[],
        };
        Store::write_block(&mut tx, &write).await?;
        Store::write_accounts(&mut tx, &rows).await?;
        Store::set_oldest_kept(&mut tx, height.next()).await?;
        let tip = Self::tip_in(&mut tx).await?;
        tx.commit().await.map_err(LedgerError::db("committing the snapshot"))?;
        self.oldest.store(height.next().get(), std::sync::atomic::Ordering::Release);
        let mut read = self.read().await?;
        let tip_now = Self::tip_in(&mut read).await?;
        self.load_journal(&mut read, &tip_now).await?;
        drop(writer);
        self.spawn_checkpoint();
        tracing::info!(height = height.get(), root = %manifest.root, accounts = rows.len(), "state snapshot installed");
        Ok(tip)
    }
}

/// Reads the state at `height` from a pinned read (the `accounts` table overlaid with the
/// journal rows, which are all at or below `height` in this read) and cuts the snapshot.
async fn make_snapshot(
    mut read: sqlx::Transaction<'static, sqlx::Sqlite>,
    height: Height,
) -> Result<Snapshot, LedgerError> {
    let table = Store::all_accounts(&mut read).await?;
    let (journal, _, _) = Store::read_journal(&mut read).await?;
    let (header, certificate) = Store::header_at(&mut read, height)
        .await?
        .ok_or_else(|| LedgerError::Corrupt(format!("snapshot: block {height} vanished")))?;
    drop(read);
    let certificate =
        certificate.ok_or_else(|| LedgerError::Corrupt(format!("snapshot: block {height} has no certificate")))?;
    tokio::task::spawn_blocking(move || {
        let mut state: BTreeMap<PublicKey, AccountState> = table.into_iter().collect();
        state.extend(journal.into_iter().map(|(a, row)| (a, row.state)));
        let accounts: Vec<(PublicKey, AccountState)> = state.into_iter().collect();
        let (chunks, chunk_hashes) = chunk_accounts(&accounts);
        let root = snapshot_root(&chunk_hashes);
        Snapshot {
            manifest: SnapshotManifest {
                height,
                root,
                accounts: accounts.len() as u64,
                chunk_hashes,
                header,
                certificate,
                attestations: Vec::new(),
            },
            chunks,
        }
    })
    .await
    .map_err(|e| LedgerError::Corrupt(format!("snapshot task: {e}")))
}
