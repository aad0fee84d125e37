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
    let limits = limits.connections();
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

/// `coinjecture_listener_connections{listener}` (open now) and
/// `coinjecture_listener_refusals{listener,reason}` (since start: `per_ip`, `evicted`,
/// `header_timeout`, `idle_timeout`, `fd_budget_wait`), refreshed every 2 s.
pub(crate) fn register_metrics(registry: &crate::node::Registry, listener: &LimitedListener) {
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    type Labels = Vec<(String, String)>;
    type Families = (Family<Labels, Gauge>, Family<Labels, Gauge>);
    // One pair of families per process (one registry per process); every listener adds its labels.
    static FAMILIES: OnceLock<Families> = OnceLock::new();
    let mut first = false;
    let (open, refusals) = FAMILIES
        .get_or_init(|| {
            first = true;
            (Family::default(), Family::default())
        })
        .clone();
    if first && let Ok(mut r) = registry.lock() {
        r.register("coinjecture_listener_connections", "Open connections of a listening socket", open.clone());
        r.register(
            "coinjecture_listener_refusals",
            "Connections a listening socket refused, evicted or timed out, by reason, since start",
            refusals.clone(),
        );
    }
    let stats = listener.stats_handle();
    let name = listener.name().to_string();
    tokio::spawn(async move {
        let label = vec![("listener".to_string(), name)];
        loop {
            let s = stats.stats();
            open.get_or_create(&label).set(i64::try_from(stats.connections()).unwrap_or(i64::MAX));
            for (reason, n) in [
                ("per_ip", s.refused_per_ip),
                ("evicted", s.evicted),
                ("header_timeout", s.header_timeouts),
                ("idle_timeout", s.idle_timeouts),
                ("fd_budget_wait", s.budget_waits),
            ] {
                let mut l = label.clone();
                l.push(("reason".to_string(), reason.to_string()));
                refusals.get_or_create(&l).set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });
}
