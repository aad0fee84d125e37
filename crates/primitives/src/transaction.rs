//! The v4 transaction: MessagePack encoding, hash, the ed25519 signing message, and the
//! stateless rules (sizes, gas, fee) every node checks before looking at any account.

use std::fmt;

use crate::chain::{CODEC_VERSION, ChainId, limits};
use crate::error::{DecodeError, ValidationError};
use crate::hash::{Hash32, PublicKey, Signature, sha256};
use crate::msgpack::{Reader, Writer};

/// The v4 transaction kinds; encoded by name in MessagePack and by number in the signing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxType {
    Transfer,
    ProblemSubmission,
    BountyPayment,
}

impl TxType {
    /// The variant name used in the MessagePack encoding.
    pub fn name(self) -> &'static str {
        match self {
            Self::Transfer => "Transfer",
            Self::ProblemSubmission => "ProblemSubmission",
            Self::BountyPayment => "BountyPayment",
        }
    }

    /// The byte used in the signing message.
    pub fn code(self) -> u8 {
        match self {
            Self::Transfer => 1,
            Self::ProblemSubmission => 2,
            Self::BountyPayment => 3,
        }
    }

    /// Inverse of [`Self::code`].
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Transfer),
            2 => Some(Self::ProblemSubmission),
            3 => Some(Self::BountyPayment),
            _ => None,
        }
    }

    /// Inverse of [`Self::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "Transfer" => Some(Self::Transfer),
            "ProblemSubmission" => Some(Self::ProblemSubmission),
            "BountyPayment" => Some(Self::BountyPayment),
            _ => None,
        }
    }

    /// The minimum `gas_limit` for this kind (v4 rule).
    pub fn min_gas(self) -> u64 {
        match self {
            Self::Transfer => MIN_GAS_TRANSFER,
            Self::ProblemSubmission | Self::BountyPayment => MIN_GAS_OTHER,
        }
    }
}

impl fmt::Display for TxType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Minimum gas of a transfer.
pub const MIN_GAS_TRANSFER: u64 = 21_000;
/// Minimum gas of a problem submission or bounty payment.
pub const MIN_GAS_OTHER: u64 = 50_000;
/// The fee floor: `gas_limit × gas_price ≥ max(amount / 10_000, 1_000)`.
pub const MIN_FEE: u64 = 1_000;
/// Divisor of the amount-proportional part of the fee floor.
pub const FEE_AMOUNT_DIVISOR: u64 = 10_000;

/// SHA-256 of a transaction's canonical encoding: its hash (counted with the `counters` feature).
pub(crate) fn hash_encoding(encoding: &[u8]) -> Hash32 {
    #[cfg(feature = "counters")]
    counters::HASHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    sha256(encoding)
}

/// Process-wide counts of transaction encodings and hashes, for tests that check a path encodes
/// and hashes a transaction once (feature `counters`; never enable it in a release build).
#[cfg(feature = "counters")]
pub mod counters {
    use std::sync::atomic::{AtomicU64, Ordering};

    pub(crate) static ENCODES: AtomicU64 = AtomicU64::new(0);
    pub(crate) static HASHES: AtomicU64 = AtomicU64::new(0);
    static VERIFICATIONS: AtomicU64 = AtomicU64::new(0);

    /// Canonical encodings of a transaction produced so far (each [`super::Transaction::encode_into`],
    /// also inside a block's encoding).
    pub fn encodes() -> u64 {
        ENCODES.load(Ordering::Relaxed)
    }

    /// SHA-256 computations of a transaction's encoding so far (each transaction hash).
    pub fn hashes() -> u64 {
        HASHES.load(Ordering::Relaxed)
    }

    /// ed25519 verifications of a transaction's signature so far (counted by crypto-core with
    /// its `counters` feature).
    pub fn verifications() -> u64 {
        VERIFICATIONS.load(Ordering::Relaxed)
    }

    /// Counts one verification of a transaction's signature (crypto-core calls it).
    #[doc(hidden)]
    pub fn count_verification() {
        VERIFICATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// A v4 transaction (field order is the encoding order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Always [`CODEC_VERSION`].
    pub codec_version: u8,
    pub tx_type: TxType,
    /// The sender's ed25519 public key; the signature must verify under it.
    pub from: PublicKey,
    /// The recipient's public key.
    pub to: PublicKey,
    pub amount: u64,
    /// Must equal the sender's account nonce when the transaction is applied.
    pub nonce: u64,
    pub gas_limit: u64,
    pub gas_price: u64,
    /// ed25519 over [`Transaction::signing_message`].
    pub signature: Signature,
    /// Up to 1 MiB; on our chain it starts with the chain tag (see [`chain_tag`]).
    pub data: Vec<u8>,
    /// Unix time in seconds, chosen by the sender.
    pub timestamp: i64,
}

const TX_FIELDS: usize = 11;

/// Why a transaction breaks a rule that needs no chain state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatelessRejection {
    #[error("codec_version {0} is not supported")]
    CodecVersion(u8),
    #[error("data is {len} bytes, more than the maximum {max}")]
    DataTooLong { len: usize, max: usize },
    #[error("gas_limit {gas_limit} is below the minimum {min} for {tx_type}")]
    GasTooLow { tx_type: TxType, gas_limit: u64, min: u64 },
    #[error("fee gas_limit × gas_price overflows u64")]
    FeeOverflow,
    #[error("fee {fee} is below the minimum {min} (max(amount / 10000, 1000))")]
    FeeTooLow { fee: u64, min: u64 },
    #[error("amount + fee overflows u64")]
    TotalOverflow,
    #[error("data does not start with the chain tag for chain {expected:?}")]
    WrongChain { expected: String },
    #[error("sender and recipient are the same account")]
    SelfTransfer,
}

impl Transaction {
    /// The exact bytes the sender signs (v4 rule):
    /// `codec_version ‖ tx_type code ‖ from ‖ to ‖ amount LE ‖ nonce LE ‖ gas_limit LE ‖
    /// gas_price LE ‖ len(data) u32 LE ‖ data ‖ timestamp i64 LE`.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(self.signing_message_len());
        self.signing_message_into(&mut m);
        m
    }

    /// The length of [`Self::signing_message`].
    pub fn signing_message_len(&self) -> usize {
        2 + 64 + 32 + 4 + self.data.len() + 8
    }

    /// Appends [`Self::signing_message`] to `m` (many messages packed into one buffer).
    pub fn signing_message_into(&self, m: &mut Vec<u8>) {
        m.push(self.codec_version);
        m.push(self.tx_type.code());
        m.extend_from_slice(&self.from.0);
        m.extend_from_slice(&self.to.0);
        m.extend_from_slice(&self.amount.to_le_bytes());
        m.extend_from_slice(&self.nonce.to_le_bytes());
        m.extend_from_slice(&self.gas_limit.to_le_bytes());
        m.extend_from_slice(&self.gas_price.to_le_bytes());
        // `data` is bounded by MAX_TX_DATA (1 MiB), so the length always fits in u32.
        let data_len = u32::try_from(self.data.len()).unwrap_or(u32::MAX);
        m.extend_from_slice(&data_len.to_le_bytes());
        m.extend_from_slice(&self.data);
        m.extend_from_slice(&self.timestamp.to_le_bytes());
    }

    /// Appends the canonical MessagePack encoding to `w`.
    pub fn encode_into(&self, w: &mut Writer) {
        #[cfg(feature = "counters")]
        counters::ENCODES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        w.map_header(TX_FIELDS);
        w.key("codec_version");
        w.uint(self.codec_version.into());
        w.key("tx_type");
        w.str(self.tx_type.name());
        w.key("from");
        w.bin_fixed(&self.from.0);
        w.key("to");
        w.bin_fixed(&self.to.0);
        w.key("amount");
        w.uint(self.amount);
        w.key("nonce");
        w.uint(self.nonce);
        w.key("gas_limit");
        w.uint(self.gas_limit);
        w.key("gas_price");
        w.uint(self.gas_price);
        w.key("signature");
        w.bin_fixed(&self.signature.0);
        w.key("data");
        w.byte_array(&self.data);
        w.key("timestamp");
        w.int(self.timestamp);
    }

    /// The canonical MessagePack encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut w);
        w.into_bytes()
    }

    /// An upper bound good enough to allocate once.
    pub fn encoded_len_hint(&self) -> usize {
        260 + 2 * self.data.len()
    }

    /// The transaction hash: SHA-256 of [`Self::encode`], signature included (so the hash names
    /// exactly one signed transaction).
    pub fn hash(&self) -> Hash32 {
        hash_encoding(&self.encode())
    }

    /// The canonical encoding and the hash, from one encoding (for whoever stores the bytes).
    pub fn encode_and_hash(&self) -> (Vec<u8>, Hash32) {
        let encoded = self.encode();
        let hash = hash_encoding(&encoded);
        (encoded, hash)
    }

    /// Decodes one transaction, rejecting anything but its canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > limits::MAX_TX_BYTES {
            return Err(DecodeError::InputTooLarge {
                what: "transaction",
                len: bytes.len(),
                max: limits::MAX_TX_BYTES,
            });
        }
        let mut r = Reader::new(bytes);
        let tx = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(tx)
    }

    /// Reads one transaction from `r` (which may continue with more data).
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.map_header(TX_FIELDS)?;
        r.key("codec_version")?;
        let codec_version = r.uint(u8::MAX.into(), "codec_version")? as u8;
        if codec_version != CODEC_VERSION {
            return Err(DecodeError::UnsupportedVersion { what: "transaction codec", version: codec_version });
        }
        r.key("tx_type")?;
        let name = r.str()?;
        let tx_type = TxType::from_name(name)
            .ok_or_else(|| DecodeError::UnknownVariant { field: "tx_type", value: name.chars().take(64).collect() })?;
        r.key("from")?;
        let from = PublicKey(r.bin_fixed("from")?);
        r.key("to")?;
        let to = PublicKey(r.bin_fixed("to")?);
        r.key("amount")?;
        let amount = r.uint(u64::MAX, "amount")?;
        r.key("nonce")?;
        let nonce = r.uint(u64::MAX, "nonce")?;
        r.key("gas_limit")?;
        let gas_limit = r.uint(u64::MAX, "gas_limit")?;
        r.key("gas_price")?;
        let gas_price = r.uint(u64::MAX, "gas_price")?;
        r.key("signature")?;
        let signature = Signature(r.bin_fixed("signature")?);
        r.key("data")?;
        let data = r.byte_array(limits::MAX_TX_DATA, "data")?;
        r.key("timestamp")?;
        let timestamp = r.int("timestamp")?;
        Ok(Self { codec_version, tx_type, from, to, amount, nonce, gas_limit, gas_price, signature, data, timestamp })
    }

    /// `gas_limit × gas_price`, if it fits in u64.
    pub fn fee(&self) -> Option<u64> {
        self.gas_limit.checked_mul(self.gas_price)
    }

    /// `amount + fee`: what the sender's balance must cover.
    pub fn total_cost(&self) -> Option<u64> {
        self.fee()?.checked_add(self.amount)
    }

    /// The v4 fee floor for this amount.
    pub fn min_fee(&self) -> u64 {
        (self.amount / FEE_AMOUNT_DIVISOR).max(MIN_FEE)
    }

    /// The rules that need no chain state: version, sizes, gas, fee floor, overflow, and the
    /// chain tag that binds the transaction to `chain` (our replay protection across networks).
    /// Signatures are checked separately, in batches (crypto-core).
    pub fn check_stateless(&self, chain: &ChainId) -> Result<(), StatelessRejection> {
        if self.codec_version != CODEC_VERSION {
            return Err(StatelessRejection::CodecVersion(self.codec_version));
        }
        if self.data.len() > limits::MAX_TX_DATA {
            return Err(StatelessRejection::DataTooLong { len: self.data.len(), max: limits::MAX_TX_DATA });
        }
        let min = self.tx_type.min_gas();
        if self.gas_limit < min {
            return Err(StatelessRejection::GasTooLow { tx_type: self.tx_type, gas_limit: self.gas_limit, min });
        }
        let fee = self.fee().ok_or(StatelessRejection::FeeOverflow)?;
        if fee < self.min_fee() {
            return Err(StatelessRejection::FeeTooLow { fee, min: self.min_fee() });
        }
        self.total_cost().ok_or(StatelessRejection::TotalOverflow)?;
        if !self.data.starts_with(&chain_tag(chain)) {
            return Err(StatelessRejection::WrongChain { expected: chain.to_string() });
        }
        if self.tx_type == TxType::Transfer && self.from == self.to {
            return Err(StatelessRejection::SelfTransfer);
        }
        Ok(())
    }

    /// Checks sizes so that the value can be encoded on the chain.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.codec_version != CODEC_VERSION {
            return Err(ValidationError::CodecVersion { found: self.codec_version.into(), expected: CODEC_VERSION });
        }
        if self.data.len() > limits::MAX_TX_DATA {
            return Err(ValidationError::TooLong { field: "data", len: self.data.len(), max: limits::MAX_TX_DATA });
        }
        Ok(())
    }
}

/// The prefix of a transaction's `data` that binds it to one chain: ASCII `cj:<chain id>\n`.
///
/// v4 signs no chain id, so without this a transfer signed for Network A could be replayed on
/// Network B by anyone holding a copy. Our ledger refuses transactions whose `data` does not
/// start with its own chain's tag; whatever follows the tag is the sender's memo.
pub fn chain_tag(chain: &ChainId) -> Vec<u8> {
    let mut tag = Vec::with_capacity(chain.as_str().len() + 4);
    tag.extend_from_slice(b"cj:");
    tag.extend_from_slice(chain.as_str().as_bytes());
    tag.push(b'\n');
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(chain: &ChainId) -> Transaction {
        let mut data = chain_tag(chain);
        data.extend_from_slice(b"memo \x80\xff");
        Transaction {
            codec_version: 1,
            tx_type: TxType::Transfer,
            from: PublicKey([1; 32]),
            to: PublicKey([2; 32]),
            amount: 1_000_000,
            nonce: 7,
            gas_limit: 21_000,
            gas_price: 1,
            signature: Signature([9; 64]),
            data,
            timestamp: 1_704_067_200,
        }
    }

    fn chain() -> ChainId {
        ChainId::new("coinjecture-go-testnet").unwrap()
    }

    #[test]
    fn encode_decode_round_trip_and_hash_covers_the_signature() {
        let tx = sample(&chain());
        let bytes = tx.encode();
        assert_eq!(Transaction::decode(&bytes).unwrap(), tx);
        assert_eq!(&bytes[..1], b"\x8b");
        let resigned = Transaction { signature: Signature([8; 64]), ..tx.clone() };
        assert_ne!(resigned.hash(), tx.hash());
        assert_eq!(resigned.signing_message(), tx.signing_message());
    }

    #[test]
    fn signing_message_layout_is_little_endian_with_a_data_length() {
        let tx = sample(&chain());
        let m = tx.signing_message();
        assert_eq!(m.len(), 1 + 1 + 32 + 32 + 8 * 4 + 4 + tx.data.len() + 8);
        assert_eq!(m.len(), tx.signing_message_len(), "the length used to pack messages");
        assert_eq!(m[0], 1);
        assert_eq!(m[1], 1);
        assert_eq!(&m[66..74], &1_000_000u64.to_le_bytes());
        assert_eq!(&m[98..102], &(tx.data.len() as u32).to_le_bytes());
    }

    #[test]
    fn unknown_tx_type_names_the_field() {
        let tx = sample(&chain());
        let bytes = tx.encode();
        let pos = bytes.windows(8).position(|w| w == b"Transfer").unwrap();
        let mut bad = bytes.clone();
        bad[pos..pos + 8].copy_from_slice(b"Transfex");
        let err = Transaction::decode(&bad).unwrap_err();
        assert_eq!(err.to_string(), "tx_type: unknown value \"Transfex\"");
    }

    #[test]
    fn stateless_rules_reject_with_their_reason() {
        let c = chain();
        let ok = sample(&c);
        ok.check_stateless(&c).unwrap();
        let low_gas = Transaction { gas_limit: 20_999, ..ok.clone() };
        assert!(matches!(low_gas.check_stateless(&c), Err(StatelessRejection::GasTooLow { .. })));
        let cheap = Transaction { gas_limit: 21_000, gas_price: 0, ..ok.clone() };
        assert!(matches!(cheap.check_stateless(&c), Err(StatelessRejection::FeeTooLow { .. })));
        // 1e9 units need a fee of at least 100_000; 21_000 × 1 is too little.
        let big = Transaction { amount: 1_000_000_000, ..ok.clone() };
        assert!(matches!(big.check_stateless(&c), Err(StatelessRejection::FeeTooLow { fee: 21_000, min: 100_000 })));
        let overflow = Transaction { gas_price: u64::MAX, ..ok.clone() };
        assert_eq!(overflow.check_stateless(&c), Err(StatelessRejection::FeeOverflow));
        let total = Transaction { amount: u64::MAX, gas_limit: u64::MAX / 2, gas_price: 2, ..ok.clone() };
        assert_eq!(total.check_stateless(&c), Err(StatelessRejection::TotalOverflow));
        let other = ChainId::new("coinjecture-migration-testnet").unwrap();
        assert!(matches!(ok.check_stateless(&other), Err(StatelessRejection::WrongChain { .. })));
        let to_self = Transaction { to: ok.from, ..ok.clone() };
        assert_eq!(to_self.check_stateless(&c), Err(StatelessRejection::SelfTransfer));
    }
}
