//! The v4 block header, its MessagePack encoding and hash, and the PoA layout of `extra_data`.

use crate::chain::{CODEC_VERSION, ChainId, limits};
use crate::error::{DecodeError, ValidationError};
use crate::hash::{Hash32, PublicKey, sha256};
use crate::msgpack::{Reader, Writer};
use crate::units::{Height, Round, UnixMillis};

/// A block header exactly as the v4 core defines it (field order is the encoding order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockHeader {
    /// Always [`CODEC_VERSION`].
    pub codec_version: u8,
    /// The block height; genesis is 0.
    pub block_index: Height,
    /// Unix time in seconds (the milliseconds of a PoA block are in [`PoaExtra`]).
    pub timestamp: i64,
    /// Hash of the parent header; zeros for genesis.
    pub parent_hash: Hash32,
    /// Merkle root of the block's transaction hashes (see crypto-core's Merkle rule).
    pub merkle_root: Hash32,
    /// The proposer's ed25519 public key.
    pub miner_address: PublicKey,
    /// Subset-sum commit–reveal commitment, or zeros when the block carries no work.
    pub commitment: Hash32,
    /// Proof-of-work difficulty; 0 on the PoA chain.
    pub difficulty_target: u64,
    /// Proof-of-work nonce; 0 on the PoA chain.
    pub nonce: u64,
    /// Up to 256 opaque bytes; PoA blocks carry a [`PoaExtra`] here.
    pub extra_data: Vec<u8>,
}

const HEADER_FIELDS: usize = 10;

impl BlockHeader {
    /// Checks the size and version rules a header must meet to be encoded on the chain.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.codec_version != CODEC_VERSION {
            return Err(ValidationError::CodecVersion { found: self.codec_version.into(), expected: CODEC_VERSION });
        }
        if self.extra_data.len() > limits::MAX_EXTRA_DATA {
            return Err(ValidationError::TooLong {
                field: "extra_data",
                len: self.extra_data.len(),
                max: limits::MAX_EXTRA_DATA,
            });
        }
        Ok(())
    }

    /// Appends the canonical MessagePack encoding to `w`.
    pub fn encode_into(&self, w: &mut Writer) {
        w.map_header(HEADER_FIELDS);
        w.key("codec_version");
        w.uint(self.codec_version.into());
        w.key("block_index");
        w.uint(self.block_index.get());
        w.key("timestamp");
        w.int(self.timestamp);
        w.key("parent_hash");
        w.bin_fixed(&self.parent_hash.0);
        w.key("merkle_root");
        w.bin_fixed(&self.merkle_root.0);
        w.key("miner_address");
        w.bin_fixed(&self.miner_address.0);
        w.key("commitment");
        w.bin_fixed(&self.commitment.0);
        w.key("difficulty_target");
        w.uint(self.difficulty_target);
        w.key("nonce");
        w.uint(self.nonce);
        w.key("extra_data");
        w.byte_array(&self.extra_data);
    }

    /// The canonical MessagePack encoding (what the block hash is taken over).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(270 + 2 * self.extra_data.len());
        self.encode_into(&mut w);
        w.into_bytes()
    }

    /// The block hash: SHA-256 of [`Self::encode`].
    pub fn hash(&self) -> Hash32 {
        sha256(&self.encode())
    }

    /// Decodes one header, rejecting anything but its canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(header)
    }

    /// Reads one header from `r` (which may continue with more data).
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.map_header(HEADER_FIELDS)?;
        r.key("codec_version")?;
        let codec_version = r.uint(u8::MAX.into(), "codec_version")? as u8;
        if codec_version != CODEC_VERSION {
            return Err(DecodeError::UnsupportedVersion { what: "header codec", version: codec_version });
        }
        r.key("block_index")?;
        let block_index = Height(r.uint(u64::MAX, "block_index")?);
        r.key("timestamp")?;
        let timestamp = r.int("timestamp")?;
        r.key("parent_hash")?;
        let parent_hash = Hash32(r.bin_fixed("parent_hash")?);
        r.key("merkle_root")?;
        let merkle_root = Hash32(r.bin_fixed("merkle_root")?);
        r.key("miner_address")?;
        let miner_address = PublicKey(r.bin_fixed("miner_address")?);
        r.key("commitment")?;
        let commitment = Hash32(r.bin_fixed("commitment")?);
        r.key("difficulty_target")?;
        let difficulty_target = r.uint(u64::MAX, "difficulty_target")?;
        r.key("nonce")?;
        let nonce = r.uint(u64::MAX, "nonce")?;
        r.key("extra_data")?;
        let extra_data = r.byte_array(limits::MAX_EXTRA_DATA, "extra_data")?;
        Ok(Self {
            codec_version,
            block_index,
            timestamp,
            parent_hash,
            merkle_root,
            miner_address,
            commitment,
            difficulty_target,
            nonce,
            extra_data,
        })
    }

    /// The block time in milliseconds since the Unix epoch, using the PoA extra data's
    /// millisecond remainder when present.
    pub fn timestamp_ms(&self) -> UnixMillis {
        let millis = PoaExtra::decode(&self.extra_data).map(|e| i64::from(e.timestamp_millis)).unwrap_or(0);
        UnixMillis(self.timestamp.saturating_mul(1000).saturating_add(millis))
    }
}

/// What the PoA chain adds to a v4 header, carried in `extra_data` (documented byte by byte in
/// `golden/README.md`, section "extra_data"):
///
/// ```text
/// offset  size  field
/// 0       1     layout version = 1
/// 1       4     round, u32 big-endian
/// 5       2     timestamp milliseconds remainder, u16 big-endian, 0..=999
/// 7       32    state commitment after applying this block
/// 39      0..64 chain id (ASCII), in the genesis block only; absent in every other block
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoaExtra {
    /// The consensus round in which this block was proposed.
    pub round: Round,
    /// Milliseconds to add to the header's `timestamp` (seconds).
    pub timestamp_millis: u16,
    /// The ledger's state commitment after this block's transactions are applied.
    pub state_commitment: Hash32,
    /// The chain id, carried by the genesis block so that each network has its own genesis hash.
    pub chain_id: Option<ChainId>,
}

impl PoaExtra {
    /// Layout version of the first byte.
    pub const LAYOUT_VERSION: u8 = 1;
    /// Encoded length without the genesis chain id.
    pub const BASE_LEN: usize = 39;

    /// Checks what [`Self::decode`] would refuse in the encoding: milliseconds above 999 (the
    /// chain id is valid by construction). [`Self::encode`] assumes this holds.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.timestamp_millis > 999 {
            return Err(ValidationError::Field {
                field: "timestamp_millis",
                reason: format!("{} is above 999", self.timestamp_millis),
            });
        }
        Ok(())
    }

    /// The `extra_data` bytes.
    pub fn encode(&self) -> Vec<u8> {
        let chain = self.chain_id.as_ref().map(|c| c.as_str().as_bytes()).unwrap_or_default();
        let mut out = Vec::with_capacity(Self::BASE_LEN + chain.len());
        out.push(Self::LAYOUT_VERSION);
        out.extend_from_slice(&self.round.to_be_bytes());
        out.extend_from_slice(&self.timestamp_millis.to_be_bytes());
        out.extend_from_slice(&self.state_commitment.0);
        out.extend_from_slice(chain);
        out
    }

    /// Parses the `extra_data` of the block at `height`: the genesis block (height 0) must carry
    /// the chain id and every other block must not. This is the check block validation uses.
    pub fn decode_at(bytes: &[u8], height: Height) -> Result<Self, DecodeError> {
        let extra = Self::decode(bytes)?;
        match (height, extra.chain_id.is_some()) {
            (Height::GENESIS, false) => Err(DecodeError::OutOfRange {
                offset: Self::BASE_LEN,
                field: "extra_data.chain_id",
                value: "absent in the genesis block".into(),
            }),
            (h, true) if h > Height::GENESIS => Err(DecodeError::OutOfRange {
                offset: Self::BASE_LEN,
                field: "extra_data.chain_id",
                value: format!("present in block {h}; only genesis carries it"),
            }),
            _ => Ok(extra),
        }
    }

    /// Parses `extra_data`, strictly (any height; see [`Self::decode_at`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < Self::BASE_LEN {
            return Err(DecodeError::WrongLength { field: "extra_data", expected: Self::BASE_LEN, found: bytes.len() });
        }
        if bytes[0] != Self::LAYOUT_VERSION {
            return Err(DecodeError::UnsupportedVersion { what: "extra_data layout", version: bytes[0] });
        }
        let round = Round::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        let timestamp_millis = u16::from_be_bytes([bytes[5], bytes[6]]);
        if timestamp_millis > 999 {
            return Err(DecodeError::OutOfRange {
                offset: 5,
                field: "extra_data.timestamp_millis",
                value: timestamp_millis.to_string(),
            });
        }
        let state_commitment = Hash32::from_slice(&bytes[7..39]).map_err(DecodeError::Invalid)?;
        let chain_id = match &bytes[39..] {
            [] => None,
            rest => {
                let s = std::str::from_utf8(rest).map_err(|_| DecodeError::InvalidUtf8 { offset: 39 })?;
                Some(ChainId::new(s)?)
            }
        };
        Ok(Self { round, timestamp_millis, state_commitment, chain_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream_genesis() -> BlockHeader {
        BlockHeader { codec_version: 1, timestamp: 1_609_459_200, difficulty_target: 1000, ..Default::default() }
    }

    #[test]
    fn upstream_genesis_header_is_269_bytes_and_hashes_to_d1d959b0() {
        let h = upstream_genesis();
        assert_eq!(h.encode().len(), 269);
        assert_eq!(h.hash().to_hex(), "d1d959b0b7ec30e7613e650973fe34fc55c40bd97c476135e8163ee28068f66c");
    }

    #[test]
    fn header_encoding_starts_with_a_named_map_in_field_order() {
        let bytes = upstream_genesis().encode();
        // fixmap(10), fixstr(13) "codec_version", 1
        assert_eq!(&bytes[..16], b"\x8a\xadcodec_version\x01");
        assert!(bytes.ends_with(b"\xaaextra_data\x90"));
    }

    #[test]
    fn decode_rejects_trailing_bytes_other_versions_and_long_extra_data() {
        let mut bytes = upstream_genesis().encode();
        assert_eq!(BlockHeader::decode(&bytes).unwrap(), upstream_genesis());
        bytes.push(0);
        assert!(matches!(BlockHeader::decode(&bytes), Err(DecodeError::TrailingBytes { count: 1 })));

        let v2 = BlockHeader { codec_version: 2, ..upstream_genesis() };
        assert!(matches!(BlockHeader::decode(&v2.encode()), Err(DecodeError::UnsupportedVersion { .. })));
        assert!(v2.validate().is_err());

        let long = BlockHeader { extra_data: vec![7; 257], ..upstream_genesis() };
        assert!(long.validate().is_err());
        assert!(matches!(BlockHeader::decode(&long.encode()), Err(DecodeError::TooLong { field: "extra_data", .. })));
    }

    #[test]
    fn poa_extra_round_trips_and_rejects_bad_layouts() {
        let extra = PoaExtra {
            round: Round(3),
            timestamp_millis: 999,
            state_commitment: sha256(b"state"),
            chain_id: Some(ChainId::new("coinjecture-go-testnet").unwrap()),
        };
        let bytes = extra.encode();
        assert_eq!(bytes.len(), 39 + 22);
        assert_eq!(PoaExtra::decode(&bytes).unwrap(), extra);
        let mut bad_millis = bytes.clone();
        bad_millis[5..7].copy_from_slice(&1000u16.to_be_bytes());
        assert!(PoaExtra::decode(&bad_millis).is_err());
        // What the decoder refuses, validation refuses before encoding (golden/README.md §1.4).
        assert!(extra.validate().is_ok());
        let too_many_millis = PoaExtra { timestamp_millis: 1000, ..extra.clone() };
        assert_eq!(
            too_many_millis.validate(),
            Err(ValidationError::Field { field: "timestamp_millis", reason: "1000 is above 999".into() })
        );
        let mut bad_version = bytes.clone();
        bad_version[0] = 2;
        assert!(PoaExtra::decode(&bad_version).is_err());
        assert!(PoaExtra::decode(&bytes[..38]).is_err());
        assert!(PoaExtra::decode_at(&bytes, Height(0)).is_ok());
        assert!(PoaExtra::decode_at(&bytes, Height(1)).is_err());
        let plain = PoaExtra { chain_id: None, ..extra }.encode();
        assert!(PoaExtra::decode_at(&plain, Height(0)).is_err());
        assert!(PoaExtra::decode_at(&plain, Height(7)).is_ok());
    }

    #[test]
    fn timestamp_ms_combines_seconds_and_extra_millis() {
        let extra = PoaExtra { round: Round(0), timestamp_millis: 250, state_commitment: Hash32::ZERO, chain_id: None };
        let h = BlockHeader { timestamp: 10, extra_data: extra.encode(), ..upstream_genesis() };
        assert_eq!(h.timestamp_ms(), UnixMillis(10_250));
        assert_eq!(upstream_genesis().timestamp_ms(), UnixMillis(1_609_459_200_000));
    }
}
