//! #22 item 2: assume-valid replay (`LedgerOptions::assume_valid_height`). A certified block at or
//! below the height is applied without verifying its transactions' signatures; the commit
//! certificate, the Merkle root and the state commitment are still checked, so a forged block
//! or a wrong state is refused as before. Real SQLite files, real ed25519 signatures.

use coinjecture_ledger::test_utils::{TestChain, certificate, certificate_by, keypair, local_crypto};
use coinjecture_ledger::{Ledger, LedgerError, LedgerOptions};
use coinjecture_primitives::{Block, Hash32, Height, PoaExtra, Transaction};

async fn open(dir: &std::path::Path, chain: &TestChain, assume_valid_height: u64) -> Ledger {
    let options =
        LedgerOptions { assume_valid_height: Height(assume_valid_height), keep_blocks: None, ..Default::default() };
    Ledger::open_with(dir.join("ledger.db"), chain.genesis.clone(), chain.validators(), local_crypto(), options)
        .await
        .unwrap()
}

/// A transfer from account 0 whose signature is by another key: a forgery a verifying node
/// refuses.
fn forged_transfer(chain: &TestChain) -> Transaction {
    let mut tx = chain.next_transfer(0, chain.accounts[1], 5);
    tx.signature = keypair(424_242).sign(&tx.signing_message());
    tx
}

#[tokio::test]
async fn assume_valid_skips_signatures_only_up_to_its_height_and_only_signatures() {
    let mut chain = TestChain::new("coinjecture-assume-valid", 4, 1_000_000_000);
    let genesis = chain.clone();
    // Block 1 carries a forged signature, otherwise consistent (root and commitment match it).
    let forged = forged_transfer(&chain);
    let b1 = chain.block(vec![forged, chain.next_transfer(2, chain.accounts[3], 7)]);
    chain.extend(&b1);

    // Default (verify): refused for its signature.
    let dir = tempfile::tempdir().unwrap();
    let verifying = open(dir.path(), &genesis, 0).await;
    match verifying.apply_block(&b1, &certificate(verifying.chain_id(), &b1)).await {
        Err(LedgerError::InvalidBlock { height: Height(1), source, .. }) => {
            let reason = source.to_string();
            assert!(reason.contains("signature"), "refused for its signature: {reason}")
        }
        other => panic!("a verifying ledger must refuse a forged signature, got {other:?}"),
    }
    assert_eq!(verifying.tip().await.unwrap().height, Height(0));

    // Assume-valid up to height 1: the certified block applies, with the state it commits to.
    let dir = tempfile::tempdir().unwrap();
    let replaying = open(dir.path(), &genesis, 1).await;
    replaying.apply_block(&b1, &certificate(replaying.chain_id(), &b1)).await.unwrap();
    assert_eq!(replaying.tip().await.unwrap(), *chain.tip());
    assert_eq!(replaying.account(&chain.accounts[0]).await.unwrap().0, chain.account(&chain.accounts[0]));

    // Above the height, signatures are verified again.
    let b2 = chain.block(vec![forged_transfer(&chain)]);
    match replaying.apply_block(&b2, &certificate(replaying.chain_id(), &b2)).await {
        Err(LedgerError::InvalidBlock { height: Height(2), source, .. }) => {
            assert!(source.to_string().contains("signature"), "{source}")
        }
        other => panic!("block 2 is above assume_valid_height 1 and must be verified, got {other:?}"),
    }
    assert_eq!(replaying.tip().await.unwrap().height, Height(1));
}

#[tokio::test]
async fn assume_valid_still_refuses_a_bad_certificate_merkle_root_or_state_commitment() {
    let mut chain = TestChain::new("coinjecture-assume-valid-refusals", 4, 1_000_000_000);
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path(), &chain, u64::MAX).await;
    let good = chain.block(vec![chain.next_transfer(0, chain.accounts[1], 5)]);

    // A certificate by a key outside the validator set.
    let outsider = keypair(7);
    match ledger.apply_block(&good, &certificate_by(ledger.chain_id(), &good, &[&outsider])).await {
        Err(LedgerError::BadCertificate { height: Height(1), .. }) => {}
        other => panic!("a certificate by a non-validator must be refused, got {other:?}"),
    }

    // A wrong Merkle root (the block is certified as it is: the certificate verifies).
    let mut bad_root = good.clone();
    bad_root.header.merkle_root = Hash32([7; 32]);
    match ledger.apply_block(&bad_root, &certificate(ledger.chain_id(), &bad_root)).await {
        Err(LedgerError::InvalidBlock { source, .. }) => {
            assert!(source.to_string().contains("merkle_root"), "{source}")
        }
        other => panic!("a wrong Merkle root must be refused, got {other:?}"),
    }

    // A wrong state commitment.
    let mut bad_state = good.clone();
    let mut extra = PoaExtra::decode(&bad_state.header.extra_data).unwrap();
    extra.state_commitment = Hash32([9; 32]);
    bad_state.header.extra_data = extra.encode();
    match ledger.apply_block(&bad_state, &certificate(ledger.chain_id(), &bad_state)).await {
        Err(LedgerError::InvalidBlock { source, .. }) => {
            assert!(source.to_string().contains("state_commitment"), "{source}")
        }
        other => panic!("a wrong state commitment must be refused, got {other:?}"),
    }

    // A transaction the sender cannot pay (the block commits to the state it claims).
    let overspend: Block = chain.block(vec![chain.next_transfer(0, chain.accounts[1], 2_000_000_000)]);
    match ledger.apply_block(&overspend, &certificate(ledger.chain_id(), &overspend)).await {
        Err(LedgerError::InvalidBlock { .. }) => {}
        other => panic!("an overspend must be refused, got {other:?}"),
    }

    // Nothing was written; the good block still applies.
    assert_eq!(ledger.tip().await.unwrap().height, Height(0));
    ledger.apply_block(&good, &certificate(ledger.chain_id(), &good)).await.unwrap();
    chain.extend(&good);
    assert_eq!(ledger.tip().await.unwrap(), *chain.tip());
}
