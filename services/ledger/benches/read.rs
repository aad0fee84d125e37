//! Reading a 10,000-transaction block back from SQLite (`block_by_height`), which verifies every
//! transaction row against its stored hash key and the block against its hash and Merkle root,
//! beside the verification alone (SHA-256 of each stored encoding, the Merkle root, the header
//! hash): the difference is what a read cost before reads were verified.
//!
//! `cargo bench -p coinjecture-ledger --bench read`
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark: a panic is the report")]

use coinjecture_crypto_core::merkle::merkle_root;
use coinjecture_ledger::test_utils::{TestChain, certificate, local_crypto};
use coinjecture_ledger::{Ledger, SignatureCheck};
use coinjecture_primitives::{Hash32, Height, sha256};
use criterion::Criterion;

const ACCOUNTS: usize = 10_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new_unsigned("coinjecture-bench-read", ACCOUNTS, 1_000_000_000);
    let ledger = runtime
        .block_on(Ledger::open(dir.path().join("read.db"), chain.genesis.clone(), chain.validators(), local_crypto()))
        .unwrap();
    let txs = (0..ACCOUNTS).map(|i| chain.next_transfer(i, chain.accounts[(i + 1) % ACCOUNTS], 7)).collect();
    let block = chain.push(txs);
    runtime
        .block_on(ledger.apply_block_with(
            &block,
            &certificate(ledger.chain_id(), &block),
            SignatureCheck::AlreadyVerified,
        ))
        .unwrap();
    let encodings: Vec<Vec<u8>> = block.transactions.iter().map(|t| t.encode()).collect();
    let header = block.header.encode();
    let some_tx = block.transactions[4_321].hash();

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("ledger_read");
    group.sample_size(20);
    group.bench_function("block_by_height_10000_tx_verified", |b| {
        b.iter(|| runtime.block_on(ledger.block_by_height(Height(1))).unwrap().unwrap())
    });
    group.bench_function("verification_alone_10000_tx", |b| {
        b.iter(|| {
            let hashes: Vec<Hash32> = encodings.iter().map(|e| sha256(e)).collect();
            (sha256(&header), merkle_root(&hashes))
        })
    });
    group.bench_function("transaction_by_hash_verified", |b| {
        b.iter(|| runtime.block_on(ledger.transaction(&some_tx)).unwrap().unwrap())
    });
    group.finish();
    criterion.final_summary();
}
