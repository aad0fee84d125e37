//! # coinjecture-p2p-gateway
//!
//! The node's only door to other nodes: a libp2p swarm and the `P2pGateway` gRPC service
//! (`proto/coinjecture/v1/p2p.proto`) through which consensus and api use it.
//!
//! ## Bird's eye view
//!
//! ```text
//!  consensus / api ──gRPC or trait──▶ P2pGatewayService ──▶ P2pHandle ──commands──▶ swarm task
//!                   ◀── Subscription (per-subscriber channel) ◀──────────────────────┘
//!                                                 swarm: tcp + noise + yamux, gossipsub, identify,
//!                                                 ping, request-response (block sync),
//!                                                 connection limits, block list
//! ```
//!
//! - **Identity.** The validator's 32-byte ed25519 seed is the libp2p key
//!   ([`keypair_from_seed`], [`peer_id_from_seed`]): the peer id `keygen` prints is the one
//!   the swarm uses.
//! - **Actor.** [`P2pNode::start`] builds the swarm, binds the listen addresses, dials the
//!   bootstrap peers and spawns one task that owns every piece of network state. A cloneable
//!   [`P2pHandle`] sends it commands; nothing else touches the swarm, so there are no locks.
//!   [`P2pGatewayService`] wraps a handle for gRPC; in-process callers can use the generated
//!   `P2pGateway` trait on the service directly.
//! - **Topics.** `/coinjecture/<network_id>/<kind>/1` with kinds `tx`, `proposal`, `vote`,
//!   `block` ([`TopicNames`]). The sync protocol is `/coinjecture/<network_id>/sync/1` and the
//!   identify protocol version `/coinjecture/<network_id>/1`; a peer announcing another network is
//!   disconnected, so two networks on one host never mix even if someone dials across.
//! - **Gossipsub.** Signed messages, `ValidationMode::Strict`, manual validation, message id =
//!   SHA-256 of the payload (identical payloads are one message network-wide), transmit limit
//!   16 MiB + 64 KiB. Every node subscribes to all four topics of its network at start so the
//!   mesh forms whether or not a local consumer is listening.
//! - **Validation.** Each received message first passes a cheap stateless check
//!   ([`check_payload`]: size, decodes as `ConsensusMessage`, variant matches the topic); failing
//!   it is a gossipsub REJECT (the sender's score drops). Then, if a local subscriber validates
//!   that topic, the message waits for its report (ACCEPT forwards, REJECT penalises, IGNORE drops)
//!   up to `validation_timeout` (default 5 s) and is ignored after; with no validating subscriber
//!   it is accepted, or ignored with `relay_unvalidated: false` (a node: its consensus validates
//!   every topic, see `coinjecture_consensus::gossip`). Observers get every message that passed
//!   the stateless check as it arrives.
//! - **Scoring.** gossipsub peer scoring with P4 (invalid messages, quadratic) weighted hard:
//!   a few rejected messages take a peer below `disconnect_score_threshold` (default -80, the
//!   graylist threshold); the swarm task then disconnects it and bans it for `ban_duration`.
//!   Loopback is exempt from the IP-colocation penalty (devnets run on one host).
//! - **Bootstrap and redial.** Bootstrap peers (`/ip4/…/tcp/…/p2p/<peer id>`) are dialled at
//!   start and redialled with capped exponential backoff whenever the connection drops;
//!   every last-connection close logs `WARN P2P peer disconnected peer_id=…`.
//! - **Block sync** ([`sync`]). Request `(from_height, count ≤ 1000)`, response = the protobuf
//!   blocks with commit certificates, bounded by a byte budget (≥ 1 block). The responder
//!   answers from the ledger's port (`Arc<dyn LedgerPort>`, `coinjecture_proto::ports::ledger`:
//!   the ledger itself in one process, a `RemoteLedger` split; [`MemoryBlockSource`] in tests). [`P2pHandle::request_blocks`] walks peers by score, fails over, checks
//!   the heights are contiguous and streams blocks; they are unverified.
//! - **Snapshots** ([`snapshot`]). `/coinjecture/<network_id>/snapshot/1`, request-response
//!   framed as block sync: the manifests a node holds, or one chunk (≤ 8 MiB answers, 10 s per
//!   request). Served from a [`snapshot::SnapshotSource`] set with [`P2pHandle::serve_snapshots`]
//!   (the ledger's kept snapshots in a node; none: empty answers); the bytes are opaque here and
//!   verified by the joining node.
//! - **Metrics** ([`P2pMetrics`]): peers, messages and payload bytes in/out by topic,
//!   validation outcomes, score disconnects, and `coinjecture_block_propagation_seconds`
//!   (proposer's timestamp → receipt, for proposals and finalized blocks).
//!
//! Nothing here panics on network input: decoders are length-checked before allocation and
//! every failure is a typed error ([`P2pError`]).

mod config;
mod error;
mod handle;
mod metrics;
mod node;
mod port;
pub mod service;
pub mod snapshot;
pub mod sync;
mod topics;

pub use config::{
    ENVELOPE_MARGIN_BYTES, Limits, MAX_SYNC_BLOCKS, P2pConfig, bootstrap_peer_id, loopback_any_port,
    validate_network_id,
};
pub use error::{ConfigError, P2pError, PayloadError};
pub use handle::{
    BlockStream, InboundMessage, MessageId, NetworkInfo, P2pHandle, PeerSummary, PublishOutcome, ReportOutcome,
    Subscription, SyncedBlock, Validation,
};
pub use metrics::P2pMetrics;
pub use node::{P2pNode, keypair_from_seed, peer_id_from_seed};
pub use service::{P2pGatewayService, serve};
pub use sync::{MemoryBlockSource, NoBlocks, PrunedBlockSource};
pub use topics::{
    ALL_TOPICS, TopicNames, check_payload, identify_protocol, origin_timestamp_ms, sync_protocol, topic_kind,
};

/// Re-exported libp2p types that appear in this crate's API.
pub use libp2p::{Multiaddr, PeerId};
