//! [`ApiConfig`]: what the node tells the API about itself and the limits it applies.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use coinjecture_primitives::limits::MAX_MESSAGE_BYTES;

use crate::rate_limit::{ConcurrencyLimits, RateLimit, Refusals};

/// Produces the Prometheus exposition served at `/metrics` (the node passes its registry's
/// encoder). Called once per scrape.
pub type MetricsFn = Arc<dyn Fn() -> String + Send + Sync>;

/// The API's configuration.
#[derive(Clone)]
pub struct ApiConfig {
    /// The network's label from the node config (e.g. `"A"`), shown as `network` in
    /// `/v1/status`; `None` shows `null`.
    pub network_label: Option<String>,
    /// Software version reported by `/v1/status` and `GetStatus`.
    pub version: String,
    /// Largest REST request body, bytes (default 16 MiB); larger ones get 413. gRPC messages
    /// are limited to 16 MiB + 64 KiB regardless.
    pub max_body_bytes: usize,
    /// Most transactions per `POST /v1/transactions` (default and maximum 10,000).
    pub max_rest_batch: usize,
    /// Per-IP budget of work units over REST and gRPC (see `rate_limit`: a request costs 1, a
    /// submitted transaction 0.1, 64 KiB of body or blocks 1); `None` disables rate limiting.
    pub rate_limit: Option<RateLimit>,
    /// The budget of all clients together (with a reserve for light clients); `None`: none.
    pub global_rate_limit: Option<RateLimit>,
    /// Requests in flight and `StreamBlocks` streams, per IP and globally.
    pub concurrency: ConcurrencyLimits,
    /// Largest `ListBlocks` answer, bytes (at least one block is always returned).
    pub max_list_bytes: usize,
    /// Origins allowed to `POST /v1/transactions` from a browser (exact, e.g.
    /// `https://wallet.example`); empty allows any. GETs are allowed from any origin.
    pub cors_origins: Vec<String>,
    /// Longest a REST request may take before a 504 (gRPC calls are bounded by the client's
    /// deadline; `StreamBlocks` runs until cancelled).
    pub request_timeout: Duration,
    /// On shutdown, how long open connections get to finish before they are dropped.
    pub shutdown_grace: Duration,
    /// `/metrics` text; `None` answers 404.
    pub metrics: Option<MetricsFn>,
    /// Where admission counts the requests it refuses, by reason (for the caller to export).
    pub refusals: Arc<Refusals>,
    /// What `/v1/status` reports as `state_sync` (how this node joined; `None`: the key is null).
    pub state_sync: Option<StateSyncFn>,
}

/// The `state_sync` object of `/v1/status`.
pub type StateSyncFn = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            network_label: None,
            version: env!("CARGO_PKG_VERSION").to_string(),
            max_body_bytes: MAX_MESSAGE_BYTES,
            max_rest_batch: crate::json::MAX_REST_BATCH,
            rate_limit: Some(RateLimit::default()),
            global_rate_limit: Some(RateLimit::global_default()),
            concurrency: ConcurrencyLimits::default(),
            max_list_bytes: 4 * 1024 * 1024,
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
            metrics: None,
            refusals: Arc::default(),
            state_sync: None,
        }
    }
}

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("network_label", &self.network_label)
            .field("version", &self.version)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_rest_batch", &self.max_rest_batch)
            .field("rate_limit", &self.rate_limit)
            .field("global_rate_limit", &self.global_rate_limit)
            .field("concurrency", &self.concurrency)
            .field("max_list_bytes", &self.max_list_bytes)
            .field("cors_origins", &self.cors_origins)
            .field("request_timeout", &self.request_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}
