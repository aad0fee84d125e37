//! Issue #19 item 5 in the driver simulation: a sync answered in the middle of an action batch.
//!
//! The hazard: one engine batch both asks for sync and signs at the current height h. The
//! driver used to carry the sync out inline: it committed the fetched block at once and the
//! engine went on to sign at h + 1; then the batch's remaining, older `PersistSignState` (at h)
//! was written over the newer one. After a crash the validator no longer knew it had signed at
//! h + 1, and signed there again. Now sync results are engine inputs queued after the batch,
//! and the driver never writes a safety file backwards.
//!
//! The scenario, five drivers in crash mode (quorum 3), at height h = 4 (A proposes round 0, K
//! rounds 1 and h + 1's round 0, D round 2):
//! - A's round-0 proposal X is lost to K and D. A, B, C prevote and precommit X; their
//!   precommits reach K once K has precommitted nil in round 0 (K now knows X is decided but
//!   does not have it); they are held back between A, B and C, and lost to D. Nobody commits
//!   X; rounds 0 and 1 pass (in round 1 K proposes, and A, B, C, locked on X, prevote nil).
//! - D proposes Z in round 2. That releases the held precommits (A, B, C commit X), and K's
//!   ledger stalls 1.5 s on each call (validating Z), longer than the sync retry interval.
//! - K's batch for Z's validity: the decided-but-missing X asks for sync (due again after the
//!   stall, and now the peers have X), and K prevotes Z at (h, 2). The sync brings X; K commits
//!   it and, as h + 1's round-0 proposer, proposes at (h + 1, 0).
//! - K crashes right after that proposal leaves (at its next await) and restarts a second later.
//!
//! Messages of heights above h, and finalized blocks, are kept from K and D for a while, so K
//! learns of X only through that sync. Network delays and ledger latencies come from the seed.

use coinjecture_consensus::{QuorumMode, SignStep};
use coinjecture_primitives::{Height, Round};

use super::harness::{NetParams, Parsed, Report, Setup, Sim, Verdict, run};

const H: Height = Height(4);
const N: usize = 5;
const A: usize = (H.get() as usize) % N;
const K: usize = (A + 1) % N;
const D: usize = (A + 2) % N;

/// What the scenario saw besides the report.
pub(crate) struct Outcome {
    pub(crate) report: Report,
    /// K signed at (h, 2) and proposed at (h + 1, 0): the batch under test happened.
    pub(crate) reached: bool,
    pub(crate) k_crashed: bool,
    pub(crate) heights: Vec<Height>,
}

pub(crate) async fn inline_sync_scenario(seed: u64, inline_sync_hazard: bool) -> Outcome {
    let setup = Setup {
        seed,
        n: N,
        mode: QuorumMode::Crash,
        net: NetParams { drop: 0.0, duplicate: 0.0, min_delay_ms: 5, max_delay_ms: 40 },
        block_time_ms: 1000,
        ledger_latency_ms: 10,
        inline_sync_hazard,
    };
    let mut sim = Sim::new(setup).await;
    let abc = [A, (A + 3) % N, (A + 4) % N];
    let mut released_at: Option<i64> = None;
    let mut k_precommitted = false;
    const ABC: u8 = 1;
    const TO_K: u8 = 2;
    {
        let mut w = sim.world.lock().unwrap();
        w.rule = Some(Box::new(move |hop, control| {
            let window = released_at.is_none_or(|t| hop.now < t + 6_000);
            let to_k_or_d = hop.to == K || hop.to == D;
            match hop.message {
                Parsed::Proposal(p) if p.height == H && p.round == Round(0) && to_k_or_d => Verdict::Drop,
                Parsed::Proposal(p)
                    if p.height == H && p.round == Round(2) && hop.from == D && released_at.is_none() =>
                {
                    released_at = Some(hop.now);
                    control.release.push(ABC);
                    control.slow_ledger_ms[K] = Some(1_500);
                    Verdict::Pass
                }
                Parsed::Vote(v)
                    if v.height == H
                        && v.round == Round(0)
                        && v.block_hash.is_some()
                        && v.vote_type == coinjecture_primitives::consensus::VoteType::Precommit =>
                {
                    if hop.to == D {
                        Verdict::Drop
                    } else if abc.contains(&hop.to) && released_at.is_none() {
                        Verdict::Hold(ABC)
                    } else if hop.to == K && !k_precommitted {
                        Verdict::Hold(TO_K)
                    } else {
                        Verdict::Pass
                    }
                }
                // K's own round-0 precommit (nil): now it may learn that X was decided.
                Parsed::Vote(v)
                    if hop.from == K
                        && v.height == H
                        && v.round == Round(0)
                        && v.vote_type == coinjecture_primitives::consensus::VoteType::Precommit
                        && !k_precommitted =>
                {
                    k_precommitted = true;
                    control.release.push(TO_K);
                    Verdict::Pass
                }
                Parsed::Proposal(p) if p.height > H && to_k_or_d && window => Verdict::Drop,
                Parsed::Vote(v) if v.height > H && to_k_or_d && window => Verdict::Drop,
                Parsed::Finalized(h) if *h >= H && to_k_or_d && window => Verdict::Drop,
                _ => Verdict::Pass,
            }
        }));
        let mut fired = false;
        w.crash_trigger = Some(Box::new(move |node, parsed| {
            let hit = !fired && node == K && matches!(parsed, Parsed::Proposal(p) if p.height == H.next());
            fired |= hit;
            hit
        }));
    }
    let mut down_since: Option<i64> = None;
    for _ in 0..450 {
        sim.run_for(100).await;
        if !sim.is_up(K) {
            let since = *down_since.get_or_insert(sim.now());
            if sim.now() - since >= 1_000 {
                sim.world.lock().unwrap().control.slow_ledger_ms[K] = None;
                sim.start(K).await;
            }
        }
    }
    let (reached, k_crashed) = {
        let w = sim.world.lock().unwrap();
        let signed = |height, round, step| {
            w.published.iter().any(|&(node, _, h, r, s)| node == K && (h, r, s) == (height, round, step))
        };
        (
            signed(H, 2, SignStep::Prevote) && signed(H.next(), 0, SignStep::Proposal),
            w.crashes_triggered.iter().any(|(node, _)| *node == K),
        )
    };
    if std::env::var("DSIM_DEBUG").is_ok() {
        let heights = sim.heights();
        let w = sim.world.lock().unwrap();
        for p in w.published.iter().filter(|p| p.2 >= H && p.2 <= H.next()) {
            println!("{p:?}");
        }
        println!("crashes {:?} heights {heights:?} violations {:#?}", w.crashes_triggered, w.violations);
    }
    let heights = sim.heights();
    Outcome { report: sim.finish(), reached, k_crashed, heights }
}

/// The scenario's seeds in CI.
const SEEDS: std::ops::Range<u64> = 0..3;

#[test]
fn a_sync_answered_mid_batch_never_sends_the_safety_files_back_nor_makes_a_validator_sign_twice() {
    for seed in SEEDS {
        let o = run(inline_sync_scenario(seed, false));
        assert!(o.reached && o.k_crashed, "seed {seed}: the scenario did not reach the batch under test");
        assert!(o.report.violations.is_empty(), "seed {seed}: {:#?}", o.report.violations);
        assert!(o.heights.iter().all(|h| *h >= H.saturating_add(3)), "seed {seed}: the chain stopped: {:?}", o.heights);
    }
}

/// The same seeds with the driver as it was before the fix (the test-only switch
/// `DriverEnv::inline_sync_hazard`): the simulation catches both the signing state going back
/// on disk and, after K's crash, K proposing twice at h + 1.
#[test]
fn with_the_old_inline_sync_the_same_seeds_go_back_on_disk_and_sign_twice() {
    for seed in SEEDS {
        let o = run(inline_sync_scenario(seed, true));
        assert!(o.reached && o.k_crashed, "seed {seed}: the scenario did not reach the batch under test");
        let v = &o.report.violations;
        let back = format!("node {K}: its signing state on disk went back");
        assert!(v.iter().any(|s| s.contains(&back)), "seed {seed}: not caught going back: {v:#?}");
        let twice = format!("validator {K} signed twice at height {}, round 0, Proposal", H.next());
        assert!(v.iter().any(|s| s.contains(&twice)), "seed {seed}: no double sign caught: {v:#?}");
    }
}
