//! The genesis configuration, its file format, and the deterministic genesis block.
//!
//! A genesis file is YAML (JSON is YAML too):
//!
//! ```yaml
//! chain_id: coinjecture-network-a
//! timestamp_ms: 1767225600000
//! allocations:
//!   - address: 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29  # ed25519 public key, hex
//!     balance: 1000000000000
//! max_block_gas: 1000000000    # optional (this is the default): most gas (summed gas_limit) per block
//! max_block_bytes: 8388608     # optional (this is the default): most bytes of a block's encoding
//! ```
//!
//! The block limits are chain parameters ([`BlockLimits`]). A genesis with the default limits
//! (written out or left out) has the genesis block, and so the genesis hash, it had before the
//! keys existed; other limits are committed in the genesis header's `commitment`
//! ([`block_limits_commitment`]), so two validators with different limits are on different
//! chains from block 0.

use std::path::{Path, PathBuf};

use coinjecture_primitives::{
    Block, BlockHeader, BlockLimits, CODEC_VERSION, ChainId, Hash32, Height, PoaExtra, PublicKey, Round,
    ValidationError, sha256_concat,
};
use serde::{Deserialize, Serialize};

use crate::state::{AccountState, next_state_commitment};

/// Why a genesis configuration is unusable. Each variant names the entry at fault.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error("cannot read the genesis file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the genesis file {path} is not valid YAML/JSON of the genesis format: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("genesis chain_id {value:?}: {source}")]
    ChainId {
        value: String,
        #[source]
        source: ValidationError,
    },
    #[error("genesis allocations[{index}].address {value:?}: {source}")]
    BadAddress {
        index: usize,
        value: String,
        #[source]
        source: ValidationError,
    },
    #[error("genesis allocations[{index}]: account {address} is already funded by allocations[{first}]")]
    DuplicateAccount { index: usize, first: usize, address: PublicKey },
    #[error("genesis allocations[{index}]: balance must be positive (account {address})")]
    ZeroBalance { index: usize, address: PublicKey },
    #[error("genesis has no allocations: a chain without funds cannot pay any fee")]
    NoAllocations,
    #[error(
        "genesis total supply {total} exceeds {max} (i64::MAX): balances are stored as SQLite integers",
        max = i64::MAX
    )]
    SupplyTooLarge { total: u128 },
    #[error("genesis timestamp_ms {0} is negative")]
    NegativeTimestamp(i64),
    /// The message starts with the key (`max_block_gas` or `max_block_bytes`).
    #[error("genesis {0}")]
    BlockLimits(String),
}

/// Domain tag of [`block_limits_commitment`].
pub const BLOCK_LIMITS_DOMAIN: &[u8] = b"coinjecture/v1/block-limits\0";

/// What the genesis header's `commitment` holds (golden/README.md §3.6): 32 zero bytes for the
/// default limits, else SHA-256(`coinjecture/v1/block-limits` 00 ‖ max_block_gas u64 BE ‖
/// max_block_bytes u64 BE).
pub fn block_limits_commitment(limits: &BlockLimits) -> Hash32 {
    if limits.is_default() {
        return Hash32::ZERO;
    }
    sha256_concat(&[BLOCK_LIMITS_DOMAIN, &limits.max_gas.to_be_bytes(), &limits.max_bytes.to_be_bytes()])
}

/// The chain's starting point: its id, time and funded accounts.
///
/// Balances are u64 in every API, but SQLite stores i64: a genesis whose total supply exceeds
/// `i64::MAX` is refused, and since every block conserves the supply (fees go to the proposer),
/// no balance can ever exceed it afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "GenesisFile", into = "GenesisFile")]
pub struct GenesisConfig {
    pub chain_id: ChainId,
    /// Genesis time, Unix milliseconds (≥ 0).
    pub timestamp_ms: i64,
    /// Funded accounts, (public key, balance); any order, each account once, balances > 0.
    pub allocations: Vec<(PublicKey, u64)>,
    /// The block limits (`max_block_gas`, `max_block_bytes`; defaults when absent).
    pub block_limits: BlockLimits,
}

/// One funded account in the file format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationEntry {
    /// ed25519 public key, 64 hex digits (an optional `0x` is accepted).
    pub address: String,
    pub balance: u64,
}

/// The file format of [`GenesisConfig`]: hex strings instead of key types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisFile {
    pub chain_id: String,
    pub timestamp_ms: i64,
    pub allocations: Vec<AllocationEntry>,
    /// Most gas per block (sum of `gas_limit`); absent: [`BlockLimits::DEFAULT_MAX_GAS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_block_gas: Option<u64>,
    /// Most bytes of a block's encoding; absent: [`BlockLimits::DEFAULT_MAX_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_block_bytes: Option<u64>,
}

impl TryFrom<GenesisFile> for GenesisConfig {
    type Error = GenesisError;
    fn try_from(file: GenesisFile) -> Result<Self, GenesisError> {
        let chain_id = ChainId::new(file.chain_id.as_str())
            .map_err(|source| GenesisError::ChainId { value: file.chain_id.clone(), source })?;
        let allocations = file
            .allocations
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let address = PublicKey::from_hex_named(entry.address.trim(), "address")
                    .map_err(|source| GenesisError::BadAddress { index, value: entry.address.clone(), source })?;
                Ok((address, entry.balance))
            })
            .collect::<Result<Vec<_>, GenesisError>>()?;
        let defaults = BlockLimits::default();
        let block_limits = BlockLimits {
            max_gas: file.max_block_gas.unwrap_or(defaults.max_gas),
            max_bytes: file.max_block_bytes.unwrap_or(defaults.max_bytes),
        };
        let config = Self { chain_id, timestamp_ms: file.timestamp_ms, allocations, block_limits };
        config.validate()?;
        Ok(config)
    }
}

impl From<GenesisConfig> for GenesisFile {
    fn from(config: GenesisConfig) -> Self {
        Self {
            chain_id: config.chain_id.to_string(),
            timestamp_ms: config.timestamp_ms,
            allocations: config
                .allocations
                .iter()
                .map(|(address, balance)| AllocationEntry { address: address.to_hex(), balance: *balance })
                .collect(),
            // Written out, so the file says what the chain's limits are.
            max_block_gas: Some(config.block_limits.max_gas),
            max_block_bytes: Some(config.block_limits.max_bytes),
        }
    }
}

impl GenesisConfig {
    /// Reads and validates a genesis file (YAML or JSON).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, GenesisError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|source| GenesisError::Read { path: path.to_path_buf(), source })?;
        Self::from_yaml(&text).map_err(|e| match e {
            GenesisError::Parse { source, .. } => GenesisError::Parse { path: path.to_path_buf(), source },
            other => other,
        })
    }

    /// Parses and validates genesis YAML or JSON text.
    pub fn from_yaml(text: &str) -> Result<Self, GenesisError> {
        let file: GenesisFile = serde_yaml::from_str(text)
            .map_err(|source| GenesisError::Parse { path: PathBuf::from("<text>"), source })?;
        Self::try_from(file)
    }

    /// The configuration as YAML.
    pub fn to_yaml(&self) -> String {
        // Serialising plain strings and integers cannot fail.
        serde_yaml::to_string(&GenesisFile::from(self.clone())).unwrap_or_default()
    }

    /// Checks the rules listed on [`GenesisError`].
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.allocations.is_empty() {
            return Err(GenesisError::NoAllocations);
        }
        if self.timestamp_ms < 0 {
            return Err(GenesisError::NegativeTimestamp(self.timestamp_ms));
        }
        let mut first_index = std::collections::HashMap::with_capacity(self.allocations.len());
        let mut total: u128 = 0;
        for (index, (address, balance)) in self.allocations.iter().enumerate() {
            if let Some(first) = first_index.insert(*address, index) {
                return Err(GenesisError::DuplicateAccount { index, first, address: *address });
            }
            if *balance == 0 {
                return Err(GenesisError::ZeroBalance { index, address: *address });
            }
            total += u128::from(*balance);
        }
        if total > i64::MAX as u128 {
            return Err(GenesisError::SupplyTooLarge { total });
        }
        self.block_limits.validate().map_err(GenesisError::BlockLimits)?;
        Ok(())
    }

    /// The allocations sorted by address, as account states.
    pub fn sorted_allocations(&self) -> Vec<(PublicKey, AccountState)> {
        let mut sorted: Vec<(PublicKey, AccountState)> =
            self.allocations.iter().map(|(a, b)| (*a, AccountState { balance: *b, nonce: 0 })).collect();
        sorted.sort_by_key(|(a, _)| *a);
        sorted
    }

    /// The total supply (fits in i64 once validated).
    pub fn total_supply(&self) -> u128 {
        self.allocations.iter().map(|(_, b)| u128::from(*b)).sum()
    }

    /// `commitment_0`: the state commitment over every allocation, chained from 32 zero bytes.
    pub fn state_commitment(&self) -> Hash32 {
        next_state_commitment(&Hash32::ZERO, &self.sorted_allocations())
    }

    /// The genesis block: height 0, zero parent, Merkle root and proposer, difficulty and nonce
    /// 0, the time split into seconds and milliseconds, no transactions, `extra_data` =
    /// [`PoaExtra`] with round 0, the genesis state commitment and the chain id, and
    /// `commitment` = [`block_limits_commitment`] (zero for the default limits).
    pub fn block(&self) -> Block {
        let extra = PoaExtra {
            round: Round(0),
            // rem_euclid(1000) is in 0..1000.
            timestamp_millis: self.timestamp_ms.rem_euclid(1000) as u16,
            state_commitment: self.state_commitment(),
            chain_id: Some(self.chain_id.clone()),
        };
        let header = BlockHeader {
            codec_version: CODEC_VERSION,
            block_index: Height(0),
            timestamp: self.timestamp_ms.div_euclid(1000),
            parent_hash: Hash32::ZERO,
            merkle_root: Hash32::ZERO,
            miner_address: PublicKey::ZERO,
            commitment: block_limits_commitment(&self.block_limits),
            difficulty_target: 0,
            nonce: 0,
            extra_data: extra.encode(),
        };
        Block { header, transactions: Vec::new() }
    }

    /// The genesis hash: the hash of [`Self::block`]'s header.
    pub fn hash(&self) -> Hash32 {
        self.block().hash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coinjecture_primitives::UnixMillis;

    fn config() -> GenesisConfig {
        GenesisConfig {
            chain_id: ChainId::new("coinjecture-test").unwrap(),
            timestamp_ms: 1_767_225_600_250,
            allocations: vec![(PublicKey([2; 32]), 500), (PublicKey([1; 32]), 1_000)],
            block_limits: BlockLimits::default(),
        }
    }

    /// `OLD_GENESIS`'s hash, the same before and after the block limits.
    const OLD_GENESIS_HASH: &str = "911b09f073fe147b9980dbeeb8df57da0ecb986f58082cf2fcda5a802bac4a1b";

    /// The genesis of `config()` before the block limits existed: its hash must not move.
    const OLD_GENESIS: &str = "chain_id: coinjecture-test\ntimestamp_ms: 1767225600250\nallocations:\n  - {address: \
        0202020202020202020202020202020202020202020202020202020202020202, balance: 500}\n  - {address: \
        0101010101010101010101010101010101010101010101010101010101010101, balance: 1000}\n";

    #[test]
    fn a_genesis_without_block_limits_has_the_defaults_and_keeps_its_hash() {
        let old = GenesisConfig::from_yaml(OLD_GENESIS).unwrap();
        assert_eq!(old.block_limits, BlockLimits { max_gas: 1_000_000_000, max_bytes: 8 * 1024 * 1024 });
        assert_eq!(old.block().header.commitment, Hash32::ZERO);
        // The pre-limits rule (commitment zero), computed independently with the Python reference
        // (clients/python reference.py BlockHeader/PoaExtra): the same file, the same hash.
        assert_eq!(old.hash().to_string(), OLD_GENESIS_HASH);
        // The defaults written out are the same chain.
        let explicit = format!("{OLD_GENESIS}max_block_gas: 1000000000\nmax_block_bytes: 8388608\n");
        assert_eq!(GenesisConfig::from_yaml(&explicit).unwrap().hash(), old.hash());
    }

    #[test]
    fn other_block_limits_are_committed_in_the_genesis_hash() {
        let old = GenesisConfig::from_yaml(OLD_GENESIS).unwrap();
        let gas = GenesisConfig::from_yaml(&format!("{OLD_GENESIS}max_block_gas: 2000000000\n")).unwrap();
        let bytes = GenesisConfig::from_yaml(&format!("{OLD_GENESIS}max_block_bytes: 4194304\n")).unwrap();
        assert_eq!(gas.block_limits, BlockLimits { max_gas: 2_000_000_000, max_bytes: 8 * 1024 * 1024 });
        assert_eq!(bytes.block_limits, BlockLimits { max_gas: 1_000_000_000, max_bytes: 4 * 1024 * 1024 });
        let hashes = [old.hash(), gas.hash(), bytes.hash()];
        assert!(hashes[0] != hashes[1] && hashes[1] != hashes[2] && hashes[0] != hashes[2], "{hashes:?}");
        // golden/README.md §3.6's worked example.
        assert_eq!(
            block_limits_commitment(&gas.block_limits).to_string(),
            "baed812bf2def27b821b6e9033f84a8cfc3e7694f5b8ad59829fe28a9ad0c29d"
        );
        assert_eq!(gas.block().header.commitment, block_limits_commitment(&gas.block_limits));
        // Everything else in the header is as with the default limits.
        let (mut a, b) = (old.block().header, gas.block().header);
        a.commitment = b.commitment;
        assert_eq!(a, b);
        assert_eq!(GenesisConfig::from_yaml(&gas.to_yaml()).unwrap(), gas);
    }

    #[test]
    fn bad_block_limits_are_refused_naming_the_key() {
        for (extra, key) in [
            ("max_block_gas: 49999\n", "max_block_gas 49999 is below 50000"),
            ("max_block_bytes: 1000\n", "max_block_bytes 1000 is not in 65536..=15728640"),
            ("max_block_bytes: 16777216\n", "max_block_bytes 16777216 is not in"),
            ("max_block_gas: -1\n", "max_block_gas"),
            ("max_block_gaz: 1\n", "max_block_gaz"),
        ] {
            let err = GenesisConfig::from_yaml(&format!("{OLD_GENESIS}{extra}")).unwrap_err().to_string();
            assert!(err.contains(key), "{extra}: {err}");
        }
    }

    #[test]
    fn genesis_hash_is_deterministic_and_commits_to_chain_allocations_and_time() {
        let a = config();
        assert_eq!(a.hash(), config().hash());
        let block = a.block();
        assert_eq!(block.header.timestamp, 1_767_225_600);
        assert_eq!(block.header.timestamp_ms(), UnixMillis(1_767_225_600_250));
        let extra = PoaExtra::decode_at(&block.header.extra_data, Height(0)).unwrap();
        assert_eq!(extra.state_commitment, a.state_commitment());
        let other_chain = GenesisConfig { chain_id: ChainId::new("coinjecture-other").unwrap(), ..a.clone() };
        assert_ne!(other_chain.hash(), a.hash());
        let other_alloc = GenesisConfig { allocations: vec![(PublicKey([1; 32]), 1_000)], ..a.clone() };
        assert_ne!(other_alloc.hash(), a.hash());
        let reordered = GenesisConfig { allocations: a.allocations.iter().rev().copied().collect(), ..a.clone() };
        assert_eq!(reordered.hash(), a.hash(), "allocation order does not matter");
    }

    #[test]
    fn yaml_round_trips_and_bad_entries_are_named() {
        let a = config();
        assert_eq!(GenesisConfig::from_yaml(&a.to_yaml()).unwrap(), a);
        let bad_hex = "chain_id: c\ntimestamp_ms: 0\nallocations:\n  - {address: \"zz\", balance: 1}\n";
        let err = GenesisConfig::from_yaml(bad_hex).unwrap_err().to_string();
        assert!(err.contains("allocations[0].address") && err.contains("zz"), "{err}");
        let key = "01".repeat(32);
        let dup = format!(
            "chain_id: c\ntimestamp_ms: 0\nallocations:\n  - {{address: {key}, balance: 1}}\n  - {{address: {key}, balance: 2}}\n"
        );
        let err = GenesisConfig::from_yaml(&dup).unwrap_err();
        assert!(matches!(err, GenesisError::DuplicateAccount { index: 1, first: 0, .. }), "{err}");
        let empty = "chain_id: c\ntimestamp_ms: 0\nallocations: []\n";
        assert!(matches!(GenesisConfig::from_yaml(empty).unwrap_err(), GenesisError::NoAllocations));
        let huge = format!(
            "chain_id: c\ntimestamp_ms: 0\nallocations:\n  - {{address: {key}, balance: {}}}\n  - {{address: {}, balance: 2}}\n",
            i64::MAX,
            "02".repeat(32)
        );
        assert!(matches!(GenesisConfig::from_yaml(&huge).unwrap_err(), GenesisError::SupplyTooLarge { .. }));
        let bad_chain = format!("chain_id: Upper\ntimestamp_ms: 0\nallocations:\n  - {{address: {key}, balance: 1}}\n");
        assert!(GenesisConfig::from_yaml(&bad_chain).unwrap_err().to_string().contains("chain_id"));
    }

    #[test]
    fn missing_file_error_names_the_path() {
        let err = GenesisConfig::load("/nonexistent/genesis.yaml").unwrap_err().to_string();
        assert!(err.contains("/nonexistent/genesis.yaml"), "{err}");
    }
}
