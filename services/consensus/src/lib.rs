//! # coinjecture-consensus
//!
//! Proof-of-authority consensus for COINjecture: validators listed in the configuration take
//! turns proposing (round-robin over (height, round)), and a block is final as soon as a quorum
//! of them has precommitted it; the precommit signatures form its commit certificate.
//!
//! ## Protocol
//! Tendermint, as published in Buchman, Kwon and Milosevic, *The latest gossip on BFT consensus*
//! (arXiv:1807.04938), Algorithm 1: propose → prevote → precommit with locking
//! (`lockedValue/lockedRound`) and `validValue/validRound`, round timeouts, and the `f + 1` rule
//! to catch up with later rounds. We do not invent: the only changes are the ones a PoA chain
//! needs —
//! - **quorum modes** ([`QuorumMode`]): `byzantine` uses ⌊2n/3⌋ + 1 (safe with f < n/3 Byzantine
//!   validators); `crash` uses a majority ⌊n/2⌋ + 1 (safe and live with up to ⌊(n−1)/2⌋ crashed
//!   validators, e.g. 3 validators survive 1 down, but not with Byzantine ones);
//! - **block time**: round 0's proposer waits until one block time after the parent;
//! - **capped timeouts** growing per round ([`EngineConfig`]);
//! - **catch-up**: a node that sees `f + 1` validators at a later height asks for finalized blocks
//!   with certificates and commits them after checking the certificate;
//! - **validator-set changes** at configured heights ([`ValidatorSchedule`]).
//!
//! ## Guarantees
//! Safety: no two honest nodes commit different blocks at one height (within the quorum mode's
//! fault model). Liveness: with a quorum up and connected, a block is committed within a bounded
//! number of rounds. Double signing: [`SignState`] is persisted before any signed message leaves,
//! and conflicting messages are refused, also after a restart. Locks: [`LockState`] (the locked
//! block and its proof of lock) is persisted before the precommit that follows it, so a
//! restarted validator keeps honouring its lock. Both files carry a format version and a
//! checksum ([`safety_file`]) and are checked against the chain at start
//! ([`signing_checks`]); a write that fails pauses signing, never the node ([`signing_pause`]).
//! Transactions accepted through the API are journaled before the answer ([`tx_journal`]).
//!
//! ## Shape
//! [`Engine`] is sans-I/O: `handle(now, Input) -> Vec<Action>`. The simulator
//! (`tests/it/simulation`) drives many engines over a seeded lossy network with virtual time.
//! [`admission`] holds what a peer's message must prove (chain, membership at its height,
//! signature) before the engine does anything costly for it, and the engine's bounded buffers;
//! `gossip` (with the driver) the verdict consensus reports to the p2p-gateway for each received
//! message, so nothing unchecked is relayed, and `gossip::forward`, the one inbound loop over the
//! gateway port (in process or remote). `service`: the driver's handle as the consensus port
//! (`coinjecture_proto::ports::consensus`), which the api calls and the gRPC server serves.

pub mod admission;
#[cfg(feature = "driver")]
pub mod clock;
#[cfg(feature = "driver")]
pub mod driver;
pub mod engine;
#[cfg(feature = "driver")]
pub mod gossip;
pub mod lock_state;
pub mod mempool;
#[cfg(feature = "driver")]
pub mod own_votes;
pub mod safety_file;
#[cfg(feature = "driver")]
pub mod service;
pub mod sign_state;
#[cfg(feature = "driver")]
pub mod signing_checks;
pub mod signing_pause;
#[cfg(feature = "driver")]
pub mod tx_journal;
pub mod validators;

pub use engine::{Action, DropReason, Engine, EngineConfig, Input, Message, Step, Timeout, TimeoutKind};
pub use lock_state::LockState;
pub use mempool::{FillStop, Mempool, MempoolConfig, MempoolError, SelectLimits};
pub use sign_state::{SignDecision, SignState, SignStep};
pub use validators::{QuorumMode, ValidatorError, ValidatorSchedule, ValidatorSet};
