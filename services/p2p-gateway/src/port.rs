//! The gateway port (`coinjecture_proto::ports::gateway::GatewayPort`) over the swarm's handle:
//! what consensus and the api call in one process (a split deployment calls the same port as
//! `RemoteGateway`, served by [`crate::P2pGatewayService`]).

use coinjecture_primitives::{Block, CommitCertificate, Height, UnixMillis};
use coinjecture_proto::convert;
use coinjecture_proto::ports::gateway::{
    self, ALL_TOPICS, GatewayError, GatewayPort, GossipInbox, GossipMessage, InboundGossip, MAX_SYNC_BLOCKS, PeerInfo,
    SYNC_BLOCK_TIMEOUT, Validation,
};
use coinjecture_proto::v1 as pb;
use tokio_stream::StreamExt;

use crate::error::P2pError;
use crate::handle::{BlockStream, P2pHandle, PeerSummary};

/// A prefetch older than this is dropped unused (the caller moved on, or caught up).
const PREFETCH_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// The read-ahead of catch-up: blocks `from..from + count` being fetched in the background
/// since `started` (the fetch stream buffers up to 64 blocks; the rest are fetched as the
/// caller reads). At most one per handle.
pub(crate) struct Prefetch {
    from: Height,
    count: u32,
    started: std::time::Instant,
    fetch: tokio::task::JoinHandle<Result<BlockStream, P2pError>>,
}

impl std::fmt::Debug for Prefetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetch").field("from", &self.from).field("count", &self.count).finish_non_exhaustive()
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.fetch.abort();
    }
}

impl P2pHandle {
    /// Starts fetching `from..from + count` in the background, replacing an earlier prefetch.
    pub(crate) fn start_prefetch(&self, from: Height, count: u32) {
        let handle = self.clone();
        let fetch = tokio::spawn(async move { P2pHandle::request_blocks(&handle, from.into(), count, None).await });
        let prefetch = Prefetch { from, count, started: std::time::Instant::now(), fetch };
        if let Ok(mut slot) = self.prefetch.lock() {
            *slot = Some(prefetch);
        }
    }

    /// The prefetched stream of `from..from + count`, if one was started recently and reached
    /// a peer; anything else held is dropped.
    pub(crate) async fn take_prefetch(&self, from: Height, count: u32) -> Option<BlockStream> {
        let mut prefetch = self.prefetch.lock().ok()?.take()?;
        if prefetch.from != from || prefetch.count != count || prefetch.started.elapsed() > PREFETCH_TTL {
            return None;
        }
        match (&mut prefetch.fetch).await {
            Ok(Ok(stream)) => Some(stream),
            // No peer had them then (the tip), or the task failed: fetch now.
            _ => None,
        }
    }
}

/// A peer as the port describes it.
pub(crate) fn peer_info(p: PeerSummary) -> PeerInfo {
    PeerInfo {
        peer_id: p.peer_id.to_base58(),
        addresses: p.addresses.iter().map(ToString::to_string).collect(),
        connected_since_ms: UnixMillis(p.connected_since_ms),
        score: p.score,
        outbound: p.outbound,
        agent_version: p.agent_version,
    }
}

impl From<P2pError> for GatewayError {
    fn from(e: P2pError) -> Self {
        match tonic::Status::from(e) {
            s if s.code() == tonic::Code::InvalidArgument => Self::InvalidArgument(s.message().to_string()),
            s if s.code() == tonic::Code::NotFound => Self::NotFound(s.message().to_string()),
            s => Self::Unavailable(s.message().to_string()),
        }
    }
}

#[tonic::async_trait]
impl GatewayPort for P2pHandle {
    async fn publish(&self, message: &GossipMessage) -> Result<(), GatewayError> {
        let (topic, payload) = gateway::encode_gossip(message);
        // Publishing with no connected peers is not an error (a single-node devnet).
        P2pHandle::publish(self, topic.into(), payload).await?;
        Ok(())
    }

    /// Catch-up is pipelined: when a request is answered in full (peers likely have more), the
    /// next `count` blocks are fetched in the background while the caller applies these, and
    /// the caller's next request for them takes that fetch (see [`Prefetch`]).
    async fn request_blocks(&self, from: Height, count: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
        let count = count.clamp(1, MAX_SYNC_BLOCKS);
        let mut stream = match self.take_prefetch(from, count).await {
            Some(stream) => stream,
            None => P2pHandle::request_blocks(self, from.get(), count, None).await?,
        };
        let mut out = Vec::new();
        while let Ok(Some(synced)) = tokio::time::timeout(SYNC_BLOCK_TIMEOUT, stream.next()).await {
            match convert::finalized_block(&synced.block) {
                Ok(b) => out.push(b),
                Err(e) => {
                    tracing::warn!(peer_id = %synced.peer_id, error = %e, "peer served a malformed block");
                    break;
                }
            }
        }
        if out.len() == count as usize {
            self.start_prefetch(from.saturating_add(u64::from(count)), count);
        }
        Ok(out)
    }

    async fn subscribe_validated(&self) -> Result<GossipInbox, GatewayError> {
        let topics: Vec<pb::Topic> = ALL_TOPICS.iter().map(|&t| t.into()).collect();
        let mut subscription = self.subscribe(&topics, true).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            while let Some(m) = subscription.recv().await {
                let Some(topic) = gateway::topic(m.topic) else { continue };
                let inbound =
                    InboundGossip { message_id: m.message_id, topic, payload: m.payload, source: m.source.to_base58() };
                if tx.send(inbound).await.is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }

    async fn report_validation(&self, reports: Vec<([u8; 32], Validation)>) -> Result<(), GatewayError> {
        P2pHandle::report_validation(self, reports).await?;
        Ok(())
    }

    async fn peers(&self) -> Result<Vec<PeerInfo>, GatewayError> {
        Ok(P2pHandle::peers(self).await?.into_iter().map(peer_info).collect())
    }

    async fn connected_peers(&self) -> Result<u32, GatewayError> {
        Ok(P2pHandle::network_info(self).await?.connected_peers)
    }
}
