//! #22 item 3: pruning (`LedgerOptions::keep_blocks`) on real SQLite files. A pruning ledger keeps
//! the state, every header and certificate, and the transactions of the last `n` blocks; reads of
//! older bodies answer [`LedgerError::Pruned`] naming the oldest kept height (gRPC OUT_OF_RANGE
//! with that height in the metadata); its database stops growing while an archive one grows.

use std::path::Path;

use coinjecture_ledger::test_utils::{TestChain, certificate, local_crypto};
use coinjecture_ledger::{Ledger, LedgerError, LedgerOptions, SignatureCheck};
use coinjecture_primitives::{Block, Height};
use coinjecture_proto::ports::ledger::{LedgerPortError, pruned_oldest};

async fn open(path: &Path, chain: &TestChain, keep_blocks: Option<u64>) -> Ledger {
    let options = LedgerOptions { assume_valid_height: Height::GENESIS, keep_blocks, ..Default::default() };
    Ledger::open_with(path, chain.genesis.clone(), chain.validators(), local_crypto(), options).await.unwrap()
}

async fn apply_all(ledger: &Ledger, blocks: &[Block]) {
    for block in blocks {
        ledger
            .apply_block_with(block, &certificate(ledger.chain_id(), block), SignatureCheck::AlreadyVerified)
            .await
            .unwrap();
    }
}

fn assert_pruned<T: std::fmt::Debug>(result: Result<T, LedgerError>, height: u64, oldest: Height) {
    let height = Height(height);
    match result {
        Err(LedgerError::Pruned { height: h, oldest: o }) => assert_eq!((h, o), (height, oldest)),
        other => panic!("expected block {height} pruned (oldest {oldest}), got {other:?}"),
    }
}

#[tokio::test]
async fn a_pruning_ledger_serves_the_last_blocks_and_says_pruned_for_older_ones() {
    const ACCOUNTS: usize = 40;
    const BLOCKS: usize = 60;
    const KEEP: u64 = 16;
    const OLDEST: Height = Height(BLOCKS as u64 + 1 - KEEP); // 45
    let (genesis, blocks) = crate::ring_transfer_blocks("coinjecture-prune", ACCOUNTS, BLOCKS);
    let mut chain = genesis.clone();
    for b in &blocks {
        chain.extend(b);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let ledger = open(&path, &genesis, Some(KEEP)).await;
    // Eras of 200 transactions (5 blocks), so whole eras of the hash index are pruned too.
    ledger.set_era_size_for_tests(200).await;
    apply_all(&ledger, &blocks).await;
    ledger.prune_now_for_tests().await.unwrap();
    assert_eq!(ledger.oldest_block(), OLDEST);
    assert_eq!(ledger.chain_info().await.unwrap().oldest_block, OLDEST);

    // Bodies below the window: a clear error naming the oldest kept height.
    assert_pruned(ledger.block_by_height(Height(1)).await, 1, OLDEST);
    assert_pruned(ledger.block_by_height(Height(OLDEST.get() - 1)).await, OLDEST.get() - 1, OLDEST);
    assert_pruned(ledger.block_by_hash(&blocks[9].hash()).await, 10, OLDEST);
    assert_pruned(ledger.block_range(Height(40), 10).await, 40, OLDEST);
    assert_pruned(ledger.header_range(Height(1), 100, true).await, 1, OLDEST);
    // The window, genesis and every header (with its certificate) are served.
    let kept = ledger.block_range(OLDEST, 100).await.unwrap();
    assert_eq!(kept.len(), KEEP as usize);
    assert_eq!(kept[0].block, blocks[OLDEST.get() as usize - 1]);
    assert_eq!(ledger.block_by_height(Height::GENESIS).await.unwrap().unwrap().height, Height::GENESIS);
    let headers = ledger.header_range(Height(1), 100, false).await.unwrap();
    assert_eq!(headers.len(), BLOCKS);
    assert!(headers.iter().all(|h| h.certificate.is_some()));
    assert_eq!(headers[9].hash, blocks[9].hash());

    // The state is whole; history ends at the window; pruned transactions are not found.
    for a in &chain.accounts {
        assert_eq!(ledger.account(a).await.unwrap().0, chain.account(a));
    }
    let history = ledger.account_history(&chain.accounts[0], None, 1_000).await.unwrap();
    assert!(history.next.is_none(), "history ends at the oldest kept block");
    assert!(!history.transactions.is_empty());
    assert!(history.transactions.iter().all(|t| t.block_height >= OLDEST), "only kept blocks");
    let old_tx = blocks[2].transactions[0].hash();
    assert_eq!(ledger.transaction(&old_tx).await.unwrap(), None);
    let new_tx = blocks[BLOCKS - 1].transactions[3].hash();
    assert_eq!(ledger.transaction(&new_tx).await.unwrap().map(|t| t.block_height), Some(Height(BLOCKS as u64)));

    // The wire: OUT_OF_RANGE with the oldest height in the metadata, and back.
    let status = tonic::Status::from(ledger.block_by_height(Height(3)).await.unwrap_err());
    assert_eq!(status.code(), tonic::Code::OutOfRange);
    assert_eq!(pruned_oldest(&status), Some(OLDEST));
    assert!(status.message().contains(&format!("from height {OLDEST}")), "{}", status.message());
    match LedgerPortError::from_status("GetBlockByHeight", status) {
        LedgerPortError::Pruned { height: Height(3), oldest: OLDEST, .. } => {}
        other => panic!("a pruned status converts back to Pruned, got {other:?}"),
    }

    // Reopened (even as an archive node) it still knows what it pruned, and extends the chain.
    ledger.close().await;
    drop(ledger);
    // `db verify` cannot replay a pruned database from the genesis, and says why.
    match coinjecture_ledger::verify_database(&path, Some(&genesis.genesis), None, |_, _| {}).await {
        Err(LedgerError::Pruned { height: Height(1), oldest: OLDEST }) => {}
        other => panic!("db verify of a pruned database must say it is pruned, got {other:?}"),
    }
    let reopened = open(&path, &genesis, None).await;
    reopened.integrity_check().await.unwrap();
    assert_eq!(reopened.oldest_block(), OLDEST);
    assert_pruned(reopened.block_by_height(Height(5)).await, 5, OLDEST);
    let next = chain.block(vec![chain.next_transfer(0, chain.accounts[1], 1)]);
    reopened
        .apply_block_with(&next, &certificate(reopened.chain_id(), &next), SignatureCheck::AlreadyVerified)
        .await
        .unwrap();
    chain.extend(&next);
    assert_eq!(reopened.tip().await.unwrap(), *chain.tip());
}

#[tokio::test]
async fn a_window_below_the_minimum_is_refused_naming_the_key() {
    let chain = TestChain::new_unsigned("coinjecture-prune-min", 2, 1_000);
    let dir = tempfile::tempdir().unwrap();
    let options = LedgerOptions { assume_valid_height: Height::GENESIS, keep_blocks: Some(2), ..Default::default() };
    let err =
        Ledger::open_with(dir.path().join("l.db"), chain.genesis.clone(), chain.validators(), local_crypto(), options)
            .await
            .unwrap_err()
            .to_string();
    assert!(err.starts_with("ledger.keep_blocks: 2 is below the minimum 16"), "{err}");
}

/// The database file and its WAL, in bytes.
fn size(path: &Path) -> (u64, u64) {
    let wal = path.with_extension("db-wal");
    (std::fs::metadata(path).map(|m| m.len()).unwrap_or(0), std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0))
}

/// Sustained load: the same 240 blocks of 200 transfers (48,000 transactions) applied to an
/// archive ledger and to one keeping 20 blocks. The pruning database file stays within 1.2 times
/// its size at block 60 (SQLite reuses the freed pages: `auto_vacuum` is off, so freed
/// pages go to the free list and new rows fill them before the file grows), while the archive
/// file grows about fourfold. Measured: pruned 1.95 -> 2.08 MB, archive 4.3 -> 16.7 MB.
#[tokio::test]
async fn pruning_keeps_the_database_flat_under_sustained_load_while_an_archive_one_grows() {
    const ACCOUNTS: usize = 200;
    const BLOCKS: usize = 240;
    let (genesis, blocks) = crate::ring_transfer_blocks("coinjecture-prune-flat", ACCOUNTS, BLOCKS);
    let dir = tempfile::tempdir().unwrap();
    let (archive_path, pruned_path) = (dir.path().join("archive.db"), dir.path().join("pruned.db"));
    let archive = open(&archive_path, &genesis, None).await;
    let pruned = open(&pruned_path, &genesis, Some(20)).await;
    for l in [&archive, &pruned] {
        // Small eras and frequent journal folds, as a long run would have them (the defaults
        // are 131,072 transactions and 256 blocks).
        l.set_era_size_for_tests(2_000).await;
        l.set_fold_threshold_for_tests(20, 1_000_000).await;
    }
    // (blocks, archive file, archive WAL, pruned file, pruned WAL), bytes.
    let mut samples = Vec::new();
    for (i, chunk) in blocks.chunks(60).enumerate() {
        apply_all(&archive, chunk).await;
        apply_all(&pruned, chunk).await;
        pruned.prune_now_for_tests().await.unwrap();
        let ((a_db, a_wal), (p_db, p_wal)) = (size(&archive_path), size(&pruned_path));
        samples.push(((i + 1) * 60, a_db, a_wal, p_db, p_wal));
    }
    println!("(blocks, archive file, archive WAL, pruned file, pruned WAL): {samples:?}");
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    assert!(last.1 > 3 * first.1, "the archive file grows with the chain: {samples:?}");
    assert!(last.3 as f64 <= 1.2 * first.3 as f64, "the pruned file stays flat: {samples:?}");
    // The WAL is reused from its start after each checkpoint: its size is the most written
    // between two checkpoints (a few blocks and a pruning step here), not the chain's.
    assert!(samples.iter().all(|s| s.4 < 16 << 20), "the WAL stays bounded: {samples:?}");
    assert!(last.3 * 4 < last.1, "and ends far smaller than the archive: {samples:?}");
    assert_eq!(pruned.oldest_block(), Height(BLOCKS as u64 + 1 - 20));
    assert_eq!(pruned.tip().await.unwrap(), archive.tip().await.unwrap());
    pruned.integrity_check().await.unwrap();
}
