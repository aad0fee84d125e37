//! What a gateway needs to start: network id, addresses, key seed and limits.

use std::time::Duration;

use coinjecture_primitives::limits::MAX_MESSAGE_BYTES;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use crate::error::ConfigError;

/// Most blocks one sync request may ask for (the proto's limit for `RequestBlocks.count`).
pub const MAX_SYNC_BLOCKS: u32 = 1_000;

/// Framing margin on top of [`MAX_MESSAGE_BYTES`] for gossipsub's envelope (signature, key,
/// topic, sequence number) and sync responses.
pub const ENVELOPE_MARGIN_BYTES: usize = 64 * 1024;

/// Sizes, counts and timings; the defaults suit a validator network, tests shorten the timings.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest payload published or accepted, bytes (default 16 MiB).
    pub max_message_bytes: usize,
    /// Most established connections, all peers together (default 128). Each holds a file
    /// descriptor: with `max_pending_incoming` it stays inside the node's descriptor reserve
    /// (`api.limits.fd_reserve`, 256), so a flood of the p2p port cannot starve the database.
    pub max_peers: u32,
    /// Most simultaneous connections to one peer (default 2: a redial may race an inbound one).
    pub max_connections_per_peer: u32,
    /// Most incoming connections still in their handshake (TCP accepted, Noise and yamux not yet
    /// negotiated; each is dropped after 10 s) (default 32). More are closed at once.
    pub max_pending_incoming: u32,
    /// A connection no protocol keeps alive (not in a gossip mesh, no sync request, no
    /// stream) is closed after this long (default 10 min).
    pub idle_connection_timeout: Duration,
    /// How long a message waits for its validating subscriber before it is ignored (default 5 s).
    pub validation_timeout: Duration,
    /// Most received messages waiting for validation at once; beyond, new ones are ignored.
    pub max_pending_validations: usize,
    /// Messages buffered per local subscriber before further ones are dropped (observers) or
    /// ignored (validators).
    pub subscriber_buffer: usize,
    /// gossipsub heartbeat (default 1 s); shorter meshes form faster.
    pub heartbeat_interval: Duration,
    /// First redial delay of a bootstrap peer after a disconnect or a failed dial (default 1 s).
    pub redial_initial: Duration,
    /// Longest redial delay; the delay doubles per failure up to this cap (default 60 s).
    pub redial_max: Duration,
    /// A peer whose gossipsub score falls below this is disconnected and banned (default -80,
    /// gossipsub's graylist threshold).
    pub disconnect_score_threshold: f64,
    /// How long a peer disconnected for its score stays banned (default 10 min).
    pub ban_duration: Duration,
    /// Timeout of one block-sync request (default 30 s).
    pub sync_request_timeout: Duration,
    /// Largest sync response, bytes: a responder sends fewer blocks than asked rather than more
    /// (always at least one block). Default 16 MiB + margin.
    pub max_sync_response_bytes: usize,
    /// How long `Dial` waits for the connection (default 10 s).
    pub dial_timeout: Duration,
    /// What happens to a message on a topic no local subscriber validates: relayed once it
    /// passed the stateless check (true, the default: a gateway on its own, tools, tests), or
    /// not relayed (false: a node, whose consensus validates every topic, so nothing is relayed
    /// unchecked while consensus is starting or restarting).
    pub relay_unvalidated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: MAX_MESSAGE_BYTES,
            max_peers: 128,
            max_connections_per_peer: 2,
            max_pending_incoming: 32,
            idle_connection_timeout: Duration::from_secs(600),
            validation_timeout: Duration::from_secs(5),
            max_pending_validations: 100_000,
            subscriber_buffer: 65_536,
            heartbeat_interval: Duration::from_secs(1),
            redial_initial: Duration::from_secs(1),
            redial_max: Duration::from_secs(60),
            disconnect_score_threshold: -80.0,
            ban_duration: Duration::from_secs(600),
            sync_request_timeout: Duration::from_secs(30),
            max_sync_response_bytes: MAX_MESSAGE_BYTES + ENVELOPE_MARGIN_BYTES,
            dial_timeout: Duration::from_secs(10),
            relay_unvalidated: true,
        }
    }
}

/// The gateway's configuration (the `p2p` section of a node config plus the validator key).
#[derive(Clone)]
pub struct P2pConfig {
    /// The network id, e.g. `coinjecture-network-a`: part of every topic and protocol name, so
    /// two networks on one host never mix. 1–64 bytes of `a-z 0-9 - _ .`.
    pub network_id: String,
    /// Addresses to listen on, e.g. `/ip4/0.0.0.0/tcp/9000` (`/tcp/0` picks a free port).
    pub listen_addrs: Vec<Multiaddr>,
    /// Peers to connect to and keep connected (redialled with backoff), in the seed's format
    /// `/ip4/1.2.3.4/tcp/9000/p2p/<peer id>`; the `/p2p/` suffix is required.
    pub bootstrap_peers: Vec<Multiaddr>,
    /// The validator's ed25519 secret seed: the node's libp2p identity.
    pub key_seed: [u8; 32],
    /// The identify agent version, e.g. `coinjectured/0.1.0`.
    pub agent_version: String,
    /// Sizes and timings.
    pub limits: Limits,
}

impl std::fmt::Debug for P2pConfig {
    // The seed is secret: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2pConfig")
            .field("network_id", &self.network_id)
            .field("listen_addrs", &self.listen_addrs)
            .field("bootstrap_peers", &self.bootstrap_peers)
            .field("key_seed", &"<secret>")
            .field("agent_version", &self.agent_version)
            .field("limits", &self.limits)
            .finish()
    }
}

impl P2pConfig {
    /// A configuration listening on `127.0.0.1` on a free port, without bootstrap peers, with the
    /// default limits.
    pub fn new(network_id: impl Into<String>, key_seed: [u8; 32]) -> Self {
        Self {
            network_id: network_id.into(),
            listen_addrs: vec![loopback_any_port()],
            bootstrap_peers: Vec::new(),
            key_seed,
            agent_version: concat!("coinjectured/", env!("CARGO_PKG_VERSION")).to_owned(),
            limits: Limits::default(),
        }
    }

    /// Checks the network id, the bootstrap addresses and the limits; names the bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_network_id(&self.network_id)?;
        if self.listen_addrs.is_empty() {
            return Err(ConfigError::new("p2p.listen_addrs", "at least one address is required"));
        }
        for (i, addr) in self.bootstrap_peers.iter().enumerate() {
            bootstrap_peer_id(addr).ok_or_else(|| {
                ConfigError::new(format!("p2p.bootstrap_peers[{i}]"), format!("{addr} has no /p2p/<peer id> suffix"))
            })?;
        }
        let l = &self.limits;
        if l.max_message_bytes == 0 || l.max_message_bytes > MAX_MESSAGE_BYTES {
            return Err(ConfigError::new("p2p.limits.max_message_bytes", format!("must be 1 to {MAX_MESSAGE_BYTES}")));
        }
        if l.heartbeat_interval.is_zero() {
            return Err(ConfigError::new("p2p.limits.heartbeat_interval", "must be positive"));
        }
        if l.validation_timeout.is_zero() {
            return Err(ConfigError::new("p2p.limits.validation_timeout", "must be positive"));
        }
        if l.redial_initial.is_zero() || l.redial_max < l.redial_initial {
            return Err(ConfigError::new(
                "p2p.limits.redial_max",
                "must be at least redial_initial, which must be positive",
            ));
        }
        if l.subscriber_buffer == 0 {
            return Err(ConfigError::new("p2p.limits.subscriber_buffer", "must be positive"));
        }
        if l.max_connections_per_peer == 0 || l.max_peers == 0 || l.max_pending_incoming == 0 {
            return Err(ConfigError::new(
                "p2p.limits.max_peers",
                "peer, per-peer and pending connection limits must be positive",
            ));
        }
        if l.idle_connection_timeout.is_zero() {
            return Err(ConfigError::new("p2p.limits.idle_connection_timeout", "must be positive"));
        }
        if l.disconnect_score_threshold > 0.0 {
            return Err(ConfigError::new("p2p.limits.disconnect_score_threshold", "must be zero or negative"));
        }
        Ok(())
    }
}

/// `/ip4/127.0.0.1/tcp/0`: loopback, any free port.
pub fn loopback_any_port() -> Multiaddr {
    Multiaddr::empty().with(Protocol::Ip4(std::net::Ipv4Addr::LOCALHOST)).with(Protocol::Tcp(0))
}

/// The peer id in a multiaddr's trailing `/p2p/` component.
pub fn bootstrap_peer_id(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer_id)) => Some(peer_id),
        _ => None,
    }
}

/// Network ids follow the chain id rule: 1 to 64 bytes of lower-case ASCII letters, digits, '-',
/// '_' and '.' (so they are safe inside topic and protocol names).
pub fn validate_network_id(id: &str) -> Result<(), ConfigError> {
    if id.is_empty() || id.len() > 64 {
        return Err(ConfigError::new("network.id", format!("must be 1 to 64 bytes, found {}", id.len())));
    }
    if let Some(c) =
        id.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')))
    {
        return Err(ConfigError::new(
            "network.id",
            format!("{id:?} contains {c:?}; allowed are a-z, 0-9, '-', '_', '.'"),
        ));
    }
    Ok(())
}
