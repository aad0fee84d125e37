//! The fault-tolerance suite: real `coinjectured node` processes on loopback, under load
//! (funded senders submitting transfers over the public gRPC API, see `coinjecture_e2e::load`),
//! through what production throws at a network — kill -9, a partition, a rolling restart, a
//! full stop, an equivocating validator, a database directory that stops taking writes — and the
//! checks a user would make afterwards: every block hash identical on every validator, every
//! transaction the API accepted final exactly once everywhere, balances as sent.
//!
//! Each test prints one summary line (`faults <name>: N blocks, M txs final, max stall S`); the
//! max stall is the longest time the highest finalized height seen on the validators that are
//! up did not move (`coinjecture_e2e::monitor`). `soak` runs for an hour and is `#[ignore]`d:
//! `COINJECTURE_SOAK_SECS=600 cargo test -p coinjecture-e2e --test it -- --ignored faults::soak`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use coinjecture_e2e::load::Load;
use coinjecture_e2e::monitor::FinalityMonitor;
use coinjecture_e2e::proxy::Proxies;
use coinjecture_e2e::{Network, tail};
use coinjecture_proto::v1 as pb;

/// Short blocks keep each test well under two minutes.
const BLOCK_TIME: &str = "400ms";
/// Generous: these tests share two cores with each other and with the rest of the suite.
const CATCH_UP: Duration = Duration::from_secs(120);

/// The highest finalized height among `nodes` that answer.
async fn top(net: &Network, nodes: &[usize]) -> u64 {
    let mut best = 0;
    for &i in nodes {
        best = best.max(net.height(i).await.unwrap_or(0));
    }
    best
}

/// The lowest finalized height among `nodes` (all must answer).
async fn bottom(net: &Network, nodes: &[usize]) -> u64 {
    let mut low = u64::MAX;
    for &i in nodes {
        low = low.min(net.height(i).await.unwrap());
    }
    low
}

/// Waits until validator `i` has caught up with the highest height the others had when it
/// started waiting.
async fn wait_caught_up(net: &Network, i: usize, others: &[usize]) {
    let target = top(net, others).await;
    net.wait_for_height(&[i], target, CATCH_UP).await;
}

/// Three validators producing blocks every `block_time`, a finality monitor, and `senders`
/// funded senders submitting a transfer each every 100 ms.
async fn three_validators_under_load(block_time: &str, senders: usize) -> (Network, FinalityMonitor, Load) {
    let net = Network::start(3, block_time);
    net.wait_for_height(&[0, 1, 2], 2, CATCH_UP).await;
    let monitor = FinalityMonitor::start(&net);
    let load = Load::start(&net, senders, Duration::from_millis(100)).await;
    (net, monitor, load)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_keeps_finalizing_and_loses_no_accepted_transaction() {
    let started = Instant::now();
    let (mut net, monitor, load) = three_validators_under_load(BLOCK_TIME, 6).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Drain validator 3 for a moment, then SIGKILL it. (A transaction accepted in the last
    // milliseconds before a crash may not have left the node yet: the mempool is not durable,
    // and the API answers before gossip is on the wire. The guarantee checked here is the one
    // the node gives: what was accepted and gossiped is never lost.)
    load.avoid(2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    net.kill(2);
    let at_kill = top(&net, &[0, 1]).await;
    // Crash mode, 2 of 3 up: blocks keep coming, with transactions.
    net.wait_for_height(&[0, 1], at_kill + 8, CATCH_UP).await;

    net.start_validator(2);
    wait_caught_up(&net, 2, &[0, 1]).await;
    load.allow(2);
    tokio::time::sleep(Duration::from_secs(3)).await;

    let report = load.stop().await;
    let finals = report.assert_all_final(&net, &[0, 1, 2], CATCH_UP).await;
    let finality = monitor.stop().await;
    let common = bottom(&net, &[0, 1, 2]).await;
    net.assert_agree(&[0, 1, 2], common).await;
    println!(
        "faults kill-9: {} blocks, {finals} txs final ({} accepted, {} retries), max stall {:.1}s at height {}; \
         validator 3 down from height {at_kill}, restarted, {common} blocks agreed; {:.0}s",
        finality.blocks(),
        report.accepted(),
        report.retries(),
        finality.max_stall.as_secs_f64(),
        finality.stalled_at,
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_two_partition_stalls_the_minority_only_and_heals_to_one_chain() {
    let started = Instant::now();
    let mut net = Network::lay_out(3, BLOCK_TIME);
    let proxies = Proxies::install(&net);
    for i in 0..3 {
        net.start_validator(i);
    }
    net.wait_for_height(&[0, 1, 2], 2, CATCH_UP).await;
    for i in 0..3 {
        wait_for_peers(&net, i, |n| n == 2).await;
    }
    let monitor = FinalityMonitor::start(&net);
    // Senders 0 and 3 submit to validator 1, which ends up alone: what it accepts while cut
    // off must be final after the heal too.
    let load = Load::start(&net, 6, Duration::from_millis(100)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // {validator 1} | {validators 2, 3}.
    proxies.partition(&[&[0], &[1, 2]]);
    let cut_at = Instant::now();
    wait_for_peers(&net, 0, |n| n == 0).await;
    wait_for_peers(&net, 1, |n| n == 1).await;
    // A block whose precommits were on the wire at the cut may still land; then nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let minority_height = net.height(0).await.unwrap();
    let majority_start = top(&net, &[1, 2]).await;
    let target = majority_start + 10;
    loop {
        let majority = bottom(&net, &[1, 2]).await;
        let (height, peers) = (net.height(0).await.unwrap(), net.peer_count(0).await.unwrap());
        assert_eq!(peers, 0, "the cut-off validator has peers again: the partition leaks");
        assert_eq!(height, minority_height, "the cut-off validator finalized a block alone");
        if majority >= target {
            break;
        }
        assert!(cut_at.elapsed() < CATCH_UP, "the majority stopped at {majority} (target {target})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Nothing conflicting: the minority's chain is a prefix of the majority's.
    net.assert_agree(&[0, 1, 2], minority_height).await;
    let partition_secs = cut_at.elapsed().as_secs_f64();

    proxies.heal();
    let healed_at = Instant::now();
    let target = top(&net, &[1, 2]).await + 3;
    net.wait_for_height(&[0, 1, 2], target, CATCH_UP).await;
    let converged = healed_at.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let report = load.stop().await;
    let finals = report.assert_all_final(&net, &[0, 1, 2], CATCH_UP).await;
    let finality = monitor.stop().await;
    let common = bottom(&net, &[0, 1, 2]).await;
    net.assert_agree(&[0, 1, 2], common).await;
    println!(
        "faults partition: {} blocks, {finals} txs final ({} accepted), max stall {:.1}s; minority stalled at \
         {minority_height} for {partition_secs:.1}s while the majority went {majority_start}→{}, converged \
         {converged:.1}s after the heal, {common} blocks agreed; {:.0}s",
        finality.blocks(),
        report.accepted(),
        finality.max_stall.as_secs_f64(),
        target - 3,
        started.elapsed().as_secs_f64()
    );
}

/// Waits (up to a minute) until validator `i`'s peer count satisfies `ok`.
async fn wait_for_peers(net: &Network, i: usize, ok: impl Fn(u32) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let peers = net.peer_count(i).await;
        if peers.is_some_and(&ok) {
            return;
        }
        assert!(Instant::now() < deadline, "validator {i}: peer count stuck at {peers:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The longest finality stall a rolling restart may cause. A stopped validator costs the
/// network its proposer slots (one propose timeout, 2 block times, plus the round's votes) and
/// the restarted one needs its peers' redials; a stall beyond this means finality stopped.
const ROLLING_RESTART_MAX_STALL: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_never_stops_finality() {
    let started = Instant::now();
    let (mut net, monitor, load) = three_validators_under_load(BLOCK_TIME, 6).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    for i in 0..3 {
        let others: Vec<usize> = (0..3).filter(|&j| j != i).collect();
        // Drain, stop gracefully, stay down for a few blocks, start, catch up, serve again.
        load.avoid(i);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let statuses = net.terminate(i, Duration::from_secs(30));
        assert!(statuses.iter().all(|s| s.is_some_and(|s| s.success())), "validator {i}: {statuses:?}");
        let h = top(&net, &others).await;
        net.wait_for_height(&others, h + 3, CATCH_UP).await;
        net.start_validator(i);
        wait_caught_up(&net, i, &others).await;
        load.allow(i);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let report = load.stop().await;
    let finals = report.assert_all_final(&net, &[0, 1, 2], CATCH_UP).await;
    let finality = monitor.stop().await;
    let common = bottom(&net, &[0, 1, 2]).await;
    net.assert_agree(&[0, 1, 2], common).await;
    println!(
        "faults rolling-restart: {} blocks, {finals} txs final ({} accepted, {} retries), max stall {:.1}s at \
         height {} (bound {}s); {common} blocks agreed; {:.0}s",
        finality.blocks(),
        report.accepted(),
        report.retries(),
        finality.max_stall.as_secs_f64(),
        finality.stalled_at,
        ROLLING_RESTART_MAX_STALL.as_secs(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        finality.max_stall < ROLLING_RESTART_MAX_STALL,
        "finality stalled {:.1}s at height {}",
        finality.max_stall.as_secs_f64(),
        finality.stalled_at
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_network_stopped_and_restarted_resumes_from_disk_at_the_same_height() {
    let started = Instant::now();
    let mut net = Network::start(3, BLOCK_TIME);
    net.wait_for_height(&[0, 1, 2], 2, CATCH_UP).await;
    let load = Load::start(&net, 3, Duration::from_millis(100)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = load.stop().await;
    let finals = report.assert_all_final(&net, &[0, 1, 2], CATCH_UP).await;

    // 1. SIGTERM every validator (one after another: the last ones finalize a little more).
    for i in 0..3 {
        let statuses = net.terminate(i, Duration::from_secs(30));
        assert!(statuses.iter().all(|s| s.is_some_and(|s| s.success())), "validator {i}: {statuses:?}");
    }
    let stopped: Vec<u64> = (0..3).map(|i| net.last_logged_height(i).unwrap()).collect();
    let before: Vec<usize> = (0..3).map(|i| starts(&net, i)).collect();
    for i in 0..3 {
        net.start_validator(i);
    }
    for (i, &height) in stopped.iter().enumerate() {
        let resumed = wait_for_start_line(&net, i, before[i]).await;
        assert_eq!(resumed, height, "validator {i} stopped at {height} but resumed at {resumed}");
    }
    let after_term = *stopped.iter().max().unwrap() + 5;
    net.wait_for_height(&[0, 1, 2], after_term, CATCH_UP).await;
    net.assert_agree(&[0, 1, 2], after_term).await;

    // 2. SIGKILL every validator at once (a power cut): nothing final is lost.
    for i in 0..3 {
        net.kill(i);
    }
    let killed: Vec<u64> = (0..3).map(|i| net.last_logged_height(i).unwrap()).collect();
    let before: Vec<usize> = (0..3).map(|i| starts(&net, i)).collect();
    for i in 0..3 {
        net.start_validator(i);
    }
    for (i, &height) in killed.iter().enumerate() {
        let resumed = wait_for_start_line(&net, i, before[i]).await;
        // A block applied in the instant before the kill may not have been logged yet.
        assert!(
            resumed == height || resumed == height + 1,
            "validator {i} logged height {height} before the kill but resumed at {resumed}"
        );
    }
    let after_kill = *killed.iter().max().unwrap() + 5;
    net.wait_for_height(&[0, 1, 2], after_kill, CATCH_UP).await;
    net.assert_agree(&[0, 1, 2], after_kill).await;
    println!(
        "faults full-restart: {after_kill} blocks agreed, {finals} txs final; stopped at {stopped:?} and resumed \
         there (SIGTERM), logged {killed:?} before kill -9 of all and resumed, continued to {after_kill}; {:.0}s",
        started.elapsed().as_secs_f64()
    );
}

/// A power cut under load with no warning: every validator SIGKILLed at once while senders
/// are submitting (~100 tx/s, nobody drained). Every transaction an API answered "accepted"
/// must be final after the restart: it was journaled before the answer and is re-admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_every_validator_under_load_loses_no_accepted_transaction() {
    let started = Instant::now();
    let (mut net, _monitor, load) = three_validators_under_load(BLOCK_TIME, 10).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    for i in 0..3 {
        net.kill(i);
    }
    let killed: Vec<u64> = (0..3).map(|i| net.last_logged_height(i).unwrap_or(0)).collect();
    // Down for a moment: senders keep retrying against dead nodes.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..3 {
        net.start_validator(i);
    }
    let target = *killed.iter().max().unwrap() + 5;
    net.wait_for_height(&[0, 1, 2], target, CATCH_UP).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = load.stop().await;
    let finals = report.assert_all_final(&net, &[0, 1, 2], CATCH_UP).await;
    let common = bottom(&net, &[0, 1, 2]).await;
    net.assert_agree(&[0, 1, 2], common).await;
    let readmitted: Vec<usize> = (0..3).map(|i| readmitted_count(&net.log(i))).collect();
    println!(
        "faults kill-9-all: {finals} txs final ({} accepted, {} retries), none lost; kill -9 of all three at \
         heights {killed:?} without draining, journals re-admitted {readmitted:?}; {common} blocks agreed; {:.0}s",
        report.accepted(),
        report.retries(),
        started.elapsed().as_secs_f64()
    );
}

/// The transactions a validator's log says it re-admitted from its journal at its last start.
fn readmitted_count(log: &str) -> usize {
    log.lines()
        .rev()
        .find(|l| l.contains("transaction journal replayed"))
        .and_then(|l| l.split("\"readmitted\":").nth(1))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// How many times validator `i` has logged `node started` (its log is appended to on each start).
fn starts(net: &Network, i: usize) -> usize {
    net.log(i).matches("\"node started\"").count()
}

/// Waits for validator `i`'s next `node started` line (after `before` of them) and returns the
/// finalized height it reports: what the validator loaded from disk.
async fn wait_for_start_line(net: &Network, i: usize, before: usize) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    while starts(net, i) <= before {
        assert!(Instant::now() < deadline, "validator {} did not start:\n{}", i + 1, net.log(i));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    net.logged_start_height(i).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_equivocating_validator_of_four_is_caught_and_cannot_break_safety() {
    let started = Instant::now();
    let mut net = Network::lay_out(4, BLOCK_TIME);
    for i in 0..4 {
        net.edit_config(i, |text| text.replace("quorum: crash", "quorum: byzantine"));
    }
    for i in 0..3 {
        net.start_validator(i);
    }
    // Validator 4 signs a conflicting twin of every vote it casts.
    net.start_validator_with(3, &["--test-only-equivocate"]);
    let honest = [0, 1, 2];
    net.wait_for_height(&honest, 2, CATCH_UP).await;
    let monitor = FinalityMonitor::start(&net);
    let load = Load::start(&net, 4, Duration::from_millis(100)).await;
    let target = top(&net, &honest).await + 15;
    net.wait_for_height(&honest, target, CATCH_UP).await;
    let report = load.stop().await;
    let finals = report.assert_all_final(&net, &honest, CATCH_UP).await;
    let finality = monitor.stop().await;

    let common = bottom(&net, &honest).await;
    net.assert_agree(&honest, common).await;
    assert!(net.log(3).contains("TEST ONLY: this validator equivocates"), "validator 4 did not equivocate");
    let equivocator = net.validator_key(3);
    let mut evidence = Vec::new();
    for i in honest {
        let mut c = pb::consensus_client::ConsensusClient::new(net.consensus_channel(i).await);
        let records = c
            .list_evidence(pb::ListEvidenceRequest { limit: 1000, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .records;
        assert!(!records.is_empty(), "validator {} recorded no evidence", i + 1);
        for r in &records {
            let Some(pb::evidence::Kind::DuplicateVote(d)) = r.evidence.as_ref().and_then(|e| e.kind.as_ref()) else {
                panic!("unexpected evidence {r:?}");
            };
            let (a, b) = (d.vote_a.as_ref().unwrap(), d.vote_b.as_ref().unwrap());
            assert_eq!(a.validator, equivocator.0.to_vec(), "evidence names an honest validator");
            assert_eq!(b.validator, a.validator);
            assert_eq!((a.height, a.round, a.vote_type), (b.height, b.round, b.vote_type));
            assert_ne!(a.block_hash, b.block_hash);
        }
        evidence.push(records.len());
    }
    println!(
        "faults byzantine: {} blocks, {finals} txs final, max stall {:.1}s; 4 validators (quorum 3), validator 4 \
         equivocating, honest validators agree on {common} blocks and recorded {evidence:?} pieces of evidence \
         naming it; {:.0}s",
        finality.blocks(),
        finality.max_stall.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_equivocation_switch_is_only_a_node_command_line_flag() {
    let dir = tempfile::tempdir().unwrap();
    let bin = coinjecture_e2e::binary();
    let out = std::process::Command::new(&bin)
        .args(["keygen", "--test-only-equivocate", "--output"])
        .arg(dir.path().join("k.key"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only `coinjectured node` takes it"));
    // Hidden from --help.
    let help = std::process::Command::new(&bin).args(["node", "--help"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("equivocate"));
    // No configuration key turns it on.
    let out = std::process::Command::new(&bin)
        .args(["devnet", "--init-only", "--validators", "1", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let config = dir.path().join("validator-1.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("  quorum: crash\n", "  quorum: crash\n  test_only_equivocate: true\n"))
        .unwrap();
    let out = std::process::Command::new(&bin).arg("check-config").arg("--config").arg(&config).output().unwrap();
    assert!(!out.status.success(), "a config key was accepted");
}

/// Makes a directory refuse new files — as a non-root user by `chmod 0555`, as root (which
/// ignores permissions) by the immutable attribute (`chattr +i`, needs CAP_LINUX_IMMUTABLE and
/// a filesystem that has it) — and undoes that when dropped. Each way is verified by trying to
/// create a file.
struct ReadOnlyDir {
    dir: PathBuf,
    immutable: bool,
}

impl ReadOnlyDir {
    fn apply(dir: &Path) -> Result<Self, String> {
        use std::os::unix::fs::PermissionsExt;
        let mut guard = Self { dir: dir.to_path_buf(), immutable: false };
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        if !writable(dir) {
            return Ok(guard);
        }
        // Root: permissions do not apply.
        let chattr = std::process::Command::new("chattr").arg("+i").arg(dir).output();
        match chattr {
            Ok(out) if out.status.success() => guard.immutable = true,
            Ok(out) => return Err(format!("chmod does not stop root and chattr +i failed: {}", out_text(&out))),
            Err(e) => return Err(format!("chmod does not stop root and chattr is not available: {e}")),
        }
        if writable(dir) {
            return Err("neither chmod 0555 nor chattr +i stops writes to the directory".into());
        }
        Ok(guard)
    }
}

impl Drop for ReadOnlyDir {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.immutable {
            let _ = std::process::Command::new("chattr").arg("-i").arg(&self.dir).status();
        }
        let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o755));
    }
}

fn writable(dir: &Path) -> bool {
    let probe = dir.join(".write-probe");
    let ok = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

fn out_text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_directory_pauses_signing_and_it_resumes_without_a_restart() {
    let started = Instant::now();
    let mut net = Network::lay_out(3, BLOCK_TIME);
    // Validator 3 gets a database directory of its own.
    let data = net.dir.path().join("data/validator-3");
    std::fs::create_dir_all(&data).unwrap();
    net.edit_config(2, |text| text.replace("./data/validator-3.db", "./data/validator-3/validator-3.db"));
    for i in 0..3 {
        net.start_validator(i);
    }
    net.wait_for_height(&[0, 1, 2], 3, CATCH_UP).await;
    let me = net.validator_key(2);

    let read_only = match ReadOnlyDir::apply(&data) {
        Ok(guard) => guard,
        Err(reason) => {
            coinjecture_e2e::skip("faults_read_only_disk", &reason);
            return;
        }
    };
    let how = if read_only.immutable { "chattr +i" } else { "chmod 0555" };
    let made_read_only = Instant::now();

    // Validator 3 stays up and says why it does not sign: on /v1/status, in a metric, in its log.
    let deadline = made_read_only + Duration::from_secs(60);
    let reason = loop {
        assert!(net.exit_status(2).is_none(), "validator 3 exited:\n{}", tail(&net.log(2)));
        if let Some(reason) = net.signing_paused(2) {
            break reason;
        }
        assert!(Instant::now() < deadline, "validator 3 never paused signing on a read-only database directory");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let paused_after = made_read_only.elapsed().as_secs_f64();
    assert!(reason.contains(data.to_str().unwrap()), "the reason does not name the directory: {reason}");
    assert!(
        ["Permission denied", "Operation not permitted", "Read-only"].iter().any(|e| reason.contains(e)),
        "the reason does not say what went wrong: {reason}"
    );
    let (_, metrics) = coinjecture_e2e::http_get(net.api_port(2), "/metrics");
    assert!(metrics.lines().any(|l| l.starts_with("coinjecture_consensus_signing_paused{") && l.ends_with(" 1")));
    assert!(net.log(2).contains("signing paused"), "no error logged");
    let paused_from = top(&net, &[0, 1, 2]).await + 1;

    // The others go on (crash mode, 2 of 3), and validator 3 follows them.
    let h = top(&net, &[0, 1]).await;
    net.wait_for_height(&[0, 1, 2], h + 8, CATCH_UP).await;
    assert!(net.exit_status(2).is_none(), "validator 3 exited");
    assert!(net.signing_paused(2).is_some(), "validator 3 resumed signing on a read-only directory");
    // It signed nothing meanwhile: no proposal of its own, no precommit in any certificate.
    let paused_to = bottom(&net, &[0, 1, 2]).await;
    for height in paused_from + 1..=paused_to {
        let (proposer, signers) = block_signers(&net, 0, height).await;
        assert_ne!(proposer, me, "validator 3 proposed block {height} while it could not persist");
        assert!(!signers.contains(&me), "block {height}'s certificate carries validator 3's signature");
    }

    // Writable again: signing resumes in the same process.
    drop(read_only);
    let writable_at = Instant::now();
    let deadline = writable_at + Duration::from_secs(60);
    while net.signing_paused(2).is_some() {
        assert!(Instant::now() < deadline, "validator 3 did not resume signing:\n{}", tail(&net.log(2)));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resumed_after = writable_at.elapsed().as_secs_f64();
    let resumed_from = top(&net, &[0, 1, 2]).await + 1;
    let deadline = Instant::now() + CATCH_UP;
    let mut checked = resumed_from;
    let signed_at = 'found: loop {
        let tip = bottom(&net, &[0, 1, 2]).await;
        while checked <= tip {
            let (proposer, signers) = block_signers(&net, 0, checked).await;
            if proposer == me || signers.contains(&me) {
                break 'found checked;
            }
            checked += 1;
        }
        assert!(Instant::now() < deadline, "validator 3 signed nothing after resuming (checked up to {tip})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(net.exit_status(2).is_none(), "validator 3 exited");
    let common = bottom(&net, &[0, 1, 2]).await;
    net.assert_agree(&[0, 1, 2], common).await;
    println!(
        "faults read-only-disk: {common} blocks agreed; database directory made read-only by {how}, validator 3 \
         paused signing {paused_after:.1}s later (`{reason}`), followed the chain from {paused_from} to \
         {paused_to} signing nothing, resumed {resumed_after:.1}s after the directory was writable again and \
         signed block {signed_at}, never restarted; {:.0}s",
        started.elapsed().as_secs_f64()
    );
}

/// The proposer of block `height` on validator `i` and the validators whose precommits its
/// certificate carries.
async fn block_signers(
    net: &Network,
    i: usize,
    height: u64,
) -> (coinjecture_primitives::PublicKey, Vec<coinjecture_primitives::PublicKey>) {
    let mut l = pb::ledger_client::LedgerClient::new(net.channel(i).await);
    let b = l.get_block_by_height(pb::GetBlockByHeightRequest { height }).await.unwrap().into_inner();
    let (block, certificate) = coinjecture_proto::convert::finalized_block(&b.block.unwrap()).unwrap();
    (block.header.miner_address, certificate.signatures.iter().map(|(v, _)| *v).collect())
}

/// `COINJECTURE_SOAK_SECS` (default 3600): how long the soak runs.
fn soak_duration() -> Duration {
    Duration::from_secs(std::env::var("COINJECTURE_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3600))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "an hour by default (COINJECTURE_SOAK_SECS); run with --ignored"]
async fn soak() {
    let started = Instant::now();
    let duration = soak_duration();
    let (mut net, monitor, load) = three_validators_under_load("500ms", 4).await;
    // Memory after a warm-up (caches, connections, mempool at steady state) vs at the end.
    let warm_up = (duration / 10).max(Duration::from_secs(10));
    tokio::time::sleep(warm_up).await;
    let baseline: Vec<u64> = (0..3).map(|i| net.rss_kib(i).unwrap()).collect();
    let mut last_report = Instant::now();
    while started.elapsed() < duration {
        tokio::time::sleep(Duration::from_secs(5)).await;
        for i in 0..3 {
            assert!(net.exit_status(i).is_none(), "validator {} exited:\n{}", i + 1, net.log(i));
        }
        if last_report.elapsed() >= Duration::from_secs(60) {
            last_report = Instant::now();
            let rss: Vec<u64> = (0..3).map(|i| net.rss_kib(i).unwrap_or(0) / 1024).collect();
            println!(
                "soak {:>5.0}s: height {} RSS MiB {rss:?}",
                started.elapsed().as_secs_f64(),
                top(&net, &[0, 1, 2]).await
            );
        }
    }
    let end: Vec<u64> = (0..3).map(|i| net.rss_kib(i).unwrap()).collect();
    let report = load.stop().await;
    let finals = report.assert_all_final(&net, &[0, 1, 2], CATCH_UP).await;
    let finality = monitor.stop().await;
    let common = bottom(&net, &[0, 1, 2]).await;
    net.assert_agree(&[0, 1, 2], common).await;
    println!(
        "faults soak: {} blocks, {finals} txs final, max stall {:.1}s over {:.0}s; RSS KiB after warm-up {baseline:?}, \
         at the end {end:?}",
        finality.blocks(),
        finality.max_stall.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    // No leak: steady-state memory grows by less than half again (and at least 64 MiB of slack
    // for SQLite's page cache and allocator noise).
    for i in 0..3 {
        let allowed = (baseline[i] / 2).max(64 * 1024);
        assert!(end[i] <= baseline[i] + allowed, "validator {} grew from {} to {} KiB RSS", i + 1, baseline[i], end[i]);
    }
}
