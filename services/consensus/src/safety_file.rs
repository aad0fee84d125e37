//! The envelope of the safety files (`<database>.sign_state`, `<database>.lock_state`): a kind
//! tag, a format version and a checksum around the payload, so a damaged, truncated or swapped
//! file is refused with a reason instead of being trusted.
//!
//! Format 2 (written since this module exists), big-endian:
//!
//! ```text
//! magic    4 bytes   "CJSS" (signing state) or "CJLK" (lock)
//! version  1 byte    2
//! length   4 bytes   payload length
//! payload            the state (sign_state.rs / lock_state.rs: their format 1 without its version byte)
//! checksum 32 bytes  SHA-256(magic ‖ version ‖ length ‖ payload)
//! ```
//!
//! Format 1 (the files nodes wrote before) is the payload preceded by the byte `0x01`, without
//! any checksum. It is still read, once: the node rewrites the file in format 2 at start (see
//! the README, "Safety files"). A format-1 file cannot be checked, so its bits are trusted one
//! last time; refusing it instead would make every operator take the dangerous reset path on
//! upgrade, which is the greater risk.

use coinjecture_primitives::sha256;

/// The current format version.
pub const FORMAT_VERSION: u8 = 2;
/// Bytes around the payload in format 2.
pub const ENVELOPE_LEN: usize = 4 + 1 + 4 + 32;

/// Which safety file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    SignState,
    LockState,
}

impl FileKind {
    /// The 4-byte tag at the start of a format-2 file.
    pub fn magic(self) -> [u8; 4] {
        match self {
            Self::SignState => *b"CJSS",
            Self::LockState => *b"CJLK",
        }
    }

    /// What the file is, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::SignState => "signing state",
            Self::LockState => "lock",
        }
    }

    fn other(self) -> Self {
        match self {
            Self::SignState => Self::LockState,
            Self::LockState => Self::SignState,
        }
    }
}

/// The format a file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Format 1: no checksum; rewrite it in format 2.
    Legacy,
    /// Format 2.
    Checked,
}

/// Why a safety file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetyFileError {
    #[error("empty file")]
    Empty,
    #[error("not a {expected} file: it is a {found} file")]
    WrongKind { expected: &'static str, found: &'static str },
    #[error("unknown format (starts with {first_bytes}); this node reads formats 1 and 2")]
    UnknownFormat { first_bytes: String },
    #[error("format version {0} is not supported (this node reads 1 and 2; was it written by a newer node?)")]
    UnsupportedVersion(u8),
    #[error("truncated: {found} bytes, the header says {expected}")]
    Truncated { expected: usize, found: usize },
    #[error("checksum mismatch")]
    ChecksumMismatch,
    #[error("damaged contents: {0}")]
    Payload(#[source] coinjecture_primitives::DecodeError),
}

/// Wraps `payload` in the format-2 envelope.
pub fn seal(kind: FileKind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENVELOPE_LEN + payload.len());
    out.extend_from_slice(&kind.magic());
    out.push(FORMAT_VERSION);
    // Safety files are far below 4 GiB (a lock holds one block).
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(payload);
    let checksum = sha256(&out);
    out.extend_from_slice(&checksum.0);
    out
}

/// The payload of a safety file and the format it was in. A format-1 file is returned with its
/// version byte (its own decoder checks it); a format-2 file without the envelope.
pub fn open(kind: FileKind, bytes: &[u8]) -> Result<(&[u8], Format), SafetyFileError> {
    let Some(&first) = bytes.first() else { return Err(SafetyFileError::Empty) };
    if first == 1 {
        return Ok((bytes, Format::Legacy));
    }
    let magic = bytes.get(..4).unwrap_or(bytes);
    if magic == kind.other().magic() {
        return Err(SafetyFileError::WrongKind { expected: kind.name(), found: kind.other().name() });
    }
    if magic != kind.magic() {
        let first_bytes = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>();
        return Err(SafetyFileError::UnknownFormat { first_bytes });
    }
    let Some(&version) = bytes.get(4) else {
        return Err(SafetyFileError::Truncated { expected: ENVELOPE_LEN, found: bytes.len() });
    };
    if version != FORMAT_VERSION {
        return Err(SafetyFileError::UnsupportedVersion(version));
    }
    let Some(length) = bytes.get(5..9) else {
        return Err(SafetyFileError::Truncated { expected: ENVELOPE_LEN, found: bytes.len() });
    };
    let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
    let expected = ENVELOPE_LEN.saturating_add(length);
    if bytes.len() != expected {
        // Longer than announced is damage too (the checksum could not say which part is right).
        if bytes.len() > expected {
            return Err(SafetyFileError::ChecksumMismatch);
        }
        return Err(SafetyFileError::Truncated { expected, found: bytes.len() });
    }
    let (body, checksum) = bytes.split_at(expected - 32);
    if sha256(body).0 != checksum {
        return Err(SafetyFileError::ChecksumMismatch);
    }
    Ok((&body[9..], Format::Checked))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use super::*;

    #[test]
    fn a_sealed_payload_opens_and_every_flipped_bit_is_refused() {
        let sealed = seal(FileKind::SignState, b"payload bytes");
        assert_eq!(open(FileKind::SignState, &sealed).unwrap(), (&b"payload bytes"[..], Format::Checked));
        for byte in 0..sealed.len() {
            for bit in 0..8 {
                let mut damaged = sealed.clone();
                damaged[byte] ^= 1 << bit;
                assert!(open(FileKind::SignState, &damaged).is_err(), "flip of bit {bit} in byte {byte} accepted");
            }
        }
    }

    #[test]
    fn truncated_extended_swapped_and_foreign_files_are_refused_with_the_reason() {
        let sealed = seal(FileKind::LockState, &[7; 100]);
        assert!(matches!(open(FileKind::LockState, &sealed[..50]), Err(SafetyFileError::Truncated { .. })));
        assert!(matches!(open(FileKind::LockState, &sealed[..3]), Err(SafetyFileError::UnknownFormat { .. })));
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(open(FileKind::LockState, &longer), Err(SafetyFileError::ChecksumMismatch));
        assert_eq!(
            open(FileKind::SignState, &sealed),
            Err(SafetyFileError::WrongKind { expected: "signing state", found: "lock" })
        );
        assert_eq!(open(FileKind::LockState, b""), Err(SafetyFileError::Empty));
        let mut newer = sealed;
        newer[4] = 3;
        assert_eq!(open(FileKind::LockState, &newer), Err(SafetyFileError::UnsupportedVersion(3)));
        assert!(matches!(open(FileKind::LockState, b"{\"json\": 1}"), Err(SafetyFileError::UnknownFormat { .. })));
        // Format 1 starts with its version byte and is handed back whole.
        assert_eq!(open(FileKind::LockState, &[1, 2, 3]).unwrap(), (&[1u8, 2, 3][..], Format::Legacy));
    }
}
