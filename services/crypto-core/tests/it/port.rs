//! The crypto port: crypto-core in process and `RemoteCrypto` over a real socket give the same
//! answers, and the remote one's failures are typed.

use coinjecture_crypto_core::merkle::merkle_root;
use coinjecture_crypto_core::service::CryptoCoreService;
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::limits::MAX_BATCH_ITEMS;
use coinjecture_primitives::{CODEC_VERSION, Hash32, PublicKey, SealedTransaction, Signature, Transaction, TxType};
use coinjecture_proto::ports::crypto::{CryptoError, CryptoPort, RemoteCrypto};

/// A transfer signed by the key of `seed`.
fn signed(seed: u8, nonce: u64) -> Transaction {
    let key = Keypair::from_seed(&[seed; 32]);
    let mut tx = Transaction {
        codec_version: CODEC_VERSION,
        tx_type: TxType::Transfer,
        from: key.public_key(),
        to: PublicKey([9; 32]),
        amount: 5,
        nonce,
        gas_limit: 21_000,
        gas_price: 1,
        signature: Signature::ZERO,
        data: Vec::new(),
        timestamp: 1_767_225_600,
    };
    tx.signature = key.sign(&tx.signing_message());
    tx
}

/// `RemoteCrypto` to a crypto-core served on 127.0.0.1; the server stops with the runtime.
async fn remote() -> RemoteCrypto {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(coinjecture_crypto_core::service::serve(listener, std::future::pending()));
    RemoteCrypto::new(coinjecture_proto::client::connect(
        tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap(),
    ))
}

#[tokio::test]
async fn in_process_and_remote_agree_on_a_block_and_refuse_its_forged_signatures() {
    // 100 transactions: above the size where verification is spread over the cores.
    let mut txs: Vec<Transaction> = (0..100).map(|i| signed(i as u8, i)).collect();
    txs[17].signature.0[63] ^= 1;
    txs[80].amount += 1;
    let sealed: Vec<SealedTransaction> = txs.into_iter().map(SealedTransaction::seal).collect();
    let hashes: Vec<Hash32> = sealed.iter().map(SealedTransaction::hash).collect();
    let mut expected = vec![true; 100];
    expected[17] = false;
    expected[80] = false;

    let ports: [(&str, Box<dyn CryptoPort>); 2] =
        [("in process", Box::new(CryptoCoreService)), ("remote", Box::new(remote().await))];
    for (name, port) in &ports {
        let all = port.verify_block(&hashes, &sealed).await.unwrap();
        assert_eq!(all.merkle_root, merkle_root(&hashes), "{name}");
        assert_eq!(all.signatures_valid, expected, "{name}");
        // Only the unverified ones are sent: their verdicts, in their order.
        let some = port.verify_block(&hashes, &sealed[15..20]).await.unwrap();
        assert_eq!((some.merkle_root, some.signatures_valid), (all.merkle_root, expected[15..20].to_vec()), "{name}");
        let none = port.verify_block(&hashes, &[]).await.unwrap();
        assert_eq!((none.merkle_root, none.signatures_valid), (all.merkle_root, Vec::new()), "{name}");
        let empty = port.verify_block(&[], &[]).await.unwrap();
        assert_eq!(empty.merkle_root, Hash32::ZERO, "{name}: no transactions, the zero root");
        assert_eq!(port.verify_transactions(&sealed).await.unwrap(), expected, "{name}");
    }
}

#[tokio::test]
async fn in_process_and_remote_agree_on_a_certificates_signatures() {
    let message = b"precommit bytes";
    let keys: Vec<Keypair> = (1u8..=3).map(|i| Keypair::from_seed(&[i; 32])).collect();
    let mut signatures: Vec<(PublicKey, Signature)> = keys.iter().map(|k| (k.public_key(), k.sign(message))).collect();
    signatures[1].1 = keys[0].sign(message);
    let ports: [(&str, Box<dyn CryptoPort>); 2] =
        [("in process", Box::new(CryptoCoreService)), ("remote", Box::new(remote().await))];
    for (name, port) in &ports {
        assert_eq!(port.verify_signatures(message, &signatures).await.unwrap(), vec![true, false, true], "{name}");
    }
}

#[tokio::test]
async fn a_remote_crypto_core_that_is_down_is_unavailable_naming_the_call() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let port = RemoteCrypto::new(coinjecture_proto::client::connect(
        tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap(),
    ));
    let err = port.verify_transactions(&[SealedTransaction::seal(signed(1, 0))]).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().starts_with("crypto-core VerifyBlock is unavailable"), "{err}");
}

#[tokio::test]
async fn a_batch_over_the_limit_is_refused_by_both_without_computing() {
    let leaves = vec![Hash32::ZERO; MAX_BATCH_ITEMS + 1];
    let ports: [(&str, Box<dyn CryptoPort>); 2] =
        [("in process", Box::new(CryptoCoreService)), ("remote", Box::new(remote().await))];
    for (name, port) in &ports {
        let err = port.verify_block(&leaves, &[]).await.unwrap_err();
        assert!(
            matches!(err, CryptoError::TooManyItems { items, .. } if items == MAX_BATCH_ITEMS + 1),
            "{name}: {err}"
        );
    }
}
