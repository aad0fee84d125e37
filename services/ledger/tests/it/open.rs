//! Opening: genesis mismatch, resuming, and files that are not (whole) ledger databases.

use coinjecture_ledger::test_utils::{TestChain, local_crypto};
use coinjecture_ledger::{GenesisConfig, Ledger, LedgerError};
use coinjecture_primitives::Height;

use crate::{apply, open_ledger};

#[tokio::test]
async fn reopening_with_the_same_genesis_resumes_at_the_same_tip() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new("coinjecture-test", 2, 1_000_000);
    let ledger = open_ledger(dir.path(), &chain).await;
    for _ in 0..3 {
        apply(&ledger, &chain.push(vec![chain.next_transfer(0, chain.accounts[1], 1)])).await;
    }
    let tip = ledger.tip().await.unwrap();
    ledger.close().await;
    drop(ledger);
    let reopened = open_ledger(dir.path(), &chain).await;
    assert_eq!(reopened.tip().await.unwrap(), tip);
    assert_eq!(&tip, chain.tip());
    apply(&reopened, &chain.push(vec![chain.next_transfer(0, chain.accounts[1], 1)])).await;
    assert_eq!(reopened.tip().await.unwrap().height, Height(4));
}

#[tokio::test]
async fn a_database_of_another_genesis_is_refused_naming_both_hashes_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("coinjecture-test", 2, 1_000_000);
    open_ledger(dir.path(), &chain).await.close().await;
    let other = GenesisConfig { timestamp_ms: chain.genesis.timestamp_ms + 1, ..chain.genesis.clone() };
    let path = dir.path().join("ledger.db");
    let err = Ledger::open(&path, other.clone(), chain.validators(), local_crypto()).await.unwrap_err();
    assert!(matches!(err, LedgerError::GenesisMismatch { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(&chain.genesis.hash().to_hex()), "{message}");
    assert!(message.contains(&other.hash().to_hex()), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[tokio::test]
async fn parent_directories_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("coinjecture-test", 1, 5);
    let path = dir.path().join("data/nested/network-a.db");
    let ledger = Ledger::open(&path, chain.genesis.clone(), chain.validators(), local_crypto()).await.unwrap();
    assert_eq!(ledger.tip().await.unwrap().hash, chain.genesis.hash());
    assert!(path.exists());
}

async fn open_error(path: &std::path::Path) -> String {
    let chain = TestChain::new("coinjecture-test", 1, 5);
    let err = Ledger::open(path, chain.genesis.clone(), chain.validators(), local_crypto()).await.unwrap_err();
    assert!(matches!(err, LedgerError::Open { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    message
}

#[tokio::test]
async fn a_garbage_file_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    std::fs::write(&path, vec![0xA5u8; 64 * 1024]).unwrap();
    let message = open_error(&path).await;
    assert!(message.contains("not an SQLite database"), "{message}");
}

#[tokio::test]
async fn a_truncated_database_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new("coinjecture-test", 50, 1_000_000);
    let ledger = open_ledger(dir.path(), &chain).await;
    for _ in 0..20 {
        let txs = (0..20).map(|i| chain.next_transfer(i, chain.accounts[i + 1], 1)).collect();
        apply(&ledger, &chain.push(txs)).await;
    }
    ledger.close().await; // checkpoints the WAL into the main file
    drop(ledger);
    let path = dir.path().join("ledger.db");
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 64 * 1024, "database too small to truncate meaningfully: {len}");
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    let message = open_error(&path).await;
    assert!(message.contains("integrity") || message.contains("malformed"), "{message}");
}

#[tokio::test]
async fn a_read_only_location_is_refused_with_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let writable = std::fs::write(locked.join("probe"), b"x").is_ok();
    if !writable {
        open_error(&locked.join("ledger.db")).await;
        open_error(&locked.join("sub/ledger.db")).await;
    }
    // Root ignores permission bits; a read-only filesystem (sysfs) refuses root too.
    if std::path::Path::new("/sys/kernel").exists() {
        open_error(std::path::Path::new("/sys/coinjecture-ledger-test/ledger.db")).await;
    }
    // A path whose parent is a file, and a path that is a directory.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    open_error(&file.join("ledger.db")).await;
    let message = open_error(dir.path()).await;
    assert!(message.contains("directory"), "{message}");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}
