//! The driver under hostile or unlucky input (issue #19): what it writes to disk and in which
//! order (against a scripted ledger and network), and evidence kept across a restart (against a
//! real SQLite ledger).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use coinjecture_consensus::driver::{self, DriverConfig};
use coinjecture_consensus::{EngineConfig, MempoolConfig, QuorumMode, ValidatorSchedule, ValidatorSet};
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::consensus::{Proposal, Vote, VoteType};
use coinjecture_primitives::{
    Block, BlockHeader, ChainId, CommitCertificate, Hash32, Height, PoaExtra, PublicKey, Round, Signature, UnixMillis,
    sha256,
};
use coinjecture_proto::ports::gateway::{GatewayError, GatewayPort, GossipMessage};
use coinjecture_proto::ports::ledger::{
    AccountAtTip, Applied, CheckedTransaction, CheckedTransactions, Execution, LedgerPort, LedgerResult, StoredBlock,
    Tip,
};
use tokio::sync::mpsc;

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
    applied: Mutex<Vec<Height>>,
}

impl Ledger {
    fn tip(&self) -> Tip {
        Tip {
            height: Height(0),
            hash: self.genesis,
            timestamp_ms: UnixMillis(self.genesis_ms),
            state_commitment: Hash32::ZERO,
        }
    }
}

#[tonic::async_trait]
impl LedgerPort for Ledger {
    async fn chain_info(&self) -> LedgerResult<coinjecture_proto::ports::ledger::ChainInfo> {
        Ok(coinjecture_proto::ports::ledger::ChainInfo {
            chain_id: chain(),
            genesis_hash: self.genesis,
            tip: self.tip(),
            oldest_block: Height(0),
        })
    }
    async fn tip(&self) -> LedgerResult<Tip> {
        Ok(Ledger::tip(self))
    }
    async fn block_by_height(&self, _: Height) -> LedgerResult<Option<StoredBlock>> {
        Ok(None)
    }
    async fn blocks(&self, _: Height, _: u32, _: usize) -> LedgerResult<Vec<StoredBlock>> {
        Ok(Vec::new())
    }
    async fn account(&self, address: &PublicKey) -> LedgerResult<AccountAtTip> {
        Ok(AccountAtTip { address: *address, balance: 0, nonce: 0, height: Height(0) })
    }
    async fn check_transactions(
        &self,
        txs: &[coinjecture_primitives::SealedTransaction],
    ) -> LedgerResult<CheckedTransactions> {
        let results = txs.iter().map(|t| CheckedTransaction { tx_hash: Some(t.hash()), verdict: Ok(()) }).collect();
        Ok(CheckedTransactions { results, height: Height(0) })
    }
    async fn execute_block(&self, _: &coinjecture_primitives::SealedBlock, _: bool) -> LedgerResult<Execution> {
        Ok(Execution {
            rejection: None,
            state_commitment: Some(Hash32([1; 32])),
            merkle_root: Some(Hash32::ZERO),
            results: Vec::new(),
        })
    }
    async fn apply_block(
        &self,
        block: &coinjecture_primitives::SealedBlock,
        _: &CommitCertificate,
    ) -> LedgerResult<Applied> {
        self.applied.lock().unwrap().push(block.header().block_index);
        // The tip after the call is the block (the driver trusts what the ledger says it applied).
        let tip = Tip {
            height: block.header().block_index,
            hash: block.hash(),
            timestamp_ms: block.header().timestamp_ms(),
            state_commitment: Hash32::ZERO,
        };
        Ok(Applied { tip, already_applied: false })
    }
    async fn record_evidence(&self, _: &coinjecture_primitives::Evidence, _: UnixMillis) -> LedgerResult<bool> {
        Ok(false)
    }
    async fn recorded_evidence(&self, _: u32) -> LedgerResult<Vec<(coinjecture_primitives::Evidence, UnixMillis)>> {
        Ok(Vec::new())
    }
}

/// Peers that have nothing to give at the first sync request, and the finalized block later.
struct Network {
    decided: (Block, CommitCertificate),
    requests: Mutex<u32>,
}

#[tonic::async_trait]
impl GatewayPort for Shared<Network> {
    async fn publish(&self, _: &GossipMessage) -> Result<(), GatewayError> {
        Ok(())
    }
    async fn request_blocks(&self, from: Height, _: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
        let mut n = self.requests.lock().unwrap();
        *n += 1;
        Ok(if *n >= 2 && from == Height(1) { vec![self.decided.clone()] } else { Vec::new() })
    }
}

fn block(height: u64, parent: Hash32, miner: PublicKey, ts: i64, salt: u8) -> Block {
    let extra = PoaExtra {
        round: Round(0),
        timestamp_millis: ts.rem_euclid(1000) as u16,
        state_commitment: Hash32([salt; 32]),
        chain_id: None,
    };
    Block {
        header: BlockHeader {
            codec_version: 1,
            block_index: Height(height),
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
        height: Height(1),
        round: Round(0),
        vote_type: VoteType::Precommit,
        block_hash: Some(hash),
        validator: key.public_key(),
        signature: Signature::ZERO,
    };
    v.signature = key.sign(&v.signing_bytes());
    v
}

/// In tokio's paused time with the driver on a virtual clock: no real waiting, and the same
/// interleaving every run.
#[tokio::test(start_paused = true)]
async fn a_sync_inside_a_batch_never_sends_the_signing_state_back_to_an_older_height() {
    let clock = coinjecture_consensus::clock::VirtualClock::starting_at(UnixMillis(1_767_225_600_000));
    let now_ms = || coinjecture_consensus::clock::Clock::now_ms(&clock);
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
    let me = index(set.proposer(Height(2), Round(0)));
    let p1 = index(set.proposer(Height(1), Round(0)));
    assert_ne!(me, p1);
    let genesis = sha256(b"ordering genesis");
    let genesis_ms = now_ms().saturating_add_millis(-60_000);

    // X: decided at height 1 by the three others (this validator never sees its proposal).
    let x = block(1, genesis, keys[p1].public_key(), genesis_ms.get() + 1_000, 0x11);
    let others: Vec<usize> = (0..4).filter(|i| *i != me).collect();
    let precommits: Vec<Vote> = others.iter().map(|i| precommit(&keys[*i], x.hash())).collect();
    let certificate = CommitCertificate {
        height: Height(1),
        round: Round(0),
        block_hash: x.hash(),
        signatures: precommits.iter().map(|v| (v.validator, v.signature)).collect(),
    }
    .sorted();
    let ledger = Arc::new(Ledger { genesis, genesis_ms: genesis_ms.get(), applied: Mutex::new(Vec::new()) });
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
        block_limits: coinjecture_primitives::BlockLimits::default(),
        // Generous: these tests are about correctness, not the time budget.
        proposal_budget: std::time::Duration::from_secs(60),
        sign_state_path: sign_state_path.clone(),
        network_label: "test".into(),
        unsafe_reset_signing_state: false,
        tx_journal: false,
        compact_proposals: true,
    };
    let (inbox, inbound) = mpsc::channel(64);
    let (handle, task) =
        driver::start_with_clock(config, key(me), ledger.clone(), Shared(network.clone()), inbound, Arc::new(clock))
            .await
            .unwrap();
    let send = |m: GossipMessage| inbox.send(m);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let requests = || *network.requests.lock().unwrap();
    for v in &precommits {
        send(GossipMessage::Vote(v.clone())).await.unwrap();
    }
    // The precommit quorum made it ask for the block; the peers had nothing yet.
    while requests() < 1 {
        assert!(tokio::time::Instant::now() < deadline, "no sync request");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Within the retry interval: height 1's proposal (another block, Y), which it prevotes,
    // and a second prevote for Y.
    let y = block(1, genesis, keys[p1].public_key(), now_ms().get(), 0x22);
    let mut proposal = Proposal {
        chain_id: chain(),
        height: Height(1),
        round: Round(0),
        pol_round: None,
        timestamp_ms: now_ms(),
        block: y.clone(),
        proposer: keys[p1].public_key(),
        signature: Signature::ZERO,
    };
    proposal.signature = keys[p1].sign(&proposal.signing_bytes());
    send(GossipMessage::Proposal(proposal.clone())).await.unwrap();
    let prevote = |i: usize| {
        let mut v = precommit(&keys[i], y.hash());
        v.vote_type = VoteType::Prevote;
        v.signature = keys[i].sign(&v.signing_bytes());
        v
    };
    send(GossipMessage::Vote(prevote(others[0]))).await.unwrap();
    while driver::load_sign_state(&sign_state_path).unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "no prevote");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(requests(), 1, "the test's timing: a second sync request came too early");
    // Past the retry interval, the third prevote for Y: one batch asks for sync again (now the
    // peers have height 1's block) and locks on Y and precommits it at height 1.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    send(GossipMessage::Vote(prevote(others[1]))).await.unwrap();

    while handle.status().height < Height(2) {
        assert!(tokio::time::Instant::now() < deadline, "height 1 not committed: {:?}", handle.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the rest of the batch run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(*ledger.applied.lock().unwrap(), vec![Height(1)]);
    let state = driver::load_sign_state(&sign_state_path).unwrap().expect("a signing state");
    assert_eq!(state.height, Height(2), "the signing state on disk went back: {state:?}");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_of_both_kinds_is_recorded_in_the_ledger_and_served_after_a_restart() {
    use coinjecture_ledger::test_utils::{TestChain, local_crypto};
    use coinjecture_primitives::consensus::Evidence;

    /// Peers that never answer and swallow everything.
    struct Silent;
    #[tonic::async_trait]
    impl GatewayPort for Silent {
        async fn publish(&self, _: &GossipMessage) -> Result<(), GatewayError> {
            Ok(())
        }
        async fn request_blocks(&self, _: Height, _: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
            Ok(Vec::new())
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let test_chain = TestChain::new("coinjecture-ordering", 1, 1_000);
    let key = |i: usize| Keypair::from_seed(&sha256(format!("evidence {i}").as_bytes()).0);
    let keys: Vec<Keypair> = (0..4).map(key).collect();
    let set = ValidatorSet::new(keys.iter().map(Keypair::public_key).collect(), QuorumMode::Byzantine).unwrap();
    let index = |k: PublicKey| keys.iter().position(|x| x.public_key() == k).unwrap();
    let p1 = index(set.proposer(Height(1), Round(0)));
    let me = (p1 + 1) % 4;
    let other = (p1 + 2) % 4;
    let schedule = ValidatorSchedule::fixed(set);
    let start = |test_chain: &TestChain| {
        let (schedule, dir) = (schedule.clone(), dir.path().to_path_buf());
        let genesis = test_chain.genesis.clone();
        async move {
            // The ledger verifies certificates against the same schedule as the driver.
            let ledger =
                coinjecture_ledger::Ledger::open(dir.join("node.db"), genesis, schedule.clone(), local_crypto())
                    .await
                    .unwrap();
            let api = Arc::new(ledger);
            let mut engine = EngineConfig::with_block_time(chain(), 200);
            (engine.timeout_propose_ms, engine.timeout_vote_ms, engine.timeout_cap_ms) = (60_000, 60_000, 60_000);
            let config = DriverConfig {
                engine,
                schedule,
                mempool: MempoolConfig::default(),
                max_block_transactions: 100,
                block_limits: coinjecture_primitives::BlockLimits::default(),
                // Generous: these tests are about correctness, not the time budget.
                proposal_budget: std::time::Duration::from_secs(60),
                sign_state_path: dir.join("node.sign_state"),
                network_label: "test".into(),
                unsafe_reset_signing_state: false,
                tx_journal: false,
                compact_proposals: true,
            };
            let (inbox, inbound) = mpsc::channel(64);
            let (handle, task) = driver::start(config, key(me), api, Silent, inbound).await.unwrap();
            (handle, task, inbox)
        }
    };
    let (handle, task, inbox) = start(&test_chain).await;
    let genesis = Hash32::ZERO;

    // Validator `other` prevotes two different blocks at (1, 0); the proposer of (1, 0) signs
    // two different proposals. Their blocks name a parent that is not the tip: the ledger
    // refuses them (FAILED_PRECONDITION), which used to stop the validator's driver — one
    // Byzantine proposer could stop every honest validator. Now they are invalid blocks.
    let mut prevote = precommit(&keys[other], Hash32([1; 32]));
    prevote.vote_type = VoteType::Prevote;
    prevote.signature = keys[other].sign(&prevote.signing_bytes());
    let mut conflicting = prevote.clone();
    conflicting.block_hash = Some(Hash32([2; 32]));
    conflicting.signature = keys[other].sign(&conflicting.signing_bytes());
    let proposal = |salt: u8| {
        let mut p = Proposal {
            chain_id: chain(),
            height: Height(1),
            round: Round(0),
            pol_round: None,
            timestamp_ms: UnixMillis(now_ms()),
            block: block(1, genesis, keys[p1].public_key(), now_ms(), salt),
            proposer: keys[p1].public_key(),
            signature: Signature::ZERO,
        };
        p.signature = keys[p1].sign(&p.signing_bytes());
        p
    };
    let send = |m: GossipMessage| inbox.send(m);
    send(GossipMessage::Vote(prevote.clone())).await.unwrap();
    send(GossipMessage::Vote(conflicting.clone())).await.unwrap();
    send(GossipMessage::Proposal(proposal(1))).await.unwrap();
    send(GossipMessage::Proposal(proposal(2))).await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut before = Vec::new();
    while before.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "evidence not detected: {before:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
        match handle.evidence().await {
            Ok(records) => before = records,
            Err(e) => panic!("{e}: the driver stopped: {:?}", task.await),
        }
    }
    let kinds = |records: &[(Evidence, UnixMillis)]| -> Vec<(bool, PublicKey)> {
        records.iter().map(|(e, _)| (matches!(e, Evidence::DuplicateVote { .. }), e.offender())).collect()
    };
    assert_eq!(kinds(&before), vec![(true, keys[other].public_key()), (false, keys[p1].public_key())]);
    // The first proposal was validated (refused) and the driver runs on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!task.is_finished(), "the driver stopped: {:?}", task.await);

    // Restart: the node's memory is gone, the ledger file stays.
    task.abort();
    let _ = task.await;
    drop(inbox);
    let (handle, task, inbox) = start(&test_chain).await;
    let after = handle.evidence().await.unwrap();
    assert_eq!(after, before, "evidence after the restart");
    // Seen again, it is not listed twice.
    send_again(&inbox, &prevote, &conflicting).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(handle.evidence().await.unwrap().len(), 2);
    task.abort();
}

async fn send_again(inbox: &mpsc::Sender<GossipMessage>, a: &Vote, b: &Vote) {
    for v in [a, b] {
        inbox.send(GossipMessage::Vote(v.clone())).await.unwrap();
    }
}
