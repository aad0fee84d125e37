//! # coinjecture-loadtest
//!
//! The seed's load test. `coinjecture-loadtest` funds a set of fresh accounts from the devnet
//! faucet, then submits signed transfers between them at a fixed offered rate, follows every
//! transaction to finality through `StreamBlocks`, and reports what the network sustained.
//!
//! - [`schedule`]: open-loop rate control. The schedule says how many transactions are due by a
//!   given time; it never waits for responses, so a slow node shows up as backlog and latency, not
//!   as a lower offered rate (no coordinated omission: latency is measured from the *scheduled*
//!   send time).
//! - [`stats`]: latency percentiles and Prometheus-histogram percentiles.
//! - [`report`]: the final report (table and JSON).
//! - [`procstat`]: CPU and RSS of the local `coinjectured` processes from `/proc`.
//! - [`http`]: a minimal HTTP/1.1 GET (for `/metrics`) over a tokio `TcpStream`.
//! - [`transfer`]: the signed transfer it sends.
//! - [`bench`]: what `bench/run.sh` adds (`coinjecture-bench`): the machine's strict ed25519
//!   rate measured in the same run, the verification bound on final TPS it implies, and the
//!   result document with our runs and the CometBFT anchor's side by side.
//!
//! The binary (`src/main.rs`) wires these to the PublicApi gRPC client.

pub mod bench;
pub mod http;
pub mod procstat;
pub mod report;
pub mod schedule;
pub mod stats;
pub mod transfer;
