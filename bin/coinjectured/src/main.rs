//! `coinjectured`: the COINjecture daemon.
//!
//! Today it runs the `crypto-core` service; the node, devnet and the other services join as they
//! are built (see the README's roadmap).

mod config;
mod db;
mod devnet;
mod env_overrides;
mod equivocate;
mod http;
mod keys;
mod limits;
mod node;
mod process_metrics;
mod safety_flags;
mod shadow;
mod split;
mod state_sync;
mod tls;
mod wallet;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use coinjecture_telemetry::LogFormat;
use eyre::WrapErr;

#[derive(Debug, Parser)]
#[command(name = "coinjectured", version, about = "COINjecture node daemon")]
struct Cli {
    /// Log format: json (default) or text.
    #[arg(long, global = true, default_value = "json", env = "COINJECTURE_LOG_FORMAT")]
    log_format: LogFormat,
    /// Log filter (RUST_LOG syntax), e.g. `info` or `coinjecture_crypto_core=debug,info`.
    #[arg(long, global = true, default_value = "info", env = "COINJECTURE_LOG_LEVEL")]
    log_level: String,
    /// TEST ONLY, debug builds only, `node` only: sign a conflicting twin of every vote (a
    /// Byzantine validator for the fault-tolerance suite; see equivocate.rs). Hidden from --help.
    #[arg(long = "test-only-equivocate", global = true, hide = true)]
    test_only_equivocate: bool,
    /// TEST ONLY (debug builds): serve garbage, forged and tampered state-sync snapshots (see
    /// state_sync.rs). Hidden from --help.
    #[arg(long = "test-only-hostile-snapshots", global = true, hide = true)]
    test_only_hostile_snapshots: bool,
    /// DANGEROUS; `node` and `service consensus` only. Start although the signing state or lock
    /// is damaged, missing on a database whose certificates carry this validator's signature, or
    /// far ahead of the chain: a damaged file is moved aside and nothing is signed until the chain
    /// has passed the last height this validator may have signed. Safe only with the validator's
    /// own, current database (README, "Safety files").
    #[arg(long = "unsafe-reset-signing-state", global = true)]
    unsafe_reset_signing_state: bool,
    /// Measurements only; `node` and `service consensus`: answer submissions without journaling
    /// them (a crash of every validator then loses what the API accepted). Hidden from --help.
    #[arg(long = "no-tx-journal", global = true, hide = true)]
    no_tx_journal: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a validator key (ed25519; also the node's libp2p identity).
    Keygen {
        /// Where to write the key (hex seed, file mode 0600).
        #[arg(long)]
        output: PathBuf,
        /// Overwrite an existing file (its key is lost).
        #[arg(long)]
        force: bool,
    },
    /// Run a node: all five services in one process.
    Node {
        /// The node's YAML configuration (see configs/).
        #[arg(long)]
        config: PathBuf,
    },
    /// Generate keys, genesis and configs and run a local N-validator network on loopback.
    Devnet {
        /// Number of validators.
        #[arg(long, default_value_t = 3)]
        validators: usize,
        /// Number of followers: nodes outside the validator set (`consensus.role: follower`)
        /// that follow the chain and serve the API and explorer (ports after the validators').
        #[arg(long, default_value_t = 0)]
        followers: usize,
        /// Where keys, genesis, configs, databases and logs go (reused when it exists).
        #[arg(long, default_value = "./devnet")]
        dir: PathBuf,
        /// First p2p port (validator i listens on base + i, follower j on base + validators + j).
        #[arg(long, default_value_t = 9000)]
        p2p_port: u16,
        /// First REST/API port (validator i serves on base + i).
        #[arg(long, default_value_t = 8080)]
        api_port: u16,
        /// First internal gRPC port (validator i on base + i).
        #[arg(long, default_value_t = 50061)]
        grpc_port: u16,
        /// Time between blocks.
        #[arg(long, default_value = "2s")]
        block_time: String,
        /// Only write keys, genesis and configs (to edit, or to start the nodes yourself).
        #[arg(long)]
        init_only: bool,
        /// Start over: delete the keys, genesis, configs, databases and logs a previous run
        /// left in --dir (and nothing else there), then generate new ones. Without it, existing
        /// files are kept and only missing ones are written.
        #[arg(long)]
        reset: bool,
    },
    /// Exit 0 when URL answers 2xx, else print the answer and exit 1: a container healthcheck
    /// (the image has no shell or curl), e.g. `coinjectured healthcheck http://127.0.0.1:8080/ready`.
    Healthcheck {
        /// What to GET, e.g. http://127.0.0.1:8080/ready or http://127.0.0.1:9100/metrics.
        url: String,
    },
    /// Accounts from the command line: new key, address, balance, nonce, send.
    #[command(subcommand)]
    Wallet(wallet::WalletCommand),
    /// Check a configuration file (and its environment overrides) without starting anything.
    CheckConfig {
        #[arg(long)]
        config: PathBuf,
    },
    /// Follow a node's chain and recompute every block's hashes (parity check; see shadow.rs).
    Shadow(shadow::ShadowArgs),
    /// Mutual TLS for internal gRPC: a development CA and certificates.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Ledger database tools (`db verify`).
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
    /// Run one service on its own.
    Service {
        /// Which service.
        name: split::ServiceName,
        /// Address to listen on for gRPC (the api listens on `api.port` instead).
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
        /// Also serve `/metrics` (Prometheus text: the service's gRPC latencies and its own
        /// metrics) over HTTP on this address. The api serves `/metrics` on `api.port` anyway.
        #[arg(long)]
        metrics_listen: Option<SocketAddr>,
        /// The node's configuration (all services but crypto-core need it; the others' addresses
        /// are in its `services:` section).
        #[arg(long)]
        config: Option<PathBuf>,
        /// crypto-core only: serve plaintext on a non-loopback `--listen` address without
        /// `api.internal_tls`. It holds no state and no key, so callers cannot harm it; but its
        /// callers trust its answers, so use it only on a network you control (README, "Trust
        /// model").
        #[arg(long)]
        insecure_public: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TlsCommand {
    /// Write a CA (`ca.pem`, `ca-key.pem`; reused when present) and a certificate signed by it
    /// (`<cert-name>.pem`, `<cert-name>-key.pem`), valid as server and client. Use one CA per
    /// validator: its internal services admit any certificate the CA signed.
    Gen {
        /// Directory to write to (created 0700).
        #[arg(long)]
        dir: PathBuf,
        /// Names the certificate is valid for, comma-separated: the hosts clients dial (DNS names
        /// or IP addresses); localhost, 127.0.0.1 and ::1 are always added.
        #[arg(long, value_delimiter = ',')]
        names: Vec<String>,
        /// File name of the certificate (`<cert-name>.pem` and `<cert-name>-key.pem`).
        #[arg(long, default_value = "node")]
        cert_name: String,
        /// Replace an existing certificate of that name.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> std::process::ExitCode {
    match run_cli(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line an operator can act on: the whole cause chain, no backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_cli(cli: Cli) -> eyre::Result<()> {
    if cli.test_only_equivocate {
        if !matches!(cli.command, Command::Node { .. }) {
            eyre::bail!("{}: only `coinjectured node` takes it", equivocate::FLAG);
        }
        equivocate::enable()?;
    }
    if cli.test_only_hostile_snapshots {
        if !matches!(cli.command, Command::Node { .. }) {
            eyre::bail!("{}: only `coinjectured node` takes it", state_sync::HOSTILE_FLAG);
        }
        state_sync::enable_hostile()?;
    }
    if cli.unsafe_reset_signing_state || cli.no_tx_journal {
        let consensus =
            matches!(cli.command, Command::Node { .. } | Command::Service { name: split::ServiceName::Consensus, .. });
        if !consensus {
            let flag =
                if cli.unsafe_reset_signing_state { safety_flags::RESET_FLAG } else { safety_flags::NO_JOURNAL_FLAG };
            eyre::bail!("{flag}: only `coinjectured node` and `coinjectured service consensus` take it");
        }
        safety_flags::set(cli.unsafe_reset_signing_state, cli.no_tx_journal);
    }
    match &cli.command {
        Command::Keygen { output, force } => {
            let key = keys::generate(output, *force)?;
            println!("public key: {}", key.public_key());
            println!("peer id:    {}", keys::peer_id(&key.seed())?);
            println!("key file:   {} (mode 0600; keep it secret)", output.display());
            return Ok(());
        }
        Command::CheckConfig { config } => {
            // Everything `node` refuses before it binds a socket: the typed parse and checks of
            // `Config::load`, then the files (key, genesis, TLS) and client endpoints.
            let c = config::Config::load(config)?;
            node::preflight(&c)?;
            let mut secrets: Vec<_> =
                c.consensus.validator_key.iter().map(|k| ("consensus.validator_key", k.clone())).collect();
            secrets.extend(c.api.internal_tls.as_ref().map(|t| ("api.internal_tls.key", t.key.clone())));
            for (key, path) in secrets {
                if let Some(warning) = keys::exposure_warning(&path) {
                    eprintln!("warning: {key}: {warning}");
                }
            }
            println!(
                "{}: ok (network {}, {} validators, role {})",
                config.display(),
                c.network.id,
                c.consensus.validators.len(),
                c.consensus.role.as_str()
            );
            return Ok(());
        }
        Command::Tls(TlsCommand::Gen { dir, names, cert_name, force }) => {
            let generated = tls::generate(dir, names, cert_name, *force)?;
            let verb = if generated.ca_created { "created" } else { "reused" };
            println!("ca:   {} ({verb}; its key ca-key.pem stays secret)", generated.ca.display());
            println!("cert: {}", generated.cert.display());
            println!("key:  {} (mode 0600)", generated.key.display());
            return Ok(());
        }
        Command::Devnet { validators, followers, dir, p2p_port, api_port, grpc_port, block_time, init_only, reset } => {
            let _telemetry = coinjecture_telemetry::init(cli.log_format, &cli.log_level, None)?;
            let ports = devnet::Ports { p2p: *p2p_port, api: *api_port, grpc: *grpc_port };
            let nodes = devnet::Nodes { validators: *validators, followers: *followers };
            if *reset {
                let removed = devnet::reset(dir)?;
                if removed.is_empty() {
                    println!("--reset: nothing to remove in {}", dir.display());
                }
                for path in removed {
                    println!("--reset: removed {}", path.display());
                }
            }
            if *init_only {
                let prepared = devnet::prepare(nodes, dir, ports, block_time)?;
                devnet::print_files(&prepared);
                for config in prepared.configs {
                    println!("{}", config.display());
                }
                return Ok(());
            }
            return devnet::run(nodes, dir, ports, block_time);
        }
        Command::Healthcheck { url } => {
            let answer = http::Node::parse(url)?.get("")?;
            if !(200..300).contains(&answer.status) {
                eyre::bail!("{url} answered {}: {}", answer.status, answer.text.trim());
            }
            if url.ends_with("/ready") || url.ends_with("/health") {
                println!("{}", answer.text.trim());
            }
            return Ok(());
        }
        Command::Wallet(command) => {
            // Warnings (a key file others can read) go to stderr as text.
            let _telemetry = coinjecture_telemetry::init(LogFormat::Text, "warn", None)?;
            return wallet::run(command);
        }
        Command::Service { .. } | Command::Node { .. } | Command::Shadow(_) | Command::Db { .. } => {}
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().wrap_err("starting the async runtime")?;
    // Inside the runtime: the OTLP exporter's gRPC connection lives on it.
    let telemetry = {
        let _entered = runtime.enter();
        init_telemetry(&cli)?
    };
    let result = runtime.block_on(run(cli.command));
    // Flush queued spans while the runtime (and so the exporter's connection) still runs.
    telemetry.shutdown();
    result
}

/// Logging as the command asks, and trace export when `otel.endpoint` (or
/// `COINJECTURE_OTEL_ENDPOINT`) is set: `service.name` is the service, or `coinjectured` for a
/// whole node.
fn init_telemetry(cli: &Cli) -> eyre::Result<coinjecture_telemetry::Telemetry> {
    let traces = |endpoint: String, service: &str, network: Option<String>| {
        (!endpoint.trim().is_empty()).then(|| coinjecture_telemetry::Traces {
            endpoint: endpoint.trim().to_string(),
            service_name: service.to_string(),
            network,
        })
    };
    let from_env = || std::env::var("COINJECTURE_OTEL_ENDPOINT").unwrap_or_default();
    let telemetry = match &cli.command {
        Command::Node { config } => {
            // A node logs as its configuration says (COINJECTURE_LOGGER_* overrides apply).
            let c = config::Config::load(config)?;
            let traces = traces(c.otel.endpoint, "coinjectured", Some(c.network.name));
            coinjecture_telemetry::init(c.logger.format, &c.logger.level, traces)?
        }
        Command::Service { name, config: Some(config), .. } => {
            let c = config::Config::load(config)?;
            let service =
                clap::ValueEnum::to_possible_value(name).map_or("coinjectured".into(), |v| v.get_name().to_string());
            let traces = traces(c.otel.endpoint, &service, Some(c.network.name));
            coinjecture_telemetry::init(cli.log_format, &cli.log_level, traces)?
        }
        Command::Service { name: split::ServiceName::CryptoCore, config: None, .. } => {
            coinjecture_telemetry::init(cli.log_format, &cli.log_level, traces(from_env(), "crypto-core", None))?
        }
        _ => coinjecture_telemetry::init(cli.log_format, &cli.log_level, traces(from_env(), "coinjectured", None))?,
    };
    Ok(telemetry)
}

async fn run(command: Command) -> eyre::Result<()> {
    match command {
        Command::Keygen { .. }
        | Command::CheckConfig { .. }
        | Command::Devnet { .. }
        | Command::Tls(_)
        | Command::Wallet(_)
        | Command::Healthcheck { .. } => Ok(()),
        Command::Node { config } => {
            let config = config::Config::load(&config)?;
            let running = node::start(&config).await?;
            tracing::info!(
                network = %config.network.name,
                chain_id = %config.network.id,
                validator = %running.consensus.local_validator,
                peer_id = %running.p2p.local_peer_id(),
                height = running.consensus.status().finalized_height.get(),
                "node started"
            );
            let mut tasks = running.tasks;
            let first_failure = async {
                loop {
                    let (result, _, rest) = futures::future::select_all(tasks).await;
                    match result {
                        Ok(Ok(())) if !rest.is_empty() => tasks = rest,
                        Ok(Ok(())) => return eyre::eyre!("all node tasks ended"),
                        Ok(Err(e)) => return e,
                        Err(e) => return eyre::eyre!("a node task panicked: {e}"),
                    }
                }
            };
            tokio::select! {
                () = shutdown_signal() => {
                    tracing::info!("stopping");
                    // New submissions are refused first (UNAVAILABLE: clients go to another
                    // node), and the ones already admitted get a moment to leave by gossip:
                    // mempools are not durable, so a transaction accepted after gossip ended
                    // would be lost. Then gossip ends, so consensus stops after finishing what
                    // it is doing (a block being applied is committed), then the database
                    // closes.
                    running.consensus.stop_admitting();
                    tokio::time::sleep(GOSSIP_FLUSH).await;
                    running.p2p.shutdown().await;
                    let mut consensus = running.consensus.watch();
                    let stopped = async { while consensus.changed().await.is_ok() {} };
                    if tokio::time::timeout(std::time::Duration::from_secs(10), stopped).await.is_err() {
                        tracing::warn!("consensus did not stop within 10 s; closing the database anyway");
                    }
                    running.ledger.close().await;
                    tracing::info!(
                        height = running.consensus.status().finalized_height.get(),
                        "node stopped: database closed"
                    );
                    Ok(())
                }
                e = first_failure => Err(e),
            }
        }
        Command::Shadow(args) => shadow::run(args, shutdown_signal()).await,
        Command::Db { command } => db::run(command).await,
        Command::Service {
            name: split::ServiceName::CryptoCore,
            listen,
            metrics_listen,
            config: None,
            insecure_public,
        } => {
            let tls = tls::listener_tls(None, listen, Some(insecure_public))?;
            // Without a config, the default connection limits of api.limits.
            let limits = config::ApiLimitsSection::default();
            let registry = node::new_registry();
            let listener = limits::listen("internal gRPC", listen, "--listen", &limits).await?;
            limits::register_metrics(&registry, &listener);
            let _metrics = split::serve_metrics(metrics_listen, registry, &limits).await?;
            split::serve_crypto_core(listener, tls, limits.max_streams_per_connection, shutdown_signal())
                .await
                .wrap_err("crypto-core server failed")?;
            tracing::info!("crypto-core stopped");
            Ok(())
        }
        Command::Service { name, listen, metrics_listen, config: Some(config), insecure_public } => {
            let config = config::Config::load(&config)?;
            if insecure_public && name != split::ServiceName::CryptoCore {
                eyre::bail!("--insecure-public: only crypto-core takes it (it holds no state and no key)");
            }
            split::run(name, &config, listen, metrics_listen, insecure_public, shutdown_signal()).await?;
            tracing::info!(service = ?name, "stopped");
            Ok(())
        }
        Command::Service { name, config: None, .. } => {
            Err(eyre::eyre!("--config: the {name:?} service needs the node's configuration file"))
        }
    }
}

/// How long a stopping node keeps gossip up after it stops admitting transactions, so the
/// ones it accepted last reach its peers.
const GOSSIP_FLUSH: std::time::Duration = std::time::Duration::from_millis(300);

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown signal received");
}
