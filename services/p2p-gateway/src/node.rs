//! The swarm task: builds the libp2p swarm and runs it as an actor that owns all network state.
//! [`P2pHandle`]s talk to it through a command channel.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coinjecture_primitives::Height;
use coinjecture_proto::v1 as pb;
use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::gossipsub::{self, MessageAcceptance, PeerScoreParams, PeerScoreThresholds, TopicScoreParams};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, allow_block_list, connection_limits, identify, noise, ping, tcp, yamux,
};
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{ENVELOPE_MARGIN_BYTES, MAX_SYNC_BLOCKS, P2pConfig, bootstrap_peer_id};
use crate::error::P2pError;
use crate::handle::{
    Command, InboundMessage, MessageId, NetworkInfo, P2pHandle, PeerSummary, PublishOutcome, ReportOutcome,
    Subscription, Validation,
};
use crate::metrics::{P2pMetrics, TopicLabel};
use crate::sync::{SyncCodec, SyncRequest, SyncResponse, served_blocks, within_budget};
use crate::topics::{self, TopicNames};
use coinjecture_proto::ports::ledger::{LedgerPort, LedgerPortError};

/// The resolver configuration of `/etc/resolv.conf`. Without a usable one (no file, no
/// `nameserver` line) `/dns*` addresses fail to resolve, and `/ip4`, `/ip6` ones work as before.
fn system_dns_config() -> (libp2p::dns::ResolverConfig, libp2p::dns::ResolverOpts) {
    match hickory_resolver::system_conf::read_system_conf() {
        Ok(config) => config,
        Err(e) => {
            tracing::debug!(error = %e, "no system DNS configuration: /dns multiaddrs will not resolve");
            (libp2p::dns::ResolverConfig::from_parts(None, Vec::new(), Vec::new()), Default::default())
        }
    }
}

/// The node's libp2p keypair from the validator's 32-byte ed25519 secret seed.
pub fn keypair_from_seed(seed: [u8; 32]) -> Keypair {
    let mut bytes = seed;
    // A 32-byte ed25519 seed is always a valid secret key: the error branch is unreachable but we
    // never panic, so fall back to a fresh key (different peer id) and let the caller notice.
    Keypair::ed25519_from_bytes(&mut bytes).unwrap_or_else(|_| Keypair::generate_ed25519())
}

/// The libp2p peer id of the validator key with this seed (what `keygen` prints).
pub fn peer_id_from_seed(seed: [u8; 32]) -> PeerId {
    keypair_from_seed(seed).public().to_peer_id()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

fn message_id_of(payload: &[u8]) -> MessageId {
    Sha256::digest(payload).into()
}

/// Every protocol the swarm speaks.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    limits: connection_limits::Behaviour,
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    gossipsub: gossipsub::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
    snapshot: request_response::Behaviour<crate::snapshot::SnapshotCodec>,
}

/// Per-topic scoring: reward time in mesh and first deliveries a little, punish invalid messages
/// hard (P4 is quadratic in the count: three rejected messages take a peer below the disconnect
/// threshold). Mesh delivery rate (P3) is off: votes and proposals are sparse and a quiet honest
/// peer must not be punished.
fn topic_score_params() -> TopicScoreParams {
    TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.1,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 60.0,
        first_message_deliveries_weight: 1.0,
        first_message_deliveries_decay: 0.9,
        first_message_deliveries_cap: 20.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -20.0,
        invalid_message_deliveries_decay: 0.95,
        ..TopicScoreParams::default()
    }
}

fn score_params(topics: &TopicNames) -> PeerScoreParams {
    let mut params = PeerScoreParams {
        topic_score_cap: 50.0,
        // Devnets and tests run every node on one host: loopback is not a Sybil signal.
        ip_colocation_factor_whitelist: [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)]
            .into_iter()
            .collect(),
        // A peer whose send queue overflows under load is slow, not malicious: it must not drift
        // towards the disconnect threshold (gossipsub's default charges -0.2 per dropped message,
        // which bans an honest but congested link after a few hundred).
        slow_peer_weight: 0.0,
        ..PeerScoreParams::default()
    };
    for (_, topic) in topics.iter() {
        params.topics.insert(topic.hash(), topic_score_params());
    }
    params
}

fn build_behaviour(config: &P2pConfig, keypair: &Keypair, topics: &TopicNames) -> Result<Behaviour, P2pError> {
    let limits = &config.limits;
    let heartbeat = limits.heartbeat_interval;
    // Unvalidated messages live in gossipsub's cache for `history_length` heartbeats: keep them
    // at least as long as the validation timeout, or a late ACCEPT could not be forwarded.
    let history = usize::try_from(limits.validation_timeout.as_millis() / heartbeat.as_millis().max(1))
        .unwrap_or(usize::MAX)
        .saturating_add(2)
        .max(5);
    // Seen message ids are remembered just past the cache window (not gossipsub's 60 s): a
    // message id is content, so a validator re-sending the same signed vote or proposal (which
    // consensus does every quarter block time until the height is decided) reaches a peer that
    // missed it, e.g. one that restarted, within seconds instead of after a minute.
    let duplicate_window = heartbeat.saturating_mul(u32::try_from(history).unwrap_or(u32::MAX).saturating_add(2));
    let gossip_config = gossipsub::ConfigBuilder::default()
        .heartbeat_interval(heartbeat)
        .history_length(history)
        .duplicate_cache_time(duplicate_window)
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .message_id_fn(|m: &gossipsub::Message| gossipsub::MessageId::new(&message_id_of(&m.data)))
        .max_transmit_size(limits.max_message_bytes + ENVELOPE_MARGIN_BYTES)
        // Room for bursts (e.g. a block's worth of transactions) per peer before publishes fail
        // with AllQueuesFull; gossipsub's default is 5,000.
        .connection_handler_queue_len(16_384)
        .build()
        .map_err(|e| P2pError::transport_failed("gossipsub config")(e.into()))?;
    let mut gossipsub =
        gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(keypair.clone()), gossip_config)
            .map_err(|e| P2pError::transport(format!("gossipsub: {e}")))?;
    let thresholds =
        PeerScoreThresholds { graylist_threshold: limits.disconnect_score_threshold.min(-80.0), ..Default::default() };
    gossipsub
        .with_peer_score(score_params(topics), thresholds)
        .map_err(|e| P2pError::transport(format!("peer score: {e}")))?;
    for (_, topic) in topics.iter() {
        gossipsub.subscribe(topic).map_err(|e| P2pError::transport_failed(format!("subscribe {topic}"))(e.into()))?;
    }

    // No address cache: identify would otherwise remember the listen addresses peers announce and
    // offer them whenever something dials a peer by id alone (request-response does, for a sync
    // request to a peer that just disconnected). A validator talks only over the addresses its
    // operator configured (bootstrap peers, `Dial`) — e.g. through a sentry or proxy — never
    // around them to an address a peer announced.
    let identify = identify::Behaviour::new(
        identify::Config::new(topics::identify_protocol(&config.network_id), keypair.public())
            .with_agent_version(config.agent_version.clone())
            .with_cache_size(0),
    );
    let sync_protocol = StreamProtocol::try_from_owned(topics::sync_protocol(&config.network_id))
        .map_err(|e| P2pError::transport_failed("sync protocol name")(e.into()))?;
    let sync = request_response::Behaviour::with_codec(
        SyncCodec::new(limits.max_sync_response_bytes),
        [(sync_protocol, ProtocolSupport::Full)],
        request_response::Config::default().with_request_timeout(limits.sync_request_timeout),
    );
    let snapshot_protocol = StreamProtocol::try_from_owned(crate::snapshot::snapshot_protocol(&config.network_id))
        .map_err(|e| P2pError::transport_failed("snapshot protocol name")(e.into()))?;
    let snapshot = request_response::Behaviour::with_codec(
        crate::snapshot::SnapshotCodec,
        [(snapshot_protocol, ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(crate::snapshot::SNAPSHOT_REQUEST_TIMEOUT)
            .with_max_concurrent_streams(16),
    );
    let connection_limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(limits.max_peers))
        .with_max_established_per_peer(Some(limits.max_connections_per_peer))
        .with_max_pending_incoming(Some(limits.max_pending_incoming))
        .with_max_pending_outgoing(Some(limits.max_peers));
    Ok(Behaviour {
        limits: connection_limits::Behaviour::new(connection_limits),
        blocked: allow_block_list::Behaviour::default(),
        gossipsub,
        identify,
        ping: ping::Behaviour::default(),
        sync,
        snapshot,
    })
}

/// Starts gateways.
#[derive(Debug)]
pub struct P2pNode;

impl P2pNode {
    /// Builds the swarm, starts listening (waiting until every listen address is bound, so
    /// [`P2pHandle::network_info`] reports real ports), dials the bootstrap peers and spawns the
    /// swarm task. `registry`: where the metrics go (a fresh one when `None`).
    pub async fn start(
        config: P2pConfig,
        ledger: Arc<dyn LedgerPort>,
        registry: Option<Arc<Mutex<Registry>>>,
    ) -> Result<(P2pHandle, JoinHandle<()>), P2pError> {
        config.validate()?;
        let keypair = keypair_from_seed(config.key_seed);
        let local_peer_id = keypair.public().to_peer_id();
        let topics = Arc::new(TopicNames::new(&config.network_id));
        let behaviour = build_behaviour(&config, &keypair, &topics)?;
        let idle_timeout = config.limits.idle_connection_timeout;
        let dns_config = system_dns_config();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
            .map_err(|e| P2pError::transport_failed("noise")(e.into()))?
            // `/dns4/<name>/tcp/<port>/p2p/<id>` bootstrap peers (Kubernetes StatefulSet pods and
            // compose services have stable names, not stable IPs); resolved again on every redial.
            .with_dns_config(dns_config.0, dns_config.1)
            .with_behaviour(|_| behaviour)
            .map_err(|e| P2pError::transport_failed("behaviour")(e.into()))?
            // Mesh peers and requests in flight keep a connection alive; one nothing uses (a
            // dialer that never subscribes) gives its slot back after the idle timeout.
            .with_swarm_config(|c| c.with_idle_connection_timeout(idle_timeout))
            .build();

        let mut waiting = HashSet::new();
        for (i, addr) in config.listen_addrs.iter().enumerate() {
            let id = swarm.listen_on(addr.clone()).map_err(|e| {
                P2pError::Config(crate::error::ConfigError::new(
                    format!("p2p.listen_addrs[{i}]"),
                    format!("{addr}: {e}"),
                ))
            })?;
            waiting.insert(id);
        }
        let mut listen_addrs = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !waiting.is_empty() {
            let event = tokio::time::timeout_at(deadline, swarm.select_next_some())
                .await
                .map_err(|_| P2pError::transport("listeners did not bind within 10 s"))?;
            match event {
                SwarmEvent::NewListenAddr { listener_id, address } => {
                    waiting.remove(&listener_id);
                    listen_addrs.push(address);
                }
                SwarmEvent::ListenerClosed { reason: Err(e), .. } | SwarmEvent::ListenerError { error: e, .. } => {
                    return Err(P2pError::transport_failed("listening failed")(e.into()));
                }
                _ => {}
            }
        }
        tracing::info!(peer_id = %local_peer_id, network = %config.network_id, addresses = ?listen_addrs, "P2P listening");

        let metrics = P2pMetrics::new(&config.network_id, registry);
        let (commands, command_rx) = mpsc::channel(1024);
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let handle = P2pHandle {
            commands,
            local_peer_id,
            network_id: Arc::from(config.network_id.as_str()),
            topics: topics.clone(),
            metrics: metrics.clone(),
            max_message_bytes: config.limits.max_message_bytes,
            dial_timeout: config.limits.dial_timeout,
            prefetch: Arc::default(),
        };
        let mut bootstrap = HashMap::new();
        for addr in &config.bootstrap_peers {
            if let Some(peer) = bootstrap_peer_id(addr) {
                if peer == local_peer_id {
                    continue;
                }
                let entry = bootstrap.entry(peer).or_insert_with(|| Redial {
                    addrs: Vec::new(),
                    backoff: config.limits.redial_initial,
                    next_attempt: Some(Instant::now()),
                    in_flight: None,
                    connected_at: None,
                });
                entry.addrs.push(addr.clone());
            }
        }
        let actor = Actor {
            swarm,
            config,
            topics,
            metrics,
            ledger,
            commands: command_rx,
            internal_tx,
            internal: internal_rx,
            subscribers: Vec::new(),
            validators: HashMap::new(),
            pending: HashMap::new(),
            pending_order: VecDeque::new(),
            published: HashMap::new(),
            published_order: VecDeque::new(),
            peers: HashMap::new(),
            bootstrap,
            bans: HashMap::new(),
            dials: HashMap::new(),
            syncs: HashMap::new(),
            snapshot_requests: HashMap::new(),
            snapshots: None,
            listen_addrs,
        };
        let task = tokio::spawn(actor.run());
        Ok((handle, task))
    }
}

struct Subscriber {
    id: u64,
    topics: Vec<pb::Topic>,
    validate: bool,
    tx: mpsc::Sender<InboundMessage>,
}

struct Pending {
    source: PeerId,
    topic: pb::Topic,
}

struct Connection {
    remote: Multiaddr,
    outbound: bool,
    since_ms: i64,
}

#[derive(Default)]
struct PeerEntry {
    connections: HashMap<ConnectionId, Connection>,
    agent_version: String,
    listen_addrs: Vec<Multiaddr>,
}

/// Redial state of a bootstrap peer: exponential backoff, capped.
struct Redial {
    addrs: Vec<Multiaddr>,
    backoff: Duration,
    next_attempt: Option<Instant>,
    in_flight: Option<ConnectionId>,
    connected_at: Option<Instant>,
}

enum Internal {
    SyncAnswer { channel: ResponseChannel<SyncResponse>, response: SyncResponse },
}

/// As long as gossipsub's default duplicate cache time.
const PUBLISHED_CACHE_TIME: Duration = Duration::from_secs(60);

struct Actor {
    swarm: Swarm<Behaviour>,
    config: P2pConfig,
    topics: Arc<TopicNames>,
    metrics: P2pMetrics,
    ledger: Arc<dyn LedgerPort>,
    commands: mpsc::Receiver<Command>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal: mpsc::UnboundedReceiver<Internal>,
    subscribers: Vec<Subscriber>,
    validators: HashMap<pb::Topic, u64>,
    /// Messages waiting for their validating subscriber's report.
    pending: HashMap<gossipsub::MessageId, Pending>,
    /// Deadlines in arrival order (all timeouts are equal, so this is sorted).
    pending_order: VecDeque<(Instant, gossipsub::MessageId)>,
    /// Payloads we published to nobody recently, for `duplicate` (gossipsub's duplicate cache
    /// covers every other publish).
    published: HashMap<MessageId, Instant>,
    published_order: VecDeque<(Instant, MessageId)>,
    peers: HashMap<PeerId, PeerEntry>,
    bootstrap: HashMap<PeerId, Redial>,
    bans: HashMap<PeerId, Instant>,
    dials: HashMap<ConnectionId, oneshot::Sender<Result<PeerId, P2pError>>>,
    syncs: HashMap<OutboundRequestId, oneshot::Sender<Result<SyncResponse, P2pError>>>,
    snapshot_requests: HashMap<OutboundRequestId, oneshot::Sender<Result<crate::snapshot::SnapshotResponse, P2pError>>>,
    /// Where snapshot requests are answered from (none: empty answers).
    snapshots: Option<Arc<dyn crate::snapshot::SnapshotSource>>,
    listen_addrs: Vec<Multiaddr>,
}

fn topic_label(topic: pb::Topic) -> &'static str {
    topics::topic_kind(topic).unwrap_or("unknown")
}

impl Actor {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                Some(internal) = self.internal.recv() => self.on_internal(internal),
                _ = tick.tick() => self.housekeeping(),
            }
        }
        tracing::info!(peer_id = %self.swarm.local_peer_id(), "P2P gateway stopped");
    }

    // ---------------------------------------------------------------------------------------
    // Commands from handles
    // ---------------------------------------------------------------------------------------

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, payload, check, reply } => {
                let _ = reply.send(self.publish(topic, payload, check));
            }
            Command::Subscribe { topics, validate, reply } => {
                let _ = reply.send(self.subscribe(topics, validate));
            }
            Command::Report { reports, reply } => {
                let _ = reply.send(self.report(reports));
            }
            Command::Peers { reply } => {
                let _ = reply.send(self.peer_summaries());
            }
            Command::Dial { addr, reply } => self.dial(addr, reply),
            Command::Sync { peer, request, reply } => {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                self.syncs.insert(id, reply);
            }
            Command::Info { reply } => {
                let _ = reply.send(NetworkInfo {
                    local_peer_id: *self.swarm.local_peer_id(),
                    listen_addrs: self.listen_addrs.clone(),
                    network_id: self.config.network_id.clone(),
                    connected_peers: u32::try_from(self.peers.len()).unwrap_or(u32::MAX),
                    topics: self.topics.iter().map(|(t, i)| (t, i.to_string())).collect(),
                });
            }
            Command::Snapshot { peer, request, reply } => {
                let id = self.swarm.behaviour_mut().snapshot.send_request(&peer, request);
                self.snapshot_requests.insert(id, reply);
            }
            Command::ServeSnapshots { source } => self.snapshots = Some(source),
            Command::Shutdown => {}
        }
    }

    fn publish(&mut self, topic: pb::Topic, payload: Vec<u8>, check: bool) -> Result<PublishOutcome, P2pError> {
        let max = self.config.limits.max_message_bytes;
        if check {
            topics::check_payload(topic, &payload, max).map_err(|e| P2pError::invalid("payload", e))?;
        }
        let ident = self.topics.topic(topic).ok_or_else(|| P2pError::invalid("topic", "is TOPIC_UNSPECIFIED"))?.clone();
        let message_id = message_id_of(&payload);
        let len = payload.len() as u64;
        let duplicate = |recipients| Ok(PublishOutcome { message_id, recipients, duplicate: true });
        if self.published.contains_key(&message_id) {
            return duplicate(0);
        }
        let recipients = self.publish_recipients(&ident.hash());
        let gossip = &mut self.swarm.behaviour_mut().gossipsub;
        let outcome = match gossip.publish(ident.hash(), payload) {
            Ok(_) => PublishOutcome { message_id, recipients, duplicate: false },
            Err(gossipsub::PublishError::Duplicate) => return duplicate(0),
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                // gossipsub does not remember a publish that reached nobody; we do, so that the
                // same bytes again report `duplicate` as the proto promises.
                let now = Instant::now();
                self.published.insert(message_id, now);
                self.published_order.push_back((now, message_id));
                PublishOutcome { message_id, recipients: 0, duplicate: false }
            }
            Err(gossipsub::PublishError::MessageTooLarge) => {
                return Err(P2pError::invalid("payload", format!("{len} bytes exceed the gossip transmit limit")));
            }
            Err(gossipsub::PublishError::AllQueuesFull(n)) => return Err(P2pError::QueuesFull(n)),
            Err(e) => return Err(P2pError::transport_failed("publish")(e.into())),
        };
        let label = TopicLabel { topic: topic_label(topic) };
        self.metrics.messages_published.get_or_create(&label).inc();
        self.metrics.bytes_published.get_or_create(&label).inc_by(len);
        Ok(outcome)
    }

    /// Peers a flood publish reaches: those subscribed to the topic and above the publish
    /// threshold.
    fn publish_recipients(&self, hash: &gossipsub::TopicHash) -> u32 {
        let gossip = &self.swarm.behaviour().gossipsub;
        let threshold = PeerScoreThresholds::default().publish_threshold;
        let n = gossip
            .all_peers()
            .filter(|(peer, topics)| topics.contains(&hash) && gossip.peer_score(peer).unwrap_or(0.0) >= threshold)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn subscribe(&mut self, topics: Vec<pb::Topic>, validate: bool) -> Result<Subscription, P2pError> {
        self.drop_closed_subscribers();
        if validate && let Some(&taken) = topics.iter().find(|t| self.validators.contains_key(t)) {
            return Err(P2pError::TopicAlreadyValidated(taken.as_str_name()));
        }
        let id = self.subscribers.iter().map(|s| s.id).max().map_or(0, |m| m + 1);
        let (tx, rx) = mpsc::channel(self.config.limits.subscriber_buffer);
        if validate {
            for &t in &topics {
                self.validators.insert(t, id);
            }
        }
        self.subscribers.push(Subscriber { id, topics, validate, tx });
        Ok(Subscription { rx })
    }

    fn drop_closed_subscribers(&mut self) {
        let closed: Vec<u64> = self.subscribers.iter().filter(|s| s.tx.is_closed()).map(|s| s.id).collect();
        if closed.is_empty() {
            return;
        }
        self.subscribers.retain(|s| !closed.contains(&s.id));
        self.validators.retain(|_, id| !closed.contains(id));
    }

    fn report(&mut self, reports: Vec<(MessageId, Validation)>) -> ReportOutcome {
        let mut outcome = ReportOutcome::default();
        for (id, validation) in reports {
            let gossip_id = gossipsub::MessageId::new(&id);
            match self.pending.remove(&gossip_id) {
                Some(pending) => {
                    let (acceptance, result) = match validation {
                        Validation::Accept => (MessageAcceptance::Accept, "accept"),
                        Validation::Reject => (MessageAcceptance::Reject, "reject"),
                        Validation::Ignore => (MessageAcceptance::Ignore, "ignore"),
                    };
                    self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                        &gossip_id,
                        &pending.source,
                        acceptance,
                    );
                    self.metrics.validation(topic_label(pending.topic), result);
                    outcome.applied += 1;
                }
                None => outcome.unknown += 1,
            }
        }
        outcome
    }

    fn peer_summaries(&self) -> Vec<PeerSummary> {
        let gossip = &self.swarm.behaviour().gossipsub;
        let mut out: Vec<PeerSummary> = self
            .peers
            .iter()
            .filter_map(|(peer_id, entry)| {
                let oldest = entry.connections.values().min_by_key(|c| c.since_ms)?;
                let mut addresses: Vec<Multiaddr> = entry.connections.values().map(|c| c.remote.clone()).collect();
                for a in &entry.listen_addrs {
                    if !addresses.contains(a) {
                        addresses.push(a.clone());
                    }
                }
                Some(PeerSummary {
                    peer_id: *peer_id,
                    addresses,
                    connected_since_ms: oldest.since_ms,
                    score: gossip.peer_score(peer_id).unwrap_or(0.0),
                    outbound: oldest.outbound,
                    agent_version: entry.agent_version.clone(),
                })
            })
            .collect();
        out.sort_by_key(|p| p.peer_id.to_base58());
        out
    }

    fn dial(&mut self, addr: Multiaddr, reply: oneshot::Sender<Result<PeerId, P2pError>>) {
        let opts = match bootstrap_peer_id(&addr) {
            Some(peer) if self.peers.contains_key(&peer) => {
                let _ = reply.send(Ok(peer));
                return;
            }
            Some(peer) if peer == *self.swarm.local_peer_id() => {
                let _ = reply.send(Err(P2pError::invalid("multiaddr", "is this node's own address")));
                return;
            }
            Some(peer) => {
                DialOpts::peer_id(peer).addresses(vec![addr.clone()]).condition(PeerCondition::Always).build()
            }
            None => DialOpts::unknown_peer_id().address(addr.clone()).build(),
        };
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                self.dials.insert(id, reply);
            }
            Err(e) => {
                let _ = reply.send(Err(P2pError::Unavailable(format!("dialling {addr}: {e}"))));
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Swarm events
    // ---------------------------------------------------------------------------------------

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                self.on_identify(peer_id, info);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(event),
            SwarmEvent::Behaviour(BehaviourEvent::Snapshot(event)) => self.on_snapshot(event),
            SwarmEvent::Behaviour(_) => {}
            SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, .. } => {
                self.on_connected(peer_id, connection_id, &endpoint);
            }
            SwarmEvent::ConnectionClosed { peer_id, connection_id, num_established, cause, .. } => {
                if let Some(entry) = self.peers.get_mut(&peer_id) {
                    entry.connections.remove(&connection_id);
                }
                if num_established == 0 {
                    self.peers.remove(&peer_id);
                    let cause = cause.map(|c| c.to_string()).unwrap_or_else(|| "closed locally".into());
                    tracing::warn!(peer_id = %peer_id, cause = %cause, "P2P peer disconnected");
                    self.schedule_redial(peer_id);
                }
                self.metrics.peers.set(i64::try_from(self.peers.len()).unwrap_or(i64::MAX));
            }
            SwarmEvent::OutgoingConnectionError { connection_id, peer_id, error } => {
                if let Some(reply) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Err(P2pError::Unavailable(format!("dial failed: {error}"))));
                }
                if let Some(redial) = peer_id.and_then(|p| self.bootstrap.get_mut(&p))
                    && redial.in_flight == Some(connection_id)
                {
                    redial.in_flight = None;
                    tracing::debug!(error = %error, retry_in = ?redial.backoff, "P2P bootstrap dial failed");
                    redial.next_attempt = Some(Instant::now() + redial.backoff);
                    redial.backoff = (redial.backoff * 2).min(self.config.limits.redial_max);
                }
            }
            SwarmEvent::NewListenAddr { address, .. } if !self.listen_addrs.contains(&address) => {
                self.listen_addrs.push(address);
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => self.listen_addrs.retain(|a| a != &address),
            _ => {}
        }
    }

    fn on_connected(&mut self, peer_id: PeerId, connection_id: ConnectionId, endpoint: &ConnectedPoint) {
        let entry = self.peers.entry(peer_id).or_default();
        entry.connections.insert(
            connection_id,
            Connection {
                remote: endpoint.get_remote_address().clone(),
                outbound: endpoint.is_dialer(),
                since_ms: now_ms(),
            },
        );
        tracing::info!(peer_id = %peer_id, address = %endpoint.get_remote_address(), outbound = endpoint.is_dialer(), "P2P peer connected");
        self.metrics.peers.set(i64::try_from(self.peers.len()).unwrap_or(i64::MAX));
        if let Some(reply) = self.dials.remove(&connection_id) {
            let _ = reply.send(Ok(peer_id));
        }
        if let Some(redial) = self.bootstrap.get_mut(&peer_id) {
            redial.in_flight = None;
            redial.next_attempt = None;
            redial.connected_at = Some(Instant::now());
        }
    }

    fn schedule_redial(&mut self, peer_id: PeerId) {
        let limits = &self.config.limits;
        if let Some(redial) = self.bootstrap.get_mut(&peer_id) {
            // A connection that lasted resets the backoff; one dropped right away (e.g. a peer
            // of another network) keeps doubling it.
            if redial.connected_at.is_some_and(|t| t.elapsed() >= limits.redial_max) {
                redial.backoff = limits.redial_initial;
            }
            redial.connected_at = None;
            redial.next_attempt = Some(Instant::now() + redial.backoff);
            tracing::info!(peer_id = %peer_id, retry_in = ?redial.backoff, "P2P redialling bootstrap peer");
            redial.backoff = (redial.backoff * 2).min(limits.redial_max);
        }
    }

    fn on_identify(&mut self, peer_id: PeerId, info: identify::Info) {
        let ours = topics::identify_protocol(&self.config.network_id);
        if info.protocol_version != ours {
            tracing::warn!(
                peer_id = %peer_id,
                theirs = %info.protocol_version,
                ours = %ours,
                "P2P peer belongs to another network; disconnecting"
            );
            let _ = self.swarm.disconnect_peer_id(peer_id);
            return;
        }
        if let Some(entry) = self.peers.get_mut(&peer_id) {
            entry.agent_version = info.agent_version;
            entry.listen_addrs = info.listen_addrs.into_iter().take(16).collect();
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        let gossipsub::Event::Message { propagation_source, message_id, message } = event else { return };
        let Some(topic) = self.topics.lookup(&message.topic) else {
            // We only subscribe to our own topics; anything else is not ours to judge.
            self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                &message_id,
                &propagation_source,
                MessageAcceptance::Ignore,
            );
            return;
        };
        let label = topic_label(topic);
        let received_at_ms = now_ms();
        self.metrics.messages_received.get_or_create(&TopicLabel { topic: label }).inc();
        self.metrics.bytes_received.get_or_create(&TopicLabel { topic: label }).inc_by(message.data.len() as u64);

        let decoded = match topics::check_payload(topic, &message.data, self.config.limits.max_message_bytes) {
            Ok(decoded) => decoded,
            Err(e) => {
                tracing::debug!(peer_id = %propagation_source, topic = label, error = %e, "P2P rejected gossip failing the stateless check");
                self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                    &message_id,
                    &propagation_source,
                    MessageAcceptance::Reject,
                );
                self.metrics.validation(label, "stateless_reject");
                return;
            }
        };
        if let Some(origin) = topics::origin_timestamp_ms(&decoded) {
            let seconds = (received_at_ms.saturating_sub(origin)).max(0) as f64 / 1000.0;
            self.metrics.block_propagation.get_or_create(&TopicLabel { topic: label }).observe(seconds);
        }
        drop(decoded);

        let Ok(id) = <[u8; 32]>::try_from(message_id.0.as_slice()) else { return };
        let inbound =
            InboundMessage { message_id: id, topic, payload: message.data, source: propagation_source, received_at_ms };
        let validator = self.validators.get(&topic).copied();
        let mut validator_has_it = false;
        let mut closed = false;
        for subscriber in self.subscribers.iter().filter(|s| s.topics.contains(&topic)) {
            let is_validator = subscriber.validate && Some(subscriber.id) == validator;
            match subscriber.tx.try_send(inbound.clone()) {
                Ok(()) => validator_has_it |= is_validator,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::debug!(
                        subscriber = subscriber.id,
                        topic = label,
                        "P2P subscriber is full; message dropped for it"
                    );
                }
                Err(mpsc::error::TrySendError::Closed(_)) => closed = true,
            }
        }
        if closed {
            self.drop_closed_subscribers();
        }

        let gossip = &mut self.swarm.behaviour_mut().gossipsub;
        if validator.is_none() && self.config.limits.relay_unvalidated {
            gossip.report_message_validation_result(&message_id, &propagation_source, MessageAcceptance::Accept);
            self.metrics.validation(label, "accept");
        } else if validator.is_none() {
            gossip.report_message_validation_result(&message_id, &propagation_source, MessageAcceptance::Ignore);
            self.metrics.validation(label, "unvalidated");
        } else if !validator_has_it || self.pending.len() >= self.config.limits.max_pending_validations {
            gossip.report_message_validation_result(&message_id, &propagation_source, MessageAcceptance::Ignore);
            self.metrics.validation(label, "ignore");
        } else {
            self.pending_order.push_back((Instant::now() + self.config.limits.validation_timeout, message_id.clone()));
            self.pending.insert(message_id, Pending { source: propagation_source, topic });
        }
    }

    fn on_sync(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    let count = request.count.min(MAX_SYNC_BLOCKS);
                    let ledger = self.ledger.clone();
                    let internal = self.internal_tx.clone();
                    let budget = self.config.limits.max_sync_response_bytes;
                    tracing::debug!(peer_id = %peer, from = request.from_height, count, "P2P serving blocks");
                    tokio::spawn(async move {
                        let blocks = if count == 0 {
                            Vec::new()
                        } else {
                            match served_blocks(&*ledger, Height(request.from_height), count, budget).await {
                                Ok(blocks) => blocks,
                                // Pruned here: say so at once, so the peer asks another.
                                Err(LedgerPortError::Pruned { oldest, .. }) => {
                                    tracing::debug!(peer_id = %peer, from = request.from_height, oldest = oldest.get(), "P2P asked for pruned blocks");
                                    let response =
                                        SyncResponse { blocks: Vec::new(), oldest_height: Some(oldest.into()) };
                                    let _ = internal.send(Internal::SyncAnswer { channel, response });
                                    return;
                                }
                                Err(e) => {
                                    tracing::warn!(peer_id = %peer, error = %e, "P2P could not serve blocks");
                                    return; // dropping the channel tells the peer to try elsewhere
                                }
                            }
                        };
                        let mut blocks = within_budget(blocks, budget);
                        blocks.truncate(count as usize);
                        let response = SyncResponse { blocks, oldest_height: None };
                        let _ = internal.send(Internal::SyncAnswer { channel, response });
                    });
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some(reply) = self.syncs.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                if let Some(reply) = self.syncs.remove(&request_id) {
                    let _ = reply.send(Err(P2pError::Unavailable(format!("block request to {peer} failed: {error}"))));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(peer_id = %peer, error = %error, "P2P inbound block request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_snapshot(
        &mut self,
        event: request_response::Event<crate::snapshot::SnapshotRequest, crate::snapshot::SnapshotResponse>,
    ) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    // An in-memory lookup: answered here, at once.
                    let response = crate::snapshot::answer(self.snapshots.as_ref(), &request);
                    tracing::debug!(peer_id = %peer, chunk = ?request.chunk, height = request.height, "P2P serving a snapshot request");
                    let _ = self.swarm.behaviour_mut().snapshot.send_response(channel, response);
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some(reply) = self.snapshot_requests.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                if let Some(reply) = self.snapshot_requests.remove(&request_id) {
                    let _ =
                        reply.send(Err(P2pError::Unavailable(format!("snapshot request to {peer} failed: {error}"))));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(peer_id = %peer, error = %error, "P2P inbound snapshot request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_internal(&mut self, internal: Internal) {
        match internal {
            Internal::SyncAnswer { channel, response } => {
                let _ = self.swarm.behaviour_mut().sync.send_response(channel, response);
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Timers: validation timeouts, redials, scores, bans
    // ---------------------------------------------------------------------------------------

    fn housekeeping(&mut self) {
        let now = Instant::now();
        // Release the topics of validating subscribers that went away.
        self.drop_closed_subscribers();
        while let Some((deadline, _)) = self.pending_order.front() {
            if *deadline > now {
                break;
            }
            let Some((_, id)) = self.pending_order.pop_front() else { break };
            if let Some(pending) = self.pending.remove(&id) {
                self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                    &id,
                    &pending.source,
                    MessageAcceptance::Ignore,
                );
                self.metrics.validation(topic_label(pending.topic), "timeout");
            }
        }
        while let Some((at, _)) = self.published_order.front() {
            if now.duration_since(*at) < PUBLISHED_CACHE_TIME {
                break;
            }
            if let Some((_, id)) = self.published_order.pop_front() {
                self.published.remove(&id);
            }
        }

        // Peers that sent garbage: below the threshold, disconnect and ban for a while.
        let threshold = self.config.limits.disconnect_score_threshold;
        let gossip = &self.swarm.behaviour().gossipsub;
        let bad: Vec<(PeerId, f64)> = self
            .peers
            .keys()
            .filter_map(|p| gossip.peer_score(p).filter(|s| *s < threshold).map(|s| (*p, s)))
            .collect();
        for (peer, score) in bad {
            tracing::warn!(peer_id = %peer, score, "P2P peer scored below the threshold; disconnecting and banning");
            self.swarm.behaviour_mut().blocked.block_peer(peer);
            self.bans.insert(peer, now + self.config.limits.ban_duration);
            self.metrics.disconnects_for_score.inc();
        }
        let expired: Vec<PeerId> = self.bans.iter().filter(|(_, until)| **until <= now).map(|(p, _)| *p).collect();
        for peer in expired {
            self.bans.remove(&peer);
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
        }

        let due: Vec<PeerId> = self
            .bootstrap
            .iter()
            .filter(|(peer, r)| {
                r.in_flight.is_none()
                    && r.next_attempt.is_some_and(|t| t <= now)
                    && !self.peers.contains_key(peer)
                    && !self.bans.contains_key(peer)
            })
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            let Some(redial) = self.bootstrap.get_mut(&peer) else { continue };
            let opts = DialOpts::peer_id(peer)
                .addresses(redial.addrs.clone())
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            let id = opts.connection_id();
            redial.next_attempt = None;
            match self.swarm.dial(opts) {
                Ok(()) => redial.in_flight = Some(id),
                Err(e) => {
                    tracing::debug!(peer_id = %peer, error = %e, "P2P bootstrap dial not started");
                    redial.next_attempt = Some(now + redial.backoff);
                    redial.backoff = (redial.backoff * 2).min(self.config.limits.redial_max);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_is_the_validator_ed25519_key() {
        let seed = [1u8; 32];
        let peer = peer_id_from_seed(seed);
        // The libp2p public key is the ed25519 public key of the seed (RFC 8032), so `keygen`
        // and the swarm agree.
        let public = keypair_from_seed(seed).public().try_into_ed25519().unwrap().to_bytes();
        // The chain's own ed25519 library derives the same validator public key.
        let validator = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        assert_eq!(public, validator);
        assert_eq!(peer, peer_id_from_seed(seed));
        assert_ne!(peer, peer_id_from_seed([2u8; 32]));
        assert_eq!(peer.to_base58(), PINNED_PEER_ID);
    }

    const PINNED_PEER_ID: &str = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";
}
