//! Crash safety: a child process applying blocks is SIGKILLed mid-way; the database it leaves
//! is consistent, its tip is the last fully applied block, and applying resumes.
//!
//! The child is this test binary itself, re-run on the `crash_worker` test with an environment
//! variable naming the database.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coinjecture_ledger::test_utils::{TestChain, certificate, local_crypto};
use coinjecture_ledger::{Ledger, LedgerOptions, ReplayBatch, SignatureCheck};
use coinjecture_primitives::{Block, Height, SealedBlock};

const WORKER_ENV: &str = "COINJECTURE_LEDGER_CRASH_WORKER_DB";
const ACCOUNTS: usize = 100;
const BLOCKS: usize = 100;
const KILL_AFTER: u64 = 25;

/// The deterministic chain both processes build: every account sends 1 unit per block.
fn blocks() -> (TestChain, Vec<Block>) {
    crate::ring_transfer_blocks("coinjecture-crash", ACCOUNTS, BLOCKS)
}

async fn apply_from_tip(ledger: &Ledger, blocks: &[Block], report: bool) {
    let tip = ledger.tip().await.unwrap().height.get() as usize;
    for block in &blocks[tip..] {
        ledger
            .apply_block_with(block, &certificate(ledger.chain_id(), block), SignatureCheck::AlreadyVerified)
            .await
            .unwrap();
        if report {
            println!("applied {}", block.header.block_index);
        }
    }
}

/// Not a test on its own: the child process of the crash test (does nothing without the env var).
#[tokio::test]
async fn crash_worker() {
    let Ok(path) = std::env::var(WORKER_ENV) else { return };
    let (genesis, blocks) = blocks();
    let ledger = Ledger::open(&path, genesis.genesis.clone(), genesis.validators(), local_crypto()).await.unwrap();
    // A new hash-index era every 2.5 blocks and a journal fold every 4, so the kill may land
    // in a seal or a fold as well as in a block.
    ledger.set_era_size_for_tests(250).await;
    ledger.set_fold_threshold_for_tests(4, 1_000_000).await;
    apply_from_tip(&ledger, &blocks, true).await;
}

#[tokio::test]
async fn sigkill_while_applying_leaves_the_last_fully_applied_block_as_tip_and_applying_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let (genesis, blocks) = blocks();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash::crash_worker", "--exact", "--nocapture", "--test-threads=1"])
        .env(WORKER_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut last_reported = 0;
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(h) = line.strip_prefix("applied ") {
            last_reported = h.trim().parse::<u64>().unwrap();
            if last_reported >= KILL_AFTER {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "worker too slow");
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the worker finished before it was killed");
    assert!(last_reported >= KILL_AFTER, "worker died early: {last_reported}");

    let ledger = Ledger::open(&path, genesis.genesis.clone(), genesis.validators(), local_crypto()).await.unwrap();
    ledger.integrity_check().await.unwrap();
    let tip = ledger.tip().await.unwrap();
    // The worker may have committed one more block after its last report, never a partial one.
    assert!(
        tip.height >= Height(last_reported) && tip.height <= Height(last_reported + 1),
        "tip {} vs reported {last_reported}",
        tip.height
    );
    assert_eq!(tip.hash, blocks[tip.height.get() as usize - 1].hash());

    // Replay the stored blocks on the genesis state: commitments and accounts match the store.
    let mut replay = genesis.clone();
    let mut from = 1;
    while from <= tip.height.get() {
        for stored in ledger.block_range(Height(from), 1000).await.unwrap() {
            replay.extend(&stored.block);
            assert_eq!(stored.hash, replay.tip().hash);
            from += 1;
        }
    }
    assert_eq!(replay.tip(), &tip, "stored state commitment differs from the replayed one");
    for (address, expected) in replay.state() {
        assert_eq!(ledger.account(address).await.unwrap().0, *expected);
    }
    // Every stored transaction is found by hash, sealed era or not (a sample of them).
    for (i, tx) in blocks[..tip.height.get() as usize].iter().flat_map(|b| &b.transactions).enumerate().step_by(7) {
        let found = ledger.transaction(&tx.hash()).await.unwrap();
        assert_eq!(
            found.map(|t| (t.block_height, t.index)),
            Some((Height(1 + (i / ACCOUNTS) as u64), (i % ACCOUNTS) as u32))
        );
    }
    assert!(tip.height < Height(BLOCKS as u64), "nothing left to resume");
    apply_from_tip(&ledger, &blocks, false).await;
    assert_eq!(ledger.tip().await.unwrap().hash, blocks[BLOCKS - 1].hash());
}

const BATCH_WORKER_ENV: &str = "COINJECTURE_LEDGER_CRASH_BATCH_WORKER_DB";
/// Blocks per SQLite transaction in the batched crash test.
const PER_BATCH: u64 = 4;

/// Applies the blocks after the tip `PER_BATCH` per call, one commit each (the blocks and time
/// bounds: only the blocks bound ends a transaction).
async fn apply_batches_from_tip(ledger: &Ledger, blocks: &[Block], report: bool) {
    let bounds = ReplayBatch {
        max_blocks: PER_BATCH as usize,
        max_transactions: usize::MAX,
        max_bytes: usize::MAX,
        max_time: Duration::from_secs(3600),
    };
    loop {
        let tip = ledger.tip().await.unwrap().height.get() as usize;
        if tip >= blocks.len() {
            return;
        }
        let end = (tip + PER_BATCH as usize).min(blocks.len());
        let batch: Vec<_> = blocks[tip..end]
            .iter()
            .map(|b| (SealedBlock::seal(b.clone()), certificate(ledger.chain_id(), b)))
            .collect();
        let done = ledger.apply_sealed_blocks(&batch, bounds).await.unwrap();
        assert_eq!(done.commits, 1);
        if report {
            println!("applied {}", done.tip.unwrap().height);
        }
    }
}

/// Not a test on its own: the child of the batched crash test (does nothing without the env
/// var).
#[tokio::test]
async fn crash_worker_batched() {
    let Ok(path) = std::env::var(BATCH_WORKER_ENV) else { return };
    let (genesis, blocks) = blocks();
    let options =
        LedgerOptions { assume_valid_height: Height(u64::MAX), keep_blocks: None, ..LedgerOptions::default() };
    let ledger =
        Ledger::open_with(&path, genesis.genesis.clone(), genesis.validators(), local_crypto(), options).await.unwrap();
    // Eras of 2.5 blocks and a fold every 4 blocks: batches cross eras, and the kill may land
    // in a seal or a fold as well as in a batch.
    ledger.set_era_size_for_tests(250).await;
    ledger.set_fold_threshold_for_tests(4, 1_000_000).await;
    apply_batches_from_tip(&ledger, &blocks, true).await;
}

#[tokio::test]
async fn sigkill_while_applying_batches_leaves_the_last_committed_batch_as_tip_and_applying_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let (genesis, blocks) = blocks();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash::crash_worker_batched", "--exact", "--nocapture", "--test-threads=1"])
        .env(BATCH_WORKER_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut last_reported = 0;
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(h) = line.strip_prefix("applied ") {
            last_reported = h.trim().parse::<u64>().unwrap();
            if last_reported >= KILL_AFTER {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(120), "worker too slow");
    }
    child.kill().unwrap(); // SIGKILL, most likely in the middle of the next batch
    let status = child.wait().unwrap();
    assert!(!status.success(), "the worker finished before it was killed");
    assert!(last_reported >= KILL_AFTER, "worker died early: {last_reported}");

    let options =
        LedgerOptions { assume_valid_height: Height(u64::MAX), keep_blocks: None, ..LedgerOptions::default() };
    let ledger =
        Ledger::open_with(&path, genesis.genesis.clone(), genesis.validators(), local_crypto(), options).await.unwrap();
    ledger.integrity_check().await.unwrap();
    let tip = ledger.tip().await.unwrap();
    // The last reported batch, or the next one whole: never part of a batch.
    assert!(
        tip.height == Height(last_reported) || tip.height == Height(last_reported + PER_BATCH),
        "tip {} vs last reported {last_reported}: a batch was committed in part",
        tip.height
    );
    assert_eq!(tip.hash, blocks[tip.height.get() as usize - 1].hash());
    let mut replay = genesis.clone();
    let mut from = 1;
    while from <= tip.height.get() {
        for stored in ledger.block_range(Height(from), 1000).await.unwrap() {
            replay.extend(&stored.block);
            assert_eq!(stored.hash, replay.tip().hash);
            from += 1;
        }
    }
    assert_eq!(replay.tip(), &tip, "stored state commitment differs from the replayed one");
    for (address, expected) in replay.state() {
        assert_eq!(ledger.account(address).await.unwrap().0, *expected);
    }
    for (i, tx) in blocks[..tip.height.get() as usize].iter().flat_map(|b| &b.transactions).enumerate().step_by(7) {
        let found = ledger.transaction(&tx.hash()).await.unwrap();
        assert_eq!(
            found.map(|t| (t.block_height, t.index)),
            Some((Height(1 + (i / ACCOUNTS) as u64), (i % ACCOUNTS) as u32))
        );
    }
    assert!(tip.height < Height(BLOCKS as u64), "nothing left to resume");
    apply_batches_from_tip(&ledger, &blocks, false).await;
    assert_eq!(ledger.tip().await.unwrap().hash, blocks[BLOCKS - 1].hash());
    ledger.integrity_check().await.unwrap();
}

const PRUNE_WORKER_KEEP: u64 = 16;

/// Not a test on its own: the child of the pruning crash test (does nothing without the env
/// var, or when the crash test above runs it).
#[tokio::test]
async fn crash_worker_pruning() {
    let Ok(path) = std::env::var(WORKER_ENV) else { return };
    let (genesis, blocks) = blocks();
    let options = coinjecture_ledger::LedgerOptions {
        assume_valid_height: Height(0),
        keep_blocks: Some(PRUNE_WORKER_KEEP),
        ..Default::default()
    };
    let ledger =
        Ledger::open_with(&path, genesis.genesis.clone(), genesis.validators(), local_crypto(), options).await.unwrap();
    ledger.set_era_size_for_tests(250).await;
    ledger.set_fold_threshold_for_tests(4, 1_000_000).await;
    apply_from_tip(&ledger, &blocks, true).await;
}

/// #22 item 3: SIGKILL while a pruning ledger applies blocks (each followed by a pruning step,
/// a seal or a fold in the background): the database is consistent, the tip is the last fully
/// applied block, the oldest kept height is within the window and every kept block reads back
/// whole, the state is the expected one, and applying (and pruning) resumes.
#[tokio::test]
async fn sigkill_while_pruning_leaves_a_consistent_window_and_applying_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let (genesis, blocks) = blocks();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash::crash_worker_pruning", "--exact", "--nocapture", "--test-threads=1"])
        .env(WORKER_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut last_reported = 0;
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(h) = line.strip_prefix("applied ") {
            last_reported = h.trim().parse::<u64>().unwrap();
            if last_reported >= 40 {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(120), "worker too slow");
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(last_reported >= 40, "worker died early: {last_reported}");

    let options = coinjecture_ledger::LedgerOptions {
        assume_valid_height: Height(0),
        keep_blocks: Some(PRUNE_WORKER_KEEP),
        ..Default::default()
    };
    let ledger =
        Ledger::open_with(&path, genesis.genesis.clone(), genesis.validators(), local_crypto(), options).await.unwrap();
    ledger.integrity_check().await.unwrap();
    let tip = ledger.tip().await.unwrap();
    assert!(
        tip.height >= Height(last_reported) && tip.height <= Height(last_reported + 1),
        "tip {} vs {last_reported}",
        tip.height
    );
    assert_eq!(tip.hash, blocks[tip.height.get() as usize - 1].hash());
    let oldest = ledger.oldest_block();
    assert!(
        oldest <= tip.height.next().saturating_sub(PRUNE_WORKER_KEEP),
        "pruned into the window: oldest {oldest}, tip {}",
        tip.height
    );
    // Every kept block reads back whole (hashes, Merkle root, rows checked by the read).
    let kept = ledger.block_range(oldest.max(Height(1)), 1000).await.unwrap();
    assert_eq!(kept.len() as u64, tip.height.next().blocks_since(oldest.max(Height(1))));
    for stored in &kept {
        assert_eq!(stored.block, blocks[stored.height.get() as usize - 1]);
    }
    let mut expected = genesis.clone();
    for b in &blocks[..tip.height.get() as usize] {
        expected.extend(b);
    }
    assert_eq!(expected.tip(), &tip);
    for (address, state) in expected.state() {
        assert_eq!(ledger.account(address).await.unwrap().0, *state);
    }
    apply_from_tip(&ledger, &blocks, false).await;
    ledger.prune_now_for_tests().await.unwrap();
    assert_eq!(ledger.oldest_block(), Height(BLOCKS as u64 + 1 - PRUNE_WORKER_KEEP));
    assert_eq!(ledger.tip().await.unwrap().hash, blocks[BLOCKS - 1].hash());
}
