//! This validator's own votes of the current height, persisted so that a restart can re-send
//! them (see [`Action::PersistOwnVotes`]). They matter for liveness only: a validator that
//! restarts between its prevote and its precommit, while another validator is down, must give
//! the survivors the votes they wait for in that round. Double-sign protection does not depend
//! on this file (the signing state does that), so a missing or damaged file only means the
//! restarted validator resumes one round later.
//!
//! [`Action::PersistOwnVotes`]: crate::Action::PersistOwnVotes

use std::path::{Path, PathBuf};

use coinjecture_primitives::DecodeError;
use coinjecture_primitives::consensus::{BinReader, Vote};

/// Format version of the own-votes file.
const OWN_VOTES_VERSION: u8 = 1;

/// Votes kept at most (a few rounds' prevotes and precommits).
pub const MAX_OWN_VOTES: usize = 256;

/// Encoding: version 1, count (u16), then each vote's encoding with its length (u16).
pub fn encode(votes: &[Vote]) -> Vec<u8> {
    let votes = &votes[votes.len().saturating_sub(MAX_OWN_VOTES)..];
    let mut out = Vec::with_capacity(3 + votes.len() * 200);
    out.push(OWN_VOTES_VERSION);
    out.extend_from_slice(&(votes.len() as u16).to_be_bytes());
    for vote in votes {
        let bytes = vote.encode();
        // A vote encodes to under 300 bytes.
        out.extend_from_slice(&u16::try_from(bytes.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

/// Strict inverse of [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Vec<Vote>, DecodeError> {
    let mut r = BinReader::new(bytes);
    let version = r.u8()?;
    if version != OWN_VOTES_VERSION {
        return Err(DecodeError::UnknownVariant { field: "own votes version", value: version.to_string() });
    }
    let count = usize::from(r.u16()?);
    let mut votes = Vec::with_capacity(count.min(MAX_OWN_VOTES));
    for _ in 0..count {
        let len = usize::from(r.u16()?);
        votes.push(Vote::decode(r.take(len)?)?);
    }
    r.finish()?;
    Ok(votes)
}

/// Where the own votes are kept for a signing state at `sign_state_path`: the same name with
/// the extension `own_votes` (e.g. `data/validator-1.own_votes`).
pub fn path(sign_state_path: &Path) -> PathBuf {
    sign_state_path.with_extension("own_votes")
}

/// Replaces the file: a temporary file renamed over it, so a process crash leaves the old or
/// the new votes. Not fsynced: after a power loss a missing or torn file costs one round.
pub fn store(path: &Path, votes: &[Vote]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, encode(votes))?;
    std::fs::rename(&tmp, path)
}

/// The persisted votes; none (with a warning naming the file) when it is missing or damaged.
pub fn load(path: &Path) -> Vec<Vote> {
    match std::fs::read(path) {
        Ok(bytes) => decode(&bytes).unwrap_or_else(|e| {
            tracing::warn!(file = %path.display(), error = %e, "own votes unreadable; resuming one round later");
            Vec::new()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "own votes unreadable; resuming one round later");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use coinjecture_crypto_core::signatures::Keypair;
    use coinjecture_primitives::consensus::VoteType;
    use coinjecture_primitives::{ChainId, Hash32, Height, Round, Signature};

    use super::*;

    #[test]
    fn own_votes_round_trip_and_damage_is_refused() {
        let key = Keypair::from_seed(&[7; 32]);
        let mut vote = Vote {
            chain_id: ChainId::new("coinjecture-test").unwrap(),
            height: Height(9),
            round: Round(2),
            vote_type: VoteType::Prevote,
            block_hash: Some(Hash32([3; 32])),
            validator: key.public_key(),
            signature: Signature::ZERO,
        };
        vote.signature = key.sign(&vote.signing_bytes());
        let mut nil = vote.clone();
        nil.block_hash = None;
        let bytes = encode(&[vote.clone(), nil.clone()]);
        assert_eq!(decode(&bytes).unwrap(), vec![vote.clone(), nil]);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode(&extra).is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = path(&dir.path().join("v.sign_state"));
        assert!(load(&p).is_empty());
        store(&p, std::slice::from_ref(&vote)).unwrap();
        assert_eq!(load(&p), vec![vote]);
        std::fs::write(&p, b"garbage").unwrap();
        assert!(load(&p).is_empty());
    }
}
