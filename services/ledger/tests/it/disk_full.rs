//! A full disk: a child process whose files may not grow past a limit (`ulimit -f`, with
//! SIGXFSZ ignored so writes fail with an error instead of killing it) applies blocks until a
//! write fails. It gets an error naming the failed step and SQLite's reason, not a panic, and the
//! database it leaves is consistent: reopened without the limit, the tip is the last block the
//! child reported applied and applying resumes.
//!
//! The child is this test binary, re-run on `disk_full_worker` with an environment variable
//! naming the database.

use std::process::{Command, Stdio};

use coinjecture_ledger::test_utils::{TestChain, certificate, local_crypto};
use coinjecture_ledger::{Ledger, SignatureCheck};
use coinjecture_primitives::{Block, Height};

const WORKER_ENV: &str = "COINJECTURE_LEDGER_DISK_FULL_WORKER_DB";
const ACCOUNTS: usize = 200;
const BLOCKS: usize = 60;
/// Blocks applied before the limit is set.
const BEFORE_LIMIT: usize = 5;
/// Room the child's files get past their size at its start.
const HEADROOM_BYTES: u64 = 256 * 1024;

fn blocks() -> (TestChain, Vec<Block>) {
    crate::ring_transfer_blocks("coinjecture-disk-full", ACCOUNTS, BLOCKS)
}

async fn apply(ledger: &Ledger, block: &Block) -> Result<(), coinjecture_ledger::LedgerError> {
    ledger
        .apply_block_with(block, &certificate(ledger.chain_id(), block), SignatureCheck::AlreadyVerified)
        .await
        .map(|_| ())
}

/// Not a test on its own: the child process of the disk-full test (does nothing without the env var).
#[tokio::test]
async fn disk_full_worker() {
    let Ok(path) = std::env::var(WORKER_ENV) else { return };
    let (genesis, blocks) = blocks();
    let ledger = match Ledger::open(&path, genesis.genesis.clone(), genesis.validators(), local_crypto()).await {
        Ok(ledger) => ledger,
        Err(e) => {
            println!("open error: {e}");
            return;
        }
    };
    let tip = ledger.tip().await.unwrap().height.get() as usize;
    for block in &blocks[tip..] {
        match apply(&ledger, block).await {
            Ok(()) => println!("applied {}", block.header.block_index),
            Err(e) => {
                println!("apply error: {e}");
                break;
            }
        }
    }
}

fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test]
async fn a_full_disk_fails_the_write_with_a_clear_error_and_the_database_stays_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let (genesis, blocks) = blocks();
    {
        let ledger = Ledger::open(&path, genesis.genesis.clone(), genesis.validators(), local_crypto()).await.unwrap();
        for block in &blocks[..BEFORE_LIMIT] {
            apply(&ledger, block).await.unwrap();
        }
        ledger.close().await;
    }
    let largest = file_len(&path).max(file_len(&path.with_extension("db-wal")));
    // ulimit -f counts 512-byte blocks in POSIX sh.
    let limit_blocks = (largest + HEADROOM_BYTES).div_ceil(512);
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f "$1" || exit 97; exec "$2" disk_full::disk_full_worker --exact --nocapture --test-threads=1"#)
        .arg("sh")
        .arg(limit_blocks.to_string())
        .arg(&exe)
        .env(WORKER_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(97), "this shell cannot set a file size limit");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the worker crashed instead of reporting an error: {stdout}");
    let applied: Vec<u64> =
        stdout.lines().filter_map(|l| l.strip_prefix("applied ")).map(|h| h.trim().parse().unwrap()).collect();
    let error = stdout
        .lines()
        .find(|l| l.starts_with("apply error: ") || l.starts_with("open error: "))
        .unwrap_or_else(|| panic!("the worker applied every block without hitting the limit: {stdout}"));
    // The error says which step failed, SQLite's reason and what it means.
    assert!(error.contains("database or disk is full") || error.contains("disk I/O error"), "unclear error: {error}");
    assert!(error.contains("the disk is full") || error.contains("the disk may be full"), "no hint: {error}");
    println!("{error}");
    let last_applied = applied.last().copied().unwrap_or(BEFORE_LIMIT as u64);
    assert!(last_applied < BLOCKS as u64);

    // Without the limit: consistent, the tip is the last block the worker applied, and the
    // chain continues.
    let ledger = Ledger::open(&path, genesis.genesis.clone(), genesis.validators(), local_crypto()).await.unwrap();
    ledger.integrity_check().await.unwrap();
    let tip = ledger.tip().await.unwrap();
    assert_eq!(tip.height, Height(last_applied), "the failed block must not be stored, the applied ones must");
    assert_eq!(tip.hash, blocks[tip.height.get() as usize - 1].hash());
    for block in &blocks[tip.height.get() as usize..] {
        apply(&ledger, block).await.unwrap();
    }
    assert_eq!(ledger.tip().await.unwrap().hash, blocks[BLOCKS - 1].hash());
    let mut replay = genesis.clone();
    for block in &blocks {
        replay.extend(block);
    }
    for (address, expected) in replay.state() {
        assert_eq!(ledger.account(address).await.unwrap().0, *expected);
    }
}
