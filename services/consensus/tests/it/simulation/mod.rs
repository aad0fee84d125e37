//! The deterministic simulation of the consensus engine (the heart of its test suite).
//!
//! Replay one seed: `SIM_SEED=<seed> SIM_N=<validators> SIM_MODE=<crash|byzantine> cargo test -p
//! coinjecture-consensus --test it -- --ignored --exact simulation::replay_one_seed --nocapture`.
//! More seeds: `SIM_SEEDS=<count per configuration>` (default 125 × 8 configurations = 1,000).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

mod harness;
mod hostile;
mod scenarios;

use coinjecture_consensus::QuorumMode;
use harness::{EventSpec, NetParams, Rng, Sim};

const SECOND: i64 = 1000;

fn perfect() -> NetParams {
    NetParams { drop: 0.0, duplicate: 0.0, min_delay_ms: 5, max_delay_ms: 20 }
}

/// Faulty validators a configuration tolerates.
fn tolerated(n: usize, mode: QuorumMode) -> usize {
    n - mode.quorum(n)
}

/// One randomized run: random network quality, random crashes/restarts, partitions and (in
/// byzantine mode) equivocators within the fault budget; then everything heals. Checks safety
/// (inside the harness, at every commit), liveness after healing, and returns the trace hash.
pub(crate) fn random_run(seed: u64, n: usize, mode: QuorumMode) -> harness::Report {
    let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(n as u64));
    let net = NetParams {
        drop: rng.range(0, 20) as f64 / 100.0,
        duplicate: rng.range(0, 10) as f64 / 100.0,
        min_delay_ms: rng.range(1, 50),
        max_delay_ms: rng.range(50, 400),
    };
    let mut sim = Sim::new(seed, n, mode, net);
    let start = sim.now;
    let budget = tolerated(n, mode);
    let faulty = rng.range(0, budget as u64) as usize;
    let mut crashed = Vec::new();
    for k in 0..faulty {
        let node = (seed as usize + k * 3) % n;
        if crashed.contains(&node) {
            continue;
        }
        if mode == QuorumMode::Byzantine && rng.chance(0.5) {
            sim.nodes[node].equivocates = true;
        } else {
            let at = start + rng.range(1, 15) as i64 * SECOND;
            sim.schedule(at, EventSpec::Crash(node));
            // Some come back during the fault period, the rest at the heal.
            let back = if rng.chance(0.5) { at + rng.range(1, 5) as i64 * SECOND } else { start + 20 * SECOND };
            sim.schedule(back, EventSpec::Restart(node));
        }
        crashed.push(node);
    }
    if rng.chance(0.5) {
        let groups: Vec<u32> = (0..n).map(|_| rng.range(0, 1) as u32).collect();
        let at = start + rng.range(2, 10) as i64 * SECOND;
        sim.schedule(at, EventSpec::Partition(groups));
        sim.schedule(at + rng.range(1, 8) as i64 * SECOND, EventSpec::Heal);
    }
    for t in 1..=20 {
        sim.run_until(start + t * SECOND);
        sim.debug_states("fault");
    }
    sim.schedule(sim.now, EventSpec::Heal);
    sim.net = NetParams { drop: 0.0, duplicate: 0.0, min_delay_ms: 5, max_delay_ms: 50 };
    let at_heal = sim.report().max_height;
    // Liveness: with everyone up and connected, every honest node gets past the heal height
    // within a bounded time (timeouts are capped, so this bound is a handful of rounds).
    for t in 21..=45 {
        sim.run_until(start + t * SECOND);
        sim.debug_states("healed");
    }
    let report = sim.report();
    for (i, h) in report.heights.iter().enumerate() {
        if !sim.nodes[i].equivocates {
            assert!(
                *h >= at_heal + 2,
                "seed {seed} (n={n}, {mode:?}): node {i} at height {h}, heal height was {at_heal}; heights {:?}",
                report.heights
            );
        }
    }
    report
}

/// First seed of the rotating slices (far from the fixed seeds and the nightly range).
const SLICE_BASE: u64 = 100_000_000;

/// The rotating slice of this run: `SIM_SLICE` if set, else the number of days since the Unix
/// epoch (UTC), so every day's CI runs cover new seeds and a failure names a slice anyone can
/// replay (`SIM_SLICE=<slice>`, or one seed with `replay_one_seed`).
fn slice_index() -> u64 {
    std::env::var("SIM_SLICE").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        now.as_secs() / 86_400
    })
}

/// CI's seeds of one configuration: the fixed ones (`0..SIM_SEEDS`, default 100), then the
/// rotating slice (`SIM_SLICE_SEEDS` seeds, default 20, from `SLICE_BASE + slice × that`).
fn ci_seeds() -> (std::ops::Range<u64>, std::ops::Range<u64>, u64) {
    let fixed: u64 = std::env::var("SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let per_slice: u64 = std::env::var("SIM_SLICE_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let slice = slice_index();
    let first = SLICE_BASE.saturating_add(slice.saturating_mul(per_slice));
    (0..fixed, first..first.saturating_add(per_slice), slice)
}

fn run_seeds(n: usize, mode: QuorumMode) {
    let (fixed, rotating, slice) = ci_seeds();
    println!(
        "n={n} {mode:?}: fixed seeds {fixed:?}, rotating slice {slice} = seeds {rotating:?} (replay the slice with \
         SIM_SLICE={slice})"
    );
    let count = (fixed.end - fixed.start) + (rotating.end - rotating.start);
    let mut heights = 0;
    for seed in fixed.chain(rotating) {
        let outcome = std::panic::catch_unwind(|| random_run(seed, n, mode));
        match outcome {
            Ok(report) => {
                heights += report.max_height;
                if seed < 3 {
                    let again = random_run(seed, n, mode);
                    assert_eq!(report.trace_hash, again.trace_hash, "seed {seed}: two runs of one seed differ");
                }
            }
            Err(panic) => {
                let mode_name = if mode == QuorumMode::Crash { "crash" } else { "byzantine" };
                eprintln!(
                    "simulation failed: seed {seed}, n={n}, mode={mode_name}\nreplay: SIM_SEED={seed} SIM_N={n} \
                     SIM_MODE={mode_name} cargo test -p coinjecture-consensus --test it -- \
                     --ignored --exact simulation::replay_one_seed --nocapture"
                );
                std::panic::resume_unwind(panic);
            }
        }
    }
    println!("{count} seeds, n={n}, {mode:?}: {heights} blocks finalized in total");
}

#[test]
fn seeds_3_validators_crash_mode() {
    run_seeds(3, QuorumMode::Crash);
}
#[test]
fn seeds_3_validators_byzantine_mode() {
    run_seeds(3, QuorumMode::Byzantine);
}
#[test]
fn seeds_4_validators_crash_mode() {
    run_seeds(4, QuorumMode::Crash);
}
#[test]
fn seeds_4_validators_byzantine_mode() {
    run_seeds(4, QuorumMode::Byzantine);
}
#[test]
fn seeds_5_validators_crash_mode() {
    run_seeds(5, QuorumMode::Crash);
}
#[test]
fn seeds_5_validators_byzantine_mode() {
    run_seeds(5, QuorumMode::Byzantine);
}
#[test]
fn seeds_7_validators_crash_mode() {
    run_seeds(7, QuorumMode::Crash);
}
#[test]
fn seeds_7_validators_byzantine_mode() {
    run_seeds(7, QuorumMode::Byzantine);
}

/// The nightly-style run: 2,500 seeds per configuration (20,000 in all), beyond CI's 1,000.
#[test]
#[ignore = "long: cargo test -p coinjecture-consensus --test it -- --ignored --exact simulation::many_seeds_all_configurations"]
fn many_seeds_all_configurations() {
    let per = std::env::var("SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2_500u64);
    for n in [3, 4, 5, 7] {
        for mode in [QuorumMode::Crash, QuorumMode::Byzantine] {
            for seed in 1_000_000..1_000_000 + per {
                let outcome = std::panic::catch_unwind(|| random_run(seed, n, mode));
                if let Err(panic) = outcome {
                    let m = if mode == QuorumMode::Crash { "crash" } else { "byzantine" };
                    eprintln!(
                        "simulation failed: replay with SIM_SEED={seed} SIM_N={n} SIM_MODE={m} cargo test -p \
                         coinjecture-consensus --test it -- --ignored --exact simulation::replay_one_seed --nocapture"
                    );
                    std::panic::resume_unwind(panic);
                }
            }
        }
    }
}

/// The wide run: networks beyond 7 validators, up to 21 (#22), each in both quorum modes
/// (`SIM_SEEDS` seeds per configuration, default 20). Ignored: the 21-validator runs take long.
#[test]
#[ignore = "long: cargo test -p coinjecture-consensus --test it -- --ignored --exact simulation::wide_networks_up_to_21_validators"]
fn wide_networks_up_to_21_validators() {
    let per = std::env::var("SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20u64);
    for n in [10, 13, 16, 21] {
        for mode in [QuorumMode::Crash, QuorumMode::Byzantine] {
            let started = std::time::Instant::now();
            let mut heights = 0;
            for seed in 2_000_000..2_000_000 + per {
                let outcome = std::panic::catch_unwind(|| random_run(seed, n, mode));
                match outcome {
                    Ok(report) => heights += report.max_height,
                    Err(panic) => {
                        let m = if mode == QuorumMode::Crash { "crash" } else { "byzantine" };
                        eprintln!(
                            "simulation failed: replay with SIM_SEED={seed} SIM_N={n} SIM_MODE={m} cargo test -p \
                             coinjecture-consensus --test it -- --ignored --exact simulation::replay_one_seed --nocapture"
                        );
                        std::panic::resume_unwind(panic);
                    }
                }
            }
            println!(
                "wide: n={n} {mode:?}: {per} seeds, {heights} blocks finalized, {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
    }
}

#[test]
#[ignore = "replays one seed from SIM_SEED / SIM_N / SIM_MODE"]
fn replay_one_seed() {
    let seed: u64 = std::env::var("SIM_SEED").expect("set SIM_SEED").parse().expect("number");
    let n: usize = std::env::var("SIM_N").ok().and_then(|s| s.parse().ok()).unwrap_or(4);
    let mode = match std::env::var("SIM_MODE").as_deref() {
        Ok("byzantine") => QuorumMode::Byzantine,
        _ => QuorumMode::Crash,
    };
    let report = random_run(seed, n, mode);
    println!("{report:#?}");
}

use {SECOND as SEC, perfect as perfect_net};
