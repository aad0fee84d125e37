//! The crypto port (see [`super`]): what the other services ask crypto-core for, in domain
//! types, as whole-batch calls (never one call per transaction).
//!
//! - [`CryptoPort::verify_block`]: one call per block: the Merkle root of its transaction hashes
//!   and the verdicts of the signatures the caller has not verified before. Transactions are
//!   sealed, so their hashes are known and are never sent to be recomputed.
//! - [`CryptoPort::verify_transactions`]: admission (the mempool's check).
//! - [`CryptoPort::verify_signatures`]: many keys over one message (a commit certificate).
//!
//! One process: `coinjecture_crypto_core::service::CryptoCoreService` implements the trait
//! natively (no protobuf). Split: [`RemoteCrypto`] over [`crate::client::connect`], whose
//! calls are `CryptoCore.Ed25519VerifyBatch` and `CryptoCore.MerkleRoot`; the crypto-core gRPC
//! server parses those requests and builds their answers with the functions of this file, so
//! each message is converted in exactly one place, both ways.
//!
//! What goes over the wire for a block: its hashes (32 bytes each, for the root) and, only for
//! the signatures not verified before, key, signing message and signature. The two requests of
//! [`RemoteCrypto::verify_block`] run concurrently on one HTTP/2 connection; with every
//! signature verified before (the usual case: the mempool verified them at admission), it is one
//! `MerkleRoot` call.

use coinjecture_primitives::limits::MAX_BATCH_ITEMS;
use coinjecture_primitives::{Hash32, PublicKey, SealedTransaction, Signature};

use crate::client::{MESSAGE_LIMIT, TracedChannel};
use crate::convert::{self, ConversionError};
use crate::v1 as pb;
use crate::v1::crypto_core_client::CryptoCoreClient;

/// What crypto-core computes for one block in [`CryptoPort::verify_block`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockCrypto {
    /// The v4 Merkle root of the block's transaction hashes (32 zero bytes for none).
    pub merkle_root: Hash32,
    /// One verdict per transaction passed as unverified, in order: its signature by `from`
    /// over its signing message is valid (strict verification, golden/README.md §8).
    pub signatures_valid: Vec<bool>,
}

/// Why a crypto-core call failed. A bad signature is never an error: it is a `false` verdict.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// More items than one call takes ([`MAX_BATCH_ITEMS`]); refused before anything is sent.
    #[error("crypto-core {call}: {items} items exceed the maximum {MAX_BATCH_ITEMS}")]
    TooManyItems { call: &'static str, items: usize },
    /// The remote crypto-core cannot be reached (connection refused, reset, timed out).
    #[error("crypto-core {call} is unavailable: {}", source.message())]
    Unavailable {
        call: &'static str,
        #[source]
        source: tonic::Status,
    },
    /// The remote crypto-core answered the call with an error status.
    #[error("crypto-core {call} failed: {}", source.message())]
    Failed {
        call: &'static str,
        #[source]
        source: tonic::Status,
    },
    /// The answer does not fit the request (a wrong number of verdicts, a root that is not 32
    /// bytes): a crypto-core of another version, or a bug.
    #[error("crypto-core {call} answered inconsistently: {reason}")]
    BadAnswer { call: &'static str, reason: String },
    /// The in-process verification worker failed (it panicked or was cancelled).
    #[error("crypto-core {call}: the verification worker failed: {source}")]
    Worker {
        call: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl CryptoError {
    /// The error of a remote call that answered `status`.
    pub fn from_status(call: &'static str, status: tonic::Status) -> Self {
        match status.code() {
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                CryptoError::Unavailable { call, source: status }
            }
            _ => CryptoError::Failed { call, source: status },
        }
    }

    /// True when the call may succeed later unchanged (the service is down or restarting).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, CryptoError::Unavailable { .. })
    }
}

impl From<CryptoError> for tonic::Status {
    fn from(e: CryptoError) -> Self {
        let message = e.to_string();
        match e {
            CryptoError::TooManyItems { .. } => tonic::Status::invalid_argument(message),
            CryptoError::Unavailable { source, .. } | CryptoError::Failed { source, .. } => source,
            CryptoError::BadAnswer { .. } | CryptoError::Worker { .. } => tonic::Status::internal(message),
        }
    }
}

/// The crypto other services need from crypto-core. Implemented natively by crypto-core (one
/// process) and by [`RemoteCrypto`] (split); callers hold `Arc<dyn CryptoPort>`.
#[tonic::async_trait]
pub trait CryptoPort: Send + Sync + 'static {
    /// One block's crypto in one call: the Merkle root of `tx_hashes` (the block's transaction
    /// hashes, in block order) and the signature verdicts of `unverified` (the block's
    /// transactions whose signatures the caller has not verified before; may be empty).
    async fn verify_block(
        &self,
        tx_hashes: &[Hash32],
        unverified: &[SealedTransaction],
    ) -> Result<BlockCrypto, CryptoError>;

    /// Verifies each transaction's signature by `from` over its signing message (their hashes
    /// are known, so nothing is hashed). One verdict per transaction, in order.
    async fn verify_transactions(&self, txs: &[SealedTransaction]) -> Result<Vec<bool>, CryptoError>;

    /// Verifies ed25519 signatures of one `message`, one per (key, signature) (a commit
    /// certificate's precommits). One verdict per item, in order.
    async fn verify_signatures(
        &self,
        message: &[u8],
        signatures: &[(PublicKey, Signature)],
    ) -> Result<Vec<bool>, CryptoError>;
}

/// Refuses a call over [`MAX_BATCH_ITEMS`] items (both implementations check it first).
pub fn check_batch(call: &'static str, items: usize) -> Result<(), CryptoError> {
    if items > MAX_BATCH_ITEMS {
        return Err(CryptoError::TooManyItems { call, items });
    }
    Ok(())
}

// ---- CryptoCore.Ed25519VerifyBatch ----

/// The request verifying each sealed transaction's signature over its signing message.
pub fn transactions_verify_request(txs: &[SealedTransaction]) -> pb::Ed25519VerifyBatchRequest {
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

/// The request verifying many keys' signatures over one message.
pub fn signatures_verify_request(
    message: &[u8],
    signatures: &[(PublicKey, Signature)],
) -> pb::Ed25519VerifyBatchRequest {
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

/// One item of an `Ed25519VerifyBatch` request as the server reads it: the key and signature,
/// or why the item is refused.
pub type RequestedItem = Result<(PublicKey, Signature), ConversionError>;

/// Server side: each item's key and signature, or why the item is refused (a key not 32 bytes,
/// a signature not 64, naming `items[i].…`; golden/README.md §1.4: such an item is refused
/// alone, the others are verified). Fails only for a batch over [`MAX_BATCH_ITEMS`].
pub fn verify_items(request: &pb::Ed25519VerifyBatchRequest) -> Result<Vec<RequestedItem>, CryptoError> {
    check_batch("Ed25519VerifyBatch", request.items.len())?;
    Ok(request
        .items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            // The path is formatted only for a refused item (this runs for every signature).
            let at = |e: ConversionError| e.within(&format!("items[{n}]"));
            let key = convert::public_key(&item.public_key, "public_key").map_err(at)?;
            let signature = convert::signature(&item.signature, "signature").map_err(at)?;
            Ok((key, signature))
        })
        .collect())
}

/// Server side: the answer, from one verdict per item and the refusals of [`verify_items`]
/// (a refused item's verdict must be `false`).
pub fn verify_response(valid: Vec<bool>, refusals: Vec<String>) -> pb::Ed25519VerifyBatchResponse {
    pb::Ed25519VerifyBatchResponse { all_valid: valid.iter().all(|v| *v), valid, errors: refusals }
}

/// Client side: the verdicts of an answer to a request of `expected` items. An item the server
/// refused (only possible for a request not built here) is `false`.
pub fn verdicts(response: pb::Ed25519VerifyBatchResponse, expected: usize) -> Result<Vec<bool>, CryptoError> {
    if response.valid.len() != expected {
        return Err(CryptoError::BadAnswer {
            call: "Ed25519VerifyBatch",
            reason: format!("{} verdicts for {expected} signatures", response.valid.len()),
        });
    }
    Ok(response.valid)
}

// ---- CryptoCore.MerkleRoot ----

/// The request for the Merkle root of `leaves`.
pub fn merkle_request(leaves: &[Hash32]) -> pb::MerkleRootRequest {
    pb::MerkleRootRequest { leaves: leaves.iter().map(|l| l.0.to_vec()).collect() }
}

/// Server side: the leaves of a request; INVALID_ARGUMENT naming `leaves[i]` for a leaf that is
/// not 32 bytes, `leaves` for more than [`MAX_BATCH_ITEMS`].
pub fn merkle_leaves(request: &pb::MerkleRootRequest) -> Result<Vec<Hash32>, tonic::Status> {
    check_batch("MerkleRoot", request.leaves.len()).map_err(|_| {
        ConversionError::new("leaves", format!("{} items exceed the maximum {MAX_BATCH_ITEMS}", request.leaves.len()))
    })?;
    let leaves = request
        .leaves
        .iter()
        .enumerate()
        .map(|(i, l)| convert::hash32(l, "").map_err(|e| e.within(&format!("leaves[{i}]"))))
        .collect::<Result<Vec<Hash32>, ConversionError>>()?;
    Ok(leaves)
}

/// Server side: the answer.
pub fn merkle_response(root: Hash32) -> pb::MerkleRootResponse {
    pb::MerkleRootResponse { root: root.0.to_vec() }
}

/// Client side: the root of an answer.
pub fn merkle_root(response: &pb::MerkleRootResponse) -> Result<Hash32, CryptoError> {
    convert::hash32(&response.root, "root")
        .map_err(|e| CryptoError::BadAnswer { call: "MerkleRoot", reason: e.to_string() })
}

// ---- the remote implementation ----

/// A remote crypto-core (Network B): the one [`CryptoPort`] over gRPC. Cheap to clone; clones
/// share one connection (HTTP/2 multiplexes concurrent calls on it).
#[derive(Debug, Clone)]
pub struct RemoteCrypto {
    client: CryptoCoreClient<TracedChannel>,
}

impl RemoteCrypto {
    /// Over `channel` (from [`crate::client::connect`]), with [`MESSAGE_LIMIT`] both ways (a
    /// 10,000-signature batch is about 2 MiB).
    pub fn new(channel: TracedChannel) -> Self {
        Self {
            client: CryptoCoreClient::new(channel)
                .max_decoding_message_size(MESSAGE_LIMIT)
                .max_encoding_message_size(MESSAGE_LIMIT),
        }
    }

    async fn verify_batch(&self, request: pb::Ed25519VerifyBatchRequest) -> Result<Vec<bool>, CryptoError> {
        const CALL: &str = "Ed25519VerifyBatch";
        let expected = request.items.len();
        check_batch(CALL, expected)?;
        if expected == 0 {
            return Ok(Vec::new());
        }
        let response = self
            .client
            .clone()
            .ed25519_verify_batch(request)
            .await
            .map_err(|status| CryptoError::from_status(CALL, status))?;
        verdicts(response.into_inner(), expected)
    }

    async fn root(&self, leaves: &[Hash32]) -> Result<Hash32, CryptoError> {
        const CALL: &str = "MerkleRoot";
        check_batch(CALL, leaves.len())?;
        if leaves.is_empty() {
            return Ok(Hash32::ZERO);
        }
        let response = self
            .client
            .clone()
            .merkle_root(merkle_request(leaves))
            .await
            .map_err(|status| CryptoError::from_status(CALL, status))?;
        merkle_root(&response.into_inner())
    }
}

#[tonic::async_trait]
impl CryptoPort for RemoteCrypto {
    async fn verify_block(
        &self,
        tx_hashes: &[Hash32],
        unverified: &[SealedTransaction],
    ) -> Result<BlockCrypto, CryptoError> {
        check_batch("Ed25519VerifyBatch", unverified.len())?;
        // Both requests on the one connection at once: the server hashes the tree while it
        // verifies, and the round trips overlap.
        let (root, valid) = futures::join!(self.root(tx_hashes), async {
            if unverified.is_empty() {
                return Ok(Vec::new());
            }
            self.verify_batch(transactions_verify_request(unverified)).await
        });
        Ok(BlockCrypto { merkle_root: root?, signatures_valid: valid? })
    }

    async fn verify_transactions(&self, txs: &[SealedTransaction]) -> Result<Vec<bool>, CryptoError> {
        check_batch("Ed25519VerifyBatch", txs.len())?;
        self.verify_batch(transactions_verify_request(txs)).await
    }

    async fn verify_signatures(
        &self,
        message: &[u8],
        signatures: &[(PublicKey, Signature)],
    ) -> Result<Vec<bool>, CryptoError> {
        check_batch("Ed25519VerifyBatch", signatures.len())?;
        self.verify_batch(signatures_verify_request(message, signatures)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_item_is_refused_alone_naming_its_field() {
        let good = pb::Ed25519VerifyRequest { public_key: vec![1; 32], message: vec![], signature: vec![2; 64] };
        let short_key = pb::Ed25519VerifyRequest { public_key: vec![1; 31], ..good.clone() };
        let long_sig = pb::Ed25519VerifyRequest { signature: vec![2; 65], ..good.clone() };
        let request = pb::Ed25519VerifyBatchRequest { items: vec![good, short_key, long_sig] };
        let items = verify_items(&request).unwrap();
        assert!(items[0].is_ok());
        assert_eq!(items[1].as_ref().unwrap_err().to_string(), "items[1].public_key: expected 32 bytes, found 31");
        assert_eq!(items[2].as_ref().unwrap_err().to_string(), "items[2].signature: expected 64 bytes, found 65");
    }

    #[test]
    fn a_batch_over_the_limit_is_refused_before_anything_is_sent() {
        let err = check_batch("Ed25519VerifyBatch", MAX_BATCH_ITEMS + 1).unwrap_err();
        assert_eq!(err.to_string(), "crypto-core Ed25519VerifyBatch: 100001 items exceed the maximum 100000");
        assert_eq!(tonic::Status::from(err).code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn merkle_leaves_name_the_short_leaf() {
        let request = pb::MerkleRootRequest { leaves: vec![vec![0; 32], vec![0; 31]] };
        let status = merkle_leaves(&request).unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "leaves[1]: expected 32 bytes, found 31");
    }

    #[test]
    fn an_answer_with_a_wrong_count_is_an_error_not_verdicts() {
        let response = verify_response(vec![true], Vec::new());
        let err = verdicts(response, 2).unwrap_err();
        assert!(matches!(err, CryptoError::BadAnswer { .. }), "{err}");
        assert_eq!(
            merkle_root(&pb::MerkleRootResponse { root: vec![0; 31] }).unwrap_err().to_string(),
            "crypto-core MerkleRoot answered inconsistently: root: expected 32 bytes, found 31"
        );
    }

    #[test]
    fn transport_failures_are_unavailable_others_failed() {
        assert!(CryptoError::from_status("MerkleRoot", tonic::Status::unavailable("down")).is_unavailable());
        assert!(!CryptoError::from_status("MerkleRoot", tonic::Status::invalid_argument("x")).is_unavailable());
    }
}
