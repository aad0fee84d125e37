//! What the API reads and writes through: the ledger, consensus and (optionally) the p2p gateway.
//! Consensus and the gateway are their ports, `coinjecture_proto::ports::consensus::ConsensusPort`
//! and `coinjecture_proto::ports::gateway::GatewayPort` (the running driver and the swarm's
//! handle in one process, `RemoteConsensus` and `RemoteGateway` split). The ledger is behind a
//! small trait over its **generated gRPC contract**, with two implementations:
//!
//! - [`InProcess`]`<T>` wraps an `Arc<T>` where `T` implements the generated server trait
//!   (`Ledger`, `Consensus`, `P2pGateway`) and calls its methods with `tonic::Request::new`: the
//!   one-process node, no socket.
//! - [`Remote`]`<C>` wraps the generated client over a traced channel (calls carry the caller's
//!   trace context; `coinjecture_proto::client`): the split deployment (`coinjectured service
//!   api`). [`connect_ledger`] and friends build them lazily, so the API starts before its
//!   upstreams and answers 503 / `UNAVAILABLE` until they are up.
//!
//! The methods take and return the protobuf messages unchanged: the API's logic (validation,
//! paging, JSON) lives in [`crate::PublicApiService`], once, whichever way the calls travel.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use coinjecture_primitives::limits::MAX_MESSAGE_BYTES;
use coinjecture_proto::client::{TracedChannel, traced};
use coinjecture_proto::ports::consensus::ConsensusPort;
use coinjecture_proto::ports::gateway::GatewayPort;
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::ledger_client::LedgerClient;
use coinjecture_proto::v1::ledger_server::Ledger;
use futures::{Stream, StreamExt};
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;
use tonic::transport::Endpoint;
use tonic::{Request, Status};

use crate::error::ApiError;

/// gRPC message limit towards the upstream services: the chain's 16 MiB plus framing.
const UPSTREAM_MESSAGE_LIMIT: usize = MAX_MESSAGE_BYTES + 64 * 1024;
/// How long a connection attempt to an upstream may take.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The ledger reads the API needs (`proto/coinjecture/v1/ledger.proto`).
#[tonic::async_trait]
pub trait LedgerSource: Send + Sync + 'static {
    async fn get_chain_info(&self) -> Result<pb::GetChainInfoResponse, Status>;
    async fn get_block_by_height(&self, height: u64) -> Result<pb::GetBlockByHeightResponse, Status>;
    async fn get_block_by_hash(&self, block_hash: Vec<u8>) -> Result<pb::GetBlockByHashResponse, Status>;
    /// `GetBlockRange`, collected (the API asks for at most 100 blocks; listings of headers ask
    /// with `headers_only`).
    async fn get_block_range(
        &self,
        request: pb::GetBlockRangeRequest,
    ) -> Result<Vec<pb::GetBlockRangeResponse>, Status>;
    async fn get_transaction(&self, tx_hash: Vec<u8>) -> Result<pb::LedgerGetTransactionResponse, Status>;
    async fn get_account(&self, address: Vec<u8>) -> Result<pb::LedgerGetAccountResponse, Status>;
    async fn get_account_history(
        &self,
        request: pb::GetAccountHistoryRequest,
    ) -> Result<pb::GetAccountHistoryResponse, Status>;
}

/// A service linked into this process, called through its generated server trait.
#[derive(Debug)]
pub struct InProcess<T>(pub Arc<T>);

impl<T> Clone for InProcess<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

/// A service in another process, called through its generated client.
#[derive(Debug, Clone)]
pub struct Remote<C>(pub C);

#[tonic::async_trait]
impl<T: Ledger> LedgerSource for InProcess<T> {
    async fn get_chain_info(&self) -> Result<pb::GetChainInfoResponse, Status> {
        Ok(self.0.get_chain_info(Request::new(pb::GetChainInfoRequest {})).await?.into_inner())
    }
    async fn get_block_by_height(&self, height: u64) -> Result<pb::GetBlockByHeightResponse, Status> {
        Ok(self.0.get_block_by_height(Request::new(pb::GetBlockByHeightRequest { height })).await?.into_inner())
    }
    async fn get_block_by_hash(&self, block_hash: Vec<u8>) -> Result<pb::GetBlockByHashResponse, Status> {
        Ok(self.0.get_block_by_hash(Request::new(pb::GetBlockByHashRequest { block_hash })).await?.into_inner())
    }
    async fn get_block_range(
        &self,
        request: pb::GetBlockRangeRequest,
    ) -> Result<Vec<pb::GetBlockRangeResponse>, Status> {
        let stream = self.0.get_block_range(Request::new(request)).await?.into_inner();
        stream.collect::<Vec<_>>().await.into_iter().collect()
    }
    async fn get_transaction(&self, tx_hash: Vec<u8>) -> Result<pb::LedgerGetTransactionResponse, Status> {
        Ok(self.0.get_transaction(Request::new(pb::LedgerGetTransactionRequest { tx_hash })).await?.into_inner())
    }
    async fn get_account(&self, address: Vec<u8>) -> Result<pb::LedgerGetAccountResponse, Status> {
        Ok(self.0.get_account(Request::new(pb::LedgerGetAccountRequest { address })).await?.into_inner())
    }
    async fn get_account_history(
        &self,
        request: pb::GetAccountHistoryRequest,
    ) -> Result<pb::GetAccountHistoryResponse, Status> {
        Ok(self.0.get_account_history(Request::new(request)).await?.into_inner())
    }
}

#[tonic::async_trait]
impl LedgerSource for Remote<LedgerClient<TracedChannel>> {
    async fn get_chain_info(&self) -> Result<pb::GetChainInfoResponse, Status> {
        Ok(self.0.clone().get_chain_info(pb::GetChainInfoRequest {}).await?.into_inner())
    }
    async fn get_block_by_height(&self, height: u64) -> Result<pb::GetBlockByHeightResponse, Status> {
        Ok(self.0.clone().get_block_by_height(pb::GetBlockByHeightRequest { height }).await?.into_inner())
    }
    async fn get_block_by_hash(&self, block_hash: Vec<u8>) -> Result<pb::GetBlockByHashResponse, Status> {
        Ok(self.0.clone().get_block_by_hash(pb::GetBlockByHashRequest { block_hash }).await?.into_inner())
    }
    async fn get_block_range(
        &self,
        request: pb::GetBlockRangeRequest,
    ) -> Result<Vec<pb::GetBlockRangeResponse>, Status> {
        let mut stream = self.0.clone().get_block_range(request).await?.into_inner();
        let mut blocks = Vec::new();
        while let Some(item) = stream.message().await? {
            blocks.push(item);
        }
        Ok(blocks)
    }
    async fn get_transaction(&self, tx_hash: Vec<u8>) -> Result<pb::LedgerGetTransactionResponse, Status> {
        Ok(self.0.clone().get_transaction(pb::LedgerGetTransactionRequest { tx_hash }).await?.into_inner())
    }
    async fn get_account(&self, address: Vec<u8>) -> Result<pb::LedgerGetAccountResponse, Status> {
        Ok(self.0.clone().get_account(pb::LedgerGetAccountRequest { address }).await?.into_inner())
    }
    async fn get_account_history(
        &self,
        request: pb::GetAccountHistoryRequest,
    ) -> Result<pb::GetAccountHistoryResponse, Status> {
        Ok(self.0.clone().get_account_history(request).await?.into_inner())
    }
}

fn lazy_channel(endpoint: &str, service: &'static str) -> Result<TracedChannel, ApiError> {
    let endpoint = Endpoint::from_shared(endpoint.to_string())
        .map_err(|e| ApiError::Endpoint { service, endpoint: endpoint.to_string(), reason: e.to_string() })?
        .tcp_nodelay(true)
        // A blackholed upstream fails in seconds (503), not after the OS's TCP connect timeout.
        .connect_timeout(UPSTREAM_CONNECT_TIMEOUT);
    Ok(traced(endpoint.connect_lazy()))
}

/// A remote ledger at `endpoint` (e.g. `http://127.0.0.1:50052`). Connects on first use, so the
/// API can start before the ledger; until it is reachable, calls fail with `UNAVAILABLE`.
pub fn connect_ledger(endpoint: &str) -> Result<Remote<LedgerClient<TracedChannel>>, ApiError> {
    Ok(Remote(
        LedgerClient::new(lazy_channel(endpoint, "ledger")?)
            .max_decoding_message_size(UPSTREAM_MESSAGE_LIMIT)
            .max_encoding_message_size(UPSTREAM_MESSAGE_LIMIT),
    ))
}

/// The services behind the API.
#[derive(Clone)]
pub struct Backends {
    /// Blocks, transactions, accounts, chain identity and tip.
    pub ledger: Arc<dyn LedgerSource>,
    /// Submission, node status (validator key, syncing), validator sets, mempool.
    pub consensus: Arc<dyn ConsensusPort>,
    /// Peer counts; `None` when the node runs without a gateway (peers = 0).
    pub peers: Option<Arc<dyn GatewayPort>>,
    /// Announces that the tip may have moved (any watched value, e.g. consensus's driver
    /// status); `StreamBlocks` then wakes on each change instead of polling the ledger tip every
    /// 200 ms. Set with [`Backends::with_tip_updates`].
    pub tip_updates: Option<TipUpdates>,
}

/// A source of "the tip may have moved" signals: each call gives a fresh subscription.
pub type TipUpdates = Arc<dyn Fn() -> Pin<Box<dyn Stream<Item = ()> + Send>> + Send + Sync>;

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("peers", &self.peers.is_some())
            .field("tip_updates", &self.tip_updates.is_some())
            .finish_non_exhaustive()
    }
}

impl Backends {
    /// A ledger and consensus, without peers or height announcements.
    pub fn new(ledger: impl LedgerSource, consensus: impl ConsensusPort) -> Self {
        Self { ledger: Arc::new(ledger), consensus: Arc::new(consensus), peers: None, tip_updates: None }
    }

    /// With a p2p gateway for peer counts.
    pub fn with_peers(mut self, peers: impl GatewayPort) -> Self {
        self.peers = Some(Arc::new(peers));
        self
    }

    /// With a watch whose every change may mean a new finalized block (e.g. the finalized
    /// height, or the consensus driver's status), for `StreamBlocks`.
    pub fn with_tip_updates<T: Clone + Send + Sync + 'static>(mut self, updates: watch::Receiver<T>) -> Self {
        self.tip_updates = Some(Arc::new(move || Box::pin(WatchStream::from_changes(updates.clone()).map(|_| ()))));
        self
    }
}
