//! The consensus crate's integration tests, one binary (`cargo test -p coinjecture-consensus
//! --test it`; one module: `... --test it -- driver_hostile::`):
//!
//! - `simulation`: the engine alone, deterministic, many seeds; `driver_simulation`: real drivers
//!   on a simulated network in virtual time (both replay a printed seed, see their docs);
//! - `driver`, `safety`, `driver_hostile`: drivers with real SQLite ledgers over an in-test bus;
//! - `block_fill`: blocks sized by the genesis limits and the proposer's time budget, and a nil
//!   prevote on a proposal over the limits (real ledgers);
//! - `forged_messages`: the engine fed what a hostile peer can send;
//! - `sealed_counts`: encodings and hashes counted on the way in (each test runs in a child
//!   process of its own, the counters being process-wide).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

#[cfg(feature = "driver")]
mod block_fill;
#[cfg(feature = "driver")]
mod bus;
#[cfg(feature = "driver")]
mod catch_up;
mod rng;

#[cfg(feature = "driver")]
mod driver;
#[cfg(feature = "driver")]
mod driver_hostile;
#[cfg(feature = "driver")]
mod driver_simulation;
mod forged_messages;
#[cfg(feature = "driver")]
mod safety;
#[cfg(feature = "driver")]
mod sealed_counts;
mod simulation;
