//! The p2p-gateway port (see [`super`]): what consensus and the api ask of the node's door to
//! other nodes — publish consensus messages, receive them (as the validating subscriber),
//! report verdicts, fetch finalized blocks, and list peers.
//!
//! - In one process the caller holds `Arc<dyn GatewayPort>` pointing at the gateway's handle
//!   (`coinjecture_p2p_gateway::P2pHandle` implements it).
//! - Split, the same `Arc<dyn GatewayPort>` is a [`RemoteGateway`] over the `P2pGateway` gRPC
//!   service.
//!
//! Messages are domain values ([`GossipMessage`]); their gossip payload (the protobuf
//! `ConsensusMessage`) is made by [`encode_gossip`] and read by [`decode_gossip`], the one place
//! each direction is converted. Inbound messages arrive as payloads ([`InboundGossip`]): the
//! subscriber (consensus, `coinjecture_consensus::gossip`) decodes and judges them, the same code
//! in both modes.

use std::sync::Arc;
use std::time::Duration;

use coinjecture_primitives::consensus::{Proposal, Vote};
use coinjecture_primitives::{Block, CommitCertificate, Hash32, Height, Round, SealedTransaction, UnixMillis};
use prost::Message as _;
use tokio::sync::mpsc;
use tonic::transport::Endpoint;
use tonic::{Code, Status};

use crate::client::{MESSAGE_LIMIT, TracedChannel, connect};
use crate::convert::{self, ConversionError};
use crate::v1 as pb;
use crate::v1::consensus_message::Kind;
use crate::v1::p2p_gateway_client::P2pGatewayClient;

/// A consensus message as it is gossiped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GossipMessage {
    /// A signed block proposal.
    Proposal(Proposal),
    /// A signed prevote or precommit.
    Vote(Vote),
    /// A finalized block with its commit certificate.
    FinalizedBlock { block: Block, certificate: CommitCertificate },
    /// New transactions for the mempools, sealed (encoded and hashed once).
    Transactions(Vec<SealedTransaction>),
    /// A signed proposal whose block carries transaction hashes instead of transactions.
    CompactProposal(CompactProposal),
    /// A request for the transactions (or the full proposal) a validator misses.
    TransactionRequest(TransactionRequest),
}

/// Most transaction hashes one [`TransactionRequest`] names.
pub const MAX_REQUESTED_TRANSACTIONS: usize = 65_536;

/// A compact proposal (protobuf `CompactProposal`): the signed proposal with a block of header
/// only (`proposal.block.transactions` is empty) and the block's transaction hashes in order.
/// The signature covers the block hash, which the header alone determines: it is the full
/// proposal's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactProposal {
    pub proposal: Proposal,
    pub tx_hashes: Vec<Hash32>,
}

impl CompactProposal {
    /// The compact form of `proposal` whose block's transactions have `tx_hashes` (in order).
    pub fn of(proposal: &Proposal, tx_hashes: Vec<Hash32>) -> Self {
        let block = Block { header: proposal.block.header.clone(), transactions: Vec::new() };
        let proposal = Proposal {
            chain_id: proposal.chain_id.clone(),
            height: proposal.height,
            round: proposal.round,
            pol_round: proposal.pol_round,
            timestamp_ms: proposal.timestamp_ms,
            block,
            proposer: proposal.proposer,
            signature: proposal.signature,
        };
        Self { proposal, tx_hashes }
    }
}

/// A request for what a validator misses to rebuild a compact proposal (protobuf
/// `TransactionRequest`): the transactions `tx_hashes`, or with `full_block` the full proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRequest {
    pub height: Height,
    pub round: Round,
    pub block_hash: Hash32,
    pub tx_hashes: Vec<Hash32>,
    pub full_block: bool,
}

impl GossipMessage {
    /// The topic the message belongs on.
    pub fn topic(&self) -> Topic {
        match self {
            Self::Proposal(_) => Topic::Proposals,
            Self::Vote(_) => Topic::Votes,
            Self::FinalizedBlock { .. } => Topic::Blocks,
            Self::Transactions(_) => Topic::Transactions,
            Self::CompactProposal(_) | Self::TransactionRequest(_) => Topic::Proposals,
        }
    }
}

/// A gossip topic (each maps to a network-specific gossipsub name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Transactions,
    Proposals,
    Votes,
    Blocks,
}

/// Every topic, in wire order.
pub const ALL_TOPICS: [Topic; 4] = [Topic::Transactions, Topic::Proposals, Topic::Votes, Topic::Blocks];

impl From<Topic> for pb::Topic {
    fn from(t: Topic) -> Self {
        match t {
            Topic::Transactions => Self::Transactions,
            Topic::Proposals => Self::Proposals,
            Topic::Votes => Self::Votes,
            Topic::Blocks => Self::Blocks,
        }
    }
}

/// The domain topic of a wire topic; `None` for `TOPIC_UNSPECIFIED`.
pub fn topic(t: pb::Topic) -> Option<Topic> {
    match t {
        pb::Topic::Transactions => Some(Topic::Transactions),
        pb::Topic::Proposals => Some(Topic::Proposals),
        pb::Topic::Votes => Some(Topic::Votes),
        pb::Topic::Blocks => Some(Topic::Blocks),
        pb::Topic::Unspecified => None,
    }
}

/// A validating subscriber's verdict on a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// Valid: deliver and forward to other peers.
    Accept,
    /// Invalid: drop, do not forward, lower the sender's score.
    Reject,
    /// Not useful (or not ours to judge): drop without penalty.
    Ignore,
}

impl From<Validation> for pb::ValidationResult {
    fn from(v: Validation) -> Self {
        match v {
            Validation::Accept => Self::Accept,
            Validation::Reject => Self::Reject,
            Validation::Ignore => Self::Ignore,
        }
    }
}

/// A message received from a peer, not yet decoded or judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundGossip {
    /// SHA-256 of the payload; quote it in [`GatewayPort::report_validation`].
    pub message_id: [u8; 32],
    pub topic: Topic,
    /// The payload as published (passed the gateway's stateless check).
    pub payload: Vec<u8>,
    /// The peer that forwarded it (base58 peer id), for logs.
    pub source: String,
}

/// A connected peer.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerInfo {
    /// libp2p peer id, base58.
    pub peer_id: String,
    pub addresses: Vec<String>,
    pub connected_since_ms: UnixMillis,
    pub score: f64,
    pub outbound: bool,
    pub agent_version: String,
}

/// Why a gateway call failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A request field is out of range; the message names it.
    #[error("{0}")]
    InvalidArgument(String),
    /// No peer could serve what was asked (e.g. the first block of a sync).
    #[error("{0}")]
    NotFound(String),
    /// The gateway is stopped, or this implementation does not offer the call.
    #[error("{0}")]
    Unavailable(String),
    /// A remote gateway failed or could not be reached (its status keeps the code).
    #[error("{}", .0.message())]
    Remote(#[source] Status),
}

impl From<Status> for GatewayError {
    fn from(status: Status) -> Self {
        match status.code() {
            Code::InvalidArgument => Self::InvalidArgument(status.message().to_string()),
            Code::NotFound => Self::NotFound(status.message().to_string()),
            _ => Self::Remote(status),
        }
    }
}

impl From<GatewayError> for Status {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::InvalidArgument(m) => Status::invalid_argument(m),
            GatewayError::NotFound(m) => Status::not_found(m),
            GatewayError::Unavailable(m) => Status::unavailable(m),
            GatewayError::Remote(status) => status,
        }
    }
}

/// Messages delivered to a subscriber; ends when the gateway (or the connection to it) ends.
pub type GossipInbox = mpsc::Receiver<InboundGossip>;

/// Most finalized blocks one [`GatewayPort::request_blocks`] call asks for.
pub const MAX_SYNC_BLOCKS: u32 = 1000;

/// How long a block sync may wait for the next block before it returns what it has: the same
/// rule in both modes (per block, in one process as over gRPC).
pub const SYNC_BLOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the p2p-gateway offers the other services. The calls a service does not need have
/// defaults answering [`GatewayError::Unavailable`] (test doubles implement `publish` and
/// `request_blocks` only).
#[tonic::async_trait]
pub trait GatewayPort: Send + Sync + 'static {
    /// Publishes a consensus message on its topic. Publishing with no peer is not an error.
    async fn publish(&self, message: &GossipMessage) -> Result<(), GatewayError>;

    /// Finalized blocks from `from` on (at most `count`, clamped to 1..=[`MAX_SYNC_BLOCKS`]),
    /// fetched from peers, unverified; stops early when peers have no more, a block is
    /// malformed, or the next block takes longer than [`SYNC_BLOCK_TIMEOUT`].
    async fn request_blocks(&self, from: Height, count: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError>;

    /// Subscribes to every topic as their validating subscriber: each message must be judged
    /// with [`Self::report_validation`] before the gateway relays it.
    async fn subscribe_validated(&self) -> Result<GossipInbox, GatewayError> {
        Err(GatewayError::Unavailable("this gateway delivers no gossip".into()))
    }

    /// Reports verdicts on received messages.
    async fn report_validation(&self, _reports: Vec<([u8; 32], Validation)>) -> Result<(), GatewayError> {
        Err(GatewayError::Unavailable("this gateway takes no validation reports".into()))
    }

    /// The connected peers.
    async fn peers(&self) -> Result<Vec<PeerInfo>, GatewayError> {
        Err(GatewayError::Unavailable("this gateway does not list peers".into()))
    }

    /// How many peers are connected.
    async fn connected_peers(&self) -> Result<u32, GatewayError> {
        Ok(u32::try_from(self.peers().await?.len()).unwrap_or(u32::MAX))
    }
}

#[tonic::async_trait]
impl<T: GatewayPort + ?Sized> GatewayPort for Arc<T> {
    async fn publish(&self, message: &GossipMessage) -> Result<(), GatewayError> {
        (**self).publish(message).await
    }
    async fn request_blocks(&self, from: Height, count: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
        (**self).request_blocks(from, count).await
    }
    async fn subscribe_validated(&self) -> Result<GossipInbox, GatewayError> {
        (**self).subscribe_validated().await
    }
    async fn report_validation(&self, reports: Vec<([u8; 32], Validation)>) -> Result<(), GatewayError> {
        (**self).report_validation(reports).await
    }
    async fn peers(&self) -> Result<Vec<PeerInfo>, GatewayError> {
        (**self).peers().await
    }
    async fn connected_peers(&self) -> Result<u32, GatewayError> {
        (**self).connected_peers().await
    }
}

// ---------------------------------------------------------------------------------------------
// Wire conversions.
// ---------------------------------------------------------------------------------------------

/// The protobuf `ConsensusMessage` of a gossip message.
pub fn gossip_to_pb(message: &GossipMessage) -> pb::ConsensusMessage {
    let kind = match message {
        GossipMessage::Proposal(p) => Kind::Proposal(p.into()),
        GossipMessage::Vote(v) => Kind::Vote(v.into()),
        GossipMessage::FinalizedBlock { block, certificate } => {
            Kind::FinalizedBlock(convert::finalized_block_to_pb(block, certificate))
        }
        GossipMessage::Transactions(txs) => Kind::Transactions(pb::TransactionBatch {
            transactions: txs.iter().map(|t| pb::Transaction::from(t.transaction())).collect(),
        }),
        GossipMessage::CompactProposal(c) => Kind::CompactProposal(pb::CompactProposal {
            proposal: Some((&c.proposal).into()),
            tx_hashes: concat_hashes(&c.tx_hashes),
        }),
        GossipMessage::TransactionRequest(r) => Kind::TransactionRequest(pb::TransactionRequest {
            height: r.height.into(),
            round: r.round.into(),
            block_hash: r.block_hash.0.to_vec(),
            tx_hashes: concat_hashes(&r.tx_hashes),
            full_block: r.full_block,
        }),
    };
    pb::ConsensusMessage { kind: Some(kind) }
}

/// The size of a gossip message's payload, in bytes (without encoding it).
pub fn gossip_encoded_len(message: &GossipMessage) -> usize {
    gossip_to_pb(message).encoded_len()
}

/// The topic and payload a gossip message is published with.
pub fn encode_gossip(message: &GossipMessage) -> (Topic, Vec<u8>) {
    (message.topic(), gossip_to_pb(message).encode_to_vec())
}

/// The gossip message of a protobuf `ConsensusMessage` (transactions are sealed here, once).
pub fn gossip_from_pb(message: &pb::ConsensusMessage) -> Result<GossipMessage, ConversionError> {
    match &message.kind {
        Some(Kind::Proposal(p)) => {
            Ok(GossipMessage::Proposal(Proposal::try_from(p).map_err(|e| e.within("proposal"))?))
        }
        Some(Kind::Vote(v)) => Ok(GossipMessage::Vote(Vote::try_from(v).map_err(|e| e.within("vote"))?)),
        Some(Kind::FinalizedBlock(b)) => {
            let (block, certificate) = convert::finalized_block(b).map_err(|e| e.within("finalized_block"))?;
            Ok(GossipMessage::FinalizedBlock { block, certificate })
        }
        Some(Kind::Transactions(batch)) => Ok(GossipMessage::Transactions(
            convert::transactions(&batch.transactions, "transactions.transactions")?
                .into_iter()
                .map(SealedTransaction::seal)
                .collect(),
        )),
        Some(Kind::CompactProposal(c)) => {
            let proposal =
                c.proposal.as_ref().ok_or_else(|| ConversionError::new("compact_proposal.proposal", "is required"))?;
            let proposal = Proposal::try_from(proposal).map_err(|e| e.within("compact_proposal.proposal"))?;
            if !proposal.block.transactions.is_empty() {
                return Err(ConversionError::new(
                    "compact_proposal.proposal.block.transactions",
                    "must be empty (the block's transactions are named by tx_hashes)",
                ));
            }
            let tx_hashes = split_hashes(&c.tx_hashes, "compact_proposal.tx_hashes")?;
            Ok(GossipMessage::CompactProposal(CompactProposal { proposal, tx_hashes }))
        }
        Some(Kind::TransactionRequest(r)) => {
            let tx_hashes = split_hashes(&r.tx_hashes, "transaction_request.tx_hashes")?;
            if tx_hashes.len() > MAX_REQUESTED_TRANSACTIONS {
                return Err(ConversionError::new(
                    "transaction_request.tx_hashes",
                    format!("{} hashes exceed the maximum {MAX_REQUESTED_TRANSACTIONS}", tx_hashes.len()),
                ));
            }
            Ok(GossipMessage::TransactionRequest(TransactionRequest {
                height: Height(r.height),
                round: Round(r.round),
                block_hash: convert::hash32(&r.block_hash, "transaction_request.block_hash")?,
                tx_hashes,
                full_block: r.full_block,
            }))
        }
        None => Err(ConversionError::new("kind", "is required")),
    }
}

/// 32-byte hashes, concatenated (the `tx_hashes` fields).
fn concat_hashes(hashes: &[Hash32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * 32);
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
    out
}

/// The hashes of a `tx_hashes` field: a multiple of 32 bytes.
fn split_hashes(bytes: &[u8], field: &str) -> Result<Vec<Hash32>, ConversionError> {
    if !bytes.len().is_multiple_of(32) {
        return Err(ConversionError::new(field, format!("{} bytes is not a multiple of 32", bytes.len())));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0; 32];
            h.copy_from_slice(c);
            Hash32(h)
        })
        .collect())
}

/// Decodes a received payload (bytes as published) into a gossip message.
pub fn decode_gossip(payload: &[u8]) -> Result<GossipMessage, ConversionError> {
    let message = pb::ConsensusMessage::decode(payload).map_err(|e| ConversionError::new("payload", e.to_string()))?;
    gossip_from_pb(&message)
}

/// A peer on the wire.
pub fn peer_to_pb(p: &PeerInfo) -> pb::PeerInfo {
    pb::PeerInfo {
        peer_id: p.peer_id.clone(),
        addresses: p.addresses.clone(),
        connected_since_ms: p.connected_since_ms.get(),
        score: p.score,
        outbound: p.outbound,
        agent_version: p.agent_version.clone(),
    }
}

fn peer_from_pb(p: pb::PeerInfo) -> PeerInfo {
    PeerInfo {
        peer_id: p.peer_id,
        addresses: p.addresses,
        connected_since_ms: UnixMillis(p.connected_since_ms),
        score: p.score,
        outbound: p.outbound,
        agent_version: p.agent_version,
    }
}

// ---------------------------------------------------------------------------------------------
// The remote implementation.
// ---------------------------------------------------------------------------------------------

/// The p2p-gateway in another process, over its gRPC service.
#[derive(Debug, Clone)]
pub struct RemoteGateway(P2pGatewayClient<TracedChannel>);

impl RemoteGateway {
    /// Connects lazily to `endpoint` (see [`connect`]).
    pub fn new(endpoint: Endpoint) -> Self {
        Self(
            P2pGatewayClient::new(connect(endpoint))
                .max_decoding_message_size(MESSAGE_LIMIT)
                .max_encoding_message_size(MESSAGE_LIMIT),
        )
    }

    /// [`Self::new`] for a URL; `InvalidArgument` naming it when it does not parse.
    pub fn from_url(url: &str) -> Result<Self, GatewayError> {
        Endpoint::from_shared(url.to_string())
            .map(Self::new)
            .map_err(|e| GatewayError::InvalidArgument(format!("p2p-gateway endpoint {url:?}: {e}")))
    }
}

#[tonic::async_trait]
impl GatewayPort for RemoteGateway {
    async fn publish(&self, message: &GossipMessage) -> Result<(), GatewayError> {
        let (topic, payload) = encode_gossip(message);
        let request = pb::PublishRequest { topic: pb::Topic::from(topic).into(), payload };
        self.0.clone().publish(request).await?;
        Ok(())
    }

    async fn request_blocks(&self, from: Height, count: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
        let request = pb::RequestBlocksRequest {
            from_height: from.get(),
            count: count.clamp(1, MAX_SYNC_BLOCKS),
            peer_id: String::new(),
        };
        let mut stream = self.0.clone().request_blocks(request).await?.into_inner();
        let mut out = Vec::new();
        while let Ok(Ok(Some(item))) = tokio::time::timeout(SYNC_BLOCK_TIMEOUT, stream.message()).await {
            let Some(block) = item.block else { break };
            match convert::finalized_block(&block) {
                Ok(b) => out.push(b),
                Err(e) => {
                    tracing::warn!(peer_id = %item.peer_id, error = %e, "peer served a malformed block");
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn subscribe_validated(&self) -> Result<GossipInbox, GatewayError> {
        let request = pb::SubscribeRequest {
            topics: ALL_TOPICS.iter().map(|&t| pb::Topic::from(t).into()).collect(),
            validate: true,
        };
        let mut stream = self.0.clone().subscribe(request).await?.into_inner();
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(async move {
            while let Ok(Some(m)) = stream.message().await {
                let (Some(topic), Ok(message_id)) = (topic(m.topic()), <[u8; 32]>::try_from(m.message_id.as_slice()))
                else {
                    continue;
                };
                let inbound = InboundGossip { message_id, topic, payload: m.payload, source: m.source_peer_id };
                if tx.send(inbound).await.is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }

    async fn report_validation(&self, reports: Vec<([u8; 32], Validation)>) -> Result<(), GatewayError> {
        let reports = reports
            .into_iter()
            .map(|(id, v)| pb::ValidationReport {
                message_id: id.to_vec(),
                result: pb::ValidationResult::from(v).into(),
            })
            .collect();
        self.0.clone().report_validation(pb::ReportValidationRequest { reports }).await?;
        Ok(())
    }

    async fn peers(&self) -> Result<Vec<PeerInfo>, GatewayError> {
        let response = self.0.clone().list_peers(pb::ListPeersRequest {}).await?.into_inner();
        Ok(response.peers.into_iter().map(peer_from_pb).collect())
    }

    async fn connected_peers(&self) -> Result<u32, GatewayError> {
        Ok(self.0.clone().get_network_info(pb::GetNetworkInfoRequest {}).await?.into_inner().connected_peers)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use coinjecture_primitives::consensus::VoteType;
    use coinjecture_primitives::{ChainId, PublicKey, Round, Signature};

    use super::*;

    fn vote() -> Vote {
        Vote {
            chain_id: ChainId::new("coinjecture-port").unwrap(),
            height: Height(7),
            round: Round(1),
            vote_type: VoteType::Precommit,
            block_hash: None,
            validator: PublicKey([4; 32]),
            signature: Signature([5; 64]),
        }
    }

    #[test]
    fn a_gossip_message_survives_its_payload_and_goes_on_its_topic() {
        let message = GossipMessage::Vote(vote());
        let (topic, payload) = encode_gossip(&message);
        assert_eq!(topic, Topic::Votes);
        assert_eq!(decode_gossip(&payload).unwrap(), message);
        // The wire is the protobuf ConsensusMessage the gateway checks against the topic.
        let wire = pb::ConsensusMessage::decode(payload.as_slice()).unwrap();
        assert!(matches!(wire.kind, Some(Kind::Vote(_))));
    }

    #[test]
    fn a_compact_proposal_and_a_request_survive_their_payload_and_go_on_the_proposal_topic() {
        use coinjecture_primitives::{BlockHeader, Signature};
        let header = BlockHeader {
            codec_version: 1,
            block_index: Height(7),
            timestamp: 1,
            parent_hash: Hash32([1; 32]),
            merkle_root: Hash32([2; 32]),
            miner_address: PublicKey([3; 32]),
            commitment: Hash32::ZERO,
            difficulty_target: 0,
            nonce: 0,
            extra_data: Vec::new(),
        };
        let proposal = Proposal {
            chain_id: ChainId::new("coinjecture-port").unwrap(),
            height: Height(7),
            round: Round(1),
            pol_round: None,
            timestamp_ms: UnixMillis(5),
            block: Block { header, transactions: Vec::new() },
            proposer: PublicKey([3; 32]),
            signature: Signature([6; 64]),
        };
        let compact = CompactProposal::of(&proposal, vec![Hash32([8; 32]), Hash32([9; 32])]);
        let message = GossipMessage::CompactProposal(compact.clone());
        let (topic, payload) = encode_gossip(&message);
        assert_eq!((topic, decode_gossip(&payload).unwrap()), (Topic::Proposals, message.clone()));
        assert_eq!(gossip_encoded_len(&message), payload.len());
        // The hashes travel packed: 32 bytes each, plus the header and signature.
        assert!(payload.len() < 64 + 400, "{}", payload.len());
        let request = GossipMessage::TransactionRequest(TransactionRequest {
            height: Height(7),
            round: Round(1),
            block_hash: Hash32([4; 32]),
            tx_hashes: vec![Hash32([8; 32])],
            full_block: false,
        });
        let (topic, payload) = encode_gossip(&request);
        assert_eq!((topic, decode_gossip(&payload).unwrap()), (Topic::Proposals, request));

        // A hash list that is not a multiple of 32 bytes, or a compact block with transactions.
        let mut wire = gossip_to_pb(&message);
        if let Some(Kind::CompactProposal(c)) = &mut wire.kind {
            c.tx_hashes.pop();
        }
        let e = gossip_from_pb(&wire).unwrap_err();
        assert_eq!(e.to_string(), "compact_proposal.tx_hashes: 63 bytes is not a multiple of 32");
        let request = pb::ConsensusMessage {
            kind: Some(Kind::TransactionRequest(pb::TransactionRequest {
                block_hash: vec![0; 32],
                tx_hashes: vec![0; 32 * (MAX_REQUESTED_TRANSACTIONS + 1)],
                ..Default::default()
            })),
        };
        assert!(gossip_from_pb(&request).unwrap_err().to_string().contains("exceed the maximum 65536"));
    }

    #[test]
    fn an_undecodable_or_empty_payload_is_an_error_naming_it() {
        let e = decode_gossip(&[0x0f, 0xff]).unwrap_err();
        assert_eq!(e.field, "payload");
        let e = decode_gossip(&[]).unwrap_err();
        assert_eq!(e.to_string(), "kind: is required");
    }

    #[test]
    fn remote_failures_keep_their_code_and_rule_answers_map_back() {
        let e = GatewayError::from(Status::unavailable("connection refused"));
        assert!(matches!(e, GatewayError::Remote(_)));
        assert_eq!(e.to_string(), "connection refused");
        assert_eq!(Status::from(e).code(), Code::Unavailable);
        let e = GatewayError::from(Status::not_found("no connected peer served block 9"));
        assert!(matches!(e, GatewayError::NotFound(_)));
        assert_eq!(Status::from(e).code(), Code::NotFound);
    }
}
