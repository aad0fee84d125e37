//! Chain identity and the size limits every implementation enforces.

use std::fmt;
use std::str::FromStr;

use crate::error::ValidationError;

/// The v4 codec version: the only one there is.
pub const CODEC_VERSION: u8 = 1;

/// Limits on sizes, shared by encoders, decoders and services.
pub mod limits {
    /// `extra_data` of a block header (v4 rule).
    pub const MAX_EXTRA_DATA: usize = 256;
    /// `data` of a transaction (v4 rule).
    pub const MAX_TX_DATA: usize = 1024 * 1024;
    /// Transactions in one block.
    pub const MAX_BLOCK_TRANSACTIONS: usize = 50_000;
    /// Encoded size of one block, and of any single message between services.
    pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
    /// Encoded size of one transaction.
    pub const MAX_TX_BYTES: usize = MAX_TX_DATA * 3 + 1024;
    /// Items in one batch RPC (hashes, signatures, transactions).
    pub const MAX_BATCH_ITEMS: usize = 100_000;
    /// Elements of a subset-sum problem (v4 rule: the largest tier holds 32).
    pub const MAX_SUBSET_SUM_ELEMENTS: usize = 32;
    /// Signatures in one commit certificate (validators in one set).
    pub const MAX_VALIDATORS: usize = 1024;
    /// Length of a chain id in bytes.
    pub const MAX_CHAIN_ID: usize = 64;
}

/// The name of a chain, e.g. `coinjecture-go-testnet`. It is part of every consensus message a
/// validator signs, so a vote for one network is worthless on another.
///
/// 1 to 64 bytes of lower-case ASCII letters, digits, `-`, `_` and `.`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainId(String);

impl ChainId {
    /// Validates and wraps `id`.
    pub fn new(id: impl Into<String>) -> Result<Self, ValidationError> {
        let id = id.into();
        let reason = if id.is_empty() {
            Some("it is empty")
        } else if id.len() > limits::MAX_CHAIN_ID {
            Some("it is longer than 64 bytes")
        } else if !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)) {
            Some("only a-z, 0-9, '-', '_' and '.' are allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ValidationError::ChainId { value: id, reason }),
            None => Ok(Self(id)),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({})", self.0)
    }
}

impl FromStr for ChainId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_are_validated_with_a_reason() {
        assert_eq!(ChainId::new("coinjecture-go-testnet").unwrap().as_str(), "coinjecture-go-testnet");
        for bad in ["", "Upper", "with space", &"x".repeat(65)] {
            let err = ChainId::new(bad).unwrap_err();
            assert!(err.to_string().contains("chain id"), "{err}");
        }
    }
}
