//! Test helpers: fast limits, node start/stop, payloads, polling.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use coinjecture_p2p_gateway::{
    InboundMessage, Limits, Multiaddr, NoBlocks, P2pConfig, P2pHandle, P2pNode, Subscription,
};
use coinjecture_proto::ports::ledger::LedgerPort;
use coinjecture_proto::v1::{self as pb, consensus_message::Kind};
use prost::Message as _;
use tokio::task::JoinHandle;

pub(crate) const NET: &str = "coinjecture-test";

/// A distinct key seed per node number.
pub(crate) fn seed(n: u8) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[0] = n;
    s[31] = 0xAB;
    s
}

/// Limits with short timings so meshes form and redials happen within a test's patience.
pub(crate) fn fast_limits() -> Limits {
    Limits {
        heartbeat_interval: Duration::from_millis(200),
        redial_initial: Duration::from_millis(200),
        redial_max: Duration::from_secs(1),
        validation_timeout: Duration::from_secs(2),
        dial_timeout: Duration::from_secs(5),
        sync_request_timeout: Duration::from_secs(10),
        ..Limits::default()
    }
}

pub(crate) fn config(network: &str, n: u8, bootstrap: Vec<Multiaddr>) -> P2pConfig {
    let mut config = P2pConfig::new(network, seed(n));
    config.bootstrap_peers = bootstrap;
    config.limits = fast_limits();
    config
}

pub(crate) struct TestNode {
    pub(crate) handle: P2pHandle,
    pub(crate) task: JoinHandle<()>,
    /// Listen address with the /p2p/ suffix (the bootstrap format).
    pub(crate) addr: Multiaddr,
}

impl TestNode {
    pub(crate) async fn start(config: P2pConfig) -> Self {
        Self::start_with(config, Arc::new(NoBlocks)).await
    }

    pub(crate) async fn start_with(config: P2pConfig, source: Arc<dyn LedgerPort>) -> Self {
        let (handle, task) = P2pNode::start(config, source, None).await.expect("node starts");
        let info = handle.network_info().await.expect("info");
        let addr = info.listen_addrs[0].clone().with_p2p(handle.local_peer_id()).expect("p2p suffix");
        Self { handle, task, addr }
    }

    /// Kills the swarm task (as a crash would) and waits until it is gone.
    pub(crate) async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// `n` nodes in a line: node i bootstraps to node i-1 only.
pub(crate) async fn line(network: &str, n: u8) -> Vec<TestNode> {
    let mut nodes: Vec<TestNode> = Vec::new();
    for i in 0..n {
        let bootstrap = nodes.last().map(|p| vec![p.addr.clone()]).unwrap_or_default();
        nodes.push(TestNode::start(config(network, i + 1, bootstrap)).await);
    }
    nodes
}

/// Polls `check` every 50 ms until it is true or `timeout` passes.
pub(crate) async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn peer_count(node: &TestNode) -> usize {
    node.handle.peers().await.map(|p| p.len()).unwrap_or(0)
}

/// An encoded vote ConsensusMessage, distinct per `height`.
pub(crate) fn vote_payload(height: u64) -> Vec<u8> {
    pb::ConsensusMessage {
        kind: Some(Kind::Vote(pb::Vote {
            chain_id: "coinjecture-test".into(),
            height,
            round: 0,
            vote_type: pb::VoteType::Prevote.into(),
            block_hash: vec![7; 32],
            validator: vec![1; 32],
            signature: vec![2; 64],
        })),
    }
    .encode_to_vec()
}

/// Waits for a message with exactly `payload` on `sub`.
pub(crate) async fn expect_payload(sub: &mut Subscription, payload: &[u8], timeout: Duration) -> InboundMessage {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Some(m)) if m.payload == payload => return m,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("subscription closed"),
            Err(_) => panic!("message not received within {timeout:?}"),
        }
    }
}

/// True when a message with `payload` arrives within `timeout`.
pub(crate) async fn receives(sub: &mut Subscription, payload: &[u8], timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Some(m)) if m.payload == payload => return true,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return false,
        }
    }
}

/// Publishes probe votes from `from` until every subscription has seen one (the mesh has
/// formed along the path), so later assertions do not race mesh formation.
pub(crate) async fn until_mesh_carries(from: &P2pHandle, subs: &mut [&mut Subscription], timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut probe = 1_000_000u64;
    let mut seen = vec![false; subs.len()];
    while seen.iter().any(|s| !s) {
        assert!(tokio::time::Instant::now() < deadline, "mesh did not carry probes within {timeout:?}");
        probe += 1;
        from.publish(pb::Topic::Votes, vote_payload(probe)).await.expect("publish probe");
        tokio::time::sleep(Duration::from_millis(150)).await;
        for (i, sub) in subs.iter_mut().enumerate() {
            while let Some(m) = sub.try_recv() {
                if m.topic == pb::Topic::Votes {
                    seen[i] = true;
                }
            }
        }
    }
}

pub(crate) fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}
