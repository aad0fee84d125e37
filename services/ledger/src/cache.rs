//! The account cache: account rows as of one tip, kept in memory so that executing a block
//! reads no account from SQLite for the accounts it has seen recently.
//!
//! Correctness rests on one rule: the cache says which tip its rows belong to, and a reader uses
//! it only when that tip is the tip of its own SQLite snapshot. ApplyBlock advances the cache
//! after its commit (under the ledger's write lock); between the commit and the advance, and for
//! readers still on an older snapshot, the tips differ and the reader goes to SQLite. A row
//! absent from SQLite is cached as the zero row, so new recipients are not looked up again.
//!
//! Bounded: past `capacity` rows the cache is emptied and refills from SQLite (simple, and a
//! full refill costs one block's worth of reads).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use coinjecture_primitives::{Hash32, PublicKey};

use crate::store::AccountRow;

/// Default bound: about 70 MiB of rows.
pub(crate) const DEFAULT_CAPACITY: usize = 1_000_000;

#[derive(Debug)]
struct Inner {
    /// The tip the rows are the state of; `None` before the first fill.
    tip: Option<Hash32>,
    rows: HashMap<PublicKey, AccountRow>,
}

/// Account rows at one tip (see the module docs).
#[derive(Debug)]
pub(crate) struct AccountCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl AccountCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { inner: Mutex::new(Inner { tip: None, rows: HashMap::new() }), capacity }
    }

    /// The cached rows of `addresses` at `tip` and the addresses not cached; everything is
    /// missing when the cache is at another tip.
    pub(crate) fn lookup(
        &self,
        tip: &Hash32,
        addresses: &[PublicKey],
    ) -> (HashMap<PublicKey, AccountRow>, Vec<PublicKey>) {
        let Ok(inner) = self.inner.lock() else { return (HashMap::new(), addresses.to_vec()) };
        if inner.tip.as_ref() != Some(tip) {
            return (HashMap::new(), addresses.to_vec());
        }
        let mut found = HashMap::with_capacity(addresses.len());
        let mut missing = Vec::new();
        for address in addresses {
            match inner.rows.get(address) {
                Some(row) => {
                    found.insert(*address, *row);
                }
                None => missing.push(*address),
            }
        }
        (found, missing)
    }

    /// Remembers rows read from SQLite at `tip`: `found` rows, and zero rows for the rest of
    /// `asked`. Ignored when the cache is at another tip (it may be newer). An empty cache
    /// adopts `tip`.
    pub(crate) fn fill(&self, tip: &Hash32, asked: &[PublicKey], found: &HashMap<PublicKey, AccountRow>) {
        let Ok(mut inner) = self.inner.lock() else { return };
        if inner.tip.is_none() || (inner.rows.is_empty() && inner.tip.as_ref() != Some(tip)) {
            inner.tip = Some(*tip);
        }
        if inner.tip.as_ref() != Some(tip) {
            return;
        }
        if inner.rows.len() + asked.len() > self.capacity {
            inner.rows.clear();
        }
        for address in asked {
            inner.rows.insert(*address, found.get(address).copied().unwrap_or_default());
        }
    }

    /// After ApplyBlock committed the block `new_tip` on `parent`: the block's written rows
    /// become the cache's state at `new_tip`. A cache not at `parent` is emptied first.
    pub(crate) fn advance(&self, parent: &Hash32, new_tip: &Hash32, written: &[(PublicKey, AccountRow)]) {
        let Ok(mut inner) = self.inner.lock() else { return };
        if inner.tip.as_ref() != Some(parent) || inner.rows.len() + written.len() > self.capacity {
            inner.rows.clear();
        }
        inner.tip = Some(*new_tip);
        for (address, row) in written {
            inner.rows.insert(*address, *row);
        }
    }
}

/// Default bound of [`VerifiedSignatures`]: about 26 s of transactions at 10,000 per second.
pub(crate) const DEFAULT_VERIFIED: usize = 1 << 18;

/// Hashes of transactions whose signature crypto-core has verified, so that a transaction
/// admitted to the mempool (CheckTransactions) is not verified again when it comes back inside
/// a proposal (ExecuteBlock). Sound because the transaction hash covers every field, the
/// signature included: the same hash is the same signed transaction. The oldest hashes are
/// forgotten first (a forgotten one is simply verified again).
#[derive(Debug)]
pub(crate) struct VerifiedSignatures {
    inner: Mutex<(HashSet<Hash32>, VecDeque<Hash32>)>,
    capacity: usize,
}

impl VerifiedSignatures {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { inner: Mutex::new((HashSet::new(), VecDeque::new())), capacity: capacity.max(1) }
    }

    /// Which of `hashes` are known to carry a valid signature.
    pub(crate) fn known(&self, hashes: &[Hash32]) -> Vec<bool> {
        match self.inner.lock() {
            Ok(inner) => hashes.iter().map(|h| inner.0.contains(h)).collect(),
            Err(_) => vec![false; hashes.len()],
        }
    }

    /// Remembers hashes whose signature verified.
    pub(crate) fn insert(&self, hashes: impl IntoIterator<Item = Hash32>) {
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
    use crate::state::AccountState;

    fn row(balance: u64) -> AccountRow {
        AccountRow { state: AccountState { balance, nonce: 0 }, last_tx: None }
    }

    #[test]
    fn rows_are_served_only_at_their_tip() {
        let cache = AccountCache::new(10);
        let (a, b) = (PublicKey([1; 32]), PublicKey([2; 32]));
        let (t0, t1) = (Hash32([10; 32]), Hash32([11; 32]));
        cache.fill(&t0, &[a, b], &HashMap::from([(a, row(5))]));
        let (found, missing) = cache.lookup(&t0, &[a, b]);
        assert_eq!(found.get(&a), Some(&row(5)));
        assert_eq!(found.get(&b), Some(&row(0)), "absent from SQLite is cached as zero");
        assert!(missing.is_empty());
        // A reader on another snapshot gets nothing from the cache.
        assert_eq!(cache.lookup(&t1, &[a]).1, vec![a]);
        // The block t1 on t0 wrote a = 7: the cache moves to t1 keeping b.
        cache.advance(&t0, &t1, &[(a, row(7))]);
        let (found, _) = cache.lookup(&t1, &[a, b]);
        assert_eq!((found[&a], found[&b]), (row(7), row(0)));
        assert_eq!(cache.lookup(&t0, &[a]).1, vec![a], "the old tip is no longer served");
        // A fill from a stale snapshot (t0) does not overwrite the newer state.
        cache.fill(&t0, &[a], &HashMap::from([(a, row(5))]));
        assert_eq!(cache.lookup(&t1, &[a]).0[&a], row(7));
    }

    #[test]
    fn advancing_from_another_parent_or_past_capacity_empties_it() {
        let cache = AccountCache::new(2);
        let (a, b, c) = (PublicKey([1; 32]), PublicKey([2; 32]), PublicKey([3; 32]));
        let (t0, t1, t2) = (Hash32([10; 32]), Hash32([11; 32]), Hash32([12; 32]));
        cache.fill(&t0, &[a, b], &HashMap::new());
        cache.advance(&t1, &t2, &[(c, row(1))]);
        assert_eq!(cache.lookup(&t2, &[a, c]).1, vec![a], "rows of an unknown parent are dropped");
        cache.fill(&t2, &[a, b], &HashMap::new());
        let (found, missing) = cache.lookup(&t2, &[a, b, c]);
        assert!(found.len() <= 2 && found.len() + missing.len() == 3, "never above capacity");
    }

    #[test]
    fn verified_signatures_are_remembered_up_to_the_capacity_oldest_forgotten_first() {
        let verified = VerifiedSignatures::new(2);
        let (h1, h2, h3) = (Hash32([1; 32]), Hash32([2; 32]), Hash32([3; 32]));
        verified.insert([h1, h2]);
        assert_eq!(verified.known(&[h1, h2, h3]), vec![true, true, false]);
        verified.insert([h2, h3]);
        assert_eq!(verified.known(&[h1, h2, h3]), vec![false, true, true]);
    }
}
