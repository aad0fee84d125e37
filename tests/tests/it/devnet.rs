//! A 3-validator network of real `coinjectured node` processes on loopback: blocks are
//! finalized, submitted transfers become final on every node with identical block hashes, and a
//! validator killed with SIGKILL restarts, catches up and agrees.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::time::{Duration, Instant};

use coinjecture_e2e::{Network, transfer};
use coinjecture_primitives::PublicKey;
use coinjecture_proto::v1 as pb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_finalize_transfers_survive_kill_9_and_agree() {
    let started = Instant::now();
    let mut net = Network::start(3, "500ms");
    net.wait_for_height(&[0, 1, 2], 3, Duration::from_secs(90)).await;

    // 20 transfers from the faucet, submitted to validator 1.
    let faucet = net.faucet();
    let recipient = PublicKey([0x42; 32]);
    let txs: Vec<pb::Transaction> = (0..20).map(|n| (&transfer(&faucet, recipient, 1_000 + n, n)).into()).collect();
    let mut consensus = pb::consensus_client::ConsensusClient::new(net.channel(1).await);
    let results = consensus
        .submit_transactions(pb::ConsensusSubmitTransactionsRequest { transactions: txs })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(results.iter().all(|r| r.accepted), "{results:?}");
    let expected: u64 = (0..20).map(|n| 1_000 + n).sum();
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..3 {
        while net.balance(i, &recipient).await != expected {
            assert!(Instant::now() < deadline, "transfers not final on validator {i}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // kill -9 one validator: the other two keep finalizing (crash mode), it restarts and catches up.
    net.kill(2);
    let h = net.height(0).await.unwrap();
    net.wait_for_height(&[0, 1], h + 4, Duration::from_secs(60)).await;
    net.start_validator(2);
    let target = net.height(0).await.unwrap() + 2;
    net.wait_for_height(&[0, 1, 2], target, Duration::from_secs(90)).await;

    let common = target;
    for height in 1..=common {
        let hashes =
            [net.block_hash(0, height).await, net.block_hash(1, height).await, net.block_hash(2, height).await];
        assert!(hashes[0] == hashes[1] && hashes[1] == hashes[2], "validators disagree at height {height}");
    }
    // What an operator checks: curl http://HOST:PORT/v1/status on every node.
    for i in 0..3 {
        let (code, body) = net.rest_get(i, "/v1/status");
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("\"chain_id\":\"coinjecture-devnet\""), "{body}");
        assert!(body.contains("\"block_height\":"), "{body}");
    }
    let (code, body) = net.rest_get(0, "/v1/blocks/not-a-block");
    assert_eq!(code, 400, "{body}");
    println!(
        "e2e devnet: 3 validators, {common} blocks agreed, 20 transfers final, kill -9 + restart caught up, {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_split_into_four_service_processes_behaves_like_the_others() {
    let started = Instant::now();
    let mut net = Network::start(3, "500ms");
    // Validator 3 runs as ledger + p2p-gateway + consensus + api processes.
    net.kill(2);
    net.start_validator_split(2);
    net.wait_for_height(&[0, 1, 2], 4, Duration::from_secs(120)).await;

    // A transfer submitted to the split validator's consensus service becomes final everywhere.
    let faucet = net.faucet();
    let recipient = PublicKey([0x24; 32]);
    let tx: pb::Transaction = (&transfer(&faucet, recipient, 777, 0)).into();
    let mut consensus = pb::consensus_client::ConsensusClient::new(net.consensus_channel(2).await);
    let r = consensus
        .submit_transactions(pb::ConsensusSubmitTransactionsRequest { transactions: vec![tx] })
        .await
        .unwrap()
        .into_inner();
    assert!(r.results[0].accepted, "{:?}", r.results);
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..3 {
        while net.balance(i, &recipient).await != 777 {
            assert!(Instant::now() < deadline, "transfer not final on validator {i}:\n{}", net.log(2));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let height = net.height(0).await.unwrap();
    net.wait_for_height(&[2], height, Duration::from_secs(30)).await;
    for h in 1..=height {
        let (a, c) = (net.block_hash(0, h).await, net.block_hash(2, h).await);
        assert_eq!(a, c, "split validator disagrees at height {h}");
    }
    let (code, body) = net.rest_get(2, "/v1/status");
    assert_eq!(code, 200, "{body}");

    // Each service process serves its own /metrics (--metrics-listen): what it recorded itself.
    let metrics = |k| {
        let (code, body) = coinjecture_e2e::http_get(net.split_metrics_port(2, k), "/metrics");
        assert_eq!(code, 200, "{body}");
        body
    };
    let ledger = metrics(0);
    assert!(ledger.contains("coinjecture_rpc_duration_seconds_count{service=\"coinjecture.v1.Ledger\""), "{ledger}");
    let p2p = metrics(1);
    assert!(p2p.contains("coinjecture_p2p_peers") && p2p.contains("coinjecture.v1.P2pGateway"), "{p2p}");
    let consensus = metrics(2);
    let line =
        consensus.lines().find(|l| l.starts_with("coinjecture_block_height{")).unwrap_or_else(|| panic!("{consensus}"));
    let reported: u64 = line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{line}"));
    assert!(reported >= height, "consensus /metrics says height {reported}, the chain is at {height}");
    println!("e2e split: validator 3 as 4 processes, {height} blocks agreed, {:.1}s", started.elapsed().as_secs_f64());
}

#[test]
fn broken_configs_stop_the_node_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(coinjecture_e2e::binary())
        .args(["devnet", "--init-only", "--validators", "1"])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let good = std::fs::read_to_string(dir.path().join("validator-1.yaml")).unwrap();
    let cases = [
        (good.replace("block_time: 2s", "block_time: 2 parsecs"), "consensus.block_time"),
        (good.replace("block_time:", "block_tme:"), "block_tme"),
        (good.replace("./keys/validator-1.key", "./keys/missing.key"), "consensus.validator_key"),
        (good.replace("quorum: crash", "quorum: most"), "consensus.quorum"),
    ];
    for (text, key) in cases {
        let path = dir.path().join("broken.yaml");
        std::fs::write(&path, text).unwrap();
        let out = std::process::Command::new(coinjecture_e2e::binary())
            .arg("node")
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key}: the node started");
        assert_eq!(stderr.trim().lines().count(), 1, "{key}: not one line: {stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(key), "{key}: {stderr}");
    }
}
