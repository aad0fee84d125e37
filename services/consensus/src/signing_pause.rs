//! Why and until when this validator does not sign, and when to try again.
//!
//! A validator stops signing (but keeps following the chain: it validates proposals, counts
//! votes and applies finalized blocks) when
//! - a safety file could not be written (EMFILE, ENOSPC, EIO, EPERM, a read-only directory, …):
//!   the message it was about to send is dropped, since nothing leaves that is not persisted,
//!   and the write is retried with capped exponential backoff until the disk takes it again;
//! - its signing state is ahead of the database, or it was reset (`--unsafe-reset-signing-state`):
//!   it waits until the chain has finalized the height after the last one it may have signed.
//!
//! Pure bookkeeping: the driver carries out the retries and rebuilds the engine.

use std::time::Duration;

use coinjecture_primitives::{Height, UnixMillis};

/// First retry after a failed write.
pub const FIRST_RETRY: Duration = Duration::from_millis(250);
/// Longest wait between retries.
pub const MAX_RETRY: Duration = Duration::from_secs(10);
/// A pause that starts within this long of the previous one's end continues its backoff
/// (a disk that takes one write and fails the next is not hammered).
pub const BACKOFF_MEMORY: Duration = Duration::from_secs(60);
/// While waiting for a height, how often the driver looks at the tip.
pub const HOLD_POLL: Duration = Duration::from_millis(500);

/// Why signing is paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseCause {
    /// A write of a safety file failed; `reason` is the error (file and OS error).
    WriteFailed { reason: String },
    /// Nothing is signed until the finalized tip reaches `height`; `why` says what made it so.
    UntilFinalized { height: Height, why: String },
}

/// A paused signer.
#[derive(Debug, Clone)]
pub struct SigningPause {
    pub cause: PauseCause,
    /// When to try again (milliseconds since the epoch, the driver's clock).
    pub retry_at_ms: UnixMillis,
    /// The wait before the next retry after this one fails.
    pub backoff: Duration,
    /// Failed attempts (the first write included).
    pub failures: u64,
}

impl SigningPause {
    /// A pause after a failed write at `now_ms`; `previous` is the last pause that ended (its
    /// backoff and end time), if any.
    pub fn write_failed(reason: String, now_ms: UnixMillis, previous: Option<(Duration, UnixMillis)>) -> Self {
        let backoff = match previous {
            Some((backoff, ended_ms)) if now_ms.duration_since(ended_ms) < BACKOFF_MEMORY => {
                (backoff * 2).min(MAX_RETRY)
            }
            _ => FIRST_RETRY,
        };
        Self {
            cause: PauseCause::WriteFailed { reason },
            retry_at_ms: now_ms.saturating_add(backoff),
            backoff,
            failures: 1,
        }
    }

    /// A pause until the chain has finalized `height`.
    pub fn until_finalized(height: Height, why: String, now_ms: UnixMillis) -> Self {
        Self {
            cause: PauseCause::UntilFinalized { height, why },
            retry_at_ms: now_ms.saturating_add(HOLD_POLL),
            backoff: HOLD_POLL,
            failures: 0,
        }
    }

    /// After a retry that failed again at `now_ms`: the new reason, and the next retry after
    /// twice the wait (capped).
    pub fn failed_again(&mut self, reason: String, now_ms: UnixMillis) {
        self.cause = PauseCause::WriteFailed { reason };
        self.failures += 1;
        self.backoff = (self.backoff * 2).min(MAX_RETRY);
        self.retry_at_ms = now_ms.saturating_add(self.backoff);
    }

    /// Still waiting for a height at `now_ms`: look again later.
    pub fn poll_later(&mut self, now_ms: UnixMillis) {
        self.retry_at_ms = now_ms.saturating_add(HOLD_POLL);
    }

    /// One line for `/v1/status` and the logs.
    pub fn reason(&self) -> String {
        match &self.cause {
            PauseCause::WriteFailed { reason } => {
                let every = if self.backoff < Duration::from_secs(1) {
                    format!("{}ms", self.backoff.as_millis())
                } else {
                    format!("{:.1}s", self.backoff.as_secs_f64())
                };
                format!("{reason} (retrying every {every}; {} failed attempts)", self.failures)
            }
            PauseCause::UntilFinalized { height, why } => format!("waiting for height {height} to be final: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_cap_and_a_quick_relapse_continues_the_backoff() {
        let mut p = SigningPause::write_failed("disk full".into(), UnixMillis(1_000), None);
        assert_eq!((p.backoff, p.retry_at_ms), (FIRST_RETRY, UnixMillis(1_250)));
        let mut waits = Vec::new();
        for i in 0..8 {
            p.failed_again("disk full".into(), UnixMillis(10_000 * i));
            waits.push(p.backoff);
        }
        assert_eq!(waits[0], Duration::from_millis(500));
        assert_eq!(*waits.last().unwrap_or(&Duration::ZERO), MAX_RETRY);
        assert!(p.reason().contains("disk full") && p.reason().contains("9 failed attempts"), "{}", p.reason());
        // Failing again 5 s after a pause ended doubles its last wait; a minute later starts over.
        let again = SigningPause::write_failed(
            "EIO".into(),
            UnixMillis(105_000),
            Some((Duration::from_secs(2), UnixMillis(100_000))),
        );
        assert_eq!(again.backoff, Duration::from_secs(4));
        let fresh = SigningPause::write_failed(
            "EIO".into(),
            UnixMillis(200_000),
            Some((Duration::from_secs(2), UnixMillis(100_000))),
        );
        assert_eq!(fresh.backoff, FIRST_RETRY);
    }

    #[test]
    fn a_hold_names_the_height_it_waits_for() {
        let p = SigningPause::until_finalized(Height(42), "the signing state was reset".into(), UnixMillis(0));
        assert_eq!(p.reason(), "waiting for height 42 to be final: the signing state was reset");
    }
}
