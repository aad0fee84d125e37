//! # coinjecture-crypto-core
//!
//! The cryptographic core every COINjecture node, client and validator must agree with, byte
//! for byte. This crate is a pure library (no I/O); its `service` module (feature `service`, on
//! by default) wraps it in the `CryptoCore` gRPC
//! service that Network B's nodes and its Go and Python validators call.
//!
//! - [`merkle`]: the v4 Merkle rule (odd node promoted) and inclusion proofs.
//! - [`subset_sum`]: bounded verification of subset-sum proofs of useful work.
//! - [`signatures`]: ed25519 signing, strict single and batch verification.
//! - [`commit_reveal`]: the v4 commit–reveal hashes.
//! - [`golden`]: the golden-vector format, the computation of every expected value, and the
//!   self-test runner over the vectors compiled into this crate.
//!
//! Hashing, encodings and address derivation are in `coinjecture-primitives` and re-exported.

pub mod commit_reveal;
pub mod golden;
pub mod merkle;
pub mod signatures;
pub mod subset_sum;

pub use coinjecture_primitives::{derive_address, sha256};

#[cfg(feature = "service")]
pub mod service;
