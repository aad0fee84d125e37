//! Catch-up of a follower (#22 item 2) against a real SQLite ledger: one trigger (a finalized
//! block gossiped from the tip, 350 blocks ahead) is enough to fetch every range (the next one
//! read ahead while the last one is applied, no wait for another message from the network), and
//! each sync answer is applied in one batched ledger call.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coinjecture_consensus::driver::{self, DriverConfig};
use coinjecture_consensus::{EngineConfig, MempoolConfig};
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_ledger::Ledger;
use coinjecture_ledger::test_utils::{TestChain, local_crypto};
use coinjecture_primitives::consensus::Evidence;
use coinjecture_primitives::{Block, CommitCertificate, Height, PublicKey, SealedBlock, UnixMillis, sha256};
use coinjecture_proto::ports::gateway::{GatewayError, GatewayPort, GossipMessage};
use coinjecture_proto::ports::ledger::{
    AccountAtTip, Applied, ChainInfo, CheckedTransactions, Execution, LedgerPort, LedgerResult, StoredBlock, Tip,
};
use tokio::sync::mpsc;

const BLOCKS: usize = 350;

/// The follower's ledger, counting how blocks reach it.
struct Counting {
    ledger: Arc<Ledger>,
    /// Blocks applied one per call (`apply_block`: the live path).
    single: Mutex<u64>,
    /// Calls of `apply_blocks` and the blocks they carried.
    batched: Mutex<(u64, u64)>,
}

#[tonic::async_trait]
impl LedgerPort for Counting {
    async fn chain_info(&self) -> LedgerResult<ChainInfo> {
        LedgerPort::chain_info(&*self.ledger).await
    }
    async fn tip(&self) -> LedgerResult<Tip> {
        LedgerPort::tip(&*self.ledger).await
    }
    async fn block_by_height(&self, height: Height) -> LedgerResult<Option<StoredBlock>> {
        LedgerPort::block_by_height(&*self.ledger, height).await
    }
    async fn blocks(&self, from: Height, limit: u32, max_bytes: usize) -> LedgerResult<Vec<StoredBlock>> {
        LedgerPort::blocks(&*self.ledger, from, limit, max_bytes).await
    }
    async fn account(&self, address: &PublicKey) -> LedgerResult<AccountAtTip> {
        LedgerPort::account(&*self.ledger, address).await
    }
    async fn check_transactions(
        &self,
        txs: &[coinjecture_primitives::SealedTransaction],
    ) -> LedgerResult<CheckedTransactions> {
        LedgerPort::check_transactions(&*self.ledger, txs).await
    }
    async fn execute_block(&self, block: &SealedBlock, draft: bool) -> LedgerResult<Execution> {
        LedgerPort::execute_block(&*self.ledger, block, draft).await
    }
    async fn apply_block(&self, block: &SealedBlock, certificate: &CommitCertificate) -> LedgerResult<Applied> {
        *self.single.lock().unwrap() += 1;
        LedgerPort::apply_block(&*self.ledger, block, certificate).await
    }
    async fn apply_blocks(&self, blocks: &[(SealedBlock, CommitCertificate)]) -> LedgerResult<Tip> {
        {
            let mut batched = self.batched.lock().unwrap();
            batched.0 += 1;
            batched.1 += blocks.len() as u64;
        }
        LedgerPort::apply_blocks(&*self.ledger, blocks).await
    }
    async fn record_evidence(&self, evidence: &Evidence, at: UnixMillis) -> LedgerResult<bool> {
        LedgerPort::record_evidence(&*self.ledger, evidence, at).await
    }
    async fn recorded_evidence(&self, limit: u32) -> LedgerResult<Vec<(Evidence, UnixMillis)>> {
        LedgerPort::recorded_evidence(&*self.ledger, limit).await
    }
}

/// Peers holding the whole chain; each request is recorded with the follower's ledger tip at
/// the time it was made. Nothing is ever gossiped to the follower.
struct Peers {
    blocks: Vec<(Block, CommitCertificate)>,
    follower: Arc<Ledger>,
    requests: Mutex<Vec<(Height, Height)>>,
}

#[tonic::async_trait]
impl GatewayPort for Peers {
    async fn publish(&self, _: &GossipMessage) -> Result<(), GatewayError> {
        Ok(())
    }
    async fn request_blocks(&self, from: Height, count: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
        let tip = self.follower.tip().await.map_err(|e| GatewayError::Unavailable(e.to_string()))?.height;
        self.requests.lock().unwrap().push((from, tip));
        let start = (from.get() as usize).saturating_sub(1);
        Ok(self.blocks.iter().skip(start).take(count as usize).cloned().collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_catches_up_every_range_from_one_trigger_applying_each_answer_in_one_batch() {
    let mut chain = TestChain::new("coinjecture-catch-up", 4, 1_000_000_000);
    let genesis = chain.clone();
    let blocks: Vec<(Block, CommitCertificate)> = (0..BLOCKS)
        .map(|i| {
            let txs = vec![chain.next_transfer(i % 4, chain.accounts[(i + 1) % 4], 1 + i as u64)];
            let block = chain.push(txs);
            let certificate = chain.certificate(&block);
            (block, certificate)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(
        Ledger::open(dir.path().join("follower.db"), genesis.genesis.clone(), genesis.validators(), local_crypto())
            .await
            .unwrap(),
    );
    let counting =
        Arc::new(Counting { ledger: Arc::clone(&ledger), single: Mutex::new(0), batched: Mutex::new((0, 0)) });
    let peers =
        Arc::new(Peers { blocks: blocks.clone(), follower: Arc::clone(&ledger), requests: Mutex::new(Vec::new()) });
    let config = DriverConfig {
        engine: EngineConfig::with_block_time(genesis.chain_id().clone(), 1_000),
        schedule: genesis.validators(),
        mempool: MempoolConfig::default(),
        max_block_transactions: 1000,
        block_limits: coinjecture_primitives::BlockLimits::default(),
        proposal_budget: std::time::Duration::from_secs(60),
        sign_state_path: dir.path().join("follower.sign_state"),
        network_label: "test".into(),
        unsafe_reset_signing_state: false,
        tx_journal: false,
        compact_proposals: true,
    };
    // A key outside the validator set: a follower.
    let key = Keypair::from_seed(&sha256(b"catch-up follower").0);
    let (inbox, inbound) = mpsc::channel(16);
    let (_handle, task) = driver::start(config, key, counting.clone(), Arc::clone(&peers), inbound).await.unwrap();

    // The one message from the network: the tip's finalized block.
    let (tip_block, tip_certificate) = blocks[BLOCKS - 1].clone();
    inbox.send(GossipMessage::FinalizedBlock { block: tip_block, certificate: tip_certificate }).await.unwrap();
    let started = Instant::now();
    while ledger.tip().await.unwrap().height < Height(BLOCKS as u64) {
        assert!(!task.is_finished(), "the driver stopped");
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "stuck at {} of {BLOCKS} after requests {:?}",
            ledger.tip().await.unwrap().height,
            peers.requests.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ledger.tip().await.unwrap(), *chain.tip());
    for address in &chain.accounts {
        assert_eq!(ledger.account(address).await.unwrap().0, chain.account(address));
    }

    let requests = peers.requests.lock().unwrap().clone();
    let froms: Vec<u64> = requests.iter().map(|(from, _)| from.get()).collect();
    assert_eq!(froms, vec![1, 101, 201, 301], "each range asked for once, in order");
    // The read-ahead: a range is asked for before the one before it is applied whole.
    let early = requests.iter().filter(|(from, tip)| from.get() > 1 && tip.get() + 1 < from.get()).count();
    assert!(early >= 1, "no range was fetched while the previous one was applied: {requests:?}");
    // Every block came in a sync answer (the last answer, 301..=350, holds the gossiped tip
    // too), each answer applied in one batched call; the engine's commits of those blocks do
    // not write them again, and nothing went through the one-block path.
    let (calls, carried) = *counting.batched.lock().unwrap();
    assert_eq!((calls, carried), (4, BLOCKS as u64), "one apply_blocks per sync answer");
    assert_eq!(*counting.single.lock().unwrap(), 0);
    task.abort();
}
