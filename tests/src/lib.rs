//! # coinjecture-e2e
//!
//! Harness for end-to-end tests: builds `coinjectured`, lays out a devnet with
//! `coinjectured devnet --init-only`, runs each validator (and follower) as its own process, and
//! talks to them over their gRPC ports. Processes are killed when the [`Network`] is dropped.
//! Nodes are numbered validators first (`0..validators`), then followers.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test harness: a panic is the failure report")]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::{Height, PublicKey};
use coinjecture_proto::v1 as pb;
use tonic::transport::Channel;

pub mod load;
pub mod monitor;
pub mod proxy;

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

/// A base port with `count` free ports after it (best effort: checked by binding). The range
/// lies below the kernel's ephemeral range, so the source ports of the many outgoing
/// connections (nodes, proxies, clients) cannot take a port a node is about to listen on.
pub fn free_port_base(count: u16) -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let (low, high) = if ephemeral_low > 12_000 + count { (10_000, ephemeral_low - count) } else { (20_000, 60_000) };
    // A different sequence per process and call: tests run in parallel in many processes.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut state = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        ^ (u64::from(std::process::id()) << 32)
        ^ CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for _ in 0..500 {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let base = low + u16::try_from(r % u64::from(high - low)).unwrap();
        if (0..count).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no free port range");
}

/// The machine the tests of the e2e binary share. They run side by side in threads, as many at
/// a time as libtest runs (the default: one per core); a test that loads the machine on purpose
/// (the hostile clients, whose honest-latency bound is about the node under attack) takes it
/// alone with [`machine_alone`], and other tests' processes wait for it: every [`Network`] holds
/// a share ([`share_machine`]), as do the tests that start processes without one.
static MACHINE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

thread_local! {
    /// Whether this thread's test holds [`MACHINE`] alone (its own networks take no share).
    /// The body of a `#[tokio::test]` runs on the test's thread in both runtime flavors.
    static ALONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The share this thread's test holds, if any: a test's second network reuses it (taking
    /// a second read guard could wait forever behind a queued [`machine_alone`]).
    static SHARE: std::cell::RefCell<std::sync::Weak<MachineShareGuard>> = const { std::cell::RefCell::new(std::sync::Weak::new()) };
}

/// A read guard on [`MACHINE`].
#[derive(Debug)]
pub struct MachineShareGuard(
    #[allow(dead_code, reason = "held for its Drop")] tokio::sync::RwLockReadGuard<'static, ()>,
);

/// A test's share of the machine (see [`MACHINE`]); the machine is shared while one is held.
pub type MachineShare = std::sync::Arc<MachineShareGuard>;

/// The machine to this test alone (see [`MACHINE`]); hold it for the whole test.
#[derive(Debug)]
pub struct MachineAlone {
    _guard: tokio::sync::RwLockWriteGuard<'static, ()>,
}

impl Drop for MachineAlone {
    fn drop(&mut self) {
        ALONE.set(false);
    }
}

/// Waits until every test sharing the machine is done, then holds it alone.
pub async fn machine_alone() -> MachineAlone {
    let guard = MACHINE.write().await;
    ALONE.set(true);
    MachineAlone { _guard: guard }
}

/// A share of the machine (see [`MACHINE`]), waiting while a test holds it alone; `None` in the
/// test that holds it alone, and the same share again while this thread's test holds one. Blocks
/// the calling thread (it is called before a test's processes start).
pub fn share_machine() -> Option<MachineShare> {
    if ALONE.get() {
        return None;
    }
    if let Some(share) = SHARE.with_borrow(std::sync::Weak::upgrade) {
        return Some(share);
    }
    let share = loop {
        if let Ok(guard) = MACHINE.try_read() {
            break std::sync::Arc::new(MachineShareGuard(guard));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    SHARE.set(std::sync::Arc::downgrade(&share));
    Some(share)
}

/// A running local network of validator (and follower) processes.
#[derive(Debug)]
pub struct Network {
    pub dir: tempfile::TempDir,
    pub validators: usize,
    /// Nodes outside the validator set (`consensus.role: follower`), numbered after the
    /// validators: node `validators + f` is follower `f`.
    pub followers: usize,
    pub p2p_base: u16,
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
    /// This test's share of the machine (see [`MACHINE`]).
    _machine: Option<MachineShare>,
}

impl Network {
    /// Lays out a devnet of `validators` and starts every validator.
    pub fn start(validators: usize, block_time: &str) -> Self {
        let mut net = Self::lay_out(validators, block_time);
        for i in 0..validators {
            net.start_validator(i);
        }
        net
    }

    /// Lays out a devnet of `validators` (keys, genesis with a funded faucet, one config per
    /// validator) without starting anything, so a test can edit the configs first
    /// ([`Self::edit_config`]) and then start the validators.
    pub fn lay_out(validators: usize, block_time: &str) -> Self {
        Self::lay_out_with_followers(validators, 0, block_time)
    }

    /// Like [`Self::lay_out`], with `followers` follower configs (`devnet --followers`) after the
    /// validators'.
    pub fn lay_out_with_followers(validators: usize, followers: usize, block_time: &str) -> Self {
        let machine = share_machine();
        let dir = tempfile::tempdir().unwrap();
        let nodes = validators + followers;
        // Per node: p2p, api, grpc; three for its split services; three for their /metrics.
        let base = free_port_base(9 * nodes as u16);
        let (p2p, api, grpc) = (base, base + nodes as u16, base + 2 * nodes as u16);
        let out = Command::new(binary())
            .args(["devnet", "--init-only", "--validators", &validators.to_string()])
            .args(["--followers", &followers.to_string()])
            .arg("--dir")
            .arg(dir.path())
            .args(["--p2p-port", &p2p.to_string(), "--api-port", &api.to_string(), "--grpc-port", &grpc.to_string()])
            .args(["--block-time", block_time, "--log-format", "text"])
            .output()
            .unwrap();
        assert!(out.status.success(), "devnet --init-only: {}", String::from_utf8_lossy(&out.stderr));
        let ports = (0..nodes).map(|i| (grpc + i as u16, grpc + i as u16)).collect();
        let spare_base = base + 3 * nodes as u16;
        Self {
            dir,
            validators,
            followers,
            p2p_base: p2p,
            grpc_base: grpc,
            api_base: api,
            ports,
            spare_base,
            children: (0..nodes).map(|_| Vec::new()).collect(),
            env: Vec::new(),
            _machine: machine,
        }
    }

    /// Validators and followers.
    pub fn nodes(&self) -> usize {
        self.validators + self.followers
    }

    /// Node `i`'s name, as its config, key and log files are named: `validator-N` or `follower-N`.
    pub fn name(&self, i: usize) -> String {
        if i < self.validators {
            format!("validator-{}", i + 1)
        } else {
            format!("follower-{}", i - self.validators + 1)
        }
    }

    fn spawn(&self, i: usize, args: &[&str]) -> Child {
        self.spawn_with_fd_limit(i, args, None)
    }

    /// Like [`Self::start_validator`], under `ulimit -n fd_limit` (soft and hard), as on a
    /// host with the usual default of 1024.
    pub fn start_validator_with_fd_limit(&mut self, i: usize, fd_limit: u32) {
        let config = self.config_path(i);
        let args = ["node", "--config", config.to_str().unwrap()];
        let child = self.spawn_with_fd_limit(i, &args, Some(fd_limit));
        self.children[i] = vec![child];
    }

    fn spawn_with_fd_limit(&self, i: usize, args: &[&str], fd_limit: Option<u32>) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("logs/{}.log", self.name(i))))
            .unwrap();
        let mut command = match fd_limit {
            None => Command::new(binary()),
            Some(n) => {
                // `exec` keeps the pid: the child is the node itself.
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("ulimit -n {n} && exec \"$0\" \"$@\"")).arg(binary());
                c
            }
        };
        command
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
        self.start_validator_with(i, &[]);
    }

    /// Starts (or restarts) validator `i` as one `coinjectured node` process with extra
    /// command-line arguments (e.g. the test-only `--test-only-equivocate`).
    pub fn start_validator_with(&mut self, i: usize, extra_args: &[&str]) {
        let config = self.config_path(i);
        let mut args = vec!["node", "--config", config.to_str().unwrap()];
        args.extend_from_slice(extra_args);
        let child = self.spawn(i, &args);
        self.children[i] = vec![child];
    }

    /// Validator `i`'s consensus gRPC port (the internal port, or the split consensus service).
    pub fn consensus_port(&self, i: usize) -> u16 {
        self.ports[i].1
    }

    /// Validator `i`'s ledger gRPC port (the internal port, or the split ledger service).
    pub fn ledger_port(&self, i: usize) -> u16 {
        self.ports[i].0
    }

    /// Node `i`'s libp2p port.
    pub fn p2p_port(&self, i: usize) -> u16 {
        self.p2p_base + i as u16
    }

    /// Validator `i`'s public API port (REST and PublicApi gRPC).
    pub fn api_port(&self, i: usize) -> u16 {
        self.api_base + i as u16
    }

    /// Node `i`'s config file.
    pub fn config_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("{}.yaml", self.name(i)))
    }

    /// Rewrites validator `i`'s config (read on its next start).
    pub fn edit_config(&self, i: usize, edit: impl FnOnce(String) -> String) {
        let path = self.config_path(i);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(text)).unwrap();
    }

    /// The process id of validator `i` (its first process when split), if it was started.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.children[i].first().map(Child::id)
    }

    /// Validator `i`'s exit status once its (first) process has exited on its own; `None` while
    /// it runs or when it was never started.
    pub fn exit_status(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        self.children[i].first_mut().and_then(|c| c.try_wait().unwrap())
    }

    /// Resident memory of validator `i`'s (first) process in KiB, from `/proc/<pid>/status`.
    pub fn rss_kib(&self, i: usize) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid(i)?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Validator `i`'s public key (its validator identity).
    pub fn validator_key(&self, i: usize) -> PublicKey {
        let path = self.dir.path().join(format!("keys/validator-{}.key", i + 1));
        let text = std::fs::read_to_string(path).unwrap();
        let seed: [u8; 32] = hex::decode(&text.trim()[..64]).unwrap().try_into().unwrap();
        Keypair::from_seed(&seed).public_key()
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
        for (k, (service, port)) in
            [("ledger", ledger), ("p2p-gateway", p2p), ("consensus", consensus)].iter().enumerate()
        {
            let listen = format!("127.0.0.1:{port}");
            let metrics = format!("127.0.0.1:{}", self.split_metrics_port(i, k));
            let args = ["service", service, "--config", &config, "--listen", &listen, "--metrics-listen", &metrics];
            children.push(self.spawn(i, &args));
        }
        children.push(self.spawn(i, &["service", "api", "--config", &config]));
        self.children[i] = children;
        self.ports[i] = (ledger, consensus);
    }

    /// Like [`Self::start_validator_split`], but the ledger, p2p-gateway and consensus services
    /// listen on every interface (`0.0.0.0`) with mutual TLS, and find each other over `https://`
    /// with the certificates in `tls_dir` (`ca.pem`, `node.pem`, `node-key.pem`, as
    /// `coinjectured tls gen` writes them). The harness's plaintext helpers ([`Self::channel`],
    /// [`Self::height`]) cannot reach such a validator: use its REST port.
    pub fn start_validator_split_tls(&mut self, i: usize, tls_dir: &Path) {
        let (ledger, p2p, consensus) =
            (self.spare_base + 3 * i as u16, self.spare_base + 3 * i as u16 + 1, self.spare_base + 3 * i as u16 + 2);
        let base = std::fs::read_to_string(self.dir.path().join(format!("validator-{}.yaml", i + 1))).unwrap();
        let tls = |name: &str| tls_dir.join(name).to_str().unwrap().to_string();
        let with_tls = base.replacen(
            "api:\n",
            &format!(
                "api:\n  internal_tls:\n    ca: {}\n    cert: {}\n    key: {}\n",
                tls("ca.pem"),
                tls("node.pem"),
                tls("node-key.pem")
            ),
            1,
        );
        let split = format!(
            "{with_tls}services:\n  ledger: https://127.0.0.1:{ledger}\n  p2p_gateway: https://127.0.0.1:{p2p}\n  consensus: https://127.0.0.1:{consensus}\n"
        );
        let path = self.dir.path().join(format!("validator-{}-split.yaml", i + 1));
        std::fs::write(&path, split).unwrap();
        let config = path.to_str().unwrap().to_string();
        let mut children = Vec::new();
        for (service, port) in [("ledger", ledger), ("p2p-gateway", p2p), ("consensus", consensus)] {
            let listen = format!("0.0.0.0:{port}");
            children.push(self.spawn(i, &["service", service, "--config", &config, "--listen", &listen]));
        }
        children.push(self.spawn(i, &["service", "api", "--config", &config]));
        self.children[i] = children;
        self.ports[i] = (ledger, consensus);
    }

    /// The `--metrics-listen` port of split validator `i`'s service `k` (0 ledger, 1 p2p-gateway,
    /// 2 consensus).
    pub fn split_metrics_port(&self, i: usize, k: usize) -> u16 {
        self.spare_base + 3 * self.validators as u16 + 3 * i as u16 + k as u16
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
        std::fs::read_to_string(self.dir.path().join(format!("logs/{}.log", self.name(i)))).unwrap_or_default()
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
                // The log of the first validator that is behind (or not answering) says why.
                let behind = nodes
                    .iter()
                    .zip(&heights)
                    .find(|(_, h)| !h.is_some_and(|h| h >= height))
                    .map_or(nodes[0], |(i, _)| *i);
                panic!(
                    "validators {nodes:?} did not reach height {height}: {heights:?}\nlog {behind}:\n{}",
                    tail(&self.log(behind))
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A plain HTTP/1.1 GET on validator `i`'s REST port: (status code, body).
    pub fn rest_get(&self, i: usize, path: &str) -> (u16, String) {
        self.rest(i, "GET", path, None)
    }

    /// Validator `i`'s `signing_paused` on `GET /v1/status`: why it signs nothing, or None while
    /// it signs (or does not answer).
    pub fn signing_paused(&self, i: usize) -> Option<String> {
        let (code, body) = self.rest_get(i, "/v1/status");
        if code != 200 {
            return None;
        }
        let status: serde_json::Value = serde_json::from_str(&body).ok()?;
        status["signing_paused"].as_str().map(str::to_string)
    }

    /// A plain HTTP/1.1 POST of a JSON body on validator `i`'s REST port: (status code, body).
    pub fn rest_post(&self, i: usize, path: &str, json: &str) -> (u16, String) {
        self.rest(i, "POST", path, Some(json))
    }

    fn rest(&self, i: usize, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
        http(self.api_base + i as u16, method, path, json)
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

    /// An account's nonce (transactions applied from it) on validator `i`.
    pub async fn nonce(&self, i: usize, account: &PublicKey) -> u64 {
        let mut l = pb::ledger_client::LedgerClient::new(self.channel(i).await);
        let r = l.get_account(pb::LedgerGetAccountRequest { address: account.0.to_vec() }).await.unwrap().into_inner();
        r.account.map_or(0, |a| a.nonce)
    }

    /// Validator `i`'s connected p2p peers (None while it is down or split).
    pub async fn peer_count(&self, i: usize) -> Option<u32> {
        let url = format!("http://127.0.0.1:{}", self.ports[i].0);
        let channel = Channel::from_shared(url).ok()?.connect().await.ok()?;
        let mut c = pb::p2p_gateway_client::P2pGatewayClient::new(channel);
        Some(c.get_network_info(pb::GetNetworkInfoRequest {}).await.ok()?.into_inner().connected_peers)
    }

    /// The finalized blocks at heights `from..=to` on validator `i` (one `GetBlockRange` stream
    /// per 1,000 blocks).
    pub async fn blocks(&self, i: usize, from: u64, to: u64) -> Vec<coinjecture_primitives::Block> {
        let mut l = pb::ledger_client::LedgerClient::new(self.channel(i).await);
        let mut out = Vec::new();
        let mut next = from;
        while next <= to {
            let limit = u32::try_from((to - next + 1).min(1000)).unwrap();
            let request = pb::GetBlockRangeRequest { from_height: next, limit, ..Default::default() };
            let mut stream = l.get_block_range(request).await.unwrap().into_inner();
            let before = out.len();
            while let Some(r) = stream.message().await.unwrap() {
                let block = coinjecture_primitives::Block::try_from(&r.block.unwrap()).unwrap();
                assert_eq!(block.header.block_index, Height(next), "validator {i} served heights out of order");
                out.push(block);
                next += 1;
            }
            assert!(out.len() > before, "validator {i} has no block at height {next} (asked up to {to})");
        }
        out
    }

    /// The hashes of the blocks at heights `from..=to` on validator `i`, recomputed from the
    /// blocks it serves.
    pub async fn block_hashes(&self, i: usize, from: u64, to: u64) -> Vec<[u8; 32]> {
        self.blocks(i, from, to).await.iter().map(|b| b.hash().0).collect()
    }

    /// Asserts that the listed validators hold identical blocks at every height `1..=to`.
    pub async fn assert_agree(&self, nodes: &[usize], to: u64) {
        let reference = self.block_hashes(nodes[0], 1, to).await;
        for &i in &nodes[1..] {
            let hashes = self.block_hashes(i, 1, to).await;
            if let Some(h) = (0..reference.len()).find(|&h| reference[h] != hashes[h]) {
                panic!(
                    "validators {} and {i} finalized different blocks at height {}: {} vs {}",
                    nodes[0],
                    h + 1,
                    hex::encode(reference[h]),
                    hex::encode(hashes[h])
                );
            }
        }
    }

    /// The height of the last block validator `i` logged as committed (`New block produced` or
    /// `Block accepted`, JSON log lines).
    pub fn last_logged_height(&self, i: usize) -> Option<u64> {
        self.log(i)
            .lines()
            .rev()
            .filter(|l| l.contains("\"New block produced\"") || l.contains("\"Block accepted\""))
            .find_map(|l| json_number(l, "block_number"))
    }

    /// The finalized height validator `i` reported in its latest `node started` log line.
    pub fn logged_start_height(&self, i: usize) -> Option<u64> {
        self.log(i).lines().rev().filter(|l| l.contains("\"node started\"")).find_map(|l| json_number(l, "height"))
    }
}

/// The unsigned integer value of `"key":` in a JSON log line.
fn json_number(line: &str, key: &str) -> Option<u64> {
    let start = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = line[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

impl Drop for Network {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
        // COINJECTURE_E2E_KEEP=1 keeps the network's directory (configs, logs, databases) of a
        // failed test for a look afterwards.
        if std::thread::panicking() && std::env::var_os("COINJECTURE_E2E_KEEP").is_some() {
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
            eprintln!("COINJECTURE_E2E_KEEP: kept {}", dir.keep().display());
        }
    }
}

/// The last 30 lines of a log.
pub fn tail(s: &str) -> String {
    s.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
}

pub use coinjecture_test_utils::{skip, transfer, transfer_with_gas_price};

/// A plain HTTP/1.1 GET of `path` on a local port: (status code, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    http(port, "GET", path, None)
}

/// A plain HTTP/1.1 request on a local port: (status code, body).
fn http(port: u16, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
    coinjecture_test_utils::http(port, method, path, json, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{method} {path} on port {port}: {e}"))
}
