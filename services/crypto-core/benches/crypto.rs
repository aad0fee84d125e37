//! Criterion benchmarks of the cryptographic core: `cargo bench -p coinjecture-crypto-core`.
//! `bench/crypto.sh` runs these beside `openssl speed -evp sha256` for comparison.
#![allow(clippy::unwrap_used, missing_docs, reason = "benchmark harness")]

use std::hint::black_box;

use coinjecture_crypto_core::merkle::merkle_root;
use coinjecture_crypto_core::signatures::{Keypair, VerifyItem, verify, verify_batch};
use coinjecture_primitives::{Hash32, sha256};
use coinjecture_proto::v1 as pb;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn sha256_bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("sha256");
    for size in [64usize, 16 * 1024, 1024 * 1024] {
        let data = vec![0xa5u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("{size}_bytes"), |b| b.iter(|| sha256(black_box(&data))));
    }
    g.finish();
}

fn merkle(c: &mut Criterion) {
    let mut g = c.benchmark_group("merkle_root");
    g.sample_size(10);
    for n in [10_000usize, 1_000_000] {
        let leaves: Vec<Hash32> = (0..n as u64).map(|i| sha256(&i.to_le_bytes())).collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("{n}_leaves"), |b| b.iter(|| merkle_root(black_box(&leaves))));
    }
    g.finish();
}

fn ed25519(c: &mut Criterion) {
    let n = 1024;
    let keys: Vec<Keypair> = (0..n).map(|i: u32| Keypair::from_seed(&sha256(&i.to_le_bytes()).0)).collect();
    let pks: Vec<_> = keys.iter().map(Keypair::public_key).collect();
    let msgs: Vec<Vec<u8>> = (0..n).map(|i: u32| i.to_le_bytes().repeat(30)).collect();
    let sigs: Vec<_> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
    let items: Vec<VerifyItem<'_>> =
        (0..n as usize).map(|i| VerifyItem { public_key: &pks[i], message: &msgs[i], signature: &sigs[i] }).collect();
    let mut g = c.benchmark_group("ed25519_verify");
    g.throughput(Throughput::Elements(u64::from(n)));
    g.bench_function("single_x1024", |b| {
        b.iter(|| items.iter().filter(|i| verify(i.public_key, i.message, i.signature)).count())
    });
    // The same checks through ed25519-dalek's verify_strict, as `verify` was before it
    // computed verify_strict's answer with one field inversion instead of three.
    g.bench_function("dalek_verify_strict_x1024", |b| {
        b.iter(|| {
            items
                .iter()
                .filter(|i| {
                    ed25519_dalek::VerifyingKey::from_bytes(&i.public_key.0).is_ok_and(|k| {
                        k.verify_strict(i.message, &ed25519_dalek::Signature::from_bytes(&i.signature.0)).is_ok()
                    })
                })
                .count()
        })
    });
    g.bench_function("batch_of_1024", |b| b.iter(|| verify_batch(black_box(&items))));
    g.finish();
}

fn grpc_round_trip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (addr, _stop) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(coinjecture_crypto_core::service::serve(listener, async {
            let _ = stopped.await;
        }));
        (addr, stop)
    });
    let client = rt
        .block_on(async { pb::crypto_core_client::CryptoCoreClient::connect(format!("http://{addr}")).await.unwrap() });
    let inputs: Vec<Vec<u8>> = (0..10_000u32).map(|i| i.to_le_bytes().repeat(16)).collect();
    let mut g = c.benchmark_group("grpc");
    g.sample_size(20);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("sha256_batch_10000_items", |b| {
        b.iter_batched(
            || (client.clone(), pb::Sha256BatchRequest { inputs: inputs.clone() }),
            |(mut client, req)| rt.block_on(client.sha256_batch(req)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, sha256_bulk, merkle, ed25519, grpc_round_trip);
criterion_main!(benches);
