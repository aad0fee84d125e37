//! Issue #23's done-when for transactions: in one process, a transaction submitted over REST is
//! encoded once and SHA-256'd once on its way into the mempool (admission, journal and gossip
//! included). Real services: the API's router, the consensus service over a running driver, a
//! real SQLite ledger with in-process crypto-core; the primitives' `counters` feature counts
//! every transaction encoding and hash in the process (and crypto-core's, every transaction
//! signature verification), so each test here runs alone in a child process of the test binary
//! (see [`rerun_alone`]).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use coinjecture_api::{ApiConfig, Backends, PublicApiService};
use coinjecture_consensus::driver::{self, DriverConfig};
use coinjecture_consensus::gossip::{GossipCheck, NodePosition};
use coinjecture_consensus::{EngineConfig, MempoolConfig};
use coinjecture_consensus::{QuorumMode, ValidatorSet};
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_ledger::Ledger;
use coinjecture_ledger::test_utils::{TestChain, local_crypto, validator_key};
use coinjecture_primitives::transaction::counters;
use coinjecture_primitives::validators::ValidatorSchedule;
use coinjecture_primitives::{Block, CommitCertificate, Height, PublicKey, SealedTransaction, Transaction, sha256};
use coinjecture_proto::ports::gateway::{GatewayError, GatewayPort, GossipMessage};
use coinjecture_proto::v1 as pb;
use http_body_util::BodyExt;
use prost::Message as _;
use tower::ServiceExt;

/// The counters are process-wide and the binary's other tests run beside these in threads: in
/// the test binary's own process, a test here runs itself again, alone, in a child process
/// (where [`ALONE`] is set) and returns true when that passed; the caller then returns. In the
/// child it returns false and the test counts.
fn rerun_alone(test: &str) -> bool {
    if std::env::var_os(ALONE).is_some() {
        return false;
    }
    let name = format!("sealed_counts::{test}");
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(ALONE, "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    eprintln!("{name} in its own process:\n{stdout}{stderr}");
    assert!(output.status.success(), "{name} failed in its own process ({})", output.status);
    assert!(stdout.contains("1 passed"), "{name} did not run in its own process");
    true
}

/// Set in the child process that [`rerun_alone`] starts.
const ALONE: &str = "COINJECTURE_COUNTING_ALONE";

/// One test at a time (also in a child process, which runs one).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Records what the driver gossips; no peers.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<GossipMessage>>>);

#[tonic::async_trait]
impl GatewayPort for Recorder {
    async fn publish(&self, message: &GossipMessage) -> Result<(), GatewayError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
    async fn request_blocks(&self, _: Height, _: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
        Ok(Vec::new())
    }
}

fn json_fields(tx: &Transaction) -> serde_json::Value {
    serde_json::json!({
        "codec_version": tx.codec_version,
        "tx_type": tx.tx_type.name(),
        "from": hex::encode(tx.from.0),
        "to": hex::encode(tx.to.0),
        "amount": tx.amount,
        "nonce": tx.nonce,
        "gas_limit": tx.gas_limit,
        "gas_price": tx.gas_price,
        "signature": hex::encode(tx.signature.0),
        "data": hex::encode(&tx.data),
        "timestamp": tx.timestamp,
    })
}

/// The test chain (2 funded accounts, one validator) and its SQLite ledger in `dir`.
async fn open_chain(dir: &std::path::Path) -> (TestChain, ValidatorSchedule, Arc<Ledger>) {
    let chain = TestChain::new("coinjecture-sealed-test", 2, 1_000_000_000);
    let schedule = chain.validators();
    let ledger = Arc::new(
        Ledger::open(dir.join("node.db"), chain.genesis.clone(), schedule.clone(), local_crypto()).await.unwrap(),
    );
    (chain, schedule, ledger)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_submitted_over_rest_is_encoded_once_and_hashed_once_up_to_the_mempool() {
    if rerun_alone("a_transaction_submitted_over_rest_is_encoded_once_and_hashed_once_up_to_the_mempool") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (chain, schedule, ledger) = open_chain(dir.path()).await;
    // A full node: its key is not in the set, so it never proposes (no block encodes the
    // transactions while we count) and only admits, journals and gossips them.
    let key = Keypair::from_seed(&sha256(b"sealed test full node").0);
    let config = DriverConfig {
        engine: EngineConfig::with_block_time(chain.chain_id().clone(), 300),
        schedule,
        mempool: MempoolConfig::default(),
        max_block_transactions: 1000,
        block_limits: coinjecture_primitives::BlockLimits::default(),
        // Generous: these tests are about correctness, not the time budget.
        proposal_budget: std::time::Duration::from_secs(60),
        sign_state_path: dir.path().join("node.sign_state"),
        network_label: "test".into(),
        unsafe_reset_signing_state: false,
        tx_journal: true,
        // Transactions do not cross the link here: the receiver gets full proposals.
        compact_proposals: false,
    };
    let gossip = Recorder::default();
    let (inbox, inbound) = tokio::sync::mpsc::channel(16);
    let (handle, _task) = driver::start(config, key, ledger.clone(), gossip.clone(), inbound).await.unwrap();
    let backends =
        Backends { ledger: ledger.clone(), consensus: Arc::new(handle.clone()), peers: None, tip_updates: None };
    let router = coinjecture_api::router(ApiConfig::default(), PublicApiService::new(backends, "test")).await.unwrap();

    let recipient = PublicKey([7; 32]);
    let first = chain.transfer(0, recipient, 1_000, 0);
    let second = chain.transfer(1, recipient, 2_000, 0);
    let bodies = [json_fields(&first), serde_json::json!({ "raw": hex::encode(second.encode()) })];
    let mut counts = Vec::new();
    for (i, (body, tx)) in bodies.iter().zip([&first, &second]).enumerate() {
        let (encodes, hashes) = (counters::encodes(), counters::hashes());
        let request = Request::post("/v1/transactions")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let text = String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).to_string();
        assert_eq!(status, StatusCode::ACCEPTED, "submission {i}: {text}");
        // The journal writes on its own thread before the reply: counted already.
        let (encodes, hashes) = (counters::encodes() - encodes, counters::hashes() - hashes);
        assert_eq!(handle.status().mempool_size, i + 1, "submission {i} is in the mempool");
        assert!(text.contains(&tx.hash().to_hex()), "submission {i}: the verdict names the hash: {text}");
        eprintln!("submission {i} ({}): {encodes} encodings, {hashes} hashes", if i == 0 { "fields" } else { "raw" });
        counts.push((encodes, hashes));
    }
    assert_eq!(counts, [(1, 1), (1, 1)], "encodings and hashes up to the mempool (JSON fields, raw)");
    // Gossip in: a batch from a peer (as the gateway delivers it, validated) is admitted with
    // one encoding and one hash per transaction too.
    let third = chain.transfer(0, recipient, 3_000, 1);
    let batch = pb::TransactionBatch { transactions: vec![pb::Transaction::from(&third)] };
    let payload = pb::ConsensusMessage { kind: Some(pb::consensus_message::Kind::Transactions(batch)) }.encode_to_vec();
    let (encodes, hashes) = (counters::encodes(), counters::hashes());
    // Decoded as the gossip loop decodes it (the transactions are sealed there).
    let message = coinjecture_proto::ports::gateway::decode_gossip(&payload).unwrap();
    inbox.send(message).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while handle.status().mempool_size < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the gossiped transaction reaches the mempool");
    let gossiped = (counters::encodes() - encodes, counters::hashes() - hashes);
    eprintln!("gossiped in: {} encodings, {} hashes", gossiped.0, gossiped.1);
    assert_eq!(gossiped, (1, 1), "a gossiped transaction: encodings and hashes up to the mempool");

    // The submitted ones were gossiped out (once each; what came in by gossip is not re-sent).
    tokio::time::timeout(Duration::from_secs(5), async {
        while gossip.0.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("both transactions gossiped");
}

/// The block half of the done-when, on the proposer: a transaction submitted unsealed is
/// encoded and hashed once, at admission; building the block (from the mempool's sealed
/// transactions), validating it, the lock file and the commit (the ledger stores the sealed
/// encodings and hashes) add nothing. Before `SealedBlock`: 3 and 2 more; before sealing
/// transactions: 5 and 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposed_transaction_is_encoded_once_and_hashed_once_from_admission_to_its_commit() {
    if rerun_alone("a_proposed_transaction_is_encoded_once_and_hashed_once_from_admission_to_its_commit") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (chain, schedule, ledger) = open_chain(dir.path()).await;
    // The test chain's single validator: it proposes and commits every block alone.
    let config = validator_config(&chain, schedule, dir.path(), "node");
    let (_inbox, inbound) = tokio::sync::mpsc::channel(16);
    let (handle, _task) =
        driver::start(config, validator_key(), ledger.clone(), Recorder::default(), inbound).await.unwrap();
    let tx = chain.transfer(0, PublicKey([7; 32]), 1_000, 0);
    let from = tx.from;
    let (encodes, hashes) = (counters::encodes(), counters::hashes());
    let results = handle.submit(vec![tx]).await.unwrap();
    assert!(results[0].outcome.is_ok(), "{results:?}");
    committed(&ledger, from).await;
    let counted = (counters::encodes() - encodes, counters::hashes() - hashes);
    eprintln!("submitted, proposed and committed: {} encodings, {} hashes", counted.0, counted.1);
    assert_eq!(counted, (1, 1), "encodings and hashes from admission of a transaction to its commit");
}

/// The same on a validator that did not propose the block (nor admit the transaction): the
/// proposal's block is sealed once when it arrives (one encoding and one hash per transaction),
/// and validation, the lock file and the commit reuse it. Two validators (both needed: crash
/// quorum of 2); transactions are not gossiped between them, so only the proposer has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_received_proposal_is_encoded_once_and_hashed_once_up_to_its_commit() {
    if rerun_alone("a_received_proposal_is_encoded_once_and_hashed_once_up_to_its_commit") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("coinjecture-sealed-test", 2, 1_000_000_000);
    let keys: Vec<Keypair> = (0..2).map(|i| Keypair::from_seed(&sha256(format!("sealed {i}").as_bytes()).0)).collect();
    let set = ValidatorSet::new(keys.iter().map(Keypair::public_key).collect(), QuorumMode::Crash).unwrap();
    let schedule = ValidatorSchedule::fixed(set);
    let links: Vec<Link> = (0..2).map(|_| Link::default()).collect();
    let mut nodes = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let ledger = Arc::new(
            Ledger::open(
                dir.path().join(format!("node{i}.db")),
                chain.genesis.clone(),
                schedule.clone(),
                local_crypto(),
            )
            .await
            .unwrap(),
        );
        let (inbox, inbound) = tokio::sync::mpsc::channel(1024);
        *links[1 - i].peer.lock().unwrap() = Some(inbox);
        let mut config = validator_config(&chain, schedule.clone(), dir.path(), &format!("node{i}"));
        config.engine = EngineConfig::with_block_time(chain.chain_id().clone(), 300);
        let key = Keypair::from_seed(&key.seed());
        let (handle, task) = driver::start(config, key, ledger.clone(), links[i].clone(), inbound).await.unwrap();
        nodes.push((handle, task, ledger));
    }
    // Both validators past genesis: the chain runs.
    for (_, _, ledger) in &nodes {
        tokio::time::timeout(Duration::from_secs(30), async {
            while ledger.tip().await.map_or(Height(0), |t| t.height) < Height(1) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("blocks are finalized");
    }
    let tx = chain.transfer(0, PublicKey([7; 32]), 1_000, 0);
    let from = tx.from;
    let results = nodes[0].0.submit(vec![SealedTransaction::seal(tx)]).await.unwrap();
    assert!(results[0].outcome.is_ok(), "{results:?}");
    let (encodes, hashes) = (counters::encodes(), counters::hashes());
    for (_, _, ledger) in &nodes {
        committed(ledger, from).await;
    }
    let counted = (counters::encodes() - encodes, counters::hashes() - hashes);
    eprintln!("proposed by one validator, committed by both: {} encodings, {} hashes", counted.0, counted.1);
    assert_eq!(counted, (1, 1), "the proposer adds nothing, the other validator seals the proposal once");
}

/// Issue #24 item 4: each node verifies a transaction's signature once, wherever it first
/// arrives. Two validators with real SQLite ledgers and in-process crypto-core; the transaction
/// enters the first over REST (the real API router), reaches the second by gossip through the
/// real gossip validation ([`GossipCheck`], as `gossip::forward` runs it: protobuf bytes in,
/// signatures checked, then admission), and is proposed, validated and committed by both. The
/// transaction's signature is verified twice in all: once per node. Before the verdict rode on
/// the sealed transaction, the receiving validator verified it twice (gossip validation and
/// admission).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_validator_verifies_a_transactions_signature_once_from_rest_through_gossip_to_commit() {
    if rerun_alone("each_validator_verifies_a_transactions_signature_once_from_rest_through_gossip_to_commit") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let verifications = verifications_from_rest_to_commit(dir.path(), false).await;
    assert_eq!(verifications, 2, "one signature verification per validator");
}

/// Issue #24 item 4's leftover: the same when the proposal reaches the second validator before
/// the transaction's gossip does. The proposal's validation (the ledger's ExecuteBlock) verifies
/// the signature there first; the gossip that arrives afterwards finds that verdict (the
/// ledger's verified-signature cache, which the node's gossip check shares) instead of
/// verifying again. Before it was shared: 3 verifications (the second validator's gossip check
/// did not see the ledger's cache).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_whose_proposal_arrives_before_its_gossip_is_verified_once_per_validator() {
    if rerun_alone("a_transaction_whose_proposal_arrives_before_its_gossip_is_verified_once_per_validator") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let verifications = verifications_from_rest_to_commit(dir.path(), true).await;
    assert_eq!(verifications, 2, "one signature verification per validator, the late gossip included");
}

/// Two validators linked by [`GossipLink`]s; one transaction submitted over REST to the first,
/// committed by both and gossiped to the second (after both committed it when `gossip_late`).
/// Returns the transaction signature verifications counted in the process meanwhile.
async fn verifications_from_rest_to_commit(dir: &std::path::Path, gossip_late: bool) -> u64 {
    let chain = TestChain::new("coinjecture-sealed-test", 2, 1_000_000_000);
    let keys: Vec<Keypair> = (0..2).map(|i| Keypair::from_seed(&sha256(format!("sealed {i}").as_bytes()).0)).collect();
    let set = ValidatorSet::new(keys.iter().map(Keypair::public_key).collect(), QuorumMode::Crash).unwrap();
    let schedule = ValidatorSchedule::fixed(set);
    let links: Vec<GossipLink> = (0..2).map(|_| GossipLink::default()).collect();
    let mut nodes = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let ledger = Arc::new(
            Ledger::open(dir.join(format!("node{i}.db")), chain.genesis.clone(), schedule.clone(), local_crypto())
                .await
                .unwrap(),
        );
        let (inbox, inbound) = tokio::sync::mpsc::channel(1024);
        let mut config = validator_config(&chain, schedule.clone(), dir, &format!("node{i}"));
        config.engine = EngineConfig::with_block_time(chain.chain_id().clone(), 300);
        // The receiving node's gossip check, built as its consensus service builds it.
        let check = Arc::new(GossipCheck::for_ledger(chain.chain_id().clone(), schedule.clone(), ledger.as_ref()));
        let key = Keypair::from_seed(&key.seed());
        let (handle, task) = driver::start(config, key, ledger.clone(), links[i].clone(), inbound).await.unwrap();
        *links[1 - i].peer.lock().unwrap() = Some((inbox, handle.watch(), check));
        nodes.push((handle, task, ledger));
    }
    for (_, _, ledger) in &nodes {
        tokio::time::timeout(Duration::from_secs(30), async {
            while ledger.tip().await.map_or(Height::GENESIS, |t| t.height) < Height(1) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("blocks are finalized");
    }
    if gossip_late {
        // The first validator's transaction gossip is held back until both have committed.
        links[0].hold_transactions(true);
    }
    let backends = Backends {
        ledger: nodes[0].2.clone(),
        consensus: Arc::new(nodes[0].0.clone()),
        peers: None,
        tip_updates: None,
    };
    let router = coinjecture_api::router(ApiConfig::default(), PublicApiService::new(backends, "test")).await.unwrap();
    let tx = chain.transfer(0, PublicKey([7; 32]), 1_000, 0);
    let from = tx.from;
    let (encodes, hashes, verifications) = (counters::encodes(), counters::hashes(), counters::verifications());
    let request = Request::post("/v1/transactions")
        .header("content-type", "application/json")
        .body(Body::from(json_fields(&tx).to_string()))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    for (_, _, ledger) in &nodes {
        committed(ledger, from).await;
    }
    if gossip_late {
        assert_eq!(links[0].transactions_checked(), 0, "the gossip is held until both committed");
        links[0].hold_transactions(false);
    }
    // The gossip reached the second validator's validation (it is committed there either way).
    tokio::time::timeout(Duration::from_secs(10), async {
        while links.iter().map(GossipLink::transactions_checked).sum::<usize>() < 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the transaction was gossiped and validated");
    let counted =
        (counters::encodes() - encodes, counters::hashes() - hashes, counters::verifications() - verifications);
    eprintln!(
        "REST, gossip{}, proposal, validation and commit on two validators: {} encodings, {} hashes, {} signature verifications",
        if gossip_late { " (after the commit)" } else { "" },
        counted.0,
        counted.1,
        counted.2
    );
    counted.2
}

/// The receiving end of a [`GossipLink`]: its inbox, its driver's status (its position) and
/// its gossip check.
type Peer =
    (tokio::sync::mpsc::Sender<GossipMessage>, tokio::sync::watch::Receiver<driver::DriverStatus>, Arc<GossipCheck>);

/// A link that carries everything, transactions included, as the p2p gateway and
/// `gossip::forward` do: encoded to protobuf, decoded (transactions sealed there), judged by the
/// receiver's [`GossipCheck`] at its position, and handed over when authentic. Transaction
/// batches can be held back ([`Self::hold_transactions`]) and sent later.
#[derive(Clone, Default)]
struct GossipLink {
    peer: Arc<Mutex<Option<Peer>>>,
    transactions_checked: Arc<std::sync::atomic::AtomicUsize>,
    /// While `Some`, transaction batches wait here.
    held: Arc<Mutex<Option<Vec<Vec<u8>>>>>,
}

impl GossipLink {
    fn transactions_checked(&self) -> usize {
        self.transactions_checked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Holds transaction batches back (`true`), or sends the held ones and stops holding.
    fn hold_transactions(&self, hold: bool) {
        let held = {
            let mut held = self.held.lock().unwrap();
            if hold {
                *held = Some(Vec::new());
                return;
            }
            held.take().unwrap_or_default()
        };
        for payload in held {
            self.deliver(payload);
        }
    }

    fn deliver(&self, payload: Vec<u8>) {
        let Some((inbox, status, check)) = self.peer.lock().unwrap().clone() else { return };
        let checked = self.transactions_checked.clone();
        tokio::spawn(async move {
            let at = {
                let s = status.borrow();
                NodePosition { height: s.height, round: s.round }
            };
            let outcome = check.check_payload(&payload, at);
            if matches!(outcome.deliver, Some(GossipMessage::Transactions(_))) {
                checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if let Some(m) = outcome.deliver {
                let _ = inbox.send(m).await;
            }
        });
    }
}

#[tonic::async_trait]
impl GatewayPort for GossipLink {
    async fn publish(&self, message: &GossipMessage) -> Result<(), GatewayError> {
        let (_, payload) = coinjecture_proto::ports::gateway::encode_gossip(message);
        if matches!(message, GossipMessage::Transactions(_))
            && let Some(held) = self.held.lock().unwrap().as_mut()
        {
            held.push(payload);
            return Ok(());
        }
        self.deliver(payload);
        Ok(())
    }
    async fn request_blocks(&self, _: Height, _: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
        Ok(Vec::new())
    }
}

/// Driver settings of the block tests.
fn validator_config(chain: &TestChain, schedule: ValidatorSchedule, dir: &std::path::Path, name: &str) -> DriverConfig {
    DriverConfig {
        engine: EngineConfig::with_block_time(chain.chain_id().clone(), 2000),
        schedule,
        mempool: MempoolConfig::default(),
        max_block_transactions: 1000,
        block_limits: coinjecture_primitives::BlockLimits::default(),
        // Generous: these tests are about correctness, not the time budget.
        proposal_budget: std::time::Duration::from_secs(60),
        sign_state_path: dir.join(format!("{name}.sign_state")),
        network_label: "test".into(),
        unsafe_reset_signing_state: false,
        tx_journal: true,
        // Transactions do not cross the link here: the receiver gets full proposals.
        compact_proposals: false,
    }
}

/// Waits until `from`'s first transaction is final in `ledger`.
async fn committed(ledger: &Ledger, from: PublicKey) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while ledger.account(&from).await.map_or(0, |(a, _)| a.nonce) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the transaction is committed");
}

/// One validator's link to the other: proposals, votes and finalized blocks go across;
/// transactions do not (only the proposer admits the one counted).
#[derive(Clone, Default)]
struct Link {
    peer: Arc<Mutex<Option<tokio::sync::mpsc::Sender<GossipMessage>>>>,
}

#[tonic::async_trait]
impl GatewayPort for Link {
    async fn publish(&self, message: &GossipMessage) -> Result<(), GatewayError> {
        if matches!(message, GossipMessage::Transactions(_)) {
            return Ok(());
        }
        let peer = self.peer.lock().unwrap().clone();
        if let Some(peer) = peer {
            let _ = peer.try_send(message.clone());
        }
        Ok(())
    }
    async fn request_blocks(&self, _: Height, _: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
        Ok(Vec::new())
    }
}
