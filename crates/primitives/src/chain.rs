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

/// A chain's block limits: chain parameters from its genesis (`max_block_gas`,
/// `max_block_bytes`; golden/README.md §3.6). Every validator refuses a block beyond either (a
/// nil prevote, and the ledger's `TOO_LARGE`), and a proposer never builds one.
///
/// The defaults are chain rules too: a genesis without the keys has exactly these limits, and
/// its genesis hash is what it was before the keys existed. Changing a default would change
/// the rules of every chain that relies on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockLimits {
    /// Most gas in a block: the sum of its transactions' `gas_limit`.
    pub max_gas: u64,
    /// Most bytes of the block's canonical encoding (golden/README.md §3.5), header included.
    pub max_bytes: u64,
}

impl BlockLimits {
    /// Default `max_block_gas`: 1,000,000,000, i.e. 47,619 transfers at their minimum gas of
    /// 21,000 (the target is 20,000 per 2 s block; the decoder's bound is 50,000).
    pub const DEFAULT_MAX_GAS: u64 = 1_000_000_000;
    /// Default `max_block_bytes`: 8 MiB, about 30,000 ordinary transfers (~275 bytes each),
    /// half the 16 MiB message limit that a full proposal and a synced block must fit in.
    pub const DEFAULT_MAX_BYTES: u64 = 8 * 1024 * 1024;
    /// The smallest `max_block_gas` a genesis may set: one transaction of any type (50,000).
    pub const MIN_GAS: u64 = 50_000;
    /// The smallest `max_block_bytes`: 64 KiB (a header and some transactions).
    pub const MIN_BYTES: u64 = 64 * 1024;
    /// The largest `max_block_bytes`: 15 MiB, leaving 1 MiB of the 16 MiB message limit for
    /// what wraps a block (a proposal, a certificate, protobuf framing).
    pub const MAX_BYTES: u64 = (limits::MAX_MESSAGE_BYTES - 1024 * 1024) as u64;

    /// Whether these are the default limits (a genesis that leaves them out).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Checks the bounds above; the error names the genesis key.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_gas < Self::MIN_GAS {
            return Err(format!(
                "max_block_gas {} is below {} (one transaction of any type must fit)",
                self.max_gas,
                Self::MIN_GAS
            ));
        }
        if !(Self::MIN_BYTES..=Self::MAX_BYTES).contains(&self.max_bytes) {
            return Err(format!(
                "max_block_bytes {} is not in {}..={} (64 KiB to 15 MiB: a block and what wraps it must fit in \
                 the 16 MiB message limit)",
                self.max_bytes,
                Self::MIN_BYTES,
                Self::MAX_BYTES
            ));
        }
        Ok(())
    }
}

impl Default for BlockLimits {
    fn default() -> Self {
        Self { max_gas: Self::DEFAULT_MAX_GAS, max_bytes: Self::DEFAULT_MAX_BYTES }
    }
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
