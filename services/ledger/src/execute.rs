//! The state transition, pure: transactions in, per-transaction verdicts and the changed accounts
//! out. No I/O: the caller loads the accounts the transactions touch and verifies signatures (in
//! one batch) before, and stores the result after.

use std::collections::{HashMap, HashSet};

use coinjecture_primitives::{ChainId, Hash32, PublicKey, StatelessRejection, Transaction};
use coinjecture_proto::v1::TxRejectReason;

use crate::state::AccountState;

/// Why one transaction is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRejection {
    pub reason: TxRejectReason,
    /// Names the offending field or value.
    pub message: String,
}

impl TxRejection {
    pub(crate) fn new(reason: TxRejectReason, message: impl Into<String>) -> Self {
        Self { reason, message: message.into() }
    }
}

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

/// Runs `txs` in order on `before` (accounts absent from the map are zero). A refused transaction
/// leaves no trace; later ones run on the state left by the accepted ones.
///
/// - `hashes[i]` is the hash of `txs[i]` (duplicates within the batch are refused);
/// - `signature_valid[i]` is the crypto-core verdict, or `None` when the caller has verified every
///   signature already (a block that passed ExecuteBlock);
/// - `proposer` receives the fees (`None` when checking for the mempool: the fee then leaves the
///   sender and goes nowhere, which is only ever stricter).
pub(crate) fn run_transactions(
    chain: &ChainId,
    before: &HashMap<PublicKey, AccountState>,
    txs: &[Transaction],
    hashes: &[Hash32],
    signature_valid: Option<&[bool]>,
    proposer: Option<&PublicKey>,
) -> Transition {
    let mut state: HashMap<PublicKey, AccountState> = HashMap::with_capacity(2 * txs.len() + 1);
    let mut seen: HashSet<Hash32> = HashSet::with_capacity(txs.len());
    let mut rejections = Vec::with_capacity(txs.len());
    for (i, tx) in txs.iter().enumerate() {
        let duplicate = hashes.get(i).filter(|hash| !seen.insert(**hash));
        let verdict = match duplicate {
            Some(hash) => Err(TxRejection::new(
                TxRejectReason::Duplicate,
                format!("transaction {hash} appears earlier in the same batch"),
            )),
            None => run_one(chain, before, &mut state, tx, signature_valid.and_then(|v| v.get(i).copied()), proposer),
        };
        rejections.push(verdict.err());
    }
    let mut changes: Vec<(PublicKey, AccountState)> = state
        .into_iter()
        .filter(|(address, after)| before.get(address).copied().unwrap_or_default() != *after)
        .collect();
    changes.sort_unstable_by_key(|(address, _)| *address);
    Transition { rejections, changes }
}

fn account(
    before: &HashMap<PublicKey, AccountState>,
    state: &HashMap<PublicKey, AccountState>,
    address: &PublicKey,
) -> AccountState {
    state.get(address).or_else(|| before.get(address)).copied().unwrap_or_default()
}

/// Checks one transaction and, if it passes, applies it to `state`.
fn run_one(
    chain: &ChainId,
    before: &HashMap<PublicKey, AccountState>,
    state: &mut HashMap<PublicKey, AccountState>,
    tx: &Transaction,
    signature_valid: Option<bool>,
    proposer: Option<&PublicKey>,
) -> Result<(), TxRejection> {
    tx.check_stateless(chain).map_err(|r| TxRejection::new(stateless_reason(&r), r.to_string()))?;
    if signature_valid == Some(false) {
        return Err(TxRejection::new(TxRejectReason::BadSignature, "signature does not verify against from"));
    }
    // check_stateless guarantees that fee and amount + fee fit in u64.
    let fee = tx.fee().ok_or_else(|| TxRejection::new(TxRejectReason::Overflow, "fee overflows u64"))?;
    let cost = tx.total_cost().ok_or_else(|| TxRejection::new(TxRejectReason::Overflow, "amount + fee overflows"))?;
    let sender = account(before, state, &tx.from);
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
    let debited =
        AccountState { balance: sender.balance - cost, nonce: sender.nonce.checked_add(1).ok_or_else(overflow)? };
    let mut staged = vec![(tx.from, debited)];
    let credit = |address: &PublicKey, amount: u64, staged: &mut Vec<(PublicKey, AccountState)>| {
        let current = staged
            .iter()
            .rev()
            .find(|(a, _)| a == address)
            .map(|(_, s)| *s)
            .unwrap_or_else(|| account(before, state, address));
        let balance = current.balance.checked_add(amount).ok_or_else(overflow)?;
        staged.push((*address, AccountState { balance, ..current }));
        Ok::<(), TxRejection>(())
    };
    credit(&tx.to, tx.amount, &mut staged)?;
    if let Some(proposer) = proposer {
        credit(proposer, fee, &mut staged)?;
    }
    for (address, value) in staged {
        state.insert(address, value);
    }
    Ok(())
}
