//! The safety files with real `coinjectured node` processes (issue 18, item 3): a flipped bit in
//! a stopped validator's signing state or lock, or a deleted signing state, stops its next start
//! with one line naming the file and what to do; `--unsafe-reset-signing-state` starts it with
//! signing paused (said on `/v1/status`) until the chain has passed its tip + 1, after which it
//! signs again; a stale temp file is removed and an old-format file is rewritten.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use coinjecture_e2e::Network;
use coinjecture_proto::v1 as pb;

const BLOCK_TIME: &str = "400ms";
const CATCH_UP: Duration = Duration::from_secs(120);

/// Starts validator `i` and waits for its process to exit on its own; returns its log's last
/// line (the error main prints).
async fn start_expecting_refusal(net: &mut Network, i: usize, args: &[&str]) -> String {
    net.start_validator_with(i, args);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = net.exit_status(i) {
            assert!(!status.success(), "validator {} exited with {status}", i + 1);
            break;
        }
        assert!(Instant::now() < deadline, "validator {} started on a bad safety file:\n{}", i + 1, net.log(i));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    net.log(i).lines().last().unwrap_or_default().to_string()
}

fn flip(path: &Path, at: usize, mask: u8) -> Vec<u8> {
    let original = std::fs::read(path).unwrap();
    let mut damaged = original.clone();
    damaged[at] ^= mask;
    std::fs::write(path, damaged).unwrap();
    original
}

fn tmp_of(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.tmp", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_or_deleted_safety_files_stop_the_start_and_the_reset_resumes_signing_after_tip_plus_one() {
    let started = Instant::now();
    let mut net = Network::start(3, BLOCK_TIME);
    net.wait_for_height(&[0, 1, 2], 4, CATCH_UP).await;
    let statuses = net.terminate(2, Duration::from_secs(30));
    assert!(statuses.iter().all(|s| s.is_some_and(|s| s.success())), "{statuses:?}");
    let data = net.dir.path().join("data");
    let sign = data.join("validator-3.sign_state");
    let lock = data.join("validator-3.lock_state");
    assert_eq!(&std::fs::read(&sign).unwrap()[..4], b"CJSS", "not written in format 2");

    // One flipped bit in the stored height (the corruption).
    let original = flip(&sign, 12, 0x10);
    let line = start_expecting_refusal(&mut net, 2, &[]).await;
    assert!(line.starts_with("error: consensus: the signing state "), "{line}");
    assert!(line.contains(sign.to_str().unwrap()) && line.contains("is damaged (checksum mismatch)"), "{line}");
    assert!(line.contains("--unsafe-reset-signing-state") && line.contains("Safety files"), "{line}");
    std::fs::write(&sign, &original).unwrap();

    // One flipped byte in the lock's block.
    if lock.exists() {
        let original = flip(&lock, 40, 0x01);
        let line = start_expecting_refusal(&mut net, 2, &[]).await;
        assert!(line.contains(lock.to_str().unwrap()) && line.contains("is damaged (checksum mismatch)"), "{line}");
        std::fs::write(&lock, &original).unwrap();
    }

    // Deleted (with the lock) after a crash: the database's certificates carry its precommits.
    std::fs::remove_file(&sign).unwrap();
    let _ = std::fs::remove_file(&lock);
    let line = start_expecting_refusal(&mut net, 2, &[]).await;
    assert!(line.contains("is missing, but the commit certificate at height"), "{line}");

    // The dangerous override: it starts, says why it does not sign, follows, then signs again
    // only above its tip + 1. A stale temp file is removed on the way.
    std::fs::write(tmp_of(&sign), b"half a write").unwrap();
    net.start_validator_with(2, &["--unsafe-reset-signing-state"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let reason = loop {
        // The REST helper wants a listening port: ask over gRPC first whether it is up.
        if net.height(2).await.is_some()
            && let Some(reason) = net.signing_paused(2)
        {
            break reason;
        }
        assert!(net.exit_status(2).is_none(), "validator 3 exited:\n{}", net.log(2));
        assert!(Instant::now() < deadline, "validator 3 did not report its paused signing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let tip = net.logged_start_height(2).unwrap();
    assert!(reason.contains(&format!("waiting for height {} to be final", tip + 1)), "{reason}");
    assert!(!tmp_of(&sign).exists(), "the stale temp file is still there");
    let me = net.validator_key(2);
    let deadline = Instant::now() + CATCH_UP;
    // Its precommit for tip + 1 may predate the stop (signed before SIGTERM and counted by the
    // others, as the stored certificate shows): what it signs after the reset starts at tip + 2.
    let mut height = tip + 2;
    let signed_at = 'found: loop {
        let top = net.height(0).await.unwrap_or(0);
        while height <= top {
            let mut l = pb::ledger_client::LedgerClient::new(net.channel(0).await);
            let b = l.get_block_by_height(pb::GetBlockByHeightRequest { height }).await.unwrap().into_inner();
            let (block, certificate) = coinjecture_proto::convert::finalized_block(&b.block.unwrap()).unwrap();
            if block.header.miner_address == me || certificate.signatures.iter().any(|(v, _)| *v == me) {
                break 'found height;
            }
            height += 1;
        }
        assert!(Instant::now() < deadline, "validator 3 never signed again:\n{}", net.log(2));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(net.signing_paused(2).is_none());
    assert_eq!(&std::fs::read(&sign).unwrap()[..4], b"CJSS");
    let common = (0..3usize).map(|i| net.last_logged_height(i).unwrap_or(0)).min().unwrap();
    net.assert_agree(&[0, 1, 2], common).await;
    println!(
        "safety-files: a flipped bit in sign_state and in lock_state and a deleted sign_state each refused with \
         one line naming the file; --unsafe-reset-signing-state started at tip {tip} paused (`{reason}`), signed \
         again at {signed_at}; {common} blocks agreed; {:.0}s",
        started.elapsed().as_secs_f64()
    );
}
