//! Issue #23's done-when for transactions: in one process, a transaction submitted over REST is
//! encoded once and SHA-256'd once on its way into the mempool (admission, journal and gossip
//! included). Real services: the API's router, the consensus service over a running driver, a
//! real SQLite ledger with in-process crypto-core; the primitives' `counters` feature counts
//! every transaction encoding and hash in the process (this binary's tests run one at a time,
//! see [`SERIAL`]).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use coinjecture_api::{ApiConfig, Backends, InProcess, PublicApiService};
use coinjecture_consensus::driver::{self, DriverConfig, InProcessLedger};
use coinjecture_consensus::{EngineConfig, MempoolConfig};
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_ledger::Ledger;
use coinjecture_ledger::service::LedgerService;
use coinjecture_ledger::test_utils::{TestChain, local_crypto, validator_key};
use coinjecture_primitives::transaction::counters;
use coinjecture_primitives::validators::ValidatorSchedule;
use coinjecture_primitives::{Block, BlockHeight, CommitCertificate, PublicKey, Transaction, sha256};
use coinjecture_proto::ports::gateway::{GatewayError, GatewayPort, GossipMessage};
use coinjecture_proto::v1 as pb;
use http_body_util::BodyExt;
use prost::Message as _;
use tower::ServiceExt;

/// The counters are process-wide: one test at a time.
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
    async fn request_blocks(&self, _: BlockHeight, _: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
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
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (chain, schedule, ledger) = open_chain(dir.path()).await;
    let ledger_service = Arc::new(LedgerService::new(ledger.clone()));
    // A full node: its key is not in the set, so it never proposes (no block encodes the
    // transactions while we count) and only admits, journals and gossips them.
    let key = Keypair::from_seed(&sha256(b"sealed test full node").0);
    let config = DriverConfig {
        engine: EngineConfig::with_block_time(chain.chain_id().clone(), 300),
        schedule,
        mempool: MempoolConfig::default(),
        max_block_transactions: 1000,
        max_block_bytes: 4 * 1024 * 1024,
        sign_state_path: dir.path().join("node.sign_state"),
        network_label: "test".into(),
        unsafe_reset_signing_state: false,
        tx_journal: true,
    };
    let gossip = Recorder::default();
    let (inbox, inbound) = tokio::sync::mpsc::channel(16);
    let (handle, _task) =
        driver::start(config, key, InProcessLedger(ledger_service.clone()), gossip.clone(), inbound).await.unwrap();
    let backends = Backends {
        ledger: Arc::new(InProcess(ledger_service)),
        consensus: Arc::new(handle.clone()),
        peers: None,
        tip_updates: None,
    };
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

/// The block half of the done-when is not reached yet: from the proposal to the commit on the
/// proposing validator, the transaction is encoded 3 times (the lock file's copy of the block,
/// the ledger's stored row, and crypto-core hashing it when the validator validates the
/// proposal it voted on) and hashed twice (the last two). Before sealing: 5 and 4 (also the
/// draft execution, and the driver's commit). Lower these numbers when a `SealedBlock` lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposed_transaction_is_encoded_three_times_and_hashed_twice_up_to_its_commit() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (chain, schedule, ledger) = open_chain(dir.path()).await;
    // The test chain's single validator: it proposes and commits every block alone.
    let config = DriverConfig {
        engine: EngineConfig::with_block_time(chain.chain_id().clone(), 2000),
        schedule,
        mempool: MempoolConfig::default(),
        max_block_transactions: 1000,
        max_block_bytes: 4 * 1024 * 1024,
        sign_state_path: dir.path().join("node.sign_state"),
        network_label: "test".into(),
        unsafe_reset_signing_state: false,
        tx_journal: true,
    };
    let (_inbox, inbound) = tokio::sync::mpsc::channel(16);
    let ledger_api = InProcessLedger(Arc::new(LedgerService::new(ledger.clone())));
    let (handle, _task) =
        driver::start(config, validator_key(), ledger_api, Recorder::default(), inbound).await.unwrap();
    let tx = coinjecture_primitives::SealedTransaction::seal(chain.transfer(0, PublicKey([7; 32]), 1_000, 0));
    let from = tx.from;
    let (encodes, hashes) = (counters::encodes(), counters::hashes());
    let results = handle.submit(vec![tx]).await.unwrap();
    assert!(results[0].outcome.is_ok(), "{results:?}");
    tokio::time::timeout(Duration::from_secs(30), async {
        while ledger.account(&from).await.map_or(0, |(a, _)| a.nonce) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the transaction is committed");
    let counted = (counters::encodes() - encodes, counters::hashes() - hashes);
    eprintln!("sealed, then proposed and committed: {} encodings, {} hashes", counted.0, counted.1);
    assert_eq!(
        counted,
        (3, 2),
        "encodings and hashes from admission of a sealed transaction to its commit (one round)"
    );
}
