//! What `bench/run.sh` adds around the generator's reports: this machine's strict ed25519
//! verification rate (measured in the same run), the throughput bound it implies, and one result
//! document with our runs and the CometBFT anchor's side by side.
//!
//! **The bound.** Every validator verifies every transaction's signature once. With all
//! validators on one machine they share its cores, so `validators × final tx/s` verifications
//! per second cannot exceed what all cores do together: final tx/s ≤ rate(all cores) ÷
//! validators. On separate machines the bound would be rate(one machine) per validator; here it
//! is the shared one. The fraction of it a run reaches says how much of the machine's signature
//! capacity turned into final transactions (the rest went to the generator, consensus, the
//! ledger, gossip and waiting).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use coinjecture_crypto_core::signatures::{self, Keypair};
use coinjecture_primitives::{ChainId, PublicKey, Signature};
use serde::{Deserialize, Serialize};

use crate::report::Report;
use crate::transfer::transfer;

/// Strict ed25519 verifications per second on this machine, measured just before the runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifyRate {
    /// One thread.
    pub one_core_per_s: f64,
    /// One thread per available core, all at once (the sum).
    pub all_cores_per_s: f64,
    pub threads: usize,
    /// Seconds each of the two measurements ran.
    pub seconds: f64,
    /// Canonical size of the generator's transfer (the CometBFT anchor sends transactions of
    /// this size, so a block holds as many of them as of ours).
    pub tx_bytes: usize,
}

/// Signed transfers to verify: distinct keys and messages, as in a block.
fn samples(count: usize) -> Vec<(PublicKey, Vec<u8>, Signature)> {
    let chain = ChainId::new("coinjecture-devnet".to_string()).unwrap_or_else(|_| unreachable!("a valid chain id"));
    (0..count)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let key = Keypair::from_seed(&seed);
            let tx = transfer(&chain, &key, PublicKey([1; 32]), 1 + i as u64, i as u64, 1_700_000_000);
            (tx.from, tx.signing_message(), tx.signature)
        })
        .collect()
}

/// Verifies `samples` round robin on this thread for `duration`, 32 at a time as validators
/// verify the batches they receive (`verify_batch` keeps a batch under its parallel threshold on
/// the calling thread, and compresses its 32 results with one field inversion); returns the
/// verifications done.
fn verify_for(samples: &[(PublicKey, Vec<u8>, Signature)], duration: Duration) -> u64 {
    let items: Vec<signatures::VerifyItem<'_>> = samples
        .iter()
        .take(64)
        .map(|(public_key, message, signature)| signatures::VerifyItem { public_key, message, signature })
        .collect();
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < duration {
        for chunk in items.chunks(32) {
            // Only a verification that succeeds counts (a broken sample must not look fast).
            done += signatures::verify_batch(chunk).iter().filter(|ok| **ok).count() as u64;
        }
    }
    done
}

/// Measures strict verification (`coinjecture_crypto_core::signatures::verify_batch`, the check
/// every validator runs, in batches of 32) on one thread and then on all cores, `duration` each.
pub fn measure_verify_rate(duration: Duration) -> VerifyRate {
    let samples = samples(1_024);
    let chain = ChainId::new("coinjecture-devnet".to_string()).unwrap_or_else(|_| unreachable!("a valid chain id"));
    let tx_bytes =
        transfer(&chain, &Keypair::from_seed(&[3; 32]), PublicKey([1; 32]), 1_000, 0, 1_700_000_000).encode().len();
    let one = verify_for(&samples, duration);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let all: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let part = &samples[(t * 64) % samples.len()..];
                scope.spawn(move || verify_for(part, duration))
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let secs = duration.as_secs_f64();
    VerifyRate {
        one_core_per_s: one as f64 / secs,
        all_cores_per_s: all as f64 / secs,
        threads,
        seconds: secs,
        tx_bytes,
    }
}

/// The verification bound on final TPS for `validators` validators sharing this machine.
pub fn bound_tps(verify: &VerifyRate, validators: u32) -> Option<f64> {
    (validators > 0 && verify.all_cores_per_s > 0.0).then(|| verify.all_cores_per_s / f64::from(validators))
}

/// `tps` as a fraction of `bound` (0.25 = a quarter of it).
pub fn fraction_of_bound(tps: f64, bound: Option<f64>) -> Option<f64> {
    bound.filter(|b| *b > 0.0).map(|b| tps / b)
}

/// One of our runs with its share of the bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    #[serde(flatten)]
    pub report: Report,
    pub fraction_of_bound: Option<f64>,
}

/// The CometBFT runs (`bench/run.sh --anchor`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Anchor {
    /// The pinned CometBFT version.
    pub cometbft: String,
    /// Stock `cometbft node --proxy_app=kvstore`.
    pub kvstore: Vec<Report>,
    /// The kvstore plus one ed25519 check per transaction per node (bench/anchor).
    pub signed: Vec<Report>,
}

/// `bench/results/<date>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    pub machine: Machine,
    pub validators: u32,
    pub block_time: String,
    pub duration_per_rate: String,
    /// Whether the generators signed everything before the measuring window.
    pub presign: bool,
    pub verify: VerifyRate,
    /// verify.all_cores_per_s ÷ validators.
    pub bound_tps: Option<f64>,
    pub runs: Vec<Run>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<Anchor>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub platform: String,
    /// 1-minute load average before and after the runs (others' work on a shared machine).
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The 1-minute load average (Linux), `None` elsewhere.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// Reads `<dir>/<prefix>-<rate>.json` reports, lowest offered rate first.
pub fn read_reports(dir: &Path, prefix: &str) -> eyre::Result<Vec<Report>> {
    use eyre::WrapErr as _;
    let mut reports = Vec::new();
    for entry in std::fs::read_dir(dir).wrap_err_with(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some(rate) =
            name.strip_prefix(prefix).and_then(|r| r.strip_prefix('-')).and_then(|r| r.strip_suffix(".json"))
        else {
            continue;
        };
        if rate.parse::<f64>().is_err() {
            continue;
        }
        let text = std::fs::read_to_string(&path).wrap_err_with(|| format!("reading {}", path.display()))?;
        reports.push(serde_json::from_str(&text).wrap_err_with(|| format!("{}: not a load report", path.display()))?);
    }
    reports.sort_by(|a: &Report, b: &Report| a.offered_tps.total_cmp(&b.offered_tps));
    Ok(reports)
}

impl BenchResult {
    /// Our runs with their fraction of the bound.
    pub fn runs_with_bound(reports: Vec<Report>, bound: Option<f64>) -> Vec<Run> {
        reports
            .into_iter()
            .map(|report| {
                let fraction_of_bound = fraction_of_bound(report.sustained_final_tps, bound);
                Run { report, fraction_of_bound }
            })
            .collect()
    }

    /// Ours, CometBFT kvstore and CometBFT signed, one row per offered rate.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let v = &self.verify;
        let _ = writeln!(
            t,
            "strict ed25519 on this machine: {:.0}/s on one core, {:.0}/s on {} threads; bound for {} validators \
             sharing it: {} final tx/s",
            v.one_core_per_s,
            v.all_cores_per_s,
            v.threads,
            self.validators,
            self.bound_tps.map_or_else(|| "n/a".into(), |b| format!("{b:.0}"))
        );
        let load = |l: Option<f64>| l.map_or_else(|| "n/a".into(), |l| format!("{l:.1}"));
        let _ = writeln!(
            t,
            "load average {} before, {} after; {} per rate, {} blocks, presign {}{}",
            load(self.machine.load_before),
            load(self.machine.load_after),
            self.duration_per_rate,
            self.block_time,
            if self.presign { "on" } else { "off" },
            if self.machine.note.is_empty() { String::new() } else { format!("; {}", self.machine.note) }
        );
        let anchor = self.anchor.as_ref();
        let _ = write!(t, "{:>8} | {:>21} {:>7} {:>9} | ", "", "ours", "", "");
        if anchor.is_some() {
            let _ = write!(t, "{:>27} | {:>27} |", "CometBFT kvstore", "CometBFT kvstore+ed25519");
        }
        t.push('\n');
        let _ =
            write!(t, "{:>8} | {:>9} {:>11} {:>7} {:>9} | ", "offered", "final/s", "% of bound", "p99 s", "lost/dup");
        if anchor.is_some() {
            for _ in 0..2 {
                let _ = write!(t, "{:>9} {:>7} {:>9} | ", "final/s", "p99 s", "lost/dup");
            }
        }
        t.push('\n');
        let rates: BTreeSet<u64> = self
            .runs
            .iter()
            .map(|r| &r.report)
            .chain(anchor.into_iter().flat_map(|a| a.kvstore.iter().chain(&a.signed)))
            .map(|r| r.offered_tps.round() as u64)
            .collect();
        let find = |list: &[Report], rate: u64| list.iter().find(|r| r.offered_tps.round() as u64 == rate).cloned();
        for rate in rates {
            let _ = write!(t, "{rate:>8} | ");
            let ours = self.runs.iter().find(|r| r.report.offered_tps.round() as u64 == rate);
            match ours {
                Some(run) => {
                    let (final_tps, p99, lost_dup) = cells(&run.report);
                    let fraction = run.fraction_of_bound.map_or_else(|| "n/a".into(), |f| format!("{:.0}%", f * 100.0));
                    let _ = write!(t, "{final_tps:>9} {fraction:>11} {p99:>7} {lost_dup:>9} ");
                }
                None => {
                    let _ = write!(t, "{:>9} {:>11} {:>7} {:>9} ", "-", "-", "-", "-");
                }
            }
            let _ = write!(t, "| ");
            if let Some(a) = anchor {
                for list in [&a.kvstore, &a.signed] {
                    match find(list, rate) {
                        Some(r) => {
                            let (final_tps, p99, lost_dup) = cells(&r);
                            let _ = write!(t, "{final_tps:>9} {p99:>7} {lost_dup:>9} | ");
                        }
                        None => {
                            let _ = write!(t, "{:>9} {:>7} {:>9} | ", "-", "-", "-");
                        }
                    }
                }
            }
            t.push('\n');
        }
        t.lines().map(|l| format!("{}\n", l.trim_end())).collect()
    }
}

/// The sustained final tx/s, p99 submit→final (s) and lost/duplicated of one report.
fn cells(r: &Report) -> (String, String, String) {
    let p99 = r.latency.p99.map_or_else(|| "n/a".into(), |p| format!("{p:.2}"));
    (format!("{:.0}", r.sustained_final_tps), p99, format!("{}/{}", r.lost, r.duplicated))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::stats::LatencySummary;

    fn report(offered: f64, sustained: f64, p99: f64) -> Report {
        Report {
            offered_tps: offered,
            sustained_final_tps: sustained,
            latency: LatencySummary { count: 10, p99: Some(p99), ..LatencySummary::default() },
            ..Report::default()
        }
    }

    fn verify(all: f64) -> VerifyRate {
        VerifyRate { one_core_per_s: all / 2.0, all_cores_per_s: all, threads: 2, seconds: 1.0, tx_bytes: 280 }
    }

    #[test]
    fn the_bound_is_the_machines_verification_rate_shared_by_the_validators() {
        let bound = bound_tps(&verify(24_000.0), 3);
        assert_eq!(bound, Some(8_000.0));
        assert_eq!(fraction_of_bound(2_000.0, bound), Some(0.25));
        assert_eq!(bound_tps(&verify(24_000.0), 0), None);
        assert_eq!(bound_tps(&verify(0.0), 3), None);
        assert_eq!(fraction_of_bound(2_000.0, None), None);
    }

    #[test]
    fn the_table_puts_ours_and_both_cometbft_variants_on_one_row_per_rate() {
        let bound = bound_tps(&verify(24_000.0), 3);
        let result = BenchResult {
            machine: Machine { cpus: 2, load_before: Some(4.2), note: "busy".into(), ..Machine::default() },
            validators: 3,
            block_time: "2s".into(),
            duration_per_rate: "15s".into(),
            presign: true,
            verify: verify(24_000.0),
            bound_tps: bound,
            runs: BenchResult::runs_with_bound(vec![report(1_000.0, 998.0, 2.2), report(4_000.0, 2_000.0, 9.5)], bound),
            anchor: Some(Anchor {
                cometbft: "v0.38.26".into(),
                kvstore: vec![report(1_000.0, 990.0, 2.9)],
                signed: vec![report(1_000.0, 700.0, 4.5), report(4_000.0, 800.0, 20.0)],
            }),
        };
        let table = result.table();
        assert!(table.contains("12000/s on one core, 24000/s on 2 threads"), "{table}");
        assert!(table.contains("bound for 3 validators sharing it: 8000 final tx/s"), "{table}");
        assert!(table.contains("load average 4.2 before"), "{table}");
        let row = |rate: &str| {
            let line = table.lines().find(|l| l.trim_start().starts_with(rate)).unwrap();
            line.split_whitespace().map(str::to_string).collect::<Vec<_>>()
        };
        let r1000 = row("1000 |");
        assert_eq!(
            r1000,
            ["1000", "|", "998", "12%", "2.20", "0/0", "|", "990", "2.90", "0/0", "|", "700", "4.50", "0/0", "|"]
        );
        // A rate CometBFT kvstore did not run shows dashes, not another rate's figures.
        let r4000 = row("4000 |");
        assert_eq!(
            r4000,
            ["4000", "|", "2000", "25%", "9.50", "0/0", "|", "-", "-", "-", "|", "800", "20.00", "0/0", "|"]
        );
        // The document round-trips, the fraction beside each run's fields.
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["runs"][1]["fraction_of_bound"], 0.25);
        assert_eq!(json["runs"][1]["sustained_final_tps"], 2_000.0);
        assert_eq!(serde_json::from_value::<BenchResult>(json).unwrap(), result);
    }

    #[test]
    fn without_the_anchor_the_table_has_only_our_columns() {
        let result = BenchResult {
            machine: Machine::default(),
            validators: 3,
            block_time: "2s".into(),
            duration_per_rate: "15s".into(),
            presign: false,
            verify: verify(0.0),
            bound_tps: None,
            runs: BenchResult::runs_with_bound(vec![report(100.0, 99.0, 2.0)], None),
            anchor: None,
        };
        let table = result.table();
        assert!(!table.contains("CometBFT"), "{table}");
        assert!(table.contains("n/a"), "{table}");
        assert!(serde_json::to_value(&result).unwrap().get("anchor").is_none());
    }

    #[test]
    fn reports_are_read_by_prefix_and_sorted_by_rate() {
        let dir = std::env::temp_dir().join(format!("coinjecture-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, rate) in [("ours-5000.json", 5_000.0), ("ours-100.json", 100.0), ("kvstore-100.json", 100.0)] {
            std::fs::write(dir.join(name), serde_json::to_string(&report(rate, rate, 1.0)).unwrap()).unwrap();
        }
        std::fs::write(dir.join("ours-notes.json"), "{}").unwrap();
        let ours = read_reports(&dir, "ours").unwrap();
        assert_eq!(ours.iter().map(|r| r.offered_tps).collect::<Vec<_>>(), [100.0, 5_000.0]);
        assert_eq!(read_reports(&dir, "kvstore").unwrap().len(), 1);
        assert!(read_reports(&dir, "signed").unwrap().is_empty());
        std::fs::write(dir.join("signed-100.json"), "not json").unwrap();
        let err = read_reports(&dir, "signed").unwrap_err().to_string();
        assert!(err.contains("signed-100.json: not a load report"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn verification_is_measured_on_real_strict_checks() {
        let rate = measure_verify_rate(Duration::from_millis(50));
        assert!(rate.one_core_per_s > 0.0 && rate.all_cores_per_s > 0.0, "{rate:?}");
        assert!(rate.threads >= 1);
        assert!((150..400).contains(&rate.tx_bytes), "{rate:?}");
    }
}
