//! Account state and the state commitment (defined in the crate overview).

use coinjecture_primitives::{Hash32, PublicKey, sha256_concat};

/// Domain separator of the state commitment; the trailing NUL ends the label.
pub const STATE_COMMITMENT_DOMAIN: &[u8] = b"coinjecture/v1/state\0";

/// Bytes of one commitment entry: address (32) ‖ balance u64 BE ‖ nonce u64 BE.
pub const STATE_ENTRY_LEN: usize = 32 + 8 + 8;

/// An account's balance and nonce. An account never seen is `AccountState::default()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct AccountState {
    /// Balance in the chain's smallest unit.
    pub balance: u64,
    /// The nonce the account's next transaction must carry.
    pub nonce: u64,
}

/// `SHA-256(domain ‖ previous ‖ entries)`, entries = `address ‖ balance u64 BE ‖ nonce u64 BE` for
/// every changed account, `changes` sorted by address ascending (each address once).
pub fn next_state_commitment(previous: &Hash32, changes: &[(PublicKey, AccountState)]) -> Hash32 {
    debug_assert!(changes.windows(2).all(|w| w[0].0 < w[1].0), "changes must be sorted and unique");
    let mut entries = Vec::with_capacity(changes.len() * STATE_ENTRY_LEN);
    for (address, account) in changes {
        entries.extend_from_slice(&address.0);
        entries.extend_from_slice(&account.balance.to_be_bytes());
        entries.extend_from_slice(&account.nonce.to_be_bytes());
    }
    sha256_concat(&[STATE_COMMITMENT_DOMAIN, &previous.0, &entries])
}

#[cfg(test)]
mod tests {
    use super::*;
    use coinjecture_primitives::sha256;

    #[test]
    fn commitment_is_sha256_of_domain_previous_and_big_endian_entries() {
        let changes = [(PublicKey([1; 32]), AccountState { balance: 5, nonce: 2 })];
        let mut expected = b"coinjecture/v1/state\0".to_vec();
        expected.extend_from_slice(&[0; 32]);
        expected.extend_from_slice(&[1; 32]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(next_state_commitment(&Hash32::ZERO, &changes), sha256(&expected));
    }

    #[test]
    fn an_empty_block_still_advances_the_chain_of_commitments() {
        let c0 = next_state_commitment(&Hash32::ZERO, &[]);
        let c1 = next_state_commitment(&c0, &[]);
        assert_ne!(c0, c1);
    }
}
