//! The driver's handling of one engine batch against a scripted ledger and network: what it
//! writes to disk, in which order (issue #19 item 5).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use coinjecture_consensus::driver::{self, DriverConfig, Execution, LedgerApi, NetworkApi, Tip};
use coinjecture_consensus::{EngineConfig, MempoolConfig, QuorumMode, ValidatorSchedule, ValidatorSet};
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::consensus::{Proposal, Vote, VoteType};
use coinjecture_primitives::{
    Block, BlockHeader, BlockHeight, ChainId, CommitCertificate, Hash32, PoaExtra, PublicKey, Signature, Transaction,
    sha256,
};
use coinjecture_proto::v1 as pb;
use tokio::sync::mpsc;
use tonic::Status;

fn chain() -> ChainId {
    ChainId::new("coinjecture-ordering").unwrap()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// What the test keeps a handle on while the driver owns it.
struct Shared<T>(Arc<T>);

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A ledger at genesis that accepts every block.
struct Ledger {
    genesis: Hash32,
    genesis_ms: i64,
    applied: Mutex<Vec<BlockHeight>>,
}

#[tonic::async_trait]
impl LedgerApi for Shared<Ledger> {
    async fn tip(&self) -> Result<Tip, Status> {
        Ok(Tip { height: 0, hash: self.genesis, timestamp_ms: self.genesis_ms })
    }
    async fn account_nonce(&self, _: PublicKey) -> Result<u64, Status> {
        Ok(0)
    }
    async fn check(&self, txs: &[Transaction]) -> Result<Vec<Result<(), (pb::TxRejectReason, String)>>, Status> {
        Ok(txs.iter().map(|_| Ok(())).collect())
    }
    async fn execute(&self, _: &Block, _: bool) -> Result<Execution, Status> {
        Ok(Execution {
            valid: true,
            message: String::new(),
            state_commitment: Some(Hash32([1; 32])),
            merkle_root: Some(Hash32::ZERO),
            rejected: Vec::new(),
        })
    }
    async fn apply(&self, block: &Block, _: &CommitCertificate) -> Result<(), Status> {
        self.applied.lock().unwrap().push(block.header.block_index);
        Ok(())
    }
    async fn finalized(&self, _: BlockHeight) -> Result<Option<(Block, CommitCertificate)>, Status> {
        Ok(None)
    }
}

/// Peers that have nothing to give at the first sync request, and the finalized block later.
struct Network {
    decided: (Block, CommitCertificate),
    requests: Mutex<u32>,
}

#[tonic::async_trait]
impl NetworkApi for Shared<Network> {
    async fn publish(&self, _: pb::ConsensusMessage) -> Result<(), Status> {
        Ok(())
    }
    async fn request_blocks(&self, from: BlockHeight, _: u32) -> Result<Vec<(Block, CommitCertificate)>, Status> {
        let mut n = self.requests.lock().unwrap();
        *n += 1;
        Ok(if *n >= 2 && from == 1 { vec![self.decided.clone()] } else { Vec::new() })
    }
}

fn block(height: u64, parent: Hash32, miner: PublicKey, ts: i64, salt: u8) -> Block {
    let extra = PoaExtra {
        round: 0,
        timestamp_millis: ts.rem_euclid(1000) as u16,
        state_commitment: Hash32([salt; 32]),
        chain_id: None,
    };
    Block {
        header: BlockHeader {
            codec_version: 1,
            block_index: height,
            timestamp: ts.div_euclid(1000),
            parent_hash: parent,
            miner_address: miner,
            extra_data: extra.encode(),
            ..Default::default()
        },
        transactions: Vec::new(),
    }
}

fn precommit(key: &Keypair, hash: Hash32) -> Vote {
    let mut v = Vote {
        chain_id: chain(),
        height: 1,
        round: 0,
        vote_type: VoteType::Precommit,
        block_hash: Some(hash),
        validator: key.public_key(),
        signature: Signature::ZERO,
    };
    v.signature = key.sign(&v.signing_bytes());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_inside_a_batch_never_sends_the_signing_state_back_to_an_older_height() {
    // One batch can both ask for sync (a quorum precommitted a block this validator never
    // received) and lock and precommit at height 1 (the messages of equivocating validators
    // make both true). The sync brings height 1's block; the validator commits it and signs at
    // height 2 (it proposes there). The driver used to run the sync inline, in the middle of
    // that batch: the batch's height-1 signing state was then written over the height-2 one,
    // and after a crash the validator would sign at height 2 again.
    let key = |i: usize| Keypair::from_seed(&sha256(format!("ordering {i}").as_bytes()).0);
    let keys: Vec<Keypair> = (0..4).map(key).collect();
    let set = ValidatorSet::new(keys.iter().map(Keypair::public_key).collect(), QuorumMode::Byzantine).unwrap();
    let index = |k: PublicKey| keys.iter().position(|x| x.public_key() == k).unwrap();
    let me = index(set.proposer(2, 0));
    let p1 = index(set.proposer(1, 0));
    assert_ne!(me, p1);
    let genesis = sha256(b"ordering genesis");
    let genesis_ms = now_ms() - 60_000;

    // X: decided at height 1 by the three others (this validator never sees its proposal).
    let x = block(1, genesis, keys[p1].public_key(), genesis_ms + 1_000, 0x11);
    let others: Vec<usize> = (0..4).filter(|i| *i != me).collect();
    let precommits: Vec<Vote> = others.iter().map(|i| precommit(&keys[*i], x.hash())).collect();
    let certificate = CommitCertificate {
        height: 1,
        round: 0,
        block_hash: x.hash(),
        signatures: precommits.iter().map(|v| (v.validator, v.signature)).collect(),
    }
    .sorted();
    let ledger = Arc::new(Ledger { genesis, genesis_ms, applied: Mutex::new(Vec::new()) });
    let network = Arc::new(Network { decided: (x.clone(), certificate), requests: Mutex::new(0) });

    let dir = tempfile::tempdir().unwrap();
    let mut engine = EngineConfig::with_block_time(chain(), 200);
    // No round timeout fires during the test: the batch under test is the only thing happening.
    (engine.timeout_propose_ms, engine.timeout_vote_ms, engine.timeout_cap_ms) = (60_000, 60_000, 60_000);
    engine.sync_retry_ms = 2_000;
    // Nor does a rebroadcast timer (each one is an input that could ask for sync first).
    engine.rebroadcast_ms = 60_000;
    let sign_state_path = dir.path().join("me.sign_state");
    let config = DriverConfig {
        engine,
        schedule: ValidatorSchedule::fixed(set),
        mempool: MempoolConfig::default(),
        max_block_transactions: 100,
        max_block_bytes: 1 << 20,
        sign_state_path: sign_state_path.clone(),
        network_label: "test".into(),
    };
    let (inbox, inbound) = mpsc::channel(64);
    let (handle, task) =
        driver::start(config, key(me), Shared(ledger.clone()), Shared(network.clone()), inbound).await.unwrap();
    let send = |m: pb::consensus_message::Kind| inbox.send(pb::ConsensusMessage { kind: Some(m) });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let requests = || *network.requests.lock().unwrap();
    for v in &precommits {
        send(pb::consensus_message::Kind::Vote(v.into())).await.unwrap();
    }
    // The precommit quorum made it ask for the block; the peers had nothing yet.
    while requests() < 1 {
        assert!(tokio::time::Instant::now() < deadline, "no sync request");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Within the retry interval: height 1's proposal (another block, Y), which it prevotes,
    // and a second prevote for Y.
    let y = block(1, genesis, keys[p1].public_key(), now_ms(), 0x22);
    let mut proposal = Proposal {
        chain_id: chain(),
        height: 1,
        round: 0,
        pol_round: None,
        timestamp_ms: now_ms(),
        block: y.clone(),
        proposer: keys[p1].public_key(),
        signature: Signature::ZERO,
    };
    proposal.signature = keys[p1].sign(&proposal.signing_bytes());
    send(pb::consensus_message::Kind::Proposal((&proposal).into())).await.unwrap();
    let prevote = |i: usize| {
        let mut v = precommit(&keys[i], y.hash());
        v.vote_type = VoteType::Prevote;
        v.signature = keys[i].sign(&v.signing_bytes());
        v
    };
    send(pb::consensus_message::Kind::Vote((&prevote(others[0])).into())).await.unwrap();
    while driver::load_sign_state(&sign_state_path).unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "no prevote");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(requests(), 1, "the test's timing: a second sync request came too early");
    // Past the retry interval, the third prevote for Y: one batch asks for sync again (now the
    // peers have height 1's block) and locks on Y and precommits it at height 1.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    send(pb::consensus_message::Kind::Vote((&prevote(others[1])).into())).await.unwrap();

    while handle.status().height < 2 {
        assert!(tokio::time::Instant::now() < deadline, "height 1 not committed: {:?}", handle.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the rest of the batch run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(*ledger.applied.lock().unwrap(), vec![1]);
    let state = driver::load_sign_state(&sign_state_path).unwrap().expect("a signing state");
    assert_eq!(state.height, 2, "the signing state on disk went back: {state:?}");
    task.abort();
}
