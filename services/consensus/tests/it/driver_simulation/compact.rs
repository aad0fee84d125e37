//! Compact proposals (issue #24 item 1) in the driver simulation: real drivers on one simulated
//! network, in virtual time. A validator that misses some of a proposal's transactions fetches
//! them and commits; a proposer whose hashes lie, or that never serves a transaction it named,
//! gets nil prevotes and the height is decided in a later round.

use coinjecture_consensus::QuorumMode;
use coinjecture_consensus::driver::ProposalSample;
use coinjecture_primitives::{Hash32, Height, PublicKey, Round};
use coinjecture_proto::ports::gateway::GossipMessage;

use super::harness::{NetParams, Parsed, Setup, Sim, Verdict, run};

const SECOND: i64 = 1000;
const N: usize = 4;

fn setup(seed: u64) -> Setup {
    Setup {
        seed,
        n: N,
        mode: QuorumMode::Byzantine,
        net: NetParams::good(),
        block_time_ms: 1000,
        ledger_latency_ms: 5,
        inline_sync_hazard: false,
    }
}

/// Node `i`'s proposal samples so far (drained) and its request counters.
fn proposal_stats(sim: &Sim, i: usize) -> (Vec<ProposalSample>, u64, u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    let status = sim.status(i).expect("the node is up");
    let p = &status.proposals;
    (
        p.drain(),
        p.transaction_requests.load(Relaxed),
        p.full_block_requests.load(Relaxed),
        p.merkle_mismatches.load(Relaxed),
    )
}

#[test]
fn a_validator_missing_transactions_fetches_them_from_peers_and_commits_the_block() {
    run(async {
        let mut sim = Sim::new(setup(11)).await;
        const VICTIM: usize = 3;
        // The victim never gets the transactions' gossip, only answers to its own requests.
        let mut asked = false;
        sim.world.lock().unwrap().rule = Some(Box::new(move |hop, _| {
            if hop.from == VICTIM && matches!(hop.message, Parsed::Request) {
                asked = true;
            }
            if hop.to == VICTIM && matches!(hop.message, Parsed::Transactions) && !asked {
                Verdict::Drop
            } else {
                Verdict::Pass
            }
        }));
        sim.run_for(1500).await;
        let to = PublicKey([8; 32]);
        let txs: Vec<_> = (0..5).map(|k| sim.chain.transfer(1, to, 10 + k, k)).collect();
        assert_eq!(sim.submit(0, txs).await, 5);
        sim.run_for(10 * SECOND).await;

        let expected: u64 = (0..5).map(|k| 10 + k).sum();
        for i in 0..N {
            assert_eq!(sim.balance(i, &to), expected, "node {i}: the transfers are not final");
        }
        let (samples, requests, full, mismatches) = proposal_stats(&sim, VICTIM);
        let fetched: usize = samples
            .iter()
            .map(|s| match s {
                ProposalSample::Received { compact: true, fetched, .. } => *fetched,
                _ => 0,
            })
            .sum();
        assert!(requests >= 1, "the victim never asked for what it missed");
        assert!(fetched >= 1, "the victim rebuilt no proposal from fetched transactions: {samples:?}");
        assert_eq!((full, mismatches), (0, 0), "the answers came in time: no full proposal needed");
        // Every proposal crossed compact: far smaller than the blocks it named.
        for i in 0..N {
            let (samples, ..) = proposal_stats(&sim, i);
            assert!(
                samples.iter().all(|s| !matches!(s, ProposalSample::Published { compact: false, .. })),
                "node {i} published a full proposal: {samples:?}"
            );
        }
        let report = sim.finish();
        assert!(report.violations.is_empty(), "{:#?}", report.violations);
    });
}

#[test]
fn a_proposer_whose_hashes_do_not_give_its_merkle_root_gets_nil_prevotes_and_the_round_moves_on() {
    run(async {
        let mut sim = Sim::new(setup(12)).await;
        // Height 3's round-0 proposer (node 3) publishes a hash list that is not its block's.
        sim.world.lock().unwrap().tamper = Some(Box::new(|_, message| match message {
            GossipMessage::CompactProposal(c) if c.proposal.height == Height(3) && c.proposal.round == Round(0) => {
                let mut lie = c.clone();
                lie.tx_hashes.push(Hash32([1; 32]));
                Some(GossipMessage::CompactProposal(lie))
            }
            _ => None,
        }));
        sim.run_for(12 * SECOND).await;
        let heights = sim.heights();
        assert!(heights.iter().all(|h| *h >= Height(5)), "the chain stalled: {heights:?}");
        for i in 0..N {
            let round = sim.commit_round(i, Height(3)).expect("height 3 is final");
            assert!(round >= Round(1), "node {i}: height 3 was decided in round {round}, on the lying proposal");
        }
        for i in (0..N).filter(|i| *i != 3) {
            // At least once (the proposer re-broadcasts it until the round ends).
            assert!(proposal_stats(&sim, i).3 >= 1, "node {i} never refused the lying proposal");
        }
        let report = sim.finish();
        assert!(report.violations.is_empty(), "{:#?}", report.violations);
    });
}

#[test]
fn a_proposer_that_never_serves_a_transaction_it_named_gets_nil_prevotes_and_the_round_moves_on() {
    run(async {
        let mut sim = Sim::new(setup(13)).await;
        const HOARDER: usize = 1;
        // Node 1's transactions never leave it, and it never answers with a full proposal.
        sim.world.lock().unwrap().tamper = Some(Box::new(|from, message| match message {
            GossipMessage::Transactions(txs) if from == HOARDER && !txs.is_empty() => {
                Some(GossipMessage::Transactions(Vec::new()))
            }
            GossipMessage::Proposal(_) if from == HOARDER => Some(GossipMessage::Transactions(Vec::new())),
            _ => None,
        }));
        let to = PublicKey([8; 32]);
        assert_eq!(sim.submit(HOARDER, vec![sim.chain.transfer(1, to, 10, 0)]).await, 1);
        sim.run_for(15 * SECOND).await;
        let heights = sim.heights();
        assert!(heights.iter().all(|h| *h >= Height(6)), "the chain stalled: {heights:?}");
        // Height 5 is node 1's in round 0: its block names a transaction nobody else holds.
        for i in 0..N {
            let round = sim.commit_round(i, Height(5)).expect("height 5 is final");
            assert!(
                round >= Round(1),
                "node {i}: height 5 was decided in round {round}, on a block nobody could rebuild"
            );
            assert_eq!(sim.balance(i, &to), 0, "node {i}: the hoarded transfer became final");
        }
        let full: u64 = (0..N).filter(|i| *i != HOARDER).map(|i| proposal_stats(&sim, i).2).sum();
        assert!(full >= 3, "the others asked for the full proposal after waiting: {full}");
        let report = sim.finish();
        assert!(report.violations.is_empty(), "{:#?}", report.violations);
    });
}
