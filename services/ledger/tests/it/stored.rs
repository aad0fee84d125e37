//! Stored data is verified when read: a flipped byte in the SQLite file is an error naming the
//! block and the row, never data served as if it were the chain.

use coinjecture_ledger::test_utils::TestChain;
use coinjecture_primitives::{Height, Transaction};

use crate::{apply, open_ledger};

/// Flips one byte of `needle`'s first occurrence in the file at `path` (the byte at `offset`
/// within it). Panics when the bytes are not in the file.
pub(crate) fn flip_in_file(path: &std::path::Path, needle: &[u8], offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("the bytes are in the database file");
    bytes[at + offset] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

/// A chain of 3 blocks with 2 signed transfers each, written by a ledger that is then closed
/// (its WAL folded into the database file). Returns the chain and every transaction.
pub(crate) async fn written_chain(dir: &std::path::Path) -> (TestChain, Vec<Transaction>) {
    let mut chain = TestChain::new("coinjecture-stored", 3, 1_000_000);
    let genesis = chain.clone();
    let ledger = open_ledger(dir, &genesis).await;
    let mut all = Vec::new();
    for _ in 0..3 {
        let txs = vec![chain.next_transfer(0, chain.accounts[1], 10), chain.next_transfer(1, chain.accounts[2], 20)];
        all.extend(txs.clone());
        apply(&ledger, &chain.push(txs)).await;
    }
    ledger.close().await;
    (genesis, all)
}

/// The issue: one flipped byte in a `transactions` page (here inside the `from` key of block
/// 2's transaction 1); SQLite's integrity check still says ok.
#[tokio::test]
async fn a_flipped_byte_in_a_transaction_row_is_an_error_naming_the_block_and_row_not_data() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, txs) = written_chain(dir.path()).await;
    let victim = &txs[3];
    let encoded = victim.encode();
    let from_at = encoded.windows(32).position(|w| w == victim.from.0).unwrap();
    flip_in_file(&dir.path().join("ledger.db"), &encoded, from_at + 5);

    let ledger = open_ledger(dir.path(), &chain).await;
    assert_eq!(ledger.integrity_check().await, Ok(()), "SQLite sees nothing wrong");
    let before = coinjecture_ledger::corrupt_reads();

    let block = ledger.block_by_height(Height(2)).await;
    let err = block.expect_err("block 2 must not be served");
    assert!(err.to_string().contains("block 2") && err.to_string().contains("transaction 1"), "{err}");

    let by_hash = ledger.transaction(&victim.hash()).await;
    let err = by_hash.expect_err("the real hash finds a corrupt row: an error, not 'not found'");
    assert!(err.to_string().contains("block 2"), "{err}");
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), tonic::Code::DataLoss);

    assert!(coinjecture_ledger::corrupt_reads() >= before + 2, "each corrupt read is counted");
    // The other blocks and transactions are still served.
    assert_eq!(ledger.block_by_height(Height(1)).await.unwrap().unwrap().block.transactions, txs[..2].to_vec());
    assert_eq!(ledger.transaction(&txs[4].hash()).await.unwrap().unwrap().transaction, txs[4]);
}

/// A flipped byte in a block's stored header (inside its Merkle root): the block is refused by
/// height, range and hash reads; the transactions of other blocks are still served.
#[tokio::test]
async fn a_flipped_byte_in_a_block_header_is_an_error_naming_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, txs) = written_chain(dir.path()).await;
    let ledger = open_ledger(dir.path(), &chain).await;
    let block = ledger.block_by_height(Height(1)).await.unwrap().unwrap();
    ledger.close().await;
    drop(ledger);
    flip_in_file(&dir.path().join("ledger.db"), &block.block.header.merkle_root.0, 0);

    let ledger = open_ledger(dir.path(), &chain).await;
    let by_height = ledger.block_by_height(Height(1)).await.unwrap_err().to_string();
    assert!(by_height.contains("block 1 (blocks row 1): the stored header hashes to"), "{by_height}");
    let by_hash = ledger.block_by_hash(&block.hash).await.unwrap_err().to_string();
    assert_eq!(by_hash, by_height);
    let range = ledger.block_range(Height(0), 10).await.unwrap_err().to_string();
    assert_eq!(range, by_height);
    assert_eq!(ledger.transaction(&txs[5].hash()).await.unwrap().unwrap().block_height, Height(3));
}
