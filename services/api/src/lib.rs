//! # coinjecture-api
//!
//! The node's public face: the `PublicApi` gRPC service (`proto/coinjecture/v1/api.proto`) and a
//! REST/JSON gateway that mirrors it, **on one port** (`api.port`): requests with
//! `content-type: application/grpc*` over HTTP/2 go to tonic, everything else to the axum
//! routes. The same port serves gRPC health (`grpc.health.v1`) and reflection (v1 and
//! v1alpha), the OpenAPI document, a static block explorer at `/` and the node's `/metrics`.
//! The API owns no state: it answers from the ledger, consensus and p2p-gateway.
//!
//! ## Bird's eye view
//!
//! | module        | owns                                                                        |
//! |---------------|-----------------------------------------------------------------------------|
//! | [`backend`]   | [`Backends`]: the ledger, consensus and gateway ports (`LedgerPort`, `ConsensusPort`, `GatewayPort`) |
//! | `ledger_view` | the ledger port's answers as the wire messages the API embeds (the port's conversions) |
//! | `grpc`        | [`PublicApiService`]: every `PublicApi` RPC, the limits, `StreamBlocks`     |
//! | `rest`        | axum handlers calling the same `PublicApi` methods; [`ROUTES`]; middleware  |
//! | `json`        | JSON shapes out, transaction JSON in (field-named errors)                   |
//! | `health`      | `/health` and `/ready`: the readiness rule                                  |
//! | `peer_id`     | a validator's libp2p peer id from its ed25519 key                           |
//! | `rate_limit`  | admission by cost: per-IP and global token buckets ([`RateLimit`]), requests in flight and streams ([`ConcurrencyLimits`]) |
//! | [`ApiConfig`] | network label, version, limits, CORS origins, the `/metrics` closure        |
//!
//! ## Calling the other services
//!
//! The ledger, consensus and the p2p-gateway through their ports (`coinjecture_proto::ports::{ledger,
//! consensus, gateway}`): the `Ledger`, the running driver and the swarm's handle themselves in one
//! process; `RemoteLedger` ([`connect_ledger`]), `RemoteConsensus` and `RemoteGateway` split
//! (ARCHITECTURE.md §1). Upstream failures are reported as 503 / `UNAVAILABLE` naming the service; rule answers
//! (`INVALID_ARGUMENT`, `NOT_FOUND`, `FAILED_PRECONDITION`) pass through.
//!
//! Wiring in the one-process node (`ledger: Arc<Ledger>`; the driver's handle and the gateway's
//! handle implement their ports):
//!
//! ```text
//! let backends = Backends::new(ledger, driver_handle.clone())
//!     .with_peers(p2p_handle.clone())
//!     .with_tip_updates(driver_handle.watch()); // optional: StreamBlocks wakes on changes
//! coinjecture_api::run(ApiConfig { network_label: Some("A".into()), metrics: Some(encoder), ..Default::default() },
//!     backends, TcpListener::bind(("0.0.0.0", api.port)).await?, shutdown).await?;
//! ```
//!
//! and in the split deployment `Backends::new(connect_ledger(url)?, RemoteConsensus::from_url(url)?)
//! .with_peers(RemoteGateway::from_url(url)?)`.
//!
//! ## REST
//!
//! JSON everywhere; byte strings are lower-case hex; integers are JSON numbers (transaction
//! input also accepts decimal strings, for values above 2^53). Errors are
//! `{"code": "...", "message": "..."}`: 400 `invalid_argument` (the message starts with the
//! field or parameter; echoed input is clipped), 404 `not_found` / `no_route`, 405, 413
//! `payload_too_large`, 415 `unsupported_media_type` (a POST that is not `application/json`), 429
//! `rate_limited` (with `Retry-After`), 503 `unavailable` / `failed_precondition`, 504 `timeout`.
//! The routes are in [`ROUTES`] and described in `static/openapi.json` (served at
//! `/v1/openapi.json`). `GET /v1/blocks` lists newest first unless `order=asc`; `latest` stands
//! for the tip's height in `/v1/blocks/latest`, `from=` and the validators' `height=`.
//! `GET /health` (liveness) and `GET /ready` (readiness, 503 naming why not) are in `health`.
//!
//! `POST /v1/transactions` takes one transaction (JSON fields or `{"raw": "<hex of the
//! canonical v4 encoding>"}`, so a client can submit exactly the bytes it signed) or
//! `{"transactions": [...]}` (≤ 10,000). It answers 202 when every transaction entered the
//! mempool, else 200 with a verdict per item (`{tx_hash, accepted, reason, message}`); a
//! malformed item of a batch is a `MALFORMED` verdict naming `transactions[i].field`, a malformed
//! single transaction is a 400.
//!
//! ## Limits
//!
//! REST bodies ≤ 16 MiB ([`ApiConfig::max_body_bytes`]), REST requests ≤ 30 s; gRPC messages
//! ≤ 16 MiB + 64 KiB; admission charged by work, per IP and globally ([`RateLimit`]: a request
//! 1 unit, a submitted transaction 0.1, a block listed 1 (a header 0.1), 64 KiB of body or
//! blocks 1; gRPC callers get
//! `RESOURCE_EXHAUSTED`, REST 429 with `Retry-After`); requests in flight and `StreamBlocks`
//! streams capped per IP and globally ([`ConcurrencyLimits`]); `ListBlocks` answers ≤
//! [`ApiConfig::max_list_bytes`]; connections capped and timed out by the listener
//! ([`ConnectionLimits`]). CORS: GETs from any origin, the submission from
//! [`ApiConfig::cors_origins`] (empty: any). None of it panics on bad input.
//!
//! ## Shutdown
//!
//! [`run`] stops accepting when its `shutdown` future completes, ends open `StreamBlocks`
//! streams with `UNAVAILABLE` ("resume from height N"), and gives in-flight requests
//! [`ApiConfig::shutdown_grace`] to finish.

pub mod backend;
mod config;
mod error;
pub mod exposition;
mod grpc;
mod health;
mod json;
mod ledger_view;
mod peer_id;
mod rate_limit;
mod rest;
mod time;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use coinjecture_proto::v1::public_api_server::PublicApiServer;

pub use backend::{Backends, TipUpdates, connect_ledger};
pub use coinjecture_listener::{FdBudget, LimitedListener, Limits as ConnectionLimits};
pub use config::{ApiConfig, MetricsFn, StateSyncFn};
pub use error::{ApiError, RestError};
pub use grpc::{DEFAULT_BLOCK_PAGE, MAX_BLOCK_PAGE, MAX_HISTORY_PAGE, PublicApiService};
pub use json::MAX_REST_BATCH;
pub use rate_limit::{ConcurrencyLimits, RateLimit, RefusalReason, Refusals};
pub use rest::{EXPLORER_HTML, OPENAPI_JSON, ROUTES};

/// The whole API as one axum router (REST, gRPC with health and reflection, rate limit), for
/// [`run`] or for embedding. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` (the rate limit keys on the peer IP)
/// and HTTP/2 enabled (gRPC).
pub async fn router(config: ApiConfig, service: PublicApiService) -> Result<Router, ApiError> {
    let config = Arc::new(config);
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<PublicApiServer<PublicApiService>>().await;
    let mut grpc = tonic::service::Routes::new(health).add_service(service.clone().into_server());
    // Reflection lists what this port serves: PublicApi (plus health and reflection).
    let reflection =
        || coinjecture_proto::server::reflection_builder(&[coinjecture_proto::v1::public_api_server::SERVICE_NAME]);
    // v1 for current tools, v1alpha for older grpcurl and clients.
    match reflection().build_v1() {
        Ok(r) => grpc = grpc.add_service(r),
        Err(e) => tracing::warn!(error = %e, "gRPC reflection (v1) unavailable"),
    }
    match reflection().build_v1alpha() {
        Ok(r) => grpc = grpc.add_service(r),
        Err(e) => tracing::warn!(error = %e, "gRPC reflection (v1alpha) unavailable"),
    }
    // gRPC calls get the same span and latency metric as every other gRPC server of the node.
    let grpc = grpc.prepare().into_axum_router().layer(coinjecture_proto::server::RpcLayer);
    let admission = service.admission_or(|| {
        rate_limit::Admission::new(
            config.rate_limit,
            config.global_rate_limit,
            config.concurrency,
            Arc::clone(&config.refusals),
        )
    });
    service.set_max_list_bytes(config.max_list_bytes);
    let mut app = grpc.merge(rest::routes(service, Arc::clone(&config))?);
    app = app.fallback(rest::fallback);
    app = app.layer(axum::middleware::from_fn_with_state(admission, rest::admit));
    Ok(app.layer(axum::middleware::from_fn(rest::log_request)))
}

/// Runs the api service, the same in one process and split: serves the API (REST and gRPC on
/// `listener`'s port, the public edge, so it serves itself rather than through the node's
/// internal gRPC builder) until `shutdown` completes; then ends block streams and waits up to
/// [`ApiConfig::shutdown_grace`] for in-flight requests. `config` holds its settings, `backends`
/// its ports (the services themselves in one process, their remote implementations split). A
/// plain `TcpListener` gets the default [`ConnectionLimits`] and no file-descriptor budget; a
/// node passes a [`LimitedListener`] with its configured limits.
pub async fn run(
    config: ApiConfig,
    backends: Backends,
    listener: impl Into<LimitedListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ApiError> {
    let listener: LimitedListener = listener.into();
    let grace = config.shutdown_grace;
    let service = PublicApiService::new(backends, config.version.clone());
    let app = router(config, service.clone()).await?;
    tracing::info!(addr = ?listener.local_addr().ok(), "api serving REST and gRPC (PublicApi, health, reflection)");

    let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
    let streams = service.clone();
    let signal = async move {
        shutdown.await;
        streams.end_streams();
        stopping_tx.send_replace(true);
    };
    // tap_io: the connect info (the peer address) of a custom listener.
    let listener = axum::serve::ListenerExt::tap_io(listener, |_| {});
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(signal)
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result.map_err(ApiError::Serve),
        _ = stopping.wait_for(|stop| *stop) => {}
    }
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result.map_err(ApiError::Serve),
        Err(_) => {
            tracing::warn!(grace = ?grace, "api: connections still open after the shutdown grace; closing them");
            Ok(())
        }
    }
}
