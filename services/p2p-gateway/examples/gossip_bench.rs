//! Gossip benchmarks on loopback TCP. Each node runs on its own tokio runtime whose threads are
//! named after it (`node-<i>`), so the node's CPU time is the sum of its threads' utime + stime
//! (`/proc/self/task/*/stat`). `BENCH_WORKERS` sets worker threads per node (default 1: a
//! single-threaded runtime; the daemon uses a multi-threaded one).
//!
//! ```sh
//! cargo run --release -p coinjecture-p2p-gateway --example gossip_bench            # both
//! cargo run --release -p coinjecture-p2p-gateway --example gossip_bench -- propagation 200
//! cargo run --release -p coinjecture-p2p-gateway --example gossip_bench -- throughput 10000 10
//! cargo run --release -p coinjecture-p2p-gateway --example gossip_bench -- throughput 10000 10 100
//! ```
//!
//! - `propagation [blocks]`: 4 nodes in a line (3 hops end to end); node 0 publishes 1 MB
//!   finalized blocks one at a time; reports p50/p99 time to reach each node.
//! - `throughput [rate] [seconds] [batch]`: 3 nodes in a line; node 0 publishes `rate`
//!   200-byte transactions per second, `batch` per gossip message (default 1: one 200-byte
//!   message each); reports what nodes 1 and 2 received (loss) and each node's CPU.
//!
//! Figures on the 2-core development machine, shared with other builds (load average ~3.5),
//! release build, single-threaded runtime per node:
//!
//! | run | result |
//! | --- | --- |
//! | 1 MB block, 4-node line, 200 blocks | 1 hop p50 15.4 / p99 28.2 ms; 3 hops p50 25.4 / p99 40.9 ms; 0 lost |
//! | 8,000 × 200 B msg/s, 3-node line, 10 s | 0 lost; CPU 44 / 65 / 55 µs per message (nodes 0 / 1 / 2) |
//! | 10,000 × 200 B msg/s, 3-node line, 10 s | 1.2 % of publishes refused (per-peer queue full), 0 accepted lost; 33 / 50 / 42 % of a core |
//! | 10,000 tx/s as 100-tx batches (20 KB), 10 s | 0 lost; 3–4 % of a core per node |
//!
//! The per-message cost is dominated by gossipsub's ed25519 signing/verification and one
//! flush through yamux + noise per message: the transaction path should gossip
//! `TransactionBatch`es, not single transactions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark program: a panic is the failure report"
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coinjecture_p2p_gateway::{Limits, Multiaddr, NoBlocks, P2pConfig, P2pHandle, P2pNode};
use coinjecture_proto::v1::{self as pb, consensus_message::Kind};
use prost::Message as _;
use tokio::sync::{Notify, mpsc, oneshot};

const NET: &str = "coinjecture-bench";

/// utime + stime of this process's threads named `name`, seconds (clock ticks of 10 ms).
fn threads_cpu_seconds(name: &str) -> f64 {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some((head, after)) = stat.rsplit_once(')') else { continue };
        if head.split_once('(').map(|(_, comm)| comm) != Some(name) {
            continue;
        }
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        total += ticks(11) + ticks(12);
    }
    total as f64 / 100.0
}

fn workers() -> usize {
    std::env::var("BENCH_WORKERS").ok().and_then(|w| w.parse().ok()).unwrap_or(1)
}

/// Which node received a message, and when.
type Arrivals = Vec<(usize, Instant)>;

/// Receipts: message id -> arrivals.
#[derive(Default)]
struct Receipts {
    seen: Mutex<HashMap<[u8; 32], Arrivals>>,
    counts: Vec<AtomicU64>,
    notify: Notify,
    record_ids: bool,
}

enum Control {
    Cpu(oneshot::Sender<f64>),
    Stop,
}

struct BenchNode {
    handle: P2pHandle,
    addr: Multiaddr,
    control: mpsc::Sender<Control>,
    thread: std::thread::JoinHandle<()>,
}

fn spawn_node(index: usize, bootstrap: Vec<Multiaddr>, receipts: Arc<Receipts>) -> BenchNode {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let name = format!("node-{index}");
    let thread = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let runtime = match workers() {
                0 | 1 => tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
                n => tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(n)
                    .thread_name(name.clone())
                    .enable_all()
                    .build()
                    .unwrap(),
            };
            runtime.block_on(async move {
                let mut seed = [0u8; 32];
                seed[0] = index as u8 + 1;
                let mut config = P2pConfig::new(NET, seed);
                config.bootstrap_peers = bootstrap;
                config.limits = Limits { heartbeat_interval: Duration::from_millis(200), ..Limits::default() };
                let (handle, _task) = P2pNode::start(config, Arc::new(NoBlocks), None).await.unwrap();
                let info = handle.network_info().await.unwrap();
                let addr = info.listen_addrs[0].clone().with_p2p(handle.local_peer_id()).unwrap();
                let mut sub = handle.subscribe(&coinjecture_p2p_gateway::ALL_TOPICS, false).await.unwrap();
                let (control_tx, mut control) = mpsc::channel(4);
                ready_tx.send((handle.clone(), addr, control_tx)).unwrap();
                loop {
                    tokio::select! {
                        Some(m) = sub.recv() => {
                            let now = Instant::now();
                            receipts.counts[index].fetch_add(1, Ordering::Relaxed);
                            if receipts.record_ids {
                                receipts.seen.lock().unwrap().entry(m.message_id).or_default().push((index, now));
                                receipts.notify.notify_waiters();
                            }
                        }
                        c = control.recv() => match c {
                            Some(Control::Cpu(reply)) => { let _ = reply.send(threads_cpu_seconds(&name)); }
                            Some(Control::Stop) | None => break,
                        }
                    }
                }
                handle.shutdown().await;
            });
        })
        .unwrap();
    let (handle, addr, control) = ready_rx.recv().unwrap();
    BenchNode { handle, addr, control, thread }
}

fn line(n: usize, receipts: &Arc<Receipts>) -> Vec<BenchNode> {
    let mut nodes: Vec<BenchNode> = Vec::new();
    for i in 0..n {
        let bootstrap = nodes.last().map(|p| vec![p.addr.clone()]).unwrap_or_default();
        nodes.push(spawn_node(i, bootstrap, receipts.clone()));
    }
    nodes
}

async fn cpu(node: &BenchNode) -> f64 {
    let (tx, rx) = oneshot::channel();
    node.control.send(Control::Cpu(tx)).await.unwrap();
    rx.await.unwrap()
}

async fn stop(nodes: Vec<BenchNode>) {
    for n in &nodes {
        let _ = n.control.send(Control::Stop).await;
    }
    for n in nodes {
        let _ = n.thread.join();
    }
}

/// Publishes vote probes until every other node has received one (the mesh carries).
async fn wait_for_mesh(nodes: &[BenchNode], receipts: &Receipts) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut probe = 0u64;
    loop {
        assert!(Instant::now() < deadline, "mesh did not form");
        probe += 1;
        let payload = pb::ConsensusMessage {
            kind: Some(Kind::Vote(pb::Vote { height: u64::MAX - probe, ..Default::default() })),
        }
        .encode_to_vec();
        nodes[0].handle.publish(pb::Topic::Votes, payload).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        if nodes[1..].iter().enumerate().all(|(i, _)| receipts.counts[i + 1].load(Ordering::Relaxed) > 0) {
            // Let the mesh settle on every topic.
            tokio::time::sleep(Duration::from_millis(600)).await;
            for c in &receipts.counts {
                c.store(0, Ordering::Relaxed);
            }
            receipts.seen.lock().unwrap().clear();
            return;
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn block_payload(height: u64, size: usize) -> Vec<u8> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    pb::ConsensusMessage {
        kind: Some(Kind::FinalizedBlock(pb::Block {
            header: Some(pb::BlockHeader {
                codec_version: 1,
                block_index: height,
                timestamp: now.as_secs() as i64,
                ..Default::default()
            }),
            transactions: vec![pb::Transaction {
                nonce: height,
                data: vec![(height % 251) as u8; size],
                ..Default::default()
            }],
            ..Default::default()
        })),
    }
    .encode_to_vec()
}

async fn propagation(blocks: usize) {
    let receipts = Arc::new(Receipts {
        counts: (0..4).map(|_| AtomicU64::new(0)).collect(),
        record_ids: true,
        ..Default::default()
    });
    let nodes = line(4, &receipts);
    wait_for_mesh(&nodes, &receipts).await;
    let mut per_node: Vec<Vec<f64>> = vec![Vec::new(); 4];
    let mut lost = 0;
    let size = 1_000_000;
    let cpu_before: Vec<f64> = futures_join(&nodes).await;
    let started = Instant::now();
    for height in 0..blocks as u64 {
        let payload = block_payload(height + 1, size);
        let sent_at = Instant::now();
        let outcome = nodes[0].handle.publish(pb::Topic::Blocks, payload).await.unwrap();
        let deadline = sent_at + Duration::from_secs(5);
        loop {
            let notified = receipts.notify.notified();
            let done = receipts.seen.lock().unwrap().get(&outcome.message_id).is_some_and(|r| r.len() == 3);
            if done {
                break;
            }
            if tokio::time::timeout_at(deadline.into(), notified).await.is_err() {
                lost += 1;
                break;
            }
        }
        if let Some(r) = receipts.seen.lock().unwrap().get(&outcome.message_id) {
            for (node, at) in r {
                per_node[*node].push(at.duration_since(sent_at).as_secs_f64() * 1000.0);
            }
        }
        // Blocks come every 2 s on the chain; 50 ms apart keeps the benchmark short while
        // leaving each block the network to itself.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after: Vec<f64> = futures_join(&nodes).await;
    let encoded = block_payload(1, size).len();
    println!(
        "propagation: {blocks} blocks of {encoded} bytes (ConsensusMessage.finalized_block), 4 nodes in a line, 0 -> 1 -> 2 -> 3"
    );
    for (node, lat) in per_node.iter_mut().enumerate().skip(1) {
        lat.sort_by(f64::total_cmp);
        println!(
            "  node {node} ({node} hop{}): n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
            if node == 1 { "" } else { "s" },
            lat.len(),
            percentile(lat, 50.0),
            percentile(lat, 99.0),
            lat.last().copied().unwrap_or(f64::NAN)
        );
    }
    println!("  blocks not reaching all nodes within 5 s: {lost}");
    print_cpu(&cpu_before, &cpu_after, elapsed, blocks as u64);
    stop(nodes).await;
}

async fn futures_join(nodes: &[BenchNode]) -> Vec<f64> {
    let mut out = Vec::new();
    for n in nodes {
        out.push(cpu(n).await);
    }
    out
}

fn print_cpu(before: &[f64], after: &[f64], elapsed: f64, messages: u64) {
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        println!(
            "  node {i} CPU: {:.2} s over {elapsed:.1} s = {:.0}% of a core, {:.0} µs per message",
            a - b,
            100.0 * (a - b) / elapsed,
            1e6 * (a - b) / messages.max(1) as f64
        );
    }
}

/// A `ConsensusMessage.transactions` with `count` transactions of about 200 bytes each (one
/// transaction: the whole message is 200 bytes), distinct per `n`.
fn tx_payload(n: u64, count: u64) -> Vec<u8> {
    let tx = |i: u64, data: usize| pb::Transaction {
        codec_version: 1,
        tx_type: pb::TxType::Transfer.into(),
        from: vec![3; 32],
        to: vec![4; 32],
        amount: 1,
        nonce: n * 1_000_000 + i,
        gas_limit: 21_000,
        gas_price: 1,
        signature: vec![5; 64],
        data: vec![0; data],
        timestamp: 0,
    };
    let encode = |data| {
        let transactions = (0..count).map(|i| tx(i, data)).collect();
        pb::ConsensusMessage { kind: Some(Kind::Transactions(pb::TransactionBatch { transactions })) }.encode_to_vec()
    };
    let base = encode(0).len() as u64 / count;
    encode(200u64.saturating_sub(base + 2) as usize)
}

async fn throughput(rate: u64, seconds: u64, batch: u64) {
    let receipts = Arc::new(Receipts {
        counts: (0..3).map(|_| AtomicU64::new(0)).collect(),
        record_ids: false,
        ..Default::default()
    });
    let nodes = line(3, &receipts);
    wait_for_mesh(&nodes, &receipts).await;
    // `rate` transactions per second, `batch` transactions per gossip message.
    let batch = batch.max(1);
    let total = rate * seconds / batch;
    let per_tick = (rate / batch / 100).max(1); // messages per 10 ms tick
    let cpu_before = futures_join(&nodes).await;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut sent = 0u64;
    let mut errors = 0u64;
    let mut error_kinds: HashMap<String, u64> = HashMap::new();
    while sent < total {
        tick.tick().await;
        // One tick's messages are published concurrently (as many callers would), not one
        // round trip to the swarm task after another.
        let batch: Vec<_> = (0..per_tick.min(total - sent))
            .map(|i| nodes[0].handle.publish(pb::Topic::Transactions, tx_payload(sent + i + 1, batch)))
            .collect();
        sent += batch.len() as u64;
        for result in futures::future::join_all(batch).await {
            if let Err(e) = result {
                errors += 1;
                *error_kinds.entry(e.to_string()).or_insert(0u64) += 1;
            }
        }
    }
    let publish_secs = started.elapsed().as_secs_f64();
    // Wait for stragglers until everything arrived or nothing moved for a second.
    let received = || receipts.counts[1..].iter().map(|c| c.load(Ordering::Relaxed)).sum::<u64>();
    let (mut last, mut last_change) = (received(), Instant::now());
    while receipts.counts[1..].iter().any(|c| c.load(Ordering::Relaxed) < total)
        && last_change.elapsed() < Duration::from_secs(1)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if received() != last {
            (last, last_change) = (received(), Instant::now());
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = futures_join(&nodes).await;
    println!(
        "throughput: {} transactions in {total} messages of {} bytes ({batch} tx each) at {rate} tx/s target, published in {publish_secs:.2} s ({:.0} tx/s achieved), 3 nodes in a line, 0 -> 1 -> 2",
        total * batch,
        tx_payload(1, batch).len(),
        (total * batch) as f64 / publish_secs
    );
    println!("  publish errors: {errors} {error_kinds:?}");
    for (i, c) in receipts.counts.iter().enumerate().skip(1) {
        let got = c.load(Ordering::Relaxed);
        println!("  node {i} received {got} / {total} (lost {})", total.saturating_sub(got));
    }
    println!("  deliveries ended {elapsed:.2} s after the first publish");
    print_cpu(&cpu_before, &cpu_after, elapsed, total);
    stop(nodes).await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("propagation") => propagation(arg(1, 200) as usize).await,
        Some("throughput") => throughput(arg(1, 10_000), arg(2, 10), arg(3, 1)).await,
        _ => {
            propagation(200).await;
            throughput(10_000, 10, 1).await;
            throughput(10_000, 10, 100).await;
        }
    }
}
