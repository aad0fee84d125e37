//! The REST/JSON gateway: axum handlers that call [`PublicApiService`]'s `PublicApi` methods in
//! process and render JSON ([`crate::json`]), plus the static explorer page, the OpenAPI document
//! and `/metrics`; and the middleware (rate limit, CORS, timeout, JSON errors).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::get_block_request::Selector;
use coinjecture_proto::v1::public_api_server::PublicApi;
use serde_json::{Value, json};
use tonic::Status;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tracing::Instrument as _;

use crate::config::ApiConfig;
use crate::error::{ApiError, RestError};
use crate::grpc::{DEFAULT_BLOCK_PAGE, Listing, MAX_BLOCK_PAGE, MAX_HISTORY_PAGE, PublicApiService};
use crate::json::{self, clip};
use crate::rate_limit::{Admission, cost};
use crate::time::rfc3339_millis;

/// Every route the gateway serves besides gRPC, as (method, path in OpenAPI form). The OpenAPI
/// document lists exactly these; a test checks the document and the router against this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/metrics"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/status"),
    ("GET", "/v1/blocks"),
    ("GET", "/v1/blocks/{height_or_hash}"),
    ("POST", "/v1/transactions"),
    ("GET", "/v1/transactions/{hash}"),
    ("GET", "/v1/accounts/{address}"),
    ("GET", "/v1/accounts/{address}/transactions"),
    ("GET", "/v1/validators"),
    ("GET", "/v1/mempool"),
];

/// The OpenAPI 3.0 document, written by hand (`services/api/static/openapi.json`).
pub const OPENAPI_JSON: &str = include_str!("../static/openapi.json");
/// The block explorer (`services/api/static/index.html`): HTML and vanilla JS, no build step.
pub const EXPLORER_HTML: &str = include_str!("../static/index.html");

/// Default and maximum page of account history over REST.
const DEFAULT_HISTORY_PAGE: u64 = 100;

#[derive(Debug, Clone)]
struct AppState {
    api: PublicApiService,
    config: Arc<ApiConfig>,
}

type RestResult = Result<Response, RestError>;

fn ok(value: Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

/// The REST routes with their middleware (CORS, JSON errors, timeout, body limit); rate limiting
/// is added around REST and gRPC together by [`crate::router`].
pub(crate) fn routes(api: PublicApiService, config: Arc<ApiConfig>) -> Result<Router, ApiError> {
    let submit_origins = if config.cors_origins.is_empty() {
        AllowOrigin::any()
    } else {
        let origins = config
            .cors_origins
            .iter()
            .map(|o| HeaderValue::from_str(o).map_err(|_| ApiError::CorsOrigin { origin: o.clone() }))
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(origins)
    };
    let reads = Router::new()
        .route("/", get(explorer))
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/status", get(status))
        .route("/v1/blocks", get(list_blocks))
        .route("/v1/blocks/{height_or_hash}", get(block))
        .route("/v1/transactions/{hash}", get(transaction))
        .route("/v1/accounts/{address}", get(account))
        .route("/v1/accounts/{address}/transactions", get(account_transactions))
        .route("/v1/validators", get(validators))
        .route("/v1/mempool", get(mempool))
        .layer(CorsLayer::new().allow_origin(Any).allow_methods([Method::GET, Method::HEAD]));
    let writes = Router::new().route("/v1/transactions", post(submit)).layer(
        CorsLayer::new()
            .allow_origin(submit_origins)
            .allow_methods([Method::POST])
            .allow_headers([header::CONTENT_TYPE]),
    );
    let timeout = config.request_timeout;
    let body_limit = config.max_body_bytes;
    Ok(reads
        .merge(writes)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(timeout, request_timeout))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(AppState { api, config }))
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/// The query parameters, refusing unknown and repeated ones (a typo like `?form=` would
/// otherwise be silently ignored).
fn params(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    allowed: &[&str],
) -> Result<HashMap<String, String>, RestError> {
    let Query(pairs) = query.map_err(|e| RestError::invalid(format!("query: {}", e.body_text())))?;
    let mut map = HashMap::new();
    for (name, value) in pairs {
        if !allowed.contains(&name.as_str()) {
            return Err(RestError::invalid(format!(
                "{}: unknown query parameter (this route takes {})",
                clip(&name),
                if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
            )));
        }
        if map.insert(name.clone(), value).is_some() {
            return Err(RestError::invalid(format!("{}: given more than once", clip(&name))));
        }
    }
    Ok(map)
}

fn param_u64(params: &HashMap<String, String>, name: &str) -> Result<Option<u64>, RestError> {
    params
        .get(name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                RestError::invalid(format!("{name}: expected a non-negative decimal integer, found {:?}", clip(v)))
            })
        })
        .transpose()
}

fn param_bool(params: &HashMap<String, String>, name: &str) -> Result<Option<bool>, RestError> {
    match params.get(name).map(String::as_str) {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(v) => Err(RestError::invalid(format!("{name}: expected true or false, found {:?}", clip(v)))),
    }
}

fn path_param(path: Result<Path<String>, PathRejection>) -> Result<String, RestError> {
    path.map(|Path(p)| p).map_err(|e| RestError::invalid(format!("path: {}", e.body_text())))
}

/// A 32-byte value given as 64 hex digits in the path or query.
fn hex32(value: &str, name: &str, what: &str) -> Result<Vec<u8>, RestError> {
    let digits = value.strip_prefix("0x").unwrap_or(value);
    match hex::decode(digits) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => Err(RestError::invalid(format!("{name}: expected 64 hex digits ({what}), found {:?}", clip(value)))),
    }
}

fn block_selector(id: &str) -> Result<Selector, RestError> {
    let digits = id.strip_prefix("0x").unwrap_or(id);
    if digits.len() == 64 {
        return hex32(id, "height_or_hash", "a 32-byte block hash").map(Selector::Hash);
    }
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        return id.parse::<u64>().map(Selector::Height).map_err(|_| {
            RestError::invalid(format!("height_or_hash: height {:?} is above the largest u64", clip(id)))
        });
    }
    Err(RestError::invalid(format!(
        "height_or_hash: expected a decimal height, a 64-hex-digit block hash or latest, found {:?}",
        clip(id)
    )))
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

async fn explorer() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], EXPLORER_HTML).into_response()
}

/// Liveness: the process serves HTTP (asks nothing else; see [`crate::health`]).
async fn health() -> Response {
    ok(json!({ "status": "ok" }))
}

/// Readiness: 200 or 503 with the reasons (the rule is in [`crate::health`]).
async fn ready(State(s): State<AppState>) -> Response {
    let (ready, body) = crate::health::readiness(&s.api).await;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    use crate::exposition::{OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, openmetrics_to_text, prefers_text};
    let Some(render) = &s.config.metrics else {
        return RestError::not_found("metrics: not enabled on this node").into_response();
    };
    let text = render();
    // The registry writes OpenMetrics (ending in "# EOF"); a scraper that prefers `text/plain`
    // gets the classic format derived from it. A renderer that writes the classic format already
    // is served as it is.
    let openmetrics = text.trim_end().ends_with("# EOF");
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let (content_type, body) = match (openmetrics, prefers_text(accept)) {
        (true, false) => (OPENMETRICS_CONTENT_TYPE, text),
        (true, true) => (TEXT_CONTENT_TYPE, openmetrics_to_text(&text)),
        (false, _) => (TEXT_CONTENT_TYPE, text),
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn status(State(s): State<AppState>, query: Result<Query<Vec<(String, String)>>, QueryRejection>) -> RestResult {
    params(query, &[])?;
    let detail = s.api.status_detail().await?;
    let st = detail.status;
    Ok(ok(json!({
        "network": s.config.network_label,
        "network_id": st.network_id,
        "chain_id": st.chain_id,
        "genesis_hash": hex::encode(&st.genesis_hash),
        "block_height": st.block_height,
        "oldest_block_height": st.oldest_block_height,
        "latest_block_hash": hex::encode(&st.latest_block_hash),
        "latest_block_time": rfc3339_millis(detail.latest_block_time_ms),
        "latest_block_time_ms": detail.latest_block_time_ms,
        "validator": json::hex_or_null(&st.validator),
        "peers": st.peers,
        "syncing": st.syncing,
        "signing_paused": (!st.signing_paused.is_empty()).then_some(&st.signing_paused),
        "mempool_size": detail.mempool_size,
        "state_sync": s.config.state_sync.as_ref().map(|f| f()),
        "version": st.version,
    })))
}

async fn block(State(s): State<AppState>, path: Result<Path<String>, PathRejection>) -> RestResult {
    let id = path_param(path)?;
    let selector = if id == "latest" { Selector::Height(s.api.tip_height().await?) } else { block_selector(&id)? };
    let found = s.api.get_block(tonic::Request::new(pb::GetBlockRequest { selector: Some(selector) })).await?;
    Ok(ok(json::block(&found.into_inner().block.unwrap_or_default(), true)))
}

async fn list_blocks(
    State(s): State<AppState>,
    extensions: Extensions,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> RestResult {
    let p = params(query, &["from", "limit", "order", "full", "headers_only"])?;
    let limit = param_u64(&p, "limit")?.unwrap_or(u64::from(DEFAULT_BLOCK_PAGE));
    if limit == 0 || limit > u64::from(MAX_BLOCK_PAGE) {
        return Err(RestError::invalid(format!("limit: must be from 1 to {MAX_BLOCK_PAGE}, found {limit}")));
    }
    // Newest first unless asked otherwise.
    let descending = match p.get("order").map(String::as_str) {
        Some("asc") => false,
        None | Some("desc") => true,
        Some(other) => return Err(RestError::invalid(format!("order: must be asc or desc, found {:?}", clip(other)))),
    };
    let full = param_bool(&p, "full")?.unwrap_or(false);
    let headers_only = param_bool(&p, "headers_only")?.unwrap_or(false);
    if full && headers_only {
        return Err(RestError::invalid("headers_only: cannot be combined with full=true"));
    }
    // A summary shows the transactions' hashes, not the transactions: the ledger hashes them
    // without sending them; a headers-only listing reads the headers alone.
    let listing = match (full, headers_only) {
        (true, _) => Listing::Full,
        (false, false) => Listing::Hashes,
        (false, true) => Listing::Headers,
    };
    let request = pb::ListBlocksRequest {
        from_height: match p.get("from").map(String::as_str) {
            Some("latest") => Some(s.api.tip_height().await?),
            _ => param_u64(&p, "from")?,
        },
        limit: u32::try_from(limit).unwrap_or(MAX_BLOCK_PAGE),
        descending,
        headers_only,
    };
    let page = s.api.list(grpc_request(request, &extensions), listing).await?.into_inner();
    Ok(ok(json!({
        "blocks": page.blocks.iter().map(|b| json::block_shaped(b, full, !headers_only)).collect::<Vec<_>>(),
        "next_from": page.next_height,
    })))
}

async fn transaction(State(s): State<AppState>, path: Result<Path<String>, PathRejection>) -> RestResult {
    let tx_hash = hex32(&path_param(path)?, "hash", "a 32-byte transaction hash")?;
    let found = s.api.get_transaction(tonic::Request::new(pb::GetTransactionRequest { tx_hash })).await?;
    let found = found.into_inner().transaction.unwrap_or_default();
    Ok(ok(json::indexed_transaction(&found)))
}

async fn account(State(s): State<AppState>, path: Result<Path<String>, PathRejection>) -> RestResult {
    let address = hex32(&path_param(path)?, "address", "a 32-byte ed25519 public key")?;
    let found = s.api.get_account(tonic::Request::new(pb::GetAccountRequest { address: address.clone() })).await?;
    let found = found.into_inner();
    let account = found.account.unwrap_or(pb::Account { address, balance: 0, nonce: 0 });
    Ok(ok(json::account(&account, found.height)))
}

async fn account_transactions(
    State(s): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> RestResult {
    let address = hex32(&path_param(path)?, "address", "a 32-byte ed25519 public key")?;
    let p = params(query, &["cursor", "limit"])?;
    let limit = param_u64(&p, "limit")?.unwrap_or(DEFAULT_HISTORY_PAGE);
    if limit == 0 || limit > u64::from(MAX_HISTORY_PAGE) {
        return Err(RestError::invalid(format!("limit: must be from 1 to {MAX_HISTORY_PAGE}, found {limit}")));
    }
    let page_token = match p.get("cursor") {
        None => Vec::new(),
        Some(c) => json::hex_str(c, "cursor").map_err(|e| RestError::invalid(e.to_string()))?,
    };
    let request = pb::ListAccountTransactionsRequest {
        address: address.clone(),
        page_token,
        limit: u32::try_from(limit).unwrap_or(MAX_HISTORY_PAGE),
    };
    let page = s.api.list_account_transactions(tonic::Request::new(request)).await.map_err(|status| {
        // The REST name of the page token is `cursor`.
        let mut e = RestError::from(status);
        e.message = e.message.replace("page_token", "cursor");
        e
    })?;
    let page = page.into_inner();
    Ok(ok(json!({
        "address": hex::encode(&address),
        "transactions": page.transactions.iter().map(json::indexed_transaction).collect::<Vec<_>>(),
        "next_cursor": json::hex_or_null(&page.next_page_token),
    })))
}

async fn validators(
    State(s): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> RestResult {
    let p = params(query, &["height"])?;
    let height = match p.get("height").map(String::as_str) {
        Some("latest") => Some(s.api.tip_height().await?.max(1)),
        _ => param_u64(&p, "height")?,
    };
    let found = s.api.get_validators(tonic::Request::new(pb::GetValidatorsRequest { height })).await?.into_inner();
    let b = s.api.backends();
    let (peers, status) = tokio::join!(
        async {
            match &b.peers {
                Some(p) => p.peers().await.ok(),
                None => None,
            }
        },
        b.consensus.status()
    );
    let connected: Option<HashSet<String>> = peers.map(|p| p.into_iter().map(|p| p.peer_id).collect());
    let local = status.ok().and_then(|s| s.local_validator).map(|k| k.0.to_vec()).unwrap_or_default();
    Ok(ok(json::validator_set(&found.validator_set.unwrap_or_default(), found.height, connected.as_ref(), &local)))
}

async fn mempool(State(s): State<AppState>, query: Result<Query<Vec<(String, String)>>, QueryRejection>) -> RestResult {
    params(query, &[])?;
    Ok(ok(json::mempool(&s.api.mempool_stats().await?)))
}

/// `POST /v1/transactions`: one transaction (JSON fields or `{"raw": hex}`) or
/// `{"transactions": [...]}`. 202 when every transaction was accepted into the mempool, 200 with
/// the per-item verdicts otherwise; 400 when the body (or the single transaction) is malformed.
async fn submit(
    State(s): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    if !is_json(&headers) {
        let found = headers
            .get(header::CONTENT_TYPE)
            .map_or("none".to_string(), |v| clip(&String::from_utf8_lossy(v.as_bytes())));
        return Err(RestError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("content-type: expected application/json, found {found}"),
        ));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            s.api.count_refusal(crate::rate_limit::RefusalReason::BodyTooLarge);
            RestError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("body: larger than the limit of {} bytes", s.config.max_body_bytes),
            )
        } else {
            RestError::invalid(format!("body: {}", e.body_text()))
        }
    })?;
    let submission =
        json::parse_submission(&body, s.config.max_rest_batch).map_err(|e| RestError::invalid(e.to_string()))?;
    if submission.single
        && let Some(Err(e)) = submission.items.first()
    {
        return Err(RestError::invalid(e.to_string()));
    }
    let mut valid = Vec::with_capacity(submission.items.len());
    let mut results: Vec<Option<pb::TransactionResult>> = Vec::with_capacity(submission.items.len());
    for item in submission.items {
        match item {
            Ok(tx) => {
                valid.push(tx);
                results.push(None);
            }
            Err(e) => results.push(Some(pb::TransactionResult {
                tx_hash: Vec::new(),
                accepted: false,
                reason: pb::TxRejectReason::Malformed.into(),
                message: e.to_string(),
            })),
        }
    }
    let mut verdicts = if valid.is_empty() {
        Vec::new()
    } else {
        let request = pb::SubmitTransactionsRequest { transactions: valid };
        s.api.submit_transactions(grpc_request(request, &extensions)).await?.into_inner().results
    }
    .into_iter();
    let results: Vec<pb::TransactionResult> =
        results.into_iter().map(|r| r.or_else(|| verdicts.next()).unwrap_or_default()).collect();
    let accepted = results.iter().filter(|r| r.accepted).count();
    let status = if accepted == results.len() { StatusCode::ACCEPTED } else { StatusCode::OK };
    let body = json!({
        "results": results.iter().map(json::transaction_result).collect::<Vec<_>>(),
        "accepted_count": accepted,
    });
    Ok((status, axum::Json(body)).into_response())
}

/// Unknown paths: a JSON 404 (`no_route`), or `UNIMPLEMENTED` for a gRPC call.
pub(crate) async fn fallback(request: Request) -> Response {
    if is_grpc(request.headers()) {
        let path = request.uri().path().trim_start_matches('/');
        let (service, method) = path.split_once('/').unwrap_or((path, ""));
        return Status::unimplemented(coinjecture_proto::server::unserved_message(&clip(service), &clip(method)))
            .into_http();
    }
    RestError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!("{} {}: no such route (see /v1/openapi.json)", request.method(), clip(request.uri().path())),
    )
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Middleware
// ---------------------------------------------------------------------------------------------

/// `application/json` (parameters allowed) or a `+json` type.
fn is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        let essence = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
    })
}

/// A `PublicApi` request carrying the REST client's address, so the gRPC methods charge it.
fn grpc_request<T>(message: T, extensions: &Extensions) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(peer) = extensions.get::<ConnectInfo<SocketAddr>>() {
        request.extensions_mut().insert(*peer);
    }
    // The body was charged by `admit`.
    request.extensions_mut().insert(crate::grpc::BodyCharged);
    request
}

fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/grpc"))
}

/// Admission of every request, REST and gRPC: a slot among the requests in flight (per IP and
/// global) and the request's base cost plus its declared body size; 429 with `Retry-After`, or
/// `RESOURCE_EXHAUSTED`. The per-item costs (transactions, blocks) are charged by the handlers.
pub(crate) async fn admit(State(admission): State<Arc<Admission>>, request: Request, next: Next) -> Response {
    let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() else {
        // Not served from a socket (an in-process test): nothing to key on.
        return next.run(request).await;
    };
    let ip = peer.ip().to_canonical();
    let refuse = |request: &Request, message: String, retry: Option<u64>| {
        if is_grpc(request.headers()) {
            return Status::resource_exhausted(message).into_http();
        }
        let mut error = RestError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
        error.retry_after = Some(retry.unwrap_or(1));
        error.into_response()
    };
    let _slot = match admission.requests.take(ip) {
        Ok(slot) => slot,
        Err(message) => return refuse(&request, message, None),
    };
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok()).unwrap_or(0);
    if let Err(refusal) = admission.charge(ip, cost::REQUEST + cost::body(declared)) {
        let seconds = refusal.retry_after().as_secs_f64().ceil().max(1.0) as u64;
        return refuse(&request, refusal.message(ip), Some(seconds));
    }
    next.run(request).await
}

/// One debug line per request (method, path, status, time); server errors at warn. REST
/// requests also get an `info` trace span named after the route (`POST /v1/transactions`),
/// continuing a W3C `traceparent` sent by the client; gRPC calls get theirs from
/// `coinjecture_proto::server::RpcLayer`.
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let started = tokio::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let span = if is_grpc(request.headers()) {
        tracing::Span::none()
    } else {
        let route = request.extensions().get::<MatchedPath>().map_or(path.as_str(), MatchedPath::as_str);
        let span = tracing::info_span!(
            "http",
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            http.request.method = %method,
            http.route = %route,
            http.response.status_code = tracing::field::Empty,
        );
        let headers = request.headers();
        coinjecture_telemetry::set_remote_parent(&span, |name| headers.get(name).and_then(|v| v.to_str().ok()));
        span
    };
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if response.status().is_server_error() {
        tracing::warn!(%method, %path, status, elapsed_ms, "api request failed");
    } else {
        tracing::debug!(%method, %path, status, elapsed_ms, "api request");
    }
    response
}

async fn request_timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => RestError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!("the request took longer than {:.1} s", limit.as_secs_f64()),
        )
        .into_response(),
    }
}

/// Error answers that axum or a layer produced as plain text (405, extractor rejections, 413)
/// become `{"code", "message"}` like ours, keeping their status and headers (e.g. `Allow`).
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    let mut json_response = RestError::new(status, code, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json_response.headers_mut().append(name.clone(), value.clone());
        }
    }
    json_response
}
