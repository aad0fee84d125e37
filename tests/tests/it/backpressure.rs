//! Consensus first under a flood (issue #24 item 2), with real processes: a 3-validator devnet
//! whose public API is offered more transactions than it can finalize keeps its block interval
//! near the block time, and the flood is answered with 503 and `Retry-After` once the mempool is
//! above its high-water mark, instead of the mempool growing to its bound. A small mempool
//! (`mempool.max_transactions` 2,000, `mempool.high_water` 0.25: 500) makes the mark reachable
//! on a loaded machine with a debug build.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_e2e::{Network, transfer};
use coinjecture_primitives::PublicKey;

const HIGH_WATER: u64 = 500;
const BLOCK_TIME_MS: i64 = 2000;
const SENDERS: usize = 4;
const BATCH: u64 = 100;

/// One HTTP/1.1 POST: (status, `Retry-After` header, body).
fn post(port: u16, path: &str, body: &str) -> std::io::Result<(u16, Option<String>, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let retry_after = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("retry-after")))
        .map(|(_, v)| v.trim().to_string());
    Ok((status, retry_after, rest.to_string()))
}

/// JSON of a batch of transfers from `key`, nonces `from..from + BATCH`.
fn batch_json(key: &Keypair, from: u64) -> String {
    let txs: Vec<serde_json::Value> = (from..from + BATCH)
        .map(|n| serde_json::json!({ "raw": hex::encode(transfer(key, PublicKey([0x24; 32]), 1 + n % 7, n).encode()) }))
        .collect();
    serde_json::json!({ "transactions": txs }).to_string()
}

#[derive(Default)]
struct Tally {
    accepted: AtomicU64,
    refused_503: AtomicU64,
    other: AtomicU64,
    max_mempool: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_devnet_keeps_its_block_time_and_answers_503_with_retry_after() {
    let mut net = Network::lay_out(3, "2s");
    net.env.push(("COINJECTURE_MEMPOOL_MAX_TRANSACTIONS".into(), "2000".into()));
    net.env.push(("COINJECTURE_MEMPOOL_HIGH_WATER".into(), "0.25".into()));
    // No per-client rate limit (its 429s are another refusal): only the mempool holds back.
    net.env.push(("COINJECTURE_API_LIMITS_RATE_PER_SECOND".into(), "0".into()));
    net.env.push(("COINJECTURE_API_LIMITS_GLOBAL_RATE_PER_SECOND".into(), "0".into()));
    for i in 0..3 {
        net.start_validator(i);
    }
    net.wait_for_height(&[0, 1, 2], 2, Duration::from_secs(120)).await;

    // Senders funded from the faucet.
    let keys = coinjecture_e2e::load::fund_senders(&net, "flood", SENDERS).await;

    // The flood: each sender posts batches of 100 to a validator's REST API as fast as it is
    // answered, for 30 s; a refused batch is sent again 100 ms later (not after Retry-After: the
    // point is that the node keeps refusing, not that clients are polite).
    let from_height = net.height(0).await.unwrap();
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for (s, key) in keys.into_iter().enumerate() {
        let (port, tally, stop) = (net.api_base + (s % 3) as u16, tally.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut nonce = 0;
            while !stop.load(Ordering::Relaxed) {
                match post(port, "/v1/transactions", &batch_json(&key, nonce)) {
                    Ok((202, _, _)) => {
                        tally.accepted.fetch_add(BATCH, Ordering::Relaxed);
                        nonce += BATCH;
                    }
                    Ok((503, retry, body)) => {
                        assert!(body.contains("overloaded"), "503 without the overloaded code: {body}");
                        let retry = retry.expect("a 503 backpressure answer carries Retry-After");
                        assert!(retry.parse::<u64>().is_ok_and(|s| s >= 1), "Retry-After: {retry}");
                        tally.refused_503.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    Ok((status, _, body)) => {
                        // Partly admitted (e.g. a mempool bound): go on after the batch.
                        tally.other.fetch_add(1, Ordering::Relaxed);
                        eprintln!("flood: {status}: {}", body.chars().take(300).collect::<String>());
                        nonce += BATCH;
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    Err(e) => {
                        eprintln!("flood: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        }));
    }
    // Watch the mempools while the flood lasts.
    let flood_end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < flood_end {
        for i in 0..3 {
            let (code, body) = net.rest_get(i, "/v1/mempool");
            if code == 200 {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                tally.max_mempool.fetch_max(v["transaction_count"].as_u64().unwrap_or(0), Ordering::Relaxed);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let to_height = net.height(0).await.unwrap();

    // The block interval over the flood, from the blocks' own timestamps.
    let blocks = net.blocks(0, from_height, to_height).await;
    let stamps: Vec<i64> = blocks.iter().map(|b| b.header.timestamp_ms().get()).collect();
    let mut intervals: Vec<i64> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
    intervals.sort_unstable();
    let median = intervals.get(intervals.len() / 2).copied().unwrap_or(i64::MAX);
    let max = intervals.last().copied().unwrap_or(i64::MAX);
    let (accepted, refused, other, max_mempool) = (
        tally.accepted.load(Ordering::Relaxed),
        tally.refused_503.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed),
        tally.max_mempool.load(Ordering::Relaxed),
    );
    eprintln!(
        "flood of 30 s: {accepted} transactions accepted, {refused} batches refused with 503, {other} other answers; \
         largest mempool {max_mempool}; {} blocks, interval median {median} ms, max {max} ms",
        blocks.len()
    );
    assert!(refused > 0, "the flood was never refused: the high-water mark was not reached ({accepted} accepted)");
    assert!(
        max_mempool <= 2 * HIGH_WATER + (SENDERS as u64) * BATCH,
        "the mempool grew past its high-water mark: {max_mempool} (mark {HIGH_WATER})"
    );
    assert!(intervals.len() >= 5, "too few blocks during the flood: {}", blocks.len());
    assert!(
        median <= BLOCK_TIME_MS * 3 / 2,
        "median block interval {median} ms under the flood (block time {BLOCK_TIME_MS} ms): {intervals:?}"
    );
    assert!(max <= BLOCK_TIME_MS * 4, "a block interval of {max} ms under the flood: {intervals:?}");
    // What the operator sees: the refusals on /metrics, under their own label.
    let refused_on_metrics: u64 = (0..3)
        .map(|i| {
            let (_, text) = coinjecture_e2e::http_get(net.api_base + i, "/metrics");
            text.lines()
                .filter(|l| l.starts_with("coinjecture_api_refusals_total{") && l.contains("reason=\"backpressure\""))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64
        })
        .sum();
    assert_eq!(refused_on_metrics, refused, "coinjecture_api_refusals_total{{reason=\"backpressure\"}}");
}
