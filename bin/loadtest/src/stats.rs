//! Percentiles: of measured latencies, and of a Prometheus histogram's cumulative buckets.

/// The `q`-quantile (0 ≤ q ≤ 1) of `sorted` by the nearest-rank rule; `None` when empty.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// p50/p95/p99/max/mean of a set of latencies in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
}

impl LatencySummary {
    /// Summarises `samples` (sorted in place).
    pub fn of(samples: &mut [f64]) -> Self {
        samples.sort_by(f64::total_cmp);
        let mean = (!samples.is_empty()).then(|| samples.iter().sum::<f64>() / samples.len() as f64);
        Self {
            count: samples.len() as u64,
            p50: percentile(samples, 0.50),
            p95: percentile(samples, 0.95),
            p99: percentile(samples, 0.99),
            max: samples.last().copied(),
            mean,
        }
    }
}

/// Cumulative buckets `(upper bound, count ≤ bound)` of a histogram named `name` in Prometheus
/// text format, summed over all label sets. Empty if the histogram is absent.
pub fn histogram_buckets(text: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{");
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in text.lines().filter(|l| l.starts_with(&prefix)) {
        let Some(le_start) = line.find("le=\"") else { continue };
        let rest = &line[le_start + 4..];
        let Some(le_end) = rest.find('"') else { continue };
        let bound = match &rest[..le_end] {
            "+Inf" => f64::INFINITY,
            b => match b.parse() {
                Ok(v) => v,
                Err(_) => continue,
            },
        };
        let Some(count) = line.rsplit(' ').next().and_then(|c| c.parse::<f64>().ok()) else { continue };
        match buckets.iter_mut().find(|(b, _)| *b == bound) {
            Some(entry) => entry.1 += count,
            None => buckets.push((bound, count)),
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// `after − before` per bucket bound: the observations made between two scrapes of one counter
/// set (bounds missing from `before` count from zero).
pub fn histogram_delta(before: &[(f64, f64)], after: &[(f64, f64)]) -> Vec<(f64, f64)> {
    after
        .iter()
        .map(|&(bound, count)| {
            let earlier = before.iter().find(|(b, _)| *b == bound).map_or(0.0, |(_, c)| *c);
            (bound, (count - earlier).max(0.0))
        })
        .collect()
}

/// The `q`-quantile of cumulative `buckets`, interpolated linearly inside the bucket (as
/// Prometheus' `histogram_quantile` does). `None` without observations; a quantile in the +Inf
/// bucket answers the largest finite bound.
pub fn histogram_quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let target = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= target {
            if bound.is_infinite() {
                return Some(lower);
            }
            let in_bucket = count - below;
            let fraction = if in_bucket > 0.0 { (target - below) / in_bucket } else { 1.0 };
            return Some(lower + (bound - lower) * fraction);
        }
        (lower, below) = (bound, count);
    }
    Some(lower)
}

/// The median and the largest gap between consecutive times, in seconds (`times` in any
/// order); `None` for fewer than two.
pub fn interval_p50_max(times: &[std::time::Instant]) -> (Option<f64>, Option<f64>) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let mut gaps: Vec<f64> = sorted.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
    gaps.sort_by(f64::total_cmp);
    (percentile(&gaps, 0.5), gaps.last().copied())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn block_intervals_are_the_gaps_between_consecutive_blocks() {
        let t0 = std::time::Instant::now();
        let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        assert_eq!(interval_p50_max(&[at(0)]), (None, None));
        // Out of order on purpose: gaps 2.0, 2.1, 3.5 s.
        let (p50, max) = interval_p50_max(&[at(4_100), at(0), at(7_600), at(2_000)]);
        assert!((p50.unwrap() - 2.1).abs() < 1e-9, "{p50:?}");
        assert!((max.unwrap() - 3.5).abs() < 1e-9, "{max:?}");
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        v.reverse();
        let s = LatencySummary::of(&mut v);
        assert_eq!((s.p50, s.p95, s.p99, s.max), (Some(50.0), Some(95.0), Some(99.0), Some(100.0)));
        assert_eq!(s.mean, Some(50.5));
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(LatencySummary::of(&mut []).p50, None);
    }

    #[test]
    fn histogram_quantiles_sum_label_sets_and_interpolate() {
        let text = "\
# TYPE coinjecture_block_propagation_seconds histogram
coinjecture_block_propagation_seconds_bucket{network=\"a\",topic=\"block\",le=\"0.01\"} 5
coinjecture_block_propagation_seconds_bucket{network=\"a\",topic=\"block\",le=\"0.1\"} 10
coinjecture_block_propagation_seconds_bucket{network=\"a\",topic=\"block\",le=\"+Inf\"} 10
coinjecture_block_propagation_seconds_bucket{network=\"a\",topic=\"proposal\",le=\"0.01\"} 5
coinjecture_block_propagation_seconds_bucket{network=\"a\",topic=\"proposal\",le=\"0.1\"} 10
coinjecture_block_propagation_seconds_bucket{network=\"a\",topic=\"proposal\",le=\"+Inf\"} 10
coinjecture_block_propagation_seconds_count{network=\"a\",topic=\"block\"} 10
";
        let b = histogram_buckets(text, "coinjecture_block_propagation_seconds");
        assert_eq!(b, vec![(0.01, 10.0), (0.1, 20.0), (f64::INFINITY, 20.0)]);
        assert!((histogram_quantile(&b, 0.5).unwrap() - 0.01).abs() < 1e-12);
        assert!((histogram_quantile(&b, 0.75).unwrap() - 0.055).abs() < 1e-12);
        assert_eq!(histogram_quantile(&[], 0.5), None);
        let later = [(0.01, 10.0), (0.1, 30.0), (f64::INFINITY, 30.0)];
        assert_eq!(histogram_delta(&b, &later), vec![(0.01, 0.0), (0.1, 10.0), (f64::INFINITY, 10.0)]);
        assert!((histogram_quantile(&histogram_delta(&b, &later), 0.5).unwrap() - 0.055).abs() < 1e-12);
        assert!(histogram_buckets("other 1\n", "coinjecture_block_propagation_seconds").is_empty());
    }
}
