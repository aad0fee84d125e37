//! Fixed-size byte values: hashes, public keys, signatures; and the one hash function.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::error::ValidationError;

/// SHA-256 of `data`. The only hash function of the chain.
pub fn sha256(data: &[u8]) -> Hash32 {
    Hash32(Sha256::digest(data).into())
}

/// SHA-256 over the concatenation of `parts`, without building the concatenation.
pub fn sha256_concat(parts: &[&[u8]]) -> Hash32 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    Hash32(h.finalize().into())
}

macro_rules! fixed_bytes {
    ($(#[$doc:meta])* $name:ident, $len:expr, $field:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;
            /// All zero bytes.
            pub const ZERO: Self = Self([0u8; $len]);

            /// The bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Lower-case hex.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            /// From a slice that must be exactly the right length.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, ValidationError> {
                Self::from_slice_named(bytes, $field)
            }

            /// As [`Self::from_slice`], naming `field` in the error.
            pub fn from_slice_named(bytes: &[u8], field: &'static str) -> Result<Self, ValidationError> {
                <[u8; $len]>::try_from(bytes)
                    .map(Self)
                    .map_err(|_| ValidationError::WrongLength { field, expected: $len, found: bytes.len() })
            }

            /// From hex (with or without `0x`), naming `field` in the error.
            pub fn from_hex_named(s: &str, field: &'static str) -> Result<Self, ValidationError> {
                let s = s.strip_prefix("0x").unwrap_or(s);
                let bytes = hex::decode(s).map_err(|e| ValidationError::Hex { field, reason: e.to_string() })?;
                Self::from_slice_named(&bytes, field)
            }

            /// True if every byte is zero.
            pub fn is_zero(&self) -> bool {
                self.0 == [0u8; $len]
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::ZERO
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_hex_named(s, $field)
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
    };
}

fixed_bytes!(
    /// A SHA-256 digest: block hashes, transaction hashes, Merkle nodes, commitments.
    Hash32, 32, "hash"
);
fixed_bytes!(
    /// An ed25519 public key. On chain it identifies an account (`from`, `to`) and a validator
    /// (`miner_address`), exactly as the v4 core uses raw public keys.
    PublicKey, 32, "public_key"
);
fixed_bytes!(
    /// An ed25519 signature (R ‖ s).
    Signature, 64, "signature"
);

/// The v4 core's derived address: SHA-256 of the public key. Offered for parity
/// (crypto-core's `DeriveAddress`); accounts on chain are keyed by the public key itself.
pub fn derive_address(public_key: &PublicKey) -> Hash32 {
    sha256(public_key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_named_errors() {
        let h = sha256(b"");
        assert_eq!(h.to_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(h, h.to_hex().parse().unwrap());
        assert_eq!(h, format!("0x{h}").parse().unwrap());
        let err = PublicKey::from_hex_named("abcd", "to").unwrap_err();
        assert_eq!(err.to_string(), "to: expected 32 bytes, found 2");
        assert!(Signature::from_str("zz").unwrap_err().to_string().contains("signature"));
    }

    #[test]
    fn concat_hash_equals_hash_of_concatenation() {
        assert_eq!(sha256_concat(&[b"ab", b"", b"c"]), sha256(b"abc"));
    }
}
