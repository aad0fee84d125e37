//! State sync in a node (README, "Catch-up and pruning"): serving the ledger's snapshots on the
//! p2p snapshot protocol, attesting them (a validator signs the root of each snapshot it made)
//! and gathering its peers' attestations, and joining from a snapshot.
//!
//! Joining (`ledger.state_sync: true`, a ledger holding genesis only): ask every connected peer
//! for its manifests, group them by (height, root) merging their attestations, and take the
//! highest that verifies (a quorum of attestations of the validator set at that height, the
//! header's commit certificate against the configured schedule); fetch its chunks (each request
//! times out after 10 s, then the next peer offering it is asked), check each against the
//! manifest, install; then consensus follows block by block. With no usable manifest within
//! [`FIND_TIMEOUT`], the node replays blocks instead (the usual catch-up). Progress is logged,
//! counted (`coinjecture_state_sync_*`) and reported by `/v1/status` (`state_sync`).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_ledger::Ledger;
use coinjecture_ledger::snapshot::{SnapshotError, SnapshotManifest, Snapshots, verify_chunk};
use coinjecture_p2p_gateway::P2pHandle;
use coinjecture_p2p_gateway::snapshot::{SnapshotRequest, SnapshotSource};
use coinjecture_primitives::{Hash32, Height, SnapshotAttestation};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use serde_json::{Value, json};

/// How long a joining node looks for a usable manifest before it replays blocks instead.
pub(crate) const FIND_TIMEOUT: Duration = Duration::from_secs(30);

/// After making a snapshot, when a node asks its peers for their attestations of it.
const GATHER_AFTER: [Duration; 4] =
    [Duration::from_secs(2), Duration::from_secs(5), Duration::from_secs(15), Duration::from_secs(45)];

/// The hidden flag of the hostile test mode.
pub(crate) const HOSTILE_FLAG: &str = "--test-only-hostile-snapshots";

static HOSTILE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// **TEST ONLY** (`coinjectured node --test-only-hostile-snapshots`, debug builds only): this
/// node answers snapshot requests with a garbage manifest, a manifest whose root is forged (its
/// attestations are for the real one) before its real manifests, and chunks with one bit
/// flipped, for the e2e test of a hostile snapshot peer. No config key or variable turns it on.
pub(crate) fn enable_hostile() -> eyre::Result<()> {
    if !cfg!(debug_assertions) {
        eyre::bail!("{HOSTILE_FLAG}: this test-only mode exists only in debug builds");
    }
    HOSTILE.store(true, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

/// The ledger's snapshots as the gateway serves them.
#[derive(Debug)]
struct Served(Arc<Snapshots>);

impl SnapshotSource for Served {
    fn manifests(&self) -> Vec<Vec<u8>> {
        let real: Vec<Vec<u8>> = self.0.manifests().iter().map(SnapshotManifest::encode).collect();
        if !HOSTILE.load(std::sync::atomic::Ordering::Relaxed) {
            return real;
        }
        let mut hostile = vec![vec![0xff; 200]];
        hostile.extend(self.0.manifests().into_iter().map(|mut m| {
            m.root = coinjecture_primitives::sha256(b"forged root");
            m.encode()
        }));
        hostile.extend(real);
        hostile
    }

    fn chunk(&self, height: u64, root: &[u8], index: u32) -> Option<Arc<Vec<u8>>> {
        let root = Hash32::from_slice(root).ok()?;
        let chunk = self.0.chunk(Height(height), &root, index as usize)?;
        if !HOSTILE.load(std::sync::atomic::Ordering::Relaxed) {
            return Some(chunk);
        }
        let mut tampered = chunk.as_ref().clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        Some(Arc::new(tampered))
    }
}

/// What state sync did, for `/v1/status` and the metrics.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    status: Mutex<Value>,
    /// Height of the installed snapshot (0: none).
    pub(crate) installed_height: Gauge,
    pub(crate) chunks_fetched: Counter,
    /// Manifests, chunks and attestations refused (garbage, tampered, forged, too few).
    pub(crate) refused: Counter,
    pub(crate) fallbacks: Counter,
}

impl Progress {
    pub(crate) fn new(enabled: bool) -> Arc<Self> {
        let p = Self::default();
        p.set(json!({ "state": if enabled { "pending" } else { "off" } }));
        Arc::new(p)
    }

    fn set(&self, value: Value) {
        if let Ok(mut s) = self.status.lock() {
            *s = value;
        }
    }

    pub(crate) fn set_not_needed(&self, tip: Height) {
        self.set(json!({ "state": "not_needed", "reason": format!("the ledger holds blocks up to {tip} already") }));
    }

    pub(crate) fn status(&self) -> Value {
        self.status.lock().map(|s| s.clone()).unwrap_or(Value::Null)
    }

    pub(crate) fn register(self: &Arc<Self>, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "coinjecture_state_sync_snapshot_height",
            "Height of the snapshot this node joined from by state sync (0: it did not)",
            self.installed_height.clone(),
        );
        registry.register(
            "coinjecture_state_sync_chunks_fetched",
            "Snapshot chunks fetched and verified while joining",
            self.chunks_fetched.clone(),
        );
        registry.register(
            "coinjecture_state_sync_refused",
            "Snapshot manifests, chunks and attestations refused (garbage, tampered, forged, too few attestations)",
            self.refused.clone(),
        );
        registry.register(
            "coinjecture_state_sync_fallbacks",
            "Joins that fell back to block replay (no usable snapshot in time)",
            self.fallbacks.clone(),
        );
    }
}

/// Serves the ledger's snapshots over p2p, signs an attestation of each one this node makes
/// (when `key` is a validator's at its height) and gathers its peers' attestations of it.
pub(crate) async fn serve_and_attest(
    ledger: Arc<Ledger>,
    p2p: P2pHandle,
    key: Keypair,
) -> eyre::Result<tokio::task::JoinHandle<eyre::Result<()>>> {
    let snapshots = Arc::clone(ledger.snapshots());
    p2p.serve_snapshots(Arc::new(Served(Arc::clone(&snapshots))))
        .await
        .map_err(|e| eyre::eyre!("p2p: serving snapshots: {e}"))?;
    let mut made = snapshots.subscribe();
    Ok(tokio::spawn(async move {
        loop {
            let (height, root) = match made.recv().await {
                Ok(made) => made,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            };
            let public = key.public_key();
            if ledger.validators().at(height).contains(&public) {
                let chain_id = ledger.chain_id().clone();
                let signature = key.sign(&coinjecture_primitives::consensus::snapshot_attestation_signing_bytes(
                    &chain_id, height, &root,
                ));
                snapshots.add_attestation(SnapshotAttestation { chain_id, height, root, validator: public, signature });
                tracing::info!(height = height.get(), %root, "state snapshot attested");
            }
            tokio::spawn(gather(Arc::clone(&ledger), p2p.clone(), height, root));
        }
    }))
}

/// Asks the peers, a few times, for their attestations of our snapshot (height, root), and
/// keeps those with valid signatures by validators of the set at that height.
async fn gather(ledger: Arc<Ledger>, p2p: P2pHandle, height: Height, root: Hash32) {
    let snapshots = Arc::clone(ledger.snapshots());
    let set = ledger.validators().at(height).clone();
    for delay in GATHER_AFTER {
        tokio::time::sleep(delay).await;
        let held: HashSet<_> = snapshots
            .manifests()
            .iter()
            .find(|m| m.height == height && m.root == root)
            .map(|m| m.attestations.iter().map(|a| a.validator).collect())
            .unwrap_or_default();
        if held.len() >= set.len() {
            return;
        }
        for (_, manifest) in ask_all(&p2p, None).await {
            if manifest.height != height || manifest.root != root {
                continue;
            }
            for a in manifest.attestations {
                if held.contains(&a.validator) || !set.contains(&a.validator) || a.chain_id != *ledger.chain_id() {
                    continue;
                }
                if coinjecture_crypto_core::signatures::verify(&a.validator, &a.signing_bytes(), &a.signature) {
                    snapshots.add_attestation(a);
                }
            }
        }
    }
}

/// Every connected peer's manifests, decoded (undecodable ones are counted and skipped).
async fn ask_all(
    p2p: &P2pHandle,
    progress: Option<&Progress>,
) -> Vec<(coinjecture_p2p_gateway::PeerId, SnapshotManifest)> {
    let Ok(peers) = p2p.peers().await else { return Vec::new() };
    let asks = peers.into_iter().map(|peer| {
        let p2p = p2p.clone();
        async move { (peer.peer_id, p2p.request_snapshot(peer.peer_id, SnapshotRequest::default()).await) }
    });
    let mut out = Vec::new();
    for (peer, answer) in futures::future::join_all(asks).await {
        let Ok(answer) = answer else { continue };
        for bytes in answer.manifests.iter().take(16) {
            match SnapshotManifest::decode(bytes) {
                Ok(m) => out.push((peer, m)),
                Err(e) => {
                    tracing::warn!(peer_id = %peer, error = %e, "state sync: a peer's manifest is refused");
                    if let Some(p) = progress {
                        p.refused.inc();
                    }
                }
            }
        }
    }
    out
}

/// How a join ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joined {
    /// The state at this height was installed.
    Snapshot(Height),
    /// No usable snapshot in time: the node replays blocks.
    Replay,
}

/// Joins from a snapshot (see the module docs). Errors only when the ledger cannot be written.
pub(crate) async fn join(ledger: &Ledger, p2p: &P2pHandle, progress: &Progress) -> eyre::Result<Joined> {
    let started = Instant::now();
    progress.set(json!({ "state": "searching" }));
    tracing::info!(timeout_s = FIND_TIMEOUT.as_secs(), "state sync: looking for an attested snapshot");
    let mut refused_reasons: Vec<String> = Vec::new();
    while started.elapsed() < FIND_TIMEOUT {
        let offers = ask_all(p2p, Some(progress)).await;
        // Group by (height, root), merging the attestations each peer holds.
        let mut grouped: BTreeMap<(Height, Hash32), (SnapshotManifest, Vec<coinjecture_p2p_gateway::PeerId>)> =
            BTreeMap::new();
        for (peer, m) in offers {
            let entry = grouped.entry((m.height, m.root)).or_insert_with(|| (m.clone(), Vec::new()));
            entry.1.push(peer);
            for a in m.attestations {
                if !entry.0.attestations.iter().any(|b| b.validator == a.validator) {
                    entry.0.attestations.push(a);
                }
            }
        }
        for ((height, root), (manifest, peers)) in grouped.into_iter().rev() {
            if let Err(e) = ledger.verify_snapshot_manifest(&manifest).await {
                progress.refused.inc();
                tracing::warn!(height = height.get(), %root, error = %e, "state sync: snapshot refused");
                refused_reasons.push(e.to_string());
                continue;
            }
            tracing::info!(
                height = height.get(), %root, chunks = manifest.chunk_hashes.len(), accounts = manifest.accounts,
                attestations = manifest.attestations.len(), peers = peers.len(), "state sync: fetching a snapshot"
            );
            match fetch(p2p, &manifest, &peers, progress).await {
                Some(chunks) => {
                    ledger.install_snapshot(&manifest, &chunks).await?;
                    progress.installed_height.set(i64::try_from(height.get()).unwrap_or(i64::MAX));
                    progress.set(json!({
                        "state": "installed",
                        "height": height.get(),
                        "root": root.to_hex(),
                        "accounts": manifest.accounts,
                        "chunks": chunks.len(),
                        "attestations": manifest.attestations.len(),
                        "elapsed_ms": started.elapsed().as_millis() as u64,
                    }));
                    tracing::info!(height = height.get(), elapsed = ?started.elapsed(), "state sync: joined from a snapshot; following blocks from here");
                    return Ok(Joined::Snapshot(height));
                }
                None => refused_reasons.push(format!("snapshot {height}: no peer served every chunk")),
            }
        }
        progress.set(json!({
            "state": "searching",
            "elapsed_ms": started.elapsed().as_millis() as u64,
            "refused": refused_reasons.iter().rev().take(3).collect::<Vec<_>>(),
        }));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    progress.fallbacks.inc();
    progress.set(json!({
        "state": "replay",
        "reason": format!("no usable snapshot within {} s", FIND_TIMEOUT.as_secs()),
        "refused": refused_reasons.iter().rev().take(3).collect::<Vec<_>>(),
    }));
    tracing::warn!(
        timeout_s = FIND_TIMEOUT.as_secs(),
        "state sync: no usable snapshot from any peer; replaying blocks from genesis instead"
    );
    Ok(Joined::Replay)
}

/// Fetches and verifies every chunk, each from the peers offering the snapshot in turn
/// (10 s per request, then the next peer); `None` when some chunk no peer serves correctly.
async fn fetch(
    p2p: &P2pHandle,
    manifest: &SnapshotManifest,
    peers: &[coinjecture_p2p_gateway::PeerId],
    progress: &Progress,
) -> Option<Vec<Vec<u8>>> {
    let mut chunks = Vec::with_capacity(manifest.chunk_hashes.len());
    let total = manifest.chunk_hashes.len();
    for index in 0..total {
        let mut got = None;
        for attempt in 0..peers.len() {
            let peer = peers[(index + attempt) % peers.len()];
            let request = SnapshotRequest {
                chunk: Some(index as u32),
                height: manifest.height.get(),
                root: manifest.root.0.to_vec(),
            };
            match p2p.request_snapshot(peer, request).await {
                Ok(answer) => match answer.chunk {
                    Some(bytes) => match verify_chunk(manifest, index, &bytes) {
                        Ok(_) => {
                            got = Some(bytes);
                            break;
                        }
                        Err(e) => refuse(progress, peer, &e),
                    },
                    None => tracing::debug!(peer_id = %peer, index, "state sync: peer does not hold the chunk"),
                },
                Err(e) => tracing::warn!(peer_id = %peer, index, error = %e, "state sync: chunk request failed"),
            }
        }
        chunks.push(got?);
        progress.chunks_fetched.inc();
        progress.set(json!({
            "state": "fetching",
            "height": manifest.height.get(),
            "chunks_fetched": index + 1,
            "chunks": total,
        }));
        if (index + 1) % 16 == 0 || index + 1 == total {
            tracing::info!(height = manifest.height.get(), fetched = index + 1, total, "state sync: chunks");
        }
    }
    Some(chunks)
}

fn refuse(progress: &Progress, peer: coinjecture_p2p_gateway::PeerId, e: &SnapshotError) {
    progress.refused.inc();
    tracing::warn!(peer_id = %peer, error = %e, "state sync: a peer's chunk is refused");
}
