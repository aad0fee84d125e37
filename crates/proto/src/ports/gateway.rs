//! The gateway port (see [`super`]): filled in by the ports refactor.
