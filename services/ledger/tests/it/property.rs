//! Property: random sequences of valid and invalid transfers, built into blocks of the accepted
//! ones; supply is conserved, a block with a refused transaction changes nothing, and two
//! ledgers fed the same blocks end with identical tips and state commitments.

use coinjecture_ledger::test_utils::{TestChain, certificate};
use coinjecture_ledger::{Ledger, LedgerError};
use coinjecture_primitives::{Signature, Transaction};
use coinjecture_proto::v1 as pb;
use proptest::prelude::*;

use crate::{open_ledger, snapshot};

const ACCOUNTS: usize = 4;
const BALANCE: u64 = 3_000_000;

#[derive(Debug, Clone)]
struct Op {
    from: usize,
    to: usize,
    amount: u64,
    /// Added to the next expected nonce: 0 is right, others are gaps or reuse.
    nonce_offset: i8,
    bad_signature: bool,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0..ACCOUNTS,
        0..ACCOUNTS,
        0u64..2_000_000,
        prop_oneof![6 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
        prop::bool::weighted(0.1),
    )
        .prop_map(|(from, to, amount, nonce_offset, bad_signature)| Op {
            from,
            to,
            amount,
            nonce_offset,
            bad_signature,
        })
}

fn build(chain: &TestChain, pending: &mut [u64], op: &Op) -> Transaction {
    let nonce = pending[op.from].saturating_add_signed(i64::from(op.nonce_offset));
    if op.nonce_offset == 0 {
        pending[op.from] += 1;
    }
    let tx = chain.transfer(op.from, chain.accounts[op.to], op.amount, nonce);
    if op.bad_signature { Transaction { signature: Signature([3; 64]), ..tx } } else { tx }
}

async fn run(blocks: Vec<Vec<Op>>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new("coinjecture-prop", ACCOUNTS, BALANCE);
    let first = open_ledger(&dir.path().join("a"), &chain).await;
    let second = open_ledger(&dir.path().join("b"), &chain).await;
    let supply = chain.total_supply();
    for ops in blocks {
        let mut pending: Vec<u64> = (0..ACCOUNTS).map(|i| chain.nonce(i)).collect();
        let txs: Vec<Transaction> = ops.iter().map(|op| build(&chain, &mut pending, op)).collect();
        let checked = first.check_transactions(txs.iter().map(pb::Transaction::from).collect()).await.unwrap();
        let accepted: Vec<Transaction> =
            txs.iter().zip(&checked.verdicts).filter(|(_, v)| v.accepted()).map(|(t, _)| t.clone()).collect();
        if accepted.len() < txs.len() {
            // The whole sequence as one block is refused and changes nothing.
            let bad = chain.block(txs.clone());
            let before = snapshot(&first, &chain, &[]).await;
            let err = first.apply_block(&bad, &certificate(first.chain_id(), &bad)).await.unwrap_err();
            prop_assert!(matches!(err, LedgerError::InvalidBlock { .. }), "{err}");
            prop_assert_eq!(snapshot(&first, &chain, &[]).await, before);
        }
        let block = chain.block(accepted);
        let execution = first.execute_block(&block, false).await.unwrap();
        prop_assert!(execution.is_valid(), "{:?}", execution.rejection);
        chain.extend(&block);
        for ledger in [&first, &second] {
            ledger.apply_block(&block, &certificate(ledger.chain_id(), &block)).await.unwrap();
        }
        let (tip, accounts) = snapshot(&first, &chain, &[]).await;
        prop_assert_eq!(&tip, chain.tip());
        prop_assert_eq!(accounts.iter().map(|(_, a)| u128::from(a.balance)).sum::<u128>(), supply);
    }
    let (tip_a, accounts_a) = snapshot(&first, &chain, &[]).await;
    let (tip_b, accounts_b) = snapshot(&second, &chain, &[]).await;
    prop_assert_eq!(&tip_a, &tip_b);
    prop_assert_eq!(&accounts_a, &accounts_b);
    close(&first).await;
    close(&second).await;
    // What the in-memory account cache served is what SQLite holds: reopened (empty cache),
    // the first ledger (ExecuteBlock then ApplyBlock: the remembered execution was written)
    // reads the same state.
    let reopened = open_ledger(&dir.path().join("a"), &chain).await;
    prop_assert_eq!(snapshot(&reopened, &chain, &[]).await, (tip_a, accounts_a));
    close(&reopened).await;
    Ok(())
}

async fn close(ledger: &Ledger) {
    ledger.close().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn random_transfers_conserve_supply_and_two_ledgers_agree(
        blocks in prop::collection::vec(prop::collection::vec(op(), 0..8), 1..6)
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(run(blocks))?;
    }
}
