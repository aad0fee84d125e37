//! Consensus first (issue #24 item 2), in the driver simulation: a flood of gossiped
//! transactions, each batch costing a slow ledger check, does not hold up votes and proposals.
//! Before the driver's priority queues, votes waited behind every batch that arrived before them
//! in the one inbound queue, and the chain stalled for as long as the backlog took to check.

use coinjecture_consensus::QuorumMode;
use coinjecture_primitives::{PublicKey, SealedTransaction};
use coinjecture_proto::ports::gateway::GossipMessage;

use super::harness::{NetParams, Setup, Sim, run};

const SECOND: i64 = 1000;

#[test]
fn a_flood_of_gossiped_transactions_does_not_slow_the_blocks() {
    run(async {
        let setup = Setup {
            seed: 24,
            n: 3,
            mode: QuorumMode::Crash,
            net: NetParams::good(),
            block_time_ms: 1000,
            ledger_latency_ms: 0,
            inline_sync_hazard: false,
        };
        let mut sim = Sim::new(setup).await;
        sim.run_for(3 * SECOND).await;
        let before = sim.heights().into_iter().min().unwrap_or(coinjecture_primitives::Height(0));
        assert!(before >= coinjecture_primitives::Height(1), "the chain runs before the flood: {:?}", sim.heights());
        // Every ledger call now takes 10 ms (virtual), and every node receives 100 gossiped
        // batches every 100 ms: 1,000 checks a second offered, 100 a second possible.
        sim.world.lock().unwrap().control.slow_ledger_ms = vec![Some(10); 3];
        let tx = SealedTransaction::seal(sim.chain.transfer(0, PublicKey([9; 32]), 1, 0));
        let mut delivered = 0;
        for _ in 0..100 {
            for node in 0..3 {
                for _ in 0..100 {
                    delivered += usize::from(sim.deliver(node, GossipMessage::Transactions(vec![tx.clone()])));
                }
            }
            sim.run_for(100).await;
        }
        let after = sim.heights().into_iter().min().unwrap_or(coinjecture_primitives::Height(0));
        eprintln!("blocks under the flood: {} in 10 s ({delivered} batches delivered)", after.blocks_since(before));
        let report = sim.finish();
        assert!(report.violations.is_empty(), "{:#?}", report.violations);
        // 10 s at 1 s blocks (each block's own ledger calls take a few × 10 ms): at least 7.
        assert!(
            after >= before.saturating_add(7),
            "blocks under the flood: {} in 10 s (heights {before} → {after}, {delivered} batches delivered)",
            after.blocks_since(before)
        );
    });
}
