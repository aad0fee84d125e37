//! Node configuration: YAML files shaped like `configs/network-a-validator.yaml`, every key
//! overridable by a `COINJECTURE_<SECTION>_<KEY>` environment variable (`env_overrides.rs`).
//!
//! Parsed once: the file's YAML tree, with the overrides merged in, is deserialized once into
//! typed values (durations, IP addresses, multiaddrs, public keys, the log filter), so nothing
//! downstream parses a config string again. Every error is one line that names the key (and the
//! variable, when the value came from one).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use coinjecture_consensus::{QuorumMode, ValidatorSchedule, ValidatorSet};
use coinjecture_p2p_gateway::Multiaddr;
use coinjecture_primitives::{ChainId, Height, PublicKey, limits};
use coinjecture_telemetry::LogFormat;
use eyre::{bail, eyre};
use serde::{Deserialize, Deserializer, de};

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
    /// Catch-up and pruning (node-local; the chain does not depend on them).
    #[serde(default)]
    pub(crate) ledger: LedgerSection,
}

/// `ledger:` — how this node replays and keeps the chain.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LedgerSection {
    /// Assume-valid: certified blocks up to this height are applied without verifying their
    /// transactions' signatures (certificate, Merkle root and state commitment still checked).
    /// 0 (default): verify every signature.
    pub(crate) assume_valid_height: u64,
    /// Keep the transactions of the last `n` blocks only (at least 16); absent (default): an
    /// archive node.
    pub(crate) keep_blocks: Option<u64>,
    /// State sync, serving side: snapshot the account state after every block whose height is
    /// a multiple of this (default 1,000; 0: never, so this node serves no snapshots).
    pub(crate) snapshot_interval: u64,
    /// How many snapshots to keep in memory (the newest; default 2, at least 1).
    pub(crate) snapshots_kept: usize,
    /// State sync, joining side: a node whose ledger holds genesis only first asks its peers
    /// for an attested snapshot and installs it, then follows block by block; with no usable
    /// snapshot within 30 s it replays blocks from genesis instead. Default false.
    pub(crate) state_sync: bool,
}

impl Default for LedgerSection {
    fn default() -> Self {
        Self {
            assume_valid_height: 0,
            keep_blocks: None,
            snapshot_interval: DEFAULT_SNAPSHOT_INTERVAL,
            snapshots_kept: DEFAULT_SNAPSHOTS_KEPT,
            state_sync: false,
        }
    }
}

/// `ledger.snapshot_interval` by default.
pub(crate) const DEFAULT_SNAPSHOT_INTERVAL: u64 = 1_000;
/// `ledger.snapshots_kept` by default.
pub(crate) const DEFAULT_SNAPSHOTS_KEPT: usize = 2;

impl LedgerSection {
    /// The ledger's options.
    pub(crate) fn options(&self) -> coinjecture_ledger::LedgerOptions {
        coinjecture_ledger::LedgerOptions {
            assume_valid_height: Height(self.assume_valid_height),
            keep_blocks: self.keep_blocks,
            snapshot_interval: self.snapshot_interval,
            snapshots_kept: self.snapshots_kept,
        }
    }
}

/// Mempool policy (node-local; block validity does not depend on it).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MempoolSection {
    /// Least fee (`gas_limit × gas_price`) per byte of a transaction's canonical encoding.
    pub(crate) min_fee_per_byte: u64,
    /// Most transactions waiting in the mempool.
    pub(crate) max_transactions: usize,
    /// Most bytes (canonical encodings) waiting in the mempool.
    pub(crate) max_bytes: usize,
    /// Backpressure: the fraction (0 < f ≤ 1) of `max_transactions` and of `max_bytes` at which
    /// new submissions are refused (503 / RESOURCE_EXHAUSTED with `Retry-After`) and gossiped
    /// transactions dropped, until blocks drain the mempool below it.
    pub(crate) high_water: f64,
}

impl Default for MempoolSection {
    fn default() -> Self {
        let d = coinjecture_consensus::MempoolConfig::default();
        Self {
            min_fee_per_byte: coinjecture_consensus::mempool::DEFAULT_MIN_FEE_PER_BYTE,
            max_transactions: d.max_transactions,
            max_bytes: d.max_bytes,
            high_water: coinjecture_consensus::mempool::DEFAULT_HIGH_WATER,
        }
    }
}

impl MempoolSection {
    /// The mempool's settings; errors name the key.
    pub(crate) fn config(&self) -> eyre::Result<coinjecture_consensus::MempoolConfig> {
        if self.max_transactions == 0 {
            bail!("mempool.max_transactions: must be at least 1");
        }
        if self.max_bytes < limits::MAX_MESSAGE_BYTES {
            bail!(
                "mempool.max_bytes: {} is less than one largest transaction ({} bytes)",
                self.max_bytes,
                limits::MAX_MESSAGE_BYTES
            );
        }
        if !(self.high_water > 0.0 && self.high_water <= 1.0) {
            bail!("mempool.high_water: {} is not a fraction in (0, 1] of the mempool's bounds", self.high_water);
        }
        Ok(coinjecture_consensus::MempoolConfig {
            min_fee_per_byte: self.min_fee_per_byte,
            max_transactions: self.max_transactions,
            max_bytes: self.max_bytes,
            ..coinjecture_consensus::MempoolConfig::default()
        }
        .with_high_water(self.high_water))
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
    #[serde(deserialize_with = "duration")]
    pub(crate) header_read_timeout: Duration,
    /// No byte either way for this long closes a connection (e.g. `60s`).
    #[serde(deserialize_with = "duration")]
    pub(crate) idle_timeout: Duration,
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
            header_read_timeout: connections.header_read_timeout,
            idle_timeout: connections.idle_timeout,
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
    pub(crate) fn connections(&self) -> coinjecture_api::ConnectionLimits {
        coinjecture_api::ConnectionLimits {
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
        }
    }

    fn validate(&self) -> eyre::Result<()> {
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
    #[serde(default, deserialize_with = "optional_grpc_url")]
    pub(crate) ledger: Option<String>,
    #[serde(default, deserialize_with = "optional_grpc_url")]
    pub(crate) consensus: Option<String>,
    #[serde(default, deserialize_with = "optional_grpc_url")]
    pub(crate) p2p_gateway: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkSection {
    /// The chain id, e.g. `coinjecture-go-testnet`.
    #[serde(deserialize_with = "parsed")]
    pub(crate) id: ChainId,
    /// A short label for logs and metrics, e.g. `A` (`name: 2` reads as "2").
    #[serde(deserialize_with = "text")]
    pub(crate) name: String,
    /// The genesis file (YAML; see `configs/`).
    pub(crate) genesis: PathBuf,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsensusSection {
    /// e.g. `2s`, `500ms`: 1 ms to 1 h.
    #[serde(deserialize_with = "block_time")]
    pub(crate) block_time: Duration,
    /// `crash` or `byzantine`.
    #[serde(deserialize_with = "quorum_mode")]
    pub(crate) quorum: QuorumMode,
    /// `validator` (default: signs, and its key must be in the validator schedule) or
    /// `follower` (never signs; its key, if any, must not be a validator's).
    #[serde(default, deserialize_with = "role")]
    pub(crate) role: Role,
    /// This node's key file: its validator identity and its p2p identity. A follower may leave
    /// it out and gets a new p2p identity at every start.
    #[serde(default)]
    pub(crate) validator_key: Option<PathBuf>,
    /// Public keys (hex) of the validators, in proposer order.
    #[serde(deserialize_with = "public_keys")]
    pub(crate) validators: Vec<PublicKey>,
    /// Validator-set changes: from `height` on, `validators` vote.
    #[serde(default)]
    pub(crate) validator_changes: Vec<ValidatorChange>,
    /// How far beyond this node's clock a fresh proposal's block may be stamped before it gets
    /// a nil prevote, e.g. `2s` (default: the larger of the block time and 500ms; see
    /// [`ConsensusSection::max_future_drift_ms`]).
    #[serde(default, deserialize_with = "optional_duration")]
    pub(crate) max_future_drift: Option<Duration>,
    /// Publish proposals compact: the header and the transaction hashes, the block rebuilt by
    /// each validator from its mempool (default `true`). Nodes take proposals in either form;
    /// set `false` on every node of a network that a validator without compact proposals (the
    /// Python validator) takes part in.
    #[serde(default = "default_true")]
    pub(crate) compact_proposals: bool,
    /// The proposer's time budget for filling a block (nonces, selection, draft execution),
    /// e.g. `500ms` (default: a quarter of the block time; at most the block time; see
    /// [`ConsensusSection::proposal_budget`]).
    #[serde(default, deserialize_with = "optional_duration")]
    pub(crate) proposal_budget: Option<Duration>,
}

fn default_true() -> bool {
    true
}

/// What a node does in consensus (`consensus.role`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Role {
    /// Proposes and votes with `consensus.validator_key`, which must be in the validator
    /// schedule (`consensus.validators` or a `consensus.validator_changes` entry).
    #[default]
    Validator,
    /// Follows the chain (gossip and block sync), serves the API and relays submitted
    /// transactions, and never signs.
    Follower,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Validator => "validator",
            Self::Follower => "follower",
        }
    }
}

/// The smallest `consensus.max_future_drift`: below it, the ordinary clock skew between
/// validators' clocks would get honest proposals nil prevotes.
pub(crate) const MIN_FUTURE_DRIFT: Duration = Duration::from_millis(100);

impl ConsensusSection {
    /// `consensus.max_future_drift` in milliseconds, or the engine's default for
    /// `block_time_ms` when it is not set. Between 100ms and 1h: a larger bound would let one
    /// fast clock (or a Byzantine proposer) hold round 0 of every later height back that long.
    /// `consensus.proposal_budget`, or a quarter of the block time: 1 ms up to the block time
    /// (a longer fill would leave the validators no time to execute and vote).
    pub(crate) fn proposal_budget(&self) -> eyre::Result<Duration> {
        let Some(budget) = self.proposal_budget else {
            return Ok(coinjecture_consensus::driver::default_proposal_budget(self.block_time));
        };
        if budget.is_zero() || budget > self.block_time {
            bail!(
                "consensus.proposal_budget: {}ms is not in 1ms..={}ms (consensus.block_time): filling a block \
                 must leave the validators time to execute it and vote",
                budget.as_millis(),
                self.block_time.as_millis()
            );
        }
        Ok(budget)
    }

    pub(crate) fn max_future_drift_ms(&self, block_time_ms: u64) -> eyre::Result<u64> {
        let Some(drift) = self.max_future_drift else {
            return Ok(coinjecture_consensus::EngineConfig::default_max_future_drift_ms(block_time_ms));
        };
        if drift < MIN_FUTURE_DRIFT {
            bail!(
                "consensus.max_future_drift: {}ms is below {}ms; ordinary clock skew between validators would get honest proposals nil prevotes",
                drift.as_millis(),
                MIN_FUTURE_DRIFT.as_millis()
            );
        }
        Ok(u64::try_from(drift.as_millis()).unwrap_or(u64::MAX))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidatorChange {
    pub(crate) height: u64,
    #[serde(deserialize_with = "public_keys")]
    pub(crate) validators: Vec<PublicKey>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct P2pSection {
    /// Multiaddrs to listen on, e.g. `/ip4/0.0.0.0/tcp/9000`.
    #[serde(deserialize_with = "parsed_list")]
    pub(crate) listen_addrs: Vec<Multiaddr>,
    /// Peers to dial, `/ip4/1.2.3.4/tcp/9000/p2p/<peer id>`.
    #[serde(default, deserialize_with = "parsed_list")]
    pub(crate) bootstrap_peers: Vec<Multiaddr>,
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
    #[serde(deserialize_with = "duration")]
    pub(crate) idle_connection_timeout: Duration,
}

impl Default for P2pLimitsSection {
    fn default() -> Self {
        let l = coinjecture_p2p_gateway::Limits::default();
        Self {
            max_connections: l.max_peers,
            max_connections_per_peer: l.max_connections_per_peer,
            max_pending_incoming: l.max_pending_incoming,
            idle_connection_timeout: l.idle_connection_timeout,
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
        limits.idle_connection_timeout = self.idle_connection_timeout;
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApiSection {
    /// REST and public gRPC port.
    pub(crate) port: u16,
    /// IP address to bind, default 0.0.0.0.
    #[serde(default = "default_bind", deserialize_with = "parsed")]
    pub(crate) bind: IpAddr,
    /// Internal gRPC port of the services (consensus, ledger, p2p-gateway, crypto-core) when run split.
    #[serde(default)]
    pub(crate) grpc_port: Option<u16>,
    /// Connection and request limits (see [`ApiLimitsSection`]).
    #[serde(default)]
    pub(crate) limits: ApiLimitsSection,
    /// Address the internal gRPC port binds, default 127.0.0.1. Anything but loopback needs
    /// `internal_tls` (see the README's "Trust model").
    #[serde(default = "default_grpc_bind", deserialize_with = "parsed")]
    pub(crate) grpc_bind: IpAddr,
    /// Mutual TLS of the internal gRPC port, of split services' listeners and of their clients.
    #[serde(default)]
    pub(crate) internal_tls: Option<InternalTlsSection>,
}

fn default_grpc_bind() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

impl ApiSection {
    /// Where the public API listens (`api.bind`, `api.port`).
    pub(crate) fn address(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }
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

fn default_bind() -> IpAddr {
    IpAddr::from([0, 0, 0, 0])
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
    /// The log filter (`RUST_LOG` syntax), checked strictly (`coinjecture_telemetry::check_filter`).
    #[serde(default = "default_level", deserialize_with = "log_filter")]
    pub(crate) level: String,
    /// `json` or `text`.
    #[serde(default, deserialize_with = "parsed")]
    pub(crate) format: LogFormat,
}

impl Default for LoggerSection {
    fn default() -> Self {
        Self { level: default_level(), format: LogFormat::default() }
    }
}

fn default_level() -> String {
    "info".into()
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct CryptoCoreSection {
    /// e.g. `http://crypto-core:50051`.
    #[serde(deserialize_with = "grpc_url")]
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

impl Config {
    /// Loads `path`, merges the `COINJECTURE_*` environment overrides into its YAML tree, parses
    /// the result once into typed values, and validates.
    pub(crate) fn load(path: &Path) -> eyre::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| eyre!("cannot read config {}: {e}", path.display()))?;
        let mut config =
            Self::parse_with_env(&text, std::env::vars()).map_err(|e| eyre!("config {}: {e}", path.display()))?;
        config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        config.validate()?;
        Ok(config)
    }

    /// Parses YAML text without environment overrides; unknown keys are errors naming the key.
    #[cfg(test)]
    pub(crate) fn parse(text: &str) -> eyre::Result<Self> {
        Self::parse_with_env(text, std::iter::empty())
    }

    /// Parses YAML text with the `COINJECTURE_*` overrides among `vars` merged in (see
    /// `env_overrides.rs`). An error names the key, and the variable when it set the key.
    pub(crate) fn parse_with_env(text: &str, vars: impl IntoIterator<Item = (String, String)>) -> eyre::Result<Self> {
        let mut tree: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| eyre!("{e}"))?;
        let applied = crate::env_overrides::merge::<Self>(&mut tree, vars)?;
        serde_path_to_error::deserialize(tree).map_err(|e| {
            let path = e.path().to_string();
            let from = applied
                .iter()
                .find(|(key, _)| path == *key || path.strip_prefix(key.as_str()).is_some_and(|r| r.starts_with('[')))
                .map(|(_, var)| format!(" (set by {var})"))
                .unwrap_or_default();
            eyre!("{e}{from}")
        })
    }

    /// Relative file paths are relative to the config file's directory (`./data/a.db` next to
    /// `/etc/cj/node.yaml` is `/etc/cj/data/a.db`, without the `./`, as errors show it).
    fn resolve_paths(&mut self, base: &Path) {
        let mut paths = vec![&mut self.network.genesis, &mut self.database.path];
        paths.extend(self.consensus.validator_key.as_mut());
        if let Some(tls) = &mut self.api.internal_tls {
            paths.extend([&mut tls.ca, &mut tls.cert, &mut tls.key]);
        }
        for p in paths {
            if p.is_relative() {
                *p = base.join(&*p).components().collect();
            }
        }
    }

    /// Checks what the types alone do not (lists not empty, keys that depend on each other, files
    /// present), naming the key of the first bad value.
    pub(crate) fn validate(&self) -> eyre::Result<()> {
        self.consensus.max_future_drift_ms(u64::try_from(self.consensus.block_time.as_millis()).unwrap_or(u64::MAX))?;
        self.consensus.proposal_budget()?;
        if self.consensus.validators.is_empty() {
            bail!("consensus.validators: at least one validator is needed");
        }
        self.validator_schedule()?;
        self.p2p.limits.apply(&mut coinjecture_p2p_gateway::Limits::default())?;
        if self.p2p.listen_addrs.is_empty() {
            bail!("p2p.listen_addrs: at least one listen address is needed");
        }
        for (i, a) in self.p2p.bootstrap_peers.iter().enumerate() {
            if !a.to_string().contains("/p2p/") {
                bail!("p2p.bootstrap_peers[{i}]: {a} must end in /p2p/<peer id>");
            }
        }
        if self.api.port == 0 {
            bail!("api.port: must not be 0");
        }
        if let Some(keep) = self.ledger.keep_blocks
            && keep < coinjecture_ledger::MIN_KEEP_BLOCKS
        {
            bail!(
                "ledger.keep_blocks: {keep} is below the minimum {} (leave it out to keep every block)",
                coinjecture_ledger::MIN_KEEP_BLOCKS
            );
        }
        if self.ledger.snapshot_interval > 0 && self.ledger.snapshots_kept == 0 {
            bail!("ledger.snapshots_kept: 0 keeps no snapshot; set ledger.snapshot_interval: 0 to make none");
        }
        self.validate_internal_port()?;
        self.api.limits.validate()?;
        self.mempool.config()?;
        match (&self.consensus.validator_key, self.consensus.role) {
            (Some(key), _) if !key.exists() => bail!(
                "consensus.validator_key: {} does not exist (create it with `coinjectured keygen --output FILE`)",
                key.display()
            ),
            (None, Role::Validator) => bail!(
                "consensus.validator_key: a validator needs its key file (create it with `coinjectured keygen \
                 --output FILE`); a node that only follows the chain sets `consensus.role: follower`"
            ),
            _ => {}
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
        let mode = self.consensus.quorum;
        let set = |keys: &[PublicKey], key: &str| -> eyre::Result<ValidatorSet> {
            ValidatorSet::new(keys.to_vec(), mode).map_err(|e| eyre!("{key}: {e}"))
        };
        let mut entries = vec![(Height(1), set(&self.consensus.validators, "consensus.validators")?)];
        for (c, change) in self.consensus.validator_changes.iter().enumerate() {
            entries.push((
                Height(change.height),
                set(&change.validators, &format!("consensus.validator_changes[{c}].validators"))?,
            ));
        }
        ValidatorSchedule::new(entries).map_err(|e| eyre!("consensus.validator_changes: {e}"))
    }

    /// The internal port binds loopback, or authenticates both ends (mutual TLS).
    fn validate_internal_port(&self) -> eyre::Result<()> {
        let bind = self.api.grpc_bind;
        if self.api.grpc_port.is_some() && !bind.is_loopback() && self.api.internal_tls.is_none() {
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

/// The bounds of `consensus.block_time` and of the listeners' timeouts.
const DURATION_BOUNDS: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(3600));

/// A duration in the project's one grammar (`coinjecture_primitives::duration`: `2s`, `500ms`,
/// `1.5m`, `1h`), 1 ms to 1 h.
pub(crate) fn parse_duration(s: &str) -> eyre::Result<Duration> {
    let (min, max) = DURATION_BOUNDS;
    Ok(coinjecture_primitives::duration::parse_between(s, min, max)?)
}

/// A scalar as text: `block_time: 2` reads as "2" (and is then refused for its missing unit,
/// rather than for its YAML type).
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct Text;
    impl de::Visitor<'_> for Text {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_any(Text)
}

/// A value read from its text with `FromStr`; the error quotes the text.
fn parsed<'de, D: Deserializer<'de>, T: FromStr<Err: std::fmt::Display>>(d: D) -> Result<T, D::Error> {
    let s = text(d)?;
    s.trim().parse().map_err(|e| de::Error::custom(format!("{s:?}: {e}")))
}

/// A list of values read with `FromStr`; the error names the item (`p2p.listen_addrs[1]: …`).
fn parsed_list<'de, D: Deserializer<'de>, T: FromStr<Err: std::fmt::Display>>(d: D) -> Result<Vec<T>, D::Error> {
    #[derive(Deserialize)]
    struct Item<T: FromStr<Err: std::fmt::Display>>(#[serde(deserialize_with = "parsed")] T);
    Ok(Vec::<Item<T>>::deserialize(d)?.into_iter().map(|Item(v)| v).collect())
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse_duration(&text(d)?).map_err(de::Error::custom)
}

fn optional_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn block_time<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration(d)
}

fn quorum_mode<'de, D: Deserializer<'de>>(d: D) -> Result<QuorumMode, D::Error> {
    quorum(&text(d)?).map_err(de::Error::custom)
}

fn role<'de, D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
    match text(d)?.as_str() {
        "validator" => Ok(Role::Validator),
        "follower" => Ok(Role::Follower),
        other => Err(de::Error::custom(format!("{other:?} is not one of validator, follower"))),
    }
}

fn public_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PublicKey>, D::Error> {
    #[derive(Deserialize)]
    struct Key(#[serde(deserialize_with = "public_key")] PublicKey);
    Ok(Vec::<Key>::deserialize(d)?.into_iter().map(|Key(k)| k).collect())
}

fn public_key<'de, D: Deserializer<'de>>(d: D) -> Result<PublicKey, D::Error> {
    PublicKey::from_hex_named(&text(d)?, "public key").map_err(de::Error::custom)
}

fn log_filter<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let filter = text(d)?;
    coinjecture_telemetry::check_filter(&filter).map_err(de::Error::custom)?;
    Ok(filter)
}

/// An `http://` or `https://` URL a gRPC client can dial.
fn grpc_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let url = text(d)?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(de::Error::custom(format!("{url:?} must start with http:// or https://")));
    }
    tonic::transport::Endpoint::from_shared(url.clone()).map_err(|e| de::Error::custom(format!("{url:?}: {e}")))?;
    Ok(url)
}

fn optional_grpc_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    grpc_url(d).map(Some)
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
    use coinjecture_primitives::Height;

    fn sample() -> String {
        let dir = env!("CARGO_MANIFEST_DIR");
        std::fs::read_to_string(format!("{dir}/../../configs/network-a-validator.yaml")).unwrap()
    }

    /// The sample with `key: …` (the first line that starts with it, indentation kept) replaced.
    fn with(key: &str, value: &str) -> String {
        let text = sample();
        let line = text.lines().find(|l| l.trim_start().starts_with(&format!("{key}:"))).unwrap();
        let indent = &line[..line.len() - line.trim_start().len()];
        text.replacen(line, &format!("{indent}{key}: {value}"), 1)
    }

    fn error(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn shipped_configs_parse() {
        let dir = env!("CARGO_MANIFEST_DIR");
        for name in ["network-a-validator.yaml", "network-b-go-validator.yaml", "network-a-follower.yaml"] {
            let text = std::fs::read_to_string(format!("{dir}/../../configs/{name}")).unwrap();
            Config::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn the_role_defaults_to_validator_and_a_follower_needs_no_key() {
        assert_eq!(Config::parse(&sample()).unwrap().consensus.role, Role::Validator);
        let dir = env!("CARGO_MANIFEST_DIR");
        let text = std::fs::read_to_string(format!("{dir}/../../configs/network-a-follower.yaml")).unwrap();
        let follower = Config::parse(&text).unwrap();
        assert_eq!((follower.consensus.role, follower.consensus.validator_key), (Role::Follower, None));
        // The follower's chain settings are Network A's validator's.
        let validator = Config::parse(&sample()).unwrap();
        assert_eq!(follower.network, validator.network);
        assert_eq!(follower.consensus.validators, validator.consensus.validators);
        assert_eq!(follower.consensus.quorum, validator.consensus.quorum);
        assert_eq!(
            error(&with("quorum", "crash\n  role: observer")),
            "consensus.role: \"observer\" is not one of validator, follower"
        );
        let overridden = Config::parse_with_env(&sample(), env(&[("COINJECTURE_CONSENSUS_ROLE", "follower")])).unwrap();
        assert_eq!(overridden.consensus.role, Role::Follower);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let err = error(&sample().replace("block_time:", "block_tme:"));
        assert!(err.starts_with("consensus.block_tme: unknown field `block_tme`"), "{err}");
        assert!(error(&with("block_time", "2 parsecs")).starts_with("consensus.block_time: "));
        let err = error(
            &sample().replace("    - 0000000000000000000000000000000000000000000000000000000000000001", "    - abc"),
        );
        assert!(err.starts_with("consensus.validators[0]: "), "{err}");
        assert_eq!(error(&with("quorum", "majority")), "consensus.quorum: \"majority\" is not one of crash, byzantine");
        assert!(error(&with("id", "Not A Chain")).starts_with("network.id: "));
    }

    /// #20: values `check-config` used to pass although the node refused them or misbehaved.
    #[test]
    fn what_the_node_would_refuse_is_refused_at_parse_naming_the_key() {
        for (text, want) in [
            (with("level", "bogus!!"), "logger.level: log level \"bogus!!\" is invalid"),
            (with("format", "xml"), "logger.format: \"xml\": log format"),
            (
                with("block_time", "0.0001ms"),
                "consensus.block_time: \"0.0001ms\" is not a whole number of milliseconds",
            ),
            (with("block_time", "0ms"), "consensus.block_time: \"0ms\" must be between 1ms and 1h"),
            (with("block_time", "2h"), "consensus.block_time: \"2h\" must be between 1ms and 1h"),
            (with("block_time", "2"), "consensus.block_time: \"2\" has no unit"),
            (with("port", "8080\n  bind: 0.0.0.0.0"), "api.bind: \"0.0.0.0.0\": invalid IP address syntax"),
            (with("port", "8080\n  grpc_bind: node-1"), "api.grpc_bind: \"node-1\": invalid IP address syntax"),
            (
                sample().replace("- /ip4/0.0.0.0/tcp/9000", "- /ip4/0.0.0.0/tcp/x"),
                "p2p.listen_addrs[0]: \"/ip4/0.0.0.0/tcp/x\": ",
            ),
            (sample().replace("- /ip4/0.0.0.0/tcp/9000", "- 0.0.0.0:9000"), "p2p.listen_addrs[0]: \"0.0.0.0:9000\": "),
            (with("port", "70000"), "api.port: invalid value: integer `70000`"),
            (format!("{}ledger:\n  keep_blocks: -1\n", sample()), "ledger.keep_blocks: invalid value"),
        ] {
            let err = error(&text);
            assert!(err.starts_with(want), "{want}\n  got: {err}");
        }
        assert_eq!(Config::parse(&with("name", "2")).unwrap().network.name, "2");
        let c = Config::parse(&with("level", "coinjecture_api=debug,warn")).unwrap();
        assert_eq!(c.logger.level, "coinjecture_api=debug,warn");
        let c = Config::parse(&with("port", "8080\n  bind: \"::\"")).unwrap();
        assert_eq!(c.api.address(), "[::]:8080".parse().unwrap());
    }

    /// #22: pruning and assume-valid default to an archive node verifying every signature; a
    /// window below the minimum is refused naming the key (so `check-config` refuses it too).
    #[test]
    fn ledger_keys_default_to_archive_and_verify_and_a_tiny_window_is_refused() {
        let c = Config::parse(&sample()).unwrap();
        assert_eq!(
            c.ledger.options(),
            coinjecture_ledger::LedgerOptions {
                snapshot_interval: DEFAULT_SNAPSHOT_INTERVAL,
                snapshots_kept: DEFAULT_SNAPSHOTS_KEPT,
                ..Default::default()
            }
        );
        assert!(!c.ledger.state_sync);
        let text = format!("{}ledger:\n  keep_blocks: 1000\n  assume_valid_height: 5000\n", sample());
        let c = Config::parse(&text).unwrap();
        assert_eq!(
            c.ledger.options(),
            coinjecture_ledger::LedgerOptions {
                assume_valid_height: Height(5000),
                keep_blocks: Some(1000),
                snapshot_interval: DEFAULT_SNAPSHOT_INTERVAL,
                snapshots_kept: DEFAULT_SNAPSHOTS_KEPT,
            }
        );
        let c = Config::parse_with_env(&sample(), env(&[("COINJECTURE_LEDGER_KEEP_BLOCKS", "64")])).unwrap();
        assert_eq!(c.ledger.keep_blocks, Some(64));
        let tiny = format!("{}ledger:\n  keep_blocks: 3\n", sample());
        let err = Config::parse(&tiny).unwrap().validate().unwrap_err().to_string();
        assert!(err.starts_with("ledger.keep_blocks: 3 is below the minimum 16"), "{err}");
    }

    #[test]
    fn the_validator_schedule_names_the_key_of_a_bad_value() {
        let key = |b: u8| PublicKey::from_hex_named(&hex::encode([b; 32]), "k").unwrap();
        let mut c = Config::parse(&sample()).unwrap();
        c.consensus.quorum = QuorumMode::Byzantine;
        c.consensus.validator_changes = vec![ValidatorChange { height: 10, validators: vec![key(2), key(3)] }];
        let schedule = c.validator_schedule().unwrap();
        assert_eq!(
            schedule.entries().iter().map(|(h, s)| (*h, s.len())).collect::<Vec<_>>(),
            vec![(Height(1), 1), (Height(10), 2)]
        );
        assert_eq!(schedule.at(Height(10)).mode(), QuorumMode::Byzantine);
        let error = |c: &Config| c.validator_schedule().unwrap_err().to_string();
        let mut bad = c.clone();
        bad.consensus.validator_changes[0].validators[1] = key(2);
        assert!(error(&bad).starts_with("consensus.validator_changes[0].validators: validator "), "{}", error(&bad));
        let mut bad = c.clone();
        bad.consensus.validator_changes[0].height = 1;
        assert!(error(&bad).starts_with("consensus.validator_changes: the validator schedule"), "{}", error(&bad));
        let text = sample().replace(
            "  validator_key:",
            &format!(
                "  validator_changes:\n    - height: 5\n      validators: [\"{}\", abc]\n  validator_key:",
                hex::encode([2; 32])
            ),
        );
        assert!(super::tests::error(&text).starts_with("consensus.validator_changes[0].validators[1]: "));
    }

    #[test]
    fn the_mempool_bounds_and_high_water_mark_are_keys_and_bad_values_name_them() {
        let c = Config::parse(&sample()).unwrap().mempool.config().unwrap();
        assert_eq!(c, coinjecture_consensus::MempoolConfig::default(), "the documented defaults");
        let vars = env(&[("COINJECTURE_MEMPOOL_MAX_TRANSACTIONS", "2000"), ("COINJECTURE_MEMPOOL_HIGH_WATER", "0.1")]);
        let c = Config::parse_with_env(&sample(), vars).unwrap().mempool.config().unwrap();
        assert_eq!((c.max_transactions, c.high_water_transactions), (2000, 200));
        for (vars, want) in [
            (vec![("COINJECTURE_MEMPOOL_HIGH_WATER", "1.5")], "mempool.high_water: 1.5 is not a fraction"),
            (vec![("COINJECTURE_MEMPOOL_HIGH_WATER", "0")], "mempool.high_water: 0 is not a fraction"),
            (vec![("COINJECTURE_MEMPOOL_MAX_TRANSACTIONS", "0")], "mempool.max_transactions: must be at least 1"),
            (vec![("COINJECTURE_MEMPOOL_MAX_BYTES", "1000")], "mempool.max_bytes: 1000 is less than"),
        ] {
            let c = Config::parse_with_env(&sample(), env(&vars)).unwrap();
            let err = c.mempool.config().unwrap_err().to_string();
            assert!(err.starts_with(want), "{want}\n  got: {err}");
        }
    }

    #[test]
    fn environment_overrides_win() {
        let vars = env(&[
            ("COINJECTURE_API_PORT", "8081"),
            (
                "COINJECTURE_P2P_BOOTSTRAP_PEERS",
                "/ip4/127.0.0.1/tcp/9001/p2p/12D3KooWGbMq7vGw4uWHMPkXfL6TmPaH1xjVYLUw3x2cTwWSDrFo, /dns4/a/tcp/9002",
            ),
            ("COINJECTURE_CRYPTO_CORE_ENDPOINT", "http://127.0.0.1:50051"),
            ("COINJECTURE_CONSENSUS_BLOCK_TIME", "750ms"),
            ("COINJECTURE_API_LIMITS_IDLE_TIMEOUT", "5s"),
            ("COINJECTURE_API_LIMITS_RATE_PER_SECOND", "2.5"),
            ("COINJECTURE_RUST_VERIFY_GOLDEN_VECTORS", "true"),
            ("COINJECTURE_MEMPOOL_MIN_FEE_PER_BYTE", "3"),
            ("UNRELATED", "1"),
        ]);
        let c = Config::parse_with_env(&sample(), vars).unwrap();
        assert_eq!(c.api.port, 8081);
        assert_eq!(c.p2p.bootstrap_peers.len(), 2);
        assert_eq!(c.crypto_core.unwrap().endpoint, "http://127.0.0.1:50051");
        assert_eq!(c.consensus.block_time, Duration::from_millis(750));
        assert_eq!(c.api.limits.idle_timeout, Duration::from_secs(5));
        assert_eq!(c.api.limits.rate_per_second, 2.5);
        assert!(c.rust.verify_golden_vectors);
        assert_eq!(c.mempool.min_fee_per_byte, 3);
        // An empty list variable empties the list.
        let c = Config::parse_with_env(&sample(), env(&[("COINJECTURE_P2P_BOOTSTRAP_PEERS", "")])).unwrap();
        assert!(c.p2p.bootstrap_peers.is_empty());
    }

    #[test]
    fn a_bad_or_unknown_coinjecture_variable_is_an_error_naming_it() {
        let parse = |vars: &[(&str, &str)]| Config::parse_with_env(&sample(), env(vars)).unwrap_err().to_string();
        let err = parse(&[("COINJECTURE_API_PORT", "eighty")]);
        assert_eq!(err, "COINJECTURE_API_PORT: \"eighty\" is not a whole number");
        let err = parse(&[("COINJECTURE_API_PROT", "8081")]);
        assert!(err.starts_with("COINJECTURE_API_PROT: no such configuration key"), "{err}");
        let err = parse(&[("COINJECTURE_APII_PORT", "8081")]);
        assert!(err.starts_with("COINJECTURE_APII_PORT: no such configuration key"), "{err}");
        let err = parse(&[("COINJECTURE_API_LIMITS", "x")]);
        assert!(err.starts_with("COINJECTURE_API_LIMITS: api.limits is a section"), "{err}");
        let err = parse(&[("COINJECTURE_CONSENSUS_BLOCK_TIME", "0.0001ms")]);
        assert_eq!(
            err,
            "consensus.block_time: \"0.0001ms\" is not a whole number of milliseconds (set by COINJECTURE_CONSENSUS_BLOCK_TIME)"
        );
        let err = parse(&[("COINJECTURE_CONSENSUS_VALIDATORS", "abc")]);
        assert!(
            err.starts_with("consensus.validators[0]: ") && err.ends_with("(set by COINJECTURE_CONSENSUS_VALIDATORS)")
        );
        let err = parse(&[("COINJECTURE_RUST_VERIFY_GOLDEN_VECTORS", "yes")]);
        assert_eq!(err, "COINJECTURE_RUST_VERIFY_GOLDEN_VECTORS: \"yes\" is not true or false");
        // The names that belong to clients, tools and tests are left alone.
        let vars: Vec<_> = crate::env_overrides::NOT_THE_NODES.iter().map(|n| (*n, "127.0.0.1:1")).collect();
        Config::parse_with_env(&sample(), env(&vars)).unwrap();
    }

    /// Every `COINJECTURE_*` name the repository's code, scripts and manifests use is a config key
    /// or one of the names the node leaves alone: a new tool variable must be added to
    /// `env_overrides::NOT_THE_NODES`, or every node started where it is set would refuse to start.
    /// Names the tests and the README spell wrong on purpose.
    const MISSPELLED_ON_PURPOSE: &[&str] = &["COINJECTURE_API_PROT", "COINJECTURE_APII_PORT"];

    #[test]
    fn every_coinjecture_variable_in_the_repository_is_a_key_or_listed() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut names = std::collections::BTreeSet::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() {
                    if !name.starts_with('.')
                        && !["target", "node_modules", "__pycache__", "shared"].contains(&name.as_str())
                    {
                        dirs.push(path);
                    }
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else { continue };
                for (i, _) in text.match_indices("COINJECTURE_") {
                    let rest = &text[i..];
                    let end = rest
                        .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                        .unwrap_or(rest.len());
                    let var = &rest[..end];
                    // Skip prefixes written as patterns (`COINJECTURE_API_INTERNAL_TLS_{CA,…}`,
                    // `COINJECTURE_<SECTION>_<KEY>`, `COINJECTURE_*`) and COINJECTURE_V4 (a file name).
                    if var.ends_with('_') || var == "COINJECTURE_V4" || MISSPELLED_ON_PURPOSE.contains(&var) {
                        continue;
                    }
                    names.insert(var.to_string());
                }
            }
        }
        assert!(names.contains("COINJECTURE_API_PORT") && names.contains("COINJECTURE_CRYPTO_CORE"), "{names:?}");
        for name in names {
            if crate::env_overrides::NOT_THE_NODES.contains(&name.as_str()) {
                continue;
            }
            let key = name.trim_start_matches("COINJECTURE_").to_ascii_lowercase();
            let ok = Config::parse_with_env(&sample(), env(&[(&name, "1")]))
                .map_or_else(|e| !e.to_string().contains("no such configuration key"), |_| true);
            assert!(ok, "{name} (key {key}) is neither a config key nor in env_overrides::NOT_THE_NODES");
        }
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
        assert_eq!(c.api.grpc_bind, IpAddr::from([127, 0, 0, 1]));
        c.api.grpc_port = Some(50051);
        c.validate_internal_port().unwrap();
        c.api.grpc_bind = IpAddr::from([0, 0, 0, 0]);
        let err = c.validate_internal_port().unwrap_err().to_string();
        assert!(err.starts_with("api.internal_tls:") && err.contains("api.grpc_bind 0.0.0.0 is not loopback"), "{err}");
        c.api.grpc_bind = "::1".parse().unwrap();
        c.validate_internal_port().unwrap();
        let vars = env(&[
            ("COINJECTURE_API_GRPC_PORT", "50051"),
            ("COINJECTURE_API_GRPC_BIND", "10.0.0.7"),
            ("COINJECTURE_API_INTERNAL_TLS_CA", "/tls/ca.pem"),
            ("COINJECTURE_API_INTERNAL_TLS_CERT", "/tls/node.pem"),
            ("COINJECTURE_API_INTERNAL_TLS_KEY", "/tls/node-key.pem"),
        ]);
        let c = Config::parse_with_env(&sample(), vars).unwrap();
        assert_eq!(c.api.grpc_bind, IpAddr::from([10, 0, 0, 7]));
        let err = c.validate_internal_port().unwrap_err().to_string();
        assert!(err.starts_with("api.internal_tls.ca: /tls/ca.pem does not exist"), "{err}");
        // Half a TLS section is named, not silently dropped.
        let err = Config::parse_with_env(&sample(), env(&[("COINJECTURE_API_INTERNAL_TLS_CA", "/tls/ca.pem")]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("api.internal_tls: missing field `cert`"), "{err}");
    }

    #[test]
    fn limits_have_safe_defaults_and_bad_ones_name_the_key() {
        let c = Config::parse(&sample()).unwrap();
        assert_eq!(c.api.limits, ApiLimitsSection::default());
        assert_eq!(c.api.limits.connections().max_connections_per_ip, 32);
        assert_eq!(c.mempool.min_fee_per_byte, coinjecture_consensus::mempool::DEFAULT_MIN_FEE_PER_BYTE);
        let text = sample().replace("api:\n", "api:\n  limits:\n    max_streams_per_ip: 2\n    idle_timeout: 30s\n");
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.api.limits.max_streams_per_ip, 2);
        assert_eq!(c.api.limits.connections().idle_timeout, Duration::from_secs(30));
        let mut c = Config::parse(&sample()).unwrap();
        c.api.limits.max_connections_per_ip = 0;
        assert!(c.api.limits.validate().unwrap_err().to_string().starts_with("api.limits.max_connections_per_ip"));
        let bad = sample().replace("api:\n", "api:\n  limits:\n    idle_timeout: forever\n");
        assert!(error(&bad).starts_with("api.limits.idle_timeout: \"forever\""), "{}", error(&bad));
        let bad = sample().replace("api:\n", "api:\n  limits:\n    max_conections: 2\n");
        assert!(error(&bad).contains("max_conections"));
    }

    #[test]
    fn every_key_is_overridable_and_its_kind_known() {
        use crate::env_overrides::{Kind, kind_at};
        assert_eq!(kind_at::<Config>(&["api", "port"]), Some(Kind::Integer));
        assert_eq!(kind_at::<Config>(&["api", "bind"]), Some(Kind::Text));
        assert_eq!(kind_at::<Config>(&["api", "limits", "rate_per_second"]), Some(Kind::Float));
        assert_eq!(kind_at::<Config>(&["p2p", "listen_addrs"]), Some(Kind::List));
        assert_eq!(kind_at::<Config>(&["rust", "verify_golden_vectors"]), Some(Kind::Bool));
        assert_eq!(kind_at::<Config>(&["crypto_core", "endpoint"]), Some(Kind::Text));
        assert_eq!(kind_at::<Config>(&["api", "nope"]), None);
        assert!(matches!(kind_at::<Config>(&["api", "internal_tls"]), Some(Kind::Section(f)) if f.contains(&"ca")));
    }

    #[test]
    fn max_future_drift_defaults_to_the_engine_bound_and_bad_values_name_the_key() {
        let c = Config::parse(&sample()).unwrap();
        assert_eq!(c.consensus.max_future_drift, None);
        assert_eq!(c.consensus.max_future_drift_ms(2_000).unwrap(), 2_000);
        assert_eq!(c.consensus.max_future_drift_ms(200).unwrap(), 500);
        let text = sample().replace("  block_time:", "  max_future_drift: 1500ms\n  block_time:");
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.consensus.max_future_drift_ms(2_000).unwrap(), 1_500);
        for (bad, says) in [("50ms", "is below 100ms"), ("61m", "1h"), ("soon", "")] {
            let text = sample().replace("  block_time:", &format!("  max_future_drift: {bad}\n  block_time:"));
            let err = match Config::parse(&text) {
                Ok(c) => c.validate().unwrap_err().to_string(),
                Err(e) => format!("{e:#}"),
            };
            assert!(err.contains("consensus.max_future_drift") && err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn compact_proposals_default_on_reach_the_driver_and_a_bad_value_names_the_key() {
        let c = Config::parse(&sample()).unwrap();
        assert!(
            crate::node::driver_config(&c, coinjecture_primitives::BlockLimits::default()).unwrap().compact_proposals
        );
        let text = sample().replace("  block_time:", "  compact_proposals: false\n  block_time:");
        let c = Config::parse(&text).unwrap();
        assert!(
            !crate::node::driver_config(&c, coinjecture_primitives::BlockLimits::default()).unwrap().compact_proposals
        );
        let text = sample().replace("  block_time:", "  compact_proposals: sometimes\n  block_time:");
        let err = format!("{:#}", Config::parse(&text).unwrap_err());
        assert!(err.contains("consensus.compact_proposals"), "{err}");
    }

    #[test]
    fn the_proposal_budget_defaults_to_a_quarter_block_time_reaches_the_driver_and_bad_values_name_the_key() {
        let limits = coinjecture_primitives::BlockLimits { max_gas: 77_000, max_bytes: 1 << 20 };
        let c = Config::parse(&with("block_time", "2s")).unwrap();
        let d = crate::node::driver_config(&c, limits).unwrap();
        assert_eq!((d.proposal_budget, d.block_limits), (Duration::from_millis(500), limits));
        assert_eq!(d.max_block_transactions, coinjecture_primitives::limits::MAX_BLOCK_TRANSACTIONS);
        let text = sample().replace("  block_time:", "  proposal_budget: 300ms\n  block_time:");
        let c = Config::parse(&text).unwrap();
        assert_eq!(crate::node::driver_config(&c, limits).unwrap().proposal_budget, Duration::from_millis(300));
        let vars = env(&[("COINJECTURE_CONSENSUS_PROPOSAL_BUDGET", "750ms")]);
        let c = Config::parse_with_env(&sample(), vars).unwrap();
        assert_eq!(c.consensus.proposal_budget().unwrap(), Duration::from_millis(750));
        for (value, says) in [
            ("0ms", "consensus.proposal_budget: \"0ms\" must be between 1ms and 1h"),
            ("3s", "consensus.proposal_budget: 3000ms is not in 1ms..=2000ms (consensus.block_time)"),
            ("soon", "consensus.proposal_budget"),
        ] {
            let text = sample().replace("  block_time:", &format!("  proposal_budget: {value}\n  block_time:"));
            // What `node` and `check-config` both run: the parse, then validate.
            let err = match Config::parse(&text) {
                Ok(c) => c.validate().unwrap_err().to_string(),
                Err(e) => format!("{e:#}"),
            };
            assert!(err.contains(says), "{value}: {err}");
        }
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
        assert!(error(&text).starts_with("p2p.limits.idle_connection_timeout"), "{}", error(&text));
    }
}
