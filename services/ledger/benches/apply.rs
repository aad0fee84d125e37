//! Applying a block of 10,000 pre-verified transfers among 100,000 accounts, on a real SQLite
//! file (WAL, synchronous = FULL). Afterwards prints the database size per million transactions
//! and the time `Ledger::open` takes on the grown database (it runs a quick integrity check).
//!
//! `cargo bench -p coinjecture-ledger`
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark: a panic is the report")]

use std::time::{Duration, Instant};

use coinjecture_ledger::test_utils::{TestChain, certificate, local_crypto};
use coinjecture_ledger::{Ledger, SignatureCheck};
use coinjecture_primitives::Block;
use criterion::{Criterion, SamplingMode};

const ACCOUNTS: usize = 100_000;
const TXS_PER_BLOCK: usize = 10_000;

/// The next block: 10,000 distinct senders (a sliding window over the accounts) paying
/// pseudo-random recipients.
fn next_block(chain: &TestChain, seed: &mut u64) -> Block {
    let height = chain.tip().height.get() as usize;
    let txs = (0..TXS_PER_BLOCK)
        .map(|i| {
            let from = (height * TXS_PER_BLOCK + i) % ACCOUNTS;
            *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let mut to = (*seed >> 33) as usize % ACCOUNTS;
            if to == from {
                to = (to + 1) % ACCOUNTS;
            }
            chain.next_transfer(from, chain.accounts[to], 1 + (*seed % 1_000))
        })
        .collect();
    chain.block(txs)
}

fn file_size(path: &std::path::Path) -> u64 {
    let wal = path.with_extension("db-wal");
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let mut chain = TestChain::new_unsigned("coinjecture-bench", ACCOUNTS, 1_000_000_000_000);

    let started = Instant::now();
    let ledger =
        runtime.block_on(Ledger::open(&path, chain.genesis.clone(), chain.validators(), local_crypto())).unwrap();
    println!("genesis with {ACCOUNTS} accounts written in {:?}", started.elapsed());
    runtime.block_on(ledger.close());
    let size_at_genesis = file_size(&path);
    let ledger =
        runtime.block_on(Ledger::open(&path, chain.genesis.clone(), chain.validators(), local_crypto())).unwrap();

    let mut seed = 42u64;
    let mut applied_blocks = 0u64;
    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group("ledger");
        group.sampling_mode(SamplingMode::Flat).sample_size(10).measurement_time(Duration::from_secs(15));
        group.bench_function("apply_block_10k_transfers_100k_accounts", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let block = next_block(&chain, &mut seed);
                    chain.extend(&block);
                    let cert = certificate(ledger.chain_id(), &block);
                    let start = Instant::now();
                    runtime.block_on(ledger.apply_block_with(&block, &cert, SignatureCheck::AlreadyVerified)).unwrap();
                    total += start.elapsed();
                    applied_blocks += 1;
                }
                total
            });
        });
        group.finish();
    }
    criterion.final_summary();

    runtime.block_on(ledger.close());
    drop(ledger);
    let size = file_size(&path);
    let txs = applied_blocks * TXS_PER_BLOCK as u64;
    if txs > 0 {
        let per_million = (size - size_at_genesis) as f64 / txs as f64 * 1e6;
        println!(
            "database: {:.1} MiB at genesis, {:.1} MiB after {applied_blocks} blocks ({txs} transactions): \
             {:.0} MiB per million transactions ({:.0} bytes per transaction)",
            size_at_genesis as f64 / 1048576.0,
            size as f64 / 1048576.0,
            per_million / 1048576.0,
            per_million / 1e6
        );
    }
    let started = Instant::now();
    let reopened =
        runtime.block_on(Ledger::open(&path, chain.genesis.clone(), chain.validators(), local_crypto())).unwrap();
    println!(
        "reopening the {:.1} MiB database (quick_check + migrations) took {:?}",
        size as f64 / 1048576.0,
        started.elapsed()
    );
    assert_eq!(runtime.block_on(reopened.tip()).unwrap().hash, chain.tip().hash);
}
