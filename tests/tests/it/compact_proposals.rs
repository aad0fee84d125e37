//! Compact proposals (issue #24 item 1) with real processes: a 3-validator devnet under load
//! finalizes every transfer exactly once while every proposal crosses the network compact (the
//! header and the transaction hashes), far smaller than the block it names; each validator
//! rebuilds the blocks from its mempool (its `/metrics` say so).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::time::{Duration, Instant};

use coinjecture_e2e::{Network, http_get, transfer};
use coinjecture_primitives::PublicKey;
use coinjecture_proto::v1 as pb;

/// The `_sum` and `_count` of a histogram on node `i`'s `/metrics`, for series whose labels
/// contain `labels`.
fn histogram(net: &Network, i: usize, name: &str, labels: &str) -> (f64, u64) {
    let (code, text) = http_get(net.api_port(i), "/metrics");
    assert_eq!(code, 200, "{}: /metrics answered {code}", net.name(i));
    let value = |suffix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}_{suffix}{{")) && l.contains(labels))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    (value("sum"), value("count") as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devnet_under_load_finalizes_every_transfer_with_compact_proposals() {
    let started = Instant::now();
    let net = Network::start(3, "1s");
    net.wait_for_height(&[0, 1, 2], 2, Duration::from_secs(90)).await;

    // 3,000 transfers from the faucet in batches of 300 to validator 0, about one batch per
    // 300 ms: the others get them from gossip and rebuild validator 0's blocks, and validator 0
    // rebuilds theirs.
    const TOTAL: u64 = 3_000;
    const BATCH: u64 = 300;
    let faucet = net.faucet();
    let recipient = PublicKey([0x43; 32]);
    let mut consensus = pb::consensus_client::ConsensusClient::new(net.channel(0).await);
    for start in (0..TOTAL).step_by(BATCH as usize) {
        let txs: Vec<pb::Transaction> =
            (start..start + BATCH).map(|n| (&transfer(&faucet, recipient, 1 + n % 7, n)).into()).collect();
        let results = consensus
            .submit_transactions(pb::ConsensusSubmitTransactionsRequest { transactions: txs })
            .await
            .unwrap()
            .into_inner()
            .results;
        assert!(results.iter().all(|r| r.accepted), "{:?}", results.iter().find(|r| !r.accepted));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let expected: u64 = (0..TOTAL).map(|n| 1 + n % 7).sum();
    let deadline = Instant::now() + Duration::from_secs(180);
    for i in 0..3 {
        loop {
            let balance = net.balance(i, &recipient).await;
            if balance == expected {
                break;
            }
            assert!(balance < expected, "validator {i}: {balance} > {expected}: a transfer was applied twice");
            assert!(Instant::now() < deadline, "validator {i}: {balance} of {expected} final after 180 s");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(net.nonce(i, &faucet.public_key()).await, TOTAL, "validator {i}: the faucet's nonce");
    }
    // No block lost or forked: the same chain everywhere.
    let mut top = u64::MAX;
    for i in 0..3 {
        top = top.min(net.height(i).await.unwrap());
    }
    for h in 1..=top {
        let (a, b, c) = (net.block_hash(0, h).await, net.block_hash(1, h).await, net.block_hash(2, h).await);
        assert!(a == b && b == c, "validators disagree at height {h}");
    }

    // Every proposal went compact, and compact proposals were far smaller than their blocks.
    let (mut compact_bytes, mut compact_count, mut block_bytes, mut rebuilt) = (0.0, 0, 0.0, 0);
    for i in 0..3 {
        for form in ["compact", "full"] {
            let (seconds, n) =
                histogram(&net, i, "coinjecture_proposal_propagation_seconds", &format!("form=\"{form}\""));
            let (bytes, p) = histogram(&net, i, "coinjecture_proposal_bytes", &format!("form=\"{form}\""));
            println!(
                "{}: {form}: {n} proposals complete here, mean propagation {:.1} ms; {p} published, mean {:.0} bytes",
                net.name(i),
                1000.0 * seconds / n.max(1) as f64,
                bytes / p.max(1) as f64
            );
        }
    }
    for i in 0..3 {
        let (_, full) = histogram(&net, i, "coinjecture_proposal_bytes", "form=\"full\"");
        assert_eq!(full, 0, "{} published full proposals", net.name(i));
        let (bytes, count) = histogram(&net, i, "coinjecture_proposal_bytes", "form=\"compact\"");
        let (blocks, _) = histogram(&net, i, "coinjecture_proposal_block_bytes", "network=");
        let (_, received) = histogram(&net, i, "coinjecture_proposal_propagation_seconds", "form=\"compact\"");
        compact_bytes += bytes;
        compact_count += count;
        block_bytes += blocks;
        rebuilt += received;
    }
    assert!(compact_count >= 3, "{compact_count} compact proposals published");
    assert!(rebuilt >= 3, "{rebuilt} compact proposals rebuilt");
    // A transfer is ~270 bytes and its hash 32: at least 5 times smaller over the whole run
    // (empty blocks' proposals are a header only, on both sides of the ratio).
    assert!(
        compact_bytes * 5.0 < block_bytes,
        "compact proposals carried {compact_bytes} bytes for blocks of {block_bytes} bytes"
    );
    println!(
        "e2e compact proposals: {TOTAL} transfers final on 3 validators, {top} blocks agreed; {compact_count} proposals, \
         {compact_bytes} bytes for {block_bytes} bytes of transactions ({:.1}x smaller), {rebuilt} rebuilt, {:.1}s",
        block_bytes / compact_bytes.max(1.0),
        started.elapsed().as_secs_f64()
    );
}
