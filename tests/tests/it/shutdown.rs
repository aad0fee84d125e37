//! Graceful shutdown: SIGTERM to a producing `coinjectured node` lets the block being written
//! finish, closes the database and exits 0 with a shutdown log line; the restarted node resumes
//! at exactly the height it stopped at and keeps producing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::time::{Duration, Instant};

use coinjecture_e2e::Network;

/// `"key":N` of the JSON log lines whose message is `message`, in order.
fn logged_numbers(log: &str, message: &str, key: &str) -> Vec<u64> {
    let needle = format!("\"{key}\":");
    log.lines()
        .filter(|l| l.contains(&format!("\"message\":\"{message}\"")))
        .filter_map(|l| {
            let rest = &l[l.find(&needle)? + needle.len()..];
            rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_the_database_cleanly_and_a_restart_resumes_at_the_same_height() {
    let started = Instant::now();
    // One validator with short blocks: it is applying a block most of the time.
    let mut net = Network::start(1, "200ms");
    net.wait_for_height(&[0], 5, Duration::from_secs(60)).await;

    let statuses = net.terminate(0, Duration::from_secs(30));
    let log = net.log(0);
    assert!(statuses.iter().all(|s| s.is_some_and(|s| s.success())), "exit statuses {statuses:?}:\n{log}");
    assert!(log.contains("shutdown signal received"), "{log}");
    let stopped_at = logged_numbers(&log, "node stopped: database closed", "height");
    assert_eq!(stopped_at.len(), 1, "one shutdown line expected:\n{log}");
    let stopped_at = stopped_at[0];
    assert!(stopped_at >= 5, "stopped at {stopped_at}");
    // The last connection's close checkpoints SQLite's write-ahead log into the database file
    // and removes it: nothing is left for recovery.
    let db = net.dir.path().join("data/validator-1.db");
    assert!(db.exists());
    assert!(!net.dir.path().join("data/validator-1.db-wal").exists(), "WAL left behind: not closed cleanly");

    // Blocks logged before the stop end at `stopped_at`; after the restart they go on from the
    // next height: nothing lost, nothing applied twice.
    let produced = |log: &str| logged_numbers(log, "New block produced", "block_number");
    assert_eq!(produced(&log).last(), Some(&stopped_at), "{log}");
    let before = produced(&log).len();
    net.start_validator(0);
    net.wait_for_height(&[0], stopped_at + 3, Duration::from_secs(60)).await;
    let log = net.log(0);
    let after = &produced(&log)[before..];
    assert_eq!(after.first(), Some(&(stopped_at + 1)), "the restart did not resume where the node stopped:\n{log}");
    println!(
        "e2e shutdown: SIGTERM at height {stopped_at}, exit 0, database closed, restart resumed, {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
