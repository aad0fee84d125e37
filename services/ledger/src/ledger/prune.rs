//! Pruning (`ledger.keep_blocks`): the transactions of blocks older than the last `n` are
//! deleted in the background, in bounded steps, each its own SQLite transaction under the
//! write lock, so ApplyBlock waits at most one step. Headers and certificates stay (a few
//! hundred bytes a block), so the chain of hashes and certificates is whole; reading a pruned
//! block's body is [`LedgerError::Pruned`]. SQLite reuses the freed pages for new blocks
//! (`auto_vacuum` is off; the free list is filled before the file grows), so a pruning node's
//! database stops growing once it holds `n` blocks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use coinjecture_primitives::Height;

use super::{EraCursor, Ledger};
use crate::error::LedgerError;
use crate::store::Store;

/// Most transaction rows one pruning step deletes (one SQLite transaction under the write
/// lock: tens of milliseconds). A step deletes at least one whole block.
pub const PRUNE_BATCH_TRANSACTIONS: u64 = 20_000;

/// The least `ledger.keep_blocks`: a peer a few blocks behind, and the consensus engine
/// re-broadcasting a decided block, still find recent blocks.
pub const MIN_KEEP_BLOCKS: u64 = 16;

impl Ledger {
    /// Starts the pruner in the background when pruning is on and blocks below the kept window
    /// of the tip `tip` still have bodies (unless it runs already).
    pub(super) fn spawn_prune(&self, tip: Height) {
        let Some(keep) = self.options.keep_blocks else { return };
        let target = tip.next().saturating_sub(keep);
        if target <= self.oldest_block().max(Height(1)) || self.pruning.swap(true, Ordering::AcqRel) {
            return;
        }
        let (store, writer, oldest, flag) =
            (self.store.clone(), Arc::clone(&self.write_lock), Arc::clone(&self.oldest), Arc::clone(&self.pruning));
        tokio::spawn(async move {
            // Nothing is half-done on failure (each step is one transaction); the next block
            // starts the pruner again.
            if let Err(e) = prune(&store, &writer, &oldest, target).await {
                tracing::warn!(error = %e, target = target.get(), "pruning old blocks failed");
            }
            flag.store(false, Ordering::Release);
            store.checkpoint().await;
        });
    }

    /// Test hook: prunes up to the kept window of the tip now and waits for it.
    #[cfg(feature = "test-utils")]
    pub async fn prune_now_for_tests(&self) -> Result<(), LedgerError> {
        let Some(keep) = self.options.keep_blocks else { return Ok(()) };
        let tip = self.tip().await?.height;
        prune(&self.store, &self.write_lock, &self.oldest, tip.next().saturating_sub(keep)).await
    }

    /// Test hook: true while the background pruner runs.
    #[cfg(feature = "test-utils")]
    pub fn pruning_for_tests(&self) -> bool {
        self.pruning.load(Ordering::Acquire)
    }
}

/// Deletes the bodies of the blocks below `target`, one bounded step at a time.
async fn prune(
    store: &Store,
    writer: &tokio::sync::Mutex<EraCursor>,
    oldest: &AtomicU64,
    target: Height,
) -> Result<(), LedgerError> {
    let started = std::time::Instant::now();
    let mut deleted = 0u64;
    loop {
        let _writer = writer.lock().await;
        if store.pool.is_closed() {
            return Ok(());
        }
        let mut tx = store.pool.begin_with("BEGIN IMMEDIATE").await.map_err(LedgerError::db("starting to prune"))?;
        let current = Store::oldest_kept(&mut tx).await?;
        if current.max(Height(1)) >= target {
            oldest.fetch_max(current.into(), Ordering::AcqRel);
            break;
        }
        let (until, rows) = Store::prune_step(&mut tx, current, target, PRUNE_BATCH_TRANSACTIONS).await?;
        // Raised before the commit: a reader may then refuse a block its snapshot still holds,
        // never read one whose rows are gone.
        oldest.fetch_max(until.into(), Ordering::AcqRel);
        tx.commit().await.map_err(LedgerError::db("committing a pruning step"))?;
        crate::verify::count_pruned(rows);
        deleted += rows;
        // A step rewrites many pages. Checkpointed while no block can be written, the WAL is
        // copied back whole and the next writer starts it from the beginning again; left to the
        // background checkpoint, which races the next blocks, it grew past 25 MB under load.
        store.checkpoint().await;
        drop(_writer);
        tokio::task::yield_now().await;
    }
    if deleted > 0 {
        tracing::debug!(target = target.get(), deleted, elapsed = ?started.elapsed(), "old blocks pruned");
    }
    Ok(())
}
