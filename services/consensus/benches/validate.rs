//! Validation of a 10,000-transaction block (what a validator does before prevoting): the
//! ledger's ExecuteBlock of a block whose transactions are sealed (decoded once, hashes known),
//! with crypto-core in process (Network A) and through a real crypto-core gRPC service on a
//! loopback socket (Network B: `CryptoCore` served by its own tokio runtime in this process,
//! reached through `RemoteCrypto` over `coinjecture_proto::client::connect`).
//!
//! - `cold`: the ledger's verified-signature cache is emptied and the transactions are sealed
//!   afresh (no carried verdict) before every iteration, so all 10,000 signatures go to
//!   crypto-core with the block's Merkle leaves (one `verify_block`: remotely one packed
//!   `CryptoCore.VerifyBlock` call).
//! - `warm`: every signature was verified before (as at admission to the mempool, the usual
//!   case), so only the Merkle leaves go to crypto-core (`merkle_root_10000_leaves` is that
//!   port call alone).
//!
//! Both modes read the accounts from the ledger's warm account cache and execute the transfers;
//! only the crypto differs. `cargo bench -p coinjecture-consensus --bench validate [-- cold]`;
//! figures are in the README ("Network B's crypto-core").
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, reason = "benchmark harness")]

use std::sync::Arc;

use coinjecture_ledger::Ledger;
use coinjecture_ledger::test_utils::{TestChain, local_crypto};
use coinjecture_primitives::{PublicKey, SealedTransaction};
use coinjecture_proto::ports::crypto::{CryptoPort, RemoteCrypto};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TXS: usize = 10_000;

/// Starts crypto-core's gRPC service on 127.0.0.1 on a runtime of its own (as its own process
/// would have), returning its address.
fn serve_crypto_core() -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            coinjecture_crypto_core::service::serve(listener, std::future::pending()).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn validate(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let chain = TestChain::new("coinjecture-bench", TXS, 1_000_000_000);
    let txs: Vec<_> = (0..TXS).map(|i| chain.next_transfer(i, PublicKey([7; 32]), 1_000)).collect();
    let block = chain.block(txs.clone());
    let sealed: Vec<SealedTransaction> = txs.into_iter().map(SealedTransaction::seal).collect();
    let dir = tempfile::tempdir().unwrap();

    let addr = serve_crypto_core();
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let remote: Arc<dyn CryptoPort> =
        Arc::new(rt.block_on(async { RemoteCrypto::new(coinjecture_proto::client::connect(endpoint)) }));

    let ports = [("in_process", local_crypto()), ("grpc", remote)];
    let ledgers: Vec<(&str, Ledger)> = ports
        .iter()
        .cloned()
        .map(|(name, crypto)| {
            let path = dir.path().join(format!("{name}.db"));
            (name, rt.block_on(Ledger::open(path, chain.genesis.clone(), chain.validators(), crypto)).unwrap())
        })
        .collect();
    let execute = |ledger: &Ledger, sealed: Vec<SealedTransaction>| {
        let e = rt.block_on(ledger.execute_block_sealed(&block, sealed, false)).unwrap();
        assert!(e.is_valid(), "{:?}", e.rejection);
    };

    let mut g = c.benchmark_group("validate_10000_tx_block");
    g.sample_size(10);
    g.throughput(Throughput::Elements(TXS as u64));
    // Cold, then warm, each in process then remote, so that A and B run close in time.
    for (name, ledger) in &ledgers {
        g.bench_function(format!("cold/{name}"), |b| {
            b.iter_batched(
                // Cold: nothing verified before, neither in the ledger's cache nor as a verdict
                // carried by the sealed transactions (sealed afresh, outside the measurement).
                || {
                    ledger.forget_verified_signatures();
                    sealed.iter().map(|t| SealedTransaction::decode(t.bytes()).unwrap()).collect()
                },
                |fresh| execute(ledger, fresh),
                criterion::BatchSize::PerIteration,
            )
        });
    }
    for (name, ledger) in &ledgers {
        g.bench_function(format!("warm/{name}"), |b| b.iter(|| execute(ledger, sealed.clone())));
    }
    g.finish();

    // The crypto alone, as a breakdown of the warm case: the block's Merkle root through the port.
    let hashes: Vec<_> = sealed.iter().map(SealedTransaction::hash).collect();
    let mut g = c.benchmark_group("merkle_root_10000_leaves");
    g.sample_size(10);
    for (name, port) in &ports {
        g.bench_function(*name, |b| b.iter(|| rt.block_on(port.verify_block(&hashes, &[])).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
