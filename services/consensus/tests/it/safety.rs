//! The driver's safety files and journal, on three validators with real SQLite ledgers over an
//! in-test bus: damaged, missing and far-ahead signing states refused at start (and the
//! dangerous override), stale temp files removed, the old format rewritten, a failed write of
//! the signing state pausing signing (never the node) until the disk takes writes again, and
//! accepted transactions re-admitted from the journal after a crash.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use coinjecture_consensus::driver::{self, DriverConfig, DriverHandle};
use coinjecture_consensus::tx_journal;
use coinjecture_consensus::{EngineConfig, MempoolConfig, QuorumMode, SignState, ValidatorSchedule, ValidatorSet};
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_ledger::Ledger;
use coinjecture_ledger::test_utils::{TestChain, local_crypto};
use coinjecture_primitives::{Height, PublicKey};
use coinjecture_test_utils::wait_for;
use tokio::sync::mpsc;

use crate::bus::{Bus, Port};

struct Node {
    handle: DriverHandle,
    task: tokio::task::JoinHandle<Result<(), driver::DriverError>>,
    ledger: Arc<Ledger>,
}

fn key(i: usize) -> Keypair {
    coinjecture_test_utils::key("safety test validator", i)
}

struct Net {
    dir: tempfile::TempDir,
    chain: TestChain,
    schedule: ValidatorSchedule,
    bus: Bus,
    nodes: Vec<Option<Node>>,
}

impl Net {
    async fn start(name: &str) -> Self {
        let keys: Vec<PublicKey> = (0..3).map(|i| key(i).public_key()).collect();
        let schedule = ValidatorSchedule::fixed(ValidatorSet::new(keys, QuorumMode::Crash).unwrap());
        let bus = Bus::default();
        *bus.inboxes.lock().unwrap() = vec![None, None, None];
        *bus.ledgers.lock().unwrap() = vec![None, None, None];
        let mut net = Self {
            dir: tempfile::tempdir().unwrap(),
            chain: TestChain::new(name, 4, 1_000_000_000),
            schedule,
            bus,
            nodes: vec![None, None, None],
        };
        for i in 0..3 {
            net.restart(i, false).await.unwrap();
        }
        net
    }

    fn sign_state_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node{i}.sign_state"))
    }

    /// Starts validator `i` (again) on its database and files.
    async fn restart(&mut self, i: usize, reset: bool) -> Result<(), driver::DriverError> {
        let ledger = Arc::new(
            Ledger::open(
                self.dir.path().join(format!("node{i}.db")),
                self.chain.genesis.clone(),
                self.schedule.clone(),
                local_crypto(),
            )
            .await
            .unwrap(),
        );
        let (inbox, inbound) = mpsc::channel(4096);
        let config = DriverConfig {
            engine: EngineConfig::with_block_time(self.chain.chain_id().clone(), 300),
            schedule: self.schedule.clone(),
            mempool: MempoolConfig::default(),
            max_block_transactions: 1000,
            block_limits: coinjecture_primitives::BlockLimits::default(),
            // Generous: these tests are about correctness, not the time budget.
            proposal_budget: std::time::Duration::from_secs(60),
            sign_state_path: self.sign_state_path(i),
            network_label: "test".into(),
            unsafe_reset_signing_state: reset,
            tx_journal: true,
            compact_proposals: true,
        };
        let port = Port { me: i, bus: self.bus.clone() };
        let (handle, task) = match driver::start(config, key(i), ledger.clone(), port, inbound).await {
            Ok(started) => started,
            Err(e) => {
                ledger.close().await;
                return Err(e);
            }
        };
        self.bus.inboxes.lock().unwrap()[i] = Some(inbox);
        self.bus.ledgers.lock().unwrap()[i] = Some(ledger.clone());
        self.nodes[i] = Some(Node { handle, task, ledger });
        Ok(())
    }

    /// Crashes validator `i` (its task is aborted mid-whatever, its database closed).
    async fn crash(&mut self, i: usize) {
        self.bus.inboxes.lock().unwrap()[i] = None;
        self.bus.ledgers.lock().unwrap()[i] = None;
        if let Some(node) = self.nodes[i].take() {
            node.task.abort();
            let _ = node.task.await;
            node.ledger.close().await;
        }
    }

    fn handle(&self, i: usize) -> &DriverHandle {
        &self.nodes[i].as_ref().expect("validator is up").handle
    }

    fn height(&self, i: usize) -> Height {
        self.handle(i).status().finalized_height
    }

    async fn wait_height(&self, nodes: &[usize], height: Height) {
        for &i in nodes {
            let h = self.handle(i).clone();
            wait_for(&format!("validator {i} at height {height}"), Duration::from_secs(60), || {
                h.status().finalized_height >= height
            })
            .await;
        }
    }

    /// (proposer, precommit signers) of block `height` in validator `i`'s ledger.
    async fn signers(&self, i: usize, height: Height) -> (PublicKey, Vec<PublicKey>) {
        let b = self.nodes[i].as_ref().unwrap().ledger.block_by_height(height).await.unwrap().expect("block stored");
        let certificate = b.certificate.expect("a certificate");
        (b.block.header.miner_address, certificate.signatures.iter().map(|(v, _)| *v).collect())
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for node in self.nodes.iter().flatten() {
            node.task.abort();
        }
    }
}

fn temp_of(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.tmp", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_missing_and_far_ahead_signing_states_are_refused_naming_the_file_and_what_to_do() {
    let mut net = Net::start("coinjecture-safety-refusals").await;
    net.wait_height(&[0, 1, 2], Height(4)).await;
    net.crash(2).await;
    let path = net.sign_state_path(2);
    let lock_path = driver::lock_state_path(&path);
    let original = std::fs::read(&path).unwrap();
    assert_eq!(&original[..4], b"CJSS", "the signing state is written in format 2");
    let (state, _) = SignState::from_file_bytes(&original).unwrap();

    // One flipped bit in the height (the corruption): refused, naming the file.
    let mut flipped = original.clone();
    flipped[12] ^= 0x10;
    std::fs::write(&path, &flipped).unwrap();
    let err = net.restart(2, false).await.unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("is damaged (checksum mismatch)") && err.contains("--unsafe-reset-signing-state"), "{err}");
    assert!(!err.contains('\n'), "not one line: {err}");

    // A lock with a flipped byte: refused the same way.
    std::fs::write(&path, &original).unwrap();
    if let Ok(lock) = std::fs::read(&lock_path) {
        let mut damaged = lock.clone();
        damaged[lock.len() / 2] ^= 0x01;
        std::fs::write(&lock_path, &damaged).unwrap();
        let err = net.restart(2, false).await.unwrap_err().to_string();
        assert!(err.contains("lock_state is damaged (checksum mismatch)"), "{err}");
        std::fs::write(&lock_path, &lock).unwrap();
    }

    // Deleted, while the database's certificates carry this validator's precommits.
    std::fs::remove_file(&path).unwrap();
    let err = net.restart(2, false).await.unwrap_err().to_string();
    assert!(err.contains("is missing, but the commit certificate at height"), "{err}");
    assert!(err.contains("--unsafe-reset-signing-state"), "{err}");

    // Far ahead of the chain (a database older than the signatures).
    let ahead = SignState { height: state.height.saturating_add(5_000), ..state.clone() };
    std::fs::write(&path, ahead.to_file_bytes()).unwrap();
    let err = net.restart(2, false).await.unwrap_err().to_string();
    assert!(err.contains(&format!("signed at height {}", state.height.saturating_add(5_000))), "{err}");
    assert!(err.contains("more than 1000 heights ahead"), "{err}");

    // The old format (no checksum) is read once and rewritten in format 2; stale temp files
    // are removed.
    std::fs::write(&path, state.encode()).unwrap();
    std::fs::write(temp_of(&path), b"half a write").unwrap();
    std::fs::write(temp_of(&lock_path), b"half a write").unwrap();
    net.restart(2, false).await.unwrap();
    assert_eq!(&std::fs::read(&path).unwrap()[..4], b"CJSS");
    // The restarted node writes its signing state through the same `.tmp` names, so a temp file
    // may exist for a moment: what must be gone is the stale half write.
    let stale = |p: PathBuf| std::fs::read(p).is_ok_and(|bytes| bytes == b"half a write");
    assert!(!stale(temp_of(&path)) && !stale(temp_of(&lock_path)), "stale temp files left");
    let target = net.height(0).saturating_add(3);
    net.wait_height(&[0, 1, 2], target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dangerous_reset_starts_a_damaged_validator_that_signs_only_after_its_tip_plus_one_is_final() {
    let mut net = Net::start("coinjecture-safety-reset").await;
    net.wait_height(&[0, 1, 2], Height(3)).await;
    net.crash(2).await;
    let path = net.sign_state_path(2);
    let mut damaged = std::fs::read(&path).unwrap();
    damaged[20] ^= 0x04;
    std::fs::write(&path, &damaged).unwrap();
    assert!(net.restart(2, false).await.is_err());

    net.restart(2, true).await.unwrap();
    let tip = net.height(2);
    let aside: Vec<_> = std::fs::read_dir(net.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("node2.sign_state.damaged-"))
        .collect();
    assert_eq!(aside.len(), 1, "the damaged file was not moved aside");
    let paused = net.handle(2).status().signing_paused.expect("signing paused after a reset");
    assert!(paused.contains(&format!("waiting for height {}", tip.next())), "{paused}");

    // It follows; once tip + 1 is final it signs again, never at or below tip + 1.
    net.wait_height(&[0, 1, 2], tip.saturating_add(2)).await;
    let h = net.handle(2).clone();
    wait_for("signing to resume", Duration::from_secs(30), || h.status().signing_paused.is_none()).await;
    let me = key(2).public_key();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut height = tip.next();
    loop {
        let top = net.height(0);
        while height <= top {
            let (proposer, signers) = net.signers(0, height).await;
            if proposer == me || signers.contains(&me) {
                assert!(
                    height > tip.next(),
                    "validator 2 signed at height {height}, at or below tip.next() = {}",
                    tip.next()
                );
                return;
            }
            height = height.next();
        }
        assert!(tokio::time::Instant::now() < deadline, "validator 2 never signed again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signing_state_that_cannot_be_written_pauses_signing_and_the_validator_follows_then_resumes() {
    let net = Net::start("coinjecture-safety-pause").await;
    net.wait_height(&[0, 1, 2], Height(3)).await;
    let me = key(2).public_key();
    // A directory where the temp file must go: every write fails (EISDIR), also as root.
    let blocker = temp_of(&net.sign_state_path(2));
    std::fs::create_dir(&blocker).unwrap();
    let h = net.handle(2).clone();
    wait_for("signing to pause", Duration::from_secs(30), || h.status().signing_paused.is_some()).await;
    let reason = h.status().signing_paused.unwrap();
    assert!(reason.contains("node2.sign_state") && reason.contains("Is a directory"), "{reason}");
    assert!(h.status().persist_failures >= 1);
    let paused_from = net.height(0).max(net.height(1)).next();

    // The others finalize; validator 2 follows, signing nothing, and its driver stays up.
    net.wait_height(&[0, 1, 2], paused_from.saturating_add(6)).await;
    assert!(!net.nodes[2].as_ref().unwrap().task.is_finished(), "the driver stopped");
    assert!(h.status().signing_paused.is_some(), "resumed while the file cannot be written");
    let paused_to = net.height(2);
    for height in (paused_from.get() + 1..=paused_to.get()).map(Height) {
        let (proposer, signers) = net.signers(2, height).await;
        assert_ne!(proposer, me, "validator 2 proposed block {height} while paused");
        assert!(!signers.contains(&me), "validator 2 precommitted block {height} while paused");
    }
    // Retries back off: a handful of failed attempts, not one per millisecond.
    assert!(h.status().persist_failures < 40, "{} attempts", h.status().persist_failures);

    // The disk recovers: signing resumes in the same driver.
    std::fs::remove_dir(&blocker).unwrap();
    wait_for("signing to resume", Duration::from_secs(30), || h.status().signing_paused.is_none()).await;
    let from = net.height(0).next();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut height = from;
    'signed: loop {
        while height <= net.height(0) {
            let (proposer, signers) = net.signers(0, height).await;
            if proposer == me || signers.contains(&me) {
                break 'signed;
            }
            height = height.next();
        }
        assert!(tokio::time::Instant::now() < deadline, "validator 2 never signed again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(&std::fs::read(net.sign_state_path(2)).unwrap()[..4], b"CJSS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_accepted_before_a_crash_are_readmitted_from_the_journal_and_final_ones_dropped() {
    let mut net = Net::start("coinjecture-safety-journal").await;
    net.wait_height(&[0, 1, 2], Height(2)).await;
    let recipient = PublicKey([7; 32]);
    // One transfer final everywhere: it stays in validator 0's journal until a compaction.
    let first = net.chain.transfer(0, recipient, 1_000, 0);
    let r = net.handle(0).submit(vec![first]).await.unwrap();
    assert!(r[0].outcome.is_ok(), "{r:?}");
    let h = net.handle(0).clone();
    wait_for("the first transfer to be final", Duration::from_secs(30), || h.status().mempool_size == 0).await;

    // Validators 1 and 2 go down: no quorum, so what validator 0 accepts now stays pending.
    net.crash(1).await;
    net.crash(2).await;
    let pending: Vec<_> = (1..6).map(|n| net.chain.transfer(0, recipient, 1_000 + n, n)).collect();
    let r = net.handle(0).submit(pending.clone()).await.unwrap();
    assert!(r.iter().all(|r| r.outcome.is_ok()), "{r:?}");

    // A power cut: validator 0 dies with them in its mempool only.
    net.crash(0).await;
    let journal = tx_journal::journal_path(&net.sign_state_path(0));
    let on_disk = tx_journal::read(&journal).unwrap();
    assert_eq!(on_disk.transactions.len(), 6, "accepted transactions journaled before the answer");

    for i in 0..3 {
        net.restart(i, false).await.unwrap();
    }
    let expected: u64 = (0..6).map(|n| 1_000 + n).sum();
    let ledger = net.nodes[1].as_ref().unwrap().ledger.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ledger.account(&recipient).await.unwrap().0.balance != expected {
        assert!(tokio::time::Instant::now() < deadline, "the journaled transfers were not final after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The replay compacted the journal to what was still pending (the final one is gone).
    let compacted = tx_journal::read(&journal).unwrap();
    assert!(compacted.transactions.len() <= 5, "{} left", compacted.transactions.len());
    assert!(!compacted.transactions.iter().any(|t| t.nonce == 0), "the final transfer was kept");
}
