//! The driver's side of the safety files and the journal: pausing and resuming signing
//! (rebuilding the engine from what is on disk), the journal's hook in submission and its
//! replay at start. A child module of the driver, so it works on the driver's own state.

use std::path::{Path, PathBuf};

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::{Hash32, Height, Round, SealedTransaction};
use coinjecture_proto::ports::consensus::ConsensusError;
use tokio::sync::oneshot;

use super::{Driver, DriverConfig, DriverError, SubmitResult, Tip, now_ms, store_sign_state, write_durably};
use crate::engine::{Engine, Input};
use crate::lock_state::LockState;
use crate::sign_state::SignState;
use crate::signing_pause::{PauseCause, SigningPause};

/// An engine at the tip + 1 with `sign_state` and `lock`; `paused`: one whose double-sign
/// protection refuses every position, so it follows the chain (validates proposals, counts
/// votes, commits) and signs nothing (it never asks to persist anything either).
pub(super) fn new_engine(
    config: &DriverConfig,
    key: Keypair,
    tip: &Tip,
    sign_state: Option<SignState>,
    lock: Option<LockState>,
    paused: bool,
) -> Engine {
    let sign_state = if paused {
        Some(SignState {
            height: Height::MAX,
            round: Round(u32::MAX),
            step: crate::sign_state::SignStep::Precommit,
            signed_bytes_hash: Hash32::ZERO,
            signature: coinjecture_primitives::Signature::ZERO,
        })
    } else {
        sign_state
    };
    let mut engine = Engine::new(
        config.engine.clone(),
        config.schedule.clone(),
        key,
        tip.height.next(),
        tip.timestamp_ms,
        sign_state,
    );
    if let Some(lock) = lock
        && !paused
    {
        let (height, round, block_hash) = (lock.height, lock.round, lock.block.hash());
        if engine.restore_lock(lock) {
            tracing::info!(height = height.get(), round = round.get(), block = %block_hash.to_hex(), "resuming locked on a block");
        }
    }
    engine
}

/// Whether a file can be created and made durable beside `path` (the retry of a paused
/// signer that has no signing state on disk yet).
fn probe_writable(path: &Path) -> Result<(), DriverError> {
    let mut probe = path.as_os_str().to_owned();
    probe.push(".probe");
    let probe = PathBuf::from(probe);
    write_durably(&probe, b"probe")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|source| DriverError::SignStateWrite { path: path.into(), source })
}

impl<N: coinjecture_proto::ports::gateway::GatewayPort> Driver<N> {
    /// Stops signing after a failed write of a safety file (`reason` names the file and the OS
    /// error): the engine is rebuilt from what is on disk, as after a crash, but refusing to
    /// sign, so the node keeps following the chain; [`Self::retry_signing`] tries the disk
    /// again with backoff.
    pub(super) async fn pause_signing(&mut self, reason: String) -> Result<(), DriverError> {
        self.persist_failures += 1;
        let now = now_ms();
        let pause = match self.pause.take() {
            // Waiting for a height is the stronger condition: it stays.
            Some(p @ SigningPause { cause: PauseCause::UntilFinalized { .. }, .. }) => p,
            Some(mut p) => {
                p.failed_again(reason.clone(), now);
                p
            }
            None => SigningPause::write_failed(reason.clone(), now, self.last_pause),
        };
        tracing::error!(
            error = %reason,
            retry_in_ms = pause.retry_at_ms.millis_since(now),
            "signing paused: a safety file could not be written; nothing unpersisted was sent, and the node keeps following the chain"
        );
        self.pause = Some(pause);
        self.rebuild_engine().await
    }

    /// A paused signer's retry: a write failure tries the disk (the signing state on disk is
    /// written again); a wait for a height checks the tip. Resumes signing when both allow.
    pub(super) async fn retry_signing(&mut self) -> Result<(), DriverError> {
        let Some(pause) = &mut self.pause else { return Ok(()) };
        let now = now_ms();
        match &pause.cause {
            PauseCause::UntilFinalized { height, .. } => {
                if self.tip.height < *height {
                    pause.poll_later(now);
                    return Ok(());
                }
            }
            PauseCause::WriteFailed { .. } => {
                let probe = match &self.durable_sign_state {
                    Some(state) => store_sign_state(&self.config.sign_state_path, state),
                    None => probe_writable(&self.config.sign_state_path),
                };
                if let Err(e) = probe {
                    self.persist_failures += 1;
                    pause.failed_again(e.to_string(), now);
                    tracing::error!(error = %e, retry_in_ms = pause.retry_at_ms.millis_since(now), "signing still paused: the disk does not take writes");
                    self.publish_status();
                    return Ok(());
                }
            }
        }
        let backoff = pause.backoff;
        let reason = pause.reason();
        self.pause = None;
        self.last_pause = Some((backoff, now));
        tracing::info!(was = %reason, height = self.tip.height.next().get(), "signing resumed");
        self.rebuild_engine().await
    }

    /// Replaces the engine with one at the tip + 1 built from what is on disk (paused or not),
    /// as a restart would; the old engine's timers and pending actions are dropped.
    pub(super) async fn rebuild_engine(&mut self) -> Result<(), DriverError> {
        self.engine_generation += 1;
        self.timers.clear();
        let key = Keypair::from_seed(&self.key.seed());
        self.engine = new_engine(
            &self.config,
            key,
            &self.tip,
            self.durable_sign_state.clone(),
            self.durable_lock.clone(),
            self.pause.is_some(),
        );
        if self.pause.is_none() {
            // As after a restart: this height's own signed votes are sent again (liveness).
            let path = crate::own_votes::path(&self.config.sign_state_path);
            self.engine.restore_own_votes(crate::own_votes::load(&path));
        }
        Box::pin(self.input(Input::Start)).await
    }

    /// Hands the admitted transactions to the journal; the client hears back once they are
    /// durable (UNAVAILABLE if they could not be made so: it then sends them elsewhere, where
    /// they are found pending or final).
    pub(super) fn journal_then_reply(
        &self,
        admitted: Vec<SealedTransaction>,
        results: Vec<SubmitResult>,
        reply: oneshot::Sender<Result<Vec<SubmitResult>, ConsensusError>>,
    ) {
        match &self.journal {
            Some(journal) if !admitted.is_empty() => journal.append(
                admitted,
                Box::new(move |durable| {
                    let _ = reply.send(match durable {
                        Ok(()) => Ok(results),
                        Err(e) => Err(ConsensusError::NotDurable(format!(
                            "{e}; the transactions are pending here but not durable: submit them to another node"
                        ))),
                    });
                }),
            ),
            _ => {
                let _ = reply.send(Ok(results));
            }
        }
    }

    /// Re-admits what the journal held at start (as submissions, gossiped again), then
    /// compacts it to the ones still pending.
    pub(super) async fn replay_journal(&mut self) -> Result<(), DriverError> {
        let txs = std::mem::take(&mut self.replay);
        if self.journal.is_none() {
            return Ok(());
        }
        let total = txs.len();
        let mut readmitted = 0;
        let mut keep = std::collections::HashSet::new();
        for chunk in txs.chunks(10_000) {
            let (results, admitted) =
                self.admit(chunk.iter().cloned().map(SealedTransaction::seal).collect(), true).await?;
            readmitted += admitted.len();
            keep.extend(results.iter().filter(|r| r.outcome.is_ok()).map(|r| r.tx_hash));
        }
        if let Some(journal) = &self.journal {
            journal.compact(keep);
        }
        if total > 0 {
            tracing::info!(journaled = total, readmitted, dropped = total - readmitted, "transaction journal replayed");
        }
        Ok(())
    }
}
