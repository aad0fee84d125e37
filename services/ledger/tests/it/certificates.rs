//! Every writer checks certificates: ApplyBlock verifies the commit certificate itself
//! (signatures, quorum, the signer set of that height), whoever calls it.

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_ledger::test_utils::{TestChain, certificate_by, keypair, local_crypto};
use coinjecture_ledger::{Ledger, LedgerError};
use coinjecture_primitives::validators::{QuorumMode, ValidatorSchedule, ValidatorSet};
use coinjecture_primitives::{Block, ChainId, CommitCertificate, Height, Round, Signature};
use coinjecture_proto::v1 as pb;
use tonic::Code;

use crate::grpc::start;
use crate::stored::flip_in_file;

/// The attack over a real socket: ExecuteBlock (draft) to learn the Merkle root and the
/// state commitment of a block of the attacker's choosing, then ApplyBlock with an empty,
/// unsigned certificate naming it. It must be refused, and nothing written.
#[tokio::test]
async fn apply_block_over_grpc_refuses_a_forged_block_with_an_empty_unsigned_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new("coinjecture-forged", 3, 1_000_000);
    let mut running = start(dir.path(), &chain).await;
    let client = &mut running.client;

    // The attacker proposes a block paying itself the fee of a real transfer from the mempool.
    let attacker = keypair(666).public_key();
    chain.proposer = attacker;
    let transfer = chain.next_transfer(0, attacker, 123_477);
    let candidate = chain.block(vec![transfer]);
    let draft = client
        .execute_block(pb::ExecuteBlockRequest { block: Some(pb::Block::from(&candidate)), draft: true })
        .await
        .unwrap()
        .into_inner();
    assert!(draft.valid, "{draft:?}");
    assert_eq!(draft.merkle_root, candidate.header.merkle_root.0.to_vec());

    let forged: Block = candidate;
    let empty = CommitCertificate { height: Height(1), round: Round(0), block_hash: forged.hash(), signatures: vec![] };
    let mut request = pb::Block::from(&forged);
    request.commit_certificate = Some((&empty).into());
    let refused = client.apply_block(pb::ApplyBlockRequest { block: Some(request) }).await;

    let info = client.get_chain_info(pb::GetChainInfoRequest {}).await.unwrap().into_inner();
    let credited = client
        .get_account(pb::LedgerGetAccountRequest { address: attacker.0.to_vec() })
        .await
        .unwrap()
        .into_inner()
        .account
        .map_or(0, |a| a.balance);
    assert_eq!((info.tip_height, credited), (0, 0), "the forged block was written: {refused:?}");
    let err = refused.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("commit_certificate"), "{err:?}");
}

fn set(keys: &[&Keypair]) -> ValidatorSet {
    ValidatorSet::new(keys.iter().map(|k| k.public_key()).collect(), QuorumMode::Crash).unwrap()
}

async fn open_with(dir: &std::path::Path, chain: &TestChain, validators: ValidatorSchedule) -> Ledger {
    Ledger::open(dir.join("ledger.db"), chain.genesis.clone(), validators, local_crypto()).await.unwrap()
}

/// Three validators, crash quorum 2. Each certificate that does not prove the block final is
/// refused with FAILED_PRECONDITION naming what failed, and nothing is written.
#[tokio::test]
async fn apply_block_refuses_strangers_a_missing_quorum_and_bad_signatures_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new("coinjecture-certs", 3, 1_000_000);
    let (a, b, c, stranger) = (keypair(100), keypair(101), keypair(102), keypair(103));
    let ledger = open_with(dir.path(), &chain, ValidatorSchedule::fixed(set(&[&a, &b, &c]))).await;
    let block = chain.push(vec![chain.next_transfer(0, chain.accounts[1], 5)]);
    let id = chain.chain_id().clone();

    let mut forged_signature = certificate_by(&id, &block, &[&a, &b]);
    forged_signature.signatures[1].1 = Signature([3; 64]);
    let other_chain = ChainId::new("coinjecture-elsewhere").unwrap();
    let cases: Vec<(&str, CommitCertificate, String)> = vec![
        (
            "a stranger",
            certificate_by(&id, &block, &[&a, &stranger]),
            format!("signer {} is not a validator", stranger.public_key()),
        ),
        ("one of three", certificate_by(&id, &block, &[&b]), "1 distinct signers, quorum is 2".into()),
        ("no signature", certificate_by(&id, &block, &[]), "0 distinct signers, quorum is 2".into()),
        (
            "a forged signature",
            forged_signature.clone(),
            format!("signature of {} is invalid", forged_signature.signatures[1].0),
        ),
        ("another chain's", certificate_by(&other_chain, &block, &[&a, &c]), "is invalid".into()),
    ];
    for (name, certificate, expected) in cases {
        let err = ledger.apply_block(&block, &certificate).await.unwrap_err();
        assert!(matches!(err, LedgerError::BadCertificate { height: Height(1), .. }), "{name}: {err}");
        assert!(err.to_string().contains(&expected), "{name}: {err}");
        assert!(err.to_string().contains("block.commit_certificate does not verify"), "{name}: {err}");
        assert_eq!(tonic::Status::from(err).code(), Code::FailedPrecondition, "{name}");
        assert_eq!(ledger.tip().await.unwrap().height, Height(0), "{name}: nothing written");
    }
    let applied = ledger.apply_block(&block, &certificate_by(&id, &block, &[&c, &a])).await.unwrap();
    assert_eq!((applied.tip.height, applied.already_applied), (Height(1), false));
    assert_eq!(ledger.block_by_height(Height(1)).await.unwrap().unwrap().certificate.unwrap().signatures.len(), 2);
}

/// The signer set is the one of the block's height: a change at height 3 makes the old set's
/// certificates worthless from 3 on, and the new set's valid.
#[tokio::test]
async fn the_signer_set_of_each_height_is_the_configured_schedules() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new("coinjecture-certs", 3, 1_000_000);
    let (old, new) = (keypair(200), keypair(201));
    let schedule = ValidatorSchedule::new(vec![(Height(1), set(&[&old])), (Height(3), set(&[&new]))]).unwrap();
    let ledger = open_with(dir.path(), &chain, schedule).await;
    let id = chain.chain_id().clone();
    for _ in 0..2 {
        let block = chain.push(vec![]);
        ledger.apply_block(&block, &certificate_by(&id, &block, &[&old])).await.unwrap();
    }
    let third = chain.push(vec![]);
    let err = ledger.apply_block(&third, &certificate_by(&id, &third, &[&old])).await.unwrap_err();
    assert!(err.to_string().contains(&format!("signer {} is not a validator", old.public_key())), "{err}");
    ledger.apply_block(&third, &certificate_by(&id, &third, &[&new])).await.unwrap();
    assert_eq!(ledger.tip().await.unwrap().height, Height(3));
}

/// At open the stored tip's certificate is verified: a database written under other validators,
/// or whose certificate row has a flipped byte, is refused naming the height and what to do.
#[tokio::test]
async fn open_refuses_a_tip_certificate_that_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new("coinjecture-certs", 3, 1_000_000);
    let ledger = open_with(dir.path(), &chain, chain.validators()).await;
    let mut last = None;
    for _ in 0..2 {
        let block = chain.push(vec![chain.next_transfer(0, chain.accounts[1], 5)]);
        let certificate = chain.certificate(&block);
        ledger.apply_block(&block, &certificate).await.unwrap();
        last = Some(certificate);
    }
    ledger.close().await;
    drop(ledger);

    let others = ValidatorSchedule::fixed(set(&[&keypair(300)]));
    let err =
        Ledger::open(dir.path().join("ledger.db"), chain.genesis.clone(), others, local_crypto()).await.unwrap_err();
    assert!(matches!(err, LedgerError::StoredCertificate { height: Height(2), .. }), "{err}");
    assert!(err.to_string().contains("the stored certificate of the tip block 2 does not verify"), "{err}");
    assert!(err.to_string().contains("coinjectured db verify"), "{err}");

    // The right validators open it.
    open_with(dir.path(), &chain, chain.validators()).await.close().await;

    // A flipped byte in the stored signature.
    let signature = last.unwrap().signatures[0].1;
    flip_in_file(&dir.path().join("ledger.db"), &signature.0, 10);
    let err = Ledger::open(dir.path().join("ledger.db"), chain.genesis.clone(), chain.validators(), local_crypto())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("tip block 2") && err.to_string().contains("is invalid"), "{err}");
}
