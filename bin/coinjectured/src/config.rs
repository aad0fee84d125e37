//! Node configuration: YAML files shaped like `configs/network-a-validator.yaml`, every key
//! overridable by a `COINJECTURE_<SECTION>_<KEY>` environment variable, validated at start-up
//! with a one-line error that names the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use coinjecture_consensus::{QuorumMode, ValidatorSchedule, ValidatorSet};
use coinjecture_primitives::PublicKey;
use eyre::{bail, eyre};
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    pub(crate) network: NetworkSection,
    pub(crate) consensus: ConsensusSection,
    pub(crate) p2p: P2pSection,
    pub(crate) api: ApiSection,
    pub(crate) database: DatabaseSection,
    #[serde(default)]
    pub(crate) logger: LoggerSection,
    /// Network B: the shared crypto-core service. Absent on Network A (hashing in process).
    #[serde(default)]
    pub(crate) crypto_core: Option<CryptoCoreSection>,
    /// Network B: start-up checks of the Rust core.
    #[serde(default)]
    pub(crate) rust: RustSection,
    #[serde(default)]
    pub(crate) otel: OtelSection,
    /// Where the other services are when this one runs on its own (`coinjectured service`).
    #[serde(default)]
    pub(crate) services: Option<ServicesSection>,
    /// Mempool policy.
    #[serde(default)]
    pub(crate) mempool: MempoolSection,
}

/// Mempool policy (node-local; block validity does not depend on it).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MempoolSection {
    /// Least fee (`gas_limit × gas_price`) per byte of a transaction's canonical encoding.
    pub(crate) min_fee_per_byte: u64,
}

impl Default for MempoolSection {
    fn default() -> Self {
        Self { min_fee_per_byte: coinjecture_consensus::mempool::DEFAULT_MIN_FEE_PER_BYTE }
    }
}

/// Limits of the node's listening sockets and of the public API (`api.limits`). The connection
/// limits apply to every listener (public API, internal gRPC, `/metrics`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ApiLimitsSection {
    /// Open connections per listener; past it the least recently active one is evicted.
    pub(crate) max_connections: usize,
    /// Open connections from one IP per listener; past it new ones are closed.
    pub(crate) max_connections_per_ip: usize,
    /// From a client's first unanswered byte to the start of the answer (e.g. `15s`).
    pub(crate) header_read_timeout: String,
    /// No byte either way for this long closes a connection (e.g. `60s`).
    pub(crate) idle_timeout: String,
    /// File descriptors never given to sockets (the soft RLIMIT_NOFILE is raised to the hard
    /// limit at start; the listeners together use at most the soft limit minus this).
    pub(crate) fd_reserve: usize,
    /// Requests being handled at once, all clients / one IP.
    pub(crate) max_requests_in_flight: usize,
    pub(crate) max_requests_in_flight_per_ip: usize,
    /// `StreamBlocks` streams open at once, all clients / one IP.
    pub(crate) max_streams: usize,
    pub(crate) max_streams_per_ip: usize,
    /// Concurrent HTTP/2 streams per connection of the internal gRPC port.
    pub(crate) max_streams_per_connection: u32,
    /// Per-IP work budget (units: a request 1, a submitted transaction 0.1, 64 KiB 1); 0
    /// disables rate limiting.
    pub(crate) rate_per_second: f64,
    pub(crate) rate_burst: u32,
    /// All clients together; 0 disables the global budget.
    pub(crate) global_rate_per_second: f64,
    pub(crate) global_rate_burst: u32,
    /// Largest `ListBlocks` / `GET /v1/blocks` answer, bytes.
    pub(crate) max_list_bytes: usize,
}

impl Default for ApiLimitsSection {
    fn default() -> Self {
        let connections = coinjecture_api::ConnectionLimits::default();
        let concurrency = coinjecture_api::ConcurrencyLimits::default();
        let rate = coinjecture_api::RateLimit::default();
        let global = coinjecture_api::RateLimit::global_default();
        Self {
            max_connections: connections.max_connections,
            max_connections_per_ip: connections.max_connections_per_ip,
            header_read_timeout: format!("{}s", connections.header_read_timeout.as_secs()),
            idle_timeout: format!("{}s", connections.idle_timeout.as_secs()),
            fd_reserve: 256,
            max_requests_in_flight: concurrency.max_requests_in_flight,
            max_requests_in_flight_per_ip: concurrency.max_requests_in_flight_per_ip,
            max_streams: concurrency.max_streams,
            max_streams_per_ip: concurrency.max_streams_per_ip,
            max_streams_per_connection: 128,
            rate_per_second: rate.per_second,
            rate_burst: rate.burst,
            global_rate_per_second: global.per_second,
            global_rate_burst: global.burst,
            max_list_bytes: 4 * 1024 * 1024,
        }
    }
}

impl ApiLimitsSection {
    /// The listeners' connection limits.
    pub(crate) fn connections(&self) -> eyre::Result<coinjecture_api::ConnectionLimits> {
        Ok(coinjecture_api::ConnectionLimits {
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            header_read_timeout: parse_duration(&self.header_read_timeout)
                .map_err(|e| eyre!("api.limits.header_read_timeout: {e}"))?,
            idle_timeout: parse_duration(&self.idle_timeout).map_err(|e| eyre!("api.limits.idle_timeout: {e}"))?,
        })
    }

    fn validate(&self) -> eyre::Result<()> {
        self.connections()?;
        for (key, value) in [
            ("max_connections", self.max_connections),
            ("max_connections_per_ip", self.max_connections_per_ip),
            ("max_requests_in_flight", self.max_requests_in_flight),
            ("max_requests_in_flight_per_ip", self.max_requests_in_flight_per_ip),
            ("max_streams", self.max_streams),
            ("max_streams_per_ip", self.max_streams_per_ip),
            ("max_list_bytes", self.max_list_bytes),
        ] {
            if value == 0 {
                bail!("api.limits.{key}: must be at least 1");
            }
        }
        if self.max_streams_per_connection == 0 {
            bail!("api.limits.max_streams_per_connection: must be at least 1");
        }
        for (key, value, burst) in [
            ("rate_per_second", self.rate_per_second, self.rate_burst),
            ("global_rate_per_second", self.global_rate_per_second, self.global_rate_burst),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                bail!("api.limits.{key}: must be a non-negative number (0 disables it)");
            }
            if value > 0.0 && burst == 0 {
                bail!("api.limits.{}: must be at least 1", key.replace("per_second", "burst"));
            }
        }
        Ok(())
    }
}

/// gRPC URLs of a node's services in a split deployment.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServicesSection {
    #[serde(default)]
    pub(crate) ledger: Option<String>,
    #[serde(default)]
    pub(crate) consensus: Option<String>,
    #[serde(default)]
    pub(crate) p2p_gateway: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkSection {
    /// The chain id, e.g. `coinjecture-go-testnet`.
    pub(crate) id: String,
    /// A short label for logs and metrics, e.g. `A`.
    pub(crate) name: String,
    /// The genesis file (YAML; see `configs/`).
    pub(crate) genesis: PathBuf,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsensusSection {
    /// e.g. `2s`, `500ms`.
    pub(crate) block_time: String,
    /// `crash` or `byzantine`.
    pub(crate) quorum: String,
    /// This node's validator key file (also its p2p identity).
    pub(crate) validator_key: PathBuf,
    /// Public keys (hex) of the validators, in proposer order.
    pub(crate) validators: Vec<String>,
    /// Validator-set changes: from `height` on, `validators` vote.
    #[serde(default)]
    pub(crate) validator_changes: Vec<ValidatorChange>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidatorChange {
    pub(crate) height: u64,
    pub(crate) validators: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct P2pSection {
    /// Multiaddrs to listen on, e.g. `/ip4/0.0.0.0/tcp/9000`.
    pub(crate) listen_addrs: Vec<String>,
    /// Peers to dial, `/ip4/1.2.3.4/tcp/9000/p2p/<peer id>`.
    #[serde(default)]
    pub(crate) bootstrap_peers: Vec<String>,
    /// Connection limits of the p2p port.
    #[serde(default)]
    pub(crate) limits: P2pLimitsSection,
}

/// `p2p.limits`: the libp2p swarm's connection limits (see the README, "Running a public node").
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct P2pLimitsSection {
    /// Established connections, all peers together.
    pub(crate) max_connections: u32,
    /// Established connections to one peer.
    pub(crate) max_connections_per_peer: u32,
    /// Incoming connections still in their handshake.
    pub(crate) max_pending_incoming: u32,
    /// A connection nothing keeps alive is closed after this long.
    pub(crate) idle_connection_timeout: String,
}

impl Default for P2pLimitsSection {
    fn default() -> Self {
        let l = coinjecture_p2p_gateway::Limits::default();
        Self {
            max_connections: l.max_peers,
            max_connections_per_peer: l.max_connections_per_peer,
            max_pending_incoming: l.max_pending_incoming,
            idle_connection_timeout: format!("{}m", l.idle_connection_timeout.as_secs() / 60),
        }
    }
}

impl P2pLimitsSection {
    /// Sets these limits on the gateway's.
    pub(crate) fn apply(&self, limits: &mut coinjecture_p2p_gateway::Limits) -> eyre::Result<()> {
        for (key, value) in [
            ("max_connections", self.max_connections),
            ("max_connections_per_peer", self.max_connections_per_peer),
            ("max_pending_incoming", self.max_pending_incoming),
        ] {
            if value == 0 {
                bail!("p2p.limits.{key}: must be at least 1");
            }
        }
        limits.max_peers = self.max_connections;
        limits.max_connections_per_peer = self.max_connections_per_peer;
        limits.max_pending_incoming = self.max_pending_incoming;
        limits.idle_connection_timeout = parse_duration(&self.idle_connection_timeout)
            .map_err(|e| eyre!("p2p.limits.idle_connection_timeout: {e}"))?;
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApiSection {
    /// REST and public gRPC port.
    pub(crate) port: u16,
    /// Address to bind, default 0.0.0.0.
    #[serde(default = "default_bind")]
    pub(crate) bind: String,
    /// Internal gRPC port of the services (consensus, ledger, p2p-gateway, crypto-core) when run split.
    #[serde(default)]
    pub(crate) grpc_port: Option<u16>,
    /// Connection and request limits (see [`ApiLimitsSection`]).
    #[serde(default)]
    pub(crate) limits: ApiLimitsSection,
    /// Address the internal gRPC port binds, default 127.0.0.1. Anything but loopback needs
    /// `internal_tls` (see the README's "Trust model").
    #[serde(default = "default_grpc_bind")]
    pub(crate) grpc_bind: String,
    /// Mutual TLS of the internal gRPC port, of split services' listeners and of their clients.
    #[serde(default)]
    pub(crate) internal_tls: Option<InternalTlsSection>,
}

fn default_grpc_bind() -> String {
    "127.0.0.1".into()
}

/// PEM files for mutual TLS on internal gRPC (`coinjectured tls gen` writes them).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct InternalTlsSection {
    /// The CA that signs this validator's certificates; only clients it signed are admitted.
    pub(crate) ca: PathBuf,
    /// This process's certificate (server and client).
    pub(crate) cert: PathBuf,
    /// Its private key.
    pub(crate) key: PathBuf,
}

impl InternalTlsSection {
    pub(crate) fn files(&self) -> coinjecture_proto::tls::TlsFiles {
        coinjecture_proto::tls::TlsFiles { ca: self.ca.clone(), cert: self.cert.clone(), key: self.key.clone() }
    }
}

/// Whether `host` (an IP address or `localhost`) only accepts connections from this machine.
pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn default_bind() -> String {
    "0.0.0.0".into()
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatabaseSection {
    /// The SQLite file, e.g. `./data/network-a.db`.
    pub(crate) path: PathBuf,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoggerSection {
    #[serde(default = "default_level")]
    pub(crate) level: String,
    #[serde(default = "default_format")]
    pub(crate) format: String,
}

impl Default for LoggerSection {
    fn default() -> Self {
        Self { level: default_level(), format: default_format() }
    }
}

fn default_level() -> String {
    "info".into()
}
fn default_format() -> String {
    "json".into()
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct CryptoCoreSection {
    /// e.g. `http://crypto-core:50051`.
    pub(crate) endpoint: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RustSection {
    /// Run the golden vectors at start-up (against crypto-core when configured) and refuse to
    /// start on any mismatch.
    #[serde(default)]
    pub(crate) verify_golden_vectors: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct OtelSection {
    /// OTLP/gRPC collector, e.g. `http://127.0.0.1:4317`; empty disables tracing export.
    #[serde(default)]
    pub(crate) endpoint: String,
}

/// `COINJECTURE_*` overrides (flat: `COINJECTURE_API_PORT=8081`, lists comma-separated).
#[derive(Debug, Default, Deserialize)]
struct EnvOverrides {
    network_id: Option<String>,
    network_name: Option<String>,
    network_genesis: Option<PathBuf>,
    consensus_block_time: Option<String>,
    consensus_quorum: Option<String>,
    consensus_validator_key: Option<PathBuf>,
    consensus_validators: Option<String>,
    p2p_listen_addrs: Option<String>,
    p2p_bootstrap_peers: Option<String>,
    api_port: Option<u16>,
    api_bind: Option<String>,
    api_grpc_port: Option<u16>,
    api_grpc_bind: Option<String>,
    api_internal_tls_ca: Option<PathBuf>,
    api_internal_tls_cert: Option<PathBuf>,
    api_internal_tls_key: Option<PathBuf>,
    database_path: Option<PathBuf>,
    logger_level: Option<String>,
    logger_format: Option<String>,
    crypto_core_endpoint: Option<String>,
    rust_verify_golden_vectors: Option<bool>,
    otel_endpoint: Option<String>,
}

fn list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

impl Config {
    /// Loads `path`, applies `COINJECTURE_*` overrides from the environment, validates.
    pub(crate) fn load(path: &Path) -> eyre::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| eyre!("cannot read config {}: {e}", path.display()))?;
        let mut config = Self::parse(&text).map_err(|e| eyre!("config {}: {e}", path.display()))?;
        config.apply_env(std::env::vars())?;
        config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        config.validate()?;
        Ok(config)
    }

    /// Parses YAML text; unknown keys are errors naming the key.
    pub(crate) fn parse(text: &str) -> eyre::Result<Self> {
        serde_yaml::from_str(text).map_err(|e| eyre!("{e}"))
    }

    /// Applies overrides from `(name, value)` pairs (the environment).
    pub(crate) fn apply_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) -> eyre::Result<()> {
        let o: EnvOverrides = envy::prefixed("COINJECTURE_")
            .from_iter(vars.into_iter().filter(|(k, _)| k.starts_with("COINJECTURE_")))
            .map_err(|e| eyre!("environment override (COINJECTURE_<SECTION>_<KEY>): {e}"))?;
        let set = |dst: &mut String, v: Option<String>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut self.network.id, o.network_id);
        set(&mut self.network.name, o.network_name);
        if let Some(v) = o.network_genesis {
            self.network.genesis = v;
        }
        set(&mut self.consensus.block_time, o.consensus_block_time);
        set(&mut self.consensus.quorum, o.consensus_quorum);
        if let Some(v) = o.consensus_validator_key {
            self.consensus.validator_key = v;
        }
        if let Some(v) = o.consensus_validators {
            self.consensus.validators = list(&v);
        }
        if let Some(v) = o.p2p_listen_addrs {
            self.p2p.listen_addrs = list(&v);
        }
        if let Some(v) = o.p2p_bootstrap_peers {
            self.p2p.bootstrap_peers = list(&v);
        }
        if let Some(v) = o.api_port {
            self.api.port = v;
        }
        set(&mut self.api.bind, o.api_bind);
        if o.api_grpc_port.is_some() {
            self.api.grpc_port = o.api_grpc_port;
        }
        set(&mut self.api.grpc_bind, o.api_grpc_bind);
        if let (Some(ca), Some(cert), Some(key)) =
            (o.api_internal_tls_ca, o.api_internal_tls_cert, o.api_internal_tls_key)
        {
            self.api.internal_tls = Some(InternalTlsSection { ca, cert, key });
        }
        if let Some(v) = o.database_path {
            self.database.path = v;
        }
        set(&mut self.logger.level, o.logger_level);
        set(&mut self.logger.format, o.logger_format);
        if let Some(endpoint) = o.crypto_core_endpoint {
            self.crypto_core = Some(CryptoCoreSection { endpoint });
        }
        if let Some(v) = o.rust_verify_golden_vectors {
            self.rust.verify_golden_vectors = v;
        }
        set(&mut self.otel.endpoint, o.otel_endpoint);
        Ok(())
    }

    /// Relative file paths are relative to the config file's directory (`./data/a.db` next to
    /// `/etc/cj/node.yaml` is `/etc/cj/data/a.db`, without the `./`, as errors show it).
    fn resolve_paths(&mut self, base: &Path) {
        let mut paths = vec![&mut self.network.genesis, &mut self.consensus.validator_key, &mut self.database.path];
        if let Some(tls) = &mut self.api.internal_tls {
            paths.extend([&mut tls.ca, &mut tls.cert, &mut tls.key]);
        }
        for p in paths {
            if p.is_relative() {
                *p = base.join(&*p).components().collect();
            }
        }
    }

    /// Checks every value, naming the key of the first bad one.
    pub(crate) fn validate(&self) -> eyre::Result<()> {
        coinjecture_primitives::ChainId::new(self.network.id.as_str()).map_err(|e| eyre!("network.id: {e}"))?;
        parse_duration(&self.consensus.block_time).map_err(|e| eyre!("consensus.block_time: {e}"))?;
        quorum(&self.consensus.quorum).map_err(|e| eyre!("consensus.quorum: {e}"))?;
        if self.consensus.validators.is_empty() {
            bail!("consensus.validators: at least one validator is needed");
        }
        for (i, v) in self.consensus.validators.iter().enumerate() {
            coinjecture_primitives::PublicKey::from_hex_named(v, "public key")
                .map_err(|e| eyre!("consensus.validators[{i}]: {e}"))?;
        }
        for (c, change) in self.consensus.validator_changes.iter().enumerate() {
            for (i, v) in change.validators.iter().enumerate() {
                coinjecture_primitives::PublicKey::from_hex_named(v, "public key")
                    .map_err(|e| eyre!("consensus.validator_changes[{c}].validators[{i}]: {e}"))?;
            }
        }
        self.p2p.limits.apply(&mut coinjecture_p2p_gateway::Limits::default())?;
        if self.p2p.listen_addrs.is_empty() {
            bail!("p2p.listen_addrs: at least one listen address is needed");
        }
        for (i, a) in self.p2p.listen_addrs.iter().enumerate() {
            if !a.starts_with('/') {
                bail!("p2p.listen_addrs[{i}]: {a:?} is not a multiaddr (e.g. /ip4/0.0.0.0/tcp/9000)");
            }
        }
        for (i, a) in self.p2p.bootstrap_peers.iter().enumerate() {
            if !a.starts_with('/') || !a.contains("/p2p/") {
                bail!("p2p.bootstrap_peers[{i}]: {a:?} must be a multiaddr ending in /p2p/<peer id>");
            }
        }
        if self.api.port == 0 {
            bail!("api.port: must not be 0");
        }
        self.validate_internal_port()?;
        self.api.limits.validate()?;
        self.logger.format.parse::<coinjecture_telemetry::LogFormat>().map_err(|e| eyre!("logger.format: {e}"))?;
        if let Some(cc) = &self.crypto_core
            && !(cc.endpoint.starts_with("http://") || cc.endpoint.starts_with("https://"))
        {
            bail!("crypto_core.endpoint: {:?} must start with http:// or https://", cc.endpoint);
        }
        if !self.consensus.validator_key.exists() {
            bail!(
                "consensus.validator_key: {} does not exist (create it with `coinjectured keygen --output FILE`)",
                self.consensus.validator_key.display()
            );
        }
        if !self.network.genesis.exists() {
            bail!("network.genesis: {} does not exist", self.network.genesis.display());
        }
        Ok(())
    }
}

impl Config {
    /// The validator schedule (`consensus.validators`, `consensus.validator_changes`,
    /// `consensus.quorum`), the one that consensus votes with and the ledger verifies every
    /// commit certificate against. Errors name the key.
    pub(crate) fn validator_schedule(&self) -> eyre::Result<ValidatorSchedule> {
        let mode = quorum(&self.consensus.quorum).map_err(|e| eyre!("consensus.quorum: {e}"))?;
        let set = |list: &[String], key: &str| -> eyre::Result<ValidatorSet> {
            let keys = list
                .iter()
                .enumerate()
                .map(|(i, v)| PublicKey::from_hex_named(v, "public key").map_err(|e| eyre!("{key}[{i}]: {e}")))
                .collect::<eyre::Result<_>>()?;
            ValidatorSet::new(keys, mode).map_err(|e| eyre!("{key}: {e}"))
        };
        let mut entries = vec![(1, set(&self.consensus.validators, "consensus.validators")?)];
        for (c, change) in self.consensus.validator_changes.iter().enumerate() {
            entries.push((
                change.height,
                set(&change.validators, &format!("consensus.validator_changes[{c}].validators"))?,
            ));
        }
        ValidatorSchedule::new(entries).map_err(|e| eyre!("consensus.validator_changes: {e}"))
    }

    /// The internal port binds loopback, or authenticates both ends (mutual TLS).
    fn validate_internal_port(&self) -> eyre::Result<()> {
        let bind = self.api.grpc_bind.as_str();
        if bind.parse::<std::net::IpAddr>().is_err() {
            bail!("api.grpc_bind: {bind:?} is not an IP address (e.g. 127.0.0.1)");
        }
        if self.api.grpc_port.is_some() && !is_loopback(bind) && self.api.internal_tls.is_none() {
            bail!(
                "api.internal_tls: api.grpc_bind {bind} is not loopback, and the internal port (Ledger, Consensus, \
                 P2pGateway, CryptoCore) must not be open without mutual TLS: set api.internal_tls {{ca, cert, key}} \
                 (`coinjectured tls gen`) or bind 127.0.0.1"
            );
        }
        if let Some(tls) = &self.api.internal_tls {
            for (name, path) in [("ca", &tls.ca), ("cert", &tls.cert), ("key", &tls.key)] {
                if !path.exists() {
                    bail!("api.internal_tls.{name}: {} does not exist", path.display());
                }
            }
        }
        Ok(())
    }
}

/// `2s`, `500ms`, `1m`, `1.5s`.
pub(crate) fn parse_duration(s: &str) -> eyre::Result<Duration> {
    let s = s.trim();
    let (number, unit) = s.find(|c: char| c.is_ascii_alphabetic()).map_or((s, ""), |i| s.split_at(i));
    let value: f64 = number.trim().parse().map_err(|_| eyre!("{s:?} is not a duration like 2s or 500ms"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => bail!("{s:?} has no unit (use ms, s or m)"),
    };
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0) {
        bail!("{s:?} must be between 1ms and 1h");
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `crash` or `byzantine`.
pub(crate) fn quorum(s: &str) -> eyre::Result<QuorumMode> {
    match s {
        "crash" => Ok(QuorumMode::Crash),
        "byzantine" => Ok(QuorumMode::Byzantine),
        other => bail!("{other:?} is not one of crash, byzantine"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        let dir = env!("CARGO_MANIFEST_DIR");
        std::fs::read_to_string(format!("{dir}/../../configs/network-a-validator.yaml")).unwrap()
    }

    #[test]
    fn shipped_configs_parse() {
        let dir = env!("CARGO_MANIFEST_DIR");
        for name in ["network-a-validator.yaml", "network-b-go-validator.yaml"] {
            let text = std::fs::read_to_string(format!("{dir}/../../configs/{name}")).unwrap();
            Config::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let bad = sample().replace("block_time:", "block_tme:");
        let err = Config::parse(&bad).unwrap_err().to_string();
        assert!(err.contains("block_tme"), "{err}");
        let mut c = Config::parse(&sample()).unwrap();
        c.consensus.block_time = "2 parsecs".into();
        assert!(c.validate().unwrap_err().to_string().starts_with("consensus.block_time"));
        let mut c = Config::parse(&sample()).unwrap();
        c.consensus.validators[0] = "abc".into();
        assert!(c.validate().unwrap_err().to_string().starts_with("consensus.validators[0]"));
        let mut c = Config::parse(&sample()).unwrap();
        c.consensus.quorum = "majority".into();
        assert!(c.validate().unwrap_err().to_string().starts_with("consensus.quorum"));
    }

    #[test]
    fn the_validator_schedule_names_the_key_of_a_bad_value() {
        let key = |b: u8| hex::encode([b; 32]);
        let mut c = Config::parse(&sample()).unwrap();
        c.consensus.quorum = "byzantine".into();
        c.consensus.validator_changes = vec![ValidatorChange { height: 10, validators: vec![key(2), key(3)] }];
        let schedule = c.validator_schedule().unwrap();
        assert_eq!(schedule.entries().iter().map(|(h, s)| (*h, s.len())).collect::<Vec<_>>(), vec![(1, 1), (10, 2)]);
        assert_eq!(schedule.at(10).mode(), QuorumMode::Byzantine);
        let error = |c: &Config| c.validator_schedule().unwrap_err().to_string();
        let mut bad = c.clone();
        bad.consensus.quorum = "most".into();
        assert_eq!(error(&bad), "consensus.quorum: \"most\" is not one of crash, byzantine");
        let mut bad = c.clone();
        bad.consensus.validator_changes[0].validators[1] = "abc".into();
        assert!(error(&bad).starts_with("consensus.validator_changes[0].validators[1]: "), "{}", error(&bad));
        let mut bad = c.clone();
        bad.consensus.validator_changes[0].validators[1] = key(2);
        assert!(error(&bad).starts_with("consensus.validator_changes[0].validators: validator "), "{}", error(&bad));
        let mut bad = c.clone();
        bad.consensus.validator_changes[0].height = 1;
        assert!(error(&bad).starts_with("consensus.validator_changes: the validator schedule"), "{}", error(&bad));
    }

    #[test]
    fn environment_overrides_win() {
        let mut c = Config::parse(&sample()).unwrap();
        let vars = [
            ("COINJECTURE_API_PORT", "8081"),
            ("COINJECTURE_P2P_BOOTSTRAP_PEERS", "/ip4/127.0.0.1/tcp/9001/p2p/x, /ip4/127.0.0.1/tcp/9002/p2p/y"),
            ("COINJECTURE_CRYPTO_CORE_ENDPOINT", "http://127.0.0.1:50051"),
            ("UNRELATED", "1"),
        ];
        c.apply_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
        assert_eq!(c.api.port, 8081);
        assert_eq!(c.p2p.bootstrap_peers.len(), 2);
        assert_eq!(c.crypto_core.unwrap().endpoint, "http://127.0.0.1:50051");
        let mut c = Config::parse(&sample()).unwrap();
        let err = c.apply_env([("COINJECTURE_API_PORT".to_string(), "eighty".to_string())]).unwrap_err();
        assert!(err.to_string().contains("API_PORT"), "{err}");
    }

    #[test]
    fn relative_paths_resolve_next_to_the_config() {
        let mut c = Config::parse(&sample()).unwrap();
        c.database.path = "./data/validator-1.db".into();
        c.resolve_paths(Path::new("/srv/cj"));
        assert_eq!(c.database.path, Path::new("/srv/cj/data/validator-1.db"));
    }

    #[test]
    fn internal_port_binds_loopback_by_default_and_needs_tls_off_it() {
        let mut c = Config::parse(&sample()).unwrap();
        assert_eq!(c.api.grpc_bind, "127.0.0.1");
        c.api.grpc_port = Some(50051);
        c.validate_internal_port().unwrap();
        c.api.grpc_bind = "0.0.0.0".into();
        let err = c.validate_internal_port().unwrap_err().to_string();
        assert!(err.starts_with("api.internal_tls:") && err.contains("api.grpc_bind 0.0.0.0 is not loopback"), "{err}");
        c.api.grpc_bind = "::1".into();
        c.validate_internal_port().unwrap();
        c.api.grpc_bind = "node-1".into();
        assert!(c.validate_internal_port().unwrap_err().to_string().starts_with("api.grpc_bind:"));
        let vars = [
            ("COINJECTURE_API_GRPC_BIND", "10.0.0.7"),
            ("COINJECTURE_API_INTERNAL_TLS_CA", "/tls/ca.pem"),
            ("COINJECTURE_API_INTERNAL_TLS_CERT", "/tls/node.pem"),
            ("COINJECTURE_API_INTERNAL_TLS_KEY", "/tls/node-key.pem"),
        ];
        c.apply_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
        assert_eq!(c.api.grpc_bind, "10.0.0.7");
        let err = c.validate_internal_port().unwrap_err().to_string();
        assert!(err.starts_with("api.internal_tls.ca: /tls/ca.pem does not exist"), "{err}");
    }

    #[test]
    fn limits_have_safe_defaults_and_bad_ones_name_the_key() {
        let c = Config::parse(&sample()).unwrap();
        assert_eq!(c.api.limits, ApiLimitsSection::default());
        assert_eq!(c.api.limits.connections().unwrap().max_connections_per_ip, 32);
        assert_eq!(c.mempool.min_fee_per_byte, coinjecture_consensus::mempool::DEFAULT_MIN_FEE_PER_BYTE);
        let text = sample().replace("api:\n", "api:\n  limits:\n    max_streams_per_ip: 2\n    idle_timeout: 30s\n");
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.api.limits.max_streams_per_ip, 2);
        assert_eq!(c.api.limits.connections().unwrap().idle_timeout, Duration::from_secs(30));
        let mut c = Config::parse(&sample()).unwrap();
        c.api.limits.max_connections_per_ip = 0;
        assert!(c.api.limits.validate().unwrap_err().to_string().starts_with("api.limits.max_connections_per_ip"));
        c.api.limits.max_connections_per_ip = 1;
        c.api.limits.idle_timeout = "forever".into();
        assert!(c.api.limits.validate().unwrap_err().to_string().starts_with("api.limits.idle_timeout"));
        let bad = sample().replace("api:\n", "api:\n  limits:\n    max_conections: 2\n");
        assert!(Config::parse(&bad).unwrap_err().to_string().contains("max_conections"));
    }

    #[test]
    fn p2p_limits_have_safe_defaults_reach_the_gateway_and_bad_ones_name_the_key() {
        let c = Config::parse(&sample()).unwrap();
        let mut limits = coinjecture_p2p_gateway::Limits::default();
        c.p2p.limits.apply(&mut limits).unwrap();
        assert_eq!((limits.max_peers, limits.max_connections_per_peer, limits.max_pending_incoming), (128, 2, 32));
        assert_eq!(limits.idle_connection_timeout, Duration::from_secs(600));
        let text = sample()
            .replace("p2p:\n", "p2p:\n  limits:\n    max_pending_incoming: 8\n    idle_connection_timeout: 90s\n");
        Config::parse(&text).unwrap().p2p.limits.apply(&mut limits).unwrap();
        assert_eq!((limits.max_pending_incoming, limits.idle_connection_timeout), (8, Duration::from_secs(90)));
        let text = sample().replace("p2p:\n", "p2p:\n  limits:\n    max_connections: 0\n");
        let err = Config::parse(&text).and_then(|c| c.validate()).unwrap_err().to_string();
        assert!(err.starts_with("p2p.limits.max_connections"), "{err}");
        let text = sample().replace("p2p:\n", "p2p:\n  limits:\n    idle_connection_timeout: never\n");
        let err = Config::parse(&text).and_then(|c| c.validate()).unwrap_err().to_string();
        assert!(err.starts_with("p2p.limits.idle_connection_timeout"), "{err}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("2").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
