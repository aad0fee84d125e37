//! What the API reads and writes through: the ledger, consensus and (optionally) the p2p gateway.
//! Each is its port (`coinjecture_proto::ports`): `LedgerPort`, `ConsensusPort` and
//! `GatewayPort`. In one process they are the ledger, the running driver and the swarm's handle
//! themselves; split they are `RemoteLedger` ([`connect_ledger`]), `RemoteConsensus` and
//! `RemoteGateway`, built over `coinjecture_proto::client::connect`: lazy, so the API starts
//! before its upstreams and answers 503 / `UNAVAILABLE` until they are up. The API's logic
//! (validation, paging, JSON) lives in [`crate::PublicApiService`], once, whichever way the calls
//! travel.

use std::pin::Pin;
use std::sync::Arc;

use coinjecture_proto::ports::consensus::ConsensusPort;
use coinjecture_proto::ports::gateway::GatewayPort;
use coinjecture_proto::ports::ledger::{LedgerPort, RemoteLedger};
use futures::{Stream, StreamExt};
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;
use tonic::transport::Endpoint;

use crate::error::ApiError;

/// A remote ledger at `endpoint` (e.g. `http://127.0.0.1:50052`). Connects on first use, so the
/// API can start before the ledger; until it is reachable, calls fail with `UNAVAILABLE`.
pub fn connect_ledger(endpoint: &str) -> Result<RemoteLedger, ApiError> {
    let endpoint = Endpoint::from_shared(endpoint.to_string()).map_err(|source| ApiError::Endpoint {
        service: "ledger",
        endpoint: endpoint.to_string(),
        source,
    })?;
    Ok(RemoteLedger::connect(endpoint))
}

/// The services behind the API.
#[derive(Clone)]
pub struct Backends {
    /// Blocks, transactions, accounts, chain identity and tip: the ledger's port (the ledger
    /// itself in one process, a [`RemoteLedger`] split).
    pub ledger: Arc<dyn LedgerPort>,
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
    pub fn new(ledger: Arc<dyn LedgerPort>, consensus: impl ConsensusPort) -> Self {
        Self { ledger, consensus: Arc::new(consensus), peers: None, tip_updates: None }
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
