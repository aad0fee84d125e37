//! `coinjectured service <name> --config FILE --listen ADDR`: one service of a node on its own
//! (one container each on Kubernetes). The services find each other through the `services:`
//! section of the config (gRPC URLs); they use the same generated contracts as in one process,
//! only over sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_ledger::GenesisConfig;
use coinjecture_proto::ports::gateway::RemoteGateway;
use coinjecture_proto::ports::ledger::{LedgerPort, RemoteLedger};
use eyre::{bail, eyre};

use crate::config::{self, Config};
use crate::node;

/// Which service to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ServiceName {
    /// Hashing, Merkle trees, encodings, signatures, subset-sum verification.
    CryptoCore,
    /// Durable chain state (SQLite).
    Ledger,
    /// libp2p networking.
    P2pGateway,
    /// The PoA engine and mempool.
    Consensus,
    /// Public REST + gRPC.
    Api,
}

/// The ledger at `services.ledger`, through its port (mutual TLS for an `https://` URL; connects
/// lazily).
fn remote_ledger(url: Option<&String>, config: &Config) -> eyre::Result<Arc<dyn LedgerPort>> {
    Ok(Arc::new(RemoteLedger::connect(endpoint(url, "ledger", config)?)))
}

/// The endpoint of `services.<key>` (mutual TLS for an `https://` URL), for the ports'
/// `Remote*::new` (which connect through `coinjecture_proto::client::connect`).
fn endpoint(url: Option<&String>, key: &str, config: &Config) -> eyre::Result<tonic::transport::Endpoint> {
    let url = url.ok_or_else(|| eyre!("services.{key}: needed to run this service on its own"))?;
    crate::tls::endpoint(url, &format!("services.{key}"), config)
}

/// The gRPC services one listener serves: one for a split service, four on a node's internal
/// port (`api.grpc_port`).
pub(crate) struct GrpcServices {
    routes: tonic::service::Routes,
    names: Vec<&'static str>,
}

impl GrpcServices {
    /// One service.
    pub(crate) fn one<S: GrpcService>(service: S) -> Self {
        Self { routes: tonic::service::Routes::new(service), names: vec![S::NAME] }
    }

    /// And another.
    pub(crate) fn and<S: GrpcService>(mut self, service: S) -> Self {
        self.routes = self.routes.add_service(service);
        self.names.push(S::NAME);
        self
    }
}

/// A generated tonic server (what [`GrpcServices`] holds).
pub(crate) trait GrpcService:
    tonic::codegen::Service<
        tonic::codegen::http::Request<tonic::body::Body>,
        Response = tonic::codegen::http::Response<tonic::body::Body>,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + tonic::server::NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> GrpcService for S where
    S: tonic::codegen::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
            Response = tonic::codegen::http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// Serves gRPC contracts on `listener` until `shutdown`, the same way for every service and the
/// node's internal port: health (`grpc.health.v1`, SERVING for each), reflection of these
/// services only, at most `streams` concurrent streams per connection, mutual TLS when `tls` is
/// given.
pub(crate) async fn serve_grpc(
    listener: coinjecture_api::LimitedListener,
    tls: Option<tonic::transport::ServerTlsConfig>,
    streams: u32,
    services: GrpcServices,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> eyre::Result<()> {
    let GrpcServices { routes, names } = services;
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in &names {
        health.set_service_status(*name, tonic_health::ServingStatus::Serving).await;
    }
    let label = names.join(", ");
    tracing::info!(addr = ?listener.local_addr().ok(), mutual_tls = tls.is_some(), service = %label, "serving gRPC");
    let mut routes = routes.add_service(health_service);
    if let Some(reflection) = coinjecture_proto::server::reflection(&names) {
        routes = routes.add_service(reflection);
    }
    crate::tls::builder(tls)?
        .max_concurrent_streams(streams)
        .add_routes(routes)
        .serve_with_incoming_shutdown(listener.into_incoming(), shutdown)
        .await
        .map_err(|e| eyre!("{label} server: {e}"))
}

/// Serves CryptoCore (with health and reflection) on `listener` until `shutdown`, over mutual
/// TLS when `tls` is given.
pub(crate) async fn serve_crypto_core(
    listener: coinjecture_api::LimitedListener,
    tls: Option<tonic::transport::ServerTlsConfig>,
    max_streams_per_connection: u32,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> eyre::Result<()> {
    let service = GrpcServices::one(coinjecture_crypto_core::service::run());
    serve_grpc(listener, tls, max_streams_per_connection, service, shutdown).await
}

/// Serves `GET /metrics` (Prometheus text of `registry`) on `addr`, when given
/// (`--metrics-listen`), until the returned guard is dropped.
pub(crate) async fn serve_metrics(
    addr: Option<SocketAddr>,
    registry: node::Registry,
    limits: &config::ApiLimitsSection,
) -> eyre::Result<Option<AbortOnDrop>> {
    let Some(addr) = addr else { return Ok(None) };
    let listener = crate::limits::listen("metrics", addr, "--metrics-listen", limits).await?;
    crate::limits::register_metrics(&registry, &listener);
    // OpenMetrics, or the classic text format for a scraper that prefers `text/plain` (as the
    // api's /metrics).
    let render = move |headers: axum::http::HeaderMap| {
        use coinjecture_api::exposition::{
            OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, openmetrics_to_text, prefers_text,
        };
        let text = node::metrics_text(&registry);
        let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok());
        if prefers_text(accept) {
            ([(axum::http::header::CONTENT_TYPE, TEXT_CONTENT_TYPE)], openmetrics_to_text(&text))
        } else {
            ([(axum::http::header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text)
        }
    };
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: axum::http::HeaderMap| std::future::ready(render(headers))),
    );
    tracing::info!(%addr, "serving /metrics");
    Ok(Some(AbortOnDrop(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the /metrics server stopped");
        }
    }))))
}

/// Aborts a background task when dropped.
pub(crate) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one service until `shutdown`; with `metrics_listen`, serves its `/metrics` there too.
pub(crate) async fn run(
    name: ServiceName,
    config: &Config,
    listen: SocketAddr,
    metrics_listen: Option<SocketAddr>,
    insecure_public: bool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> eyre::Result<()> {
    // Internal gRPC: loopback, or mutual TLS (the api's listener is api.port, the public edge).
    let tls = match name {
        ServiceName::Api => None,
        ServiceName::CryptoCore => crate::tls::listener_tls(Some(config), listen, Some(insecure_public))?,
        _ => crate::tls::listener_tls(Some(config), listen, None)?,
    };
    let services = config.services.clone().unwrap_or_default();
    let registry = node::new_registry();
    // Internal gRPC listeners take the same connection limits as the node's (api.limits).
    let listener_registry = registry.clone();
    let bind = |addr: SocketAddr, key: &'static str| {
        let registry = listener_registry.clone();
        async move {
            let listener = crate::limits::listen("internal gRPC", addr, key, &config.api.limits).await?;
            crate::limits::register_metrics(&registry, &listener);
            eyre::Ok(listener)
        }
    };
    let streams = config.api.limits.max_streams_per_connection;
    match name {
        ServiceName::CryptoCore => {
            let listener = bind(listen, "--listen").await?;
            let _metrics = serve_metrics(metrics_listen, registry, &config.api.limits).await?;
            serve_crypto_core(listener, tls, streams, shutdown).await?;
        }
        ServiceName::Ledger => {
            let genesis = GenesisConfig::load(&config.network.genesis).map_err(|e| eyre!("network.genesis: {e}"))?;
            let crypto = node::crypto_backend(config)?;
            if config.rust.verify_golden_vectors {
                node::verify_golden_vectors(config).await?;
            }
            let ledger = coinjecture_ledger::service::run(node::ledger_settings(config, genesis)?, crypto)
                .await
                .map_err(|e| eyre!("database.path: {e}"))?;
            if let Ok(mut r) = registry.lock() {
                crate::process_metrics::register_database(&mut r, &config.database.path);
            }
            let listener = bind(listen, "--listen").await?;
            let _metrics = serve_metrics(metrics_listen, registry, &config.api.limits).await?;
            let service = GrpcServices::one(coinjecture_ledger::LedgerService::new(ledger.clone()).into_server());
            let served = serve_grpc(listener, tls, streams, service, shutdown).await;
            ledger.close().await;
            served?;
        }
        ServiceName::P2pGateway => {
            let key = node::node_identity(config)?;
            let ledger = remote_ledger(services.ledger.as_ref(), config)?;
            let gateway = coinjecture_p2p_gateway::service::run(
                node::p2p_config(config, key.seed())?,
                ledger,
                Some(registry.clone()),
            )
            .await
            .map_err(|e| eyre!("p2p: {e}"))?;
            let listener = bind(listen, "--listen").await?;
            let _metrics = serve_metrics(metrics_listen, registry, &config.api.limits).await?;
            let served = serve_grpc(listener, tls, streams, GrpcServices::one(gateway.server()), shutdown).await;
            gateway.stop().await;
            served?;
        }
        ServiceName::Consensus => {
            let key = node::node_key(config)?;
            // The chain's block limits, which the proposer fills to (the ledger service enforces
            // the same ones: it is opened with the same genesis).
            let genesis = GenesisConfig::load(&config.network.genesis).map_err(|e| eyre!("network.genesis: {e}"))?;
            let ledger = remote_ledger(services.ledger.as_ref(), config)?;
            let gateway = RemoteGateway::new(endpoint(services.p2p_gateway.as_ref(), "p2p_gateway", config)?);
            // The same service as in one process (coinjecture_consensus::service::run), its ports
            // remote; the ledger may still be starting: it waits for it up to a minute.
            let coinjecture_consensus::service::Running { handle, driver: task, gossip_in: _gossip_in } =
                coinjecture_consensus::service::run(
                    node::driver_config(config, genesis.block_limits)?,
                    Keypair::from_seed(&key.seed()),
                    ledger,
                    Arc::new(gateway.clone()),
                    gateway,
                    Duration::from_secs(60),
                )
                .await
                .map_err(|e| eyre!("consensus: {e}"))?;
            // The node's metrics (height, blocks produced, mempool, drops, block production).
            let mut metric_tasks = Vec::new();
            node::register_node_metrics(&registry, node::network_label(config), handle.watch(), &mut metric_tasks);
            let _metrics = serve_metrics(metrics_listen, registry, &config.api.limits).await?;
            let listener = bind(listen, "--listen").await?;
            let server = serve_grpc(
                listener,
                tls,
                streams,
                GrpcServices::one(coinjecture_consensus::service::server(handle)),
                shutdown,
            );
            tokio::select! {
                r = server => r?,
                r = task => match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => bail!("consensus stopped: {e}"),
                    Err(e) => bail!("consensus task: {e}"),
                },
            }
        }
        ServiceName::Api => {
            // Upstreams over internal gRPC (mutual TLS for https:// URLs); lazy, so the api can
            // start before them and answers 503 until they are reachable.
            let backends = coinjecture_api::Backends::new(
                remote_ledger(services.ledger.as_ref(), config)?,
                coinjecture_proto::ports::consensus::RemoteConsensus::new(endpoint(
                    services.consensus.as_ref(),
                    "consensus",
                    config,
                )?),
            )
            .with_peers(RemoteGateway::new(endpoint(
                services.p2p_gateway.as_ref(),
                "p2p_gateway",
                config,
            )?));
            // /metrics of a lone api: its own gRPC latencies (coinjecture_rpc_duration_seconds).
            let _metrics = serve_metrics(metrics_listen, registry.clone(), &config.api.limits).await?;
            let listener = crate::limits::listen("api", config.api.address(), "api.port", &config.api.limits).await?;
            crate::limits::register_metrics(&registry, &listener);
            let api_config = node::api_config(config, registry);
            coinjecture_api::run(api_config, backends, listener, shutdown).await.map_err(|e| eyre!("api: {e}"))?;
        }
    }
    Ok(())
}
