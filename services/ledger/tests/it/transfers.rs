//! Transfers, rejections with their reasons, idempotent and conflicting applies, reads.

use coinjecture_ledger::test_utils::{TestChain, certificate, sign, unsigned_transfer};
use coinjecture_ledger::{HistoryCursor, LedgerError, SignatureCheck};
use coinjecture_primitives::RejectReason as TxRejectReason;
use coinjecture_primitives::{ChainId, Height, PublicKey, Transaction};
use coinjecture_proto::ports::crypto::{BlockCrypto, CryptoError, CryptoPort};
use coinjecture_proto::ports::ledger::BlockRejectReason;
use coinjecture_proto::v1 as pb;

use crate::{apply, open_ledger, snapshot};

const BALANCE: u64 = 1_000_000;

fn chain() -> TestChain {
    TestChain::new("coinjecture-test", 3, BALANCE)
}

#[tokio::test]
async fn transfers_move_amounts_pay_fees_to_the_proposer_and_conserve_supply() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = chain();
    let ledger = open_ledger(dir.path(), &chain).await;
    let (a, b, c) = (chain.accounts[0], chain.accounts[1], chain.accounts[2]);
    let t1 = chain.next_transfer(0, b, 100);
    let t2 = chain.transfer(0, c, 50, 1);
    let t3 = chain.next_transfer(1, a, 7);
    let block = chain.push(vec![t1.clone(), t2, t3]);
    let applied = ledger.apply_block(&block, &certificate(ledger.chain_id(), &block)).await.unwrap();
    assert!(!applied.already_applied);
    assert_eq!(&applied.tip, chain.tip());
    let fee = t1.fee().unwrap();
    assert_eq!(ledger.account(&a).await.unwrap().0.balance, BALANCE - 150 - 2 * fee + 7);
    assert_eq!(ledger.account(&a).await.unwrap().0.nonce, 2);
    assert_eq!(ledger.account(&b).await.unwrap().0.balance, BALANCE + 100 - 7 - fee);
    assert_eq!(ledger.account(&chain.proposer).await.unwrap().0.balance, 3 * fee);
    let (_, accounts) = snapshot(&ledger, &chain, &[]).await;
    let supply: u128 = accounts.iter().map(|(_, s)| u128::from(s.balance)).sum();
    assert_eq!(supply, 3 * u128::from(BALANCE));

    // Reads: by height, by hash, latest, transaction with location.
    let stored = ledger.block_by_height(Height(1)).await.unwrap().unwrap();
    assert_eq!(stored.block, block);
    assert_eq!(stored.certificate, Some(certificate(ledger.chain_id(), &block)));
    assert_eq!(ledger.block_by_hash(&block.hash()).await.unwrap().unwrap().height, Height(1));
    assert_eq!(ledger.latest_block().await.unwrap().hash, block.hash());
    let found = ledger.transaction(&t1.hash()).await.unwrap().unwrap();
    assert_eq!((found.block_height, found.index, found.block_hash), (Height(1), 0, block.hash()));
    assert_eq!(found.transaction, t1);
    assert!(ledger.block_by_height(Height(2)).await.unwrap().is_none());
    let genesis = ledger.block_by_height(Height(0)).await.unwrap().unwrap();
    assert_eq!(genesis.hash, chain.genesis.hash());
    assert_eq!(genesis.certificate, None);
    let unknown = ledger.account(&PublicKey([9; 32])).await.unwrap();
    assert_eq!((unknown.0.balance, unknown.0.nonce, unknown.1), (0, 0, Height(1)));
}

#[tokio::test]
async fn reapplying_the_stored_block_is_a_no_op_and_a_different_block_or_a_gap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = chain();
    let ledger = open_ledger(dir.path(), &chain).await;
    let b = chain.accounts[1];
    let other = chain.block(vec![chain.next_transfer(0, b, 1)]);
    let block = chain.push(vec![chain.next_transfer(0, b, 2)]);
    apply(&ledger, &block).await;
    let again = ledger.apply_block(&block, &certificate(ledger.chain_id(), &block)).await.unwrap();
    assert!(again.already_applied);
    assert_eq!(again.tip.height, Height(1));
    let err = ledger.apply_block(&other, &certificate(ledger.chain_id(), &other)).await.unwrap_err();
    assert!(matches!(err, LedgerError::ConflictingBlock { height: Height(1), .. }), "{err}");
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::FailedPrecondition);
    chain.push(vec![]);
    let gap = chain.push(vec![]);
    let err = ledger.apply_block(&gap, &certificate(ledger.chain_id(), &gap)).await.unwrap_err();
    assert!(err.to_string().contains("block 3 is not for the next height 2"), "{err}");
    let mut wrong_cert = certificate(ledger.chain_id(), &block);
    wrong_cert.height = Height(5);
    let err = ledger.apply_block(&block, &wrong_cert).await.unwrap_err();
    assert!(err.to_string().contains("block.commit_certificate.height"), "{err}");
}

/// How a bad transaction is made from a fresh chain where account 0 has sent one transfer
/// (nonce 0, included at height 1).
struct Case {
    name: &'static str,
    reason: TxRejectReason,
    make: fn(&TestChain, &Transaction) -> Transaction,
}

const CASES: &[Case] = &[
    Case {
        name: "insufficient funds",
        reason: TxRejectReason::InsufficientBalance,
        make: |c, _| c.next_transfer(0, c.accounts[1], BALANCE),
    },
    Case {
        name: "nonce too low",
        reason: TxRejectReason::NonceTooLow,
        make: |c, _| c.transfer(0, c.accounts[1], 5, 0),
    },
    Case {
        name: "nonce too high",
        reason: TxRejectReason::NonceTooHigh,
        make: |c, _| c.transfer(0, c.accounts[1], 5, 7),
    },
    Case {
        name: "replay of an included transaction",
        reason: TxRejectReason::NonceTooLow,
        make: |_, included| included.clone(),
    },
    Case {
        name: "wrong chain tag",
        reason: TxRejectReason::WrongChain,
        make: |c, _| {
            let other = ChainId::new("coinjecture-other").unwrap();
            let tx = unsigned_transfer(&other, c.accounts[0], c.accounts[1], 5, c.nonce(0));
            sign(tx, &coinjecture_ledger::test_utils::keypair(0))
        },
    },
    Case {
        name: "bad signature",
        reason: TxRejectReason::BadSignature,
        make: |c, _| Transaction { amount: 6, ..c.next_transfer(0, c.accounts[1], 5) },
    },
    Case {
        name: "fee too low",
        reason: TxRejectReason::FeeTooLow,
        make: |c, _| {
            let tx = Transaction {
                gas_price: 0,
                ..unsigned_transfer(c.chain_id(), c.accounts[0], c.accounts[1], 5, c.nonce(0))
            };
            sign(tx, &coinjecture_ledger::test_utils::keypair(0))
        },
    },
];

#[tokio::test]
async fn each_bad_transaction_is_refused_with_its_reason_and_its_block_changes_nothing() {
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        let mut chain = chain();
        let ledger = open_ledger(dir.path(), &chain).await;
        let included = chain.next_transfer(0, chain.accounts[1], 10);
        apply(&ledger, &chain.push(vec![included.clone()])).await;
        let bad = (case.make)(&chain, &included);

        let checked = ledger.check_transactions(vec![pb::Transaction::from(&bad)]).await.unwrap();
        let verdict = &checked.verdicts[0];
        assert_eq!(verdict.rejection.as_ref().map(|r| r.reason), Some(case.reason), "{}: {verdict:?}", case.name);
        assert_eq!(verdict.tx_hash, Some(bad.hash()), "{}", case.name);

        // A valid transfer before it, so that "state unchanged" means something.
        let good = chain.next_transfer(2, chain.accounts[1], 3);
        let block = chain.block(vec![good, bad]);
        let before = snapshot(&ledger, &chain, &[]).await;
        let execution = ledger.execute_block(&block, false).await.unwrap();
        let rejection = execution.rejection.clone().unwrap();
        assert_eq!(rejection.reason, BlockRejectReason::InvalidTransaction, "{}", case.name);
        assert!(rejection.message.starts_with("transactions[1]: "), "{}: {}", case.name, rejection.message);
        assert!(execution.verdicts[0].accepted());
        assert_eq!(execution.verdicts[1].rejection.as_ref().map(|r| r.reason), Some(case.reason), "{}", case.name);
        for check in [SignatureCheck::Verify, SignatureCheck::AlreadyVerified] {
            if case.reason == TxRejectReason::BadSignature && check == SignatureCheck::AlreadyVerified {
                continue; // the caller vouched for the signatures
            }
            let err =
                ledger.apply_block_with(&block, &certificate(ledger.chain_id(), &block), check).await.unwrap_err();
            assert!(matches!(err, LedgerError::InvalidBlock { height: Height(2), .. }), "{}: {err}", case.name);
            assert_eq!(tonic::Status::from(err).code(), tonic::Code::FailedPrecondition);
        }
        assert_eq!(snapshot(&ledger, &chain, &[]).await, before, "{}: state changed", case.name);
        assert!(ledger.block_by_height(Height(2)).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn check_transactions_chains_nonces_and_names_malformed_fields() {
    let dir = tempfile::tempdir().unwrap();
    let chain = chain();
    let ledger = open_ledger(dir.path(), &chain).await;
    let b = chain.accounts[1];
    let first = chain.transfer(0, b, 1, 0);
    let second = chain.transfer(0, b, 1, 1);
    let mut malformed = pb::Transaction::from(&chain.transfer(0, b, 1, 2));
    malformed.to = vec![1; 31];
    let dup = first.clone();
    let txs = vec![(&first).into(), (&second).into(), malformed, (&dup).into()];
    let checked = ledger.check_transactions(txs).await.unwrap();
    assert!(checked.verdicts[0].accepted() && checked.verdicts[1].accepted());
    let bad = checked.verdicts[2].rejection.as_ref().unwrap();
    assert_eq!(bad.reason, TxRejectReason::Malformed);
    assert_eq!(bad.message, "transactions[2].to: expected 32 bytes, found 31");
    assert_eq!(checked.verdicts[3].rejection.as_ref().unwrap().reason, TxRejectReason::Duplicate);
    assert_eq!(checked.height, Height(0));
}

#[tokio::test]
async fn execute_block_checks_merkle_root_commitment_timestamp_and_parent() {
    let dir = tempfile::tempdir().unwrap();
    let chain = chain();
    let ledger = open_ledger(dir.path(), &chain).await;
    let good = chain.block(vec![chain.next_transfer(0, chain.accounts[1], 5)]);
    let execution = ledger.execute_block(&good, false).await.unwrap();
    assert!(execution.is_valid(), "{:?}", execution.rejection);
    assert_eq!(execution.merkle_root, Some(good.header.merkle_root));

    let mut bad_root = good.clone();
    bad_root.header.merkle_root.0[0] ^= 1;
    let e = ledger.execute_block(&bad_root, false).await.unwrap();
    assert_eq!(e.rejection.unwrap().reason, BlockRejectReason::BadMerkleRoot);
    // A draft does not compare; it answers the values to put in the header.
    let draft = ledger.execute_block(&bad_root, true).await.unwrap();
    assert!(draft.is_valid());
    assert_eq!(draft.merkle_root, Some(good.header.merkle_root));
    assert_eq!(draft.state_commitment, execution.state_commitment);

    let mut bad_commitment = good.clone();
    let mut extra = coinjecture_primitives::PoaExtra::decode(&good.header.extra_data).unwrap();
    extra.state_commitment.0[0] ^= 1;
    bad_commitment.header.extra_data = extra.encode();
    let e = ledger.execute_block(&bad_commitment, false).await.unwrap();
    assert_eq!(e.rejection.unwrap().reason, BlockRejectReason::BadStateCommitment);

    let mut early = good.clone();
    early.header.timestamp = chain.genesis.timestamp_ms / 1000;
    let mut extra = coinjecture_primitives::PoaExtra::decode(&good.header.extra_data).unwrap();
    extra.timestamp_millis = 0;
    early.header.extra_data = extra.encode();
    let e = ledger.execute_block(&early, false).await.unwrap();
    assert_eq!(e.rejection.unwrap().reason, BlockRejectReason::BadTimestamp);

    let mut no_extra = good.clone();
    no_extra.header.extra_data = vec![1, 2, 3];
    let e = ledger.execute_block(&no_extra, false).await.unwrap();
    assert_eq!(e.rejection.unwrap().reason, BlockRejectReason::MalformedHeader);

    let mut orphan = good.clone();
    orphan.header.parent_hash.0[0] ^= 1;
    let err = ledger.execute_block(&orphan, false).await.unwrap_err();
    assert!(matches!(err, LedgerError::WrongParent { .. }), "{err}");
}

#[tokio::test]
async fn account_history_pages_newest_first_through_sent_and_received_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = chain();
    let ledger = open_ledger(dir.path(), &chain).await;
    let (a, b) = (chain.accounts[0], chain.accounts[1]);
    let mut hashes = Vec::new();
    for _ in 0..3 {
        let out = chain.next_transfer(0, b, 1);
        let back = chain.next_transfer(1, a, 1);
        let unrelated = chain.next_transfer(2, b, 1);
        hashes.push(out.hash());
        hashes.push(back.hash());
        apply(&ledger, &chain.push(vec![out, unrelated, back])).await;
    }
    let mut newest = Vec::new();
    let mut pages = 0;
    let mut cursor = None;
    loop {
        let page = ledger.account_history(&a, cursor, 4).await.unwrap();
        pages += 1;
        newest.extend(page.transactions.iter().map(|t| t.tx_hash));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    hashes.reverse();
    assert_eq!(newest, hashes);
    assert_eq!(pages, 2);
    let all_of_b = ledger.account_history(&b, None, 1000).await.unwrap();
    assert_eq!(all_of_b.transactions.len(), 9);
    assert!(
        all_of_b.transactions.windows(2).all(|w| (w[0].block_height, w[0].index) > (w[1].block_height, w[1].index))
    );
    assert!(ledger.account_history(&PublicKey([9; 32]), None, 10).await.unwrap().transactions.is_empty());
    // A cursor naming another account's transaction is refused.
    let foreign = HistoryCursor { height: Height(1), index: 1 };
    assert!(ledger.account_history(&a, Some(foreign), 10).await.is_err());
    let token = HistoryCursor { height: Height(2), index: 1 }.to_token();
    assert_eq!(HistoryCursor::from_token(&token).unwrap(), HistoryCursor { height: Height(2), index: 1 });
    assert!(HistoryCursor::from_token(b"nonsense").is_err());
}

#[tokio::test]
async fn block_ranges_end_at_the_tip_and_limits_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = chain();
    let ledger = open_ledger(dir.path(), &chain).await;
    for i in 0..5 {
        apply(&ledger, &chain.push(vec![chain.next_transfer(i % 3, chain.accounts[(i + 1) % 3], 1)])).await;
    }
    let range = ledger.block_range(Height(2), 10).await.unwrap();
    assert_eq!(range.iter().map(|b| b.height).collect::<Vec<_>>(), [2, 3, 4, 5].map(Height));
    assert!(range.iter().all(|b| b.block.transactions.len() == 1 && b.certificate.is_some()));
    assert!(ledger.block_range(Height(6), 10).await.unwrap().is_empty());
    assert!(ledger.block_range(Height(0), 0).await.is_err());
    assert!(ledger.block_range(Height(0), 1001).await.is_err());
}

#[tokio::test]
async fn transactions_are_found_by_hash_in_every_era_of_the_index_also_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = chain();
    let ledger = open_ledger(dir.path(), &chain).await;
    // A new era every 4 transactions: 6 blocks of 3 give eras 0, 0, 1, 1, 2, 2.
    ledger.set_era_size_for_tests(4).await;
    let mut sent = Vec::new();
    for _ in 0..6 {
        let txs = vec![
            chain.next_transfer(0, chain.accounts[1], 1),
            chain.next_transfer(1, chain.accounts[2], 2),
            chain.next_transfer(2, chain.accounts[0], 3),
        ];
        sent.extend(txs.iter().map(Transaction::hash));
        let block = chain.push(txs);
        ledger.apply_block(&block, &certificate(ledger.chain_id(), &block)).await.unwrap();
    }
    let check = |ledger: std::sync::Arc<coinjecture_ledger::Ledger>, sent: Vec<coinjecture_primitives::Hash32>| async move {
        for (i, hash) in sent.iter().enumerate() {
            let found = ledger.transaction(hash).await.unwrap().unwrap_or_else(|| panic!("transaction {i} not found"));
            assert_eq!(
                (found.block_height, found.index as usize, found.tx_hash),
                (Height(1 + i as u64 / 3), i % 3, *hash)
            );
        }
        assert!(ledger.transaction(&coinjecture_primitives::Hash32([7; 32])).await.unwrap().is_none());
        ledger
    };
    let ledger = check(ledger, sent.clone()).await;
    ledger.close().await;
    drop(ledger);
    // Reopened, the ledger continues in the newest era and still finds everything.
    let ledger = open_ledger(dir.path(), &chain).await;
    let block = chain.push(vec![chain.next_transfer(0, chain.accounts[2], 4)]);
    ledger.apply_block(&block, &certificate(ledger.chain_id(), &block)).await.unwrap();
    sent.extend(block.transactions.iter().map(Transaction::hash));
    check(ledger, sent).await;
}

/// Counts the signatures crypto-core is asked to verify.
struct CountingCrypto {
    inner: std::sync::Arc<dyn CryptoPort>,
    verified: std::sync::atomic::AtomicUsize,
}

#[tonic::async_trait]
impl CryptoPort for CountingCrypto {
    async fn verify_block(
        &self,
        tx_hashes: &[coinjecture_primitives::Hash32],
        unverified: &[coinjecture_primitives::SealedTransaction],
    ) -> Result<BlockCrypto, CryptoError> {
        self.verified.fetch_add(unverified.len(), std::sync::atomic::Ordering::SeqCst);
        self.inner.verify_block(tx_hashes, unverified).await
    }

    async fn verify_transactions(
        &self,
        txs: &[coinjecture_primitives::SealedTransaction],
    ) -> Result<Vec<bool>, CryptoError> {
        self.verified.fetch_add(txs.len(), std::sync::atomic::Ordering::SeqCst);
        self.inner.verify_transactions(txs).await
    }

    async fn verify_signatures(
        &self,
        message: &[u8],
        signatures: &[(coinjecture_primitives::PublicKey, coinjecture_primitives::Signature)],
    ) -> Result<Vec<bool>, CryptoError> {
        self.inner.verify_signatures(message, signatures).await
    }
}

#[tokio::test]
async fn a_signature_checked_at_admission_is_not_verified_again_in_the_block_but_a_changed_one_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = chain();
    let crypto = std::sync::Arc::new(CountingCrypto {
        inner: coinjecture_ledger::test_utils::local_crypto(),
        verified: std::sync::atomic::AtomicUsize::new(0),
    });
    let ledger = coinjecture_ledger::Ledger::open(
        dir.path().join("ledger.db"),
        chain.genesis.clone(),
        chain.validators(),
        crypto.clone(),
    )
    .await
    .unwrap();
    let count = || crypto.verified.load(std::sync::atomic::Ordering::SeqCst);
    let good = chain.next_transfer(0, chain.accounts[1], 10);
    let checked = ledger.check_transactions(vec![(&good).into()]).await.unwrap();
    assert!(checked.verdicts[0].accepted());
    assert_eq!(count(), 1);

    // The same transaction with another signature is another hash: verified, and refused.
    let mut forged = good.clone();
    forged.signature.0[0] ^= 1;
    let forged_block = chain.block(vec![forged]);
    let execution = ledger.execute_block(&forged_block, false).await.unwrap();
    assert_eq!(execution.rejection.map(|r| r.reason), Some(BlockRejectReason::InvalidTransaction));
    assert_eq!(execution.verdicts[0].rejection.as_ref().map(|r| r.reason), Some(TxRejectReason::BadSignature));
    assert_eq!(count(), 2);

    // The admitted one inside a block: no second verification, valid, applied.
    let block = chain.push(vec![good]);
    assert!(ledger.execute_block(&block, false).await.unwrap().is_valid());
    assert_eq!(count(), 2, "the admitted transaction's signature was verified again");
    ledger.apply_block(&block, &certificate(ledger.chain_id(), &block)).await.unwrap();
    assert_eq!(count(), 2);
    assert_eq!(&ledger.tip().await.unwrap(), chain.tip());
}

#[tokio::test]
async fn sealed_transactions_get_the_same_verdicts_and_a_signature_is_verified_once() {
    use coinjecture_primitives::SealedTransaction;
    let dir = tempfile::tempdir().unwrap();
    let chain = chain();
    let crypto = std::sync::Arc::new(CountingCrypto {
        inner: coinjecture_ledger::test_utils::local_crypto(),
        verified: std::sync::atomic::AtomicUsize::new(0),
    });
    let ledger = coinjecture_ledger::Ledger::open(
        dir.path().join("ledger.db"),
        chain.genesis.clone(),
        chain.validators(),
        crypto.clone(),
    )
    .await
    .unwrap();
    let count = || crypto.verified.load(std::sync::atomic::Ordering::SeqCst);
    let good = chain.next_transfer(0, chain.accounts[1], 10);
    let mut forged = chain.next_transfer(1, chain.accounts[0], 10);
    forged.signature.0[0] ^= 1;
    let too_early = chain.transfer(2, chain.accounts[0], 10, 5);
    let txs = [good.clone(), forged, too_early];
    let sealed: Vec<SealedTransaction> = txs.iter().cloned().map(SealedTransaction::seal).collect();

    let by_sealed = ledger.check_sealed(&sealed).await.unwrap();
    assert_eq!(count(), 3, "each signature verified once");
    let by_protobuf = ledger.check_transactions(txs.iter().map(Into::into).collect()).await.unwrap();
    let reasons = |c: &coinjecture_ledger::CheckedTransactions| {
        c.verdicts.iter().map(|v| (v.tx_hash, v.rejection.as_ref().map(|r| r.reason))).collect::<Vec<_>>()
    };
    assert_eq!(reasons(&by_sealed), reasons(&by_protobuf));
    assert_eq!(
        reasons(&by_sealed),
        vec![
            (Some(good.hash()), None),
            (Some(sealed[1].hash()), Some(TxRejectReason::BadSignature)),
            (Some(sealed[2].hash()), Some(TxRejectReason::NonceTooHigh)),
        ]
    );
    // Checked again as the same sealed values: nothing is verified again (each verdict, the
    // bad one's too, rides on its sealed transaction).
    let before = count();
    let again = ledger.check_sealed(&sealed).await.unwrap();
    assert_eq!(reasons(&again), reasons(&by_sealed));
    assert_eq!(count() - before, 0, "the sealed transactions carry their verdicts");
    // A resubmission (sealed afresh from the same bytes): the valid signatures are in the
    // ledger's cache; only the bad one is verified again.
    let resealed: Vec<SealedTransaction> =
        sealed.iter().map(|t| SealedTransaction::decode(t.bytes()).unwrap()).collect();
    let again = ledger.check_sealed(&resealed).await.unwrap();
    assert_eq!(reasons(&again), reasons(&by_sealed));
    assert_eq!(count() - before, 1, "only the bad signature is verified again");
}

#[tokio::test]
async fn a_block_executed_with_its_sealed_transactions_gets_the_same_answer_and_others_are_refused() {
    use coinjecture_primitives::SealedTransaction;
    let dir = tempfile::tempdir().unwrap();
    let chain = chain();
    let ledger = open_ledger(dir.path(), &chain).await;
    let txs = vec![chain.next_transfer(0, chain.accounts[1], 10), chain.next_transfer(1, chain.accounts[0], 20)];
    let block = chain.block(txs.clone());
    let sealed: Vec<SealedTransaction> = txs.iter().cloned().map(SealedTransaction::seal).collect();
    for draft in [true, false] {
        let plain = ledger.execute_block(&block, draft).await.unwrap();
        assert!(plain.is_valid(), "{plain:?}");
        let by_sealed = ledger.execute_block_sealed(&block, sealed.clone(), draft).await.unwrap();
        assert_eq!(by_sealed.is_valid(), plain.is_valid());
        assert_eq!(by_sealed.merkle_root, plain.merkle_root);
        assert_eq!(by_sealed.state_commitment, plain.state_commitment);
    }
    let mut other = sealed.clone();
    other.reverse();
    let refused = ledger.execute_block_sealed(&block, other, true).await.unwrap_err();
    assert!(matches!(refused, LedgerError::InvalidArgument { .. }), "{refused}");
    assert!(refused.to_string().contains("not the block's transactions"), "{refused}");
}
