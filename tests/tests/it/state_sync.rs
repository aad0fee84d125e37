//! #22 item 1 with real processes: state sync. Validators snapshot the state every 10 blocks
//! (`ledger.snapshot_interval`) and attest each root (each gathers the others' attestations); a follower started late with
//! `ledger.state_sync: true` joins from the newest attested snapshot (it says so on
//! `/v1/status` and in its metrics), answers 410 for the heights below it, reaches the tip
//! with the same balances and keeps following. With snapshots off on every peer, the joiner
//! falls back to block replay after its 30-s search and replays from genesis.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::time::{Duration, Instant};

use coinjecture_e2e::{Network, transfer};
use coinjecture_primitives::PublicKey;

const BLOCK_TIME: &str = "400ms";
const PATIENCE: Duration = Duration::from_secs(150);

fn status(net: &Network, i: usize) -> Option<serde_json::Value> {
    let (code, body) = net.rest_get(i, "/v1/status");
    (code == 200).then(|| serde_json::from_str(&body).ok()).flatten()
}

/// Waits until node `i` serves (its API starts once the join is over) and its `/v1/status` says
/// `state_sync.state` is `state`; returns the status.
async fn wait_for_state(net: &Network, i: usize, state: &str) -> serde_json::Value {
    net.wait_for_height(&[i], 1, PATIENCE).await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(s) = status(net, i)
            && s["state_sync"]["state"] == state
        {
            return s;
        }
        assert!(Instant::now() < deadline, "{} never reported state sync {state:?}: {:?}", net.name(i), status(net, i));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn metric(net: &Network, i: usize, name: &str) -> f64 {
    let (_, metrics) = coinjecture_e2e::http_get(net.api_port(i), "/metrics");
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or(-1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_follower_joins_from_an_attested_snapshot_and_keeps_following() {
    let _share = coinjecture_e2e::share_machine();
    let mut net = Network::lay_out_with_followers(3, 1, BLOCK_TIME);
    for i in 0..3 {
        net.edit_config(i, |c| format!("{c}ledger:\n  snapshot_interval: 10\n"));
    }
    let follower = 3;
    net.edit_config(follower, |c| format!("{c}ledger:\n  snapshot_interval: 10\n  state_sync: true\n"));
    for i in 0..3 {
        net.start_validator(i);
    }
    net.wait_for_height(&[0, 1, 2], 3, PATIENCE).await;
    // Transfers in the early blocks (below the snapshot the follower will join from).
    let recipient = PublicKey([0x7c; 32]);
    let faucet = net.faucet();
    for nonce in 0..5 {
        let tx = transfer(&faucet, recipient, 200 + nonce, nonce);
        let body = format!("{{\"raw\":\"{}\"}}", hex::encode(tx.encode()));
        let (code, answer) = net.rest_post(0, "/v1/transactions", &body);
        assert_eq!(code, 202, "{answer}");
    }
    let expected: u64 = (200..205).sum();
    let deadline = Instant::now() + PATIENCE;
    while net.balance(0, &recipient).await != expected {
        assert!(Instant::now() < deadline, "the transfers are not final");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Two snapshots (10, 20) made and attested.
    net.wait_for_height(&[0, 1, 2], 24, PATIENCE).await;

    net.start_validator(follower);
    let joined = wait_for_state(&net, follower, "installed").await;
    let snapshot = joined["state_sync"]["height"].as_u64().unwrap();
    let snapshot_lines =
        |i: usize| -> String { net.log(i).lines().filter(|l| l.contains("snapshot")).collect::<Vec<_>>().join("\n") };
    assert!(
        // 20 unless the peers that answered first had not gathered 20's attestations yet.
        snapshot >= 10 && snapshot % 10 == 0,
        "joined from {snapshot}: {joined}\nfollower:\n{}\nvalidator 1:\n{}",
        snapshot_lines(follower),
        snapshot_lines(0)
    );
    assert!(joined["state_sync"]["attestations"].as_u64().unwrap() >= 3, "{joined}");
    assert_eq!(joined["oldest_block_height"].as_u64(), Some(snapshot + 1), "{joined}");
    assert_eq!(metric(&net, follower, "coinjecture_state_sync_snapshot_height"), snapshot as f64);

    // It follows to the tip, with the validators' blocks and balances.
    // A block above the snapshot: the snapshot's own block has its header only on the joiner.
    let tip = net.height(0).await.unwrap().max(snapshot + 1);
    net.wait_for_height(&[follower], tip + 3, PATIENCE).await;
    assert_eq!(net.block_hash(follower, tip).await, net.block_hash(0, tip).await);
    assert_eq!(net.balance(follower, &recipient).await, expected);
    assert_eq!(net.nonce(follower, &faucet.public_key()).await, net.nonce(0, &faucet.public_key()).await);
    // Below the snapshot: 410 Gone, naming the oldest height it serves.
    let (code, body) = net.rest_get(follower, "/v1/blocks/2");
    assert_eq!(code, 410, "{body}");
    // A transfer after the join is final on it too.
    let tx = transfer(&faucet, recipient, 1, 5);
    let body = format!("{{\"raw\":\"{}\"}}", hex::encode(tx.encode()));
    let (code, answer) = net.rest_post(follower, "/v1/transactions", &body);
    assert_eq!(code, 202, "{answer}");
    let deadline = Instant::now() + PATIENCE;
    while net.balance(follower, &recipient).await != expected + 1 {
        assert!(Instant::now() < deadline, "the follower's transfer is not final on it");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("state_sync: the follower joined from snapshot {snapshot} (tip {tip}) and follows: {joined}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_snapshots_off_on_every_peer_a_joiner_falls_back_to_replay() {
    let _share = coinjecture_e2e::share_machine();
    let mut net = Network::lay_out_with_followers(3, 1, BLOCK_TIME);
    for i in 0..3 {
        net.edit_config(i, |c| format!("{c}ledger:\n  snapshot_interval: 0\n"));
    }
    let follower = 3;
    net.edit_config(follower, |c| format!("{c}ledger:\n  state_sync: true\n"));
    for i in 0..3 {
        net.start_validator(i);
    }
    net.wait_for_height(&[0, 1, 2], 5, PATIENCE).await;
    let started = Instant::now();
    net.start_validator(follower);
    let fell_back = wait_for_state(&net, follower, "replay").await;
    let waited = started.elapsed();
    assert!(fell_back["state_sync"]["reason"].as_str().unwrap().contains("no usable snapshot"), "{fell_back}");
    let tip = net.height(0).await.unwrap();
    net.wait_for_height(&[follower], tip + 2, PATIENCE).await;
    assert_eq!(net.block_hash(follower, tip).await, net.block_hash(0, tip).await);
    assert_eq!(fell_back["oldest_block_height"], 0, "a replaying node keeps every block: {fell_back}");
    assert_eq!(metric(&net, follower, "coinjecture_state_sync_fallbacks_total"), 1.0);
    let log = net.log(follower);
    assert!(log.contains("replaying blocks from genesis instead"), "{}", coinjecture_e2e::tail(&log));
    println!("state_sync: fell back to replay {:.1}s after start and reached the tip {tip}", waited.as_secs_f64());
}

/// A hostile snapshot peer (validator 1, `--test-only-hostile-snapshots`: a garbage manifest, a
/// manifest with a forged root, chunks with a flipped bit) costs the joiner a few refusals,
/// counted, and nothing else: it joins from the honest peers' snapshot with the right state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_snapshot_peer_is_refused_and_counted_and_the_join_succeeds() {
    let _share = coinjecture_e2e::share_machine();
    let mut net = Network::lay_out_with_followers(3, 1, BLOCK_TIME);
    for i in 0..3 {
        net.edit_config(i, |c| format!("{c}ledger:\n  snapshot_interval: 10\n"));
    }
    let follower = 3;
    net.edit_config(follower, |c| format!("{c}ledger:\n  state_sync: true\n"));
    net.start_validator_with(0, &["--test-only-hostile-snapshots"]);
    for i in 1..3 {
        net.start_validator(i);
    }
    let recipient = PublicKey([0x3d; 32]);
    let faucet = net.faucet();
    net.wait_for_height(&[0, 1, 2], 3, PATIENCE).await;
    let tx = transfer(&faucet, recipient, 777, 0);
    let (code, answer) = net.rest_post(1, "/v1/transactions", &format!("{{\"raw\":\"{}\"}}", hex::encode(tx.encode())));
    assert_eq!(code, 202, "{answer}");
    net.wait_for_height(&[0, 1, 2], 16, PATIENCE).await;

    net.start_validator(follower);
    let joined = wait_for_state(&net, follower, "installed").await;
    let snapshot = joined["state_sync"]["height"].as_u64().unwrap();
    assert!(snapshot >= 10, "{joined}");
    let refused = metric(&net, follower, "coinjecture_state_sync_refused_total");
    assert!(refused >= 2.0, "the garbage and the forged manifest were not both refused: {refused}");
    let tip = net.height(1).await.unwrap().max(snapshot + 1);
    net.wait_for_height(&[follower], tip + 2, PATIENCE).await;
    assert_eq!(net.block_hash(follower, tip).await, net.block_hash(1, tip).await);
    assert_eq!(net.balance(follower, &recipient).await, 777);
    let log = net.log(follower);
    assert!(log.contains("snapshot refused") || log.contains("manifest is refused"), "{}", coinjecture_e2e::tail(&log));
    println!("state_sync: joined from {snapshot} past a hostile peer, {refused} answers refused");
}
