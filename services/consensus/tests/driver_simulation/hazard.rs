//! Issue #19 item 5 in the driver simulation.

use coinjecture_consensus::QuorumMode;

use crate::{random_run, run};

/// Exploration: random runs with the hazard put back; prints the seeds that fail.
#[test]
#[ignore = "exploration"]
fn hazard_hunt() {
    let count: u64 = std::env::var("DSIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    for (n, mode) in [(4, QuorumMode::Crash), (4, QuorumMode::Byzantine), (5, QuorumMode::Crash)] {
        for seed in 0..count {
            let r = std::panic::catch_unwind(|| run(random_run(seed, n, mode, true)));
            if let Err(e) = r {
                let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
                println!("HAZARD seed {seed} n={n} {mode:?}: {}", msg.lines().take(4).collect::<Vec<_>>().join(" | "));
            }
        }
    }
}
