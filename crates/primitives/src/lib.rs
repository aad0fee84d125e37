//! # coinjecture-primitives
//!
//! The values of the COINjecture chain and the one byte encoding each has. Pure: no I/O, no
//! async, no networking; what the golden vectors, the simulator and every service share.
//!
//! - **v4 wire format** (compatible with the public COINjecture v4 core, see
//!   `golden/README.md`): [`BlockHeader`], [`Transaction`], [`Block`], [`SubsetSumProblem`],
//!   [`SubsetSumSolution`] encode as canonical MessagePack named maps ([`msgpack`]); the block
//!   hash and transaction hash are SHA-256 of those encodings.
//! - **PoA additions** in the header's `extra_data`: [`PoaExtra`] (round, milliseconds, state
//!   commitment, and the chain id in genesis).
//! - **Consensus messages** ([`consensus`]): [`Vote`], [`Proposal`], [`CommitCertificate`],
//!   [`Evidence`] in a fixed-width encoding of our own with domain-separated, chain-bound
//!   signing bytes.
//! - **Validator sets** ([`validators`]): quorum rules, the schedule of set changes, and the
//!   certificate checks every writer of a finalized block shares.
//! - **Sealed values** ([`sealed`]): a [`SealedTransaction`] keeps its canonical bytes and hash,
//!   computed once, so services in one process never re-encode or re-hash it; a [`SealedBlock`]
//!   is a block with its hash and its transactions sealed.
//! - **Positions and time** ([`units`]): [`Height`], [`Round`] and [`UnixMillis`], newtypes over
//!   the integers of the encodings, so a height is never a round, a count or seconds.
//! - **Replay protection** across networks: [`chain_tag`] at the start of a transaction's data.
//!
//! Decoders are strict: one value has exactly one accepted encoding, so hashes cannot be
//! malleated, and sizes are bounded before anything is allocated ([`limits`]).

pub mod block;
pub mod chain;
pub mod consensus;
pub mod duration;
pub mod error;
pub mod hash;
pub mod header;
pub mod msgpack;
pub mod sealed;
pub mod subset_sum;
pub mod transaction;
pub mod units;
pub mod validators;
pub mod verdict;
pub mod verified;

pub use block::Block;
pub use chain::{BlockLimits, CODEC_VERSION, ChainId, limits};
pub use consensus::{CommitCertificate, Evidence, Proposal, SnapshotAttestation, Vote, VoteType};
pub use error::{DecodeError, ValidationError};
pub use hash::{Hash32, PublicKey, Signature, derive_address, sha256, sha256_concat};
pub use header::{BlockHeader, PoaExtra};
pub use sealed::{SealedBlock, SealedTransaction};
pub use subset_sum::{SubsetSumProblem, SubsetSumSolution, Tier};
pub use transaction::{StatelessRejection, Transaction, TxType, chain_tag};
pub use units::{Height, Round, UnixMillis};
pub use verdict::{RejectReason, Rejection, TxVerdict};
pub use verified::VerifiedSignatures;
