//! Errors of the canonical decoders and of value validation.

/// Why a byte string is not the canonical encoding of a value. Every variant names the offending
/// field or byte offset so that a client developer can find the problem without a debugger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("input ends early at byte {offset}")]
    UnexpectedEnd { offset: usize },
    #[error("{count} trailing byte(s) after the value")]
    TrailingBytes { count: usize },
    #[error("byte {offset}: marker 0x{marker:02x} where {expected} was expected")]
    UnexpectedMarker { offset: usize, marker: u8, expected: &'static str },
    #[error("byte {offset}: non-canonical encoding ({what})")]
    NonCanonical { offset: usize, what: &'static str },
    #[error("byte {offset}: map has {found} entries, expected {expected}")]
    WrongFieldCount { offset: usize, expected: usize, found: usize },
    #[error("byte {offset}: key {found:?} where {expected:?} was expected")]
    UnexpectedKey { offset: usize, expected: &'static str, found: String },
    #[error("byte {offset}: {field} = {value} is out of range")]
    OutOfRange { offset: usize, field: &'static str, value: String },
    #[error("{field}: length {len} exceeds the maximum {max}")]
    TooLong { field: &'static str, len: usize, max: usize },
    #[error("{field}: expected {expected} bytes, found {found}")]
    WrongLength { field: &'static str, expected: usize, found: usize },
    #[error("byte {offset}: string is not valid UTF-8")]
    InvalidUtf8 { offset: usize },
    #[error("{field}: unknown value {value:?}")]
    UnknownVariant { field: &'static str, value: String },
    #[error("input of {len} bytes exceeds the maximum {max} for {what}")]
    InputTooLarge { what: &'static str, len: usize, max: usize },
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion { what: &'static str, version: u8 },
    #[error("{0}")]
    Invalid(#[from] ValidationError),
}

/// Why a structurally well-formed value breaks a chain rule on sizes or formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("{field}: length {len} exceeds the maximum {max}")]
    TooLong { field: &'static str, len: usize, max: usize },
    #[error("{field}: expected {expected} bytes, found {found}")]
    WrongLength { field: &'static str, expected: usize, found: usize },
    #[error("codec_version {found} is not supported (expected {expected})")]
    CodecVersion { found: u32, expected: u8 },
    #[error("chain id {value:?} is invalid: {reason}")]
    ChainId { value: String, reason: &'static str },
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("not valid hex in {field}: {reason}")]
    Hex { field: &'static str, reason: String },
}
