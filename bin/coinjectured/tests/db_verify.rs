//! `coinjectured db verify` as a real process on a real database: a good one passes, a flipped
//! byte in a transaction row or in a certificate fails naming the height and row.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code: a panic is the failure report")]

use std::path::{Path, PathBuf};
use std::process::Command;

use coinjecture_ledger::Ledger;
use coinjecture_ledger::test_utils::{TestChain, local_crypto, validator_key};
use coinjecture_primitives::{Height, Transaction};

/// A database of 5 blocks of 2 signed transfers each (with real certificates), its genesis and
/// a node configuration naming both, in `dir`. Returns the config path and every transaction.
async fn good_database(dir: &Path) -> (PathBuf, Vec<Transaction>, TestChain) {
    let mut chain = TestChain::new("coinjecture-db-verify", 3, 1_000_000);
    let ledger =
        Ledger::open(dir.join("ledger.db"), chain.genesis.clone(), chain.validators(), local_crypto()).await.unwrap();
    let mut txs = Vec::new();
    for _ in 0..5 {
        let block_txs =
            vec![chain.next_transfer(0, chain.accounts[1], 10), chain.next_transfer(2, chain.accounts[0], 3)];
        txs.extend(block_txs.clone());
        let block = chain.push(block_txs);
        ledger.apply_block(&block, &chain.certificate(&block)).await.unwrap();
    }
    ledger.close().await;
    std::fs::write(dir.join("genesis.yaml"), serde_yaml::to_string(&chain.genesis).unwrap()).unwrap();
    std::fs::write(dir.join("validator.key"), hex::encode(validator_key().seed())).unwrap();
    let config = format!(
        "network: {{id: coinjecture-db-verify, name: T, genesis: ./genesis.yaml}}\n\
         consensus:\n  block_time: 1s\n  quorum: crash\n  validator_key: ./validator.key\n  validators: [{}]\n\
         p2p: {{listen_addrs: [/ip4/127.0.0.1/tcp/0]}}\napi: {{port: 18080}}\ndatabase: {{path: ./ledger.db}}\n",
        hex::encode(validator_key().public_key().0)
    );
    std::fs::write(dir.join("node.yaml"), config).unwrap();
    (dir.join("node.yaml"), txs, chain)
}

fn db_verify(database: &Path, config: Option<&Path>) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_coinjectured"));
    command.args(["--log-format", "text", "--log-level", "off", "db", "verify", "--database"]).arg(database);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let out = command.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn flip(path: &Path, needle: &[u8], offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("the bytes are in the file");
    bytes[at + offset] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn db_verify_passes_a_good_database_and_names_the_first_bad_row_of_a_corrupt_one() {
    let dir = tempfile::tempdir().unwrap();
    let (config, txs, chain) = good_database(dir.path()).await;
    let database = dir.path().join("ledger.db");
    let pristine = std::fs::read(&database).unwrap();

    let (ok, stdout, stderr) = db_verify(&database, Some(&config));
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("ok (6 blocks to height 5, 10 transactions, 5 certificates verified, state replayed"),
        "{stdout}"
    );
    let (ok, stdout, stderr) = db_verify(&database, None);
    assert!(ok && stdout.contains("without --config"), "{stdout}\n{stderr}");

    // One flipped byte inside block 3's transaction 1 (its `from` key).
    let victim = &txs[5];
    let encoded = victim.encode();
    let from_at = encoded.windows(32).position(|w| w == victim.from.0).unwrap();
    flip(&database, &encoded, from_at + 7);
    let (ok, stdout, stderr) = db_verify(&database, Some(&config));
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("block 3 transaction 1 (transactions row position 196609)"), "{stderr}");
    let (ok, _, stderr) = db_verify(&database, None);
    assert!(!ok && stderr.contains("block 3 transaction 1"), "{stderr}");

    // One flipped byte in block 4's certificate signature: only the signature check sees it.
    std::fs::write(&database, &pristine).unwrap();
    let signature = signature_of_block(&database, &chain, 4).await;
    flip(&database, &signature, 20);
    let (ok, _, stderr) = db_verify(&database, Some(&config));
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("block 4: certificate: certificate signature of"), "{stderr}");
    assert!(db_verify(&database, None).0, "without --config the signatures are not checked");
}

/// The stored certificate signature of block `height` (read from a copy of the database).
async fn signature_of_block(database: &Path, chain: &TestChain, height: u64) -> Vec<u8> {
    let ledger_dir = tempfile::tempdir().unwrap();
    let copy = ledger_dir.path().join("copy.db");
    std::fs::copy(database, &copy).unwrap();
    let ledger = Ledger::open(&copy, chain.genesis.clone(), chain.validators(), local_crypto()).await.unwrap();
    let certificate = ledger.block_by_height(Height(height)).await.unwrap().unwrap().certificate.unwrap();
    ledger.close().await;
    certificate.signatures[0].1.0.to_vec()
}
