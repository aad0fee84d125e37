//! The node's listening sockets under `api.limits`: one file-descriptor budget for the process
//! (the soft `RLIMIT_NOFILE` raised to the hard limit at the first use, minus
//! `api.limits.fd_reserve`), and every listener (public API, internal gRPC, `/metrics`) bound
//! through [`listen`] with the connection limits. See `coinjecture-listener`.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use coinjecture_api::{FdBudget, LimitedListener};
use eyre::WrapErr;

use crate::config::{ApiLimitsSection, Config};

/// The process's socket budget (made, and the file-descriptor limit raised and logged, on the
/// first call).
pub(crate) fn fd_budget(limits: &ApiLimitsSection) -> Arc<FdBudget> {
    static BUDGET: OnceLock<Arc<FdBudget>> = OnceLock::new();
    Arc::clone(BUDGET.get_or_init(|| FdBudget::from_rlimit(limits.fd_reserve)))
}

/// Binds `addr` with the configured connection limits; `key` names the setting in errors.
pub(crate) async fn listen(
    name: &'static str,
    addr: SocketAddr,
    key: &str,
    limits: &ApiLimitsSection,
) -> eyre::Result<LimitedListener> {
    let budget = fd_budget(limits);
    let limits = limits.connections()?;
    let listener =
        tokio::net::TcpListener::bind(addr).await.wrap_err_with(|| format!("{key}: cannot listen on {addr}"))?;
    Ok(LimitedListener::new(name, listener, limits, budget))
}

/// The API's admission settings from `api.limits`.
pub(crate) fn apply_api(config: &Config, api: &mut coinjecture_api::ApiConfig) {
    let l = &config.api.limits;
    let rate =
        |per_second: f64, burst: u32| (per_second > 0.0).then_some(coinjecture_api::RateLimit { per_second, burst });
    api.rate_limit = rate(l.rate_per_second, l.rate_burst);
    api.global_rate_limit = rate(l.global_rate_per_second, l.global_rate_burst);
    api.concurrency = coinjecture_api::ConcurrencyLimits {
        max_requests_in_flight: l.max_requests_in_flight,
        max_requests_in_flight_per_ip: l.max_requests_in_flight_per_ip,
        max_streams: l.max_streams,
        max_streams_per_ip: l.max_streams_per_ip,
    };
    api.max_list_bytes = l.max_list_bytes;
}
