//! Background load for the fault tests: funded sender accounts, each submitting signed transfers
//! one after another over the public API (`PublicApi.SubmitTransaction` on `api.port`), and the
//! check that every transaction the API accepted ended up final, once, on every validator.
//!
//! Sender `s` talks to validator `s % n` (or to node `s % n` of the list given to
//! [`Load::start_on`], e.g. followers) and moves to the next one when its own does not
//! answer (it is down) or is told to avoid it ([`Load::avoid`], used to drain a validator before
//! it is stopped). A transaction is resubmitted unchanged until a validator gives a definite
//! answer: accepted, `DUPLICATE` (an earlier attempt is pending) or `NONCE_TOO_LOW` (an earlier
//! attempt is already final) all mean it is in; `NONCE_TOO_HIGH` (the validator has not seen
//! the previous one yet) and `MEMPOOL_FULL` mean "try again". Each sender signs exactly one
//! transaction per nonce, so "the sender's nonce reached k" means "its first k transactions
//! are final".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::PublicKey;
use coinjecture_proto::v1 as pb;
use tokio::sync::watch;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use crate::{Network, transfer, transfer_with_gas_price};

/// Each sender's funding from the faucet.
const FUNDING: u64 = 1_000_000_000_000;
/// Enough for the funding's fee (at least FUNDING / 10,000).
const FUNDING_GAS_PRICE: u64 = 5_000;
/// `transfer()`'s fee: gas_limit 21,000 × gas_price 1.
const FEE: u64 = 21_000;

/// One transaction a sender submitted, in nonce order.
#[derive(Debug, Clone)]
pub struct Sent {
    pub hash: [u8; 32],
    pub nonce: u64,
    pub amount: u64,
    /// The API accepted it (directly, or answered DUPLICATE / NONCE_TOO_LOW for a resubmission).
    /// `false` only for a last transaction still unanswered when the load stopped.
    pub accepted: bool,
    /// Which node gave the answer, what it was ("accepted", "DUPLICATE", "NONCE_TOO_LOW")
    /// and when (since the load started): what a failure report needs.
    pub answered_by: usize,
    pub answer: &'static str,
    pub at: Duration,
}

/// One sender's record.
#[derive(Debug, Clone)]
pub struct SenderReport {
    pub sender: PublicKey,
    pub recipient: PublicKey,
    pub sent: Vec<Sent>,
    /// Resubmissions (validator down, NONCE_TOO_HIGH, MEMPOOL_FULL).
    pub retries: u64,
    /// Definite refusals other than the ones above, by reason (none are expected).
    pub refused: BTreeMap<String, u64>,
}

/// The whole load's record.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub senders: Vec<SenderReport>,
}

impl LoadReport {
    /// Transactions the API accepted.
    pub fn accepted(&self) -> usize {
        self.senders.iter().map(|s| s.sent.iter().filter(|t| t.accepted).count()).sum()
    }

    /// Resubmissions over all senders.
    pub fn retries(&self) -> u64 {
        self.senders.iter().map(|s| s.retries).sum()
    }

    /// Waits until every accepted transaction is final on every validator in `nodes`, then
    /// checks each one by hash (in exactly one block, the same height everywhere, no load
    /// transaction twice), each sender's nonce and balance and each recipient's balance. Returns
    /// the number of final load transactions.
    pub async fn assert_all_final(&self, net: &Network, nodes: &[usize], timeout: Duration) -> usize {
        for s in &self.senders {
            assert!(s.refused.is_empty(), "sender {} had transactions refused: {:?}", s.sender, s.refused);
        }
        let deadline = Instant::now() + timeout;
        // 1. Wait for the nonces: every accepted transaction applied.
        for s in &self.senders {
            let accepted = s.sent.iter().filter(|t| t.accepted).count() as u64;
            for &i in nodes {
                loop {
                    let nonce = net.nonce(i, &s.sender).await;
                    if nonce >= accepted {
                        break;
                    }
                    if Instant::now() >= deadline {
                        panic!("{}", lost_report(net, i, s, nonce).await);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        // 2. Every validator agrees on each sender's nonce; the final transactions are the first
        //    `nonce` ones (an unanswered last one may or may not have made it).
        let mut finals: Vec<(&SenderReport, &[Sent])> = Vec::new();
        for s in &self.senders {
            let mut nonces = Vec::new();
            for &i in nodes {
                nonces.push(net.nonce(i, &s.sender).await);
            }
            assert!(nonces.windows(2).all(|w| w[0] == w[1]), "sender {}: nonces differ {nonces:?}", s.sender);
            let count = usize::try_from(nonces[0]).unwrap();
            assert!(count <= s.sent.len(), "sender {}: nonce {count} beyond what it sent", s.sender);
            finals.push((s, &s.sent[..count]));
        }
        // 3. On every validator, each of them is in exactly one block, the same one everywhere.
        let mut placed: Option<HashMap<[u8; 32], u64>> = None;
        for &i in nodes {
            let height = net.height(i).await.unwrap();
            let mut at: HashMap<[u8; 32], u64> = HashMap::new();
            for block in net.blocks(i, 1, height).await {
                for tx in &block.transactions {
                    let again = at.insert(tx.hash().0, block.header.block_index.get());
                    assert!(again.is_none(), "validator {i}: transaction {} finalized twice", hex::encode(tx.hash().0));
                }
            }
            for (s, txs) in &finals {
                for t in *txs {
                    let h = at.get(&t.hash).unwrap_or_else(|| {
                        panic!("validator {i}: accepted transaction {} of {} not in any block", t.nonce, s.sender)
                    });
                    if let Some(first) = &placed {
                        assert_eq!(first.get(&t.hash), Some(h), "transaction {} in different blocks", t.nonce);
                    }
                }
            }
            placed.get_or_insert(at);
        }
        // 4. Balances: each recipient holds what its sender sent; each sender the rest.
        let mut total = 0;
        for (s, txs) in finals {
            total += txs.len();
            let sent: u64 = txs.iter().map(|t| t.amount).sum();
            let fees = FEE * txs.len() as u64;
            for &i in nodes {
                assert_eq!(
                    net.balance(i, &s.recipient).await,
                    sent,
                    "validator {i}: recipient {} balance",
                    s.recipient
                );
                assert_eq!(
                    net.balance(i, &s.sender).await,
                    FUNDING - sent - fees,
                    "validator {i}: sender {} balance",
                    s.sender
                );
            }
        }
        total
    }
}

/// What a "transactions lost" failure says: the missing transactions, who accepted them and
/// when, every validator's mempool, and the log tail of the validator that accepted the first.
async fn lost_report(net: &Network, i: usize, s: &SenderReport, nonce: u64) -> String {
    let missing: Vec<String> = s
        .sent
        .iter()
        .filter(|t| t.accepted && t.nonce >= nonce)
        .map(|t| format!("nonce {} {} by {} at {:.1}s", t.nonce, t.answer, net.name(t.answered_by), t.at.as_secs_f64()))
        .collect();
    let mut mempools = Vec::new();
    for j in 0..net.validators {
        let mut c = pb::consensus_client::ConsensusClient::new(net.consensus_channel(j).await);
        let stats = c.get_mempool_stats(pb::GetMempoolStatsRequest {}).await.map(|r| r.into_inner().transaction_count);
        mempools.push(stats.map_err(|e| e.message().to_string()));
    }
    let first = s.sent.iter().find(|t| t.nonce == nonce).map_or(i, |t| t.answered_by);
    format!(
        "validator {i}: sender {} has {nonce} of its accepted transactions final; missing: {missing:?}; \
         mempool sizes {mempools:?}; log of validator {first}:\n{}",
        s.sender,
        crate::tail(&net.log(first))
    )
}

/// `senders` fresh accounts (seeded from `label` and the time), each funded with [`FUNDING`] from
/// the faucet in one submission to validator 0; returns once every funding is final there.
pub async fn fund_senders(net: &Network, label: &str, senders: usize) -> Vec<Keypair> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let keys: Vec<Keypair> = (0..senders)
        .map(|s| Keypair::from_seed(&coinjecture_primitives::sha256(format!("{label} {nanos} {s}").as_bytes()).0))
        .collect();
    let faucet = net.faucet();
    let base = net.nonce(0, &faucet.public_key()).await;
    let funding: Vec<pb::Transaction> = keys
        .iter()
        .enumerate()
        .map(|(k, key)| {
            (&transfer_with_gas_price(&faucet, key.public_key(), FUNDING, base + k as u64, FUNDING_GAS_PRICE)).into()
        })
        .collect();
    let mut c = pb::consensus_client::ConsensusClient::new(net.consensus_channel(0).await);
    let results = c
        .submit_transactions(pb::ConsensusSubmitTransactionsRequest { transactions: funding })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(results.iter().all(|r| r.accepted), "funding refused: {results:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    for key in &keys {
        while net.balance(0, &key.public_key()).await != FUNDING {
            assert!(Instant::now() < deadline, "funding not final:\n{}", crate::tail(&net.log(0)));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    keys
}

/// A running load.
#[derive(Debug)]
pub struct Load {
    stop: watch::Sender<bool>,
    avoid: Arc<Mutex<HashSet<usize>>>,
    tasks: Vec<tokio::task::JoinHandle<SenderReport>>,
}

impl Load {
    /// Funds `senders` fresh accounts from the faucet (waits until that is final on validator
    /// 0) and starts them, each sending one transfer every `interval` to the validators.
    pub async fn start(net: &Network, senders: usize, interval: Duration) -> Self {
        let validators: Vec<usize> = (0..net.validators).collect();
        Self::start_on(net, &validators, senders, interval).await
    }

    /// Like [`Self::start`], with the senders submitting to the public API of `nodes` only
    /// (validators or followers).
    pub async fn start_on(net: &Network, nodes: &[usize], senders: usize, interval: Duration) -> Self {
        assert!(!nodes.is_empty(), "Load::start_on: no node to submit to");
        let keys = fund_senders(net, "e2e load", senders).await;

        let channels: Vec<Channel> = nodes
            .iter()
            .map(|&i| {
                Endpoint::from_shared(format!("http://127.0.0.1:{}", net.api_port(i)))
                    .unwrap()
                    .connect_timeout(Duration::from_millis(500))
                    .timeout(Duration::from_secs(5))
                    .connect_lazy()
            })
            .collect();
        let (stop, stop_rx) = watch::channel(false);
        let started = Instant::now();
        let avoid = Arc::new(Mutex::new(HashSet::new()));
        let tasks = keys
            .into_iter()
            .enumerate()
            .map(|(s, key)| {
                let sender = Sender {
                    recipient: recipient(&key),
                    key,
                    node: s % channels.len(),
                    nodes: nodes.to_vec(),
                    channels: channels.clone(),
                    avoid: avoid.clone(),
                    stop: stop_rx.clone(),
                    interval,
                    started,
                };
                tokio::spawn(sender.run())
            })
            .collect();
        Self { stop, avoid, tasks }
    }

    /// Stops sending to validator `i` (senders move to the next one).
    pub fn avoid(&self, i: usize) {
        self.avoid.lock().unwrap().insert(i);
    }

    /// Sends to validator `i` again.
    pub fn allow(&self, i: usize) {
        self.avoid.lock().unwrap().remove(&i);
    }

    /// Stops the senders (each finishes the transaction in hand, for at most 30 s).
    pub async fn stop(self) -> LoadReport {
        self.stop.send_replace(true);
        let mut senders = Vec::new();
        for t in self.tasks {
            senders.push(t.await.unwrap());
        }
        LoadReport { senders }
    }
}

/// A recipient address per sender (fresh, so its balance is exactly what the sender sent).
fn recipient(sender: &Keypair) -> PublicKey {
    let mut bytes = sender.public_key().0;
    bytes[0] ^= 0xFF;
    PublicKey(bytes)
}

struct Sender {
    key: Keypair,
    recipient: PublicKey,
    /// Index into `nodes` and `channels`.
    node: usize,
    /// The network's node number of each channel.
    nodes: Vec<usize>,
    channels: Vec<Channel>,
    avoid: Arc<Mutex<HashSet<usize>>>,
    stop: watch::Receiver<bool>,
    interval: Duration,
    started: Instant,
}

enum Answer {
    In(&'static str),
    Retry,
    Refused(String),
}

impl Sender {
    async fn run(mut self) -> SenderReport {
        let mut report = SenderReport {
            sender: self.key.public_key(),
            recipient: self.recipient,
            sent: Vec::new(),
            retries: 0,
            refused: BTreeMap::new(),
        };
        let mut nonce = 0;
        while !*self.stop.borrow() {
            let amount = 1_000 + nonce % 1_000;
            let tx = transfer(&self.key, self.recipient, amount, nonce);
            let hash = tx.hash().0;
            let tx: pb::Transaction = (&tx).into();
            let mut attempts = 0u32;
            let mut stopped_at = None;
            let answered = loop {
                self.skip_avoided();
                let node = self.nodes[self.node];
                match self.submit(&tx).await {
                    Answer::In(answer) => break Some((node, answer)),
                    Answer::Refused(reason) => {
                        *report.refused.entry(reason).or_default() += 1;
                        return report;
                    }
                    Answer::Retry => {
                        report.retries += 1;
                        attempts += 1;
                        if attempts.is_multiple_of(5) {
                            self.node = (self.node + 1) % self.channels.len();
                        }
                    }
                }
                // Give up on a transaction still unanswered 30 s after the stop.
                if *self.stop.borrow() {
                    let since = *stopped_at.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_secs(30) {
                        break None;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let (answered_by, answer) = answered.unwrap_or((self.nodes[self.node], "none"));
            let at = self.started.elapsed();
            report.sent.push(Sent { hash, nonce, amount, accepted: answered.is_some(), answered_by, answer, at });
            if answered.is_none() {
                break;
            }
            nonce += 1;
            tokio::time::sleep(self.interval).await;
        }
        report
    }

    fn skip_avoided(&mut self) {
        let avoid = self.avoid.lock().unwrap();
        for _ in 0..self.channels.len() {
            if !avoid.contains(&self.nodes[self.node]) {
                return;
            }
            self.node = (self.node + 1) % self.channels.len();
        }
    }

    async fn submit(&mut self, tx: &pb::Transaction) -> Answer {
        let mut api = pb::public_api_client::PublicApiClient::new(self.channels[self.node].clone());
        let request = pb::SubmitTransactionRequest { transaction: Some(tx.clone()) };
        let result = match api.submit_transaction(request).await {
            Ok(r) => r.into_inner().result.unwrap_or_default(),
            Err(_) => {
                // Down or unreachable: the next validator.
                self.node = (self.node + 1) % self.channels.len();
                return Answer::Retry;
            }
        };
        if result.accepted {
            return Answer::In("accepted");
        }
        match result.reason() {
            pb::TxRejectReason::Duplicate => Answer::In("DUPLICATE"),
            pb::TxRejectReason::NonceTooLow => Answer::In("NONCE_TOO_LOW"),
            pb::TxRejectReason::NonceTooHigh | pb::TxRejectReason::MempoolFull => Answer::Retry,
            other => Answer::Refused(format!("{other:?}: {}", result.message)),
        }
    }
}
