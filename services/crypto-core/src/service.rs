//! The `CryptoCore` gRPC service: the library behind protobuf, with size limits, and
//! `INVALID_ARGUMENT` answers that name the bad field. CPU-heavy calls (batches, Merkle trees)
//! run on the blocking pool so that one large request never stalls the others.

use std::future::Future;
use std::net::SocketAddr;

use coinjecture_primitives::limits::{MAX_BATCH_ITEMS, MAX_MESSAGE_BYTES, MAX_SUBSET_SUM_ELEMENTS};
use coinjecture_primitives::{self as prim, Hash32};
use coinjecture_primitives::{PublicKey, SealedTransaction, Signature};
use coinjecture_proto::convert::{self, ConversionError};
use coinjecture_proto::ports::crypto::{self as crypto_port, BlockCrypto, CryptoError, CryptoPort};
use coinjecture_proto::v1::crypto_core_server::{CryptoCore, CryptoCoreServer};
use coinjecture_proto::v1::{self as pb, SubsetSumRejectReason};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::{commit_reveal, golden, merkle, signatures, subset_sum};

/// Most steps a Merkle proof can have (a tree of 2^64 leaves).
pub const MAX_PROOF_STEPS: usize = 64;

/// The CryptoCore service; stateless.
#[derive(Debug, Clone, Default)]
pub struct CryptoCoreService;

impl CryptoCoreService {
    /// The tonic server for this service, with the chain's message size limit.
    pub fn into_server(self) -> CryptoCoreServer<Self> {
        CryptoCoreServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES + 64 * 1024)
            .max_encoding_message_size(MAX_MESSAGE_BYTES + 64 * 1024)
    }
}

/// Starts the crypto-core service, the same in one process and split: it is stateless (no
/// settings, no ports), so this is the value the binary serves (`service crypto-core`, a node's
/// internal gRPC port). In one process callers hold [`CryptoCoreService`] as their
/// `Arc<dyn CryptoPort>`.
pub fn run() -> CryptoCoreServer<CryptoCoreService> {
    CryptoCoreService.into_server()
}

fn invalid(field: &str, reason: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {reason}"))
}

fn check_batch(len: usize, field: &str) -> Result<(), Status> {
    if len > MAX_BATCH_ITEMS {
        return Err(invalid(field, format!("{len} items exceed the maximum {MAX_BATCH_ITEMS}")));
    }
    Ok(())
}

fn leaves(raw: &[Vec<u8>]) -> Result<Vec<Hash32>, Status> {
    check_batch(raw.len(), "leaves")?;
    raw.iter().enumerate().map(|(i, l)| convert::hash32(l, &format!("leaves[{i}]")).map_err(Status::from)).collect()
}

fn within(e: ConversionError, parent: &str) -> Status {
    e.within(parent).into()
}

/// Runs CPU-heavy work off the async scheduler so that one large request never stalls the
/// others: on a multi-threaded runtime in place (`block_in_place`: this worker's other tasks move
/// to another worker, and the request's path has no hand-off to a pool thread and back, which
/// costs milliseconds on a loaded machine), else on the blocking pool.
async fn off_scheduler<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, tokio::task::JoinError> {
    if tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        return Ok(tokio::task::block_in_place(f));
    }
    tokio::task::spawn_blocking(f).await
}

/// [`off_scheduler`] for the gRPC methods.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Status> {
    off_scheduler(f).await.map_err(|e| Status::internal(format!("worker failed: {e}")))
}

fn reject_reason(r: &subset_sum::SubsetSumRejection) -> SubsetSumRejectReason {
    use subset_sum::SubsetSumRejection as R;
    match r {
        R::TooManyElements { .. } => SubsetSumRejectReason::TooManyElements,
        R::ElementCountOutsideTier { .. } => SubsetSumRejectReason::ElementCountOutsideTier,
        R::EmptySolution => SubsetSumRejectReason::EmptySolution,
        R::TooManyIndices { .. } => SubsetSumRejectReason::TooManyIndices,
        R::IndexOutOfRange { .. } => SubsetSumRejectReason::IndexOutOfRange,
        R::DuplicateIndex { .. } => SubsetSumRejectReason::DuplicateIndex,
        R::Overflow => SubsetSumRejectReason::Overflow,
        R::WrongSum { .. } => SubsetSumRejectReason::SumMismatch,
    }
}

#[tonic::async_trait]
impl CryptoCore for CryptoCoreService {
    async fn sha256(&self, request: Request<pb::Sha256Request>) -> Result<Response<pb::Sha256Response>, Status> {
        let data = request.into_inner().data;
        let digest = blocking(move || prim::sha256(&data)).await?;
        Ok(Response::new(pb::Sha256Response { digest: digest.0.to_vec() }))
    }

    async fn sha256_batch(
        &self,
        request: Request<pb::Sha256BatchRequest>,
    ) -> Result<Response<pb::Sha256BatchResponse>, Status> {
        let inputs = request.into_inner().inputs;
        check_batch(inputs.len(), "inputs")?;
        let digests = blocking(move || inputs.iter().map(|i| prim::sha256(i).0.to_vec()).collect()).await?;
        Ok(Response::new(pb::Sha256BatchResponse { digests }))
    }

    async fn merkle_root(
        &self,
        request: Request<pb::MerkleRootRequest>,
    ) -> Result<Response<pb::MerkleRootResponse>, Status> {
        let leaves = crypto_port::merkle_leaves(request.get_ref())?;
        let root = blocking(move || merkle::merkle_root(&leaves)).await?;
        Ok(Response::new(crypto_port::merkle_response(root)))
    }

    async fn merkle_proof(
        &self,
        request: Request<pb::MerkleProofRequest>,
    ) -> Result<Response<pb::MerkleProofResponse>, Status> {
        let req = request.into_inner();
        let leaves = leaves(&req.leaves)?;
        let index = req.index as usize;
        if index >= leaves.len() {
            return Err(invalid("index", format!("{index} is out of range for {} leaves", leaves.len())));
        }
        let (steps, root) =
            blocking(move || (merkle::merkle_proof(&leaves, index), merkle::merkle_root(&leaves))).await?;
        let steps = steps.map_err(|e| invalid("index", e))?;
        Ok(Response::new(pb::MerkleProofResponse {
            steps: steps
                .iter()
                .map(|s| pb::MerkleProofStep { sibling: s.sibling.0.to_vec(), current_is_right: s.current_is_right })
                .collect(),
            root: root.0.to_vec(),
        }))
    }

    async fn verify_merkle_proof(
        &self,
        request: Request<pb::VerifyMerkleProofRequest>,
    ) -> Result<Response<pb::VerifyMerkleProofResponse>, Status> {
        let req = request.into_inner();
        let leaf = convert::hash32(&req.leaf, "leaf")?;
        let root = convert::hash32(&req.root, "root")?;
        if req.steps.len() > MAX_PROOF_STEPS {
            return Err(invalid("steps", format!("{} steps exceed the maximum {MAX_PROOF_STEPS}", req.steps.len())));
        }
        let steps = req
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(merkle::ProofStep {
                    sibling: convert::hash32(&s.sibling, &format!("steps[{i}].sibling"))?,
                    current_is_right: s.current_is_right,
                })
            })
            .collect::<Result<Vec<_>, ConversionError>>()?;
        Ok(Response::new(pb::VerifyMerkleProofResponse { valid: merkle::verify_merkle_proof(&leaf, &steps, &root) }))
    }

    async fn hash_header(
        &self,
        request: Request<pb::HashHeaderRequest>,
    ) -> Result<Response<pb::HashHeaderResponse>, Status> {
        let req = request.into_inner();
        let header = req.header.as_ref().ok_or_else(|| invalid("header", "is required"))?;
        let header = prim::BlockHeader::try_from(header).map_err(|e| within(e, "header"))?;
        let encoding = header.encode();
        Ok(Response::new(pb::HashHeaderResponse { hash: prim::sha256(&encoding).0.to_vec(), encoding }))
    }

    async fn hash_transaction(
        &self,
        request: Request<pb::HashTransactionRequest>,
    ) -> Result<Response<pb::HashTransactionResponse>, Status> {
        let req = request.into_inner();
        let tx = req.transaction.as_ref().ok_or_else(|| invalid("transaction", "is required"))?;
        let tx = prim::Transaction::try_from(tx).map_err(|e| within(e, "transaction"))?;
        let encoding = tx.encode();
        Ok(Response::new(pb::HashTransactionResponse {
            tx_hash: prim::sha256(&encoding).0.to_vec(),
            signing_message: tx.signing_message(),
            encoding,
        }))
    }

    async fn hash_transaction_batch(
        &self,
        request: Request<pb::HashTransactionBatchRequest>,
    ) -> Result<Response<pb::HashTransactionBatchResponse>, Status> {
        let req = request.into_inner();
        check_batch(req.transactions.len(), "transactions")?;
        let verify = req.verify_signatures;
        let response = blocking(move || {
            let converted: Vec<Result<prim::Transaction, String>> = req
                .transactions
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    prim::Transaction::try_from(t).map_err(|e| e.within(&format!("transactions[{i}]")).to_string())
                })
                .collect();
            let messages: Vec<Option<Vec<u8>>> =
                converted.iter().map(|t| t.as_ref().ok().filter(|_| verify).map(|t| t.signing_message())).collect();
            let items: Vec<signatures::VerifyItem<'_>> = converted
                .iter()
                .zip(&messages)
                .filter_map(|(t, m)| match (t, m) {
                    (Ok(t), Some(m)) => {
                        Some(signatures::VerifyItem { public_key: &t.from, message: m, signature: &t.signature })
                    }
                    _ => None,
                })
                .collect();
            let mut verdicts = signatures::verify_batch(&items).into_iter();
            let digests: Vec<pb::TransactionDigest> = converted
                .iter()
                .map(|t| match t {
                    Ok(t) => pb::TransactionDigest {
                        tx_hash: t.hash().0.to_vec(),
                        signature_valid: verify && verdicts.next().unwrap_or(false),
                        error: String::new(),
                    },
                    Err(e) => pb::TransactionDigest { tx_hash: Vec::new(), signature_valid: false, error: e.clone() },
                })
                .collect();
            let all_valid = digests.iter().all(|d| d.error.is_empty() && (!verify || d.signature_valid));
            pb::HashTransactionBatchResponse { digests, all_valid }
        })
        .await?;
        Ok(Response::new(response))
    }

    async fn verify_subset_sum(
        &self,
        request: Request<pb::VerifySubsetSumRequest>,
    ) -> Result<Response<pb::VerifySubsetSumResponse>, Status> {
        let req = request.into_inner();
        let problem = req.problem.as_ref().ok_or_else(|| invalid("problem", "is required"))?;
        let solution = req.solution.as_ref().ok_or_else(|| invalid("solution", "is required"))?;
        let solution = prim::SubsetSumSolution::from(solution);
        let reply = |reason: SubsetSumRejectReason, detail: String| {
            Ok(Response::new(pb::VerifySubsetSumResponse {
                valid: reason == SubsetSumRejectReason::Unspecified,
                reason: reason.into(),
                detail,
            }))
        };
        let problem = match prim::SubsetSumProblem::try_from(problem) {
            Ok(p) => p,
            Err(e) => return reply(SubsetSumRejectReason::InvalidTier, e.within("problem").to_string()),
        };
        // The verifier bounds its own work; these checks only keep absurd inputs out of the logs.
        if problem.elements.len() > MAX_BATCH_ITEMS || solution.indices.len() > MAX_BATCH_ITEMS {
            return Err(invalid("problem.elements", format!("more than {MAX_BATCH_ITEMS} items")));
        }
        match subset_sum::verify_subset_sum(&problem, &solution) {
            Ok(()) => reply(SubsetSumRejectReason::Unspecified, String::new()),
            Err(r) => reply(reject_reason(&r), r.to_string()),
        }
    }

    async fn ed25519_verify(
        &self,
        request: Request<pb::Ed25519VerifyRequest>,
    ) -> Result<Response<pb::Ed25519VerifyResponse>, Status> {
        let req = request.into_inner();
        let public_key = convert::public_key(&req.public_key, "public_key")?;
        let signature = convert::signature(&req.signature, "signature")?;
        let valid = signatures::verify(&public_key, &req.message, &signature);
        Ok(Response::new(pb::Ed25519VerifyResponse { valid }))
    }

    async fn ed25519_verify_batch(
        &self,
        request: Request<pb::Ed25519VerifyBatchRequest>,
    ) -> Result<Response<pb::Ed25519VerifyBatchResponse>, Status> {
        let request = request.into_inner();
        let parsed = crypto_port::verify_items(&request)?;
        let (valid, refusals) = blocking(move || {
            // An item Ed25519Verify would refuse is refused alone, naming its field; the others
            // are verified (golden/README.md §1.4).
            let batch: Vec<signatures::VerifyItem<'_>> = parsed
                .iter()
                .zip(&request.items)
                .filter_map(|(p, i)| {
                    p.as_ref().ok().map(|(pk, sig)| signatures::VerifyItem {
                        public_key: pk,
                        message: &i.message,
                        signature: sig,
                    })
                })
                .collect();
            let mut verdicts = signatures::verify_batch(&batch).into_iter();
            parsed
                .iter()
                .map(|p| match p {
                    Ok(_) => (verdicts.next().unwrap_or(false), String::new()),
                    Err(e) => (false, e.to_string()),
                })
                .unzip::<bool, String, Vec<bool>, Vec<String>>()
        })
        .await?;
        Ok(Response::new(crypto_port::verify_response(valid, refusals)))
    }

    async fn verify_block(
        &self,
        request: Request<pb::VerifyBlockRequest>,
    ) -> Result<Response<pb::VerifyBlockResponse>, Status> {
        // Every length is checked before any work; the items are slices of the request.
        let block = crypto_port::block_items(request.into_inner())?;
        let (root, valid) = blocking(move || {
            let verify = || {
                let items: Vec<signatures::VerifyItem<'_>> = block
                    .keys
                    .iter()
                    .enumerate()
                    .map(|(i, (public_key, signature))| signatures::VerifyItem {
                        public_key,
                        message: block.message(i),
                        signature,
                    })
                    .collect();
                signatures::verify_batch(&items)
            };
            if block.keys.is_empty() {
                return (merkle::merkle_root(&block.leaves), Vec::new());
            }
            // The tree is hashed while the signatures are verified.
            rayon::join(|| merkle::merkle_root(&block.leaves), verify)
        })
        .await?;
        Ok(Response::new(crypto_port::block_response(root, valid)))
    }

    async fn derive_address(
        &self,
        request: Request<pb::DeriveAddressRequest>,
    ) -> Result<Response<pb::DeriveAddressResponse>, Status> {
        let public_key = convert::public_key(&request.into_inner().public_key, "public_key")?;
        Ok(Response::new(pb::DeriveAddressResponse { address: prim::derive_address(&public_key).0.to_vec() }))
    }

    async fn epoch_salt(
        &self,
        request: Request<pb::EpochSaltRequest>,
    ) -> Result<Response<pb::EpochSaltResponse>, Status> {
        let req = request.into_inner();
        let parent = convert::hash32(&req.parent_hash, "parent_hash")?;
        let salt = commit_reveal::epoch_salt(&parent, req.block_index);
        Ok(Response::new(pb::EpochSaltResponse { epoch_salt: salt.0.to_vec() }))
    }

    async fn commit_reveal_commitment(
        &self,
        request: Request<pb::CommitRevealCommitmentRequest>,
    ) -> Result<Response<pb::CommitRevealCommitmentResponse>, Status> {
        let req = request.into_inner();
        let parent = convert::hash32(&req.parent_hash, "parent_hash")?;
        let miner_salt = convert::hash32(&req.miner_salt, "miner_salt")?;
        let problem = req.problem.as_ref().ok_or_else(|| invalid("problem", "is required"))?;
        let problem = prim::SubsetSumProblem::try_from(problem).map_err(|e| within(e, "problem"))?;
        let solution =
            prim::SubsetSumSolution::from(req.solution.as_ref().ok_or_else(|| invalid("solution", "is required"))?);
        if problem.elements.len() > MAX_SUBSET_SUM_ELEMENTS {
            return Err(invalid("problem.elements", format!("more than {MAX_SUBSET_SUM_ELEMENTS} elements")));
        }
        if solution.indices.len() > MAX_SUBSET_SUM_ELEMENTS {
            return Err(invalid("solution.indices", format!("more than {MAX_SUBSET_SUM_ELEMENTS} indices")));
        }
        let epoch_salt = commit_reveal::epoch_salt(&parent, req.block_index);
        let (problem_hash, solution_hash) = (problem.hash(), solution.hash());
        let commitment = commit_reveal::commitment_from_parts(&epoch_salt, &problem_hash, &solution_hash, &miner_salt);
        Ok(Response::new(pb::CommitRevealCommitmentResponse {
            commitment: commitment.0.to_vec(),
            epoch_salt: epoch_salt.0.to_vec(),
            problem_hash: problem_hash.0.to_vec(),
            solution_hash: solution_hash.0.to_vec(),
        }))
    }

    async fn golden_vectors_self_test(
        &self,
        request: Request<pb::GoldenVectorsSelfTestRequest>,
    ) -> Result<Response<pb::GoldenVectorsSelfTestResponse>, Status> {
        let filter = request.into_inner().file;
        let results = blocking(golden::run_embedded).await?;
        let matches =
            |file: &str| filter.is_empty() || file == filter || file.rsplit('/').next() == Some(filter.as_str());
        let results: Vec<pb::GoldenVectorResult> = results
            .into_iter()
            .filter(|r| matches(&r.file))
            .map(|r| pb::GoldenVectorResult { file: r.file, case_name: r.name, passed: r.passed, detail: r.detail })
            .collect();
        if results.is_empty() {
            return Err(invalid("file", format!("no golden vector file is named {filter:?}")));
        }
        let total = results.len() as u32;
        let passed = results.iter().filter(|r| r.passed).count() as u32;
        Ok(Response::new(pb::GoldenVectorsSelfTestResponse { results, total, passed, failed: total - passed }))
    }
}

/// Batches at most this large (leaves plus signatures) are computed on the calling task; larger
/// ones on the blocking pool.
const INLINE_WORK: usize = 64;

/// Runs `f` on the calling task when `work` is small, else [`off_scheduler`].
async fn compute<T: Send + 'static>(
    call: &'static str,
    work: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CryptoError> {
    if work <= INLINE_WORK {
        return Ok(f());
    }
    off_scheduler(f).await.map_err(|e| CryptoError::Worker { call, source: Box::new(e) })
}

/// Network A: crypto-core linked into the process, called natively (no protobuf, no copies of
/// the transactions: sealed values are shared).
#[tonic::async_trait]
impl CryptoPort for CryptoCoreService {
    async fn verify_block(
        &self,
        tx_hashes: &[Hash32],
        unverified: &[SealedTransaction],
    ) -> Result<BlockCrypto, CryptoError> {
        const CALL: &str = "VerifyBlock";
        crypto_port::check_batch(CALL, tx_hashes.len().max(unverified.len()))?;
        let (leaves, txs) = (tx_hashes.to_vec(), unverified.to_vec());
        compute(CALL, leaves.len() + txs.len(), move || BlockCrypto {
            merkle_root: merkle::merkle_root(&leaves),
            signatures_valid: signatures::verify_transactions(&txs),
        })
        .await
    }

    async fn verify_transactions(&self, txs: &[SealedTransaction]) -> Result<Vec<bool>, CryptoError> {
        const CALL: &str = "VerifyTransactions";
        crypto_port::check_batch(CALL, txs.len())?;
        let txs = txs.to_vec();
        compute(CALL, txs.len(), move || signatures::verify_transactions(&txs)).await
    }

    async fn verify_signatures(
        &self,
        message: &[u8],
        signatures: &[(PublicKey, Signature)],
    ) -> Result<Vec<bool>, CryptoError> {
        const CALL: &str = "VerifySignatures";
        crypto_port::check_batch(CALL, signatures.len())?;
        let (message, pairs) = (message.to_vec(), signatures.to_vec());
        compute(CALL, pairs.len(), move || {
            let items: Vec<signatures::VerifyItem<'_>> = pairs
                .iter()
                .map(|(public_key, signature)| signatures::VerifyItem { public_key, message: &message, signature })
                .collect();
            signatures::verify_batch(&items)
        })
        .await
    }
}

/// Serves CryptoCore, gRPC health and reflection on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<CryptoCoreServer<CryptoCoreService>>().await;
    let reflection = coinjecture_proto::server::reflection(&[coinjecture_proto::v1::crypto_core_server::SERVICE_NAME]);
    let local: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(addr = ?local, "crypto-core serving gRPC (CryptoCore, health, reflection)");
    coinjecture_proto::server::builder()
        .add_service(health_service)
        .add_optional_service(reflection)
        .add_service(CryptoCoreService.into_server())
        // TCP_NODELAY on every accepted connection: with Nagle's algorithm a response's last
        // small segment waits for the client's delayed ACK (40 ms on Linux) — measured as a
        // 40 ms MerkleRoot of 10,000 leaves that takes 1 ms to compute.
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), shutdown)
        .await
}
