//! [`P2pHandle`]: the cloneable front of the swarm task, and the values it hands out.

use std::sync::Arc;

use coinjecture_proto::v1 as pb;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use crate::config::MAX_SYNC_BLOCKS;
use crate::error::P2pError;
use crate::metrics::P2pMetrics;
use crate::sync::{SyncRequest, SyncResponse};
use crate::topics::TopicNames;

/// A gossip message id: SHA-256 of the payload.
pub type MessageId = [u8; 32];

/// A message received from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// SHA-256 of the payload; quote it in [`P2pHandle::report_validation`].
    pub message_id: MessageId,
    /// The topic it arrived on.
    pub topic: pb::Topic,
    /// The payload as published (an encoded `ConsensusMessage` that passed the stateless check).
    pub payload: Vec<u8>,
    /// The peer that forwarded it to us.
    pub source: PeerId,
    /// When the gateway received it, Unix milliseconds.
    pub received_at_ms: i64,
}

impl From<InboundMessage> for pb::InboundMessage {
    fn from(m: InboundMessage) -> Self {
        Self {
            message_id: m.message_id.to_vec(),
            topic: m.topic.into(),
            payload: m.payload,
            source_peer_id: m.source.to_base58(),
            received_at_ms: m.received_at_ms,
        }
    }
}

/// A validation outcome reported by a validating subscriber (the gateway port's).
pub use coinjecture_proto::ports::gateway::Validation;

/// What [`P2pHandle::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishOutcome {
    /// SHA-256 of the payload.
    pub message_id: MessageId,
    /// Peers the message was sent to directly.
    pub recipients: u32,
    /// The payload had already been seen or published; nothing was sent.
    pub duplicate: bool,
}

/// What [`P2pHandle::report_validation`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportOutcome {
    /// Reports applied to a pending message.
    pub applied: u32,
    /// Reports for unknown, expired or already reported messages.
    pub unknown: u32,
}

/// A connected peer.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerSummary {
    /// Its id.
    pub peer_id: PeerId,
    /// Addresses it is connected at and the listen addresses it announced.
    pub addresses: Vec<Multiaddr>,
    /// When the oldest current connection was established, Unix milliseconds.
    pub connected_since_ms: i64,
    /// Its gossipsub score (0 before scoring starts).
    pub score: f64,
    /// True when we dialled it.
    pub outbound: bool,
    /// Its identify agent version; empty until identified.
    pub agent_version: String,
}

/// The local node's identity and addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    /// Our peer id.
    pub local_peer_id: PeerId,
    /// Addresses the swarm listens on.
    pub listen_addrs: Vec<Multiaddr>,
    /// The network id.
    pub network_id: String,
    /// Connected peers.
    pub connected_peers: u32,
    /// Topic names of this network.
    pub topics: Vec<(pb::Topic, String)>,
}

/// A block fetched from a peer (unverified) and who served it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncedBlock {
    /// The block with its commit certificate, as the peer sent it.
    pub block: pb::Block,
    /// The peer that served it.
    pub peer_id: PeerId,
}

/// Blocks streamed by [`P2pHandle::request_blocks`], in height order.
pub type BlockStream = ReceiverStream<SyncedBlock>;

/// Messages delivered to one local subscriber. Dropping it unsubscribes (and releases the
/// topics it validates).
#[derive(Debug)]
pub struct Subscription {
    pub(crate) rx: mpsc::Receiver<InboundMessage>,
}

impl Subscription {
    /// The next message; `None` once the gateway has stopped.
    pub async fn recv(&mut self) -> Option<InboundMessage> {
        self.rx.recv().await
    }

    /// A message if one is waiting, without blocking.
    pub fn try_recv(&mut self) -> Option<InboundMessage> {
        self.rx.try_recv().ok()
    }

    /// The messages as a stream.
    pub fn into_stream(self) -> ReceiverStream<InboundMessage> {
        ReceiverStream::new(self.rx)
    }
}

pub(crate) enum Command {
    Publish {
        topic: pb::Topic,
        payload: Vec<u8>,
        check: bool,
        reply: oneshot::Sender<Result<PublishOutcome, P2pError>>,
    },
    Subscribe {
        topics: Vec<pb::Topic>,
        validate: bool,
        reply: oneshot::Sender<Result<Subscription, P2pError>>,
    },
    Report {
        reports: Vec<(MessageId, Validation)>,
        reply: oneshot::Sender<ReportOutcome>,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerSummary>>,
    },
    Dial {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<PeerId, P2pError>>,
    },
    Sync {
        peer: PeerId,
        request: SyncRequest,
        reply: oneshot::Sender<Result<SyncResponse, P2pError>>,
    },
    Info {
        reply: oneshot::Sender<NetworkInfo>,
    },
    Snapshot {
        peer: PeerId,
        request: crate::snapshot::SnapshotRequest,
        reply: oneshot::Sender<Result<crate::snapshot::SnapshotResponse, P2pError>>,
    },
    ServeSnapshots {
        source: Arc<dyn crate::snapshot::SnapshotSource>,
    },
    Shutdown,
}

/// The cloneable handle to a running gateway: every operation is a message to the swarm task.
#[derive(Debug, Clone)]
pub struct P2pHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) local_peer_id: PeerId,
    pub(crate) network_id: Arc<str>,
    pub(crate) topics: Arc<TopicNames>,
    pub(crate) metrics: P2pMetrics,
    pub(crate) max_message_bytes: usize,
    pub(crate) dial_timeout: std::time::Duration,
    /// Catch-up read-ahead of the gateway port (see `port::Prefetch`).
    pub(crate) prefetch: Arc<std::sync::Mutex<Option<crate::port::Prefetch>>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Command::Publish { .. } => "Publish",
            Command::Subscribe { .. } => "Subscribe",
            Command::Report { .. } => "Report",
            Command::Peers { .. } => "Peers",
            Command::Dial { .. } => "Dial",
            Command::Sync { .. } => "Sync",
            Command::Info { .. } => "Info",
            Command::Snapshot { .. } => "Snapshot",
            Command::ServeSnapshots { .. } => "ServeSnapshots",
            Command::Shutdown => "Shutdown",
        };
        f.write_str(name)
    }
}

fn check_topic(topic: pb::Topic, field: &str) -> Result<(), P2pError> {
    if topic == pb::Topic::Unspecified {
        return Err(P2pError::invalid(field, "is TOPIC_UNSPECIFIED"));
    }
    Ok(())
}

impl P2pHandle {
    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, P2pError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| P2pError::Stopped)?;
        rx.await.map_err(|_| P2pError::Stopped)
    }

    /// Our peer id (derived from the key seed).
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// The network id.
    pub fn network_id(&self) -> &str {
        &self.network_id
    }

    /// The gossipsub name of `topic` on this network.
    pub fn topic_name(&self, topic: pb::Topic) -> Option<String> {
        self.topics.name(topic)
    }

    /// The gateway's metrics.
    pub fn metrics(&self) -> &P2pMetrics {
        &self.metrics
    }

    /// The metrics registry in Prometheus text format.
    pub fn encode_metrics(&self) -> String {
        self.metrics.encode()
    }

    /// Publishes `payload` (an encoded `ConsensusMessage` whose variant matches `topic`). With no
    /// peer subscribed this succeeds with 0 recipients; identical bytes again give `duplicate`.
    pub async fn publish(&self, topic: pb::Topic, payload: Vec<u8>) -> Result<PublishOutcome, P2pError> {
        self.publish_inner(topic, payload, true).await
    }

    /// Publishes without the stateless payload check: peers will reject what fails it and score
    /// this node down. For tests and tools only.
    pub async fn publish_unchecked(&self, topic: pb::Topic, payload: Vec<u8>) -> Result<PublishOutcome, P2pError> {
        self.publish_inner(topic, payload, false).await
    }

    async fn publish_inner(&self, topic: pb::Topic, payload: Vec<u8>, check: bool) -> Result<PublishOutcome, P2pError> {
        check_topic(topic, "topic")?;
        if payload.is_empty() {
            return Err(P2pError::invalid("payload", "is empty"));
        }
        if payload.len() > self.max_message_bytes {
            return Err(P2pError::invalid(
                "payload",
                format!("{} bytes exceed the maximum {}", payload.len(), self.max_message_bytes),
            ));
        }
        self.call(|reply| Command::Publish { topic, payload, check, reply }).await?
    }

    /// Subscribes to `topics`. With `validate`, this subscriber must report every message (see
    /// [`Self::report_validation`]) and is the only validating subscriber of these topics.
    pub async fn subscribe(&self, topics: &[pb::Topic], validate: bool) -> Result<Subscription, P2pError> {
        if topics.is_empty() {
            return Err(P2pError::invalid("topics", "at least one topic is required"));
        }
        for (i, &t) in topics.iter().enumerate() {
            check_topic(t, &format!("topics[{i}]"))?;
        }
        let topics = topics.to_vec();
        self.call(|reply| Command::Subscribe { topics, validate, reply }).await?
    }

    /// Applies validation outcomes of received messages.
    pub async fn report_validation(&self, reports: Vec<(MessageId, Validation)>) -> Result<ReportOutcome, P2pError> {
        if reports.len() > coinjecture_primitives::limits::MAX_BATCH_ITEMS {
            return Err(P2pError::invalid(
                "reports",
                format!(
                    "{} items exceed the maximum {}",
                    reports.len(),
                    coinjecture_primitives::limits::MAX_BATCH_ITEMS
                ),
            ));
        }
        self.call(|reply| Command::Report { reports, reply }).await
    }

    /// Connected peers, sorted by peer id.
    pub async fn peers(&self) -> Result<Vec<PeerSummary>, P2pError> {
        self.call(|reply| Command::Peers { reply }).await
    }

    /// Dials `addr` (the `/p2p/` suffix is optional) and waits until connected.
    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId, P2pError> {
        let timeout = self.dial_timeout;
        match tokio::time::timeout(timeout, self.call(|reply| Command::Dial { addr: addr.clone(), reply })).await {
            Ok(result) => result?,
            Err(_) => Err(P2pError::DeadlineExceeded(format!("dialling {addr} took longer than {timeout:?}"))),
        }
    }

    /// Local identity, listen addresses, peers and topic names.
    pub async fn network_info(&self) -> Result<NetworkInfo, P2pError> {
        self.call(|reply| Command::Info { reply }).await
    }

    /// Asks `peer` once on the snapshot protocol (one round trip, answer not verified; fails
    /// after [`crate::snapshot::SNAPSHOT_REQUEST_TIMEOUT`]).
    pub async fn request_snapshot(
        &self,
        peer: PeerId,
        request: crate::snapshot::SnapshotRequest,
    ) -> Result<crate::snapshot::SnapshotResponse, P2pError> {
        self.call(|reply| Command::Snapshot { peer, request, reply }).await?
    }

    /// Serves snapshots from `source` on the snapshot protocol (until then, every request is
    /// answered empty).
    pub async fn serve_snapshots(&self, source: Arc<dyn crate::snapshot::SnapshotSource>) -> Result<(), P2pError> {
        self.commands.send(Command::ServeSnapshots { source }).await.map_err(|_| P2pError::Stopped)
    }

    /// Asks `peer` once for blocks (one request-response round trip, not verified).
    pub async fn request_block_batch(
        &self,
        peer: PeerId,
        from_height: u64,
        count: u32,
    ) -> Result<SyncResponse, P2pError> {
        let request = SyncRequest { from_height, count };
        self.call(|reply| Command::Sync { peer, request, reply }).await?
    }

    /// Fetches up to `count` (1..=1000) finalized blocks from `from_height`, from `peer` or else
    /// from connected peers in order of score, failing over to the next peer when one fails or has
    /// no more. The first batch is fetched before returning: `NotFound` when no peer has the first
    /// block. The stream ends early when peers have no more.
    pub async fn request_blocks(
        &self,
        from_height: u64,
        count: u32,
        peer: Option<PeerId>,
    ) -> Result<BlockStream, P2pError> {
        if count == 0 || count > MAX_SYNC_BLOCKS {
            return Err(P2pError::invalid("count", format!("must be 1 to {MAX_SYNC_BLOCKS}, found {count}")));
        }
        let candidates = match peer {
            Some(p) => vec![p],
            None => {
                let mut peers = self.peers().await?;
                peers.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.peer_id.cmp(&b.peer_id)));
                peers.into_iter().map(|p| p.peer_id).collect()
            }
        };
        let mut fetcher = Fetcher { handle: self.clone(), candidates, index: 0, next: from_height, remaining: count };
        let Some(first) = fetcher.next_batch().await else {
            return Err(P2pError::NotFound(match peer {
                Some(p) => format!("peer {p} did not serve block {from_height}"),
                None => format!("no connected peer served block {from_height}"),
            }));
        };
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            let mut batch = Some(first);
            while let Some(blocks) = batch {
                for block in blocks {
                    if tx.send(block).await.is_err() {
                        return;
                    }
                }
                batch = fetcher.next_batch().await;
            }
        });
        Ok(ReceiverStream::new(rx))
    }

    /// Stops the swarm task (connections close, listeners stop).
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }
}

/// Walks the candidate peers for [`P2pHandle::request_blocks`].
struct Fetcher {
    handle: P2pHandle,
    candidates: Vec<PeerId>,
    index: usize,
    next: u64,
    remaining: u32,
}

impl Fetcher {
    /// The next contiguous batch, or `None` when done or no candidate has more.
    async fn next_batch(&mut self) -> Option<Vec<SyncedBlock>> {
        while self.remaining > 0 {
            let peer = *self.candidates.get(self.index)?;
            let result = self.handle.request_block_batch(peer, self.next, self.remaining).await;
            let blocks = match result {
                Ok(SyncResponse { oldest_height: Some(oldest), .. }) => {
                    tracing::debug!(peer_id = %peer, from = self.next, oldest, "peer pruned these blocks; trying the next peer");
                    Vec::new()
                }
                Ok(response) => self.contiguous(response.blocks),
                Err(e) => {
                    tracing::debug!(peer_id = %peer, error = %e, "block sync request failed; trying the next peer");
                    Vec::new()
                }
            };
            if blocks.is_empty() {
                self.index += 1;
                continue;
            }
            let n = u32::try_from(blocks.len()).unwrap_or(u32::MAX);
            self.next = self.next.saturating_add(u64::from(n));
            self.remaining = self.remaining.saturating_sub(n);
            return Some(blocks.into_iter().map(|block| SyncedBlock { block, peer_id: peer }).collect());
        }
        None
    }

    /// The prefix of `blocks` whose heights run `next, next + 1, ...`, at most `remaining`.
    fn contiguous(&self, blocks: Vec<pb::Block>) -> Vec<pb::Block> {
        let mut expected = self.next;
        blocks
            .into_iter()
            .take(self.remaining as usize)
            .take_while(|b| {
                let ok = b.header.as_ref().is_some_and(|h| h.block_index == expected);
                expected = expected.saturating_add(1);
                ok
            })
            .collect()
    }
}
