//! Shadow mode: follow a node's chain and recompute every block's hashes independently.
//!
//! `coinjectured shadow --node http://127.0.0.1:8080 [--crypto-core http://127.0.0.1:50051]`
//! subscribes to `PublicApi.StreamBlocks` (from height 1 by default) and, for every finalized
//! block, recomputes the header hash, each transaction hash and the Merkle root — with the Rust
//! library, or through a crypto-core service when `--crypto-core` is given — and compares them with
//! what the node sent: `BlockView.block_hash` (and the commit certificate's block hash),
//! `BlockView.transaction_hashes` and `header.merkle_root`. It also checks that the chain links up
//! (heights ascend by one, `parent_hash` is the previous block's recomputed hash).
//!
//! Every disagreement is logged (`WARN parity divergence height=… value=… node=… ours=…`) and
//! counted in `coinjecture_parity_divergence_total{value}`, served with the other shadow metrics
//! on `--metrics-port` (`/metrics`: OpenMetrics, or Prometheus text to `Accept: text/plain`); a
//! summary is logged every `--summary-every` blocks. A broken stream is resumed from the next
//! height.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coinjecture_primitives::{self as p, Hash32};
use coinjecture_proto::v1 as pb;
use eyre::{WrapErr, eyre};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Channel, Endpoint};

/// Options of `coinjectured shadow`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ShadowArgs {
    /// The node's public API (its api.port), e.g. http://127.0.0.1:8080.
    #[arg(long)]
    node: String,
    /// Recompute through this crypto-core service instead of the built-in library.
    #[arg(long)]
    crypto_core: Option<String>,
    /// Serve Prometheus metrics (/metrics) on this port.
    #[arg(long)]
    metrics_port: Option<u16>,
    /// Log a summary every N blocks (0: never).
    #[arg(long, default_value_t = 100)]
    summary_every: u64,
    /// First height to check.
    #[arg(long, default_value_t = 1)]
    from_height: u64,
    /// Stop after checking N blocks (fails if any diverged).
    #[arg(long)]
    max_blocks: Option<u64>,
}

/// What shadow mode recomputed for one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recomputed {
    block_hash: Hash32,
    tx_hashes: Vec<Hash32>,
    merkle_root: Hash32,
}

/// One value on which the node and shadow mode disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Divergence {
    height: u64,
    /// Which value: block_hash, certificate_block_hash, tx_count, tx_hash, merkle_root,
    /// parent_hash, height, decode.
    value: &'static str,
    /// Transaction position, for tx_hash.
    index: Option<usize>,
    node: String,
    ours: String,
}

/// Where hashes are recomputed.
#[derive(Debug, Clone)]
enum Recomputer {
    Library,
    CryptoCore(pb::crypto_core_client::CryptoCoreClient<Channel>),
}

impl Recomputer {
    /// The block's hashes as this implementation computes them; Err(divergence text) when the
    /// block cannot be encoded at all.
    async fn recompute(&mut self, block: &pb::Block) -> eyre::Result<Result<Recomputed, String>> {
        let Some(header) = &block.header else { return Ok(Err("block without header".into())) };
        match self {
            Recomputer::Library => Ok(recompute_local(block)),
            Recomputer::CryptoCore(cc) => {
                let h = match cc.hash_header(pb::HashHeaderRequest { header: Some(header.clone()) }).await {
                    Ok(r) => r.into_inner().hash,
                    Err(s) if s.code() == tonic::Code::InvalidArgument => return Ok(Err(s.message().to_string())),
                    Err(s) => return Err(eyre!("crypto-core HashHeader: {s}")),
                };
                let r = cc
                    .hash_transaction_batch(pb::HashTransactionBatchRequest {
                        transactions: block.transactions.clone(),
                        verify_signatures: false,
                    })
                    .await
                    .map_err(|s| eyre!("crypto-core HashTransactionBatch: {s}"))?
                    .into_inner();
                if let Some((i, d)) = r.digests.iter().enumerate().find(|(_, d)| !d.error.is_empty()) {
                    return Ok(Err(format!("transaction {i}: {}", d.error)));
                }
                let mut tx_hashes = Vec::with_capacity(r.digests.len());
                for d in &r.digests {
                    tx_hashes.push(hash_from(&d.tx_hash, "crypto-core tx_hash")?);
                }
                let leaves = tx_hashes.iter().map(|h| h.0.to_vec()).collect();
                let root = cc
                    .merkle_root(pb::MerkleRootRequest { leaves })
                    .await
                    .map_err(|s| eyre!("crypto-core MerkleRoot: {s}"))?
                    .into_inner()
                    .root;
                Ok(Ok(Recomputed {
                    block_hash: hash_from(&h, "crypto-core hash")?,
                    tx_hashes,
                    merkle_root: hash_from(&root, "crypto-core root")?,
                }))
            }
        }
    }
}

fn hash_from(b: &[u8], what: &str) -> eyre::Result<Hash32> {
    Hash32::from_slice(b).map_err(|e| eyre!("{what}: {e}"))
}

/// Recomputes with the Rust library (`coinjecture-primitives` and crypto-core's Merkle code).
pub(crate) fn recompute_local(block: &pb::Block) -> Result<Recomputed, String> {
    let header = block.header.as_ref().ok_or("block without header")?;
    let header = p::BlockHeader::try_from(header).map_err(|e| format!("header: {e}"))?;
    let mut tx_hashes = Vec::with_capacity(block.transactions.len());
    for (i, t) in block.transactions.iter().enumerate() {
        let tx = p::Transaction::try_from(t).map_err(|e| format!("transaction {i}: {e}"))?;
        tx_hashes.push(tx.hash());
    }
    let merkle_root = coinjecture_crypto_core::merkle::merkle_root(&tx_hashes);
    Ok(Recomputed { block_hash: header.hash(), tx_hashes, merkle_root })
}

/// Compares what the node sent with what we recomputed. `previous` is the (height, recomputed
/// hash) of the block checked before, if any.
pub(crate) fn compare(
    view: &pb::BlockView,
    ours: &Result<Recomputed, String>,
    previous: Option<(u64, Option<Hash32>)>,
) -> Vec<Divergence> {
    let header = view.block.as_ref().and_then(|b| b.header.as_ref());
    let height = header.map_or(0, |h| h.block_index);
    let mut out = Vec::new();
    let mut diverge = |value: &'static str, index: Option<usize>, node: String, ours: String| {
        out.push(Divergence { height, value, index, node, ours });
    };
    match ours {
        Err(e) => diverge("decode", None, "?".into(), e.clone()),
        Ok(ours) => {
            if view.block_hash != ours.block_hash.0 {
                diverge("block_hash", None, hex::encode(&view.block_hash), ours.block_hash.to_hex());
            }
            if let Some(cert) = view.block.as_ref().and_then(|b| b.commit_certificate.as_ref())
                && cert.block_hash != ours.block_hash.0
            {
                diverge("certificate_block_hash", None, hex::encode(&cert.block_hash), ours.block_hash.to_hex());
            }
            if view.transaction_hashes.len() != ours.tx_hashes.len() {
                let (n, o) = (view.transaction_hashes.len(), ours.tx_hashes.len());
                diverge("tx_count", None, n.to_string(), o.to_string());
            }
            for (i, (n, o)) in view.transaction_hashes.iter().zip(&ours.tx_hashes).enumerate() {
                if n.as_slice() != o.0 {
                    diverge("tx_hash", Some(i), hex::encode(n), o.to_hex());
                }
            }
            let node_root = header.map(|h| h.merkle_root.as_slice()).unwrap_or_default();
            if node_root != ours.merkle_root.0 {
                diverge("merkle_root", None, hex::encode(node_root), ours.merkle_root.to_hex());
            }
        }
    }
    if let Some((prev_height, prev_hash)) = previous {
        if height != prev_height + 1 {
            diverge("height", None, height.to_string(), (prev_height + 1).to_string());
        } else if let Some(prev_hash) = prev_hash {
            let parent = header.map(|h| h.parent_hash.as_slice()).unwrap_or_default();
            if parent != prev_hash.0 {
                diverge("parent_hash", None, hex::encode(parent), prev_hash.to_hex());
            }
        }
    }
    out
}

/// The values compared (label `value` of `coinjecture_parity_divergence_total`).
const VALUES: [&str; 8] =
    ["block_hash", "certificate_block_hash", "tx_count", "tx_hash", "merkle_root", "parent_hash", "height", "decode"];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ValueLabel {
    value: String,
}

#[derive(Debug, Default)]
struct Metrics {
    divergences: Family<ValueLabel, Counter>,
    blocks_checked: Counter,
    height: Gauge,
}

impl Metrics {
    fn register(&self, registry: &mut Registry) {
        // Every series exists from the start (at 0), so that alerts on it need no absent() rule.
        for value in VALUES {
            drop(self.divergences.get_or_create(&ValueLabel { value: value.to_string() }));
        }
        registry.register(
            "coinjecture_parity_divergence",
            "Values recomputed by shadow mode that differ from the node's",
            self.divergences.clone(),
        );
        registry.register(
            "coinjecture_shadow_blocks_checked",
            "Blocks recomputed by shadow mode",
            self.blocks_checked.clone(),
        );
        registry.register("coinjecture_shadow_height", "Height of the last block checked", self.height.clone());
    }
}

/// Runs shadow mode until `shutdown` completes (or `--max-blocks` are checked).
pub(crate) async fn run(args: ShadowArgs, shutdown: impl Future<Output = ()>) -> eyre::Result<()> {
    let metrics = Arc::new(Metrics::default());
    if let Some(port) = args.metrics_port {
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let addr = SocketAddr::from(([0, 0, 0, 0], port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .wrap_err_with(|| format!("--metrics-port: cannot listen on {addr}"))?;
        tracing::info!(%addr, "serving shadow metrics on /metrics");
        tokio::spawn(serve_metrics(listener, Arc::new(Mutex::new(registry))));
    }
    let mut recomputer = match &args.crypto_core {
        None => Recomputer::Library,
        Some(url) => {
            let limit = p::limits::MAX_MESSAGE_BYTES + 64 * 1024;
            let channel = endpoint(url, "--crypto-core")?.connect_lazy();
            Recomputer::CryptoCore(
                pb::crypto_core_client::CryptoCoreClient::new(channel)
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            )
        }
    };
    let mut state = State { next_height: args.from_height, previous: None, checked: 0, divergences: 0 };
    tokio::select! {
        r = follow(&args, &mut recomputer, &metrics, &mut state) => r?,
        () = shutdown => {}
    }
    tracing::info!(
        blocks_checked = state.checked,
        height = state.previous.map(|(h, _)| h),
        divergences = state.divergences,
        "parity summary"
    );
    if args.max_blocks.is_some() && state.divergences > 0 {
        return Err(eyre!("{} parity divergences in {} blocks", state.divergences, state.checked));
    }
    Ok(())
}

#[derive(Debug)]
struct State {
    next_height: u64,
    previous: Option<(u64, Option<Hash32>)>,
    checked: u64,
    divergences: u64,
}

fn endpoint(url: &str, flag: &str) -> eyre::Result<Endpoint> {
    let url = if url.contains("://") { url.to_string() } else { format!("http://{url}") };
    Ok(Endpoint::from_shared(url.clone())
        .map_err(|e| eyre!("{flag} {url}: {e}"))?
        .connect_timeout(Duration::from_secs(5)))
}

async fn follow(
    args: &ShadowArgs,
    recomputer: &mut Recomputer,
    metrics: &Metrics,
    state: &mut State,
) -> eyre::Result<()> {
    let limit = p::limits::MAX_MESSAGE_BYTES + 64 * 1024;
    let node = endpoint(&args.node, "--node")?;
    loop {
        let attempt = async {
            let channel = node.connect().await.map_err(|e| eyre!("cannot connect: {e}"))?;
            let mut api = pb::public_api_client::PublicApiClient::new(channel).max_decoding_message_size(limit);
            tracing::info!(node = %args.node, from_height = state.next_height, "following the chain");
            let mut stream = api
                .stream_blocks(pb::StreamBlocksRequest { from_height: state.next_height })
                .await
                .map_err(|s| eyre!("StreamBlocks: {s}"))?
                .into_inner();
            while let Some(msg) = stream.message().await.map_err(|s| eyre!("StreamBlocks: {s}"))? {
                let Some(view) = msg.block else { continue };
                let Some(block) = &view.block else { continue };
                let ours = recomputer.recompute(block).await?;
                let found = compare(&view, &ours, state.previous);
                let height = block.header.as_ref().map_or(0, |h| h.block_index);
                for d in &found {
                    tracing::warn!(
                        height = d.height,
                        value = d.value,
                        index = d.index,
                        node = %d.node,
                        ours = %d.ours,
                        "parity divergence"
                    );
                    metrics.divergences.get_or_create(&ValueLabel { value: d.value.to_string() }).inc();
                }
                state.divergences += found.len() as u64;
                state.previous = Some((height, ours.ok().map(|r| r.block_hash)));
                state.next_height = height + 1;
                state.checked += 1;
                metrics.blocks_checked.inc();
                metrics.height.set(i64::try_from(height).unwrap_or(i64::MAX));
                if args.summary_every > 0 && state.checked.is_multiple_of(args.summary_every) {
                    tracing::info!(
                        blocks_checked = state.checked,
                        height,
                        divergences = state.divergences,
                        "parity summary"
                    );
                }
                if args.max_blocks.is_some_and(|m| state.checked >= m) {
                    return Ok(true);
                }
            }
            Ok::<bool, eyre::Report>(false)
        };
        match attempt.await {
            Ok(true) => return Ok(()),
            Ok(false) => tracing::warn!(node = %args.node, height = state.next_height, "block stream ended; resuming"),
            Err(e) => {
                tracing::warn!(node = %args.node, height = state.next_height, error = %format!("{e:#}"), "block stream failed; retrying")
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// A minimal HTTP/1.1 server for `GET /metrics` (one request per connection).
async fn serve_metrics(listener: tokio::net::TcpListener, registry: Arc<Mutex<Registry>>) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else { continue };
        let registry = registry.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let response = if path == "/metrics" || path == "/" {
                use coinjecture_api::exposition::{
                    OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, openmetrics_to_text, prefers_text,
                };
                let mut body = String::new();
                if let Ok(r) = registry.lock() {
                    let _ = prometheus_client::encoding::text::encode(&mut body, &r);
                }
                // OpenMetrics, or the classic format for a scraper that prefers text/plain.
                let accept = request.lines().find_map(|l| {
                    l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("accept")).map(|(_, v)| v.trim())
                });
                let (content_type, body) = if prefers_text(accept) {
                    (TEXT_CONTENT_TYPE, openmetrics_to_text(&body))
                } else {
                    (OPENMETRICS_CONTENT_TYPE, body)
                };
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            };
            let _ = conn.write_all(response.as_bytes()).await;
            let _ = conn.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coinjecture_primitives::Height;

    fn block(height: u64, parent: Hash32, n_tx: u8) -> p::Block {
        let txs: Vec<p::Transaction> = (0..n_tx)
            .map(|i| p::Transaction {
                codec_version: p::CODEC_VERSION,
                tx_type: p::TxType::Transfer,
                from: p::PublicKey([1; 32]),
                to: p::PublicKey([2; 32]),
                amount: 1_000 + u64::from(i),
                nonce: u64::from(i),
                gas_limit: 21_000,
                gas_price: 1,
                signature: p::Signature([7; 64]),
                data: b"cj:coinjecture-devnet\n".to_vec(),
                timestamp: 1_700_000_000,
            })
            .collect();
        let hashes: Vec<Hash32> = txs.iter().map(p::Transaction::hash).collect();
        let header = p::BlockHeader {
            codec_version: p::CODEC_VERSION,
            block_index: Height(height),
            timestamp: 1_700_000_000 + i64::try_from(height).unwrap_or(0),
            parent_hash: parent,
            merkle_root: coinjecture_crypto_core::merkle::merkle_root(&hashes),
            miner_address: p::PublicKey([3; 32]),
            commitment: Hash32([0; 32]),
            difficulty_target: 0,
            nonce: 0,
            extra_data: vec![],
        };
        p::Block { header, transactions: txs }
    }

    /// The view an honest node sends.
    fn view(b: &p::Block) -> pb::BlockView {
        let mut block = pb::Block::from(b);
        block.commit_certificate = Some(pb::CommitCertificate {
            height: b.header.block_index.get(),
            round: 0,
            block_hash: b.hash().0.to_vec(),
            signatures: vec![],
        });
        pb::BlockView {
            block: Some(block),
            block_hash: b.hash().0.to_vec(),
            transaction_hashes: b.transaction_hashes().iter().map(|h| h.0.to_vec()).collect(),
            transaction_count: b.transactions.len() as u32,
        }
    }

    fn check(v: &pb::BlockView, previous: Option<(u64, Option<Hash32>)>) -> Vec<Divergence> {
        let block = v.block.as_ref().expect("block");
        compare(v, &recompute_local(block), previous)
    }

    #[test]
    fn honest_blocks_have_no_divergence() {
        let b1 = block(1, Hash32([0; 32]), 3);
        let b2 = block(2, b1.hash(), 0);
        assert_eq!(check(&view(&b1), None), vec![]);
        assert_eq!(check(&view(&b2), Some((1, Some(b1.hash())))), vec![]);
    }

    #[test]
    fn tampered_header_field_is_a_block_hash_divergence() {
        let b = block(5, Hash32([9; 32]), 2);
        let mut v = view(&b);
        // The node claims b's hash but sends a header with another timestamp.
        v.block.as_mut().and_then(|b| b.header.as_mut()).expect("header").timestamp += 1;
        let mut tampered = b.header.clone();
        tampered.timestamp += 1;
        let found = check(&v, Some((4, Some(Hash32([9; 32])))));
        let values: Vec<_> = found.iter().map(|d| d.value).collect();
        assert_eq!(values, ["block_hash", "certificate_block_hash"]);
        assert_eq!(found[0].height, 5);
        assert_eq!(found[0].node, b.hash().to_hex());
        assert_eq!(found[0].ours, tampered.hash().to_hex());
    }

    #[test]
    fn tampered_transactions_merkle_root_and_links() {
        let b = block(3, Hash32([9; 32]), 4);
        let mut v = view(&b);
        v.transaction_hashes[1] = vec![0; 32];
        v.block.as_mut().expect("block").transactions[2].amount += 1;
        let found = check(&v, Some((2, Some(Hash32([8; 32])))));
        let values: Vec<_> = found.iter().map(|d| (d.value, d.index)).collect();
        assert_eq!(values, [("tx_hash", Some(1)), ("tx_hash", Some(2)), ("merkle_root", None), ("parent_hash", None)]);
        let mut short = view(&b);
        short.transaction_hashes.pop();
        assert_eq!(check(&short, Some((1, None)))[0].value, "tx_count");
        assert_eq!(check(&short, Some((1, None)))[1].value, "height");
    }

    #[test]
    fn undecodable_block_is_a_divergence() {
        let mut v = view(&block(1, Hash32([0; 32]), 1));
        v.block.as_mut().and_then(|b| b.header.as_mut()).expect("header").parent_hash = vec![1; 31];
        assert_eq!(check(&v, None)[0].value, "decode");
    }

    #[test]
    fn divergence_counter_is_exported_from_zero() {
        let metrics = Metrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.divergences.get_or_create(&ValueLabel { value: "merkle_root".into() }).inc();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        assert!(text.contains("# TYPE coinjecture_parity_divergence counter"), "{text}");
        assert!(text.contains(r#"coinjecture_parity_divergence_total{value="block_hash"} 0"#), "{text}");
        assert!(text.contains(r#"coinjecture_parity_divergence_total{value="merkle_root"} 1"#), "{text}");
    }

    /// GET /metrics on `port` with `accept`: the whole HTTP response.
    async fn get_metrics(port: u16, accept: Option<&str>) -> String {
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
        conn.write_all(format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{accept}\r\n").as_bytes()).await.expect("write");
        let mut response = String::new();
        conn.read_to_string(&mut response).await.expect("read");
        response
    }

    #[tokio::test]
    async fn metrics_endpoint_answers_openmetrics_or_text_as_asked() {
        let metrics = Metrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(serve_metrics(listener, Arc::new(Mutex::new(registry))));
        let openmetrics = get_metrics(port, None).await;
        assert!(openmetrics.contains("Content-Type: application/openmetrics-text"), "{openmetrics}");
        assert!(openmetrics.trim_end().ends_with("# EOF"), "{openmetrics}");
        let text = get_metrics(port, Some("text/plain")).await;
        assert!(text.contains("Content-Type: text/plain; version=0.0.4"), "{text}");
        assert!(text.contains("# TYPE coinjecture_parity_divergence_total counter"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
    }
}
