//! The ledger's view of crypto-core: three batched calls, behind a trait with an in-process and a
//! remote implementation that go through the same generated `CryptoCore` contract.

use coinjecture_crypto_core::service::CryptoCoreService;
use coinjecture_primitives::limits::MAX_MESSAGE_BYTES;
use coinjecture_primitives::{Hash32, PublicKey, SealedTransaction, Signature};
use coinjecture_proto::client::{TracedChannel, traced};
use coinjecture_proto::convert;
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::crypto_core_client::CryptoCoreClient;
use coinjecture_proto::v1::crypto_core_server::CryptoCore;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// crypto-core's verdict on one transaction of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxDigest {
    /// The transaction hash; `None` when crypto-core could not convert the transaction.
    pub tx_hash: Option<Hash32>,
    /// True when the signature verifies against `from`.
    pub signature_valid: bool,
    /// Why the transaction could not be converted (names the field); empty otherwise.
    pub error: String,
}

/// The crypto the ledger needs, as whole-batch calls (never one call per transaction):
/// [`Self::hash_transactions`] once or twice per block or CheckTransactions call, one
/// [`Self::merkle_root`] and one [`Self::verify_signatures`] (the commit certificate) per block.
#[tonic::async_trait]
pub trait CryptoBackend: Send + Sync + 'static {
    /// Hashes `txs` and, when `verify_signatures`, verifies their signatures (crypto-core
    /// `HashTransactionBatch`). Returns one digest per transaction, in order.
    async fn hash_transactions(
        &self,
        txs: Vec<pb::Transaction>,
        verify_signatures: bool,
    ) -> Result<Vec<TxDigest>, Status>;

    /// Verifies each sealed transaction's signature over its signing message (crypto-core
    /// `Ed25519VerifyBatch`; their hashes are known, so nothing is hashed). One verdict per
    /// transaction, in order.
    async fn verify_transactions(&self, txs: &[SealedTransaction]) -> Result<Vec<bool>, Status>;

    /// The v4 Merkle root of `leaves` (crypto-core `MerkleRoot`).
    async fn merkle_root(&self, leaves: Vec<Hash32>) -> Result<Hash32, Status>;

    /// Verifies ed25519 signatures of `message`, one per (key, signature) (crypto-core
    /// `Ed25519VerifyBatch`). Returns one verdict per item, in order.
    async fn verify_signatures(
        &self,
        message: &[u8],
        signatures: &[(PublicKey, Signature)],
    ) -> Result<Vec<bool>, Status>;
}

fn verify_request(message: &[u8], signatures: &[(PublicKey, Signature)]) -> pb::Ed25519VerifyBatchRequest {
    pb::Ed25519VerifyBatchRequest {
        items: signatures
            .iter()
            .map(|(key, signature)| pb::Ed25519VerifyRequest {
                public_key: key.0.to_vec(),
                message: message.to_vec(),
                signature: signature.0.to_vec(),
            })
            .collect(),
    }
}

fn transactions_verify_request(txs: &[SealedTransaction]) -> pb::Ed25519VerifyBatchRequest {
    pb::Ed25519VerifyBatchRequest {
        items: txs
            .iter()
            .map(|t| pb::Ed25519VerifyRequest {
                public_key: t.from.0.to_vec(),
                message: t.signing_message(),
                signature: t.signature.0.to_vec(),
            })
            .collect(),
    }
}

fn verdicts(response: pb::Ed25519VerifyBatchResponse, expected: usize) -> Result<Vec<bool>, Status> {
    if response.valid.len() != expected {
        return Err(Status::internal(format!(
            "Ed25519VerifyBatch answered {} verdicts for {expected} signatures",
            response.valid.len()
        )));
    }
    Ok(response.valid)
}

fn digests(response: pb::HashTransactionBatchResponse, expected: usize) -> Result<Vec<TxDigest>, Status> {
    if response.digests.len() != expected {
        return Err(Status::internal(format!(
            "HashTransactionBatch answered {} digests for {expected} transactions",
            response.digests.len()
        )));
    }
    response
        .digests
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let tx_hash = if d.tx_hash.is_empty() {
                None
            } else {
                Some(convert::hash32(&d.tx_hash, &format!("digests[{i}].tx_hash")).map_err(Status::from)?)
            };
            Ok(TxDigest { tx_hash, signature_valid: d.signature_valid, error: d.error })
        })
        .collect()
}

fn batch_request(txs: Vec<pb::Transaction>, verify_signatures: bool) -> pb::HashTransactionBatchRequest {
    pb::HashTransactionBatchRequest { transactions: txs, verify_signatures }
}

fn merkle_request(leaves: &[Hash32]) -> pb::MerkleRootRequest {
    pb::MerkleRootRequest { leaves: leaves.iter().map(|l| l.0.to_vec()).collect() }
}

fn root(response: pb::MerkleRootResponse) -> Result<Hash32, Status> {
    convert::hash32(&response.root, "root").map_err(Status::from)
}

/// Network A: crypto-core linked into the process, called through its trait (no socket).
#[tonic::async_trait]
impl CryptoBackend for CryptoCoreService {
    async fn hash_transactions(
        &self,
        txs: Vec<pb::Transaction>,
        verify_signatures: bool,
    ) -> Result<Vec<TxDigest>, Status> {
        let n = txs.len();
        let request = Request::new(batch_request(txs, verify_signatures));
        let response = CryptoCore::hash_transaction_batch(self, request).await?;
        digests(response.into_inner(), n)
    }

    async fn verify_transactions(&self, txs: &[SealedTransaction]) -> Result<Vec<bool>, Status> {
        let request = Request::new(transactions_verify_request(txs));
        let response = CryptoCore::ed25519_verify_batch(self, request).await?;
        verdicts(response.into_inner(), txs.len())
    }

    async fn merkle_root(&self, leaves: Vec<Hash32>) -> Result<Hash32, Status> {
        let response = CryptoCore::merkle_root(self, Request::new(merkle_request(&leaves))).await?;
        root(response.into_inner())
    }

    async fn verify_signatures(
        &self,
        message: &[u8],
        signatures: &[(PublicKey, Signature)],
    ) -> Result<Vec<bool>, Status> {
        let request = Request::new(verify_request(message, signatures));
        let response = CryptoCore::ed25519_verify_batch(self, request).await?;
        verdicts(response.into_inner(), signatures.len())
    }
}

/// Network B: a remote crypto-core over gRPC. Build the client with [`connect_crypto_core`] (or
/// raise its message limits yourself: a 10,000-transaction batch is several MiB).
#[tonic::async_trait]
impl CryptoBackend for CryptoCoreClient<TracedChannel> {
    async fn hash_transactions(
        &self,
        txs: Vec<pb::Transaction>,
        verify_signatures: bool,
    ) -> Result<Vec<TxDigest>, Status> {
        let n = txs.len();
        let request = batch_request(txs, verify_signatures);
        let response = CryptoCoreClient::hash_transaction_batch(&mut self.clone(), request).await?;
        digests(response.into_inner(), n)
    }

    async fn verify_transactions(&self, txs: &[SealedTransaction]) -> Result<Vec<bool>, Status> {
        let request = transactions_verify_request(txs);
        let response = CryptoCoreClient::ed25519_verify_batch(&mut self.clone(), request).await?;
        verdicts(response.into_inner(), txs.len())
    }

    async fn merkle_root(&self, leaves: Vec<Hash32>) -> Result<Hash32, Status> {
        let response = CryptoCoreClient::merkle_root(&mut self.clone(), merkle_request(&leaves)).await?;
        root(response.into_inner())
    }

    async fn verify_signatures(
        &self,
        message: &[u8],
        signatures: &[(PublicKey, Signature)],
    ) -> Result<Vec<bool>, Status> {
        let request = verify_request(message, signatures);
        let response = CryptoCoreClient::ed25519_verify_batch(&mut self.clone(), request).await?;
        verdicts(response.into_inner(), signatures.len())
    }
}

/// Connects to a crypto-core service at `endpoint` (e.g. `http://127.0.0.1:50051`) with the
/// chain's 16 MiB message limits; calls carry the caller's trace context.
pub async fn connect_crypto_core(endpoint: &str) -> Result<CryptoCoreClient<TracedChannel>, crate::LedgerError> {
    let failed = |reason: String| crate::LedgerError::Crypto {
        call: "connect",
        status: Box::new(Status::unavailable(format!("{endpoint}: {reason}"))),
    };
    let channel = Channel::from_shared(endpoint.to_string())
        .map_err(|e| failed(e.to_string()))?
        .connect()
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok(CryptoCoreClient::new(traced(channel))
        .max_decoding_message_size(MAX_MESSAGE_BYTES + 64 * 1024)
        .max_encoding_message_size(MAX_MESSAGE_BYTES + 64 * 1024))
}
