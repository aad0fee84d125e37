//! Followers (`consensus.role: follower`): nodes outside the validator set that follow the
//! chain, serve the public API and the explorer, and relay what is submitted to them, so the
//! validators need not expose their API. `coinjectured devnet --followers N` lays them out;
//! `check-config` refuses a role that does not match the key; a follower started late catches up
//! by block replay (joining by state sync is `state_sync.rs`) and then serves what the validators
//! would.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::process::Command;
use std::time::{Duration, Instant};

use coinjecture_e2e::{Network, binary, transfer};
use coinjecture_primitives::PublicKey;

const BLOCK_TIME: &str = "400ms";
const CATCH_UP: Duration = Duration::from_secs(120);

fn check_config(config: &std::path::Path) -> (bool, String) {
    let out = Command::new(binary()).arg("check-config").arg("--config").arg(config).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn devnet_followers_get_keys_outside_the_validator_set_and_a_role_check_config_enforces() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(binary())
        .args(["devnet", "--init-only", "--validators", "2", "--followers", "2", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(dir.path().to_str().unwrap()))
        .map(|l| l.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(listed, ["validator-1.yaml", "validator-2.yaml", "follower-1.yaml", "follower-2.yaml"]);
    for n in 1..=2 {
        let follower = dir.path().join(format!("follower-{n}.yaml"));
        let text = std::fs::read_to_string(&follower).unwrap();
        assert!(text.contains("  role: follower\n"), "{text}");
        // Both validators are its bootstrap peers; its ports follow the validators'.
        assert_eq!(text.matches("/p2p/").count(), 2, "{text}");
        assert!(text.contains(&format!("/ip4/127.0.0.1/tcp/{}\n", 9001 + n)), "{text}");
        assert!(text.contains(&format!("port: {}\n", 8081 + n)), "{text}");
        let (ok, said) = check_config(&follower);
        assert!(ok && said.contains("role follower"), "{said}");
    }
    // The genesis funds no follower, and no validator config lists a follower's key.
    let validator_1 = std::fs::read_to_string(dir.path().join("validator-1.yaml")).unwrap();
    let (ok, said) = check_config(&dir.path().join("validator-1.yaml"));
    assert!(ok && said.contains("role validator"), "{said}");

    // A validator config pointing at a key outside the set: refused, naming the fix.
    let stray = dir.path().join("stray-validator.yaml");
    std::fs::write(&stray, validator_1.replace("keys/validator-1.key", "keys/follower-1.key")).unwrap();
    let (ok, said) = check_config(&stray);
    assert!(!ok, "a validator whose key is outside the set passed");
    assert!(said.contains("is not among consensus.validators") && said.contains("consensus.role: follower"), "{said}");
    // A follower holding a validator's key: refused.
    let follower_1 = std::fs::read_to_string(dir.path().join("follower-1.yaml")).unwrap();
    let twin = dir.path().join("twin-follower.yaml");
    std::fs::write(&twin, follower_1.replace("keys/follower-1.key", "keys/validator-2.key")).unwrap();
    let (ok, said) = check_config(&twin);
    assert!(!ok && said.contains("consensus.role: follower, but consensus.validator_key"), "{said}");
    // A follower without a key file is fine (a new p2p identity per start); a validator is not.
    let keyless = dir.path().join("keyless-follower.yaml");
    std::fs::write(&keyless, follower_1.replace("  validator_key: ./keys/follower-1.key\n", "")).unwrap();
    let (ok, said) = check_config(&keyless);
    assert!(ok, "{said}");
    let keyless_validator = dir.path().join("keyless-validator.yaml");
    std::fs::write(&keyless_validator, validator_1.replace("  validator_key: ./keys/validator-1.key\n", "")).unwrap();
    let (ok, said) = check_config(&keyless_validator);
    assert!(!ok && said.contains("a validator needs its key file"), "{said}");

    // --reset removes the followers' configs too.
    let out =
        Command::new(binary()).args(["devnet", "--init-only", "--reset", "--dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("follower-2.yaml"));
    assert!(!dir.path().join("follower-2.yaml").exists(), "--reset kept follower-2.yaml");
}

/// `GET path` on node `i`'s REST port, as JSON (status must be 200).
fn get_json(net: &Network, i: usize, path: &str) -> serde_json::Value {
    let (code, body) = net.rest_get(i, path);
    assert_eq!(code, 200, "{} GET {path}: {body}", net.name(i));
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_started_late_replays_the_chain_and_serves_the_api_and_submissions() {
    let started = Instant::now();
    let mut net = Network::lay_out_with_followers(3, 1, BLOCK_TIME);
    for i in 0..3 {
        net.start_validator(i);
    }
    net.wait_for_height(&[0, 1, 2], 10, CATCH_UP).await;
    let follower = 3;
    let behind = net.height(0).await.unwrap();
    let replay_started = Instant::now();
    net.start_validator(follower);
    net.wait_for_height(&[follower], behind + 2, CATCH_UP).await;
    let replay = replay_started.elapsed();

    // What an operator checks on the follower: status, readiness, the explorer, the validators.
    let status = get_json(&net, follower, "/v1/status");
    assert!(status["validator"].is_null(), "the follower says it is a validator: {status}");
    assert!(status["peers"].as_u64().unwrap() >= 1, "{status}");
    assert_eq!(status["syncing"], false, "{status}");
    let (code, ready) = net.rest_get(follower, "/ready");
    assert_eq!(code, 200, "the follower is not ready: {ready}");
    let (code, page) = net.rest_get(follower, "/");
    assert!(code == 200 && page.contains("<html"), "the follower serves no explorer: {code}");
    let validators = get_json(&net, follower, "/v1/validators");
    let listed = validators["validators"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{validators}");
    assert!(listed.iter().all(|v| v["local"] == false), "{validators}");

    // A transfer submitted to the follower is relayed and final on every node.
    let recipient = PublicKey([0x5a; 32]);
    let tx = transfer(&net.faucet(), recipient, 4_321, 0);
    let body = format!("{{\"raw\":\"{}\"}}", hex::encode(tx.encode()));
    let (code, answer) = net.rest_post(follower, "/v1/transactions", &body);
    assert_eq!(code, 202, "the follower refused the transfer: {answer}");
    let deadline = Instant::now() + CATCH_UP;
    for i in 0..4 {
        while net.balance(i, &recipient).await != 4_321 {
            assert!(Instant::now() < deadline, "the follower's transfer is not final on {}", net.name(i));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let found = get_json(&net, follower, &format!("/v1/transactions/{}", tx.hash()));
    let height = found["block_height"].as_u64().unwrap();

    // Same heights, same hashes, and the follower's blocks carry no signature of its own.
    let tip = net.height(0).await.unwrap().max(height);
    net.wait_for_height(&[0, 1, 2, follower], tip, CATCH_UP).await;
    net.assert_agree(&[0, 1, 2, follower], tip).await;
    let (_, metrics) = coinjecture_e2e::http_get(net.api_port(follower), "/metrics");
    let produced = metrics.lines().find(|l| l.starts_with("coinjecture_validator_blocks_produced_total{"));
    assert!(produced.is_none_or(|l| l.ends_with(" 0")), "the follower produced blocks: {produced:?}");
    println!(
        "followers: follower started {behind} blocks behind, replayed to the tip in {:.1}s, served status, \
         /ready, the explorer and a submission final at height {height}; {tip} blocks agreed; {:.0}s",
        replay.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// #22 items 2 and 3 with real processes: validator 1 prunes (`ledger.keep_blocks: 16`), the
/// others are archive nodes; a follower started late with `ledger.assume_valid_height` covering
/// the chain replays it (the pruned validator answers "pruned" for the early blocks and the
/// follower takes them from an archive validator), agrees with every validator, and did not
/// verify the replayed transactions' signatures (its metric says how many it assumed valid).
/// The pruning validator answers 410 Gone for the pruned heights and reports its oldest height.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_follower_replays_with_assume_valid_past_a_pruning_validator() {
    let mut net = Network::lay_out_with_followers(3, 1, BLOCK_TIME);
    net.edit_config(0, |c| format!("{c}ledger:\n  keep_blocks: 16\n"));
    let follower = 3;
    net.edit_config(follower, |c| format!("{c}ledger:\n  assume_valid_height: 1000000000\n"));
    for i in 0..3 {
        net.start_validator(i);
    }
    net.wait_for_height(&[0, 1, 2], 3, CATCH_UP).await;
    // Transfers in the early blocks (the ones validator 1 prunes).
    let recipient = PublicKey([0x6b; 32]);
    let faucet = net.faucet();
    for nonce in 0..5 {
        let tx = transfer(&faucet, recipient, 100 + nonce, nonce);
        let body = format!("{{\"raw\":\"{}\"}}", hex::encode(tx.encode()));
        let (code, answer) = net.rest_post(1, "/v1/transactions", &body);
        assert_eq!(code, 202, "{answer}");
    }
    let deadline = Instant::now() + CATCH_UP;
    while net.balance(1, &recipient).await != (100..105).sum::<u64>() {
        assert!(Instant::now() < deadline, "the transfers are not final");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    net.wait_for_height(&[0, 1, 2], 40, CATCH_UP).await;

    // The pruning validator: early blocks are gone, with the oldest height it serves.
    let deadline = Instant::now() + CATCH_UP;
    let oldest = loop {
        let status = get_json(&net, 0, "/v1/status");
        let oldest = status["oldest_block_height"].as_u64().unwrap();
        if oldest > 20 {
            break oldest;
        }
        assert!(Instant::now() < deadline, "validator 1 does not prune: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (code, body) = net.rest_get(0, "/v1/blocks/2");
    assert_eq!(code, 410, "{body}");
    let gone: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(gone["code"], "pruned", "{body}");
    assert!(gone["oldest_height"].as_u64().unwrap() >= oldest, "{body}");
    assert_eq!(get_json(&net, 1, "/v1/status")["oldest_block_height"], 0, "validator 2 is an archive node");

    // The late follower replays from genesis and agrees.
    let behind = net.height(1).await.unwrap();
    net.start_validator(follower);
    net.wait_for_height(&[follower], behind + 2, CATCH_UP).await;
    let tip = net.height(1).await.unwrap();
    net.wait_for_height(&[0, 1, 2, follower], tip, CATCH_UP).await;
    net.assert_agree(&[1, 2, follower], tip).await;
    assert_eq!(net.block_hash(follower, tip).await, net.block_hash(0, tip).await);
    assert_eq!(net.balance(follower, &recipient).await, (100..105).sum::<u64>());
    assert_eq!(get_json(&net, follower, "/v1/blocks/2")["height"], 2, "the follower keeps every block");
    let (_, metrics) = coinjecture_e2e::http_get(net.api_port(follower), "/metrics");
    let assumed = metrics
        .lines()
        .find(|l| l.starts_with("coinjecture_ledger_transactions_assumed_valid_total"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(assumed >= 5.0, "the follower verified signatures it was told to assume valid: {assumed}");
    println!(
        "followers: pruning validator serves from {oldest}; late follower replayed {behind} blocks, {assumed} transactions assumed valid"
    );
}
