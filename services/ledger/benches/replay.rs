//! Catch-up replay (#22 item 2): certified blocks as a follower receives them from a peer (the
//! protobuf `Block` of a sync answer, bytes), decoded, converted, sealed (each transaction
//! encoded and hashed once) and applied with `ledger.assume_valid_height` covering them: the
//! commit certificate, the Merkle root and the state commitment are verified, the transactions'
//! signatures are not. Pipelined: a decoder thread turns block N+1.. into sealed blocks while
//! block N is applied (a bounded queue of 4 blocks between them). Real SQLite file (WAL,
//! `synchronous = FULL`), 10,000-transfer blocks among 100,000 accounts.
//!
//! Two ways of writing, each its own criterion function on the same ledger: one SQLite commit
//! per block (`apply_sealed_block`, the live path, and catch-up before #22 item 2's batching),
//! and batched (`apply_sealed_blocks` with the default `ReplayBatch`: the applier takes every
//! block the decoder has ready, and the ledger commits them together), as a catch-up does.
//!
//! Before the criterion run, one signed block is timed stage by stage (decode, convert, seal,
//! signature verification, apply with and without assume-valid) to show where a verifying
//! replay's time goes.
//!
//! `cargo bench -p coinjecture-ledger --bench replay` (criterion reports transactions/s as
//! `thrpt`).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark: a panic is the report")]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use coinjecture_ledger::test_utils::{TestChain, certificate, local_crypto};
use coinjecture_ledger::{Ledger, LedgerOptions, ReplayBatch};
use coinjecture_primitives::{Block, SealedBlock};
use coinjecture_proto::convert;
use coinjecture_proto::v1 as pb;
use criterion::{Criterion, SamplingMode, Throughput};
use prost::Message as _;

const ACCOUNTS: usize = 100_000;
const TXS_PER_BLOCK: usize = 10_000;
/// Blocks replayed per criterion iteration.
const BLOCKS_PER_ITERATION: usize = 6;
/// Decoded blocks waiting for the applier.
const QUEUE: usize = 4;

/// The next block: 10,000 distinct senders paying pseudo-random recipients (as in `apply`).
fn next_block(chain: &TestChain, seed: &mut u64) -> Block {
    let height = chain.tip().height.get() as usize;
    let accounts = chain.accounts.len();
    let per_block = TXS_PER_BLOCK.min(accounts);
    let txs = (0..per_block)
        .map(|i| {
            let from = (height * per_block + i) % accounts;
            *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let mut to = (*seed >> 33) as usize % accounts;
            if to == from {
                to = (to + 1) % accounts;
            }
            chain.next_transfer(from, chain.accounts[to], 1 + (*seed % 1_000))
        })
        .collect();
    chain.block(txs)
}

/// The next `n` certified blocks as a peer sends them (encoded protobuf `Block`s).
fn wire_blocks(chain: &mut TestChain, seed: &mut u64, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let block = next_block(chain, seed);
            chain.extend(&block);
            let cert = certificate(chain.chain_id(), &block);
            convert::finalized_block_to_pb(&block, &cert).encode_to_vec()
        })
        .collect()
}

/// Stage 1 of the replay: wire bytes to a sealed block and its certificate.
fn decode(bytes: &[u8]) -> (SealedBlock, coinjecture_primitives::CommitCertificate) {
    let pb = pb::Block::decode(bytes).unwrap();
    let (block, cert) = convert::finalized_block(&pb).unwrap();
    (SealedBlock::seal(block), cert)
}

/// Replays `wire` (consecutive blocks on the ledger's tip): decoding on a thread of its own,
/// applying here, in order; `batched`: every block ready is applied in one
/// `apply_sealed_blocks` call (several blocks per commit), else one commit per block. The
/// number of commits.
fn replay_pipelined(runtime: &tokio::runtime::Runtime, ledger: &Ledger, wire: Vec<Vec<u8>>, batched: bool) -> usize {
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    let decoder = std::thread::spawn(move || {
        for bytes in wire {
            if tx.send(decode(&bytes)).is_err() {
                return;
            }
        }
    });
    let commits = runtime.block_on(async {
        let mut commits = 0;
        while let Ok(first) = rx.recv() {
            if !batched {
                ledger.apply_sealed_block(&first.0, &first.1).await.unwrap();
                commits += 1;
                continue;
            }
            let mut ready = vec![first];
            while let Ok(next) = rx.try_recv() {
                ready.push(next);
            }
            commits += ledger.apply_sealed_blocks(&ready, ReplayBatch::default()).await.unwrap().commits;
        }
        commits
    });
    decoder.join().unwrap();
    commits
}

fn open(runtime: &tokio::runtime::Runtime, path: &std::path::Path, chain: &TestChain, assume_valid: bool) -> Ledger {
    let options = LedgerOptions {
        assume_valid_height: if assume_valid {
            coinjecture_primitives::Height(u64::MAX)
        } else {
            coinjecture_primitives::Height(0)
        },
        keep_blocks: None,
        ..Default::default()
    };
    runtime
        .block_on(Ledger::open_with(path, chain.genesis.clone(), chain.validators(), local_crypto(), options))
        .unwrap()
}

/// One signed 10,000-transfer block, each stage of a replay timed on its own (milliseconds).
fn stages(runtime: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new("coinjecture-replay-stages", TXS_PER_BLOCK, 1_000_000_000);
    let genesis = chain.clone();
    let mut seed = 7u64;
    let wire = wire_blocks(&mut chain, &mut seed, 1).pop().unwrap();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;

    let started = Instant::now();
    let pb = pb::Block::decode(wire.as_slice()).unwrap();
    let t_decode = started.elapsed();
    let started = Instant::now();
    let (block, cert) = convert::finalized_block(&pb).unwrap();
    let t_convert = started.elapsed();
    let started = Instant::now();
    let sealed = SealedBlock::seal(block.clone());
    let t_seal = started.elapsed();
    let started = Instant::now();
    let crypto =
        runtime.block_on(local_crypto().verify_block(&sealed.transaction_hashes(), sealed.transactions())).unwrap();
    let t_verify = started.elapsed();
    assert!(crypto.signatures_valid.iter().all(|v| *v));

    let verifying = open(runtime, &dir.path().join("verify.db"), &genesis, false);
    let started = Instant::now();
    runtime.block_on(verifying.apply_block(&block, &cert)).unwrap();
    let t_apply_verify = started.elapsed();
    let assuming = open(runtime, &dir.path().join("assume.db"), &genesis, true);
    let started = Instant::now();
    runtime.block_on(assuming.apply_sealed_block(&sealed, &cert)).unwrap();
    let t_apply_assume = started.elapsed();
    println!(
        "stages of one signed {TXS_PER_BLOCK}-transfer block ({} bytes on the wire), ms: protobuf decode {:.1}, \
         convert {:.1}, seal (encode + SHA-256) {:.1}, signature verification {:.1} ({:.0} signatures/s); \
         ApplyBlock verifying {:.1}, ApplyBlock sealed with assume-valid {:.1}",
        wire.len(),
        ms(t_decode),
        ms(t_convert),
        ms(t_seal),
        ms(t_verify),
        TXS_PER_BLOCK as f64 / t_verify.as_secs_f64(),
        ms(t_apply_verify),
        ms(t_apply_assume),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    stages(&runtime);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay.db");
    let mut chain = TestChain::new_unsigned("coinjecture-replay", ACCOUNTS, 1_000_000_000_000);
    let ledger = open(&runtime, &path, &chain, true);
    let mut seed = 42u64;

    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group("replay");
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .measurement_time(Duration::from_secs(20))
            .throughput(Throughput::Elements((BLOCKS_PER_ITERATION * TXS_PER_BLOCK) as u64));
        let mut commits = [(0usize, 0usize); 2];
        for (batched, name) in [
            (false, "assume_valid_pipelined_6_blocks_of_10k_transfers"),
            (true, "assume_valid_pipelined_batched_6_blocks_of_10k_transfers"),
        ] {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let wire = wire_blocks(&mut chain, &mut seed, BLOCKS_PER_ITERATION);
                        let started = Instant::now();
                        let done = replay_pipelined(&runtime, &ledger, wire, batched);
                        total += started.elapsed();
                        commits[usize::from(batched)].0 += BLOCKS_PER_ITERATION;
                        commits[usize::from(batched)].1 += done;
                    }
                    total
                });
            });
        }
        group.finish();
        for (batched, (blocks, commits)) in commits.iter().enumerate() {
            println!(
                "{}: {blocks} blocks in {commits} SQLite commits",
                if batched == 1 { "batched" } else { "one commit per block" }
            );
        }
    }
    criterion.final_summary();
    assert_eq!(runtime.block_on(ledger.tip()).unwrap().hash, chain.tip().hash);
}
