//! The in-memory account state: every journaled account (authoritative) plus a cache of rows
//! read from the `accounts` table, both valid for one [`AccountView`].
//!
//! The state at the tip is `accounts` overlaid with `account_journal` (see
//! migrations/0003_account_journal.sql). The journaled part lives here in full: ApplyBlock adds
//! each block's rows after its commit (under the ledger's write lock), a fold moves them into the
//! table part, and `Ledger::open` rebuilds it from the journal. An account not journaled has the
//! same row in `accounts` as at the tip, so the table part is an ordinary cache: bounded, emptied
//! past its capacity and refilled from SQLite.
//!
//! Correctness rests on one rule: a reader uses this state only when its SQLite snapshot has the
//! same view (tip and first journaled height) as the state. Otherwise (a block or a fold landed
//! between the reader's snapshot and its lookup) the reader reads the table and the journal
//! from its own snapshot instead. A row absent from SQLite is cached as the zero row, so new
//! recipients are not looked up again.

use std::collections::HashMap;
use std::sync::Mutex;

use coinjecture_primitives::{Hash32, Height, PublicKey};

use crate::store::AccountRow;

/// The maps of the account state: foldhash, seeded randomly per process, is several times faster
/// than SipHash on 32-byte keys, and the per-process seed keeps addresses chosen to collide from
/// degrading the map.
type AccountMap = HashMap<PublicKey, AccountRow, foldhash::fast::RandomState>;

/// Default bound of the table part: about 70 MiB of rows.
pub(crate) const DEFAULT_CAPACITY: usize = 1_000_000;

/// The state an account lookup is for: the tip block and the first height whose account changes
/// are journaled (`tip + 1` when the journal is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AccountView {
    pub(crate) tip: Hash32,
    pub(crate) journal_start: Height,
}

#[derive(Debug, Default)]
struct Inner {
    /// The view both parts describe; `None` before the first reset or after a lost advance.
    view: Option<AccountView>,
    /// Every account changed at or after `view.journal_start`, as of `view.tip`.
    journaled: AccountMap,
    /// Rows read from `accounts` of accounts not journaled.
    table: AccountMap,
    /// Journal rows (blocks) and the account rows they hold, for the fold policy.
    journal_blocks: usize,
    journal_rows: usize,
}

/// Account rows at one view (see the module docs).
#[derive(Debug)]
pub(crate) struct AccountCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl AccountCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { inner: Mutex::new(Inner::default()), capacity }
    }

    /// True when the state is at `view`.
    pub(crate) fn is_at(&self, view: &AccountView) -> bool {
        self.inner.lock().map(|inner| inner.view.as_ref() == Some(view)).unwrap_or(false)
    }

    /// Installs the journal read from SQLite at `view` (`journal_blocks` rows holding
    /// `journal_rows` account rows) and empties the table part.
    pub(crate) fn reset(
        &self,
        view: AccountView,
        journaled: HashMap<PublicKey, AccountRow>,
        journal_blocks: usize,
        journal_rows: usize,
    ) {
        if let Ok(mut inner) = self.inner.lock() {
            let journaled = journaled.into_iter().collect();
            *inner = Inner { view: Some(view), journaled, table: AccountMap::default(), journal_blocks, journal_rows };
        }
    }

    /// The rows of `addresses` at `view` known here, in order (`None`: read it from the
    /// `accounts` table); `None` when the state is at another view.
    pub(crate) fn lookup(&self, view: &AccountView, addresses: &[PublicKey]) -> Option<Vec<Option<AccountRow>>> {
        let inner = self.inner.lock().ok()?;
        if inner.view.as_ref() != Some(view) {
            return None;
        }
        Some(
            addresses
                .iter()
                .map(|address| inner.journaled.get(address).or_else(|| inner.table.get(address)).copied())
                .collect(),
        )
    }

    /// Remembers `accounts` table rows read at `view`: `found` rows, and zero rows for the rest
    /// of `asked`. Ignored at another view.
    pub(crate) fn fill(&self, view: &AccountView, asked: &[PublicKey], found: &HashMap<PublicKey, AccountRow>) {
        let Ok(mut inner) = self.inner.lock() else { return };
        if inner.view.as_ref() != Some(view) {
            return;
        }
        if inner.table.len() + asked.len() > self.capacity {
            inner.table.clear();
        }
        for address in asked {
            inner.table.insert(*address, found.get(address).copied().unwrap_or_default());
        }
    }

    /// After ApplyBlock committed a block on `parent` that journaled `written`: the state moves
    /// to `new`. A state not at `parent` cannot be advanced; it is dropped (the next ApplyBlock
    /// rebuilds it from the journal, readers read SQLite until then).
    pub(crate) fn advance(&self, parent: &AccountView, new: AccountView, written: &[(PublicKey, AccountRow)]) {
        let Ok(mut inner) = self.inner.lock() else { return };
        if inner.view.as_ref() != Some(parent) {
            *inner = Inner::default();
            return;
        }
        inner.view = Some(new);
        if !written.is_empty() {
            inner.journal_blocks += 1;
            inner.journal_rows += written.len();
        }
        for (address, row) in written {
            inner.table.remove(address);
            inner.journaled.insert(*address, *row);
        }
    }

    /// Drops the state (a batch of blocks it was advanced through was rolled back): the next
    /// ApplyBlock rebuilds it from the journal, readers read SQLite until then.
    pub(crate) fn invalidate(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner = Inner::default();
        }
    }

    /// Journal rows (blocks) and the account rows they hold at `view`; `None` at another view.
    pub(crate) fn journal_size(&self) -> Option<(usize, usize)> {
        let inner = self.inner.lock().ok()?;
        inner.view.map(|_| (inner.journal_blocks, inner.journal_rows))
    }

    /// The journaled rows at `view`, sorted by address (what a fold writes); `None` at another
    /// view.
    pub(crate) fn journal(&self, view: &AccountView) -> Option<Vec<(PublicKey, AccountRow)>> {
        let inner = self.inner.lock().ok()?;
        if inner.view.as_ref() != Some(view) {
            return None;
        }
        let mut rows: Vec<(PublicKey, AccountRow)> = inner.journaled.iter().map(|(a, r)| (*a, *r)).collect();
        rows.sort_unstable_by_key(|(address, _)| *address);
        Some(rows)
    }

    /// After a fold at `view` committed: the journaled rows are now `accounts` rows (kept as
    /// cached table rows) and the state is at `new` (same tip, empty journal).
    pub(crate) fn folded(&self, view: &AccountView, new: AccountView) {
        let Ok(mut inner) = self.inner.lock() else { return };
        if inner.view.as_ref() != Some(view) {
            *inner = Inner::default();
            return;
        }
        let journaled = std::mem::take(&mut inner.journaled);
        if inner.table.len() + journaled.len() > self.capacity {
            inner.table.clear();
        }
        inner.table.extend(journaled);
        inner.view = Some(new);
        inner.journal_blocks = 0;
        inner.journal_rows = 0;
    }
}

/// The hash index of the eras not sealed into `tx_hash_index` yet (see
/// migrations/0004_sealed_hash_index.sql): per block, its (hash_key, position) pairs, sorted. The
/// last sealed era stays too until the next one is sealed, for a reader whose snapshot predates
/// the seal. A position here may be newer than a reader's snapshot; the reader then does not
/// find its row, which is right.
#[derive(Debug, Default)]
pub(crate) struct RecentHashes {
    runs: Mutex<Vec<KeyRun>>,
}

/// One block's (or era's) (hash_key, position) pairs, sorted, with their era.
type KeyRun = (i64, Vec<(i64, i64)>);

impl RecentHashes {
    /// Adds the (hash_key, position) pairs of one block (or of a whole era read at open).
    pub(crate) fn push(&self, era: i64, mut run: Vec<(i64, i64)>) {
        if run.is_empty() {
            return;
        }
        run.sort_unstable();
        if let Ok(mut runs) = self.runs.lock() {
            runs.push((era, run));
        }
    }

    /// The positions indexed under `key`.
    pub(crate) fn positions(&self, key: i64) -> Vec<i64> {
        let Ok(runs) = self.runs.lock() else { return Vec::new() };
        let mut positions = Vec::new();
        for (_, run) in runs.iter() {
            let start = run.partition_point(|(k, _)| *k < key);
            positions.extend(run[start..].iter().take_while(|(k, _)| *k == key).map(|(_, p)| *p));
        }
        positions
    }

    /// The (hash_key, position) pairs of `era`, sorted; `None` when no block of it is held.
    /// Complete for every era that was current while this ledger ran: the open reads the
    /// current era in full and every later block is pushed.
    pub(crate) fn era(&self, era: i64) -> Option<Vec<(i64, i64)>> {
        let runs = self.runs.lock().ok()?;
        let mut pairs: Vec<(i64, i64)> =
            runs.iter().filter(|(e, _)| *e == era).flat_map(|(_, run)| run.iter().copied()).collect();
        if pairs.is_empty() {
            return None;
        }
        pairs.sort_unstable();
        Some(pairs)
    }

    /// Drops the eras below `era` (sealed, and not the last sealed one).
    pub(crate) fn forget_before(&self, era: i64) {
        if let Ok(mut runs) = self.runs.lock() {
            runs.retain(|(e, _)| *e >= era);
        }
    }

    /// Pairs held, for tests and logs.
    pub(crate) fn len(&self) -> usize {
        self.runs.lock().map(|runs| runs.iter().map(|(_, run)| run.len()).sum()).unwrap_or(0)
    }
}

/// Default bound of the ledger's [`coinjecture_primitives::VerifiedSignatures`]: about 26 s of transactions at 10,000 per second.
pub(crate) const DEFAULT_VERIFIED: usize = 1 << 18;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::AccountState;

    fn row(balance: u64) -> AccountRow {
        AccountRow { state: AccountState { balance, nonce: 0 }, last_tx: None }
    }

    fn view(tip: u8, journal_start: u64) -> AccountView {
        AccountView { tip: Hash32([tip; 32]), journal_start: Height(journal_start) }
    }

    #[test]
    fn rows_are_served_only_at_their_view() {
        let cache = AccountCache::new(10);
        let (a, b) = (PublicKey([1; 32]), PublicKey([2; 32]));
        let (v0, v1) = (view(10, 1), view(11, 1));
        assert!(cache.lookup(&v0, &[a]).is_none(), "nothing is served before the first reset");
        cache.reset(v0, HashMap::new(), 0, 0);
        cache.fill(&v0, &[a, b], &HashMap::from([(a, row(5))]));
        assert_eq!(cache.lookup(&v0, &[a, b]), Some(vec![Some(row(5)), Some(row(0))]), "absent is cached as zero");
        // A reader on another snapshot gets nothing.
        assert!(cache.lookup(&v1, &[a]).is_none());
        // Block 1 (v1) on v0 journaled a = 7: the state moves to v1 keeping b.
        cache.advance(&v0, v1, &[(a, row(7))]);
        assert_eq!(cache.lookup(&v1, &[a, b]), Some(vec![Some(row(7)), Some(row(0))]));
        assert!(cache.lookup(&v0, &[a]).is_none(), "the old view is no longer served");
        assert_eq!(cache.journal_size(), Some((1, 1)));
        // A fill from a stale snapshot (v0) does not overwrite the newer state.
        cache.fill(&v0, &[a], &HashMap::from([(a, row(5))]));
        assert_eq!(cache.lookup(&v1, &[a]), Some(vec![Some(row(7))]));
        // A fill at v1 never overrides a journaled row either.
        cache.fill(&v1, &[a], &HashMap::new());
        assert_eq!(cache.lookup(&v1, &[a]), Some(vec![Some(row(7))]));
    }

    #[test]
    fn journaled_rows_survive_the_capacity_and_a_fold_moves_them_to_the_table() {
        let cache = AccountCache::new(2);
        let (a, b, c) = (PublicKey([1; 32]), PublicKey([2; 32]), PublicKey([3; 32]));
        let (v0, v1, v2) = (view(10, 1), view(11, 1), view(11, 2));
        cache.reset(v0, HashMap::from([(c, row(9))]), 1, 1);
        cache.fill(&v0, &[a, b], &HashMap::new());
        cache.fill(&v0, &[a, b], &HashMap::new());
        let found = cache.lookup(&v0, &[a, b, c]).expect("at v0");
        assert_eq!(found[2], Some(row(9)), "a journaled row is never evicted");
        assert!(found[..2].iter().filter(|r| r.is_some()).count() <= 2, "the table part stays within capacity");
        cache.advance(&v0, v1, &[(b, row(4))]);
        assert_eq!(cache.journal(&v1), Some(vec![(b, row(4)), (c, row(9))]), "sorted by address");
        assert_eq!(cache.journal_size(), Some((2, 2)));
        cache.folded(&v1, v2);
        assert_eq!(cache.journal(&v2), Some(Vec::new()));
        assert_eq!(cache.journal_size(), Some((0, 0)));
        assert!(cache.lookup(&v1, &[b]).is_none(), "a snapshot from before the fold reads SQLite");
    }

    #[test]
    fn advancing_from_another_view_drops_the_state() {
        let cache = AccountCache::new(10);
        let a = PublicKey([1; 32]);
        cache.reset(view(10, 1), HashMap::from([(a, row(3))]), 1, 1);
        cache.advance(&view(12, 1), view(13, 1), &[]);
        assert!(cache.lookup(&view(13, 1), &[a]).is_none());
        assert!(cache.lookup(&view(10, 1), &[a]).is_none());
        assert_eq!(cache.journal_size(), None);
    }

    #[test]
    fn recent_hashes_find_every_position_of_a_key_and_forget_sealed_eras() {
        let recent = RecentHashes::default();
        recent.push(0, vec![(5, 1), (3, 2), (5, 3)]);
        recent.push(1, vec![(5, 70), (9, 71)]);
        let mut found = recent.positions(5);
        found.sort_unstable();
        assert_eq!(found, vec![1, 3, 70]);
        assert_eq!(recent.positions(4), Vec::<i64>::new());
        assert_eq!(recent.era(0), Some(vec![(3, 2), (5, 1), (5, 3)]));
        assert_eq!(recent.era(2), None);
        recent.forget_before(1);
        assert_eq!(recent.positions(5), vec![70]);
        assert_eq!(recent.len(), 2);
    }
}
