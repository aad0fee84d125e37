//! The start-up checks of the safety files: before the engine starts, the signing state and
//! the lock are read (format 2 checked, format 1 rewritten), checked against the chain, and
//! refused — with one line naming the file and what to do — when trusting them (or their
//! absence) could make this validator sign twice or never sign again silently:
//!
//! - a file that is damaged (checksum, truncation, unknown version, the other file's kind);
//! - a signing state (or lock) more than [`MAX_HEIGHTS_AHEAD`] above the ledger's tip + 1: the
//!   database is older than this validator's signatures, or the file is another chain's;
//! - no signing state although one of the last [`CERTIFICATE_LOOKBACK`] commit certificates in
//!   the database carries this validator's signature: the file was deleted.
//!
//! `--unsafe-reset-signing-state` lets the node start anyway: a damaged file is moved aside
//! (`<file>.damaged-<unix seconds>`), and the node signs nothing until the chain has finalized
//! the height after the last one it may have signed (the tip + 1, or a far-ahead state's
//! height). That is safe only if the database is this validator's own and current: a
//! validator only signs at its ledger's tip + 1, so it cannot have signed above that.
//!
//! Stale `<file>.tmp` files (a write cut short by a crash or ENOSPC) are removed first.

use std::path::{Path, PathBuf};

use coinjecture_primitives::{Height, PublicKey, UnixMillis};

use coinjecture_proto::ports::ledger::LedgerPort;

use crate::driver::{DriverError, Tip};
use crate::lock_state::LockState;
use crate::safety_file::{Format, SafetyFileError};
use crate::sign_state::SignState;
use crate::signing_pause::SigningPause;

/// How far above the ledger's tip + 1 a signing state (or lock) may be. A validator signs only
/// at its ledger's tip + 1, so any state above it means the database went back; within this
/// margin (e.g. a database restored from a recent snapshot) the node starts and signs nothing
/// until the chain has passed the state's height; beyond it, it refuses.
pub const MAX_HEIGHTS_AHEAD: u64 = 1_000;
/// How many of the latest commit certificates are searched for this validator's signature when
/// its signing state is missing.
pub const CERTIFICATE_LOOKBACK: u64 = 32;
/// The command-line flag that overrides the checks.
pub const RESET_FLAG: &str = "--unsafe-reset-signing-state";

/// What the checks let the driver start with.
#[derive(Debug, Default)]
pub struct Checked {
    pub sign_state: Option<SignState>,
    pub lock: Option<LockState>,
    /// Set when the node must not sign yet (a reset, or a state ahead of the database).
    pub pause: Option<SigningPause>,
}

/// Removes `<path>.tmp` for each path (left behind by a write cut short), logging each.
pub fn remove_stale_temp_files(paths: &[&Path]) {
    for path in paths {
        let tmp = temp_path(path);
        match std::fs::remove_file(&tmp) {
            Ok(()) => tracing::warn!(file = %tmp.display(), "removed a stale temporary file (a write was cut short)"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(file = %tmp.display(), error = %e, "cannot remove a stale temporary file"),
        }
    }
}

/// `<path>.tmp`, where a file is written before it is renamed over `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

/// Reads and checks both files against `tip`; see the module documentation.
pub async fn check(
    sign_path: &Path,
    lock_path: &Path,
    tip: &Tip,
    me: PublicKey,
    ledger: &dyn LedgerPort,
    reset: bool,
    now_ms: UnixMillis,
) -> Result<Checked, DriverError> {
    let mut out = Checked::default();
    let mut hold: Option<(Height, String)> = None;
    let raise = |height: Height, why: String, hold: &mut Option<(Height, String)>| {
        if hold.as_ref().is_none_or(|(h, _)| height > *h) {
            *hold = Some((height, why));
        }
    };
    let after_tip = tip.height.next();

    // The signing state.
    match read(sign_path, SignState::from_file_bytes).map_err(|e| read_error("signing state", sign_path, e))? {
        Read::Missing => {
            if let Some(height) = signed_recently(ledger, tip, me).await? {
                if !reset {
                    return Err(refused(
                        "signing state",
                        sign_path,
                        format!(
                            "is missing, but the commit certificate at height {height} in the database carries this \
                             validator's signature (the file was deleted, or the database is another validator's)"
                        ),
                        format!(
                            "restore the file from a backup, or start once with {RESET_FLAG} (this validator then \
                             signs nothing until height {after_tip} is final; dangerous if this database is not \
                             its own, current one: see the README, \"Safety files\")"
                        ),
                    ));
                }
                tracing::warn!(file = %sign_path.display(), certificate_height = height.get(), "{RESET_FLAG}: starting without a signing state; signing resumes once height {after_tip} is final");
                raise(after_tip, format!("{RESET_FLAG}: the signing state was missing"), &mut hold);
            }
        }
        Read::Ok(state, format) => {
            if state.height > after_tip.saturating_add(MAX_HEIGHTS_AHEAD) && !reset {
                return Err(refused(
                    "signing state",
                    sign_path,
                    format!(
                        "says this validator signed at height {}, but the ledger's tip is {} (more than {MAX_HEIGHTS_AHEAD} \
                         heights ahead: the database is older than this validator's signatures, or the file is \
                         another chain's)",
                        state.height, tip.height
                    ),
                    format!(
                        "start with this validator's current database, or once with {RESET_FLAG} (the node then \
                         keeps the file and signs nothing before the chain reaches height {}; see the README, \
                         \"Safety files\")",
                        state.height
                    ),
                ));
            }
            if state.height > after_tip {
                // Signing resumes at the state's height, after its position (the engine refuses
                // anything at or before it); until then the node says why it is silent.
                let why = format!(
                    "the signing state is at height {}, ahead of the database (tip {}): nothing is signed before \
                     the chain reaches it",
                    state.height, tip.height
                );
                tracing::warn!(file = %sign_path.display(), height = state.height.get(), tip = tip.height.get(), "{why}; this validator signs nothing before that height");
                raise(state.height.saturating_sub(1), why, &mut hold);
            }
            if format == Format::Legacy {
                rewrite(sign_path, &state.to_file_bytes(), "signing state");
            }
            out.sign_state = Some(state);
        }
        Read::Damaged(e) => {
            if !reset {
                return Err(damaged("signing state", sign_path, &e, after_tip));
            }
            let aside = move_aside(sign_path)?;
            tracing::warn!(file = %sign_path.display(), moved_to = %aside.display(), reason = %e, "{RESET_FLAG}: the damaged signing state was moved aside; signing resumes once height {after_tip} is final");
            raise(after_tip, format!("{RESET_FLAG}: the signing state was damaged ({e})"), &mut hold);
        }
    }

    // The lock.
    match read(lock_path, LockState::from_file_bytes).map_err(|e| read_error("lock", lock_path, e))? {
        Read::Missing => {}
        Read::Ok(lock, format) => {
            if lock.height > after_tip.saturating_add(MAX_HEIGHTS_AHEAD) && !reset {
                return Err(refused(
                    "lock",
                    lock_path,
                    format!(
                        "is at height {}, but the ledger's tip is {} (more than {MAX_HEIGHTS_AHEAD} heights ahead: the \
                         database is older than this validator's lock, or the file is another chain's)",
                        lock.height, tip.height
                    ),
                    format!(
                        "start with this validator's current database, or once with {RESET_FLAG} (the node then \
                         signs nothing before the chain reaches height {})",
                        lock.height
                    ),
                ));
            }
            if lock.height > after_tip {
                let why = format!("the lock is at height {}, ahead of the database (tip {})", lock.height, tip.height);
                raise(lock.height.saturating_sub(1), why, &mut hold);
            }
            if format == Format::Legacy {
                rewrite(lock_path, &lock.to_file_bytes(), "lock");
            }
            out.lock = Some(lock);
        }
        Read::Damaged(e) => {
            if !reset {
                return Err(damaged("lock", lock_path, &e, after_tip));
            }
            let aside = move_aside(lock_path)?;
            tracing::warn!(file = %lock_path.display(), moved_to = %aside.display(), reason = %e, "{RESET_FLAG}: the damaged lock was moved aside; signing resumes once height {after_tip} is final");
            raise(after_tip, format!("{RESET_FLAG}: the lock was damaged ({e})"), &mut hold);
        }
    }
    if let Some((height, why)) = hold
        && height > tip.height
    {
        out.pause = Some(SigningPause::until_finalized(height, why, now_ms));
    }
    Ok(out)
}

enum Read<T> {
    Missing,
    Ok(T, Format),
    Damaged(SafetyFileError),
}

fn read<T>(path: &Path, decode: impl Fn(&[u8]) -> Result<(T, Format), SafetyFileError>) -> std::io::Result<Read<T>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(match decode(&bytes) {
            Ok((value, format)) => Read::Ok(value, format),
            Err(e) => Read::Damaged(e),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Read::Missing),
        Err(e) => Err(e),
    }
}

/// The height of the latest of the last [`CERTIFICATE_LOOKBACK`] certificates that carries
/// `me`'s signature.
async fn signed_recently(ledger: &dyn LedgerPort, tip: &Tip, me: PublicKey) -> Result<Option<Height>, DriverError> {
    let lowest = tip.height.saturating_sub(CERTIFICATE_LOOKBACK - 1).max(Height(1));
    for height in (lowest.get()..=tip.height.get()).rev().map(Height) {
        let found = match crate::driver::finalized(ledger, height).await {
            // A pruned or state-synced ledger has no bodies below its oldest kept height (a
            // state-synced one not even for its first block): nothing older to look at.
            Err(coinjecture_proto::ports::ledger::LedgerPortError::Pruned { .. }) => break,
            found => found?,
        };
        if let Some((_, certificate)) = found
            && certificate.signatures.iter().any(|(validator, _)| *validator == me)
        {
            return Ok(Some(height));
        }
    }
    Ok(None)
}

/// Format 1 → format 2, in place. A failure is not fatal: the next write is in format 2 anyway.
fn rewrite(path: &Path, bytes: &[u8], what: &str) {
    match crate::driver::write_durably(path, bytes) {
        Ok(()) => {
            tracing::info!(file = %path.display(), "the {what} was in format 1 (no checksum) and is rewritten in format 2")
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot rewrite the {what} in format 2 yet; its next write will be")
        }
    }
}

fn move_aside(path: &Path) -> Result<PathBuf, DriverError> {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".damaged-{secs}"));
    let aside = PathBuf::from(aside);
    std::fs::rename(path, &aside).map_err(|e| DriverError::SafetyFileRefused {
        what: "file",
        path: path.to_path_buf(),
        problem: format!("cannot be moved aside to {}: {e}", aside.display()),
        action: "move it away yourself".into(),
    })?;
    Ok(aside)
}

fn refused(what: &'static str, path: &Path, problem: String, action: String) -> DriverError {
    DriverError::SafetyFileRefused { what, path: path.to_path_buf(), problem, action }
}

fn damaged(what: &'static str, path: &Path, e: &SafetyFileError, after_tip: Height) -> DriverError {
    refused(
        what,
        path,
        format!("is damaged ({e})"),
        format!(
            "the node will not guess what this validator signed; restore the file from a backup, or start once with \
             {RESET_FLAG} (it moves the file aside and signs nothing until height {after_tip} is final; dangerous \
             unless this database is the validator's own, current one: see the README, \"Safety files\")"
        ),
    )
}

fn read_error(what: &'static str, path: &Path, e: std::io::Error) -> DriverError {
    refused(what, path, format!("cannot be read ({e})"), "check the disk and the file's permissions".into())
}
