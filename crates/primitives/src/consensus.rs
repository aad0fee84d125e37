//! Consensus messages: votes, proposals, commit certificates and evidence, in an encoding of our
//! own (v4 has no consensus messages).
//!
//! # Encoding
//! Fixed-width big-endian integers; 32- and 64-byte values raw; a chain id as one length byte
//! and its ASCII; a nested block as a u32 big-endian length and its v4 encoding. Every encoding
//! starts with the format version byte [`CONSENSUS_FORMAT_VERSION`]. Fixed widths make the
//! encoding canonical by construction; the decoders also reject trailing bytes, unknown
//! versions and kinds, and unsorted or duplicate certificate signers.
//!
//! # What is signed
//! Never the wire bytes: each message kind has its own signing bytes, which start with an ASCII
//! domain tag and a zero byte (`coinjecture/v1/vote\0`, `coinjecture/v1/proposal\0`) followed by
//! the chain id, so a signature can neither be replayed as another kind of message nor on
//! another network. A proposal signs the block hash, which commits to every transaction through
//! the Merkle root.

use crate::block::Block;
use crate::chain::{ChainId, limits};
use crate::error::DecodeError;
use crate::hash::{Hash32, PublicKey, Signature};
use crate::units::{Height, Round, UnixMillis};

/// Version byte at the start of every consensus encoding.
pub const CONSENSUS_FORMAT_VERSION: u8 = 1;
/// Domain tag of vote signing bytes.
pub const VOTE_DOMAIN: &[u8] = b"coinjecture/v1/vote\0";
/// Domain tag of proposal signing bytes.
pub const PROPOSAL_DOMAIN: &[u8] = b"coinjecture/v1/proposal\0";
/// Domain tag of snapshot attestation signing bytes (state sync).
pub const SNAPSHOT_ATTESTATION_DOMAIN: &[u8] = b"coinjecture/v1/snapshot\0";

/// A validator's signed statement that the account state after block `height` has the snapshot
/// root `root` (state sync: a joining node trusts a snapshot once validators holding a commit
/// quorum of the set at `height` attest the same root). Not part of the chain: nothing in a
/// block refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnapshotAttestation {
    pub chain_id: ChainId,
    pub height: Height,
    /// The snapshot root: the Merkle root of the snapshot's chunk hashes.
    pub root: Hash32,
    pub validator: PublicKey,
    pub signature: Signature,
}

/// Signing bytes of a snapshot attestation: `"coinjecture/v1/snapshot\0" ‖ chain id (length byte ‖
/// ASCII) ‖ height u64 BE ‖ root (32)`. The same for every validator attesting one root, so the
/// signatures of a manifest are verified as one batch.
pub fn snapshot_attestation_signing_bytes(chain: &ChainId, height: Height, root: &Hash32) -> Vec<u8> {
    let mut out = Vec::with_capacity(SNAPSHOT_ATTESTATION_DOMAIN.len() + 65 + 8 + 32);
    out.extend_from_slice(SNAPSHOT_ATTESTATION_DOMAIN);
    chain_id_bytes(&mut out, chain);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&root.0);
    out
}

impl SnapshotAttestation {
    /// The bytes the validator signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        snapshot_attestation_signing_bytes(&self.chain_id, self.height, &self.root)
    }

    /// The wire encoding: version ‖ chain id ‖ height u64 BE ‖ root ‖ validator ‖ signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 65 + 8 + 32 + 96);
        out.push(CONSENSUS_FORMAT_VERSION);
        chain_id_bytes(&mut out, &self.chain_id);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.root.0);
        out.extend_from_slice(&self.validator.0);
        out.extend_from_slice(&self.signature.0);
        out
    }

    /// Strict inverse of [`Self::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = BinReader::new(bytes);
        r.version()?;
        let chain_id = r.chain_id()?;
        let height = Height(r.u64()?);
        let root = Hash32(r.array()?);
        let validator = PublicKey(r.array()?);
        let signature = Signature(r.array()?);
        r.finish()?;
        Ok(Self { chain_id, height, root, validator, signature })
    }
}

/// The two voting steps of the Tendermint protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VoteType {
    Prevote,
    Precommit,
}

impl VoteType {
    /// The encoded byte.
    pub fn code(self) -> u8 {
        match self {
            Self::Prevote => 1,
            Self::Precommit => 2,
        }
    }

    fn from_code(code: u8) -> Result<Self, DecodeError> {
        match code {
            1 => Ok(Self::Prevote),
            2 => Ok(Self::Precommit),
            other => Err(DecodeError::UnknownVariant { field: "vote_type", value: other.to_string() }),
        }
    }
}

/// A signed prevote or precommit for a block (or for nothing: a nil vote).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vote {
    pub chain_id: ChainId,
    pub height: Height,
    pub round: Round,
    pub vote_type: VoteType,
    /// `None` is a nil vote (no acceptable proposal seen in time).
    pub block_hash: Option<Hash32>,
    pub validator: PublicKey,
    pub signature: Signature,
}

/// A signed block proposal for one (height, round).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub chain_id: ChainId,
    pub height: Height,
    pub round: Round,
    /// Tendermint's proof-of-lock round: the round in which this block got a prevote quorum,
    /// if it is being re-proposed.
    pub pol_round: Option<Round>,
    /// The proposer's clock when it proposed, in Unix milliseconds (propagation metric).
    pub timestamp_ms: UnixMillis,
    pub block: Block,
    pub proposer: PublicKey,
    pub signature: Signature,
}

/// A quorum of precommit signatures for one block: proof that it is final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitCertificate {
    pub height: Height,
    pub round: Round,
    pub block_hash: Hash32,
    /// (validator, precommit signature), sorted by validator key, no duplicates.
    pub signatures: Vec<(PublicKey, Signature)>,
}

/// Proof that a validator misbehaved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant, reason = "evidence is rare and short-lived; boxing buys nothing")]
pub enum Evidence {
    /// Two different votes of one validator for the same (height, round, type); `vote_a`'s
    /// encoding sorts before `vote_b`'s so the evidence has one form.
    DuplicateVote { vote_a: Vote, vote_b: Vote },
    /// Two different signed proposals of one proposer for the same (height, round);
    /// `proposal_a`'s encoding sorts before `proposal_b`'s. The blocks are kept without their
    /// transactions: the signature covers the block hash, which the header alone determines.
    DuplicateProposal { proposal_a: Proposal, proposal_b: Proposal },
}

fn chain_id_bytes(out: &mut Vec<u8>, chain: &ChainId) {
    let s = chain.as_str().as_bytes();
    // ChainId guarantees 1..=64 bytes.
    out.push(s.len() as u8);
    out.extend_from_slice(s);
}

impl Vote {
    /// The bytes the validator signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        vote_signing_bytes(&self.chain_id, self.height, self.round, self.vote_type, self.block_hash.as_ref())
    }

    /// The wire encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 65 + 8 + 4 + 2 + 32 + 96);
        out.push(CONSENSUS_FORMAT_VERSION);
        chain_id_bytes(&mut out, &self.chain_id);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.round.to_be_bytes());
        out.push(self.vote_type.code());
        match &self.block_hash {
            None => out.push(0),
            Some(h) => {
                out.push(1);
                out.extend_from_slice(&h.0);
            }
        }
        out.extend_from_slice(&self.validator.0);
        out.extend_from_slice(&self.signature.0);
        out
    }

    /// Strict inverse of [`Self::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = BinReader::new(bytes);
        let vote = Self::read(&mut r)?;
        r.finish()?;
        Ok(vote)
    }

    fn read(r: &mut BinReader<'_>) -> Result<Self, DecodeError> {
        r.version()?;
        let chain_id = r.chain_id()?;
        let height = Height(r.u64()?);
        let round = Round(r.u32()?);
        let vote_type = VoteType::from_code(r.u8()?)?;
        let block_hash = r.option_hash("block_hash")?;
        let validator = PublicKey(r.array()?);
        let signature = Signature(r.array()?);
        Ok(Self { chain_id, height, round, vote_type, block_hash, validator, signature })
    }
}

/// Signing bytes of a vote, also used to check the signatures of a commit certificate.
pub fn vote_signing_bytes(
    chain: &ChainId,
    height: Height,
    round: Round,
    vote_type: VoteType,
    block_hash: Option<&Hash32>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(VOTE_DOMAIN.len() + 65 + 8 + 4 + 2 + 32);
    out.extend_from_slice(VOTE_DOMAIN);
    chain_id_bytes(&mut out, chain);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&round.to_be_bytes());
    out.push(vote_type.code());
    match block_hash {
        None => out.push(0),
        Some(h) => {
            out.push(1);
            out.extend_from_slice(&h.0);
        }
    }
    out
}

impl Proposal {
    /// The bytes the proposer signs (the block enters through its hash).
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PROPOSAL_DOMAIN.len() + 65 + 8 + 4 + 5 + 8 + 32);
        out.extend_from_slice(PROPOSAL_DOMAIN);
        chain_id_bytes(&mut out, &self.chain_id);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.round.to_be_bytes());
        push_option_round(&mut out, self.pol_round);
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.block.hash().0);
        out
    }

    /// The wire encoding.
    pub fn encode(&self) -> Vec<u8> {
        let block = self.block.encode();
        let mut out = Vec::with_capacity(1 + 65 + 8 + 4 + 5 + 8 + 96 + 4 + block.len());
        out.push(CONSENSUS_FORMAT_VERSION);
        chain_id_bytes(&mut out, &self.chain_id);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.round.to_be_bytes());
        push_option_round(&mut out, self.pol_round);
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.proposer.0);
        out.extend_from_slice(&self.signature.0);
        // Blocks are bounded by MAX_MESSAGE_BYTES (16 MiB), far below u32::MAX.
        out.extend_from_slice(&u32::try_from(block.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(&block);
        out
    }

    /// Strict inverse of [`Self::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > limits::MAX_MESSAGE_BYTES + 1024 {
            return Err(DecodeError::InputTooLarge {
                what: "proposal",
                len: bytes.len(),
                max: limits::MAX_MESSAGE_BYTES,
            });
        }
        let mut r = BinReader::new(bytes);
        r.version()?;
        let chain_id = r.chain_id()?;
        let height = Height(r.u64()?);
        let round = Round(r.u32()?);
        let pol_round = r.option_round()?;
        let timestamp_ms = UnixMillis(r.i64()?);
        let proposer = PublicKey(r.array()?);
        let signature = Signature(r.array()?);
        let block_len = r.u32()? as usize;
        let block = Block::decode(r.take(block_len)?)?;
        r.finish()?;
        if block.header.block_index != height {
            return Err(DecodeError::OutOfRange {
                offset: 0,
                field: "block.header.block_index",
                value: format!("{} in a proposal for height {height}", block.header.block_index),
            });
        }
        Ok(Self { chain_id, height, round, pol_round, timestamp_ms, block, proposer, signature })
    }
}

fn push_option_round(out: &mut Vec<u8>, round: Option<Round>) {
    match round {
        None => out.push(0),
        Some(r) => {
            out.push(1);
            out.extend_from_slice(&r.to_be_bytes());
        }
    }
}

impl CommitCertificate {
    /// The wire encoding (signers must already be sorted; see [`Self::sorted`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 8 + 4 + 32 + 2 + 96 * self.signatures.len());
        out.push(CONSENSUS_FORMAT_VERSION);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.round.to_be_bytes());
        out.extend_from_slice(&self.block_hash.0);
        // At most MAX_VALIDATORS (1024) signers.
        out.extend_from_slice(&u16::try_from(self.signatures.len()).unwrap_or(u16::MAX).to_be_bytes());
        for (validator, signature) in &self.signatures {
            out.extend_from_slice(&validator.0);
            out.extend_from_slice(&signature.0);
        }
        out
    }

    /// Strict inverse of [`Self::encode`]: signers strictly ascending, at most 1024.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = BinReader::new(bytes);
        r.version()?;
        let height = Height(r.u64()?);
        let round = Round(r.u32()?);
        let block_hash = Hash32(r.array()?);
        let count = usize::from(r.u16()?);
        if count > limits::MAX_VALIDATORS {
            return Err(DecodeError::TooLong { field: "signatures", len: count, max: limits::MAX_VALIDATORS });
        }
        let mut signatures: Vec<(PublicKey, Signature)> = Vec::with_capacity(count);
        for _ in 0..count {
            let offset = r.pos;
            let validator = PublicKey(r.array()?);
            let signature = Signature(r.array()?);
            if signatures.last().is_some_and(|(prev, _)| *prev >= validator) {
                return Err(DecodeError::NonCanonical { offset, what: "certificate signers not strictly ascending" });
            }
            signatures.push((validator, signature));
        }
        r.finish()?;
        Ok(Self { height, round, block_hash, signatures })
    }

    /// The same certificate with signers sorted and duplicates (same validator) removed.
    pub fn sorted(mut self) -> Self {
        self.signatures.sort_by_key(|s| s.0);
        self.signatures.dedup_by(|a, b| a.0 == b.0);
        self
    }

    /// The bytes each signer signed: its precommit for this block.
    pub fn signing_bytes(&self, chain: &ChainId) -> Vec<u8> {
        vote_signing_bytes(chain, self.height, self.round, VoteType::Precommit, Some(&self.block_hash))
    }
}

impl Evidence {
    /// Builds duplicate-vote evidence in canonical order, if the two votes really conflict:
    /// same validator, chain, height, round and type, different block.
    pub fn duplicate_vote(a: Vote, b: Vote) -> Option<Self> {
        let conflicting = a.validator == b.validator
            && a.chain_id == b.chain_id
            && a.height == b.height
            && a.round == b.round
            && a.vote_type == b.vote_type
            && a.block_hash != b.block_hash;
        if !conflicting {
            return None;
        }
        let (vote_a, vote_b) = if a.encode() <= b.encode() { (a, b) } else { (b, a) };
        Some(Self::DuplicateVote { vote_a, vote_b })
    }

    /// Builds duplicate-proposal evidence in canonical order, if the two proposals really
    /// conflict: same proposer, chain, height and round, different signed content. The blocks'
    /// transactions are dropped (see [`Evidence::DuplicateProposal`]).
    pub fn duplicate_proposal(mut a: Proposal, mut b: Proposal) -> Option<Self> {
        let conflicting = a.proposer == b.proposer
            && a.chain_id == b.chain_id
            && a.height == b.height
            && a.round == b.round
            && a.signing_bytes() != b.signing_bytes();
        if !conflicting {
            return None;
        }
        a.block.transactions.clear();
        b.block.transactions.clear();
        let (proposal_a, proposal_b) = if a.encode() <= b.encode() { (a, b) } else { (b, a) };
        Some(Self::DuplicateProposal { proposal_a, proposal_b })
    }

    /// The validator that misbehaved.
    pub fn offender(&self) -> PublicKey {
        match self {
            Self::DuplicateVote { vote_a, .. } => vote_a.validator,
            Self::DuplicateProposal { proposal_a, .. } => proposal_a.proposer,
        }
    }

    /// (height, round) of the misbehaviour.
    pub fn position(&self) -> (Height, Round) {
        match self {
            Self::DuplicateVote { vote_a, .. } => (vote_a.height, vote_a.round),
            Self::DuplicateProposal { proposal_a, .. } => (proposal_a.height, proposal_a.round),
        }
    }

    /// The wire encoding: version, kind (1 duplicate vote, 2 duplicate proposal), then both
    /// messages length-prefixed (u32).
    pub fn encode(&self) -> Vec<u8> {
        let (kind, a, b) = match self {
            Self::DuplicateVote { vote_a, vote_b } => (1, vote_a.encode(), vote_b.encode()),
            Self::DuplicateProposal { proposal_a, proposal_b } => (2, proposal_a.encode(), proposal_b.encode()),
        };
        let mut out = Vec::with_capacity(2 + 8 + a.len() + b.len());
        out.push(CONSENSUS_FORMAT_VERSION);
        out.push(kind);
        for m in [&a, &b] {
            // A vote encodes to under 300 bytes, a proposal without transactions to under 2 KiB.
            out.extend_from_slice(&u32::try_from(m.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(m);
        }
        out
    }

    /// Strict inverse of [`Self::encode`]; rejects pairs that do not conflict or are unordered,
    /// and proposals that still carry transactions.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = BinReader::new(bytes);
        r.version()?;
        let kind = r.u8()?;
        if kind != 1 && kind != 2 {
            return Err(DecodeError::UnknownVariant { field: "evidence kind", value: kind.to_string() });
        }
        let mut parts = Vec::with_capacity(2);
        for _ in 0..2 {
            let len = r.u32()? as usize;
            parts.push(r.take(len)?);
        }
        r.finish()?;
        let (Some(a), Some(b)) = (parts.first(), parts.get(1)) else {
            return Err(DecodeError::UnexpectedEnd { offset: bytes.len() });
        };
        let ordered = a < b;
        let evidence = if kind == 1 {
            Self::duplicate_vote(Vote::decode(a)?, Vote::decode(b)?)
        } else {
            let (pa, pb) = (Proposal::decode(a)?, Proposal::decode(b)?);
            if !pa.block.transactions.is_empty() || !pb.block.transactions.is_empty() {
                return Err(DecodeError::NonCanonical { offset: 2, what: "evidence proposals with transactions" });
            }
            Self::duplicate_proposal(pa, pb)
        };
        match evidence {
            Some(e) if ordered => Ok(e),
            Some(_) => Err(DecodeError::NonCanonical { offset: 2, what: "evidence messages out of order" }),
            None => {
                Err(DecodeError::OutOfRange { offset: 2, field: "evidence", value: "messages do not conflict".into() })
            }
        }
    }
}

/// Fixed-width big-endian reader for the consensus encodings (and for other fixed-width files
/// built on them, such as the consensus service's lock file). Errors name the byte offset.
#[derive(Debug)]
pub struct BinReader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> BinReader<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Self { input, pos: 0 }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.input.len());
        let end = end.ok_or(DecodeError::UnexpectedEnd { offset: self.pos })?;
        let s = &self.input[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn version(&mut self) -> Result<(), DecodeError> {
        match self.u8()? {
            CONSENSUS_FORMAT_VERSION => Ok(()),
            v => Err(DecodeError::UnsupportedVersion { what: "consensus format", version: v }),
        }
    }

    fn chain_id(&mut self) -> Result<ChainId, DecodeError> {
        let offset = self.pos;
        let len = usize::from(self.u8()?);
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { offset })?;
        Ok(ChainId::new(s)?)
    }

    fn flag(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        let offset = self.pos;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(DecodeError::OutOfRange { offset, field, value: format!("presence flag {v}") }),
        }
    }

    fn option_hash(&mut self, field: &'static str) -> Result<Option<Hash32>, DecodeError> {
        Ok(if self.flag(field)? { Some(Hash32(self.array()?)) } else { None })
    }

    fn option_round(&mut self) -> Result<Option<Round>, DecodeError> {
        Ok(if self.flag("pol_round")? { Some(Round(self.u32()?)) } else { None })
    }

    /// `Ok` when every byte was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.input.len() - self.pos {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::BlockHeader;

    #[test]
    fn snapshot_attestations_round_trip_and_sign_domain_chain_height_and_root() {
        let chain = ChainId::new("coinjecture-devnet").unwrap();
        let a = SnapshotAttestation {
            chain_id: chain.clone(),
            height: Height(1000),
            root: Hash32([7; 32]),
            validator: PublicKey([1; 32]),
            signature: Signature([2; 64]),
        };
        assert_eq!(SnapshotAttestation::decode(&a.encode()).unwrap(), a);
        let mut expected = b"coinjecture/v1/snapshot\0".to_vec();
        expected.push(18);
        expected.extend_from_slice(b"coinjecture-devnet");
        expected.extend_from_slice(&1000u64.to_be_bytes());
        expected.extend_from_slice(&[7; 32]);
        assert_eq!(a.signing_bytes(), expected);
        let mut long = a.encode();
        long.push(0);
        assert!(matches!(SnapshotAttestation::decode(&long), Err(DecodeError::TrailingBytes { .. })));
    }

    fn chain() -> ChainId {
        ChainId::new("coinjecture-go-testnet").unwrap()
    }

    fn vote(hash: Option<Hash32>) -> Vote {
        Vote {
            chain_id: chain(),
            height: Height(5),
            round: Round(1),
            vote_type: VoteType::Precommit,
            block_hash: hash,
            validator: PublicKey([4; 32]),
            signature: Signature([5; 64]),
        }
    }

    #[test]
    fn vote_round_trips_and_signing_bytes_are_domain_separated_and_chain_bound() {
        for v in [vote(None), vote(Some(Hash32([1; 32])))] {
            assert_eq!(Vote::decode(&v.encode()).unwrap(), v);
            assert!(v.signing_bytes().starts_with(VOTE_DOMAIN));
        }
        let other_chain = Vote { chain_id: ChainId::new("coinjecture-migration-testnet").unwrap(), ..vote(None) };
        assert_ne!(other_chain.signing_bytes(), vote(None).signing_bytes());
        let prevote = Vote { vote_type: VoteType::Prevote, ..vote(None) };
        assert_ne!(prevote.signing_bytes(), vote(None).signing_bytes());
    }

    #[test]
    fn vote_decoding_rejects_bad_flags_versions_and_trailing_bytes() {
        let bytes = vote(None).encode();
        let mut t = bytes.clone();
        t.push(0);
        assert!(matches!(Vote::decode(&t), Err(DecodeError::TrailingBytes { count: 1 })));
        let mut v = bytes.clone();
        v[0] = 9;
        assert!(matches!(Vote::decode(&v), Err(DecodeError::UnsupportedVersion { .. })));
        let flag_at = 1 + 1 + 22 + 8 + 4 + 1;
        let mut f = bytes.clone();
        f[flag_at] = 2;
        assert!(Vote::decode(&f).is_err());
    }

    #[test]
    fn proposal_round_trips_and_checks_the_block_height() {
        let block = Block {
            header: BlockHeader { codec_version: 1, block_index: Height(5), ..Default::default() },
            transactions: vec![],
        };
        let p = Proposal {
            chain_id: chain(),
            height: Height(5),
            round: Round(0),
            pol_round: Some(Round(0)),
            timestamp_ms: UnixMillis(1_700_000_000_123),
            block,
            proposer: PublicKey([7; 32]),
            signature: Signature([8; 64]),
        };
        assert_eq!(Proposal::decode(&p.encode()).unwrap(), p);
        assert!(p.signing_bytes().starts_with(PROPOSAL_DOMAIN));
        let wrong = Proposal { height: Height(6), ..p };
        assert!(Proposal::decode(&wrong.encode()).is_err());
    }

    #[test]
    fn certificate_requires_sorted_unique_signers() {
        let cert = CommitCertificate {
            height: Height(3),
            round: Round(0),
            block_hash: Hash32([1; 32]),
            signatures: vec![(PublicKey([2; 32]), Signature([0; 64])), (PublicKey([1; 32]), Signature([0; 64]))],
        };
        assert!(CommitCertificate::decode(&cert.encode()).is_err());
        let mut dup = cert.clone();
        dup.signatures.push((PublicKey([2; 32]), Signature([1; 64])));
        let sorted = dup.sorted();
        assert_eq!(sorted.signatures.len(), 2);
        assert_eq!(CommitCertificate::decode(&sorted.encode()).unwrap(), sorted);
    }

    #[test]
    fn evidence_needs_a_real_conflict_and_has_one_form() {
        let a = vote(Some(Hash32([1; 32])));
        let b = vote(Some(Hash32([2; 32])));
        assert!(Evidence::duplicate_vote(a.clone(), a.clone()).is_none());
        let e1 = Evidence::duplicate_vote(a.clone(), b.clone()).unwrap();
        let e2 = Evidence::duplicate_vote(b, a).unwrap();
        assert_eq!(e1, e2);
        assert_eq!(Evidence::decode(&e1.encode()).unwrap(), e1);
    }

    #[test]
    fn duplicate_proposal_evidence_has_one_form_without_transactions() {
        let block = |salt: u8| Block {
            header: BlockHeader {
                codec_version: 1,
                block_index: Height(5),
                merkle_root: Hash32([salt; 32]),
                ..Default::default()
            },
            transactions: vec![],
        };
        let p = |salt: u8| Proposal {
            chain_id: chain(),
            height: Height(5),
            round: Round(1),
            pol_round: None,
            timestamp_ms: UnixMillis(1_700_000_000_123),
            block: block(salt),
            proposer: PublicKey([7; 32]),
            signature: Signature([salt; 64]),
        };
        assert!(Evidence::duplicate_proposal(p(1), p(1)).is_none());
        assert!(Evidence::duplicate_proposal(p(1), Proposal { round: Round(2), ..p(2) }).is_none());
        let e1 = Evidence::duplicate_proposal(p(1), p(2)).unwrap();
        assert_eq!(e1, Evidence::duplicate_proposal(p(2), p(1)).unwrap());
        assert_eq!(Evidence::decode(&e1.encode()).unwrap(), e1);
        assert_eq!((e1.offender(), e1.position()), (PublicKey([7; 32]), (Height(5), Round(1))));
        // Swapped halves are not the canonical form.
        let Evidence::DuplicateProposal { proposal_a, proposal_b } = &e1 else { unreachable!() };
        let swapped = Evidence::DuplicateProposal { proposal_a: proposal_b.clone(), proposal_b: proposal_a.clone() };
        assert!(Evidence::decode(&swapped.encode()).is_err());
    }
}
