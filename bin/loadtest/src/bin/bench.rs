//! `coinjecture-bench`: the parts of `bench/run.sh` that are not the load itself.
//!
//! ```text
//! coinjecture-bench verify-rate [--seconds 3] [--out verify.json]
//! coinjecture-bench summarize DIR --out RESULT.json --validators 3 --block-time 2s --duration 20s \
//!     [--presign] [--cometbft v0.38.26] [--load-before 4.2] [--note "machine busy"]
//! ```
//!
//! `summarize` reads `DIR/verify.json` and the reports `DIR/ours-<rate>.json`,
//! `DIR/kvstore-<rate>.json` and `DIR/signed-<rate>.json`, writes the result document and prints
//! ours and CometBFT's two variants side by side (see `coinjecture_loadtest::bench`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use coinjecture_loadtest::bench::{self, Anchor, BenchResult, Machine, VerifyRate};
use eyre::WrapErr as _;

#[derive(Debug, Parser)]
#[command(version, about = "bench/run.sh's helpers: the verification bound and the side-by-side summary")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measures strict ed25519 verifications per second on one core and on all of them.
    VerifyRate {
        /// Seconds per measurement (one thread, then all cores).
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Also write the figures as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Combines a run's reports into one result document and prints the side-by-side table.
    Summarize {
        /// The directory holding verify.json and the reports.
        dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 3)]
        validators: u32,
        #[arg(long, default_value = "2s")]
        block_time: String,
        #[arg(long, default_value = "20s")]
        duration: String,
        #[arg(long)]
        presign: bool,
        /// The CometBFT version the anchor ran (its reports are read when given).
        #[arg(long)]
        cometbft: Option<String>,
        /// The 1-minute load average before the runs.
        #[arg(long)]
        load_before: Option<f64>,
        /// Free text about the conditions (e.g. "machine busy with other builds").
        #[arg(long, default_value = "")]
        note: String,
    },
}

fn main() -> eyre::Result<()> {
    match Args::parse().command {
        Command::VerifyRate { seconds, out } => {
            if !(seconds > 0.0 && seconds <= 600.0) {
                eyre::bail!("--seconds {seconds}: expected more than 0 and at most 600");
            }
            let rate = bench::measure_verify_rate(Duration::from_secs_f64(seconds));
            println!(
                "strict ed25519: {:.0}/s on one core, {:.0}/s on {} threads ({:.1} s each); transfer {} bytes",
                rate.one_core_per_s, rate.all_cores_per_s, rate.threads, rate.seconds, rate.tx_bytes
            );
            if let Some(out) = out {
                std::fs::write(&out, serde_json::to_string_pretty(&rate)?)
                    .wrap_err_with(|| format!("writing {}", out.display()))?;
            }
        }
        Command::Summarize { dir, out, validators, block_time, duration, presign, cometbft, load_before, note } => {
            let verify_path = dir.join("verify.json");
            let verify: VerifyRate = serde_json::from_str(
                &std::fs::read_to_string(&verify_path)
                    .wrap_err_with(|| format!("reading {}", verify_path.display()))?,
            )
            .wrap_err_with(|| format!("{}: not a verify-rate result", verify_path.display()))?;
            let bound = bench::bound_tps(&verify, validators);
            let anchor = match cometbft {
                Some(version) => Some(Anchor {
                    cometbft: version,
                    kvstore: bench::read_reports(&dir, "kvstore")?,
                    signed: bench::read_reports(&dir, "signed")?,
                }),
                None => None,
            };
            let result = BenchResult {
                machine: Machine {
                    cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
                    platform: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
                    load_before,
                    load_after: bench::load_average(),
                    note,
                },
                validators,
                block_time,
                duration_per_rate: duration,
                presign,
                verify,
                bound_tps: bound,
                runs: BenchResult::runs_with_bound(bench::read_reports(&dir, "ours")?, bound),
                anchor,
            };
            std::fs::write(&out, serde_json::to_string_pretty(&result)?)
                .wrap_err_with(|| format!("writing {}", out.display()))?;
            print!("{}", result.table());
            println!("wrote {}", out.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_parses() {
        let args = Args::try_parse_from([
            "coinjecture-bench",
            "summarize",
            "/tmp/x",
            "--out",
            "r.json",
            "--presign",
            "--cometbft",
            "v0.38.26",
        ])
        .map_err(|e| e.to_string());
        assert!(
            matches!(args, Ok(Args { command: Command::Summarize { presign: true, cometbft: Some(ref v), .. } }) if v == "v0.38.26"),
            "{args:?}"
        );
        assert!(Args::try_parse_from(["coinjecture-bench", "verify-rate", "--seconds", "x"]).is_err());
    }
}
