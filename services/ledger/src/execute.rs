//! The state transition, pure: transactions in, per-transaction verdicts and the changed accounts
//! out. No I/O: the caller loads the accounts the transactions touch and verifies signatures (in
//! one batch) before, and stores the result after.

use coinjecture_primitives::RejectReason as TxRejectReason;
use coinjecture_primitives::{ChainId, Hash32, PublicKey, StatelessRejection, Transaction};

use crate::state::AccountState;
use crate::store::hash_key;

/// Why one transaction is refused: the domain rejection every port carries (reason, and a
/// message naming the offending field or value).
pub use coinjecture_primitives::Rejection as TxRejection;

/// The verdict on one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxVerdict {
    /// The transaction hash; `None` only when the transaction was too malformed to encode.
    pub tx_hash: Option<Hash32>,
    /// `None` when accepted.
    pub rejection: Option<TxRejection>,
}

impl TxVerdict {
    /// True when the transaction was accepted.
    pub fn accepted(&self) -> bool {
        self.rejection.is_none()
    }
}

/// Maps a stateless rule failure onto the shared reason codes.
pub(crate) fn stateless_reason(r: &StatelessRejection) -> TxRejectReason {
    match r {
        StatelessRejection::CodecVersion(_)
        | StatelessRejection::DataTooLong { .. }
        | StatelessRejection::SelfTransfer => TxRejectReason::Malformed,
        StatelessRejection::GasTooLow { .. } => TxRejectReason::GasLimitTooLow,
        StatelessRejection::FeeOverflow | StatelessRejection::TotalOverflow => TxRejectReason::Overflow,
        StatelessRejection::FeeTooLow { .. } => TxRejectReason::FeeTooLow,
        StatelessRejection::WrongChain { .. } => TxRejectReason::WrongChain,
    }
}

/// The result of running transactions on a state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transition {
    /// One per input transaction, in order.
    pub(crate) rejections: Vec<Option<TxRejection>>,
    /// Accounts whose (balance, nonce) differ from the starting state, sorted by address, with
    /// their final values.
    pub(crate) changes: Vec<(PublicKey, AccountState)>,
}

impl Transition {
    /// Index and rejection of the first refused transaction.
    pub(crate) fn first_rejection(&self) -> Option<(usize, &TxRejection)> {
        self.rejections.iter().enumerate().find_map(|(i, r)| r.as_ref().map(|r| (i, r)))
    }
}

/// The first 8 bytes of an address, big-endian: ordering by it, then by the whole address, is
/// the addresses' own order, and most comparisons stop at one integer compare.
fn prefix(address: &PublicKey) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&address.0[..8]);
    u64::from_be_bytes(head)
}

/// The accounts a batch of transactions touches, sorted and unique, and where each
/// transaction's sender and recipient (and the proposer) are among them: built once per batch
/// and shared by execution and the history links, so a 10,000-transaction block is indexed
/// once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BatchAccounts {
    pub(crate) accounts: Vec<PublicKey>,
    /// (sender, recipient) slot of each transaction.
    pub(crate) slots: Vec<(usize, usize)>,
    pub(crate) proposer: Option<usize>,
}

impl BatchAccounts {
    pub(crate) fn new(txs: &[Transaction], proposer: Option<&PublicKey>) -> Self {
        let mut accounts: Vec<PublicKey> = txs.iter().flat_map(|t| [t.from, t.to]).chain(proposer.copied()).collect();
        accounts.sort_unstable_by(|a, b| prefix(a).cmp(&prefix(b)).then_with(|| a.cmp(b)));
        accounts.dedup();
        let prefixes: Vec<u64> = accounts.iter().map(prefix).collect();
        let slot = |address: &PublicKey| {
            // Among the addresses sharing the prefix (normally one), the exact one; every
            // address looked up here is in `accounts` by construction.
            let p = prefix(address);
            let low = prefixes.partition_point(|q| *q < p);
            let high = low + prefixes[low..].partition_point(|q| *q == p);
            low + accounts[low..high].binary_search(address).unwrap_or(0)
        };
        let slots = txs.iter().map(|t| (slot(&t.from), slot(&t.to))).collect();
        let proposer = proposer.map(slot);
        Self { accounts, slots, proposer }
    }
}

/// Runs `txs` in order on the state `before` gives (asked once per account the batch
/// touches); see [`run_batch`]. For the test chain and the offline database audit, which keep
/// their state in a map.
pub(crate) fn run_transactions(
    chain: &ChainId,
    before: impl Fn(&PublicKey) -> AccountState,
    txs: &[Transaction],
    hashes: &[Hash32],
    signature_valid: Option<&[bool]>,
    proposer: Option<&PublicKey>,
) -> Transition {
    let batch = BatchAccounts::new(txs, proposer);
    let initial: Vec<AccountState> = batch.accounts.iter().map(before).collect();
    run_batch(chain, &batch, &initial, txs, hashes, signature_valid)
}

/// Runs `txs` in order on `initial` (the state of `batch.accounts`, in order). A refused
/// transaction leaves no trace; later ones run on the state left by the accepted ones.
///
/// - `hashes[i]` is the hash of `txs[i]` (duplicates within the batch are refused);
/// - `signature_valid[i]` is the crypto-core verdict, or `None` when the caller has verified every
///   signature already (a block that passed ExecuteBlock);
/// - `batch.proposer` receives the fees (`None` when checking for the mempool: the fee then
///   leaves the sender and goes nowhere, which is only ever stricter).
///
/// The state is one vector indexed by the batch's slots: no hashing, no searching.
pub(crate) fn run_batch(
    chain: &ChainId,
    batch: &BatchAccounts,
    initial: &[AccountState],
    txs: &[Transaction],
    hashes: &[Hash32],
    signature_valid: Option<&[bool]>,
) -> Transition {
    let mut state = initial.to_vec();
    state.resize(batch.accounts.len(), AccountState::default());
    let duplicates = duplicates(hashes);
    let mut rejections = Vec::with_capacity(txs.len());
    for (i, (tx, (from, to))) in txs.iter().zip(&batch.slots).enumerate() {
        let verdict = match duplicates.get(i).copied().flatten() {
            Some(hash) => Err(TxRejection::new(
                TxRejectReason::Duplicate,
                format!("transaction {hash} appears earlier in the same batch"),
            )),
            None => {
                let slots = Slots { from: *from, to: *to, proposer: batch.proposer };
                run_one(chain, &mut state, slots, tx, signature_valid.and_then(|v| v.get(i).copied()))
            }
        };
        rejections.push(verdict.err());
    }
    let changes = batch
        .accounts
        .iter()
        .zip(state.iter().zip(initial))
        .filter(|(_, (after, before))| after != before)
        .map(|(address, (after, _))| (*address, *after))
        .collect();
    Transition { rejections, changes }
}

/// For each position, the hash when an earlier position has the same one.
fn duplicates(hashes: &[Hash32]) -> Vec<Option<Hash32>> {
    // Any order that puts equal hashes side by side will do; the index key settles most
    // comparisons with one integer compare.
    let key = |i: &usize| hash_key(&hashes[*i]);
    let mut order: Vec<usize> = (0..hashes.len()).collect();
    order.sort_unstable_by(|a, b| key(a).cmp(&key(b)).then_with(|| hashes[*a].cmp(&hashes[*b])).then(a.cmp(b)));
    let mut duplicate = vec![None; hashes.len()];
    for pair in order.windows(2) {
        if hashes[pair[0]] == hashes[pair[1]] {
            duplicate[pair[1]] = Some(hashes[pair[1]]);
        }
    }
    duplicate
}

/// Where a transaction's accounts are in the state vector.
#[derive(Clone, Copy)]
struct Slots {
    from: usize,
    to: usize,
    proposer: Option<usize>,
}

/// Checks one transaction and, if it passes, applies it to `state`.
fn run_one(
    chain: &ChainId,
    state: &mut [AccountState],
    slots: Slots,
    tx: &Transaction,
    signature_valid: Option<bool>,
) -> Result<(), TxRejection> {
    tx.check_stateless(chain).map_err(|r| TxRejection::new(stateless_reason(&r), r.to_string()))?;
    if signature_valid == Some(false) {
        return Err(TxRejection::new(TxRejectReason::BadSignature, "signature does not verify against from"));
    }
    // check_stateless guarantees that fee and amount + fee fit in u64.
    let fee = tx.fee().ok_or_else(|| TxRejection::new(TxRejectReason::Overflow, "fee overflows u64"))?;
    let cost = tx.total_cost().ok_or_else(|| TxRejection::new(TxRejectReason::Overflow, "amount + fee overflows"))?;
    let sender = state.get(slots.from).copied().unwrap_or_default();
    if tx.nonce < sender.nonce {
        return Err(TxRejection::new(
            TxRejectReason::NonceTooLow,
            format!("nonce {} is below the account nonce {} (already used)", tx.nonce, sender.nonce),
        ));
    }
    if tx.nonce > sender.nonce {
        return Err(TxRejection::new(
            TxRejectReason::NonceTooHigh,
            format!("nonce {} is above the account nonce {}", tx.nonce, sender.nonce),
        ));
    }
    if sender.balance < cost {
        return Err(TxRejection::new(
            TxRejectReason::InsufficientBalance,
            format!("amount + fee = {cost} exceeds the balance {}", sender.balance),
        ));
    }
    let overflow = || TxRejection::new(TxRejectReason::Overflow, "an account balance or nonce would overflow");
    // Compute every new value before writing any, so a refused transaction leaves no trace.
    // The three slots may coincide (the proposer paying or being paid); later entries build on
    // earlier ones.
    let debited =
        AccountState { balance: sender.balance - cost, nonce: sender.nonce.checked_add(1).ok_or_else(overflow)? };
    let mut staged = [(slots.from, debited); 3];
    let mut len = 1;
    let credits = [(Some(slots.to), tx.amount), (slots.proposer, fee)];
    for (slot, amount) in credits {
        let Some(slot) = slot else { continue };
        let current = staged[..len]
            .iter()
            .rev()
            .find(|(s, _)| *s == slot)
            .map(|(_, state)| *state)
            .unwrap_or_else(|| state.get(slot).copied().unwrap_or_default());
        let balance = current.balance.checked_add(amount).ok_or_else(overflow)?;
        staged[len] = (slot, AccountState { balance, ..current });
        len += 1;
    }
    for (slot, value) in &staged[..len] {
        if let Some(account) = state.get_mut(*slot) {
            *account = *value;
        }
    }
    Ok(())
}
