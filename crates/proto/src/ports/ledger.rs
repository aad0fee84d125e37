//! The ledger port (see [`super`]): filled in by the ports refactor.
