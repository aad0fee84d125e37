//! Open-loop rate control.
//!
//! A [`Schedule`] turns an offered rate into "transactions due by time t"; [`run`] emits batches
//! into per-lane queues whenever they fall due, whatever the consumers are doing. The queues are
//! unbounded on purpose: what the consumers have not taken yet is the backlog, and it is reported.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

/// An offered rate split into batches.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Transactions per second.
    pub rate: f64,
    /// Transactions per batch (one RPC).
    pub batch: u64,
    /// How long to offer load.
    pub duration: Duration,
}

impl Schedule {
    /// Transactions to have emitted by `elapsed`: transaction `k` is due at `k / rate`, and a
    /// batch goes out as soon as its first transaction is due (capped at the total).
    pub fn due(&self, elapsed: Duration) -> u64 {
        let due_now = (elapsed.as_secs_f64() * self.rate).floor() as u64 + 1;
        due_now.div_ceil(self.batch).saturating_mul(self.batch).min(self.total())
    }

    /// Transactions in the whole run.
    pub fn total(&self) -> u64 {
        (self.duration.as_secs_f64() * self.rate).floor() as u64
    }

    /// When the transaction with sequence number `seq` is due, after the start.
    pub fn due_at(&self, seq: u64) -> Duration {
        Duration::from_secs_f64(seq as f64 / self.rate)
    }

    /// How often the ticker wakes: once per batch, but at least every 50 ms and at most every 1 ms.
    pub fn tick(&self) -> Duration {
        Duration::from_secs_f64(self.batch as f64 / self.rate)
            .clamp(Duration::from_millis(1), Duration::from_millis(50))
    }
}

/// A batch of transactions that fell due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Sequence number of the first transaction (0-based over the run).
    pub first_seq: u64,
    /// Number of transactions.
    pub count: u64,
    /// When the batch was due (latency is measured from here, not from the actual send).
    pub scheduled_at: Instant,
}

/// Counters shared between the scheduler and the consumers.
#[derive(Debug, Default)]
pub struct Counters {
    /// Transactions emitted by the scheduler.
    pub scheduled: AtomicU64,
    /// Transactions a consumer has taken off a queue.
    pub taken: AtomicU64,
    /// Largest backlog (scheduled − taken) seen at a tick.
    pub max_backlog: AtomicU64,
}

impl Counters {
    /// Scheduled but not yet taken by a consumer.
    pub fn backlog(&self) -> u64 {
        self.scheduled.load(Ordering::Relaxed).saturating_sub(self.taken.load(Ordering::Relaxed))
    }
}

/// Emits every batch of `schedule` when it falls due, round-robin over `lanes`, starting at
/// `start`. Returns when the last batch has been emitted. Never waits for a consumer.
pub async fn run(schedule: Schedule, start: Instant, lanes: &[mpsc::UnboundedSender<Batch>], counters: Arc<Counters>) {
    let mut emitted = 0u64;
    let mut batch_index = 0usize;
    let total = schedule.total();
    let mut ticker = tokio::time::interval_at(start, schedule.tick());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while emitted < total {
        ticker.tick().await;
        let due = schedule.due(Instant::now().saturating_duration_since(start));
        while emitted < due {
            let count = schedule.batch.min(due - emitted);
            let batch = Batch { first_seq: emitted, count, scheduled_at: start + schedule.due_at(emitted) };
            // A closed lane (consumer gone) still counts as scheduled: that is what was offered.
            let _ = lanes[batch_index % lanes.len()].send(batch);
            batch_index += 1;
            emitted += count;
            counters.scheduled.fetch_add(count, Ordering::Relaxed);
        }
        counters.max_backlog.fetch_max(counters.backlog(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn a_batch_is_due_when_its_first_transaction_is_and_the_total_caps_it() {
        let s = Schedule { rate: 100.0, batch: 10, duration: Duration::from_secs(2) };
        assert_eq!(s.due(Duration::from_millis(0)), 10);
        assert_eq!(s.due(Duration::from_millis(95)), 10);
        assert_eq!(s.due(Duration::from_millis(100)), 20);
        assert_eq!(s.due(Duration::from_millis(1_234)), 130);
        assert_eq!(s.due(Duration::from_millis(1_999)), 200);
        assert_eq!(s.due(Duration::from_secs(60)), 200);
        assert_eq!(s.total(), 200);
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_keeps_its_schedule_when_the_sink_is_slow() {
        let s = Schedule { rate: 1_000.0, batch: 10, duration: Duration::from_secs(2) };
        let (tx, mut rx) = mpsc::unbounded_channel::<Batch>();
        let counters = Arc::new(Counters::default());
        let start = Instant::now();
        // A sink that takes one batch per 100 ms: 10× slower than the offered rate.
        let sink_counters = counters.clone();
        let sink = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(b) = rx.recv().await {
                sink_counters.taken.fetch_add(b.count, Ordering::Relaxed);
                got.push(b);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            got
        });
        run(s, start, &[tx], counters.clone()).await;
        // Everything was offered on time, although the sink has taken only a fraction.
        let finished = Instant::now() - start;
        assert!(finished <= Duration::from_millis(2_050), "scheduler took {finished:?}");
        assert_eq!(counters.scheduled.load(Ordering::Relaxed), 2_000);
        assert!(counters.max_backlog.load(Ordering::Relaxed) >= 1_500, "{counters:?}");
        let got = sink.await.unwrap();
        assert_eq!(got.iter().map(|b| b.count).sum::<u64>(), 2_000);
        // Scheduled times follow the offered rate, not the sink's pace.
        for b in &got {
            assert_eq!(b.scheduled_at - start, Duration::from_millis(b.first_seq));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn batches_are_spread_round_robin_over_lanes() {
        let s = Schedule { rate: 100.0, batch: 5, duration: Duration::from_secs(1) };
        let (a, mut ra) = mpsc::unbounded_channel();
        let (b, mut rb) = mpsc::unbounded_channel();
        run(s, Instant::now(), &[a, b], Arc::new(Counters::default())).await;
        let (mut na, mut nb) = (0, 0);
        while let Ok(x) = ra.try_recv() {
            na += x.count;
        }
        while let Ok(x) = rb.try_recv() {
            nb += x.count;
        }
        assert_eq!((na, nb), (50, 50));
    }
}
