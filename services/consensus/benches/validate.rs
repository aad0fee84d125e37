//! Validation of a 10,000-transaction block (what a validator does before prevoting): the
//! ledger's ExecuteBlock with every signature batched through crypto-core, once with crypto-core
//! in process (Network A) and once through its gRPC service on a loopback socket (Network B).
//! `cargo bench -p coinjecture-consensus --bench validate`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, reason = "benchmark harness")]

use std::sync::Arc;

use coinjecture_ledger::test_utils::{TestChain, local_crypto};
use coinjecture_ledger::{CryptoBackend, Ledger, connect_crypto_core};
use coinjecture_primitives::PublicKey;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TXS: usize = 10_000;

fn validate(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let chain = TestChain::new("coinjecture-bench", TXS, 1_000_000_000);
    let txs = (0..TXS).map(|i| chain.next_transfer(i, PublicKey([7; 32]), 1_000)).collect();
    let block = chain.block(txs);
    let dir = tempfile::tempdir().unwrap();

    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(coinjecture_crypto_core::service::serve(listener, std::future::pending()));
        addr
    });
    let remote: Arc<dyn CryptoBackend> = Arc::new(rt.block_on(connect_crypto_core(&format!("http://{addr}"))).unwrap());

    let mut g = c.benchmark_group("validate_10000_tx_block");
    g.sample_size(10);
    g.throughput(Throughput::Elements(TXS as u64));
    for (name, crypto) in [("crypto_core_in_process", local_crypto()), ("crypto_core_over_grpc", remote)] {
        let ledger = rt
            .block_on(Ledger::open(
                dir.path().join(format!("{name}.db")),
                chain.genesis.clone(),
                chain.validators(),
                crypto,
            ))
            .unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                let e = rt.block_on(ledger.execute_block(&block, false)).unwrap();
                assert!(e.is_valid());
            })
        });
    }
    g.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
