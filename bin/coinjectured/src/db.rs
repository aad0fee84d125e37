//! `coinjectured db verify`: checks a whole ledger database offline (read-only), with a progress
//! bar on stderr; exits non-zero naming the first bad height and row.

use std::path::PathBuf;

use clap::Subcommand;
use coinjecture_ledger::{GenesisConfig, verify_database};
use eyre::eyre;

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Check every block of a ledger database: hashes, Merkle roots, transaction rows, parent
    /// links and certificates; with --config also the certificates' signatures and quorum, every
    /// transaction's signature and the state commitments replayed from the genesis. Read-only.
    Verify {
        /// The SQLite database file (a node's `database.path`).
        #[arg(long)]
        database: PathBuf,
        /// The node's configuration: its genesis and validators make the check complete.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

pub(crate) async fn run(command: DbCommand) -> eyre::Result<()> {
    match command {
        DbCommand::Verify { database, config } => verify(database, config).await,
    }
}

async fn verify(database: PathBuf, config: Option<PathBuf>) -> eyre::Result<()> {
    let (genesis, validators) = match &config {
        Some(path) => {
            let config = Config::load(path)?;
            let genesis = GenesisConfig::load(&config.network.genesis).map_err(|e| eyre!("network.genesis: {e}"))?;
            (Some(genesis), Some(config.validator_schedule()?))
        }
        None => (None, None),
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} blocks ({per_sec}, eta {eta})")
            .map_err(|e| eyre!("progress bar: {e}"))?
            .progress_chars("=> "),
    );
    bar.set_message(format!("verifying {}", database.display()));
    let started = std::time::Instant::now();
    let result = verify_database(&database, genesis.as_ref(), validators.as_ref(), |height, tip| {
        bar.set_length(tip.next().get());
        bar.set_position(height.next().get());
    })
    .await;
    bar.finish_and_clear();
    let report = result.map_err(|e| eyre!("{}: {e}", database.display()))?;
    println!(
        "{}: ok ({} blocks to height {}, {} transactions, {} certificates verified, state {}; {:.1?})",
        database.display(),
        report.blocks,
        report.tip,
        report.transactions,
        report.certificates_verified,
        if report.state_replayed { "replayed from genesis" } else { "not replayed (no --config)" },
        started.elapsed()
    );
    if config.is_none() {
        println!("note: without --config the certificates' signatures and the state commitments are not checked");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_node_exports_the_corrupt_reads_counter() {
        let text = crate::node::metrics_text(&crate::node::new_registry());
        assert!(text.contains("# TYPE coinjecture_ledger_corrupt_reads counter"), "{text}");
        assert!(text.contains("coinjecture_ledger_corrupt_reads_total 0"), "{text}");
    }
}
