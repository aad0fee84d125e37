//! The account journal and the sealed hash index (migrations 0003 and 0004): the state and
//! every lookup stay right while blocks are journaled, folded, sealed and the file reopened at
//! any point in between; a damaged journal row stops the open naming the block.

use coinjecture_ledger::test_utils::{TestChain, certificate};
use coinjecture_ledger::{Ledger, LedgerError, SignatureCheck};
use coinjecture_primitives::{Hash32, Height, PublicKey};

use crate::{open_ledger, snapshot};

/// Blocks of transfers among 12 accounts: each of 6 senders pays a pseudo-random recipient.
fn next_block(chain: &mut TestChain, seed: &mut u64) -> coinjecture_primitives::Block {
    let height = chain.tip().height.get() as usize;
    let txs = (0..6)
        .map(|i| {
            *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let from = (height * 6 + i) % chain.accounts.len();
            let mut to = (*seed >> 33) as usize % chain.accounts.len();
            if to == from {
                to = (to + 1) % chain.accounts.len();
            }
            chain.next_transfer(from, chain.accounts[to], 1 + *seed % 100)
        })
        .collect();
    chain.push(txs)
}

/// A transaction sent: its hash, height, index in the block, sender and recipient.
type Sent = (Hash32, Height, usize, PublicKey, PublicKey);

/// Every account's state, every transaction by hash and the newest history entry of every
/// account are what the test chain says.
async fn assert_matches(ledger: &Ledger, chain: &TestChain, sent: &[Sent]) {
    let (tip, accounts) = snapshot(ledger, chain, &[]).await;
    assert_eq!(tip.hash, chain.tip().hash);
    assert_eq!(tip.state_commitment, chain.tip().state_commitment);
    for (address, state) in accounts {
        assert_eq!(state, chain.account(&address), "account {address}");
    }
    for (hash, height, index, _, _) in sent {
        let found = ledger.transaction(hash).await.unwrap().unwrap_or_else(|| panic!("{hash} not found"));
        assert_eq!((found.block_height, found.index as usize), (*height, *index));
    }
    for account in &chain.accounts {
        let newest = sent.iter().rev().find(|(_, _, _, from, to)| from == account || to == account);
        let page = ledger.account_history(account, None, 1).await.unwrap();
        assert_eq!(page.transactions.first().map(|t| t.tx_hash), newest.map(|s| s.0), "history of {account}");
    }
}

#[tokio::test]
async fn state_lookups_and_history_stay_right_through_folds_seals_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new_unsigned("coinjecture-journal", 12, 1_000_000);
    let mut ledger = open_ledger(dir.path(), &chain).await;
    let mut seed = 7u64;
    let mut sent = Vec::new();
    let (mut folds, mut journaled) = (0, 0);
    for round in 0..24 {
        // Small eras and an early fold, so 24 blocks cross many of both.
        ledger.set_era_size_for_tests(10).await;
        ledger.set_fold_threshold_for_tests(3, 1_000).await;
        let block = next_block(&mut chain, &mut seed);
        ledger
            .apply_block_with(&block, &certificate(ledger.chain_id(), &block), SignatureCheck::AlreadyVerified)
            .await
            .unwrap();
        let height = block.header.block_index;
        sent.extend(block.transactions.iter().enumerate().map(|(i, t)| (t.hash(), height, i, t.from, t.to)));
        assert_matches(&ledger, &chain, &sent).await;
        // Maintenance (started in the background by the block, or now) keeps the journal under
        // the threshold and seals the full eras.
        ledger.maintain_now_for_tests().await.unwrap();
        let (blocks, _, in_memory) = ledger.pending_maintenance_for_tests();
        assert!(blocks < 3, "a due fold empties the journal ({blocks} blocks journaled)");
        if blocks <= journaled {
            folds += 1;
        }
        journaled = blocks;
        assert!(in_memory <= 2 * 10 + 6, "sealed eras leave memory ({in_memory} entries held)");
        assert_matches(&ledger, &chain, &sent).await;
        if round % 5 == 4 {
            // Reopen wherever the journal and the eras happen to be.
            ledger.close().await;
            drop(ledger);
            ledger = open_ledger(dir.path(), &chain).await;
            assert_matches(&ledger, &chain, &sent).await;
            journaled = ledger.pending_maintenance_for_tests().0;
        }
    }
    assert!(folds >= 3, "the test folded {folds} times");
    assert_eq!(ledger.integrity_check().await, Ok(()));
}

#[tokio::test]
async fn a_damaged_journal_row_stops_the_open_naming_the_block_and_the_file_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new_unsigned("coinjecture-journal", 12, 1_000_000);
    let ledger = open_ledger(dir.path(), &chain).await;
    let mut seed = 1u64;
    for _ in 0..3 {
        let block = next_block(&mut chain, &mut seed);
        ledger
            .apply_block_with(&block, &certificate(ledger.chain_id(), &block), SignatureCheck::AlreadyVerified)
            .await
            .unwrap();
    }
    ledger.close().await;
    drop(ledger);
    let path = dir.path().join("ledger.db");
    {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display())).await.unwrap();
        sqlx::query("UPDATE account_journal SET changes = substr(changes, 1, 40) WHERE height = 2")
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
    }
    let err =
        Ledger::open(&path, chain.genesis.clone(), chain.validators(), coinjecture_ledger::test_utils::local_crypto())
            .await
            .expect_err("a truncated journal row must stop the open");
    assert!(matches!(err, LedgerError::Corrupt(_)), "{err:?}");
    assert!(err.to_string().contains("account_journal row of block 2"), "{err}");
    assert!(path.exists(), "the database is left for the operator");
}

#[tokio::test]
async fn a_version_2_database_is_upgraded_with_its_state_history_and_hash_lookups_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut chain = TestChain::new_unsigned("coinjecture-journal", 12, 1_000_000);
    let ledger = open_ledger(dir.path(), &chain).await;
    ledger.set_era_size_for_tests(10).await;
    let mut seed = 11u64;
    let mut sent = Vec::new();
    for _ in 0..6 {
        let block = next_block(&mut chain, &mut seed);
        ledger
            .apply_block_with(&block, &certificate(ledger.chain_id(), &block), SignatureCheck::AlreadyVerified)
            .await
            .unwrap();
        let height = block.header.block_index;
        sent.extend(block.transactions.iter().enumerate().map(|(i, t)| (t.hash(), height, i, t.from, t.to)));
    }
    // Everything in `accounts`, then the file is put back into the version 2 layout: the
    // (era, hash_key) index on transactions, no journal, no sealed index, migrations 3 and 4
    // not recorded.
    ledger.set_fold_threshold_for_tests(1, 1).await;
    ledger.maintain_now_for_tests().await.unwrap();
    assert_eq!(ledger.pending_maintenance_for_tests().0, 0);
    ledger.close().await;
    drop(ledger);
    {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display())).await.unwrap();
        for statement in [
            "DROP TABLE account_journal",
            "DROP TABLE tx_hash_index",
            "DROP TABLE tx_eras",
            "CREATE INDEX transactions_by_era_hash_key ON transactions (era, hash_key)",
            "DELETE FROM _sqlx_migrations WHERE version >= 3",
        ] {
            sqlx::query(statement).execute(&mut db).await.unwrap();
        }
        db.close().await.unwrap();
    }
    let ledger = open_ledger(dir.path(), &chain).await;
    assert_matches(&ledger, &chain, &sent).await;
    // It goes on: more blocks, a seal, a fold, a reopen.
    ledger.set_era_size_for_tests(10).await;
    ledger.set_fold_threshold_for_tests(2, 1_000).await;
    for _ in 0..4 {
        let block = next_block(&mut chain, &mut seed);
        ledger
            .apply_block_with(&block, &certificate(ledger.chain_id(), &block), SignatureCheck::AlreadyVerified)
            .await
            .unwrap();
        let height = block.header.block_index;
        sent.extend(block.transactions.iter().enumerate().map(|(i, t)| (t.hash(), height, i, t.from, t.to)));
        ledger.maintain_now_for_tests().await.unwrap();
    }
    assert_matches(&ledger, &chain, &sent).await;
    ledger.close().await;
    drop(ledger);
    let ledger = open_ledger(dir.path(), &chain).await;
    assert_matches(&ledger, &chain, &sent).await;
    assert_eq!(ledger.integrity_check().await, Ok(()));
}
