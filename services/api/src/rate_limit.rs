//! Per-IP token buckets. Each client IP may make `burst` requests at once and `per_second` on
//! average; one request costs one token whatever its size (batches are bounded separately).
//! The peer address of the TCP connection is the key: behind a reverse proxy every client shares
//! the proxy's bucket, so such a deployment should rate-limit at the proxy.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Buckets kept before idle (full) ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// A per-IP request rate limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second per IP (> 0).
    pub per_second: f64,
    /// Requests an idle IP may make at once (≥ 1).
    pub burst: u32,
}

impl Default for RateLimit {
    /// Generous: a browser, a script or a load generator sending batches never meets it; a
    /// client hammering the node does.
    fn default() -> Self {
        Self { per_second: 200.0, burst: 400 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let limit = RateLimit { per_second: limit.per_second.max(f64::MIN_POSITIVE), burst: limit.burst.max(1) };
        Self { limit, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token for `ip`, or says how long until one is available.
    pub(crate) fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.limit.burst);
        let rate = self.limit.per_second;
        // A poisoned lock only means another request panicked mid-update: the map is still usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= PRUNE_ABOVE {
            buckets.retain(|_, b| {
                let refilled = b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * rate;
                refilled < burst
            });
        }
        let bucket = buckets.entry(ip).or_insert(Bucket { tokens: burst, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(((1.0 - bucket.tokens) / rate).min(3600.0)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = RateLimiter::new(RateLimit { per_second: 2.0, burst: 3 });
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(ip, t0).is_ok());
        }
        let wait = limiter.check(ip, t0).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500), "{wait:?}");
        assert!(limiter.check(other, t0).is_ok(), "buckets are per IP");
        assert!(limiter.check(ip, t0 + Duration::from_millis(500)).is_ok());
        assert!(limiter.check(ip, t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn nonsense_limits_do_not_panic() {
        let limiter = RateLimiter::new(RateLimit { per_second: 0.0, burst: 0 });
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert!(limiter.check(ip, Instant::now()).is_ok());
        assert!(limiter.check(ip, Instant::now()).is_err());
    }
}
