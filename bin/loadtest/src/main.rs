//! `coinjecture-loadtest`: funds accounts from the devnet faucet, submits signed transfers
//! open-loop at a fixed rate over one or more nodes (PublicApi gRPC), follows every transaction to
//! finality through `StreamBlocks`, and prints (and optionally writes as JSON) what the network
//! sustained. See the crate docs (`lib.rs`) for the parts.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_loadtest::report::Report;
use coinjecture_loadtest::schedule::{self, Batch, Counters, Schedule};
use coinjecture_loadtest::stats::{self, LatencySummary};
use coinjecture_loadtest::transfer::{TRANSFER_GAS, transfer};
use coinjecture_loadtest::{http, procstat};
use coinjecture_primitives::{ChainId, Transaction};
use coinjecture_proto::v1 as pb;
use eyre::{WrapErr as _, bail, eyre};
use indicatif::{ProgressBar, ProgressStyle};
use pb::public_api_client::PublicApiClient;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tonic::transport::Channel;

type Client = PublicApiClient<Channel>;
type TxHash = [u8; 32];

/// Funding transfers per SubmitTransactions call, and per wait-until-final round (below the
/// mempool's per-account limit of 10,000 and a block's 10,000 transactions).
const FUNDING_RPC_BATCH: usize = 1_000;
const FUNDING_ROUND: usize = 5_000;

#[derive(Debug, Parser)]
#[command(version, about = "COINjecture load generator: open-loop signed transfers, followed to finality")]
struct Args {
    /// The node to fund from and follow blocks on (PublicApi gRPC = the REST port).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    node: String,
    /// Spread submissions over these nodes (comma-separated URLs); default: --node only.
    #[arg(long, value_delimiter = ',')]
    nodes: Vec<String>,
    /// How long to offer load (e.g. 30s, 5m, 500ms).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Offered transactions per second (open loop).
    #[arg(long, default_value_t = 100.0)]
    txrate: f64,
    /// Fresh accounts to create, fund and send between.
    #[arg(long, default_value_t = 1_000)]
    accounts: u64,
    /// Transactions per SubmitTransactions call (default: txrate / 20, between 1 and 500).
    #[arg(long)]
    batch: Option<u64>,
    /// Submit over gRPC (the only transport implemented; accepted for the seed's command line).
    #[arg(long)]
    grpc: bool,
    /// The faucet's key file (hex ed25519 seed), as written by `coinjectured devnet`.
    #[arg(long, default_value = "devnet/keys/faucet.key")]
    faucet_key: PathBuf,
    /// Also write the report as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// After the offered period, how long accepted transactions may take to become final before
    /// they count as lost.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    grace: Duration,
    /// Concurrent submission lanes per node (each lane owns its accounts, so nonces stay in order).
    #[arg(long, default_value_t = 4)]
    lanes_per_node: usize,
    /// Sign (and encode and hash) every transaction before the offered period, so signing does
    /// not compete with the nodes for the cores while they are measured. Costs memory: about
    /// 0.5 KiB per transaction (rate × duration of them; the report says how much it took).
    #[arg(long)]
    presign: bool,
}

/// The project's one duration grammar (`coinjecture_primitives::duration`: `60s`, `500ms`, `5m`, `1h`).
fn parse_duration(s: &str) -> Result<Duration, String> {
    coinjecture_primitives::duration::parse(s).map_err(|e| e.to_string())
}

/// What we know about one transaction we sent.
#[derive(Debug)]
struct TxInfo {
    /// A load transaction (not a funding one).
    load: bool,
    account: u32,
    nonce: u64,
    scheduled_at: Instant,
    accepted: bool,
    final_at: Option<Instant>,
}

/// A finalized block as the follower saw it.
#[derive(Debug)]
struct BlockSeen {
    at: Instant,
    tx_count: u64,
    proposer: Vec<u8>,
}

/// Shared state: every transaction sent, what the follower saw, and counters for the progress bar.
#[derive(Debug, Default)]
struct Tracker {
    txs: Mutex<HashMap<TxHash, TxInfo>>,
    /// Lowest rejected nonce per account (later accepted nonces of that account are stranded).
    rejected_nonce: Mutex<HashMap<u32, u64>>,
    rejected: Mutex<std::collections::BTreeMap<String, u64>>,
    blocks: Mutex<Vec<BlockSeen>>,
    recent_latencies: Mutex<VecDeque<f64>>,
    submitted: AtomicU64,
    accepted: AtomicU64,
    rejected_total: AtomicU64,
    /// Refused by backpressure, or held back while backing off (see `Report::refused_backpressure`).
    refused_backpressure: AtomicU64,
    final_load: AtomicU64,
    duplicated: AtomicU64,
    unsent: AtomicU64,
}

impl Tracker {
    fn register(&self, hash: TxHash, info: TxInfo) {
        self.txs.lock().expect("tracker lock").insert(hash, info);
    }

    fn reject(&self, account: u32, nonce: u64, reason: String) {
        self.rejected_total.fetch_add(1, Ordering::Relaxed);
        *self.rejected.lock().expect("tracker lock").entry(reason).or_default() += 1;
        let mut r = self.rejected_nonce.lock().expect("tracker lock");
        let e = r.entry(account).or_insert(nonce);
        *e = (*e).min(nonce);
    }

    /// A finalized block: marks its transactions final (or duplicated).
    fn on_block(&self, hashes: &[Vec<u8>], proposer: Vec<u8>) {
        let now = Instant::now();
        let mut txs = self.txs.lock().expect("tracker lock");
        let mut latencies = Vec::new();
        for h in hashes {
            let Ok(key) = <TxHash>::try_from(h.as_slice()) else { continue };
            let Some(info) = txs.get_mut(&key) else { continue };
            if info.final_at.is_some() {
                self.duplicated.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            info.final_at = Some(now);
            if info.load {
                self.final_load.fetch_add(1, Ordering::Relaxed);
                latencies.push((now - info.scheduled_at).as_secs_f64());
            }
        }
        drop(txs);
        let mut recent = self.recent_latencies.lock().expect("tracker lock");
        for l in latencies {
            if recent.len() >= 2_000 {
                recent.pop_front();
            }
            recent.push_back(l);
        }
        drop(recent);
        self.blocks.lock().expect("tracker lock").push(BlockSeen { at: now, tx_count: hashes.len() as u64, proposer });
    }

    fn all_final(&self, hashes: &[TxHash]) -> bool {
        let txs = self.txs.lock().expect("tracker lock");
        hashes.iter().all(|h| txs.get(h).is_some_and(|i| i.final_at.is_some()))
    }

    fn recent_p50(&self) -> Option<f64> {
        let mut v: Vec<f64> = self.recent_latencies.lock().expect("tracker lock").iter().copied().collect();
        v.sort_by(f64::total_cmp);
        stats::percentile(&v, 0.5)
    }
}

fn reason_name(code: i32) -> String {
    pb::TxRejectReason::try_from(code).map_or_else(
        |_| format!("UNKNOWN_{code}"),
        |r| r.as_str_name().trim_start_matches("TX_REJECT_REASON_").to_string(),
    )
}

async fn connect(url: &str) -> eyre::Result<Client> {
    let channel = Channel::from_shared(url.to_string())
        .wrap_err_with(|| format!("bad node URL {url}"))?
        .connect()
        .await
        .wrap_err_with(|| format!("connecting to {url}"))?;
    Ok(PublicApiClient::new(channel).max_decoding_message_size(256 << 20).max_encoding_message_size(256 << 20))
}

fn unix_seconds() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn random_keypair() -> eyre::Result<Keypair> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| eyre!("random seed: {e}"))?;
    Ok(Keypair::from_seed(&seed))
}

fn load_key(path: &PathBuf) -> eyre::Result<Keypair> {
    let text = std::fs::read_to_string(path).wrap_err_with(|| format!("reading the faucet key {}", path.display()))?;
    let bytes = hex::decode(text.trim()).wrap_err_with(|| format!("{}: not hex", path.display()))?;
    let seed: [u8; 32] = bytes
        .get(..32)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| eyre!("{}: expected a 32-byte seed (64 hex digits)", path.display()))?;
    Ok(Keypair::from_seed(&seed))
}

/// Follows finalized blocks from `from_height` until `stop`, reconnecting if the stream breaks.
async fn follow(url: String, from_height: u64, tracker: Arc<Tracker>, mut stop: watch::Receiver<bool>) {
    let mut next = from_height;
    while !*stop.borrow() {
        let stream = async {
            let mut client = connect(&url).await?;
            let mut stream = client.stream_blocks(pb::StreamBlocksRequest { from_height: next }).await?.into_inner();
            while let Some(message) = stream.message().await? {
                let Some(view) = message.block else { continue };
                let header = view.block.as_ref().and_then(|b| b.header.as_ref());
                let height = header.map_or(next, |h| h.block_index);
                let proposer = header.map(|h| h.miner_address.clone()).unwrap_or_default();
                tracker.on_block(&view.transaction_hashes, proposer);
                next = height + 1;
            }
            Ok::<_, eyre::Report>(())
        };
        tokio::select! {
            result = stream => if let Err(e) = result {
                eprintln!("block stream from {url}: {e}; reconnecting");
                tokio::time::sleep(Duration::from_millis(500)).await;
            },
            _ = stop.changed() => return,
        }
    }
}

/// Funds every account from the faucet and waits until the transfers are final.
async fn fund(
    client: &mut Client,
    chain: &ChainId,
    faucet: &Keypair,
    accounts: &[Keypair],
    amount: u64,
    tracker: &Tracker,
) -> eyre::Result<()> {
    let faucet_nonce = client
        .get_account(pb::GetAccountRequest { address: faucet.public_key().0.to_vec() })
        .await
        .map(|r| r.into_inner().account.map_or(0, |a| a.nonce))
        .or_else(|s| if s.code() == tonic::Code::NotFound { Ok(0) } else { Err(s) })
        .wrap_err("reading the faucet's nonce")?;
    let timestamp = unix_seconds();
    for (round_index, round) in accounts.chunks(FUNDING_ROUND).enumerate() {
        let first = round_index * FUNDING_ROUND;
        let txs: Vec<Transaction> = round
            .iter()
            .enumerate()
            .map(|(i, k)| transfer(chain, faucet, k.public_key(), amount, faucet_nonce + (first + i) as u64, timestamp))
            .collect();
        let hashes: Vec<TxHash> = txs.iter().map(|t| t.hash().0).collect();
        for (tx, h) in txs.iter().zip(&hashes) {
            let info = TxInfo {
                load: false,
                account: 0,
                nonce: tx.nonce,
                scheduled_at: Instant::now(),
                accepted: false,
                final_at: None,
            };
            tracker.register(*h, info);
        }
        for chunk in txs.chunks(FUNDING_RPC_BATCH) {
            let request =
                pb::SubmitTransactionsRequest { transactions: chunk.iter().map(pb::Transaction::from).collect() };
            let results =
                client.submit_transactions(request).await.wrap_err("submitting funding transfers")?.into_inner();
            if let Some(r) = results.results.iter().find(|r| !r.accepted) {
                bail!("a funding transfer was rejected: {} {}", reason_name(r.reason), r.message);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while !tracker.all_final(&hashes) {
            if Instant::now() > deadline {
                bail!("funding transfers not final after 120 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Everything a submission lane needs.
#[derive(Debug)]
struct Lane {
    client: Client,
    chain: ChainId,
    /// Indices into `keys` this lane sends from (and only this lane, so nonces stay ordered).
    owned: Vec<u32>,
    keys: Arc<Vec<Keypair>>,
    tracker: Arc<Tracker>,
    counters: Arc<Counters>,
    /// Batches taken after this instant are dropped (the offered period is over).
    end: Instant,
    /// `--presign`: this lane's transactions, signed in advance, per account in nonce order.
    presigned: Presigned,
    /// After a backpressure refusal: no batch is sent before this instant (each one taken
    /// meanwhile counts as refused).
    backoff_until: Option<Instant>,
}

/// A transaction signed before the offered period.
#[derive(Debug)]
struct Ready {
    nonce: u64,
    hash: TxHash,
    wire: pb::Transaction,
}

/// Pre-signed transactions per account, in nonce order.
type Presigned = HashMap<u32, VecDeque<Ready>>;

/// Signs `count` transfers in the order a lane sends them (its accounts round robin, nonces from
/// 0), as `Lane::run` would sign them one batch at a time.
fn presign_lane(chain: &ChainId, keys: &[Keypair], owned: &[u32], count: u64, timestamp: i64) -> Presigned {
    let mut out: Presigned = HashMap::new();
    if owned.is_empty() {
        return out;
    }
    let n = keys.len() as u32;
    for k in 0..count {
        let account = owned[k as usize % owned.len()];
        let queue = out.entry(account).or_default();
        let nonce = queue.len() as u64;
        let to = keys[((account + 1) % n) as usize].public_key();
        let tx = transfer(chain, &keys[account as usize], to, 1 + k % 1_000, nonce, timestamp);
        queue.push_back(Ready { nonce, hash: tx.hash().0, wire: pb::Transaction::from(&tx) });
    }
    out
}

/// The pre-signed transaction of `account` with `nonce`, if there is one: entries below `nonce`
/// are dropped; one above it (a rejection made the lane re-use a lower nonce) stays for later.
fn take_presigned(presigned: &mut Presigned, account: u32, nonce: u64) -> Option<Ready> {
    let queue = presigned.get_mut(&account)?;
    while queue.front().is_some_and(|r| r.nonce < nonce) {
        queue.pop_front();
    }
    if queue.front()?.nonce == nonce { queue.pop_front() } else { None }
}

/// The process's resident set in bytes (Linux `/proc/self/statm`), 0 elsewhere.
fn own_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

impl Lane {
    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<Batch>) {
        let mut next_nonce: HashMap<u32, u64> = HashMap::new();
        let mut cursor = 0usize;
        let n = self.keys.len() as u32;
        let timestamp = unix_seconds();
        while let Some(batch) = queue.recv().await {
            self.counters.taken.fetch_add(batch.count, Ordering::Relaxed);
            if Instant::now() >= self.end || self.owned.is_empty() {
                self.tracker.unsent.fetch_add(batch.count, Ordering::Relaxed);
                continue;
            }
            if self.backoff_until.is_some_and(|until| Instant::now() < until) {
                self.tracker.refused_backpressure.fetch_add(batch.count, Ordering::Relaxed);
                continue;
            }
            let mut txs = Vec::with_capacity(batch.count as usize);
            let mut meta = Vec::with_capacity(batch.count as usize);
            for seq in batch.first_seq..batch.first_seq + batch.count {
                let account = self.owned[cursor % self.owned.len()];
                cursor += 1;
                let nonce = next_nonce.entry(account).or_insert(0);
                let ready = take_presigned(&mut self.presigned, account, *nonce).unwrap_or_else(|| {
                    let to = self.keys[((account + 1) % n) as usize].public_key();
                    // The amount varies with the sequence number so a re-used nonce is a new hash.
                    let tx =
                        transfer(&self.chain, &self.keys[account as usize], to, 1 + seq % 1_000, *nonce, timestamp);
                    Ready { nonce: tx.nonce, hash: tx.hash().0, wire: pb::Transaction::from(&tx) }
                });
                *nonce += 1;
                self.tracker.register(
                    ready.hash,
                    TxInfo {
                        load: true,
                        account,
                        nonce: ready.nonce,
                        scheduled_at: batch.scheduled_at,
                        accepted: false,
                        final_at: None,
                    },
                );
                meta.push((ready.hash, account, ready.nonce));
                txs.push(ready.wire);
            }
            self.tracker.submitted.fetch_add(batch.count, Ordering::Relaxed);
            let outcome = self.client.submit_transactions(pb::SubmitTransactionsRequest { transactions: txs }).await;
            if let Err(status) = &outcome
                && let Some(seconds) = coinjecture_proto::ports::consensus::overloaded_retry_after(status)
            {
                // Backpressure: nothing of the batch was admitted. Back off as asked, and send
                // these nonces again later (signed afresh).
                self.backoff_until = Some(Instant::now() + Duration::from_secs(seconds.max(1)));
                self.tracker.refused_backpressure.fetch_add(batch.count, Ordering::Relaxed);
                let mut txs = self.tracker.txs.lock().expect("tracker lock");
                for (hash, account, nonce) in &meta {
                    txs.remove(hash);
                    let next = next_nonce.entry(*account).or_insert(0);
                    *next = (*next).min(*nonce);
                }
                continue;
            }
            let results: Vec<Result<(), String>> = match outcome {
                Ok(r) => {
                    let r = r.into_inner().results;
                    (0..meta.len())
                        .map(|i| match r.get(i) {
                            Some(x) if x.accepted => Ok(()),
                            Some(x) => Err(reason_name(x.reason)),
                            None => Err("NO_RESULT".to_string()),
                        })
                        .collect()
                }
                Err(status) => vec![Err(format!("rpc: {:?}", status.code())); meta.len()],
            };
            let mut txs = self.tracker.txs.lock().expect("tracker lock");
            for ((hash, _, _), result) in meta.iter().zip(&results) {
                if result.is_ok()
                    && let Some(info) = txs.get_mut(hash)
                {
                    info.accepted = true;
                }
            }
            drop(txs);
            for ((_, account, nonce), result) in meta.iter().zip(results) {
                match result {
                    Ok(()) => {
                        self.tracker.accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(reason) => {
                        // Re-use the nonce: everything after it would be a gap.
                        let next = next_nonce.entry(*account).or_insert(0);
                        *next = (*next).min(*nonce);
                        self.tracker.reject(*account, *nonce, reason);
                    }
                }
            }
        }
    }
}

#[tokio::main]
async fn main() -> eyre::Result<()> {
    let args = Args::parse();
    let _ = args.grpc;
    if args.txrate <= 0.0 || args.accounts == 0 {
        bail!("--txrate and --accounts must be positive");
    }
    let nodes = if args.nodes.is_empty() { vec![args.node.clone()] } else { args.nodes.clone() };
    let batch = args.batch.unwrap_or_else(|| ((args.txrate / 20.0) as u64).clamp(1, 500)).max(1);
    let schedule = Schedule { rate: args.txrate, batch, duration: args.duration };
    let faucet = load_key(&args.faucet_key)?;

    let mut main_client = connect(&args.node).await?;
    let status = main_client.get_status(pb::GetStatusRequest {}).await.wrap_err("GetStatus")?.into_inner();
    let chain = ChainId::new(status.chain_id.clone()).map_err(|e| eyre!("chain id {:?}: {e}", status.chain_id))?;
    eprintln!("chain {} at height {}; {} node(s); batch {batch}", status.chain_id, status.block_height, nodes.len());

    let tracker = Arc::new(Tracker::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let follower = tokio::spawn(follow(args.node.clone(), status.block_height + 1, tracker.clone(), stop_rx));

    // Accounts and funding: enough for twice the expected transfers each, fees included.
    let keys: Vec<Keypair> = (0..args.accounts).map(|_| random_keypair()).collect::<eyre::Result<_>>()?;
    let per_account = schedule.total().div_ceil(args.accounts) + 10;
    let amount = per_account * 2 * (TRANSFER_GAS + 1_000);
    let funding_started = Instant::now();
    fund(&mut main_client, &chain, &faucet, &keys, amount, &tracker).await?;
    eprintln!("funded {} accounts with {amount} each in {:.1} s", keys.len(), funding_started.elapsed().as_secs_f64());
    let keys = Arc::new(keys);

    // Lanes: `lanes_per_node` per node; account i belongs to lane i mod lanes.
    let lane_count = nodes.len() * args.lanes_per_node.max(1);
    let owned_by_lane: Vec<Vec<u32>> = (0..lane_count)
        .map(|lane| (0..args.accounts as u32).filter(|a| *a as usize % lane_count == lane).collect())
        .collect();
    let mut presigned: Vec<Presigned> = (0..lane_count).map(|_| Presigned::new()).collect();
    let mut presign_stats = None;
    if args.presign {
        // Batches go round robin over the lanes: a lane sends at most this many.
        let per_lane = schedule.total().div_ceil(batch).div_ceil(lane_count as u64) * batch;
        let (rss_before, started) = (own_rss_bytes(), Instant::now());
        let timestamp = unix_seconds();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        presigned = std::thread::scope(|scope| {
            let workers: Vec<_> = owned_by_lane
                .chunks(lane_count.div_ceil(threads))
                .map(|lanes| {
                    let (chain, keys) = (&chain, &keys);
                    scope.spawn(move || {
                        lanes
                            .iter()
                            .map(|owned| presign_lane(chain, keys, owned, per_lane, timestamp))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
        });
        if presigned.len() != lane_count {
            bail!("pre-signing failed ({} of {lane_count} lanes)", presigned.len());
        }
        let count = per_lane * lane_count as u64;
        let seconds = started.elapsed().as_secs_f64();
        let rss_mib = own_rss_bytes().saturating_sub(rss_before) as f64 / (1 << 20) as f64;
        eprintln!("presigned {count} transactions in {seconds:.1} s (RSS +{rss_mib:.0} MiB)");
        presign_stats = Some((count, seconds, rss_mib));
    }
    let counters = Arc::new(Counters::default());
    let start = Instant::now() + Duration::from_millis(100);
    let end = start + args.duration;
    let mut senders = Vec::new();
    let mut lanes = Vec::new();
    for (lane, (owned, presigned)) in owned_by_lane.into_iter().zip(presigned).enumerate() {
        let client = connect(&nodes[lane % nodes.len()]).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        let l = Lane {
            client,
            chain: chain.clone(),
            owned,
            keys: keys.clone(),
            tracker: tracker.clone(),
            counters: counters.clone(),
            end,
            presigned,
            backoff_until: None,
        };
        lanes.push(tokio::spawn(l.run(rx)));
    }

    let api_ports: Vec<u16> =
        nodes.iter().filter_map(|n| http::authority(n)?.rsplit(':').next()?.parse().ok()).collect();
    let usage_before = procstat::sample_nodes(&api_ports);
    let propagation_before = propagation_buckets(&nodes).await;
    let progress = progress_bar(schedule.total());
    let reporter = tokio::spawn(report_progress(progress.clone(), tracker.clone(), counters.clone()));
    schedule::run(schedule, start, &senders, counters.clone()).await;
    drop(senders);
    for lane in lanes {
        let _ = lane.await;
    }
    let usage = procstat::usage(&usage_before, &procstat::sample_nodes(&api_ports));

    // Grace: wait for accepted transactions to become final.
    let grace_deadline = Instant::now().max(end) + args.grace;
    while Instant::now() < grace_deadline
        && tracker.final_load.load(Ordering::Relaxed) < tracker.accepted.load(Ordering::Relaxed)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reporter.abort();
    progress.finish_and_clear();
    let _ = stop_tx.send(true);
    let _ = follower.await;

    let mut report =
        build_report(&args, &nodes, batch, &schedule, &tracker, &counters, start, end, usage, &propagation_before)
            .await;
    if let Some((count, seconds, rss_mib)) = presign_stats {
        (report.presigned, report.presign_seconds, report.presign_rss_mib) = (count, Some(seconds), Some(rss_mib));
    }
    println!("{}", report.table());
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .wrap_err_with(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Transactions per second finalized after the first finalization and up to the last one at or
/// before `end`, over the time between them; `None` with fewer than two finalization instants or
/// less than a second between them.
fn sustained_rate(final_times: &[Instant], end: Instant) -> Option<f64> {
    let first = *final_times.iter().min()?;
    let last = *final_times.iter().filter(|&&at| at <= end).max()?;
    let span = (last - first).as_secs_f64();
    let count = final_times.iter().filter(|&&at| at > first && at <= last).count();
    (span >= 1.0).then(|| count as f64 / span)
}

/// Propagation histograms summed over every node that exports them: the gateway's
/// `coinjecture_block_propagation_seconds` (proposer's timestamp to the payload's arrival) and
/// consensus's `coinjecture_proposal_propagation_seconds` (to the complete block, rebuilt or full).
#[derive(Debug, Clone, Default)]
struct Propagation {
    gateway: Vec<(f64, f64)>,
    proposal: Vec<(f64, f64)>,
}

async fn propagation_buckets(nodes: &[String]) -> Propagation {
    let mut metrics = String::new();
    for node in nodes {
        // Each node's text on its own lines; buckets of one bound add up across nodes.
        if let Ok((200, body)) = http::get(node, "/metrics").await {
            metrics.push_str(&body);
            metrics.push('\n');
        }
    }
    Propagation {
        gateway: stats::histogram_buckets(&metrics, "coinjecture_block_propagation_seconds"),
        proposal: stats::histogram_buckets(&metrics, "coinjecture_proposal_propagation_seconds"),
    }
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] sent {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// Refreshes the bar twice a second; without a terminal, prints a line every 5 s instead.
async fn report_progress(bar: ProgressBar, tracker: Arc<Tracker>, counters: Arc<Counters>) {
    let terminal = std::io::stderr().is_terminal();
    let mut window: VecDeque<(Instant, u64)> = VecDeque::new();
    let mut ticks = 0u64;
    let mut interval = tokio::time::interval(Duration::from_millis(500));
    loop {
        interval.tick().await;
        ticks += 1;
        let now = Instant::now();
        let final_count = tracker.final_load.load(Ordering::Relaxed);
        window.push_back((now, final_count));
        while window.len() > 2 && now - window[0].0 > Duration::from_secs(5) {
            window.pop_front();
        }
        let tps = match (window.front(), window.back()) {
            (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1) as f64 / (b.0 - a.0).as_secs_f64(),
            _ => 0.0,
        };
        let p50 = tracker.recent_p50().map_or_else(|| "-".to_string(), |s| format!("{:.0} ms", s * 1000.0));
        let message = format!(
            "final {final_count} rejected {} | {tps:.0} final tx/s | p50 {p50} | backlog {}",
            tracker.rejected_total.load(Ordering::Relaxed),
            counters.backlog()
        );
        bar.set_position(tracker.submitted.load(Ordering::Relaxed));
        if terminal {
            bar.set_message(message);
        } else if ticks.is_multiple_of(10) {
            eprintln!("sent {} {message}", tracker.submitted.load(Ordering::Relaxed));
        }
    }
}

#[allow(clippy::too_many_arguments, reason = "one call site; the parts of one run")]
async fn build_report(
    args: &Args,
    nodes: &[String],
    batch: u64,
    schedule: &Schedule,
    tracker: &Tracker,
    counters: &Counters,
    start: Instant,
    end: Instant,
    node_usage: Vec<procstat::NodeUsage>,
    propagation_before: &Propagation,
) -> Report {
    // The metrics first: no lock is held across an await.
    let after = propagation_buckets(nodes).await;
    let buckets = stats::histogram_delta(&propagation_before.gateway, &after.gateway);
    let proposal = stats::histogram_delta(&propagation_before.proposal, &after.proposal);
    let txs = tracker.txs.lock().expect("tracker lock");
    let rejected_nonce = tracker.rejected_nonce.lock().expect("tracker lock").clone();
    let mut latencies = Vec::new();
    let (mut lost, mut stranded) = (0u64, 0u64);
    let mut final_times = Vec::new();
    let mut last_final: Option<Instant> = None;
    for info in txs.values().filter(|i| i.load) {
        match info.final_at {
            Some(at) => {
                latencies.push((at - info.scheduled_at).as_secs_f64());
                final_times.push(at);
                last_final = Some(last_final.map_or(at, |f| f.max(at)));
            }
            None if info.accepted => {
                if rejected_nonce.get(&info.account).is_some_and(|r| *r < info.nonce) {
                    stranded += 1;
                } else {
                    lost += 1;
                }
            }
            None => {}
        }
    }
    drop(txs);
    let final_count = latencies.len() as u64;
    let overall = last_final.map(|l| (l - start).as_secs_f64()).unwrap_or(0.0);
    let overall_final_tps = if overall > 0.0 { final_count as f64 / overall } else { 0.0 };
    // Finalizations come a block at a time: the steady rate is what was finalized after the first
    // block up to the last block within the offered period, over the time between those blocks.
    let sustained_final_tps = sustained_rate(&final_times, end).unwrap_or(overall_final_tps);

    let (block_count, proposers, max_txs_per_block, (block_interval_p50_s, block_interval_max_s)) = {
        let blocks = tracker.blocks.lock().expect("tracker lock");
        let in_load: Vec<&BlockSeen> = blocks.iter().filter(|b| b.at >= start && b.at <= end).collect();
        let proposers: HashSet<&[u8]> = in_load.iter().map(|b| b.proposer.as_slice()).collect();
        let arrivals: Vec<std::time::Instant> = in_load.iter().map(|b| b.at.into_std()).collect();
        (
            in_load.len() as u64,
            proposers.len(),
            in_load.iter().map(|b| b.tx_count).max().unwrap_or(0),
            stats::interval_p50_max(&arrivals),
        )
    };

    let scheduled = counters.scheduled.load(Ordering::Relaxed);
    let unsent = tracker.unsent.load(Ordering::Relaxed);
    Report {
        nodes: nodes.to_vec(),
        accounts: args.accounts,
        batch,
        duration_s: schedule.duration.as_secs_f64(),
        offered_tps: schedule.rate,
        scheduled,
        submitted: tracker.submitted.load(Ordering::Relaxed),
        accepted: tracker.accepted.load(Ordering::Relaxed),
        final_count,
        rejected: tracker.rejected.lock().expect("tracker lock").clone(),
        rejected_total: tracker.rejected_total.load(Ordering::Relaxed),
        refused_backpressure: tracker.refused_backpressure.load(Ordering::Relaxed),
        max_backlog: counters.max_backlog.load(Ordering::Relaxed),
        unsent_backlog: unsent,
        sustained_final_tps,
        overall_final_tps,
        latency: LatencySummary::of(&mut latencies),
        lost,
        stranded,
        duplicated: tracker.duplicated.load(Ordering::Relaxed),
        grace_s: args.grace.as_secs_f64(),
        blocks: block_count,
        proposers: proposers as u64,
        max_txs_per_block,
        block_interval_p50_s,
        block_interval_max_s,
        block_propagation_p50_s: stats::histogram_quantile(&buckets, 0.5),
        block_propagation_p99_s: stats::histogram_quantile(&buckets, 0.99),
        proposal_propagation_p50_s: stats::histogram_quantile(&proposal, 0.5),
        proposal_propagation_p99_s: stats::histogram_quantile(&proposal, 0.99),
        node_usage,
        ..Report::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn sustained_rate_counts_between_the_first_and_last_block_of_the_window() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // Blocks of 200 every 2 s; the last one lands after the end of the window.
        let times: Vec<Instant> =
            [0, 2_000, 4_000, 6_000].iter().flat_map(|&ms| std::iter::repeat_n(at(ms), 200)).collect();
        assert_eq!(sustained_rate(&times, at(5_000)), Some(100.0));
        assert_eq!(sustained_rate(&times, at(500)), None);
        assert_eq!(sustained_rate(&[], at(500)), None);
    }

    fn keys(n: u8) -> Vec<Keypair> {
        (0..n).map(|i| Keypair::from_seed(&[i + 1; 32])).collect()
    }

    #[test]
    fn presigned_transfers_follow_the_lanes_send_order_and_verify() {
        let chain = ChainId::new("coinjecture-devnet".to_string()).unwrap();
        let keys = keys(4);
        // A lane owning accounts 1 and 3 sends 1, 3, 1, 3, 1: nonces 0, 0, 1, 1, 2.
        let mut ready = presign_lane(&chain, &keys, &[1, 3], 5, 1_700_000_000);
        assert_eq!(ready[&1].iter().map(|r| r.nonce).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(ready[&3].iter().map(|r| r.nonce).collect::<Vec<_>>(), [0, 1]);
        let first = take_presigned(&mut ready, 1, 0).unwrap();
        let tx = Transaction::try_from(&first.wire).unwrap();
        assert_eq!(tx.from, keys[1].public_key());
        assert_eq!(tx.to, keys[2].public_key());
        assert_eq!(tx.hash().0, first.hash);
        assert!(coinjecture_crypto_core::signatures::verify(&tx.from, &tx.signing_message(), &tx.signature));
        let hashes: HashSet<TxHash> = ready.values().flatten().map(|r| r.hash).collect();
        assert_eq!(hashes.len(), 4, "every pre-signed transfer is distinct");
        assert!(presign_lane(&chain, &keys, &[], 5, 0).is_empty());
    }

    #[test]
    fn a_rejection_falls_back_to_signing_until_the_presigned_nonce_comes_round() {
        let chain = ChainId::new("coinjecture-devnet".to_string()).unwrap();
        let mut ready = presign_lane(&chain, &keys(2), &[0], 4, 1_700_000_000);
        assert_eq!(take_presigned(&mut ready, 0, 0).map(|r| r.nonce), Some(0));
        assert_eq!(take_presigned(&mut ready, 0, 1).map(|r| r.nonce), Some(1));
        // Nonce 1 was rejected: the lane re-sends nonce 1, which must be signed afresh.
        assert!(take_presigned(&mut ready, 0, 1).is_none());
        assert_eq!(take_presigned(&mut ready, 0, 2).map(|r| r.nonce), Some(2));
        // Skipping ahead drops what is behind; an account without any has none.
        assert!(take_presigned(&mut ready, 0, 9).is_none());
        assert!(ready[&0].is_empty());
        assert!(take_presigned(&mut ready, 1, 0).is_none());
    }

    #[test]
    fn presign_is_a_flag_and_off_by_default() {
        let base = ["coinjecture-loadtest", "--txrate", "10"];
        assert!(!Args::try_parse_from(base).unwrap().presign);
        assert!(Args::try_parse_from(base.iter().copied().chain(["--presign"])).unwrap().presign);
        assert!(Args::try_parse_from(base.iter().copied().chain(["--presign=yes"])).is_err());
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2"), Err("\"2\" has no unit (use ms, s, m or h)".into()));
        assert!(parse_duration("2 parsecs").is_err());
    }
}
