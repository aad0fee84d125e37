//! The deterministic simulation of the consensus **driver** (issue #19): several real drivers —
//! admission, mempool, block building, validation and commit through the ledger port, sync,
//! the safety files on disk, timers — on one simulated network, in virtual time, under a
//! seed. See `harness.rs` for why a run is deterministic and what is checked.
//!
//! Replay one seed: `DSIM_SEED=<seed> DSIM_N=<validators> DSIM_MODE=<crash|byzantine> cargo test
//! -p coinjecture-consensus --test it -- --ignored --exact driver_simulation::replay_one_seed --nocapture`.
//! The wider sweep: `DSIM_SEEDS=<count per configuration> cargo test -p coinjecture-consensus
//! --test it -- --ignored driver_simulation::many_seeds` (default 100 × 4 configurations).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

mod compact;
mod harness;
mod hazard;
mod intake;

use coinjecture_consensus::QuorumMode;
use coinjecture_primitives::{Height, PublicKey};
use harness::{NetParams, Report, Rng, Setup, Sim, run};

const SECOND: i64 = 1000;

/// Faulty validators a configuration tolerates.
fn tolerated(n: usize, mode: QuorumMode) -> usize {
    n - mode.quorum(n)
}

fn mode_name(mode: QuorumMode) -> &'static str {
    if mode == QuorumMode::Crash { "crash" } else { "byzantine" }
}

/// One randomized run of `n` drivers: a seeded lossy network, crashes and restarts within the
/// fault budget, perhaps a partition, transfers submitted to random nodes throughout; then
/// everything heals. Checks (besides the harness's oracles: no double sign, safety files never
/// backwards, one chain) that every node gets past the heal height, and that transfers
/// submitted after the heal are final on every node.
pub(crate) async fn random_run(seed: u64, n: usize, mode: QuorumMode, inline_sync_hazard: bool) -> Report {
    let mut rng = Rng::new(seed.wrapping_mul(131).wrapping_add(n as u64));
    let net = NetParams {
        drop: rng.range(0, 15) as f64 / 100.0,
        duplicate: rng.range(0, 5) as f64 / 100.0,
        min_delay_ms: rng.range(1, 30),
        max_delay_ms: rng.range(30, 300),
    };
    let setup =
        Setup { seed, n, mode, net, block_time_ms: 1000, ledger_latency_ms: rng.range(0, 20), inline_sync_hazard };
    let mut sim = Sim::new(setup).await;
    let recipient = PublicKey([9; 32]);

    // Fault plan: which nodes crash (and when they come back), and a partition.
    let faulty = rng.range(0, tolerated(n, mode) as u64) as usize;
    let mut plan: Vec<(i64, usize, bool)> = Vec::new(); // (time, node, crash?)
    for k in 0..faulty {
        let node = (seed as usize + k * 3) % n;
        let at = rng.range(1, 12) as i64 * SECOND + rng.range(0, 999) as i64;
        plan.push((at, node, true));
        if rng.chance(0.5) {
            plan.push((at + rng.range(1, 4) as i64 * SECOND, node, false));
        }
    }
    let partition = rng.chance(0.4).then(|| {
        let groups: Vec<u32> = (0..n).map(|_| rng.range(0, 1) as u32).collect();
        let at = rng.range(2, 8) as i64 * SECOND;
        (at, at + rng.range(1, 6) as i64 * SECOND, groups)
    });

    // The fault phase: 15 s, in 100 ms steps.
    let mut nonce = 0;
    for step in 1..=150i64 {
        sim.run_for(100).await;
        let t = step * 100;
        for (at, node, crash) in &plan {
            if *at > t - 100 && *at <= t {
                if *crash {
                    if sim.is_up(*node) {
                        sim.crash(*node);
                    }
                } else if !sim.is_up(*node) {
                    sim.start(*node).await;
                }
            }
        }
        if let Some((from, until, groups)) = &partition {
            let mut w = sim.world.lock().unwrap();
            if t == *from {
                w.group.clone_from(groups);
            } else if t == *until {
                w.group = vec![0; n];
            }
        }
        if step % 10 == 0 {
            // Transfers from account 0 into a random node's admission (some may be lost with
            // a crash: the journal is off here; none may ever be final twice).
            let node = rng.range(0, n as u64 - 1) as usize;
            let tx = sim.chain.transfer(0, recipient, 1 + nonce, nonce);
            nonce += sim.submit(node, vec![tx]).await as u64;
        }
    }

    // Heal: everyone up, one group, a good network.
    sim.restart_crashed().await;
    {
        let mut w = sim.world.lock().unwrap();
        w.group = vec![0; n];
        w.net = NetParams::good();
    }
    let at_heal = sim.heights().into_iter().max().unwrap_or(Height(0));
    sim.run_for(5 * SECOND).await;
    // Transfers from account 1 after the heal: final on every node.
    let txs: Vec<_> = (0..5).map(|k| sim.chain.transfer(1, PublicKey([8; 32]), 100 + k, k)).collect();
    let admitted = sim.submit((seed as usize) % n, txs).await;
    assert_eq!(admitted, 5, "seed {seed} (n={n}, {mode:?}): transfers refused after the heal");
    sim.run_for(20 * SECOND).await;
    let heights = sim.heights();
    let balances: Vec<u64> = (0..n).map(|i| sim.balance(i, &PublicKey([8; 32]))).collect();
    let report = sim.finish();
    assert!(
        report.violations.is_empty(),
        "seed {seed} (n={n}, {mode:?}): {:#?}\nreplay: {}",
        report.violations,
        replay_command(seed, n, mode)
    );
    for (i, h) in heights.iter().enumerate() {
        assert!(
            *h >= at_heal.saturating_add(2),
            "seed {seed} (n={n}, {mode:?}): node {i} at height {h}, heal height was {at_heal}; heights {heights:?}\nreplay: {}",
            replay_command(seed, n, mode)
        );
    }
    let expected = (0..5).map(|k| 100 + k).sum::<u64>();
    assert!(
        balances.iter().all(|b| *b == expected),
        "seed {seed} (n={n}, {mode:?}): transfers after the heal not final everywhere: {balances:?}\nreplay: {}",
        replay_command(seed, n, mode)
    );
    report
}

fn replay_command(seed: u64, n: usize, mode: QuorumMode) -> String {
    format!(
        "DSIM_SEED={seed} DSIM_N={n} DSIM_MODE={} cargo test -p coinjecture-consensus --test it -- \
         --ignored --exact driver_simulation::replay_one_seed --nocapture",
        mode_name(mode)
    )
}

fn run_seeds(seeds: impl Iterator<Item = u64>, n: usize, mode: QuorumMode) {
    let started = std::time::Instant::now();
    let mut count = 0;
    let mut delivered = 0;
    for seed in seeds {
        let outcome = std::panic::catch_unwind(|| run(random_run(seed, n, mode, false)));
        match outcome {
            Ok(report) => delivered += report.delivered,
            Err(panic) => {
                eprintln!("driver simulation failed: seed {seed}\nreplay: {}", replay_command(seed, n, mode));
                std::panic::resume_unwind(panic);
            }
        }
        count += 1;
    }
    println!(
        "{count} seeds, n={n}, {mode:?}: {delivered} messages delivered, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// CI's fixed seeds: a few per configuration (each run is ~40 s of virtual time).
const CI_SEEDS: u64 = 4;

#[test]
fn driver_seeds_3_validators_crash_mode() {
    run_seeds(0..CI_SEEDS, 3, QuorumMode::Crash);
}

#[test]
fn driver_seeds_4_validators_byzantine_mode() {
    run_seeds(0..CI_SEEDS, 4, QuorumMode::Byzantine);
}

#[test]
fn a_seed_replays_to_the_same_trace() {
    let a = run(random_run(7, 4, QuorumMode::Crash, false));
    let b = run(random_run(7, 4, QuorumMode::Crash, false));
    assert_eq!(a.trace_hash, b.trace_hash, "two runs of one seed differ");
    assert_eq!(a.heights, b.heights);
    assert!(a.delivered > 1000, "{a:?}");
}

/// The wider sweep (`DSIM_SEEDS` per configuration, default 100).
#[test]
#[ignore = "long: cargo test -p coinjecture-consensus --test it -- --ignored driver_simulation::many_seeds"]
fn many_seeds_all_configurations() {
    let per: u64 = std::env::var("DSIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    for n in [3, 4, 5] {
        for mode in [QuorumMode::Crash, QuorumMode::Byzantine] {
            run_seeds(1_000_000..1_000_000 + per, n, mode);
        }
    }
}

#[test]
#[ignore = "replays one seed from DSIM_SEED / DSIM_N / DSIM_MODE"]
fn replay_one_seed() {
    let seed: u64 = std::env::var("DSIM_SEED").expect("set DSIM_SEED").parse().expect("a number");
    let n: usize = std::env::var("DSIM_N").ok().and_then(|s| s.parse().ok()).unwrap_or(4);
    let mode = match std::env::var("DSIM_MODE").as_deref() {
        Ok("byzantine") => QuorumMode::Byzantine,
        _ => QuorumMode::Crash,
    };
    let hazard = std::env::var("DSIM_INLINE_SYNC_HAZARD").is_ok_and(|v| v == "1");
    let report = run(random_run(seed, n, mode, hazard));
    println!("{report:#?}");
}
