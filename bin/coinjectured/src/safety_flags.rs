//! The command-line switches of the safety files and the transaction journal, read by the
//! node's and the split consensus service's start-up (as `equivocate.rs`, set once from the
//! CLI rather than threaded through every subcommand). Neither has a configuration key or an
//! environment variable: a file cannot turn them on for every restart by accident.

use std::sync::atomic::{AtomicBool, Ordering};

/// The dangerous override of the safety-file checks (see the README, "Safety files").
pub(crate) const RESET_FLAG: &str = coinjecture_consensus::signing_checks::RESET_FLAG;
/// Measurements only: answer submissions without journaling them.
pub(crate) const NO_JOURNAL_FLAG: &str = "--no-tx-journal";

static RESET_SIGNING_STATE: AtomicBool = AtomicBool::new(false);
static NO_TX_JOURNAL: AtomicBool = AtomicBool::new(false);

/// Records the switches given on the command line.
pub(crate) fn set(reset_signing_state: bool, no_tx_journal: bool) {
    RESET_SIGNING_STATE.store(reset_signing_state, Ordering::SeqCst);
    NO_TX_JOURNAL.store(no_tx_journal, Ordering::SeqCst);
}

/// `--unsafe-reset-signing-state` was given.
pub(crate) fn reset_signing_state() -> bool {
    RESET_SIGNING_STATE.load(Ordering::SeqCst)
}

/// Whether accepted transactions are journaled (unless `--no-tx-journal`).
pub(crate) fn tx_journal() -> bool {
    !NO_TX_JOURNAL.load(Ordering::SeqCst)
}
