//! The chain's block limits (`max_block_gas`, `max_block_bytes` in the genesis, issue #24 item 3):
//! ExecuteBlock answers TOO_LARGE naming the limit (a validator prevotes nil on such a
//! proposal), and ApplyBlock refuses such a block even with a valid commit certificate.

use coinjecture_ledger::LedgerError;
use coinjecture_ledger::test_utils::TestChain;
use coinjecture_primitives::{BlockLimits, SealedTransaction, Transaction};
use coinjecture_proto::ports::ledger::BlockRejectReason;

use crate::open_ledger;

const BALANCE: u64 = 1_000_000_000;

/// The error and its sources, as a log line shows them.
fn chain_of(e: &LedgerError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// `count` transfers spread over the chain's accounts, with consecutive nonces per account.
fn transfers(chain: &TestChain, count: usize) -> Vec<Transaction> {
    let n = chain.accounts.len();
    (0..count).map(|i| chain.transfer(i % n, chain.accounts[(i + 1) % n], 1_000, (i / n) as u64)).collect()
}

#[tokio::test]
async fn a_block_over_the_genesis_gas_limit_is_too_large_for_execute_and_apply_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let gas = transfers(&TestChain::new("coinjecture-limits", 4, BALANCE), 1)[0].gas_limit;
    // Room for three transfers, not four.
    let limits = BlockLimits { max_gas: 3 * gas + gas / 2, ..BlockLimits::default() };
    let mut chain = TestChain::new("coinjecture-limits", 4, BALANCE).with_block_limits(limits);
    let ledger = open_ledger(dir.path(), &chain).await;
    assert_eq!(ledger.genesis().block_limits, limits);

    let over = chain.block(transfers(&chain, 4));
    let e = ledger.execute_block(&over, false).await.unwrap();
    let rejection = e.rejection.expect("four transfers exceed the gas limit");
    assert_eq!(rejection.reason, BlockRejectReason::TooLarge);
    let expected = format!("gas limits sum to {}, more than the chain's max_block_gas {}", 4 * gas, limits.max_gas);
    assert!(rejection.message.contains(&expected), "{}", rejection.message);
    // The proposer's own (sealed) path says the same.
    let sealed: Vec<SealedTransaction> = over.transactions.iter().cloned().map(SealedTransaction::seal).collect();
    let e = ledger.execute_block_sealed(&over, sealed, false).await.unwrap();
    assert!(e.rejection.is_some_and(|r| r.reason == BlockRejectReason::TooLarge && r.message.contains(&expected)));

    // A certificate does not make it acceptable: ApplyBlock refuses it, naming the limit.
    let err = ledger.apply_block(&over, &chain.certificate(&over)).await.unwrap_err();
    assert!(matches!(err, LedgerError::InvalidBlock { .. }), "{err}");
    assert!(chain_of(&err).contains("max_block_gas"), "{}", chain_of(&err));
    assert_eq!(ledger.tip().await.unwrap().height.get(), 0, "nothing was written");

    // Three fit and apply.
    let fits = chain.push(transfers(&chain, 3));
    assert!(ledger.execute_block(&fits, false).await.unwrap().is_valid());
    ledger.apply_block(&fits, &chain.certificate(&fits)).await.unwrap();
    assert_eq!(ledger.tip().await.unwrap().hash, fits.hash());
}

#[tokio::test]
async fn a_block_over_the_genesis_byte_limit_is_too_large_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let limits = BlockLimits { max_bytes: BlockLimits::MIN_BYTES, ..BlockLimits::default() };
    let chain = TestChain::new("coinjecture-limits", 8, BALANCE).with_block_limits(limits);
    let ledger = open_ledger(dir.path(), &chain).await;
    // Enough transfers to pass 64 KiB of block encoding.
    let txs = transfers(&chain, 8);
    let per_tx = txs[0].encode().len();
    let count = BlockLimits::MIN_BYTES as usize / per_tx + 8;
    let over = chain.block(transfers(&chain, count));
    let len = over.encode().len();
    assert!(len > BlockLimits::MIN_BYTES as usize, "{len}");
    let e = ledger.execute_block(&over, false).await.unwrap();
    let rejection = e.rejection.expect("the block is over 64 KiB");
    assert_eq!(rejection.reason, BlockRejectReason::TooLarge);
    let expected = format!("the encoded block is {len} bytes, more than the chain's max_block_bytes 65536");
    assert!(rejection.message.contains(&expected), "{}", rejection.message);
    let sealed: Vec<SealedTransaction> = over.transactions.iter().cloned().map(SealedTransaction::seal).collect();
    let e = ledger.execute_block_sealed(&over, sealed, false).await.unwrap();
    assert!(e.rejection.is_some_and(|r| r.message.contains(&expected)), "the sealed path measures the same bytes");
    let err = ledger.apply_block(&over, &chain.certificate(&over)).await.unwrap_err();
    assert!(chain_of(&err).contains("max_block_bytes 65536"), "{}", chain_of(&err));
    // Without the limit (the default genesis), the same transfers are a valid block.
    let dir = tempfile::tempdir().unwrap();
    let default = TestChain::new("coinjecture-limits", 8, BALANCE);
    let ledger = open_ledger(dir.path(), &default).await;
    let block = default.block(transfers(&default, count));
    assert!(ledger.execute_block(&block, false).await.unwrap().is_valid());
}
