//! The end-of-run report: one struct, printed as a table and written as JSON (`--report`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::procstat::NodeUsage;
use crate::stats::LatencySummary;

/// Everything a run measured. Counts are transactions; times are seconds. Missing fields read
/// as their defaults (the CometBFT anchor's generator writes the same names, without ours).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    pub nodes: Vec<String>,
    pub accounts: u64,
    pub batch: u64,
    pub duration_s: f64,
    /// Offered rate (the schedule's).
    pub offered_tps: f64,
    /// Scheduled by the open-loop ticker.
    pub scheduled: u64,
    /// Sent to a node (scheduled − backlog left unsent at the end).
    pub submitted: u64,
    pub accepted: u64,
    /// Accepted and seen in a finalized block.
    pub final_count: u64,
    /// Rejections by reason (`NONCE_TOO_HIGH`, `MEMPOOL_FULL`, `rpc: Unavailable`, ...).
    pub rejected: BTreeMap<String, u64>,
    pub rejected_total: u64,
    /// Refused by the node's backpressure (RESOURCE_EXHAUSTED with `retry-after`: its mempool
    /// above the high-water mark), or not sent while backing off after such a refusal: never
    /// accepted, so not lost; the generator waited the `retry-after` before sending again.
    pub refused_backpressure: u64,
    /// Largest backlog (scheduled, not yet sent) during the run.
    pub max_backlog: u64,
    /// Scheduled but never sent when the offered period ended (dropped, counted here).
    pub unsent_backlog: u64,
    /// Steady-state final transactions per second: finalized after the first finalization and up
    /// to the last one within the offered period, over the time between the two (excludes the
    /// latency ramp at the start and the drain after the end).
    pub sustained_final_tps: f64,
    /// All final transactions over (last finalization − start).
    pub overall_final_tps: f64,
    /// Submit (scheduled time) → seen final.
    pub latency: LatencySummary,
    /// Accepted but not final within the grace period (and not behind a rejected nonce).
    pub lost: u64,
    /// Accepted, not final, but queued behind an earlier rejected nonce of the same account.
    pub stranded: u64,
    /// Transaction hashes seen in more than one block.
    pub duplicated: u64,
    pub grace_s: f64,
    /// Blocks finalized during the load phase and the distinct proposers among them.
    pub blocks: u64,
    pub proposers: u64,
    pub max_txs_per_block: u64,
    /// Time between consecutive blocks of the load phase as the generator saw them arrive
    /// (median and largest gap); `None` with fewer than two blocks (and in reports before them).
    #[serde(default)]
    pub block_interval_p50_s: Option<f64>,
    #[serde(default)]
    pub block_interval_max_s: Option<f64>,
    /// Block propagation from the nodes' `coinjecture_block_propagation_seconds` (all nodes, all
    /// topics, observations between the start of the load and the report); `None` if no node
    /// exports it or nothing was observed.
    pub block_propagation_p50_s: Option<f64>,
    pub block_propagation_p99_s: Option<f64>,
    /// Block propagation as consensus sees it, from `coinjecture_proposal_propagation_seconds`:
    /// the proposer's publish to the complete block on each other validator (received full or
    /// rebuilt from a compact proposal); `None` when not exported or nothing observed.
    #[serde(default)]
    pub proposal_propagation_p50_s: Option<f64>,
    #[serde(default)]
    pub proposal_propagation_p99_s: Option<f64>,
    /// CPU (% of one core, over the load phase) and RSS of local `coinjectured node` processes;
    /// empty when none were found in `/proc`.
    pub node_usage: Vec<NodeUsage>,
    /// `--presign`: transactions signed before the offered period (0 without it), how long that
    /// took and what it added to the generator's RSS (`None` without it).
    pub presigned: u64,
    pub presign_seconds: Option<f64>,
    pub presign_rss_mib: Option<f64>,
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |s| format!("{:.1} ms", s * 1000.0))
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let mut row = |k: &str, v: String| {
            let _ = writeln!(t, "  {k:<34} {v}");
        };
        row("nodes", self.nodes.join(", "));
        row(
            "offered",
            format!(
                "{:.0} tx/s for {:.0} s ({} accounts, batch {})",
                self.offered_tps, self.duration_s, self.accounts, self.batch
            ),
        );
        if let (Some(secs), Some(mib)) = (self.presign_seconds, self.presign_rss_mib) {
            row("presigned before the window", format!("{} in {secs:.1} s, RSS +{mib:.0} MiB", self.presigned));
        }
        row("scheduled", self.scheduled.to_string());
        row("submitted", self.submitted.to_string());
        row("accepted", self.accepted.to_string());
        row("final", self.final_count.to_string());
        row("rejected", self.rejected_total.to_string());
        for (reason, n) in &self.rejected {
            row(&format!("  {reason}"), n.to_string());
        }
        row("refused: backpressure", self.refused_backpressure.to_string());
        row("backlog max / unsent at end", format!("{} / {}", self.max_backlog, self.unsent_backlog));
        row("sustained final TPS", format!("{:.1}", self.sustained_final_tps));
        row("overall final TPS", format!("{:.1}", self.overall_final_tps));
        row(
            "submit→final p50 / p95 / p99 / max",
            format!(
                "{} / {} / {} / {}",
                secs(self.latency.p50),
                secs(self.latency.p95),
                secs(self.latency.p99),
                secs(self.latency.max)
            ),
        );
        row("lost (grace)", format!("{} ({:.0} s)", self.lost, self.grace_s));
        row("stranded behind a rejection", self.stranded.to_string());
        row("duplicated", self.duplicated.to_string());
        row(
            "blocks / proposers / max txs",
            format!("{} / {} / {}", self.blocks, self.proposers, self.max_txs_per_block),
        );
        row(
            "block interval p50 / max",
            format!("{} / {}", secs(self.block_interval_p50_s), secs(self.block_interval_max_s)),
        );
        row(
            "block propagation p50 / p99",
            format!("{} / {}", secs(self.block_propagation_p50_s), secs(self.block_propagation_p99_s)),
        );
        row(
            "complete block p50 / p99",
            format!("{} / {}", secs(self.proposal_propagation_p50_s), secs(self.proposal_propagation_p99_s)),
        );
        if self.node_usage.is_empty() {
            row("node CPU / RSS", "n/a".to_string());
        }
        for u in &self.node_usage {
            row(
                &format!("node {} CPU / RSS", u.pid),
                format!("{:.0}% / {:.0} MiB  ({})", u.cpu_percent, u.rss_mib, u.label),
            );
        }
        t
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn sample() -> Report {
        Report {
            nodes: vec!["http://127.0.0.1:8080".into()],
            accounts: 10,
            batch: 5,
            duration_s: 10.0,
            offered_tps: 50.0,
            scheduled: 500,
            submitted: 500,
            accepted: 499,
            final_count: 499,
            rejected: BTreeMap::from([("MEMPOOL_FULL".to_string(), 1)]),
            rejected_total: 1,
            latency: LatencySummary {
                count: 499,
                p50: Some(1.2),
                p95: Some(2.0),
                p99: Some(2.5),
                max: Some(3.0),
                mean: Some(1.3),
            },
            block_propagation_p50_s: Some(0.004),
            node_usage: vec![NodeUsage { pid: 7, label: "v1.yaml".into(), cpu_percent: 12.5, rss_mib: 40.0 }],
            ..Report::default()
        }
    }

    #[test]
    fn report_json_round_trips_with_stable_field_names() {
        let r = sample();
        let json = serde_json::to_value(&r).unwrap();
        for field in [
            "submitted",
            "accepted",
            "final_count",
            "rejected",
            "sustained_final_tps",
            "latency",
            "lost",
            "duplicated",
            "block_propagation_p99_s",
            "node_usage",
            "unsent_backlog",
            "refused_backpressure",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        assert_eq!(json["latency"]["p99"], 2.5);
        assert_eq!(json["rejected"]["MEMPOOL_FULL"], 1);
        assert!(json["block_propagation_p99_s"].is_null());
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn table_names_every_figure_and_says_na_when_missing() {
        let t = sample().table();
        for needle in [
            "submitted",
            "final",
            "MEMPOOL_FULL",
            "refused: backpressure",
            "1200.0 ms",
            "2500.0 ms",
            "4.0 ms / n/a",
            "12% / 40 MiB",
        ] {
            assert!(t.contains(needle), "{needle} not in\n{t}");
        }
        assert!(Report::default().table().contains("node CPU / RSS"));
        assert!(!t.contains("presigned"), "{t}");
        let presigned =
            Report { presigned: 600_000, presign_seconds: Some(40.2), presign_rss_mib: Some(310.4), ..sample() };
        let t = presigned.table();
        assert!(t.contains("presigned before the window") && t.contains("600000 in 40.2 s, RSS +310 MiB"), "{t}");
    }

    #[test]
    fn a_report_with_only_the_shared_fields_reads_with_defaults() {
        // What the CometBFT anchor's generator writes: our names, without ours-only fields.
        let r: Report = serde_json::from_str(
            r#"{"offered_tps": 1000, "sustained_final_tps": 990.5, "lost": 0, "duplicated": 0, "variant": "signed",
                "latency": {"count": 3, "p50": 1.0, "p95": 2.0, "p99": 2.5, "max": 3.0, "mean": 1.5}}"#,
        )
        .unwrap();
        assert_eq!(r.sustained_final_tps, 990.5);
        assert_eq!(r.latency.p99, Some(2.5));
        assert!(r.node_usage.is_empty() && r.block_propagation_p99_s.is_none());
    }
}
