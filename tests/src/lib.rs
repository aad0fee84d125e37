//! # coinjecture-e2e
//!
//! Harness for end-to-end tests: builds `coinjectured`, lays out a devnet with
//! `coinjectured devnet --init-only`, runs each validator as its own process, and talks to them
//! over their gRPC ports. Processes are killed when the [`Network`] is dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test harness: a panic is the failure report")]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::{ChainId, PublicKey, Signature, Transaction, TxType, chain_tag};
use coinjecture_proto::v1 as pb;
use tonic::transport::Channel;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
}

/// Builds `coinjectured` (debug) once and returns its path.
pub fn binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["build", "--quiet", "-p", "coinjectured"])
                .current_dir(workspace())
                .status()
                .expect("running cargo build");
            assert!(status.success(), "cargo build -p coinjectured failed");
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from);
            target.join("debug").join("coinjectured")
        })
        .clone()
}

/// A base port with `count` free ports after it (best effort: checked by binding).
pub fn free_port_base(count: u16) -> u16 {
    for _ in 0..200 {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = probe.local_addr().unwrap().port();
        drop(probe);
        if !(20_000..=60_000).contains(&base) {
            continue;
        }
        if (0..count).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no free port range");
}

/// A running local network of validator processes.
#[derive(Debug)]
pub struct Network {
    pub dir: tempfile::TempDir,
    pub validators: usize,
    pub grpc_base: u16,
    pub api_base: u16,
    /// Per validator: (ledger gRPC port, consensus gRPC port); both the internal port unless split.
    ports: Vec<(u16, u16)>,
    /// Ports left for split services.
    spare_base: u16,
    children: Vec<Vec<Child>>,
    /// Environment variables given to every process started from now on (e.g.
    /// `COINJECTURE_OTEL_ENDPOINT`).
    pub env: Vec<(String, String)>,
}

impl Network {
    /// Lays out a devnet of `validators` and starts every validator.
    pub fn start(validators: usize, block_time: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = free_port_base(3 * validators as u16 + 3 * validators as u16);
        let (p2p, api, grpc) = (base, base + validators as u16, base + 2 * validators as u16);
        let out = Command::new(binary())
            .args(["devnet", "--init-only", "--validators", &validators.to_string()])
            .arg("--dir")
            .arg(dir.path())
            .args(["--p2p-port", &p2p.to_string(), "--api-port", &api.to_string(), "--grpc-port", &grpc.to_string()])
            .args(["--block-time", block_time, "--log-format", "text"])
            .output()
            .unwrap();
        assert!(out.status.success(), "devnet --init-only: {}", String::from_utf8_lossy(&out.stderr));
        let ports = (0..validators).map(|i| (grpc + i as u16, grpc + i as u16)).collect();
        let spare_base = base + 3 * validators as u16;
        let mut net = Self {
            dir,
            validators,
            grpc_base: grpc,
            api_base: api,
            ports,
            spare_base,
            children: (0..validators).map(|_| Vec::new()).collect(),
            env: Vec::new(),
        };
        for i in 0..validators {
            net.start_validator(i);
        }
        net
    }

    fn spawn(&self, i: usize, args: &[&str]) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("logs/validator-{}.log", i + 1)))
            .unwrap();
        Command::new(binary())
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    /// Starts (or restarts) validator `i` (0-based) as one `coinjectured node` process.
    pub fn start_validator(&mut self, i: usize) {
        let config = self.dir.path().join(format!("validator-{}.yaml", i + 1));
        let child = self.spawn(i, &["node", "--config", config.to_str().unwrap()]);
        self.children[i] = vec![child];
    }

    /// Runs validator `i` as four processes — `service ledger`, `service p2p-gateway`,
    /// `service consensus`, `service api` — that find each other through `services:` in its config.
    pub fn start_validator_split(&mut self, i: usize) {
        let (ledger, p2p, consensus) =
            (self.spare_base + 3 * i as u16, self.spare_base + 3 * i as u16 + 1, self.spare_base + 3 * i as u16 + 2);
        let base = std::fs::read_to_string(self.dir.path().join(format!("validator-{}.yaml", i + 1))).unwrap();
        let split = format!(
            "{base}services:\n  ledger: http://127.0.0.1:{ledger}\n  p2p_gateway: http://127.0.0.1:{p2p}\n  consensus: http://127.0.0.1:{consensus}\n"
        );
        let path = self.dir.path().join(format!("validator-{}-split.yaml", i + 1));
        std::fs::write(&path, split).unwrap();
        let config = path.to_str().unwrap().to_string();
        let mut children = Vec::new();
        for (service, port) in [("ledger", ledger), ("p2p-gateway", p2p), ("consensus", consensus)] {
            let listen = format!("127.0.0.1:{port}");
            children.push(self.spawn(i, &["service", service, "--config", &config, "--listen", &listen]));
        }
        children.push(self.spawn(i, &["service", "api", "--config", &config]));
        self.children[i] = children;
        self.ports[i] = (ledger, consensus);
    }

    /// SIGKILLs validator `i` (all its processes).
    pub fn kill(&mut self, i: usize) {
        for mut c in std::mem::take(&mut self.children[i]) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM to validator `i`'s processes and waits (up to `timeout`) for each to exit;
    /// their exit statuses (`None` for one still running, which is then killed).
    pub fn terminate(&mut self, i: usize, timeout: Duration) -> Vec<Option<std::process::ExitStatus>> {
        let children = std::mem::take(&mut self.children[i]);
        for c in &children {
            let status = Command::new("kill").args(["-TERM", &c.id().to_string()]).status().expect("running kill");
            assert!(status.success(), "kill -TERM {} failed", c.id());
        }
        let deadline = std::time::Instant::now() + timeout;
        children
            .into_iter()
            .map(|mut c| {
                loop {
                    if let Some(status) = c.try_wait().unwrap() {
                        return Some(status);
                    }
                    if std::time::Instant::now() > deadline {
                        let _ = c.kill();
                        let _ = c.wait();
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
            .collect()
    }

    /// The validator's log so far (for failure messages).
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("logs/validator-{}.log", i + 1))).unwrap_or_default()
    }

    /// A channel to validator `i`'s ledger (its internal gRPC port, or the split ledger service),
    /// retried until it accepts.
    pub async fn channel(&self, i: usize) -> Channel {
        self.channel_to(self.ports[i].0, i).await
    }

    /// A channel to validator `i`'s consensus service.
    pub async fn consensus_channel(&self, i: usize) -> Channel {
        self.channel_to(self.ports[i].1, i).await
    }

    async fn channel_to(&self, port: u16, i: usize) -> Channel {
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..300 {
            if let Ok(c) = Channel::from_shared(url.clone()).unwrap().connect().await {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("validator {i} never opened {url}; log:\n{}", self.log(i));
    }

    /// Validator `i`'s finalized height (None while it is down or starting).
    pub async fn height(&self, i: usize) -> Option<u64> {
        let url = format!("http://127.0.0.1:{}", self.ports[i].1);
        let channel = Channel::from_shared(url).ok()?.connect().await.ok()?;
        let mut c = pb::consensus_client::ConsensusClient::new(channel);
        Some(c.get_status(pb::ConsensusGetStatusRequest {}).await.ok()?.into_inner().finalized_height)
    }

    /// Waits until every listed validator has finalized `height`.
    pub async fn wait_for_height(&self, nodes: &[usize], height: u64, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut all = true;
            for &i in nodes {
                all &= self.height(i).await.is_some_and(|h| h >= height);
            }
            if all {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let mut heights = Vec::new();
                for &i in nodes {
                    heights.push(self.height(i).await);
                }
                panic!(
                    "validators {nodes:?} did not reach height {height}: {heights:?}\nlog 0:\n{}",
                    tail(&self.log(nodes[0]))
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A plain HTTP/1.1 GET on validator `i`'s REST port: (status code, body).
    pub fn rest_get(&self, i: usize, path: &str) -> (u16, String) {
        self.rest(i, "GET", path, None)
    }

    /// A plain HTTP/1.1 POST of a JSON body on validator `i`'s REST port: (status code, body).
    pub fn rest_post(&self, i: usize, path: &str, json: &str) -> (u16, String) {
        self.rest(i, "POST", path, Some(json))
    }

    fn rest(&self, i: usize, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.api_base + i as u16)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let body = json.unwrap_or_default();
        let content = if json.is_some() {
            format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len())
        } else {
            String::new()
        };
        write!(stream, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{content}Connection: close\r\n\r\n{body}")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (status, body)
    }

    /// The faucet key of the devnet.
    pub fn faucet(&self) -> Keypair {
        let text = std::fs::read_to_string(self.dir.path().join("keys/faucet.key")).unwrap();
        let seed: [u8; 32] = hex::decode(text.trim()).unwrap().try_into().unwrap();
        Keypair::from_seed(&seed)
    }

    /// The block hash at `height` on validator `i`.
    pub async fn block_hash(&self, i: usize, height: u64) -> Vec<u8> {
        let mut l = pb::ledger_client::LedgerClient::new(self.channel(i).await);
        let b = l.get_block_by_height(pb::GetBlockByHeightRequest { height }).await.unwrap().into_inner();
        let block = coinjecture_primitives::Block::try_from(&b.block.unwrap()).unwrap();
        block.hash().0.to_vec()
    }

    /// An account's balance on validator `i`.
    pub async fn balance(&self, i: usize, account: &PublicKey) -> u64 {
        let mut l = pb::ledger_client::LedgerClient::new(self.channel(i).await);
        let r = l.get_account(pb::LedgerGetAccountRequest { address: account.0.to_vec() }).await.unwrap().into_inner();
        r.account.map_or(0, |a| a.balance)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
    }
}

fn tail(s: &str) -> String {
    s.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// A signed transfer on the devnet chain.
pub fn transfer(from: &Keypair, to: PublicKey, amount: u64, nonce: u64) -> Transaction {
    let chain = ChainId::new("coinjecture-devnet").unwrap();
    let mut tx = Transaction {
        codec_version: 1,
        tx_type: TxType::Transfer,
        from: from.public_key(),
        to,
        amount,
        nonce,
        gas_limit: 21_000,
        gas_price: 1,
        signature: Signature::ZERO,
        data: chain_tag(&chain),
        timestamp: 1_767_225_600,
    };
    tx.signature = from.sign(&tx.signing_message());
    tx
}
