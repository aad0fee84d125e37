//! The mempool: transactions waiting for a block.
//!
//! - **Bounded**: at most `max_transactions` and `max_bytes` in total and `max_per_account` per
//!   sender; a transaction beyond a bound is refused (`MempoolFull` / `AccountLimit`), never
//!   silently dropped, so clients see back-pressure.
//! - **Deduplicated** by transaction hash; a second transaction with the same (sender, nonce)
//!   replaces the first only if it pays a strictly higher `gas_price` (fee bump).
//! - **Selection** for a block: each sender's transactions in nonce order starting at the
//!   sender's account nonce, with no gaps (a gap would make the block invalid); across senders,
//!   the highest `gas_price` first, ties by arrival order (first come, first served).
//! - **Eviction** after each block: committed transactions and any whose nonce is now below the
//!   sender's account nonce are removed ([`Mempool::prune`]).
//!
//! Stateful validity (balance, signature) is checked before admission by the ledger's
//! `CheckTransactions`; the mempool only orders and bounds.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use coinjecture_primitives::{Hash32, PublicKey, SealedTransaction, Transaction};

/// Mempool bounds and policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolConfig {
    pub max_transactions: usize,
    pub max_bytes: usize,
    pub max_per_account: usize,
    /// Node policy (like a minimum relay fee; block validity is unchanged): the fee
    /// (`gas_limit × gas_price`) must be at least this much per byte of the transaction's
    /// canonical encoding, so large `data` pays for the space it takes on every node.
    pub min_fee_per_byte: u64,
    /// Backpressure: at or above this many transactions (or [`Self::high_water_bytes`]) new
    /// submissions are refused as a whole (`Overloaded`: RESOURCE_EXHAUSTED / 503 with
    /// `Retry-After`) and gossiped transactions are dropped, so intake cannot outrun what blocks
    /// take out. Below `max_transactions`, so the mempool never fills up under load.
    pub high_water_transactions: usize,
    pub high_water_bytes: usize,
}

/// Default high-water mark, as a fraction of `max_transactions` and `max_bytes`
/// (`mempool.high_water`): 50,000 transactions, five blocks of 10,000.
pub const DEFAULT_HIGH_WATER: f64 = 0.25;

/// Default of [`MempoolConfig::min_fee_per_byte`]: an ordinary transfer (~200 bytes) needs
/// ~2,000, well under the 21,000 of its minimum gas at price 1; 1 MiB of data needs ~10.5 M.
pub const DEFAULT_MIN_FEE_PER_BYTE: u64 = 10;

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            max_transactions: 200_000,
            max_bytes: 256 * 1024 * 1024,
            max_per_account: 10_000,
            min_fee_per_byte: DEFAULT_MIN_FEE_PER_BYTE,
            high_water_transactions: 50_000,
            high_water_bytes: 64 * 1024 * 1024,
        }
    }
}

impl MempoolConfig {
    /// Sets the high-water marks to `fraction` (0 < fraction ≤ 1) of the bounds.
    pub fn with_high_water(mut self, fraction: f64) -> Self {
        let part = |n: usize| ((n as f64) * fraction).ceil().max(1.0) as usize;
        self.high_water_transactions = part(self.max_transactions).min(self.max_transactions);
        self.high_water_bytes = part(self.max_bytes).min(self.max_bytes);
        self
    }

    /// Whether a mempool of `count` transactions and `bytes` bytes is at or above the
    /// high-water mark (intake pauses).
    pub fn above_high_water(&self, count: usize, bytes: usize) -> bool {
        count >= self.high_water_transactions || bytes >= self.high_water_bytes
    }
}

/// The budget of one block's selection ([`Mempool::select`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectLimits {
    /// Most transactions.
    pub max_transactions: usize,
    /// Most bytes of transaction encodings.
    pub max_bytes: usize,
    /// Most gas (summed `gas_limit`).
    pub max_gas: u64,
}

impl SelectLimits {
    /// No limit but `max_transactions`.
    pub fn transactions(max_transactions: usize) -> Self {
        Self { max_transactions, max_bytes: usize::MAX, max_gas: u64::MAX }
    }
}

/// What ended a block's filling (metric `coinjecture_block_fill_stopped_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FillStop {
    /// Every transaction that could go in went in: the mempool, not a limit, bounded the block.
    Empty,
    /// The transaction count: the decoder's bound (50,000) or the node's cap.
    Transactions,
    /// The chain's `max_block_gas`.
    Gas,
    /// The chain's `max_block_bytes`.
    Bytes,
    /// The proposer's time budget (`consensus.proposal_budget`).
    Time,
}

impl FillStop {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Transactions => "transactions",
            Self::Gas => "gas",
            Self::Bytes => "bytes",
            Self::Time => "time",
        }
    }
}

/// Why a transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    #[error("transaction {0} is already in the mempool")]
    Duplicate(Hash32),
    #[error("the mempool is full ({count} transactions, {bytes} bytes)")]
    MempoolFull { count: usize, bytes: usize },
    #[error("sender {sender} already has {limit} pending transactions")]
    AccountLimit { sender: PublicKey, limit: usize },
    #[error("sender {sender} already has nonce {nonce} pending at a gas price ≥ {gas_price}")]
    NonceTaken { sender: PublicKey, nonce: u64, gas_price: u64 },
    #[error(
        "fee {fee} is below this node's minimum of {required} for {bytes} bytes ({per_byte} per byte, mempool.min_fee_per_byte): raise gas_price to at least {required_gas_price}"
    )]
    FeeBelowSizeMinimum { fee: u64, required: u64, bytes: usize, per_byte: u64, required_gas_price: u64 },
}

impl Mempool {
    /// The size-aware fee policy for `tx` of `bytes` encoded bytes: `Err` names the required fee.
    pub fn check_fee_per_byte(&self, tx: &Transaction, bytes: usize) -> Result<(), MempoolError> {
        let per_byte = self.config.min_fee_per_byte;
        if per_byte == 0 {
            return Ok(());
        }
        let required = u64::try_from(bytes).unwrap_or(u64::MAX).saturating_mul(per_byte);
        let fee = tx.gas_limit.saturating_mul(tx.gas_price);
        if fee >= required {
            return Ok(());
        }
        let required_gas_price = required.div_ceil(tx.gas_limit.max(1));
        Err(MempoolError::FeeBelowSizeMinimum { fee, required, bytes, per_byte, required_gas_price })
    }
}

#[derive(Debug, Clone)]
struct Entry {
    tx: SealedTransaction,
    hash: Hash32,
    size: usize,
    arrival: u64,
}

/// Pending transactions.
#[derive(Debug, Default)]
pub struct Mempool {
    config: MempoolConfig,
    by_hash: HashMap<Hash32, (PublicKey, u64)>,
    by_sender: HashMap<PublicKey, BTreeMap<u64, Entry>>,
    bytes: usize,
    arrivals: u64,
}

/// A sender's next transaction competing for the next block slot.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    gas_price: u64,
    arrival: Reverse<u64>,
    sender: PublicKey,
    nonce: u64,
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.gas_price, self.arrival).cmp(&(other.gas_price, other.arrival))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Mempool {
    /// An empty mempool with these bounds.
    pub fn new(config: MempoolConfig) -> Self {
        Self { config, ..Self::default() }
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Encoded bytes of all pending transactions.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// True if a transaction with this hash is pending.
    pub fn contains(&self, hash: &Hash32) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// The pending transaction with this hash, sealed.
    pub fn get(&self, hash: &Hash32) -> Option<&SealedTransaction> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.get(nonce).map(|e| &e.tx)
    }

    /// The hashes of every pending transaction.
    pub fn hashes(&self) -> impl Iterator<Item = &Hash32> {
        self.by_hash.keys()
    }

    /// Admits a sealed transaction (already checked by the ledger) charged `size` bytes (its
    /// encoded size, [`SealedTransaction::encoded_len`]). Nothing is encoded or hashed here.
    pub fn add(&mut self, tx: SealedTransaction, size: usize) -> Result<(), MempoolError> {
        let hash = tx.hash();
        if self.by_hash.contains_key(&hash) {
            return Err(MempoolError::Duplicate(hash));
        }
        self.check_fee_per_byte(&tx, size)?;
        let sender = tx.from;
        let replaced = match self.by_sender.get(&sender).and_then(|q| q.get(&tx.nonce)) {
            Some(existing) if existing.tx.gas_price >= tx.gas_price => {
                return Err(MempoolError::NonceTaken { sender, nonce: tx.nonce, gas_price: existing.tx.gas_price });
            }
            Some(existing) => Some((existing.hash, existing.size)),
            None => None,
        };
        let pending = self.by_sender.get(&sender).map_or(0, BTreeMap::len);
        if replaced.is_none() && pending >= self.config.max_per_account {
            return Err(MempoolError::AccountLimit { sender, limit: self.config.max_per_account });
        }
        let freed = replaced.map_or(0, |(_, s)| s);
        let count_after = self.len() + usize::from(replaced.is_none());
        if count_after > self.config.max_transactions || self.bytes - freed + size > self.config.max_bytes {
            return Err(MempoolError::MempoolFull { count: self.len(), bytes: self.bytes });
        }
        if let Some((old_hash, old_size)) = replaced {
            self.by_hash.remove(&old_hash);
            self.bytes -= old_size;
        }
        self.arrivals += 1;
        self.bytes += size;
        self.by_hash.insert(hash, (sender, tx.nonce));
        let nonce = tx.nonce;
        self.by_sender.entry(sender).or_default().insert(nonce, Entry { tx, hash, size, arrival: self.arrivals });
        Ok(())
    }

    /// Chooses transactions for a block within `limits`, each sender's in gap-free nonce order
    /// from `account_nonce(sender)` (a sender without one, `None`, is left out), highest gas
    /// price first. A transaction that does not fit the gas or byte budget ends its sender's
    /// chain; others may still fit. Returns the choice and what ended it.
    pub fn select(
        &self,
        limits: &SelectLimits,
        account_nonce: impl Fn(&PublicKey) -> Option<u64>,
    ) -> (Vec<SealedTransaction>, FillStop) {
        let mut heap = BinaryHeap::new();
        for (sender, queue) in &self.by_sender {
            let Some(nonce) = account_nonce(sender) else { continue };
            if let Some(e) = queue.get(&nonce) {
                heap.push(Head { gas_price: e.tx.gas_price, arrival: Reverse(e.arrival), sender: *sender, nonce });
            }
        }
        let mut chosen = Vec::new();
        let (mut bytes, mut gas) = (0usize, 0u64);
        let mut stop = FillStop::Empty;
        while let Some(head) = heap.pop() {
            if chosen.len() >= limits.max_transactions {
                stop = FillStop::Transactions;
                break;
            }
            let Some(entry) = self.by_sender.get(&head.sender).and_then(|q| q.get(&head.nonce)) else { continue };
            if bytes + entry.size > limits.max_bytes {
                stop = FillStop::Bytes;
                continue; // this sender's chain stops here; others may still fit
            }
            let Some(more_gas) = gas.checked_add(entry.tx.gas_limit).filter(|g| *g <= limits.max_gas) else {
                stop = FillStop::Gas;
                continue;
            };
            bytes += entry.size;
            gas = more_gas;
            chosen.push(entry.tx.clone());
            let next = head.nonce.wrapping_add(1);
            if let Some(e) = self.by_sender.get(&head.sender).and_then(|q| q.get(&next)) {
                heap.push(Head {
                    gas_price: e.tx.gas_price,
                    arrival: Reverse(e.arrival),
                    sender: head.sender,
                    nonce: next,
                });
            }
        }
        (chosen, stop)
    }

    /// Removes the given (committed) transactions.
    pub fn remove_committed(&mut self, hashes: &[Hash32]) {
        for hash in hashes {
            let Some((sender, nonce)) = self.by_hash.remove(hash) else { continue };
            let Some(queue) = self.by_sender.get_mut(&sender) else { continue };
            if let Some(e) = queue.remove(&nonce) {
                self.bytes -= e.size;
            }
            if queue.is_empty() {
                self.by_sender.remove(&sender);
            }
        }
    }

    /// Evicts every transaction whose nonce is below its sender's account nonce (already used).
    /// Returns how many were evicted.
    pub fn prune(&mut self, account_nonce: impl Fn(&PublicKey) -> u64) -> usize {
        let mut evicted = Vec::new();
        for (sender, queue) in &self.by_sender {
            let current = account_nonce(sender);
            evicted.extend(queue.range(..current).map(|(_, e)| e.hash));
        }
        self.remove_committed(&evicted);
        evicted.len()
    }

    /// True if `sender` has a pending transaction with `nonce`.
    pub fn has_nonce(&self, sender: &PublicKey, nonce: u64) -> bool {
        self.by_sender.get(sender).is_some_and(|q| q.contains_key(&nonce))
    }

    /// True if `sender` has any pending transaction.
    pub fn has_sender(&self, sender: &PublicKey) -> bool {
        self.by_sender.contains_key(sender)
    }

    /// Senders with pending transactions.
    pub fn senders(&self) -> impl Iterator<Item = &PublicKey> {
        self.by_sender.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coinjecture_primitives::{Signature, TxType};

    fn tx(from: u8, nonce: u64, gas_price: u64) -> (Transaction, Hash32) {
        let t = Transaction {
            codec_version: 1,
            tx_type: TxType::Transfer,
            from: PublicKey([from; 32]),
            to: PublicKey([99; 32]),
            amount: 1,
            nonce,
            gas_limit: 21_000,
            gas_price,
            signature: Signature([0; 64]),
            data: vec![],
            timestamp: 0,
        };
        let h = t.hash();
        (t, h)
    }

    fn add(m: &mut Mempool, from: u8, nonce: u64, price: u64) -> Result<(), MempoolError> {
        let (t, h) = tx(from, nonce, price);
        debug_assert_eq!(h, t.hash());
        m.add(SealedTransaction::seal(t), 200)
    }

    #[test]
    fn selection_is_gap_free_per_sender_and_fee_ordered_across_senders() {
        let mut m = Mempool::new(MempoolConfig::default());
        add(&mut m, 1, 0, 1).unwrap();
        add(&mut m, 1, 1, 1).unwrap();
        add(&mut m, 1, 3, 9).unwrap(); // gap at 2: never selected
        add(&mut m, 2, 5, 5).unwrap();
        add(&mut m, 2, 6, 1).unwrap();
        let nonces = |k: &PublicKey| Some(if k.0[0] == 2 { 5 } else { 0 });
        let (picked, stop) = m.select(&SelectLimits::transactions(100), nonces);
        let picked: Vec<(u8, u64)> = picked.iter().map(|t| (t.from.0[0], t.nonce)).collect();
        // 2/5 pays most; then equal prices go by arrival: 1/0, 1/1 (arrived 2nd), 2/6 (5th).
        assert_eq!(picked, vec![(2, 5), (1, 0), (1, 1), (2, 6)]);
        assert_eq!(stop, FillStop::Empty, "everything selectable went in");
        let (two, stop) = m.select(&SelectLimits::transactions(2), nonces);
        assert_eq!((two.len(), stop), (2, FillStop::Transactions));
        let bytes = SelectLimits { max_bytes: 450, ..SelectLimits::transactions(100) };
        let (picked, stop) = m.select(&bytes, nonces);
        assert_eq!((picked.len(), stop), (2, FillStop::Bytes), "byte budget");
        let gas = SelectLimits { max_gas: 3 * 21_000, ..SelectLimits::transactions(100) };
        let (picked, stop) = m.select(&gas, nonces);
        assert_eq!((picked.len(), stop), (3, FillStop::Gas), "gas budget: three transfers at 21,000");
        // A sender whose nonce is unknown (not loaded within the time budget) is left out.
        let (picked, _) = m.select(&SelectLimits::transactions(100), |k: &PublicKey| (k.0[0] == 2).then_some(5));
        assert_eq!(picked.len(), 2);
    }

    #[test]
    fn the_high_water_mark_is_a_fraction_of_the_bounds_and_counts_either_one() {
        let c = MempoolConfig { max_transactions: 1000, max_bytes: 1_000_000, ..MempoolConfig::default() }
            .with_high_water(0.25);
        assert_eq!((c.high_water_transactions, c.high_water_bytes), (250, 250_000));
        assert!(!c.above_high_water(249, 249_999));
        assert!(c.above_high_water(250, 0), "by count");
        assert!(c.above_high_water(1, 250_000), "by bytes");
        let d = MempoolConfig::default();
        assert_eq!(
            MempoolConfig::default().with_high_water(DEFAULT_HIGH_WATER),
            d,
            "the default is the documented fraction"
        );
    }

    #[test]
    fn bounds_duplicates_and_fee_bumps() {
        let mut m = Mempool::new(MempoolConfig {
            max_transactions: 3,
            max_bytes: 10_000,
            max_per_account: 2,
            min_fee_per_byte: 0,
            ..MempoolConfig::default()
        });
        add(&mut m, 1, 0, 1).unwrap();
        assert!(matches!(add(&mut m, 1, 0, 1), Err(MempoolError::Duplicate(_))));
        assert!(matches!(add(&mut m, 1, 0, 0), Err(MempoolError::NonceTaken { .. })));
        add(&mut m, 1, 0, 2).unwrap(); // fee bump replaces
        assert_eq!(m.len(), 1);
        add(&mut m, 1, 1, 1).unwrap();
        assert!(matches!(add(&mut m, 1, 2, 1), Err(MempoolError::AccountLimit { .. })));
        add(&mut m, 2, 0, 1).unwrap();
        assert!(matches!(add(&mut m, 3, 0, 1), Err(MempoolError::MempoolFull { .. })));
        assert_eq!(m.bytes(), 600);
    }

    #[test]
    fn the_fee_must_cover_the_encoded_size_and_the_refusal_names_the_required_fee() {
        let mut m = Mempool::new(MempoolConfig::default());
        let (small, _) = tx(1, 0, 1);
        m.add(SealedTransaction::seal(small), 200).expect("an ordinary transfer at gas price 1 pays for its size");
        let (mut large, _) = tx(2, 0, 1);
        large.data = vec![7; 1024 * 1024];
        let bytes = large.encode().len();
        let err = m.add(SealedTransaction::seal(large.clone()), bytes).unwrap_err();
        let MempoolError::FeeBelowSizeMinimum { fee, required, required_gas_price, .. } = err.clone() else {
            panic!("{err:?}")
        };
        assert_eq!(fee, 21_000);
        assert_eq!(required, bytes as u64 * DEFAULT_MIN_FEE_PER_BYTE);
        assert!(err.to_string().contains(&required.to_string()), "{err}");
        large.gas_price = required_gas_price;
        m.add(SealedTransaction::seal(large), bytes).expect("paying the named fee is enough");
    }

    #[test]
    fn committed_and_stale_transactions_are_evicted() {
        let mut m = Mempool::new(MempoolConfig::default());
        let (t, h) = tx(1, 0, 1);
        m.add(SealedTransaction::seal(t), 100).unwrap();
        add(&mut m, 1, 1, 1).unwrap();
        add(&mut m, 2, 0, 1).unwrap();
        m.remove_committed(&[h]);
        assert_eq!(m.len(), 2);
        // Sender 2's nonce moved on through another node's block: its pending tx is stale.
        let evicted = m.prune(|_| 1);
        assert_eq!(evicted, 1);
        assert_eq!(m.len(), 1);
        assert_eq!(m.bytes(), 200);
    }
}
