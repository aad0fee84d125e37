//! Admission by cost: token buckets charged by the work a request makes the node do, per client
//! IP and for the node as a whole, and caps on requests in flight and block streams.
//!
//! - A request costs [`cost::REQUEST`]; a transaction submitted costs [`cost::TRANSACTION`] more
//!   (its signature is verified); a request body costs [`cost::PER_4_KIB_BODY`] per started 4 KiB
//!   (charged from `content-length` before it is read and parsed); a block listed or streamed
//!   costs [`cost::BLOCK`] plus [`cost::PER_64_KIB`] per started 64 KiB of what is sent; a block
//!   summary (REST listing) also [`cost::TRANSACTION_HASHED`] per transaction hashed, and a block
//!   of a headers-only listing [`cost::HEADER`] instead of [`cost::BLOCK`]. A 10,000-transaction
//!   REST batch (~4 MB of JSON) thus costs about 2,000 units, a status request 1, a listing of
//!   100 headers about 12.
//! - The per-IP bucket refills at `per_second` up to `burst`. The global bucket does the same for
//!   all clients together, with its last quarter kept for *light* clients (whose own bucket is at
//!   least 90 % full): a flood drains the global budget down to that reserve and is then refused,
//!   while an ordinary client is still served. A request the global budget refuses still costs
//!   its address, so a flooding address soon stops counting as light and cannot reach the
//!   reserve (without that, many flooding addresses together drained it).
//! - Requests in flight are capped per IP and globally; `StreamBlocks` streams separately.
//!
//! The peer address of the TCP connection is the key: behind a reverse proxy every client shares
//! the proxy's bucket, so such a deployment should rate-limit at the proxy.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Work units (1 = a simple read).
pub(crate) mod cost {
    /// Every request.
    pub(crate) const REQUEST: f64 = 1.0;
    /// Each transaction submitted (signature verification, a ledger check).
    pub(crate) const TRANSACTION: f64 = 0.1;
    /// Each started 64 KiB of response data (blocks).
    pub(crate) const PER_64_KIB: f64 = 1.0;
    /// Each started 4 KiB of request body (it is read and parsed).
    pub(crate) const PER_4_KIB_BODY: f64 = 1.0;
    /// Each block listed or streamed (a ledger read), besides its bytes.
    pub(crate) const BLOCK: f64 = 1.0;
    /// Each block of a headers-only listing (one small row read), besides its bytes.
    pub(crate) const HEADER: f64 = 0.1;
    /// Each transaction of a listed block summary (its stored row read and hashed, not sent).
    pub(crate) const TRANSACTION_HASHED: f64 = 1.0 / 256.0;

    /// The cost of `bytes` of response data.
    pub(crate) fn bytes(bytes: usize) -> f64 {
        (bytes.div_ceil(64 * 1024)) as f64 * PER_64_KIB
    }

    /// The cost of a request body of `bytes`.
    pub(crate) fn body(bytes: usize) -> f64 {
        (bytes.div_ceil(4 * 1024)) as f64 * PER_4_KIB_BODY
    }
}

/// Buckets kept before idle (full) ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// A token-bucket rate in work units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained units per second (> 0).
    pub per_second: f64,
    /// Units an idle client may spend at once (≥ 1).
    pub burst: u32,
}

impl Default for RateLimit {
    /// Per IP: 200 simple requests a second, or ~1,000 transactions a second over REST; a
    /// burst of 3,000 units takes one full 10,000-transaction batch.
    fn default() -> Self {
        Self { per_second: 200.0, burst: 3_000 }
    }
}

impl RateLimit {
    /// The default global budget: all clients together.
    pub fn global_default() -> Self {
        Self { per_second: 2_000.0, burst: 12_000 }
    }

    fn sane(self) -> Self {
        Self { per_second: self.per_second.max(f64::MIN_POSITIVE), burst: self.burst.max(1) }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn refill(&mut self, limit: RateLimit, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(f64::from(limit.burst));
        self.updated = now;
    }

    fn wait_for(&self, limit: RateLimit, cost: f64) -> Duration {
        Duration::from_secs_f64(((cost - self.tokens).max(0.0) / limit.per_second).min(3600.0))
    }
}

/// Why admission refused a request (429 / `RESOURCE_EXHAUSTED`, or 413), as counted in
/// [`Refusals`] and labelled `reason` in `coinjecture_api_refusals_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// The client's own budget of work ([`ApiConfig::rate_limit`](crate::ApiConfig)).
    PerIpBudget,
    /// The node's budget of all clients together.
    GlobalBudget,
    /// The client's requests in flight.
    InFlightPerIp,
    /// All requests in flight.
    InFlightGlobal,
    /// The client's open `StreamBlocks` streams.
    StreamsPerIp,
    /// All open `StreamBlocks` streams.
    StreamsGlobal,
    /// A REST body over `max_body_bytes` (413).
    BodyTooLarge,
    /// A submission refused because the node's mempool is above its high-water mark
    /// (backpressure: 503 / RESOURCE_EXHAUSTED with `Retry-After`).
    Backpressure,
}

impl RefusalReason {
    /// Every reason, in label order.
    pub const ALL: [Self; 8] = [
        Self::PerIpBudget,
        Self::GlobalBudget,
        Self::InFlightPerIp,
        Self::InFlightGlobal,
        Self::StreamsPerIp,
        Self::StreamsGlobal,
        Self::BodyTooLarge,
        Self::Backpressure,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::PerIpBudget => "per_ip_budget",
            Self::GlobalBudget => "global_budget",
            Self::InFlightPerIp => "in_flight_per_ip",
            Self::InFlightGlobal => "in_flight_global",
            Self::StreamsPerIp => "streams_per_ip",
            Self::StreamsGlobal => "streams_global",
            Self::BodyTooLarge => "body_too_large",
            Self::Backpressure => "backpressure",
        }
    }
}

/// Requests refused by admission since start, by [`RefusalReason`]; shared with whoever exports
/// them (`coinjectured` registers them as `coinjecture_api_refusals_total{reason}`).
#[derive(Debug, Default)]
pub struct Refusals {
    counts: [AtomicU64; RefusalReason::ALL.len()],
}

impl Refusals {
    pub(crate) fn count(&self, reason: RefusalReason) {
        self.counts[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Each reason with its count so far.
    pub fn snapshot(&self) -> Vec<(RefusalReason, u64)> {
        RefusalReason::ALL.iter().map(|&r| (r, self.counts[r as usize].load(Ordering::Relaxed))).collect()
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// This client's budget; retry after the duration.
    PerIp(Duration),
    /// The node's budget; retry after the duration.
    Global(Duration),
}

impl Refusal {
    pub(crate) fn retry_after(&self) -> Duration {
        match self {
            Self::PerIp(d) | Self::Global(d) => *d,
        }
    }

    fn reason(&self) -> RefusalReason {
        match self {
            Self::PerIp(_) => RefusalReason::PerIpBudget,
            Self::Global(_) => RefusalReason::GlobalBudget,
        }
    }

    pub(crate) fn message(&self, ip: IpAddr) -> String {
        let seconds = self.retry_after().as_secs_f64().ceil().max(1.0);
        match self {
            Self::PerIp(_) => format!("rate limited: too much work requested from {ip}; retry in {seconds} s"),
            Self::Global(_) => format!("rate limited: the node is at its request budget; retry in {seconds} s"),
        }
    }
}

#[derive(Debug)]
struct Buckets {
    per_ip: HashMap<IpAddr, Bucket>,
    global: Bucket,
}

/// Per-IP and global token buckets charged by cost.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    global: Option<RateLimit>,
    buckets: Mutex<Buckets>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit, global: Option<RateLimit>) -> Self {
        let global = global.map(RateLimit::sane);
        let start = Instant::now();
        let global_bucket = Bucket { tokens: global.map_or(0.0, |g| f64::from(g.burst)), updated: start };
        Self {
            limit: limit.sane(),
            global,
            buckets: Mutex::new(Buckets { per_ip: HashMap::new(), global: global_bucket }),
        }
    }

    /// Charges `cost` units to `ip` and to the global budget, or says why not (a refusal by the
    /// global budget still costs `ip` its request; a per-IP refusal costs nothing). A cost above the burst is charged once the bucket is full, leaving it in
    /// debt: a batch larger than the burst is possible, but the client waits it off.
    pub(crate) fn charge(&self, ip: IpAddr, cost: f64, now: Instant) -> Result<(), Refusal> {
        let limit = self.limit;
        let burst = f64::from(limit.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.per_ip.len() >= PRUNE_ABOVE {
            buckets.per_ip.retain(|_, b| {
                let refilled = b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * limit.per_second;
                refilled < burst
            });
        }
        let Buckets { per_ip, global } = &mut *buckets;
        let bucket = per_ip.entry(ip).or_insert(Bucket { tokens: burst, updated: now });
        bucket.refill(limit, now);
        let needed = cost.min(burst);
        if bucket.tokens < needed {
            return Err(Refusal::PerIp(bucket.wait_for(limit, needed)));
        }
        if let Some(g) = self.global {
            global.refill(g, now);
            let g_burst = f64::from(g.burst);
            // Light clients (bucket at least 90 % full) may use the last quarter; heavy ones stop
            // above it.
            let light = bucket.tokens >= burst * 0.9;
            let floor = if light { 0.0 } else { g_burst / 4.0 };
            let g_needed = cost.min(g_burst / 4.0);
            if global.tokens - g_needed < floor {
                // A refusal costs the address what it asked for: otherwise an address whose
                // requests the global budget refuses keeps its own bucket full, counts as light,
                // and many of them together drain the reserve kept for ordinary clients.
                bucket.tokens -= needed;
                return Err(Refusal::Global(global.wait_for(g, g_needed + floor)));
            }
            global.tokens -= cost;
        }
        bucket.tokens -= cost;
        Ok(())
    }
}

impl RateLimiter {
    /// Takes `cost` from `ip` and the global budget whatever is left (work already done).
    pub(crate) fn debit(&self, ip: IpAddr, cost: f64, now: Instant) {
        let limit = self.limit;
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let Buckets { per_ip, global } = &mut *buckets;
        let bucket = per_ip.entry(ip).or_insert(Bucket { tokens: f64::from(limit.burst), updated: now });
        bucket.refill(limit, now);
        bucket.tokens -= cost;
        if let Some(g) = self.global {
            global.refill(g, now);
            global.tokens -= cost;
        }
    }
}

/// Caps on requests in flight and on block streams, per IP and globally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcurrencyLimits {
    /// Requests (REST or gRPC) being handled at once, all clients.
    pub max_requests_in_flight: usize,
    /// Requests being handled at once for one IP.
    pub max_requests_in_flight_per_ip: usize,
    /// Open `StreamBlocks` streams, all clients.
    pub max_streams: usize,
    /// Open `StreamBlocks` streams of one IP.
    pub max_streams_per_ip: usize,
}

impl Default for ConcurrencyLimits {
    fn default() -> Self {
        Self { max_requests_in_flight: 512, max_requests_in_flight_per_ip: 64, max_streams: 64, max_streams_per_ip: 4 }
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// A counter with a global and a per-IP cap.
#[derive(Debug)]
pub(crate) struct Slots {
    max: usize,
    max_per_ip: usize,
    what: &'static str,
    counts: Mutex<Counts>,
    /// Refusals counted as (per IP, global).
    refused: Option<(Arc<Refusals>, RefusalReason, RefusalReason)>,
}

impl Slots {
    #[cfg(test)]
    pub(crate) fn new(what: &'static str, max: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self::build(what, max, max_per_ip))
    }

    fn build(what: &'static str, max: usize, max_per_ip: usize) -> Self {
        Self {
            max: max.max(1),
            max_per_ip: max_per_ip.max(1),
            what,
            counts: Mutex::new(Counts::default()),
            refused: None,
        }
    }

    fn counted(
        what: &'static str,
        max: usize,
        max_per_ip: usize,
        refusals: &Arc<Refusals>,
        reasons: (RefusalReason, RefusalReason),
    ) -> Arc<Self> {
        let mut slots = Self::build(what, max, max_per_ip);
        slots.refused = Some((Arc::clone(refusals), reasons.0, reasons.1));
        Arc::new(slots)
    }

    fn refuse(&self, per_ip: bool, message: String) -> Result<SlotGuard, String> {
        if let Some((refusals, mine, all)) = &self.refused {
            refusals.count(if per_ip { *mine } else { *all });
        }
        Err(message)
    }

    /// A slot for `ip`, held until the guard is dropped; or the refusal message.
    pub(crate) fn take(self: &Arc<Self>, ip: IpAddr) -> Result<SlotGuard, String> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if mine >= self.max_per_ip {
            return self
                .refuse(true, format!("too many {} from {ip} (at most {} at once)", self.what, self.max_per_ip));
        }
        if counts.total >= self.max {
            return self
                .refuse(false, format!("the node is serving its maximum of {} {}; retry later", self.max, self.what));
        }
        counts.total += 1;
        *counts.per_ip.entry(ip).or_insert(0) += 1;
        Ok(SlotGuard { slots: Arc::clone(self), ip })
    }
}

/// A taken slot; given back on drop.
#[derive(Debug)]
pub(crate) struct SlotGuard {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut counts = self.slots.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Everything admission needs, shared by the REST middleware and the gRPC handlers.
#[derive(Debug)]
pub(crate) struct Admission {
    pub(crate) rate: Option<RateLimiter>,
    pub(crate) requests: Arc<Slots>,
    pub(crate) streams: Arc<Slots>,
    pub(crate) refusals: Arc<Refusals>,
}

impl Admission {
    pub(crate) fn new(
        rate: Option<RateLimit>,
        global: Option<RateLimit>,
        limits: ConcurrencyLimits,
        refusals: Arc<Refusals>,
    ) -> Self {
        Self {
            rate: rate.map(|r| RateLimiter::new(r, global)),
            requests: Slots::counted(
                "requests in flight",
                limits.max_requests_in_flight,
                limits.max_requests_in_flight_per_ip,
                &refusals,
                (RefusalReason::InFlightPerIp, RefusalReason::InFlightGlobal),
            ),
            streams: Slots::counted(
                "block streams",
                limits.max_streams,
                limits.max_streams_per_ip,
                &refusals,
                (RefusalReason::StreamsPerIp, RefusalReason::StreamsGlobal),
            ),
            refusals,
        }
    }

    /// Takes `cost` from `ip` whatever is left (no-op without a rate limit).
    pub(crate) fn debit(&self, ip: IpAddr, cost: f64) {
        if let Some(r) = &self.rate {
            r.debit(ip, cost, Instant::now());
        }
    }

    /// Charges `cost` to `ip` (no-op without a rate limit); a refusal is counted.
    pub(crate) fn charge(&self, ip: IpAddr, cost: f64) -> Result<(), Refusal> {
        self.charge_uncounted(ip, cost).inspect_err(|r| self.refusals.count(r.reason()))
    }

    /// [`Self::charge`] without counting a refusal: for work that waits for the budget instead
    /// of being refused (a throttled stream).
    pub(crate) fn charge_uncounted(&self, ip: IpAddr, cost: f64) -> Result<(), Refusal> {
        match &self.rate {
            Some(r) => r.charge(ip, cost, Instant::now()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = RateLimiter::new(RateLimit { per_second: 2.0, burst: 3 }, None);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.charge(ip, 1.0, t0).is_ok());
        }
        let wait = limiter.charge(ip, 1.0, t0).unwrap_err().retry_after();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500), "{wait:?}");
        assert!(limiter.charge(other, 1.0, t0).is_ok(), "buckets are per IP");
        assert!(limiter.charge(ip, 1.0, t0 + Duration::from_millis(500)).is_ok());
        assert!(limiter.charge(ip, 1.0, t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn a_batch_is_charged_by_its_transactions() {
        let limiter = RateLimiter::new(RateLimit::default(), None);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        let body = cost::REQUEST + cost::body(4_000_000);
        let batch = 10_000.0 * cost::TRANSACTION;
        assert!(limiter.charge(ip, body, t0).is_ok());
        assert!(limiter.charge(ip, batch, t0).is_ok());
        assert!(limiter.charge(ip, body, t0).is_ok());
        assert!(matches!(limiter.charge(ip, batch, t0), Err(Refusal::PerIp(_))), "one batch uses most of the burst");
        assert!(limiter.charge(ip, batch, t0 + Duration::from_secs(10)).is_ok(), "then one per ~10 s");
    }

    #[test]
    fn the_global_budget_stops_a_flood_from_many_addresses_but_not_a_light_client() {
        let limiter = RateLimiter::new(
            RateLimit { per_second: 10.0, burst: 100 },
            Some(RateLimit { per_second: 10.0, burst: 1_000 }),
        );
        let t0 = Instant::now();
        let mut refused_global = 0;
        for a in 0..20u8 {
            for _ in 0..100 {
                if let Err(Refusal::Global(_)) = limiter.charge(IpAddr::from([10, 1, 0, a]), 1.0, t0) {
                    refused_global += 1;
                }
            }
        }
        assert!(refused_global > 0, "the flood met the global budget");
        assert!(limiter.charge(IpAddr::from([10, 2, 0, 1]), 1.0, t0).is_ok(), "a light client is served");
    }

    #[test]
    fn nonsense_limits_do_not_panic() {
        let limiter =
            RateLimiter::new(RateLimit { per_second: 0.0, burst: 0 }, Some(RateLimit { per_second: 0.0, burst: 0 }));
        let ip: IpAddr = [127, 0, 0, 1].into();
        let _ = limiter.charge(ip, 1.0, Instant::now());
        let _ = limiter.charge(ip, f64::MAX, Instant::now());
    }

    #[test]
    fn slots_are_capped_per_ip_and_globally_and_given_back() {
        let slots = Slots::new("block streams", 3, 2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let g1 = slots.take(a).unwrap();
        let _g2 = slots.take(a).unwrap();
        assert!(slots.take(a).unwrap_err().contains("from 10.0.0.1"));
        let _g3 = slots.take(b).unwrap();
        assert!(slots.take(b).unwrap_err().contains("maximum of 3"));
        drop(g1);
        assert!(slots.take(b).is_ok());
    }
}
