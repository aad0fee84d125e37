//! # Ports: one domain-typed contract per service
//!
//! Each service has exactly one interface that other services call it through, a trait here,
//! in domain types (`coinjecture-primitives`, sealed values, typed errors). Protobuf appears only
//! at the gRPC edge:
//!
//! - **one process**: the caller holds `Arc<dyn Port>` pointing at the service's core value (for
//!   example `Arc<coinjecture_ledger::Ledger>`), called directly: no protobuf conversion, no
//!   re-hashing, sealed values stay sealed;
//! - **split**: the caller holds the same `Arc<dyn Port>`, pointing at the one remote
//!   implementation written here (`Remote*`), a generated tonic client over [`crate::client::connect`];
//!   the service's gRPC server converts back and calls the same core through the same trait.
//!
//! So the service code is the same in both modes; only the object behind the trait differs.
//!
//! Why domain traits rather than the generated server traits: an in-process call through a
//! generated trait still builds protobuf messages (and used a request extension to smuggle sealed
//! values past them); a domain trait carries `SealedTransaction`/`SealedBlock` as they are, keeps
//! `RejectReason` and errors typed, and makes the conversions live in one place per contract.

pub mod consensus;
pub mod crypto;
pub mod gateway;
pub mod ledger;
