//! A validator's libp2p peer id from its ed25519 public key (a node's network identity is its
//! validator key): base58btc of the identity multihash of the protobuf-encoded public key
//! (libp2p's peer-id spec: keys of ≤ 42 encoded bytes are inlined).

/// The peer id (`12D3KooW…`) of an ed25519 public key; `None` unless it is 32 bytes.
pub(crate) fn of_ed25519(public_key: &[u8]) -> Option<String> {
    if public_key.len() != 32 {
        return None;
    }
    // multihash(identity = 0x00, length 36) ‖ protobuf PublicKey { Type = Ed25519 (1), Data }.
    let mut bytes = vec![0x00, 36, 0x08, 0x01, 0x12, 32];
    bytes.extend_from_slice(public_key);
    Some(base58(&bytes))
}

/// Bitcoin-alphabet base58.
fn base58(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new(); // base 58, least significant first
    for &byte in bytes {
        let mut carry = u32::from(byte);
        for d in &mut digits {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    std::iter::repeat_n('1', zeros).chain(digits.iter().rev().map(|d| char::from(ALPHABET[usize::from(*d)]))).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn base58_matches_known_values() {
        assert_eq!(base58(b""), "");
        assert_eq!(base58(&[0, 0, 1]), "112");
        assert_eq!(base58(b"hello world"), "StV1DL6CwTryKyV");
    }

    #[test]
    fn peer_ids_match_libp2p() {
        // `coinjectured keygen` printed this key's peer id (libp2p's own derivation).
        let key = hex_key("aae6620c5f8dcce0061d11319b7d6ae0003d2fadd2d33e72c81b33504ed636e2");
        assert_eq!(of_ed25519(&key).unwrap(), "12D3KooWMKVEFhXKbSak1qyvYczz9NpFJiWyLHco4EHiAhR8NqqB");
        assert_eq!(of_ed25519(&[1; 31]), None);
    }

    fn hex_key(hex: &str) -> Vec<u8> {
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    }
}
