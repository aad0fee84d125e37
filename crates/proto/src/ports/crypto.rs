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
//! natively (no protobuf). Split: [`RemoteCrypto`] over [`crate::client::connect`] (one HTTP/2
//! connection, reused by every call and clone), whose every call is one `CryptoCore.VerifyBlock`;
//! the crypto-core gRPC server parses those requests and builds their answers with the
//! functions of this file, so each message is converted in exactly one place, both ways.
//!
//! What goes over the wire for a block: its hashes packed into one `bytes` (32 × n, for the
//! root) and, only for the signatures not verified before, their keys, signatures and signing
//! messages packed into three more (no per-item protobuf message: one allocation and one copy
//! per field, not per leaf or signature). With every signature verified before (the usual case:
//! the mempool verified them at admission), it is the leaves alone. `Ed25519VerifyBatch` and
//! `MerkleRoot` (one message per item) stay for the Go and Python clients that call them.

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

// ---- CryptoCore.VerifyBlock (packed) ----

/// The packed signature items of `unverified` transactions (key `from`, the signing message,
/// the signature); `None` for none.
pub fn packed_transactions(unverified: &[SealedTransaction]) -> Option<pb::Ed25519PackedBatch> {
    if unverified.is_empty() {
        return None;
    }
    let mut keys = Vec::with_capacity(32 * unverified.len());
    let mut signatures = Vec::with_capacity(64 * unverified.len());
    let mut messages = Vec::with_capacity(unverified.iter().map(|t| t.signing_message_len()).sum());
    let mut lengths = Vec::with_capacity(unverified.len());
    for t in unverified {
        keys.extend_from_slice(&t.from.0);
        signatures.extend_from_slice(&t.signature.0);
        let start = messages.len();
        t.signing_message_into(&mut messages);
        // A message is at most MAX_TX_DATA plus its fixed fields: it fits in u32.
        lengths.push(u32::try_from(messages.len() - start).unwrap_or(u32::MAX));
    }
    Some(pb::Ed25519PackedBatch {
        public_keys: keys.into(),
        signatures: signatures.into(),
        messages: messages.into(),
        message_lengths: lengths,
    })
}

/// The packed items of many keys' signatures over one `message`; `None` for none.
pub fn packed_signatures(message: &[u8], signatures: &[(PublicKey, Signature)]) -> Option<pb::Ed25519PackedBatch> {
    if signatures.is_empty() {
        return None;
    }
    let length = u32::try_from(message.len()).unwrap_or(u32::MAX);
    Some(pb::Ed25519PackedBatch {
        public_keys: signatures.iter().flat_map(|(k, _)| k.0).collect::<Vec<u8>>().into(),
        signatures: signatures.iter().flat_map(|(_, s)| s.0).collect::<Vec<u8>>().into(),
        messages: message.repeat(signatures.len()).into(),
        message_lengths: vec![length; signatures.len()],
    })
}

/// The `VerifyBlock` request: the leaves packed into one `bytes`, the signatures as packed.
pub fn block_request(leaves: &[Hash32], signatures: Option<pb::Ed25519PackedBatch>) -> pb::VerifyBlockRequest {
    let mut packed = Vec::with_capacity(32 * leaves.len());
    for leaf in leaves {
        packed.extend_from_slice(&leaf.0);
    }
    pb::VerifyBlockRequest { leaves: packed.into(), signatures }
}

/// A `VerifyBlock` request as the server reads it: the leaves, and the signature items as
/// slices of the received buffers (nothing copied but the keys and signatures).
#[derive(Debug, Clone, Default)]
pub struct PackedBlock {
    /// The Merkle leaves, in order.
    pub leaves: Vec<Hash32>,
    /// Each item's key and signature, in order.
    pub keys: Vec<(PublicKey, Signature)>,
    /// All messages, concatenated.
    pub messages: prost::bytes::Bytes,
    /// Each item's message, as a range of `messages`.
    pub message_ranges: Vec<std::ops::Range<usize>>,
}

impl PackedBlock {
    /// Item `i`'s message.
    pub fn message(&self, i: usize) -> &[u8] {
        self.message_ranges.get(i).and_then(|r| self.messages.get(r.clone())).unwrap_or_default()
    }
}

/// `count` items of `width` bytes in `field`, or INVALID_ARGUMENT naming it.
fn packed_count(bytes: &[u8], width: usize, field: &str) -> Result<usize, ConversionError> {
    if !bytes.len().is_multiple_of(width) {
        return Err(ConversionError::new(
            field,
            format!("{} bytes is not a whole number of {width}-byte items", bytes.len()),
        ));
    }
    let count = bytes.len() / width;
    if count > MAX_BATCH_ITEMS {
        return Err(ConversionError::new(field, format!("{count} items exceed the maximum {MAX_BATCH_ITEMS}")));
    }
    Ok(count)
}

/// Server side: a `VerifyBlock` request's leaves and items, every length checked before any
/// work (linear in the request's size, which the gRPC layer bounds): INVALID_ARGUMENT naming
/// the field that does not fit.
pub fn block_items(request: pb::VerifyBlockRequest) -> Result<PackedBlock, tonic::Status> {
    packed_count(&request.leaves, 32, "leaves")?;
    let leaves = request.leaves.chunks_exact(32).map(|c| Hash32(c.try_into().unwrap_or([0; 32]))).collect();
    let Some(batch) = request.signatures else {
        return Ok(PackedBlock { leaves, ..PackedBlock::default() });
    };
    let n = packed_count(&batch.public_keys, 32, "signatures.public_keys")?;
    if batch.signatures.len() != 64 * n {
        return Err(ConversionError::new(
            "signatures.signatures",
            format!("expected {} bytes (64 for each of {n} keys), found {}", 64 * n, batch.signatures.len()),
        )
        .into());
    }
    if batch.message_lengths.len() != n {
        return Err(ConversionError::new(
            "signatures.message_lengths",
            format!("expected {n} lengths (one per key), found {}", batch.message_lengths.len()),
        )
        .into());
    }
    let mut message_ranges = Vec::with_capacity(n);
    let mut end = 0usize;
    for length in &batch.message_lengths {
        let start = end;
        end = end.saturating_add(*length as usize);
        message_ranges.push(start..end);
    }
    if end != batch.messages.len() {
        return Err(ConversionError::new(
            "signatures.messages",
            format!("expected {end} bytes (the sum of message_lengths), found {}", batch.messages.len()),
        )
        .into());
    }
    let keys = batch
        .public_keys
        .chunks_exact(32)
        .zip(batch.signatures.chunks_exact(64))
        .map(|(k, s)| (PublicKey(k.try_into().unwrap_or([0; 32])), Signature(s.try_into().unwrap_or([0; 64]))))
        .collect();
    Ok(PackedBlock { leaves, keys, messages: batch.messages, message_ranges })
}

/// Server side: the answer.
pub fn block_response(root: Hash32, valid: Vec<bool>) -> pb::VerifyBlockResponse {
    pb::VerifyBlockResponse { root: root.0.to_vec(), all_valid: valid.iter().all(|v| *v), valid }
}

/// Client side: the root and verdicts of an answer to a request of `expected` items.
pub fn block_answer(response: pb::VerifyBlockResponse, expected: usize) -> Result<BlockCrypto, CryptoError> {
    const CALL: &str = "VerifyBlock";
    let merkle_root = convert::hash32(&response.root, "root")
        .map_err(|e| CryptoError::BadAnswer { call: CALL, reason: e.to_string() })?;
    if response.valid.len() != expected {
        return Err(CryptoError::BadAnswer {
            call: CALL,
            reason: format!("{} verdicts for {expected} signatures", response.valid.len()),
        });
    }
    Ok(BlockCrypto { merkle_root, signatures_valid: response.valid })
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

    /// One `VerifyBlock` call: the root of `leaves` and the verdicts of `expected` packed items.
    async fn verify_packed(
        &self,
        leaves: &[Hash32],
        signatures: Option<pb::Ed25519PackedBatch>,
        expected: usize,
    ) -> Result<BlockCrypto, CryptoError> {
        const CALL: &str = "VerifyBlock";
        check_batch(CALL, leaves.len().max(expected))?;
        if leaves.is_empty() && expected == 0 {
            return Ok(BlockCrypto { merkle_root: Hash32::ZERO, signatures_valid: Vec::new() });
        }
        let response = self
            .client
            .clone()
            .verify_block(block_request(leaves, signatures))
            .await
            .map_err(|status| CryptoError::from_status(CALL, status))?;
        block_answer(response.into_inner(), expected)
    }
}

#[tonic::async_trait]
impl CryptoPort for RemoteCrypto {
    async fn verify_block(
        &self,
        tx_hashes: &[Hash32],
        unverified: &[SealedTransaction],
    ) -> Result<BlockCrypto, CryptoError> {
        check_batch("VerifyBlock", unverified.len())?;
        self.verify_packed(tx_hashes, packed_transactions(unverified), unverified.len()).await
    }

    async fn verify_transactions(&self, txs: &[SealedTransaction]) -> Result<Vec<bool>, CryptoError> {
        check_batch("VerifyBlock", txs.len())?;
        Ok(self.verify_packed(&[], packed_transactions(txs), txs.len()).await?.signatures_valid)
    }

    async fn verify_signatures(
        &self,
        message: &[u8],
        signatures: &[(PublicKey, Signature)],
    ) -> Result<Vec<bool>, CryptoError> {
        check_batch("VerifyBlock", signatures.len())?;
        Ok(self.verify_packed(&[], packed_signatures(message, signatures), signatures.len()).await?.signatures_valid)
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

    fn packed(keys: usize, sigs: usize, lengths: Vec<u32>, messages: usize) -> pb::VerifyBlockRequest {
        pb::VerifyBlockRequest {
            leaves: vec![0; 64].into(),
            signatures: Some(pb::Ed25519PackedBatch {
                public_keys: vec![1; keys].into(),
                signatures: vec![2; sigs].into(),
                messages: vec![3; messages].into(),
                message_lengths: lengths,
            }),
        }
    }

    fn refusal(request: pb::VerifyBlockRequest) -> String {
        let status = block_items(request).unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        status.message().to_string()
    }

    #[test]
    fn packed_fields_that_do_not_fit_are_refused_naming_the_field() {
        let good = block_items(packed(64, 128, vec![3, 0], 3)).unwrap();
        assert_eq!((good.leaves.len(), good.keys.len()), (2, 2));
        assert_eq!((good.message(0), good.message(1)), (&[3u8, 3, 3][..], &[][..]));
        let mut leaves = packed(64, 128, vec![3, 0], 3);
        leaves.leaves = vec![0; 33].into();
        assert_eq!(refusal(leaves), "leaves: 33 bytes is not a whole number of 32-byte items");
        assert_eq!(
            refusal(packed(63, 128, vec![3, 0], 3)),
            "signatures.public_keys: 63 bytes is not a whole number of 32-byte items"
        );
        assert_eq!(
            refusal(packed(64, 127, vec![3, 0], 3)),
            "signatures.signatures: expected 128 bytes (64 for each of 2 keys), found 127"
        );
        assert_eq!(
            refusal(packed(64, 128, vec![3], 3)),
            "signatures.message_lengths: expected 2 lengths (one per key), found 1"
        );
        assert_eq!(
            refusal(packed(64, 128, vec![3, 1], 3)),
            "signatures.messages: expected 4 bytes (the sum of message_lengths), found 3"
        );
    }

    #[test]
    fn oversize_packed_batches_are_refused_before_any_work() {
        // One leaf more than a call takes.
        let request = pb::VerifyBlockRequest { leaves: vec![0; 32 * (MAX_BATCH_ITEMS + 1)].into(), signatures: None };
        assert_eq!(refusal(request), "leaves: 100001 items exceed the maximum 100000");
        let keys = 32 * (MAX_BATCH_ITEMS + 1);
        assert_eq!(
            refusal(packed(keys, 0, Vec::new(), 0)),
            "signatures.public_keys: 100001 items exceed the maximum 100000"
        );
        // Lengths claiming far more than was sent (4 GiB each): refused from their sum, nothing
        // allocated for them.
        let n = MAX_BATCH_ITEMS;
        let message = refusal(packed(32 * n, 64 * n, vec![u32::MAX; n], 10));
        assert!(message.starts_with("signatures.messages: expected "), "{message}");
        assert!(message.ends_with("bytes (the sum of message_lengths), found 10"), "{message}");
    }

    #[test]
    fn packed_transactions_carry_each_signing_message_key_and_signature() {
        let txs: Vec<SealedTransaction> = (0u8..3)
            .map(|i| {
                SealedTransaction::seal(coinjecture_primitives::Transaction {
                    codec_version: coinjecture_primitives::CODEC_VERSION,
                    tx_type: coinjecture_primitives::TxType::Transfer,
                    from: PublicKey([i; 32]),
                    to: PublicKey([9; 32]),
                    amount: 5,
                    nonce: u64::from(i),
                    gas_limit: 21_000,
                    gas_price: 1,
                    signature: Signature([i + 1; 64]),
                    data: vec![i; usize::from(i) * 7],
                    timestamp: 1_767_225_600,
                })
            })
            .collect();
        let hashes: Vec<Hash32> = txs.iter().map(SealedTransaction::hash).collect();
        // Through the wire encoding, as the server receives it.
        use prost::Message as _;
        let bytes = block_request(&hashes, packed_transactions(&txs)).encode_to_vec();
        let block = block_items(pb::VerifyBlockRequest::decode(bytes.as_slice()).unwrap()).unwrap();
        assert_eq!(block.leaves, hashes);
        for (i, tx) in txs.iter().enumerate() {
            assert_eq!(block.keys[i], (tx.from, tx.signature));
            assert_eq!(block.message(i), tx.signing_message().as_slice());
        }
        assert!(packed_transactions(&[]).is_none() && packed_signatures(b"m", &[]).is_none());
        let answer = block_answer(block_response(Hash32([5; 32]), vec![true, false]), 3).unwrap_err();
        assert_eq!(answer.to_string(), "crypto-core VerifyBlock answered inconsistently: 2 verdicts for 3 signatures");
    }

    #[test]
    fn transport_failures_are_unavailable_others_failed() {
        assert!(CryptoError::from_status("MerkleRoot", tonic::Status::unavailable("down")).is_unavailable());
        assert!(!CryptoError::from_status("MerkleRoot", tonic::Status::invalid_argument("x")).is_unavailable());
    }
}
