//! Finality as a client sees it: polls every validator's finalized height (Consensus
//! `GetStatus`, 50 ms apart, skipping validators that are down) and records when the highest
//! one moves. The longest time between two moves is the longest stall of finality.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use coinjecture_proto::v1 as pb;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use crate::Network;

const POLL: Duration = Duration::from_millis(50);

/// What the monitor saw.
#[derive(Debug, Clone)]
pub struct FinalityReport {
    /// Highest finalized height at the start and at the end.
    pub first_height: u64,
    pub last_height: u64,
    /// Longest time the highest finalized height did not move (including the time from the
    /// last move to the end), and the height finality was stuck at then.
    pub max_stall: Duration,
    pub stalled_at: u64,
    pub elapsed: Duration,
}

impl FinalityReport {
    /// Blocks finalized while the monitor ran.
    pub fn blocks(&self) -> u64 {
        self.last_height - self.first_height
    }
}

/// A running monitor; [`FinalityMonitor::stop`] ends it.
#[derive(Debug)]
pub struct FinalityMonitor {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<FinalityReport>,
}

impl FinalityMonitor {
    /// Starts polling `net`'s validators.
    pub fn start(net: &Network) -> Self {
        let channels: Vec<Channel> = (0..net.validators)
            .map(|i| {
                Endpoint::from_shared(format!("http://127.0.0.1:{}", net.consensus_port(i)))
                    .unwrap()
                    .connect_timeout(Duration::from_millis(500))
                    .timeout(Duration::from_secs(1))
                    .connect_lazy()
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut first = None;
            let mut best = 0;
            let mut last_move = started;
            let (mut max_stall, mut stalled_at) = (Duration::ZERO, 0);
            loop {
                let done = flag.load(Ordering::SeqCst);
                let mut highest = None;
                for channel in &channels {
                    let mut c = pb::consensus_client::ConsensusClient::new(channel.clone());
                    if let Ok(r) = c.get_status(pb::ConsensusGetStatusRequest {}).await {
                        highest = highest.max(Some(r.into_inner().finalized_height));
                    }
                }
                let now = Instant::now();
                if let Some(h) = highest {
                    if first.is_none() {
                        first = Some(h);
                        best = h;
                        last_move = now;
                    } else if h > best {
                        if now - last_move > max_stall {
                            (max_stall, stalled_at) = (now - last_move, best);
                        }
                        best = h;
                        last_move = now;
                    }
                }
                if done {
                    if now - last_move > max_stall {
                        (max_stall, stalled_at) = (now - last_move, best);
                    }
                    return FinalityReport {
                        first_height: first.unwrap_or(0),
                        last_height: best,
                        max_stall,
                        stalled_at,
                        elapsed: now - started,
                    };
                }
                tokio::time::sleep(POLL).await;
            }
        });
        Self { stop, task }
    }

    /// Stops polling and returns what was seen.
    pub async fn stop(self) -> FinalityReport {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap()
    }
}
