//! `coinjectured node`: all five services in one process, wired through their gRPC contracts
//! (in-process calls, no sockets between them), plus the internal gRPC port that exposes them
//! for split deployments, Go/Python validators and tools.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coinjecture_consensus::EngineConfig;
use coinjecture_consensus::driver::{self, DriverConfig};
use coinjecture_crypto_core::service::CryptoCoreService;
use coinjecture_ledger::genesis::GenesisConfig;
use coinjecture_ledger::service::LedgerService;
use coinjecture_ledger::{Ledger, LedgerSettings};
use coinjecture_p2p_gateway::{P2pConfig, P2pHandle};
use coinjecture_proto::ports::crypto::{CryptoPort, RemoteCrypto};
use coinjecture_proto::ports::gateway::GatewayPort;
use coinjecture_proto::v1 as pb;
use eyre::{bail, eyre};

use crate::config::{Config, Role};
use crate::keys;

/// Everything a running node holds (what `devnet` and tests inspect).
pub(crate) struct RunningNode {
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) consensus: driver::DriverHandle,
    pub(crate) p2p: P2pHandle,
    pub(crate) tasks: Vec<tokio::task::JoinHandle<eyre::Result<()>>>,
}

/// crypto-core: in process (Network A) or the shared service (Network B), behind the one
/// port. The remote connection is lazy: calls fail `UNAVAILABLE` until the service is up.
pub(crate) fn crypto_backend(config: &Config) -> eyre::Result<Arc<dyn CryptoPort>> {
    Ok(match &config.crypto_core {
        None => Arc::new(CryptoCoreService),
        Some(cc) => {
            let endpoint = crate::tls::endpoint(&cc.endpoint, "crypto_core.endpoint", config)?;
            Arc::new(RemoteCrypto::new(coinjecture_proto::client::connect(endpoint)))
        }
    })
}

/// The ledger's settings from the node's config and its genesis (read by [`preflight`], or
/// `network.genesis` for `service ledger`).
pub(crate) fn ledger_settings(config: &Config, genesis: GenesisConfig) -> eyre::Result<LedgerSettings> {
    Ok(LedgerSettings {
        path: config.database.path.clone(),
        genesis,
        schedule: config.validator_schedule()?,
        options: config.ledger.options(),
    })
}

/// The gateway's configuration from the node's.
pub(crate) fn p2p_config(config: &Config, seed: [u8; 32]) -> eyre::Result<P2pConfig> {
    let mut p2p_config = P2pConfig::new(config.network.id.as_str().to_string(), seed);
    // Consensus validates every topic: nothing is relayed unchecked while it starts or restarts.
    p2p_config.limits.relay_unvalidated = false;
    config.p2p.limits.apply(&mut p2p_config.limits)?;
    p2p_config.listen_addrs.clone_from(&config.p2p.listen_addrs);
    p2p_config.bootstrap_peers.clone_from(&config.p2p.bootstrap_peers);
    Ok(p2p_config)
}

/// What a node reads from its files before it starts anything: the checks `coinjectured
/// check-config` runs too, so it refuses every file a node would refuse (README, "Configuration").
pub(crate) struct Preflight {
    pub(crate) key: coinjecture_crypto_core::signatures::Keypair,
    pub(crate) genesis: GenesisConfig,
}

/// The node's key (`consensus.validator_key`), checked against its role (`consensus.role`): a
/// validator's key must be in the validator schedule (else the node would silently sign
/// nothing), a follower's must not (it would share a validator's p2p identity, and a validator
/// key is safest on one machine). A follower without a key file gets a new identity.
pub(crate) fn node_key(config: &Config) -> eyre::Result<coinjecture_crypto_core::signatures::Keypair> {
    let key = node_identity(config)?;
    let schedule = config.validator_schedule()?;
    let public = key.public_key();
    let member = schedule.entries().iter().find(|(_, set)| set.contains(&public)).map(|(height, _)| *height);
    match (config.consensus.role, member) {
        (Role::Validator, None) => bail!(
            "consensus.validator_key: {public} is not among consensus.validators (nor in any \
             consensus.validator_changes), so this node would never sign: list it there, or set \
             `consensus.role: follower` to run a node that only follows the chain"
        ),
        (Role::Follower, Some(height)) => bail!(
            "consensus.role: follower, but consensus.validator_key ({public}) is a validator's key (in the \
             validator set from height {height}): a follower needs a key of its own (`coinjectured keygen`) or \
             none at all"
        ),
        _ => Ok(key),
    }
}

/// The key in `consensus.validator_key`, or a new one when there is none (a follower's), without
/// the role check: the p2p identity of a split `service p2p-gateway` (the consensus service and
/// whole nodes check the role, [`node_key`]).
pub(crate) fn node_identity(config: &Config) -> eyre::Result<coinjecture_crypto_core::signatures::Keypair> {
    Ok(match &config.consensus.validator_key {
        Some(path) => keys::read(path).map_err(|e| eyre!("consensus.validator_key: {e:#}"))?,
        None => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| eyre!("no randomness from the operating system: {e}"))?;
            coinjecture_crypto_core::signatures::Keypair::from_seed(&seed)
        }
    })
}

/// Reads and checks the files the config names: the validator key, the genesis (whose chain must
/// be `network.id`), the internal TLS files (PEM), and the clients' endpoints (`crypto_core`,
/// `services`; built, not dialled). Errors name the key.
pub(crate) fn preflight(config: &Config) -> eyre::Result<Preflight> {
    let key = node_key(config)?;
    let genesis = GenesisConfig::load(&config.network.genesis).map_err(|e| eyre!("network.genesis: {e}"))?;
    if genesis.chain_id != config.network.id {
        bail!(
            "network.genesis: the genesis is for chain {:?}, the config (network.id) for {:?}",
            genesis.chain_id.as_str(),
            config.network.id.as_str()
        );
    }
    if let Some(tls) = &config.api.internal_tls {
        coinjecture_proto::tls::server_config(&tls.files()).map_err(|e| eyre!("api.internal_tls.{e}"))?;
    }
    if let Some(cc) = &config.crypto_core {
        crate::tls::endpoint(&cc.endpoint, "crypto_core.endpoint", config)?;
    }
    if let Some(services) = &config.services {
        for (key, url) in
            [("ledger", &services.ledger), ("consensus", &services.consensus), ("p2p_gateway", &services.p2p_gateway)]
        {
            if let Some(url) = url {
                crate::tls::endpoint(url, &format!("services.{key}"), config)?;
            }
        }
    }
    Ok(Preflight { key, genesis })
}

/// Starts every service of a node. Returns once all are up.
pub(crate) async fn start(config: &Config) -> eyre::Result<RunningNode> {
    let Preflight { key, genesis } = preflight(config)?;
    let block_limits = genesis.block_limits;

    let crypto = crypto_backend(config)?;
    if config.rust.verify_golden_vectors {
        verify_golden_vectors(config).await?;
    }

    // Each service starts through its crate's `run`, as `service <name>` starts it.
    let ledger = coinjecture_ledger::service::run(ledger_settings(config, genesis)?, crypto)
        .await
        .map_err(|e| eyre!("database.path: {e}"))?;

    let registry = new_registry();
    if let Ok(mut r) = registry.lock() {
        crate::process_metrics::register_database(&mut r, &config.database.path);
    }
    let p2p_config = p2p_config(config, key.seed())?;
    let coinjecture_p2p_gateway::service::Running { handle: p2p, task: p2p_task } =
        coinjecture_p2p_gateway::service::run(p2p_config, ledger.clone(), Some(registry.clone()))
            .await
            .map_err(|e| eyre!("p2p: {e}"))?;

    // State sync: serve and attest this ledger's snapshots; join from one when asked to and the
    // ledger holds genesis only (before consensus starts, which then follows from its tip).
    let state_sync = crate::state_sync::Progress::new(config.ledger.state_sync);
    if let Ok(mut r) = registry.lock() {
        state_sync.register(&mut r);
    }
    let attest_task = crate::state_sync::serve_and_attest(
        ledger.clone(),
        p2p.clone(),
        coinjecture_crypto_core::signatures::Keypair::from_seed(&key.seed()),
    )
    .await?;
    if config.ledger.state_sync {
        let tip = ledger.tip().await.map_err(|e| eyre!("ledger: {e}"))?;
        if tip.height == coinjecture_primitives::Height(0) {
            crate::state_sync::join(&ledger, &p2p, &state_sync).await?;
        } else {
            tracing::info!(
                height = tip.height.get(),
                "state sync: the ledger holds blocks already; following from its tip"
            );
            state_sync.set_not_needed(tip.height);
        }
    }

    // The consensus service, as `service consensus` starts it (coinjecture_consensus::service::run):
    // validated gossip in from the gateway, the ledger and the gateway as its ports.
    let gateway: Arc<dyn GatewayPort> = Arc::new(p2p.clone());
    let driver_config = driver_config(config, block_limits)?;
    let ledger_port: Arc<dyn coinjecture_proto::ports::ledger::LedgerPort> = ledger.clone();
    let started = if crate::equivocate::enabled() {
        tracing::warn!("TEST ONLY: this validator equivocates on every vote ({})", crate::equivocate::FLAG);
        let twin_key = coinjecture_crypto_core::signatures::Keypair::from_seed(&key.seed());
        let network = crate::equivocate::Equivocating::new(p2p.clone(), twin_key);
        coinjecture_consensus::service::run(driver_config, key, ledger_port, gateway, network, Duration::ZERO).await
    } else {
        coinjecture_consensus::service::run(driver_config, key, ledger_port, gateway, p2p.clone(), Duration::ZERO).await
    }
    .map_err(|e| eyre!("consensus: {e}"))?;
    let coinjecture_consensus::service::Running { handle: consensus, driver: driver_task, gossip_in } = started;

    let mut tasks = vec![
        attest_task,
        tokio::spawn(async move {
            let _ = gossip_in.await;
            eyre::Ok(())
        }),
        tokio::spawn(async move {
            p2p_task.await.map_err(|e| eyre!("p2p task: {e}"))?;
            Ok(())
        }),
        tokio::spawn(async move {
            match driver_task.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(eyre!("consensus stopped: {e}")),
                Err(e) => Err(eyre!("consensus task: {e}")),
            }
        }),
    ];

    // Node metrics beside the gateway's: height, blocks produced, mempool, from the driver.
    register_node_metrics(&registry, network_label(config), consensus.watch(), &mut tasks);

    // The public API (REST + PublicApi gRPC) on api.port.
    let api_listener = crate::limits::listen("api", config.api.address(), "api.port", &config.api.limits).await?;
    crate::limits::register_metrics(&registry, &api_listener);
    let backends = coinjecture_api::Backends::new(ledger.clone(), consensus.clone())
        .with_peers(p2p.clone())
        .with_tip_updates(consensus.watch());
    let mut api_config = api_config(config, registry.clone());
    let progress = Arc::clone(&state_sync);
    api_config.state_sync = Some(Arc::new(move || progress.status()));
    tasks.push(tokio::spawn(async move {
        coinjecture_api::run(api_config, backends, api_listener, std::future::pending())
            .await
            .map_err(|e| eyre!("api: {e}"))
    }));

    if let Some(port) = config.api.grpc_port {
        // Loopback unless configured otherwise; off loopback only with mutual TLS (validated).
        let addr = SocketAddr::new(config.api.grpc_bind, port);
        let tls = crate::tls::server_tls(config)?;
        let listener = crate::limits::listen("internal gRPC", addr, "api.grpc_port", &config.api.limits).await?;
        crate::limits::register_metrics(&registry, &listener);
        tracing::info!(%addr, mutual_tls = tls.is_some(), "internal gRPC port listening");
        let streams = config.api.limits.max_streams_per_connection;
        // Ledger, Consensus, P2pGateway and CryptoCore, served as `service <name>` serves each.
        let services = crate::split::GrpcServices::one(LedgerService::new(ledger.clone()).into_server())
            .and(coinjecture_consensus::service::server(consensus.clone()))
            .and(coinjecture_p2p_gateway::P2pGatewayService::new(p2p.clone()).into_server())
            .and(coinjecture_crypto_core::service::run());
        tasks.push(tokio::spawn(crate::split::serve_grpc(listener, tls, streams, services, std::future::pending())));
    }

    Ok(RunningNode { ledger, consensus, p2p, tasks })
}

/// The consensus driver's settings from the node's config (one process and `service consensus`).
/// `block_limits`: the genesis's (`network.genesis`).
pub(crate) fn driver_config(
    config: &Config,
    block_limits: coinjecture_primitives::BlockLimits,
) -> eyre::Result<DriverConfig> {
    let block_time_ms = u64::try_from(config.consensus.block_time.as_millis()).unwrap_or(2000);
    let mut engine = EngineConfig::with_block_time(genesis_chain(config)?, block_time_ms);
    engine.max_future_drift_ms = config.consensus.max_future_drift_ms(engine.block_time_ms)?;
    Ok(DriverConfig {
        engine,
        schedule: config.validator_schedule()?,
        mempool: config.mempool.config()?,
        max_block_transactions: coinjecture_primitives::limits::MAX_BLOCK_TRANSACTIONS,
        block_limits,
        proposal_budget: config.consensus.proposal_budget()?,
        // Beside the database: one validator, one database, one signing state.
        sign_state_path: config.database.path.with_extension("sign_state"),
        network_label: config.network.name.clone(),
        unsafe_reset_signing_state: crate::safety_flags::reset_signing_state(),
        tx_journal: crate::safety_flags::tx_journal(),
        compact_proposals: config.consensus.compact_proposals,
    })
}

/// A process's metrics registry.
pub(crate) type Registry = Arc<Mutex<prometheus_client::registry::Registry>>;

/// A registry holding the gRPC server latencies (`coinjecture_rpc_duration_seconds`), which
/// every service records, the ledger's corrupt-read counter, the `process_*` metrics and
/// `coinjecture_build_info`.
pub(crate) fn new_registry() -> Registry {
    let mut registry = prometheus_client::registry::Registry::default();
    coinjecture_proto::server::register_metrics(&mut registry);
    coinjecture_ledger::register_metrics(&mut registry);
    crate::process_metrics::register(&mut registry);
    Arc::new(Mutex::new(registry))
}

/// `registry` in Prometheus text (what `/metrics` serves).
pub(crate) fn metrics_text(registry: &Registry) -> String {
    let mut text = String::new();
    if let Ok(registry) = registry.lock() {
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    }
    text
}

/// The api's settings: the network label, and `/metrics` serving `registry` in Prometheus text.
pub(crate) fn api_config(config: &Config, registry: Registry) -> coinjecture_api::ApiConfig {
    let registry_for_refusals = registry.clone();
    let metrics: coinjecture_api::MetricsFn = Arc::new(move || metrics_text(&registry));
    let mut api = coinjecture_api::ApiConfig {
        network_label: Some(config.network.name.clone()),
        metrics: Some(metrics),
        ..Default::default()
    };
    crate::limits::apply_api(config, &mut api);
    if let Ok(mut r) = registry_for_refusals.lock() {
        r.register_collector(Box::new(RefusalMetrics(std::sync::Arc::clone(&api.refusals))));
    }
    api
}

/// The value of every metric's `network` label: the chain id (`network.id`, e.g.
/// `coinjecture-devnet`), which is in the genesis and the signing bytes, so two chains scraped by
/// one Prometheus never share it (the display name `network.name`, e.g. `devnet`, may repeat). The
/// p2p gateway labels its metrics with the same id.
pub(crate) fn network_label(config: &Config) -> &str {
    config.network.id.as_str()
}

type Labels = Vec<(String, String)>;
type CounterFamily = prometheus_client::metrics::family::Family<Labels, prometheus_client::metrics::counter::Counter>;
type GaugeFamily = prometheus_client::metrics::family::Family<Labels, prometheus_client::metrics::gauge::Gauge>;

/// Raises a counter to `total` (a running total the driver reports; counters never go down).
fn raise_to(counter: &prometheus_client::metrics::counter::Counter, total: u64) {
    let now = counter.get();
    if total > now {
        counter.inc_by(total - now);
    }
}

/// `coinjecture_api_refusals_total{reason}`: requests the API's admission refused since start
/// (`coinjecture_api::RefusalReason` names the reasons), read from its counters on each scrape.
#[derive(Debug)]
struct RefusalMetrics(Arc<coinjecture_api::Refusals>);

impl prometheus_client::collector::Collector for RefusalMetrics {
    fn encode(&self, mut encoder: prometheus_client::encoding::DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        let mut family = encoder.encode_descriptor(
            "coinjecture_api_refusals",
            "Requests the API refused at admission (429 / RESOURCE_EXHAUSTED, or 413), by reason, since start",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (reason, count) in self.0.snapshot() {
            let labels = [("reason", reason.label())];
            prometheus_client::metrics::counter::ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// `coinjecture_block_height`, `coinjecture_validator_blocks_produced_total`,
/// `coinjecture_mempool_transactions`, `coinjecture_consensus_dropped_messages_total` (label
/// `network`: [`network_label`]), updated on every driver status change.
pub(crate) fn register_node_metrics(
    registry: &Registry,
    network: &str,
    mut status: tokio::sync::watch::Receiver<driver::DriverStatus>,
    tasks: &mut Vec<tokio::task::JoinHandle<eyre::Result<()>>>,
) {
    let height = GaugeFamily::default();
    let produced = CounterFamily::default();
    let mempool = GaugeFamily::default();
    let dropped = CounterFamily::default();
    let fill_stops = CounterFamily::default();
    let block_transactions = GaugeFamily::default();
    let safety = SafetyMetrics::default();
    let proposals = ProposalMetrics::default();
    let production: prometheus_client::metrics::family::Family<
        Labels,
        prometheus_client::metrics::histogram::Histogram,
    > = prometheus_client::metrics::family::Family::new_with_constructor(|| {
        prometheus_client::metrics::histogram::Histogram::new([
            0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ])
    });
    if let Ok(mut r) = registry.lock() {
        r.register("coinjecture_block_height", "Height of the latest finalized block", height.clone());
        r.register(
            "coinjecture_validator_blocks_produced",
            "Blocks this validator proposed that were finalized",
            produced.clone(),
        );
        r.register("coinjecture_mempool_transactions", "Transactions waiting in the mempool", mempool.clone());
        r.register("coinjecture_consensus_dropped_messages", "Consensus inputs dropped, by reason", dropped.clone());
        r.register(
            "coinjecture_block_fill_stopped",
            "Blocks this validator built, by what ended their filling: empty (the mempool), gas or bytes (the \
             chain's block limits), time (consensus.proposal_budget), transactions (the 50,000 decoder bound)",
            fill_stops.clone(),
        );
        r.register(
            "coinjecture_block_built_transactions",
            "Transactions in the last block this validator built",
            block_transactions.clone(),
        );
        r.register(
            "coinjecture_block_production_duration_seconds",
            "Time to build a proposed block (mempool selection and draft execution)",
            production.clone(),
        );
        safety.register(&mut r);
        proposals.register(&mut r);
    }
    let label = vec![("network".to_string(), network.to_string())];
    // Present from the start (0), so rates and alerts see the series before the first event.
    drop(produced.get_or_create(&label));
    for reason in ["empty", "gas", "bytes", "time", "transactions"] {
        let mut l = label.clone();
        l.push(("reason".to_string(), reason.to_string()));
        drop(fill_stops.get_or_create(&l));
    }
    tasks.push(tokio::spawn(async move {
        let mut built = 0;
        while status.changed().await.is_ok() {
            let s = status.borrow_and_update().clone();
            if s.blocks_built > built {
                built = s.blocks_built;
                production.get_or_create(&label).observe(s.last_build_seconds);
                block_transactions
                    .get_or_create(&label)
                    .set(i64::try_from(s.last_build_transactions).unwrap_or(i64::MAX));
            }
            for (reason, n) in &s.fill_stops {
                let mut l = label.clone();
                l.push(("reason".to_string(), (*reason).to_string()));
                raise_to(&fill_stops.get_or_create(&l), *n);
            }
            height.get_or_create(&label).set(i64::try_from(s.finalized_height).unwrap_or(i64::MAX));
            raise_to(&produced.get_or_create(&label), s.blocks_produced);
            mempool.get_or_create(&label).set(i64::try_from(s.mempool_size).unwrap_or(i64::MAX));
            for (reason, n) in &s.dropped {
                let mut l = label.clone();
                l.push(("reason".to_string(), reason.clone()));
                raise_to(&dropped.get_or_create(&l), *n);
            }
            safety.update(&label, &s);
            proposals.update(&label, &s);
        }
        Ok(())
    }));
}

type HistogramFamily =
    prometheus_client::metrics::family::Family<Labels, prometheus_client::metrics::histogram::Histogram>;

/// Compact proposals (issue #24 item 1), as metrics (label `network`, and `form`: `compact` or
/// `full`): the bytes of each proposal this validator published beside its block's transaction
/// bytes, and propagation: from the proposer's publish (its signed `timestamp_ms`) to the
/// complete block here (received full, or rebuilt from the mempool and fetched transactions).
struct ProposalMetrics {
    bytes: HistogramFamily,
    block_bytes: HistogramFamily,
    propagation: HistogramFamily,
    fetched: CounterFamily,
    requests: CounterFamily,
    mismatches: CounterFamily,
    answers: CounterFamily,
}

impl Default for ProposalMetrics {
    fn default() -> Self {
        use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
        let sizes: fn() -> Histogram = || Histogram::new(exponential_buckets(256.0, 4.0, 10));
        let seconds: fn() -> Histogram =
            || Histogram::new([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0]);
        Self {
            bytes: HistogramFamily::new_with_constructor(sizes),
            block_bytes: HistogramFamily::new_with_constructor(sizes),
            propagation: HistogramFamily::new_with_constructor(seconds),
            fetched: CounterFamily::default(),
            requests: CounterFamily::default(),
            mismatches: CounterFamily::default(),
            answers: CounterFamily::default(),
        }
    }
}

impl ProposalMetrics {
    fn register(&self, r: &mut prometheus_client::registry::Registry) {
        r.register(
            "coinjecture_proposal_bytes",
            "Gossip payload bytes of each proposal this validator published, by form (compact: header and transaction hashes; full: every transaction)",
            self.bytes.clone(),
        );
        r.register(
            "coinjecture_proposal_block_bytes",
            "Encoded transaction bytes of the blocks this validator proposed (what a full proposal carries)",
            self.block_bytes.clone(),
        );
        r.register(
            "coinjecture_proposal_propagation_seconds",
            "From the proposer's publish (its signed timestamp) to the complete block here (received full, or rebuilt from the mempool and fetched transactions), by form",
            self.propagation.clone(),
        );
        r.register(
            "coinjecture_proposal_fetched_transactions",
            "Transactions of compact proposals that this validator did not hold and got from peers",
            self.fetched.clone(),
        );
        r.register(
            "coinjecture_proposal_requests",
            "Requests this validator published while rebuilding compact proposals, by kind (transactions, full_block)",
            self.requests.clone(),
        );
        r.register(
            "coinjecture_proposal_merkle_mismatches",
            "Compact proposals dropped because their transaction hashes did not give the header's Merkle root",
            self.mismatches.clone(),
        );
        r.register(
            "coinjecture_proposal_answers",
            "Peers' requests for transactions or full proposals this node answered",
            self.answers.clone(),
        );
    }

    fn update(&self, label: &Labels, s: &driver::DriverStatus) {
        use std::sync::atomic::Ordering::Relaxed;
        let form = |compact: bool| {
            let mut l = label.clone();
            l.push(("form".to_string(), if compact { "compact" } else { "full" }.to_string()));
            l
        };
        for sample in s.proposals.drain() {
            match sample {
                driver::ProposalSample::Published { compact, bytes, block_bytes } => {
                    self.bytes.get_or_create(&form(compact)).observe(bytes as f64);
                    self.block_bytes.get_or_create(label).observe(block_bytes as f64);
                }
                driver::ProposalSample::Received { compact, seconds, fetched } => {
                    self.propagation.get_or_create(&form(compact)).observe(seconds);
                    self.fetched.get_or_create(label).inc_by(fetched as u64);
                }
            }
        }
        let p = &s.proposals;
        for (kind, total) in [
            ("transactions", p.transaction_requests.load(Relaxed)),
            ("full_block", p.full_block_requests.load(Relaxed)),
        ] {
            let mut l = label.clone();
            l.push(("kind".to_string(), kind.to_string()));
            raise_to(&self.requests.get_or_create(&l), total);
        }
        raise_to(&self.mismatches.get_or_create(label), p.merkle_mismatches.load(Relaxed));
        raise_to(&self.answers.get_or_create(label), p.answers.load(Relaxed));
    }
}

/// Signing pauses and the transaction journal, as metrics (label `network`).
#[derive(Default)]
struct SafetyMetrics {
    paused: GaugeFamily,
    persist_failures: CounterFamily,
    journal: [CounterFamily; 3],
    journal_bytes: GaugeFamily,
    journal_seconds: prometheus_client::metrics::family::Family<
        Labels,
        prometheus_client::metrics::counter::Counter<f64, std::sync::atomic::AtomicU64>,
    >,
}

impl SafetyMetrics {
    fn register(&self, r: &mut prometheus_client::registry::Registry) {
        r.register(
            "coinjecture_consensus_signing_paused",
            "1 while this validator does not sign (a safety file could not be written, or it waits for a height; the reason is on /v1/status)",
            self.paused.clone(),
        );
        r.register(
            "coinjecture_consensus_persist_failures",
            "Failed writes of the signing state or lock since start (each pauses signing until a retry succeeds)",
            self.persist_failures.clone(),
        );
        let names = [
            ("coinjecture_tx_journal_transactions", "Accepted transactions journaled (durable before the answer)"),
            ("coinjecture_tx_journal_syncs", "Group commits of the transaction journal (one fsync each)"),
            ("coinjecture_tx_journal_failures", "Journal writes that failed (their submitters got UNAVAILABLE)"),
        ];
        for ((name, help), family) in names.into_iter().zip(&self.journal) {
            r.register(name, help, family.clone());
        }
        r.register("coinjecture_tx_journal_bytes", "Size of the transaction journal file", self.journal_bytes.clone());
        r.register(
            "coinjecture_tx_journal_sync_seconds",
            "Time spent writing and syncing the transaction journal",
            self.journal_seconds.clone(),
        );
    }

    fn update(&self, label: &Labels, s: &driver::DriverStatus) {
        use std::sync::atomic::Ordering::Relaxed;
        self.paused.get_or_create(label).set(i64::from(s.signing_paused.is_some()));
        raise_to(&self.persist_failures.get_or_create(label), s.persist_failures);
        if let Some(j) = &s.journal {
            let totals = [j.transactions.load(Relaxed), j.syncs.load(Relaxed), j.failures.load(Relaxed)];
            for (family, total) in self.journal.iter().zip(totals) {
                raise_to(&family.get_or_create(label), total);
            }
            self.journal_bytes.get_or_create(label).set(i64::try_from(j.file_bytes.load(Relaxed)).unwrap_or(i64::MAX));
            let seconds = self.journal_seconds.get_or_create(label);
            let total = j.sync_micros.load(Relaxed) as f64 / 1e6;
            let now = seconds.get();
            if total > now {
                seconds.inc_by(total - now);
            }
        }
    }
}

pub(crate) fn genesis_chain(config: &Config) -> eyre::Result<coinjecture_primitives::ChainId> {
    Ok(config.network.id.clone())
}

/// Runs the golden vectors against the crypto-core this node uses and refuses to start on any
/// mismatch (`rust.verify_golden_vectors`).
pub(crate) async fn verify_golden_vectors(config: &Config) -> eyre::Result<()> {
    let (total, failed): (usize, Vec<String>) = match &config.crypto_core {
        None => {
            let results = coinjecture_crypto_core::golden::run_embedded();
            (
                results.len(),
                results.into_iter().filter(|r| !r.passed).map(|r| format!("{}/{}", r.file, r.name)).collect(),
            )
        }
        Some(cc) => {
            let channel = crate::tls::endpoint(&cc.endpoint, "crypto_core.endpoint", config)?
                .connect()
                .await
                .map_err(|e| eyre!("crypto_core.endpoint: {e}"))?;
            let mut client =
                pb::crypto_core_client::CryptoCoreClient::new(channel).max_decoding_message_size(64 * 1024 * 1024);
            let report = client
                .golden_vectors_self_test(pb::GoldenVectorsSelfTestRequest::default())
                .await
                .map_err(|e| eyre!("crypto_core.endpoint: GoldenVectorsSelfTest: {}", e.message()))?
                .into_inner();
            let failed = report
                .results
                .into_iter()
                .filter(|r| !r.passed)
                .map(|r| format!("{}/{}", r.file, r.case_name))
                .collect();
            (report.total as usize, failed)
        }
    };
    // The local library must agree too, and the service must run every vector we know.
    let expected = coinjecture_crypto_core::golden::run_embedded().len();
    if !failed.is_empty() {
        bail!("rust.verify_golden_vectors: {} of {total} golden vectors fail: {}", failed.len(), failed.join(", "));
    }
    if total != expected {
        bail!("rust.verify_golden_vectors: crypto-core ran {total} golden vectors, this node knows {expected}");
    }
    tracing::info!(vectors = total, "golden vectors verified");
    Ok(())
}
