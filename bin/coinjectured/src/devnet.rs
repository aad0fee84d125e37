//! `coinjectured devnet`: a local N-validator network in one command. Generates (or reuses) the
//! keys, a genesis with a funded faucet, and one config per validator (and per follower,
//! `--followers`) under `--dir`, then runs each node as its own `coinjectured node` process on
//! loopback and prints where to look.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coinjecture_ledger::GenesisConfig;
use coinjecture_primitives::ChainId;
use eyre::{WrapErr, bail, eyre};

use crate::keys;

/// The devnet's chain id.
pub(crate) const DEVNET_CHAIN_ID: &str = "coinjecture-devnet";
/// Faucet balance in the genesis (the load generator funds its accounts from it).
const FAUCET_BALANCE: u64 = 1_000_000_000_000_000_000;
/// Each validator's genesis balance.
const VALIDATOR_BALANCE: u64 = 1_000_000_000_000;

/// First ports of each kind; validator i (0-based) uses base + i, follower j base + validators + j.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ports {
    pub(crate) p2p: u16,
    pub(crate) api: u16,
    pub(crate) grpc: u16,
}

fn key_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("keys").join(format!("{name}.key"))
}

fn load_or_create_key(path: &Path) -> eyre::Result<coinjecture_crypto_core::signatures::Keypair> {
    if path.exists() { keys::read(path) } else { keys::generate(path, false) }
}

/// How many nodes of each kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nodes {
    pub(crate) validators: usize,
    /// Nodes outside the validator set (`consensus.role: follower`): they follow the chain and
    /// serve the API and the explorer.
    pub(crate) followers: usize,
}

/// Writes what is missing of keys, genesis and configs, and keeps what exists (an operator's
/// edits survive); returns the config paths and what was kept and written.
pub(crate) fn prepare(nodes: Nodes, dir: &Path, ports: Ports, block_time: &str) -> eyre::Result<Prepared> {
    let Nodes { validators, followers } = nodes;
    if validators == 0 || validators > 32 {
        bail!("--validators: must be 1 to 32, found {validators}");
    }
    if followers > 32 {
        bail!("--followers: must be 0 to 32, found {followers}");
    }
    crate::config::parse_duration(block_time).map_err(|e| eyre!("--block-time: {e}"))?;
    let top = |base: u16| u32::from(base) + (validators + followers) as u32;
    if [ports.p2p, ports.api, ports.grpc].iter().any(|b| top(*b) > 65_535) {
        bail!("ports: base port + validators + followers exceeds 65535");
    }
    check_existing_count(dir, validators)?;
    std::fs::create_dir_all(dir.join("data")).wrap_err_with(|| format!("creating {}", dir.display()))?;
    std::fs::create_dir_all(dir.join("logs")).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let faucet = load_or_create_key(&key_path(dir, "faucet"))?;
    let mut keys_and_peers = Vec::new();
    for i in 0..validators {
        let key = load_or_create_key(&key_path(dir, &format!("validator-{}", i + 1)))?;
        let peer = keys::peer_id(&key.seed())?;
        keys_and_peers.push((key, peer));
    }
    let genesis_path = dir.join("genesis.yaml");
    let genesis_existed = genesis_path.exists();
    if !genesis_existed {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| eyre!("clock: {e}"))?;
        let mut allocations = vec![(faucet.public_key(), FAUCET_BALANCE)];
        allocations.extend(keys_and_peers.iter().map(|(k, _)| (k.public_key(), VALIDATOR_BALANCE)));
        let genesis = GenesisConfig {
            chain_id: ChainId::new(DEVNET_CHAIN_ID).map_err(|e| eyre!("{e}"))?,
            timestamp_ms: i64::try_from(now.as_millis()).unwrap_or(i64::MAX),
            allocations,
            block_limits: coinjecture_primitives::BlockLimits::default(),
        };
        std::fs::write(&genesis_path, genesis.to_yaml())
            .wrap_err_with(|| format!("writing {}", genesis_path.display()))?;
    }
    let validator_list: String = keys_and_peers.iter().map(|(k, _)| format!("    - {}\n", k.public_key())).collect();
    let peer_addr =
        |j: usize, peer: &str| format!("    - /ip4/127.0.0.1/tcp/{}/p2p/{peer}\n", u32::from(ports.p2p) + j as u32);
    let (mut configs, mut kept, mut written) = (Vec::new(), Vec::new(), Vec::new());
    if genesis_existed {
        kept.push(genesis_path)
    } else {
        written.push(genesis_path)
    }
    for (i, (_, _)) in keys_and_peers.iter().enumerate() {
        let path = dir.join(format!("validator-{}.yaml", i + 1));
        configs.push(path.clone());
        if path.exists() {
            // Kept as it is: the operator may have edited it (`--reset` starts over).
            kept.push(path);
            continue;
        }
        let bootstrap: String = keys_and_peers
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, (_, peer))| peer_addr(j, &peer.to_string()))
            .collect();
        let bootstrap = if bootstrap.is_empty() {
            "  bootstrap_peers: []\n".to_string()
        } else {
            format!("  bootstrap_peers:\n{bootstrap}")
        };
        let text = format!(
            "# Generated by `coinjectured devnet`; edit freely: the next run keeps this file (only\n\
             # `coinjectured devnet --reset` replaces it).\n\
             network:\n  id: {DEVNET_CHAIN_ID}\n  name: devnet\n  genesis: ./genesis.yaml\n\
             consensus:\n  block_time: {block_time}\n  quorum: crash\n  validator_key: ./keys/validator-{n}.key\n  validators:\n{validator_list}\
             p2p:\n  listen_addrs:\n    - /ip4/127.0.0.1/tcp/{p2p}\n{bootstrap}\
             api:\n  port: {api}\n  bind: 127.0.0.1\n  grpc_port: {grpc}\n\
             database:\n  path: ./data/validator-{n}.db\n\
             logger:\n  level: info\n  format: json\n",
            n = i + 1,
            p2p = u32::from(ports.p2p) + i as u32,
            api = u32::from(ports.api) + i as u32,
            grpc = u32::from(ports.grpc) + i as u32,
        );
        std::fs::write(&path, text).wrap_err_with(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    // Followers: a key of their own (outside the validator set), every validator as a bootstrap
    // peer, the same validator list and quorum, `role: follower`.
    let all_validators: String =
        keys_and_peers.iter().enumerate().map(|(j, (_, peer))| peer_addr(j, &peer.to_string())).collect();
    for f in 0..followers {
        let n = f + 1;
        let path = dir.join(format!("follower-{n}.yaml"));
        load_or_create_key(&key_path(dir, &format!("follower-{n}")))?;
        configs.push(path.clone());
        if path.exists() {
            kept.push(path);
            continue;
        }
        let slot = (validators + f) as u32;
        let text = format!(
            "# Generated by `coinjectured devnet --followers`; edit freely: the next run keeps this file\n\
             # (only `coinjectured devnet --reset` replaces it). A follower: it follows the chain (gossip\n\
             # and block sync from the validators), serves the API and explorer, relays submitted\n\
             # transactions, and signs nothing. Its consensus section must list the validators (and\n\
             # quorum) the validators' configs do: it verifies every commit certificate against them.\n\
             network:\n  id: {DEVNET_CHAIN_ID}\n  name: devnet\n  genesis: ./genesis.yaml\n\
             consensus:\n  role: follower\n  block_time: {block_time}\n  quorum: crash\n  validator_key: ./keys/follower-{n}.key\n  validators:\n{validator_list}\
             p2p:\n  listen_addrs:\n    - /ip4/127.0.0.1/tcp/{p2p}\n  bootstrap_peers:\n{all_validators}\
             api:\n  port: {api}\n  bind: 127.0.0.1\n  grpc_port: {grpc}\n\
             database:\n  path: ./data/follower-{n}.db\n\
             logger:\n  level: info\n  format: json\n",
            p2p = u32::from(ports.p2p) + slot,
            api = u32::from(ports.api) + slot,
            grpc = u32::from(ports.grpc) + slot,
        );
        std::fs::write(&path, text).wrap_err_with(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(Prepared { configs, kept, written })
}

/// The name of node `i` of a devnet with `validators` validators: `validator-N`, then `follower-N`.
pub(crate) fn node_name(i: usize, validators: usize) -> String {
    if i < validators { format!("validator-{}", i + 1) } else { format!("follower-{}", i - validators + 1) }
}

/// What [`prepare`] did.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// validator-1.yaml … validator-N.yaml, then follower-1.yaml … follower-M.yaml.
    pub(crate) configs: Vec<PathBuf>,
    /// Existing files left as they were (generated files the operator may have edited).
    pub(crate) kept: Vec<PathBuf>,
    /// Files written by this run.
    pub(crate) written: Vec<PathBuf>,
}

/// What `devnet --reset` deletes under `dir`: only what `devnet` writes there, never the
/// directory's other contents.
fn generated_paths(dir: &Path) -> eyre::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for name in ["genesis.yaml", "keys", "data", "logs"] {
        let path = dir.join(name);
        if path.symlink_metadata().is_ok() {
            found.push(path);
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(eyre!("reading {}: {e}", dir.display())),
    };
    for entry in entries {
        let entry = entry.wrap_err_with(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if validator_config_number(&name).is_some() || follower_config_number(&name).is_some() {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

/// `validator-N.yaml` → N.
fn validator_config_number(file_name: &str) -> Option<usize> {
    file_name.strip_prefix("validator-")?.strip_suffix(".yaml")?.parse().ok()
}

/// `follower-N.yaml` → N.
fn follower_config_number(file_name: &str) -> Option<usize> {
    file_name.strip_prefix("follower-")?.strip_suffix(".yaml")?.parse().ok()
}

/// `devnet --reset`: deletes the keys, genesis, configs (validators' and followers'), databases
/// and logs a previous run left in `dir` (and nothing else), returning what it removed.
pub(crate) fn reset(dir: &Path) -> eyre::Result<Vec<PathBuf>> {
    let paths = generated_paths(dir)?;
    for path in &paths {
        let result = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
        result.wrap_err_with(|| format!("--reset: removing {}", path.display()))?;
    }
    Ok(paths)
}

/// Refuses to mix validator counts: configs written for another `--validators` list other
/// validator keys (and the genesis funds them), so adding or dropping one needs `--reset`.
fn check_existing_count(dir: &Path, validators: usize) -> eyre::Result<()> {
    let existing: Vec<usize> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter_map(|e| validator_config_number(&e.file_name().to_string_lossy()))
            .collect(),
        Err(_) => return Ok(()),
    };
    let Some(&most) = existing.iter().max() else { return Ok(()) };
    if most != validators {
        bail!(
            "{} holds a devnet of {most} validators (validator-{most}.yaml), not {validators}: run with \
             --validators {most}, or add --reset to delete it and start over",
            dir.display()
        );
    }
    Ok(())
}

/// Prints which files were written and which existing ones were kept (so an operator knows
/// their edits are in effect, and how to start over).
pub(crate) fn print_files(prepared: &Prepared) {
    let names = |paths: &[PathBuf]| -> String {
        paths
            .iter()
            .map(|p| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !prepared.written.is_empty() {
        println!("wrote {}", names(&prepared.written));
    }
    if !prepared.kept.is_empty() {
        println!("kept existing {} (edits preserved; --reset starts over)", names(&prepared.kept));
    }
}

/// The ports a validator's config uses (it may have been edited since it was written).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConfigPorts {
    api: Option<u16>,
    grpc: Option<u16>,
    p2p: Option<String>,
    bind: String,
}

fn config_ports(path: &Path) -> ConfigPorts {
    let yaml: serde_yaml::Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_yaml::from_str(&text).ok())
        .unwrap_or(serde_yaml::Value::Null);
    let port = |v: &serde_yaml::Value| v.as_u64().and_then(|p| u16::try_from(p).ok());
    ConfigPorts {
        api: port(&yaml["api"]["port"]),
        grpc: port(&yaml["api"]["grpc_port"]),
        p2p: yaml["p2p"]["listen_addrs"][0].as_str().map(str::to_string),
        bind: yaml["api"]["bind"].as_str().unwrap_or("127.0.0.1").to_string(),
    }
}

/// `http://host:port` of a validator's REST API from its config (0.0.0.0 is reached on loopback).
fn api_url(ports: &ConfigPorts) -> Option<String> {
    let host = match ports.bind.as_str() {
        "0.0.0.0" | "::" | "" => "127.0.0.1",
        other => other,
    };
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    ports.api.map(|p| format!("http://{host}:{p}"))
}

/// Prepares the devnet and runs it until Ctrl-C / SIGTERM.
pub(crate) fn run(nodes: Nodes, dir: &Path, ports: Ports, block_time: &str) -> eyre::Result<()> {
    let prepared = prepare(nodes, dir, ports, block_time)?;
    let Nodes { validators, followers } = nodes;
    let configs = prepared.configs.clone();
    let name = |i: usize| node_name(i, validators);
    let exe = std::env::current_exe().wrap_err("locating the coinjectured binary")?;
    let mut children: Vec<(usize, Child)> = Vec::new();
    for (i, config) in configs.iter().enumerate() {
        let log_path = dir.join("logs").join(format!("{}.log", name(i)));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .wrap_err_with(|| format!("opening {}", log_path.display()))?;
        let err = log.try_clone().wrap_err("duplicating the log handle")?;
        let child = Command::new(&exe)
            .arg("node")
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .wrap_err_with(|| format!("starting {}", name(i)))?;
        children.push((i, child));
    }
    let follower_text = match followers {
        0 => String::new(),
        1 => " and 1 follower".to_string(),
        n => format!(" and {n} followers"),
    };
    println!(
        "COINjecture devnet: {validators} validators{follower_text}, chain {DEVNET_CHAIN_ID}, files in {}",
        dir.display()
    );
    print_files(&prepared);
    let mut urls = Vec::new();
    for (i, config) in configs.iter().enumerate() {
        let p = config_ports(config);
        let url = api_url(&p);
        println!(
            "  {name}: {api}/v1/status   p2p {p2p}   gRPC {grpc}   config {config}   log {log}",
            name = name(i),
            api = url.as_deref().unwrap_or("(api.port not set)"),
            p2p = p.p2p.as_deref().unwrap_or("?"),
            grpc = p.grpc.map_or("?".to_string(), |g| format!("127.0.0.1:{g}")),
            config = config.display(),
            log = dir.join("logs").join(format!("{}.log", name(i))).display(),
        );
        urls.push(url);
    }
    let faucet = key_path(dir, "faucet");
    // With followers, clients (and this console) use the first follower: validators need not
    // expose their API.
    let first = urls
        .get(if followers > 0 { validators } else { 0 })
        .cloned()
        .flatten()
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_string());
    println!("  faucet key: {}", faucet.display());
    let dir_flag = if dir == Path::new("./devnet") || dir == Path::new("devnet") {
        String::new()
    } else {
        format!(" --devnet-dir {}", shell_quote(&dir.display().to_string()))
    };
    let exe_text = shell_quote(&exe.display().to_string());
    println!("  send coins (new account, then a transfer from the faucet that waits until it is final):");
    println!("    {exe_text} wallet new --key alice.key");
    println!(
        "    {exe_text} wallet send --faucet{dir_flag} --node {first} --to $({exe_text} wallet address --key alice.key) --amount 1000 --wait"
    );
    println!("  Ctrl-C stops the network; run again to resume (--reset starts over). Final blocks:");

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    spawn_block_log(&first, &configs[..validators], &stop);
    install_stop_flag(&stop)?;
    let result = loop {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            break Ok(());
        }
        let mut exited = None;
        for (i, child) in &mut children {
            if let Ok(Some(status)) = child.try_wait() {
                exited = Some((*i, status));
            }
        }
        if let Some((i, status)) = exited {
            break Err(eyre!(
                "{} exited ({status}); see {}",
                name(i),
                dir.join("logs").join(format!("{}.log", name(i))).display()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for (_, child) in &mut children {
        terminate(child);
    }
    for (_, child) in &mut children {
        let _ = child.wait();
    }
    result
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+:=@,".contains(&b)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Prints each block as it becomes final on the node at `url` (height, transactions,
/// proposer), from a background thread until `stop` is set. Quiet while the node is not up.
fn spawn_block_log(url: &str, configs: &[PathBuf], stop: &std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let Ok(node) = crate::http::Node::parse(url) else { return };
    // Proposers by public key: validator-N's key is keys/validator-N.key next to the configs.
    let names: std::collections::HashMap<String, String> = configs
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let key = c.parent()?.join("keys").join(format!("validator-{}.key", i + 1));
            Some((keys::read(&key).ok()?.public_key().to_hex(), format!("validator-{}", i + 1)))
        })
        .collect();
    let stop = stop.clone();
    std::thread::spawn(move || {
        let mut next: Option<u64> = None;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(250));
            let path = match next {
                // Start at the tip: the history is in the explorer.
                None => "/v1/blocks?order=desc&limit=1&headers_only=true".to_string(),
                Some(from) => format!("/v1/blocks?order=asc&from={from}&limit=100&headers_only=true"),
            };
            let Ok(answer) = node.get(&path) else { continue };
            let Some(blocks) = answer.json["blocks"].as_array() else { continue };
            for block in blocks {
                let (Some(height), Some(txs)) = (block["height"].as_u64(), block["transaction_count"].as_u64()) else {
                    continue;
                };
                if height == 0 {
                    // Genesis is not a produced block: wait for height 1.
                    next = Some(1);
                    continue;
                }
                let proposer = block["miner_address"].as_str().unwrap_or("");
                let name = names.get(proposer).cloned().unwrap_or_else(|| proposer.chars().take(16).collect());
                println!(
                    "  final block {height}: {txs} tx{s}, proposer {name}, {time}",
                    s = if txs == 1 { "" } else { "s" },
                    time = block["time"].as_str().unwrap_or(""),
                );
                next = Some(height + 1);
            }
        }
    });
}

/// Sets `stop` on SIGINT or SIGTERM (a small runtime-free watcher thread).
fn install_stop_flag(stop: &std::sync::Arc<std::sync::atomic::AtomicBool>) -> eyre::Result<()> {
    let stop = stop.clone();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().wrap_err("signal watcher")?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return,
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
    });
    Ok(())
}

/// Asks a child to stop (SIGTERM), so it closes its database cleanly.
fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    #[cfg(unix)]
    {
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).stderr(Stdio::null()).status();
        for _ in 0..50 {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = child.kill();
}
