//! Double-sign protection: the last message this validator signed, persisted *before* the
//! message is sent, and the rule that refuses anything conflicting with it — also after a restart.
//!
//! Messages are ordered by (height, round, step) with step proposal < prevote < precommit. The
//! validator signs only messages strictly after the last one; asked to sign the *identical*
//! bytes of the last one again (e.g. re-broadcast after a crash), it returns the stored
//! signature; anything else at or before the last position is refused.

use coinjecture_primitives::{DecodeError, Hash32, Height, Round, Signature, sha256};

use crate::safety_file::{self, FileKind, Format, SafetyFileError};

/// The step a signed message belongs to, in protocol order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignStep {
    Proposal = 1,
    Prevote = 2,
    Precommit = 3,
}

impl SignStep {
    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Proposal),
            2 => Some(Self::Prevote),
            3 => Some(Self::Precommit),
            _ => None,
        }
    }
}

/// The last signed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignState {
    pub height: Height,
    pub round: Round,
    pub step: SignStep,
    /// SHA-256 of the signing bytes.
    pub signed_bytes_hash: Hash32,
    pub signature: Signature,
}

/// What the rule says about a signing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignDecision {
    /// A new position: sign, then persist the new state before sending.
    Sign,
    /// The identical message was signed before: send this signature again.
    Reuse(Signature),
    /// Conflicts with what was signed: do not sign.
    Refuse { last: (Height, Round, SignStep) },
}

/// Encoded length of a [`SignState`].
pub const SIGN_STATE_LEN: usize = 1 + 8 + 4 + 1 + 32 + 64;

impl SignState {
    /// The decision for signing `bytes` at (height, round, step), given the last state.
    pub fn decide(
        last: Option<&SignState>,
        height: Height,
        round: Round,
        step: SignStep,
        bytes: &[u8],
    ) -> SignDecision {
        let Some(last) = last else { return SignDecision::Sign };
        let position = (height, round, step);
        let last_position = (last.height, last.round, last.step);
        if position > last_position {
            SignDecision::Sign
        } else if position == last_position && sha256(bytes) == last.signed_bytes_hash {
            SignDecision::Reuse(last.signature)
        } else {
            SignDecision::Refuse { last: last_position }
        }
    }

    /// The state after signing `bytes` with `signature`.
    pub fn after(height: Height, round: Round, step: SignStep, bytes: &[u8], signature: Signature) -> Self {
        Self { height, round, step, signed_bytes_hash: sha256(bytes), signature }
    }

    /// Fixed-width encoding for the state file: version 1, height, round, step, hash, signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SIGN_STATE_LEN);
        out.push(1);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.round.to_be_bytes());
        out.push(self.step as u8);
        out.extend_from_slice(&self.signed_bytes_hash.0);
        out.extend_from_slice(&self.signature.0);
        out
    }

    /// The file's bytes: [`Self::encode`] in the checked envelope (format 2, see
    /// [`safety_file`]).
    pub fn to_file_bytes(&self) -> Vec<u8> {
        safety_file::seal(FileKind::SignState, &self.encode()[1..])
    }

    /// Reads a signing-state file in format 2 (checked) or format 1 (the old, unchecked one,
    /// to be rewritten).
    pub fn from_file_bytes(bytes: &[u8]) -> Result<(Self, Format), SafetyFileError> {
        let (payload, format) = safety_file::open(FileKind::SignState, bytes)?;
        let state = match format {
            Format::Legacy => Self::decode(payload),
            Format::Checked => {
                let mut v1 = Vec::with_capacity(SIGN_STATE_LEN);
                v1.push(1);
                v1.extend_from_slice(payload);
                Self::decode(&v1)
            }
        };
        state.map(|s| (s, format)).map_err(SafetyFileError::Payload)
    }

    /// Strict inverse of [`Self::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != SIGN_STATE_LEN {
            return Err(DecodeError::WrongLength { field: "sign state", expected: SIGN_STATE_LEN, found: bytes.len() });
        }
        if bytes[0] != 1 {
            return Err(DecodeError::UnsupportedVersion { what: "sign state", version: bytes[0] });
        }
        let mut height = [0u8; 8];
        height.copy_from_slice(&bytes[1..9]);
        let mut round = [0u8; 4];
        round.copy_from_slice(&bytes[9..13]);
        let step = SignStep::from_code(bytes[13])
            .ok_or_else(|| DecodeError::UnknownVariant { field: "sign state step", value: bytes[13].to_string() })?;
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&bytes[14..46]);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&bytes[46..110]);
        Ok(Self {
            height: Height(u64::from_be_bytes(height)),
            round: Round(u32::from_be_bytes(round)),
            step,
            signed_bytes_hash: Hash32(hash),
            signature: Signature(signature),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_later_positions_or_identical_bytes_are_signed() {
        let last = SignState::after(Height(5), Round(1), SignStep::Prevote, b"vote A", Signature([7; 64]));
        let d = |h, r, s, b: &[u8]| SignState::decide(Some(&last), h, r, s, b);
        assert_eq!(d(Height(5), Round(1), SignStep::Precommit, b"x"), SignDecision::Sign);
        assert_eq!(d(Height(5), Round(2), SignStep::Proposal, b"x"), SignDecision::Sign);
        assert_eq!(d(Height(6), Round(0), SignStep::Proposal, b"x"), SignDecision::Sign);
        assert_eq!(d(Height(5), Round(1), SignStep::Prevote, b"vote A"), SignDecision::Reuse(Signature([7; 64])));
        assert!(matches!(d(Height(5), Round(1), SignStep::Prevote, b"vote B"), SignDecision::Refuse { .. }));
        assert!(matches!(d(Height(5), Round(1), SignStep::Proposal, b"x"), SignDecision::Refuse { .. }));
        assert!(matches!(d(Height(4), Round(9), SignStep::Precommit, b"x"), SignDecision::Refuse { .. }));
        assert_eq!(SignState::decide(None, Height(0), Round(0), SignStep::Proposal, b""), SignDecision::Sign);
    }

    #[test]
    fn state_round_trips_and_rejects_garbage() {
        let s = SignState::after(Height(u64::MAX), Round(3), SignStep::Precommit, b"m", Signature([1; 64]));
        assert_eq!(SignState::decode(&s.encode()).unwrap(), s);
        assert!(SignState::decode(&s.encode()[..50]).is_err());
        let mut bad = s.encode();
        bad[13] = 9;
        assert!(SignState::decode(&bad).is_err());
    }

    /// The same bytes `clients/python/tests/test_lock_state.py` expects from the Python writer.
    #[test]
    fn the_file_format_is_pinned_for_the_python_validator() {
        let s = SignState::after(Height(41), Round(2), SignStep::Prevote, b"m", Signature([9; 64]));
        assert_eq!(
            s.to_file_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "434a5353020000006d0000000000000029000000020262c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a\
             09090909090909090909090909090909090909090909090909090909090909090909090909090909090909090909090909090909090909\
             090909090909090909de02e4da0a789bb60be55bf52d50967189b38df77e634906a1f6e4a52bb7c4c3"
        );
    }

    #[test]
    fn the_file_is_checked_and_the_old_format_is_still_read() {
        let s = SignState::after(Height(41), Round(2), SignStep::Prevote, b"m", Signature([9; 64]));
        let file = s.to_file_bytes();
        assert_eq!(file.len(), SIGN_STATE_LEN - 1 + crate::safety_file::ENVELOPE_LEN);
        assert_eq!(SignState::from_file_bytes(&file).unwrap(), (s.clone(), Format::Checked));
        assert_eq!(SignState::from_file_bytes(&s.encode()).unwrap(), (s.clone(), Format::Legacy));
        // The flipped height bit, now caught.
        let mut flipped = file.clone();
        flipped[9 + 3] ^= 0x10;
        assert_eq!(SignState::from_file_bytes(&flipped), Err(SafetyFileError::ChecksumMismatch));
        // A well-sealed but impossible step is refused too.
        let mut payload = s.encode()[1..].to_vec();
        payload[12] = 9;
        let sealed = safety_file::seal(FileKind::SignState, &payload);
        assert!(matches!(SignState::from_file_bytes(&sealed), Err(SafetyFileError::Payload(_))));
    }
}
