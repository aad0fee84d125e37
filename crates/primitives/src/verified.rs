//! [`VerifiedSignatures`]: the hashes of transactions whose signature this process verified,
//! shared by everything in the process that checks transactions (the ledger's admission and
//! block validation, consensus's gossip validation), so each signature is verified once per
//! node wherever its transaction first arrives.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use crate::Hash32;

/// Hashes of transactions whose signature was verified valid in this process, so that a
/// transaction met again (admitted to the mempool, then inside a proposal; or in a proposal,
/// then by gossip) is not verified again. Sound because the transaction hash covers every
/// field, the signature included: the same hash is the same signed transaction. Holds at most
/// its capacity; the oldest hashes are forgotten first (a forgotten one is simply verified
/// again). Never filled from another process's word: only verdicts computed here go in.
#[derive(Debug)]
pub struct VerifiedSignatures {
    inner: Mutex<(HashSet<Hash32>, VecDeque<Hash32>)>,
    capacity: usize,
}

impl VerifiedSignatures {
    /// Remembers at most `capacity` hashes (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self { inner: Mutex::new((HashSet::new(), VecDeque::new())), capacity: capacity.max(1) }
    }

    /// Which of `hashes` are known to carry a valid signature.
    pub fn known(&self, hashes: &[Hash32]) -> Vec<bool> {
        match self.inner.lock() {
            Ok(inner) => hashes.iter().map(|h| inner.0.contains(h)).collect(),
            Err(_) => vec![false; hashes.len()],
        }
    }

    /// Forgets every hash (benchmarks measure validation with no signature verified before).
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.0.clear();
            inner.1.clear();
        }
    }

    /// Remembers hashes whose signature verified.
    pub fn insert(&self, hashes: impl IntoIterator<Item = Hash32>) {
        let Ok(mut inner) = self.inner.lock() else { return };
        let (set, order) = &mut *inner;
        for hash in hashes {
            if set.insert(hash) {
                order.push_back(hash);
            }
            while order.len() > self.capacity {
                if let Some(old) = order.pop_front() {
                    set.remove(&old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_signatures_are_remembered_up_to_the_capacity_oldest_forgotten_first() {
        let verified = VerifiedSignatures::new(2);
        let (h1, h2, h3) = (Hash32([1; 32]), Hash32([2; 32]), Hash32([3; 32]));
        verified.insert([h1, h2]);
        assert_eq!(verified.known(&[h1, h2, h3]), vec![true, true, false]);
        verified.insert([h2, h3]);
        assert_eq!(verified.known(&[h1, h2, h3]), vec![false, true, true]);
        verified.clear();
        assert_eq!(verified.known(&[h1, h2, h3]), vec![false; 3]);
    }
}
