//! Engine throughput: heights per second for 4 validators with 1,000-transaction blocks, all
//! messages delivered at once (no network), signatures checked for real.
//! `cargo bench -p coinjecture-consensus --bench engine`
#![allow(clippy::unwrap_used, missing_docs, reason = "benchmark harness")]

use std::collections::VecDeque;

use coinjecture_consensus::{
    Action, Engine, EngineConfig, Input, Message, QuorumMode, ValidatorSchedule, ValidatorSet,
};
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::{
    Block, BlockHeader, ChainId, Hash32, Height, PoaExtra, PublicKey, Signature, Transaction, TxType, UnixMillis,
    sha256,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn transactions(n: usize) -> Vec<Transaction> {
    (0..n as u64)
        .map(|i| Transaction {
            codec_version: 1,
            tx_type: TxType::Transfer,
            from: PublicKey(sha256(&i.to_be_bytes()).0),
            to: PublicKey([9; 32]),
            amount: i,
            nonce: 0,
            gas_limit: 21_000,
            gas_price: 1,
            signature: Signature([1; 64]),
            data: b"cj:coinjecture-bench\n".to_vec(),
            timestamp: 0,
        })
        .collect()
}

/// Runs 4 engines for `heights` heights; returns the number of commits seen.
fn run(heights: u64, txs: &[Transaction]) -> u64 {
    let chain = ChainId::new("coinjecture-bench").unwrap();
    let keys: Vec<Keypair> = (0u8..4).map(|i| Keypair::from_seed(&[i + 1; 32])).collect();
    let set = ValidatorSet::new(keys.iter().map(Keypair::public_key).collect(), QuorumMode::Byzantine).unwrap();
    let schedule = ValidatorSchedule::fixed(set);
    let mut config = EngineConfig::with_block_time(chain, 1);
    config.rebroadcast_ms = 1_000_000;
    let mut engines: Vec<Engine> = keys
        .iter()
        .map(|k| {
            Engine::new(config.clone(), schedule.clone(), Keypair::from_seed(&k.seed()), Height(1), UnixMillis(0), None)
        })
        .collect();
    let mut now = 10i64;
    let mut queue: VecDeque<(usize, Input)> = (0..4).map(|i| (i, Input::Start)).collect();
    let mut commits = 0;
    let mut parent = Hash32::ZERO;
    while commits < heights * 4 {
        let Some((i, input)) = queue.pop_front() else {
            now += 1;
            continue;
        };
        for action in engines[i].handle(UnixMillis(now), input) {
            match action {
                Action::Broadcast(m) => {
                    for j in (0..4).filter(|j| *j != i) {
                        let input = match &m {
                            Message::Proposal(p) => Input::Proposal(p.clone()),
                            Message::Vote(v) => Input::Vote(v.clone()),
                        };
                        queue.push_back((j, input));
                    }
                }
                Action::BuildBlock { height, round, .. } => {
                    let extra = PoaExtra { round, timestamp_millis: 0, state_commitment: Hash32::ZERO, chain_id: None };
                    let header = BlockHeader {
                        codec_version: 1,
                        block_index: height,
                        timestamp: now / 1000 + 1,
                        parent_hash: parent,
                        miner_address: engines[i].public_key(),
                        extra_data: extra.encode(),
                        ..Default::default()
                    };
                    queue.push_front((
                        i,
                        Input::BlockBuilt { height, round, block: Block { header, transactions: txs.to_vec() } },
                    ));
                }
                Action::ValidateBlock(block) => {
                    queue.push_front((i, Input::BlockValidity { block_hash: block.hash(), valid: true }))
                }
                Action::Commit { block, .. } => {
                    commits += 1;
                    parent = block.hash();
                }
                Action::ScheduleTimeout { at_ms, timeout } => {
                    // Only the proposer's slot timer matters without faults: fire it right away.
                    if matches!(timeout.kind, coinjecture_consensus::TimeoutKind::BuildBlock) {
                        now = now.max(at_ms.get());
                        queue.push_back((i, Input::Timeout(timeout)));
                    }
                }
                _ => {}
            }
        }
    }
    commits / 4
}

fn engine(c: &mut Criterion) {
    let txs = transactions(1000);
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    g.throughput(Throughput::Elements(20));
    g.bench_function("4_validators_20_heights_1000_tx_blocks", |b| b.iter(|| run(20, &txs)));
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
