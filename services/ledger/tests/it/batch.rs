//! #22 item 2: batched catch-up writes (`Ledger::apply_sealed_blocks`). Several certified blocks
//! are applied per SQLite transaction, within bounds (blocks, transactions, bytes, time); each
//! block is checked as ApplyBlock checks it, readers see whole committed blocks only, and a
//! refused block leaves the blocks before it applied. Real SQLite files. (The crash test of
//! batches is `crash::sigkill_while_applying_batches_…`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use coinjecture_ledger::test_utils::{TestChain, certificate, certificate_by, keypair, local_crypto};
use coinjecture_ledger::{AccountState, Ledger, LedgerError, LedgerOptions, ReplayBatch};
use coinjecture_primitives::{Block, CommitCertificate, Hash32, Height, PoaExtra, PublicKey, SealedBlock};

async fn open(path: &std::path::Path, chain: &TestChain, assume_valid_height: u64) -> Ledger {
    let options = LedgerOptions {
        assume_valid_height: Height(assume_valid_height),
        keep_blocks: None,
        ..LedgerOptions::default()
    };
    Ledger::open_with(path, chain.genesis.clone(), chain.validators(), local_crypto(), options).await.unwrap()
}

fn certified(chain: &TestChain, blocks: &[Block]) -> Vec<(SealedBlock, CommitCertificate)> {
    blocks.iter().map(|b| (SealedBlock::seal(b.clone()), certificate(chain.chain_id(), b))).collect()
}

fn bounds(max_blocks: usize, max_transactions: usize, max_bytes: usize, max_time: Duration) -> ReplayBatch {
    ReplayBatch { max_blocks, max_transactions, max_bytes, max_time }
}

/// The state of every account of `chain` (and its proposer) after each height, from the chain
/// model: `states[h]` is the state at height h.
fn states(genesis: &TestChain, blocks: &[Block]) -> Vec<Vec<(PublicKey, AccountState)>> {
    let mut model = genesis.clone();
    let mut addresses = model.accounts.clone();
    addresses.push(model.proposer);
    let snapshot = |m: &TestChain| addresses.iter().map(|a| (*a, m.account(a))).collect::<Vec<_>>();
    let mut states = vec![snapshot(&model)];
    for block in blocks {
        model.extend(block);
        states.push(snapshot(&model));
    }
    states
}

#[tokio::test]
async fn batched_replay_commits_within_each_bound_and_ends_at_the_state_of_one_block_per_commit() {
    const BLOCKS: usize = 12;
    let (genesis, blocks) = crate::ring_transfer_blocks("coinjecture-batch-bounds", 100, BLOCKS);
    let input = certified(&genesis, &blocks);
    let expected = states(&genesis, &blocks);
    let dir = tempfile::tempdir().unwrap();
    let block_bytes: usize = input[0].0.transactions().iter().map(|t| t.encoded_len()).sum();
    let unbounded = Duration::from_secs(3600);

    // The defaults the README documents.
    assert_eq!(bounds(64, 100_000, 32 << 20, Duration::from_secs(1)), ReplayBatch::default());
    // (bounds, commits expected for 12 blocks of 100 transactions each; the defaults' count
    // depends on the machine's speed through their 1 s bound)
    let cases = [
        ("one block per commit", ReplayBatch::ONE_BLOCK, Some(12)),
        ("5 blocks", bounds(5, usize::MAX, usize::MAX, unbounded), Some(3)),
        ("250 transactions: 3 blocks", bounds(64, 250, usize::MAX, unbounded), Some(4)),
        ("2 blocks' bytes", bounds(64, usize::MAX, 2 * block_bytes, unbounded), Some(6)),
        ("no time: one block", bounds(64, usize::MAX, usize::MAX, Duration::ZERO), Some(12)),
        ("the defaults", ReplayBatch::default(), None),
    ];
    for (i, (name, bounds, commits)) in cases.into_iter().enumerate() {
        let ledger = open(&dir.path().join(format!("ledger-{i}.db")), &genesis, u64::MAX).await;
        let done = ledger.apply_sealed_blocks(&input, bounds).await.unwrap();
        assert_eq!(done.applied, BLOCKS, "{name}");
        if let Some(commits) = commits {
            assert_eq!(done.commits, commits, "{name}");
        }
        let tip = ledger.tip().await.unwrap();
        assert_eq!(done.tip.as_ref(), Some(&tip), "{name}");
        assert_eq!(tip.hash, blocks[BLOCKS - 1].hash(), "{name}");
        assert_eq!(
            tip.state_commitment,
            PoaExtra::decode(&blocks[BLOCKS - 1].header.extra_data).unwrap().state_commitment
        );
        for (address, state) in &expected[BLOCKS] {
            assert_eq!(ledger.account(address).await.unwrap(), (*state, Height(BLOCKS as u64)), "{name}");
        }
        // Every transaction is indexed at its place.
        let last = &blocks[BLOCKS - 1].transactions[7];
        let found = ledger.transaction(&last.hash()).await.unwrap().unwrap();
        assert_eq!((found.block_height, found.index), (Height(BLOCKS as u64), 7), "{name}");
        // Blocks already final are skipped, not written again.
        let again = ledger.apply_sealed_blocks(&input[BLOCKS - 3..], bounds).await.unwrap();
        assert_eq!((again.applied, again.commits), (0, 0), "{name}");
        ledger.integrity_check().await.unwrap();
    }
}

#[tokio::test]
async fn a_block_refused_mid_batch_keeps_the_blocks_before_it_and_applying_resumes() {
    // Signed transactions, every signature verified (no assume-valid).
    let mut chain = TestChain::new("coinjecture-batch-refused", 4, 1_000_000_000);
    let genesis = chain.clone();
    let blocks: Vec<Block> = (0..6)
        .map(|i| {
            let txs = vec![chain.next_transfer(i % 4, chain.accounts[(i + 1) % 4], 10 + i as u64)];
            chain.push(txs)
        })
        .collect();
    let expected = states(&genesis, &blocks);
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(&dir.path().join("ledger.db"), &genesis, 0).await;
    let batch = bounds(64, usize::MAX, usize::MAX, Duration::from_secs(3600));

    // Block 3 with a forged signature (its Merkle root and commitment match it): refused for the
    // signature; blocks 1 and 2 stay applied.
    let mut input = certified(&genesis, &blocks);
    let mut forged = blocks[2].clone();
    forged.transactions[0].signature = keypair(424_242).sign(&forged.transactions[0].signing_message());
    let mut forged_model = genesis.clone();
    for b in &blocks[..2] {
        forged_model.extend(b);
    }
    let forged = forged_model.block(forged.transactions);
    input[2] = (SealedBlock::seal(forged.clone()), certificate(genesis.chain_id(), &forged));
    match ledger.apply_sealed_blocks(&input, batch).await {
        Err(LedgerError::InvalidBlock { height: Height(3), source, .. }) => {
            assert!(source.to_string().contains("signature"), "{source}")
        }
        other => panic!("a forged signature must be refused mid-batch, got {other:?}"),
    }
    assert_eq!(ledger.tip().await.unwrap().hash, blocks[1].hash(), "blocks 1 and 2 were committed");
    for (address, state) in &expected[2] {
        assert_eq!(ledger.account(address).await.unwrap(), (*state, Height(2)));
    }

    // A wrong state commitment at block 4, then a certificate by a non-validator at block 5.
    let mut input = certified(&genesis, &blocks);
    let mut bad_state = blocks[3].clone();
    let mut extra = PoaExtra::decode(&bad_state.header.extra_data).unwrap();
    extra.state_commitment = Hash32([9; 32]);
    bad_state.header.extra_data = extra.encode();
    input[3] = (SealedBlock::seal(bad_state.clone()), certificate(genesis.chain_id(), &bad_state));
    match ledger.apply_sealed_blocks(&input, batch).await {
        Err(LedgerError::InvalidBlock { height: Height(4), source, .. }) => {
            assert!(source.to_string().contains("state_commitment"), "{source}")
        }
        other => panic!("a wrong state commitment must be refused mid-batch, got {other:?}"),
    }
    assert_eq!(ledger.tip().await.unwrap().hash, blocks[2].hash(), "block 3 was committed");
    let mut input = certified(&genesis, &blocks);
    input[4].1 = certificate_by(genesis.chain_id(), &blocks[4], &[&keypair(7)]);
    match ledger.apply_sealed_blocks(&input, batch).await {
        Err(LedgerError::BadCertificate { height: Height(5), .. }) => {}
        other => panic!("a certificate by a non-validator must be refused mid-batch, got {other:?}"),
    }
    assert_eq!(ledger.tip().await.unwrap().hash, blocks[3].hash(), "block 4 was committed");

    // The good blocks resume from there, on a consistent state.
    let done = ledger.apply_sealed_blocks(&certified(&genesis, &blocks), batch).await.unwrap();
    assert_eq!((done.applied, done.commits), (2, 1));
    assert_eq!(ledger.tip().await.unwrap(), *chain.tip());
    for (address, state) in &expected[6] {
        assert_eq!(ledger.account(address).await.unwrap(), (*state, Height(6)));
    }
    ledger.integrity_check().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_whole_committed_batches_only_while_a_batched_replay_runs() {
    const BLOCKS: usize = 60;
    const PER_COMMIT: usize = 5;
    let (genesis, blocks) = crate::ring_transfer_blocks("coinjecture-batch-readers", 100, BLOCKS);
    let input = certified(&genesis, &blocks);
    let expected = Arc::new(states(&genesis, &blocks));
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(open(&dir.path().join("ledger.db"), &genesis, u64::MAX).await);

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (ledger, expected, done, blocks) =
            (Arc::clone(&ledger), Arc::clone(&expected), Arc::clone(&done), blocks.clone());
        tokio::spawn(async move {
            let mut seen = std::collections::BTreeSet::new();
            let mut reads = 0usize;
            while !done.load(Ordering::Acquire) {
                for (i, (address, _)) in expected[0].iter().enumerate().step_by(13) {
                    let (state, height) = ledger.account(address).await.unwrap();
                    let h = height.get() as usize;
                    assert_eq!(h % PER_COMMIT, 0, "a reader saw height {h}, inside a batch");
                    assert_eq!(state, expected[h][i].1, "account {i} at height {h}");
                    seen.insert(h);
                    reads += 1;
                }
                let tip = ledger.tip().await.unwrap();
                let h = tip.height.get() as usize;
                assert_eq!(h % PER_COMMIT, 0, "a reader saw tip {h}, inside a batch");
                if h > 0 {
                    assert_eq!(tip.hash, blocks[h - 1].hash());
                    let block = ledger.block_by_height(tip.height).await.unwrap().unwrap();
                    assert_eq!(block.block.transactions.len(), blocks[h - 1].transactions.len());
                }
                tokio::task::yield_now().await;
            }
            (seen, reads)
        })
    };
    let applied = ledger
        .apply_sealed_blocks(&input, bounds(PER_COMMIT, usize::MAX, usize::MAX, Duration::from_secs(3600)))
        .await
        .unwrap();
    done.store(true, Ordering::Release);
    let (seen, reads) = reader.await.unwrap();
    assert_eq!((applied.applied, applied.commits), (BLOCKS, BLOCKS / PER_COMMIT));
    assert!(reads > 0);
    eprintln!("reader: {reads} reads at heights {seen:?}");
    for (address, state) in &expected[BLOCKS] {
        assert_eq!(ledger.account(address).await.unwrap(), (*state, Height(BLOCKS as u64)));
    }
}
