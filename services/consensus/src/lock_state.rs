//! The lock, persisted: the block this validator precommitted at the current height, the round
//! it locked in, and the prevote quorum (proof of lock) that made it lock.
//!
//! Tendermint's safety rests on the lock: a validator that precommitted block B in round r
//! prevotes nothing else at that height unless it sees a newer proof of lock. A lock held only in
//! memory is gone after a restart, so if one validator committed B and a quorum of the others
//! restarted before seeing the commit, they could decide another block at the same height.
//! The engine therefore asks for the lock to be made durable ([`Action::PersistLock`]) before
//! the precommit that follows it leaves, and a restarted engine takes it back
//! ([`Engine::restore_lock`]).
//!
//! The block and its proof of lock are kept, not just the hash: a network that stopped as a whole
//! after locking has nobody else who still holds the block, and only with the prevotes can the
//! locked validator re-propose it and the others accept the re-proposal.
//!
//! [`Action::PersistLock`]: crate::Action::PersistLock
//! [`Engine::restore_lock`]: crate::Engine::restore_lock

use coinjecture_primitives::consensus::{BinReader, Vote};
use coinjecture_primitives::{Block, DecodeError, Height, Round};

use crate::safety_file::{self, FileKind, Format, SafetyFileError};

/// Format version of the lock file.
const LOCK_STATE_VERSION: u8 = 1;

/// Prevotes kept with a lock, at most (a proof of lock needs a quorum of the validator set).
pub const MAX_LOCK_PREVOTES: usize = 1024;

/// A validator's lock at one height.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockState {
    pub height: Height,
    /// The round the validator locked in.
    pub round: Round,
    /// The locked block.
    pub block: Block,
    /// The prevotes for the block in `round` that made up the proof of lock.
    pub prevotes: Vec<Vote>,
}

impl LockState {
    /// Encoding for the lock file: version 1, height, round, the block's canonical encoding with
    /// its length (u32), then the prevotes (count u16, each with its length u16). Big-endian.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with(&self.block.encode())
    }

    /// [`Self::encode`] given the block's canonical encoding (a sealed block's, so that the
    /// driver does not encode its transactions again).
    pub fn encode_with(&self, block: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 8 + 4 + 4 + block.len() + 2 + self.prevotes.len() * 200);
        out.push(LOCK_STATE_VERSION);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.round.to_be_bytes());
        // Blocks are bounded far below 4 GiB by the chain's limits.
        out.extend_from_slice(&u32::try_from(block.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(block);
        let votes = &self.prevotes[..self.prevotes.len().min(MAX_LOCK_PREVOTES)];
        out.extend_from_slice(&(votes.len() as u16).to_be_bytes());
        for vote in votes {
            let bytes = vote.encode();
            out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// The file's bytes: [`Self::encode`] in the checked envelope (format 2, see
    /// [`safety_file`]).
    pub fn to_file_bytes(&self) -> Vec<u8> {
        self.to_file_bytes_with(&self.block.encode())
    }

    /// [`Self::to_file_bytes`] given the block's canonical encoding (see [`Self::encode_with`]).
    pub fn to_file_bytes_with(&self, block: &[u8]) -> Vec<u8> {
        safety_file::seal(FileKind::LockState, &self.encode_with(block)[1..])
    }

    /// Reads a lock file in format 2 (checked) or format 1 (the old, unchecked one, to be
    /// rewritten).
    pub fn from_file_bytes(bytes: &[u8]) -> Result<(Self, Format), SafetyFileError> {
        let (payload, format) = safety_file::open(FileKind::LockState, bytes)?;
        let lock = match format {
            Format::Legacy => Self::decode(payload),
            Format::Checked => {
                let mut v1 = Vec::with_capacity(1 + payload.len());
                v1.push(LOCK_STATE_VERSION);
                v1.extend_from_slice(payload);
                Self::decode(&v1)
            }
        };
        lock.map(|l| (l, format)).map_err(SafetyFileError::Payload)
    }

    /// Strict inverse of [`Self::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = BinReader::new(bytes);
        let version = r.u8()?;
        if version != LOCK_STATE_VERSION {
            return Err(DecodeError::UnsupportedVersion { what: "lock state", version });
        }
        let height = r.u64()?;
        let round = r.u32()?;
        let block_len = r.u32()? as usize;
        let block = Block::decode(r.take(block_len)?)?;
        let count = usize::from(r.u16()?);
        if count > MAX_LOCK_PREVOTES {
            return Err(DecodeError::TooLong { field: "lock state prevotes", len: count, max: MAX_LOCK_PREVOTES });
        }
        let mut prevotes = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(r.u16()?);
            prevotes.push(Vote::decode(r.take(len)?)?);
        }
        r.finish()?;
        Ok(Self { height: Height(height), round: Round(round), block, prevotes })
    }
}

#[cfg(test)]
mod tests {
    use coinjecture_primitives::consensus::VoteType;
    use coinjecture_primitives::{BlockHeader, ChainId, Hash32, PoaExtra, PublicKey, Signature};

    use super::*;

    fn lock() -> LockState {
        let chain = ChainId::new("coinjecture-test").unwrap();
        let extra =
            PoaExtra { round: Round(2), timestamp_millis: 0, state_commitment: Hash32([3; 32]), chain_id: None };
        let header = BlockHeader {
            codec_version: 1,
            block_index: Height(7),
            timestamp: 1_767_225_601,
            miner_address: PublicKey([4; 32]),
            extra_data: extra.encode(),
            ..Default::default()
        };
        let block = Block { header, transactions: Vec::new() };
        let vote = Vote {
            chain_id: chain,
            height: Height(7),
            round: Round(2),
            vote_type: VoteType::Prevote,
            block_hash: Some(block.hash()),
            validator: PublicKey([5; 32]),
            signature: Signature([6; 64]),
        };
        LockState { height: Height(7), round: Round(2), block, prevotes: vec![vote.clone(), vote] }
    }

    #[test]
    fn lock_state_round_trips() {
        let l = lock();
        assert_eq!(LockState::decode(&l.encode()).unwrap(), l);
    }

    #[test]
    fn truncated_extended_or_foreign_lock_files_are_refused_with_the_reason() {
        let bytes = lock().encode();
        for cut in [0, 1, 13, 20, bytes.len() - 1] {
            assert!(LockState::decode(&bytes[..cut]).is_err(), "accepted {cut} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(LockState::decode(&longer), Err(DecodeError::TrailingBytes { count: 1 }));
        let mut other = bytes;
        other[0] = 9;
        assert_eq!(LockState::decode(&other), Err(DecodeError::UnsupportedVersion { what: "lock state", version: 9 }));
    }

    #[test]
    fn the_lock_file_is_checked_and_the_old_format_is_still_read() {
        let l = lock();
        let file = l.to_file_bytes();
        assert_eq!(LockState::from_file_bytes(&file).unwrap(), (l.clone(), Format::Checked));
        assert_eq!(LockState::from_file_bytes(&l.encode()).unwrap(), (l.clone(), Format::Legacy));
        // A flipped byte in the stored block hash or a vote: caught by the checksum.
        for at in [12, file.len() / 2, file.len() - 40] {
            let mut damaged = file.clone();
            damaged[at] ^= 0x01;
            assert_eq!(LockState::from_file_bytes(&damaged), Err(SafetyFileError::ChecksumMismatch), "byte {at}");
        }
        // A signing state where the lock should be.
        let sign = crate::SignState::after(Height(7), Round(2), crate::SignStep::Precommit, b"m", Signature([1; 64]))
            .to_file_bytes();
        assert!(matches!(LockState::from_file_bytes(&sign), Err(SafetyFileError::WrongKind { .. })));
    }
}
