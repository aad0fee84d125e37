//! #22 item 1: state-sync snapshots. A ledger makes a snapshot every `snapshot_interval` blocks;
//! validators attest its root; an empty ledger verifies the manifest (attestation quorum,
//! certificate of header h), installs the chunks and then follows the chain block by block.
//! Every way a manifest or chunk can be wrong is refused, naming the problem.

use std::path::Path;
use std::time::Duration;

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_ledger::snapshot::{SnapshotError, SnapshotManifest, chunk_hash};
use coinjecture_ledger::test_utils::{TestChain, certificate_by, keypair, local_crypto, validator_key};
use coinjecture_ledger::{Ledger, LedgerError, LedgerOptions, SignatureCheck};
use coinjecture_primitives::validators::{QuorumMode, ValidatorSchedule, ValidatorSet};
use coinjecture_primitives::{Block, Hash32, Height, SnapshotAttestation};

/// Four validators (byzantine quorum: 3); the test chain's proposer is the first.
fn validators() -> (Vec<Keypair>, ValidatorSchedule) {
    let keys = vec![validator_key(), keypair(901), keypair(902), keypair(903)];
    let set = ValidatorSet::new(keys.iter().map(Keypair::public_key).collect(), QuorumMode::Byzantine).unwrap();
    (keys, ValidatorSchedule::fixed(set))
}

async fn open(path: &Path, chain: &TestChain, interval: u64) -> Ledger {
    let options = LedgerOptions { snapshot_interval: interval, snapshots_kept: 2, ..Default::default() };
    Ledger::open_with(path, chain.genesis.clone(), validators().1, local_crypto(), options).await.unwrap()
}

async fn apply(ledger: &Ledger, keys: &[Keypair], blocks: &[Block]) {
    let signers: Vec<&Keypair> = keys.iter().take(3).collect();
    for block in blocks {
        let certificate = certificate_by(ledger.chain_id(), block, &signers);
        ledger.apply_block_with(block, &certificate, SignatureCheck::AlreadyVerified).await.unwrap();
    }
}

/// The manifest of the snapshot at `height` once made, and its chunks.
async fn made(ledger: &Ledger, height: u64) -> (SnapshotManifest, Vec<Vec<u8>>) {
    for _ in 0..500 {
        if let Some(m) = ledger.snapshots().manifests().into_iter().find(|m| m.height == Height(height)) {
            let chunks = (0..m.chunk_hashes.len())
                .map(|i| ledger.snapshots().chunk(m.height, &m.root, i).unwrap().as_ref().clone())
                .collect();
            return (m, chunks);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no snapshot at height {height} was made");
}

fn attest(manifest: &mut SnapshotManifest, chain: &TestChain, signers: &[&Keypair]) {
    for key in signers {
        let mut a = SnapshotAttestation {
            chain_id: chain.chain_id().clone(),
            height: manifest.height,
            root: manifest.root,
            validator: key.public_key(),
            signature: coinjecture_primitives::Signature([0; 64]),
        };
        a.signature = key.sign(&a.signing_bytes());
        manifest.attestations.push(a);
    }
}

#[tokio::test]
async fn an_empty_ledger_installs_an_attested_snapshot_and_follows_the_chain_from_it() {
    let (genesis, blocks) = crate::ring_transfer_blocks("coinjecture-snapshot", 30, 9);
    let (keys, _) = validators();
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("source.db"), &genesis, 4).await;
    // Fold the journal after every block here, so the two sources read their state from
    // different tables and must still agree on the root.
    source.set_fold_threshold_for_tests(1, 1).await;
    let other = open(&dir.path().join("other.db"), &genesis, 4).await;
    apply(&source, &keys, &blocks[..6]).await;
    apply(&other, &keys, &blocks[..6]).await;
    let (mut manifest, chunks) = made(&source, 4).await;
    assert_eq!(made(&other, 4).await.0.root, manifest.root, "two validators compute the same root");
    assert_eq!(manifest.accounts, 31, "30 senders and the proposer");
    attest(&mut manifest, &genesis, &keys[..3].iter().collect::<Vec<_>>());

    let path = dir.path().join("joiner.db");
    let joiner = open(&path, &genesis, 0).await;
    joiner.verify_snapshot_manifest(&manifest).await.unwrap();
    let tip = joiner.install_snapshot(&manifest, &chunks).await.unwrap();
    assert_eq!((tip.height, tip.hash), (Height(4), blocks[3].hash()));
    assert_eq!(joiner.oldest_block(), Height(5));
    assert!(matches!(joiner.block_by_height(Height(3)).await, Err(LedgerError::Pruned { .. })));
    // Installing twice is refused: the ledger is not empty any more.
    let again = joiner.install_snapshot(&manifest, &chunks).await.unwrap_err();
    assert!(again.to_string().contains("not empty"), "{again}");

    // It follows: blocks 5.. apply on the installed state (their state commitments chain on
    // header 4's), and every balance and nonce equals the source's.
    apply(&joiner, &keys, &blocks[4..]).await;
    apply(&source, &keys, &blocks[6..]).await;
    let mut chain = genesis.clone();
    for b in &blocks {
        chain.extend(b);
    }
    let (source_tip, source_accounts) = crate::snapshot(&source, &chain, &[]).await;
    let (joiner_tip, joiner_accounts) = crate::snapshot(&joiner, &chain, &[]).await;
    assert_eq!(joiner_tip, source_tip);
    assert_eq!(joiner_accounts, source_accounts);

    // A restart opens the installed ledger cleanly (its first block has no body).
    joiner.close().await;
    let reopened = open(&path, &genesis, 0).await;
    assert_eq!(reopened.tip().await.unwrap().height, Height(9));
    assert_eq!(reopened.oldest_block(), Height(5));
}

#[tokio::test]
async fn tampered_chunks_wrong_roots_and_too_few_or_forged_attestations_are_refused_naming_the_problem() {
    let (genesis, blocks) = crate::ring_transfer_blocks("coinjecture-snapshot-bad", 20, 2);
    let (keys, _) = validators();
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("source.db"), &genesis, 2).await;
    apply(&source, &keys, &blocks).await;
    let (manifest, chunks) = made(&source, 2).await;
    let joiner = open(&dir.path().join("joiner.db"), &genesis, 0).await;
    let signers: Vec<&Keypair> = keys.iter().collect();

    // Two attestations of four validators: a quorum is three.
    let mut few = manifest.clone();
    attest(&mut few, &genesis, &signers[..2]);
    let err = joiner.verify_snapshot_manifest(&few).await.unwrap_err();
    assert!(matches!(err, SnapshotError::TooFewAttestations { found: 2, quorum: 3, .. }), "{err}");
    assert!(err.to_string().contains("2 distinct validators"), "{err}");

    // Attestations by keys outside the validator set do not count.
    let mut outsiders = manifest.clone();
    attest(&mut outsiders, &genesis, &[&keypair(1), &keypair(2), &keypair(3)]);
    assert!(matches!(
        joiner.verify_snapshot_manifest(&outsiders).await,
        Err(SnapshotError::TooFewAttestations { found: 0, .. })
    ));

    // A forged signature (another message signed) is named.
    let mut forged = manifest.clone();
    attest(&mut forged, &genesis, &signers[..3]);
    forged.attestations[1].signature = keys[1].sign(b"something else");
    let err = joiner.verify_snapshot_manifest(&forged).await.unwrap_err();
    assert_eq!(err, SnapshotError::ForgedAttestation { height: Height(2), validator: keys[1].public_key() });

    // A root the chunk hashes do not give (the attested root of another state).
    let mut wrong = manifest.clone();
    wrong.root = Hash32([9; 32]);
    attest(&mut wrong, &genesis, &signers[..3]);
    let err = joiner.verify_snapshot_manifest(&wrong).await.unwrap_err();
    assert!(matches!(err, SnapshotError::WrongRoot { .. }), "{err}");

    // Attestations of another height or root in the manifest.
    let mut mismatched = manifest.clone();
    attest(&mut mismatched, &genesis, &signers[..3]);
    mismatched.attestations[0].height = Height(1);
    assert!(matches!(
        joiner.verify_snapshot_manifest(&mismatched).await,
        Err(SnapshotError::AttestationMismatch { .. })
    ));

    // A header whose certificate is for another block.
    let mut other_header = manifest.clone();
    attest(&mut other_header, &genesis, &signers[..3]);
    other_header.header = blocks[0].header.clone();
    assert!(joiner.verify_snapshot_manifest(&other_header).await.is_err());

    // A valid manifest with a tampered chunk: refused at install, nothing written.
    let mut good = manifest.clone();
    attest(&mut good, &genesis, &signers[..3]);
    joiner.verify_snapshot_manifest(&good).await.unwrap();
    let mut tampered = chunks.clone();
    let last = tampered[0].len() - 1;
    tampered[0][last] ^= 1;
    let err = joiner.install_snapshot(&good, &tampered).await.unwrap_err();
    match err {
        LedgerError::Snapshot(SnapshotError::TamperedChunk { index: 0, expected, found }) => {
            assert_eq!((expected, found), (good.chunk_hashes[0], chunk_hash(&tampered[0])));
        }
        other => panic!("expected a tampered chunk, got {other}"),
    }
    assert_eq!(joiner.tip().await.unwrap().height, Height(0), "nothing installed");
    // The manifest survives its wire encoding; garbage does not decode.
    assert_eq!(SnapshotManifest::decode(&good.encode()).unwrap(), good);
    assert!(SnapshotManifest::decode(&[1, 2, 3]).is_err());
    joiner.install_snapshot(&good, &chunks).await.unwrap();
    assert_eq!(joiner.tip().await.unwrap().height, Height(2));
}

/// #22's done-when at the ledger level: a chain of 1,000,000 transfers (20 blocks of 50,000 among
/// 50,000 accounts) is snapshotted; an empty ledger verifies the manifest (three attestations,
/// the certificate), verifies and installs the chunks and applies the next block. Prints the
/// figures; the network part (a few MiB of chunks on loopback) is not in it.
/// `cargo test --release -p coinjecture-ledger --test it -- snapshot::join_a_million --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds a chain of 1,000,000 transactions: minutes; run by hand for the figure"]
async fn join_a_million_transaction_chain_from_a_snapshot() {
    const ACCOUNTS: usize = 50_000;
    const BLOCKS: usize = 21;
    let (genesis, blocks) = crate::ring_transfer_blocks("coinjecture-snapshot-1m", ACCOUNTS, BLOCKS);
    let (keys, _) = validators();
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("source.db"), &genesis, 20).await;
    let started = std::time::Instant::now();
    apply(&source, &keys, &blocks[..20]).await;
    let built = started.elapsed();
    let made_at = std::time::Instant::now();
    let (mut manifest, chunks) = made(&source, 20).await;
    let snapshot_made = made_at.elapsed();
    attest(&mut manifest, &genesis, &keys[..3].iter().collect::<Vec<_>>());

    let joiner = open(&dir.path().join("joiner.db"), &genesis, 0).await;
    let join = std::time::Instant::now();
    let wire = SnapshotManifest::decode(&manifest.encode()).unwrap();
    joiner.verify_snapshot_manifest(&wire).await.unwrap();
    joiner.install_snapshot(&wire, &chunks).await.unwrap();
    let installed = join.elapsed();
    apply(&joiner, &keys, &blocks[20..]).await;
    let joined = join.elapsed();
    apply(&source, &keys, &blocks[20..]).await;
    assert_eq!(joiner.tip().await.unwrap(), source.tip().await.unwrap());
    let bytes: usize = chunks.iter().map(Vec::len).sum();
    println!(
        "state sync, 1,000,000 transactions ({BLOCKS} blocks of {ACCOUNTS}): chain applied in {:.1}s, snapshot of \
         {} accounts made in {:.2}s ({} chunks, {bytes} bytes); joiner verified and installed it in {:.2}s and \
         applied the next {ACCOUNTS}-transfer block at {:.2}s",
        built.as_secs_f64(),
        manifest.accounts,
        snapshot_made.as_secs_f64(),
        chunks.len(),
        installed.as_secs_f64(),
        joined.as_secs_f64()
    );
}
