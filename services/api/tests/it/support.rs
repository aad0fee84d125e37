//! A running API over a real ledger with a few blocks, a fake consensus and fake peers, and a
//! small HTTP client.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use coinjecture_api::{ApiConfig, Backends};
use coinjecture_ledger::Ledger;
use coinjecture_ledger::test_utils::{TestChain, local_crypto};
use coinjecture_primitives::validators::{QuorumMode, ValidatorSet};
use coinjecture_primitives::{
    Block, ChainId, CommitCertificate, Hash32, Height, PublicKey, RejectReason, Rejection, Round, SealedTransaction,
    Transaction, UnixMillis,
};
use coinjecture_proto::ports::consensus::{
    ConsensusError, ConsensusPort, ConsensusStatus, EvidencePage, MempoolStats, SubmitResult, ValidatorSetAt,
};
use coinjecture_proto::ports::gateway::{GatewayError, GatewayPort, GossipMessage, PeerInfo};
use coinjecture_proto::ports::ledger::LedgerPort;
use coinjecture_proto::v1 as pb;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub(crate) const CHAIN_ID: &str = "coinjecture-api-test";
/// The fake consensus refuses transfers of this amount (INSUFFICIENT_BALANCE).
pub(crate) const REFUSED_AMOUNT: u64 = 13;

/// Consensus as the API sees it: a status, a validator set, and a mempool that records what it
/// is given.
#[derive(Debug, Default)]
pub(crate) struct FakeConsensus {
    pub local_validator: Vec<u8>,
    pub syncing: bool,
    /// Size of the current set as GetStatus reports it (the set itself has one validator).
    pub validator_count: u32,
    pub signing_paused: String,
    /// Delay of GetMempoolStats (for the timeout test).
    pub mempool_delay: Duration,
    pub submitted: Mutex<Vec<pb::Transaction>>,
}

#[tonic::async_trait]
impl ConsensusPort for FakeConsensus {
    async fn submit(&self, txs: Vec<SealedTransaction>) -> Result<Vec<SubmitResult>, ConsensusError> {
        let results = txs
            .iter()
            .map(|t| SubmitResult {
                tx_hash: t.hash(),
                outcome: if t.amount == REFUSED_AMOUNT {
                    Err(Rejection::new(RejectReason::InsufficientBalance, "amount + fee exceeds the balance"))
                } else {
                    Ok(())
                },
            })
            .collect();
        self.submitted.lock().unwrap().extend(txs.iter().map(|t| pb::Transaction::from(t.transaction())));
        Ok(results)
    }

    async fn status(&self) -> Result<ConsensusStatus, ConsensusError> {
        Ok(ConsensusStatus {
            chain_id: ChainId::new(CHAIN_ID).unwrap(),
            finalized_height: Height(0),
            finalized_hash: Hash32::ZERO,
            height: Height(1),
            round: Round(0),
            step: None,
            proposer: None,
            local_validator: (!self.local_validator.is_empty())
                .then(|| PublicKey(self.local_validator.as_slice().try_into().unwrap())),
            syncing: self.syncing,
            mempool_size: self.submitted.lock().unwrap().len() as u64,
            quorum_mode: QuorumMode::Crash,
            validator_count: self.validator_count,
            signing_paused: (!self.signing_paused.is_empty()).then(|| self.signing_paused.clone()),
        })
    }

    async fn validator_set(&self, height: Option<Height>) -> Result<ValidatorSetAt, ConsensusError> {
        Ok(ValidatorSetAt {
            height: Height(height.unwrap_or(Height(7)).get()),
            activation_height: Height(1),
            set: ValidatorSet::new(vec![PublicKey([9; 32])], QuorumMode::Crash).unwrap(),
        })
    }

    async fn evidence(&self, _offset: u64, _limit: u32) -> Result<EvidencePage, ConsensusError> {
        Ok(EvidencePage::default())
    }

    async fn mempool_stats(&self) -> Result<MempoolStats, ConsensusError> {
        tokio::time::sleep(self.mempool_delay).await;
        let n = self.submitted.lock().unwrap().len() as u64;
        Ok(MempoolStats { transaction_count: n, capacity_transactions: 100_000, ..Default::default() })
    }
}

/// The libp2p peer id of the fake set's validator (public key 09…09), as libp2p derives it.
pub(crate) const VALIDATOR_PEER_ID: &str = "12D3KooWARdq2qmoWawXfhkzZHgcPg2hgkwT6GFrzGMvuQZHcwdJ";

/// A p2p gateway with a fixed number of peers; the fake set's validator is one of them when
/// there are any.
#[derive(Debug)]
pub(crate) struct FakePeers(pub u32);

#[tonic::async_trait]
impl GatewayPort for FakePeers {
    async fn publish(&self, _: &GossipMessage) -> Result<(), GatewayError> {
        Ok(())
    }
    async fn request_blocks(&self, _: Height, _: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
        Ok(Vec::new())
    }
    async fn peers(&self) -> Result<Vec<PeerInfo>, GatewayError> {
        Ok((0..self.0)
            .map(|i| PeerInfo {
                peer_id: if i == 0 { VALIDATOR_PEER_ID.to_string() } else { format!("12D3KooWother{i}") },
                addresses: Vec::new(),
                connected_since_ms: UnixMillis(0),
                score: 0.0,
                outbound: true,
                agent_version: String::new(),
            })
            .collect())
    }
}

/// A ledger with `blocks` blocks of one transfer each on top of genesis.
pub(crate) struct Chain {
    pub chain: TestChain,
    pub ledger: Arc<Ledger>,
    pub blocks: Vec<Block>,
    _dir: tempfile::TempDir,
}

impl Chain {
    pub(crate) async fn new(blocks: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let chain = TestChain::new(CHAIN_ID, 3, 1_000_000);
        let ledger = Arc::new(
            Ledger::open(dir.path().join("ledger.db"), chain.genesis.clone(), chain.validators(), local_crypto())
                .await
                .unwrap(),
        );
        let mut this = Self { chain, ledger, blocks: Vec::new(), _dir: dir };
        for _ in 0..blocks {
            this.push_transfer().await;
        }
        this
    }

    /// [`Self::new`] on a ledger keeping the last `keep` blocks (`ledger.keep_blocks`), pruned
    /// to that window.
    pub(crate) async fn pruning(blocks: usize, keep: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let chain = TestChain::new(CHAIN_ID, 3, 1_000_000);
        let options = coinjecture_ledger::LedgerOptions {
            assume_valid_height: coinjecture_primitives::Height::GENESIS,
            keep_blocks: Some(keep),
            ..Default::default()
        };
        let ledger = Arc::new(
            Ledger::open_with(
                dir.path().join("ledger.db"),
                chain.genesis.clone(),
                chain.validators(),
                local_crypto(),
                options,
            )
            .await
            .unwrap(),
        );
        let mut this = Self { chain, ledger, blocks: Vec::new(), _dir: dir };
        for _ in 0..blocks {
            this.push_transfer().await;
        }
        this.ledger.prune_now_for_tests().await.unwrap();
        this
    }

    /// Finalizes one more block carrying a transfer from account 0 to account 1.
    pub(crate) async fn push_transfer(&mut self) -> Block {
        let tx = self.chain.next_transfer(0, self.chain.accounts[1], 100 + self.blocks.len() as u64);
        let block = self.chain.push(vec![tx]);
        self.ledger.apply_block(&block, &self.chain.certificate(&block)).await.unwrap();
        self.blocks.push(block.clone());
        block
    }

    /// The ledger as the API holds it in one process: the ledger itself, through its port.
    pub(crate) fn ledger_service(&self) -> Arc<dyn LedgerPort> {
        self.ledger.clone()
    }
}

pub(crate) struct Running {
    pub addr: SocketAddr,
    pub consensus: Arc<FakeConsensus>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<Result<(), coinjecture_api::ApiError>>>,
}

impl Running {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server and waits for it.
    pub(crate) async fn stop(mut self) -> Result<(), coinjecture_api::ApiError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.take().unwrap().await.unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Test defaults: no rate limit unless a test sets one.
pub(crate) fn config() -> ApiConfig {
    ApiConfig {
        network_label: Some("A".into()),
        version: "9.9.9-test".into(),
        rate_limit: None,
        metrics: Some(Arc::new(|| {
            "# TYPE coinjecture_block_height gauge\ncoinjecture_block_height{network=\"A\"} 3\n# EOF\n".to_string()
        })),
        ..ApiConfig::default()
    }
}

pub(crate) fn fake_consensus() -> Arc<FakeConsensus> {
    Arc::new(FakeConsensus { local_validator: vec![0xab; 32], ..Default::default() })
}

/// Serves the API for `backends` on 127.0.0.1:0.
pub(crate) async fn serve(config: ApiConfig, backends: Backends, consensus: Arc<FakeConsensus>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(coinjecture_api::run(config, backends, listener, async {
        let _ = stopped.await;
    }));
    Running { addr, consensus, stop: Some(stop), server: Some(server) }
}

/// The usual set-up: the chain's ledger in process, the fake consensus, 4 peers.
pub(crate) async fn start(chain: &Chain, config: ApiConfig) -> Running {
    let consensus = fake_consensus();
    let backends = Backends::new(chain.ledger_service(), Arc::clone(&consensus)).with_peers(FakePeers(4));
    serve(config, backends, consensus).await
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub(crate) async fn request(method: Method, url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut builder = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = client.request(builder.body(Full::new(body.into())).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    Answer { status: parts.status, headers: parts.headers, body: body.collect().await.unwrap().to_bytes() }
}

pub(crate) async fn get(url: &str) -> Answer {
    request(Method::GET, url, &[], Bytes::new()).await
}

pub(crate) async fn post_json(url: &str, body: &Value) -> Answer {
    request(Method::POST, url, &[("content-type", "application/json")], serde_json::to_vec(body).unwrap()).await
}

/// A transaction as REST JSON.
pub(crate) fn tx_json(tx: &Transaction) -> Value {
    serde_json::json!({
        "codec_version": tx.codec_version,
        "tx_type": tx.tx_type.name(),
        "from": tx.from.to_hex(),
        "to": tx.to.to_hex(),
        "amount": tx.amount,
        "nonce": tx.nonce,
        "gas_limit": tx.gas_limit,
        "gas_price": tx.gas_price,
        "signature": tx.signature.to_hex(),
        "data": hex::encode(&tx.data),
        "timestamp": tx.timestamp,
    })
}
