//! The `Ledger` gRPC service: the generated trait implemented over a [`Ledger`] through its port
//! ([`LedgerPort`]) with the port's wire conversions (`coinjecture_proto::ports::ledger`), and
//! [`serve`] (with gRPC health and reflection). In one process nothing calls this: callers hold
//! the [`Ledger`] itself as their `Arc<dyn LedgerPort>`. [`run`] starts the service the same way
//! in one process and split.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use coinjecture_primitives::limits::MAX_MESSAGE_BYTES;
use coinjecture_primitives::validators::{QuorumMode, ValidatorSchedule};
use coinjecture_primitives::{Block, CommitCertificate, Height, PublicKey, UnixMillis};
use coinjecture_proto::convert;
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::ledger_server::{Ledger as LedgerRpc, LedgerServer};
use tokio::net::TcpListener;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status};

use coinjecture_primitives::SealedBlock;
use coinjecture_proto::ports::ledger::{
    LedgerPort, account_to_pb, applied_to_pb, block_to_pb, chain_info_to_pb, checked_to_pb, execution_to_pb,
    header_to_pb, indexed_to_pb, range_item_to_pb, range_request_extras,
};

use coinjecture_proto::ports::crypto::CryptoPort;

use crate::error::{InvalidBlockError, LedgerError};
use crate::genesis::GenesisConfig;
use crate::ledger::{Ledger, LedgerOptions, MAX_BLOCK_RANGE};
use crate::store::HeaderExtras;

/// Blocks read per database query while streaming a range.
const RANGE_READ_CHUNK: u32 = 8;
/// Headers read per database query while streaming a headers-only range (a header row is a few
/// hundred bytes plus its certificate).
const HEADER_READ_CHUNK: u32 = 100;

/// The ledger service's settings (the binary builds them from its config: `database.path`,
/// `network.genesis`, `consensus.validators`/`validator_changes`, `ledger.*`).
#[derive(Debug, Clone)]
pub struct LedgerSettings {
    /// The SQLite database (created with the genesis block when absent).
    pub path: PathBuf,
    /// The chain's genesis.
    pub genesis: GenesisConfig,
    /// The validator schedule certificates are checked against.
    pub schedule: ValidatorSchedule,
    /// Signature checking and pruning.
    pub options: LedgerOptions,
}

/// Starts the ledger service, the same in one process and split: opens (or creates) its
/// database, hashing and verifying through `crypto` (crypto-core in process or remote). In one
/// process callers hold the returned [`Ledger`] as their `Arc<dyn LedgerPort>`; split, the
/// binary serves [`LedgerService::new`]`(ledger).into_server()`. Close it with [`Ledger::close`].
pub async fn run(settings: LedgerSettings, crypto: Arc<dyn CryptoPort>) -> Result<Arc<Ledger>, LedgerError> {
    let LedgerSettings { path, genesis, schedule, options } = settings;
    Ok(Arc::new(Ledger::open_with(&path, genesis, schedule, crypto, options).await?))
}

/// The Ledger service over a shared [`Ledger`].
#[derive(Debug, Clone)]
pub struct LedgerService {
    ledger: Arc<Ledger>,
}

impl LedgerService {
    pub fn new(ledger: Arc<Ledger>) -> Self {
        Self { ledger }
    }

    /// The ledger behind the service.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The tonic server for this service, with the chain's message size limit.
    pub fn into_server(self) -> LedgerServer<Self> {
        LedgerServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES + 64 * 1024)
            .max_encoding_message_size(MAX_MESSAGE_BYTES + 64 * 1024)
    }
}

/// The block of a request (`block`, `block.header` named when missing or malformed).
fn request_block(block: Option<&pb::Block>) -> Result<(Block, &pb::Block), Status> {
    let pb_block = block.ok_or_else(|| Status::invalid_argument("block: is required"))?;
    let block = Block::try_from(pb_block).map_err(|e| Status::from(e.within("block")))?;
    Ok((block, pb_block))
}

fn work_rejection() -> String {
    InvalidBlockError::Work.to_string()
}

#[tonic::async_trait]
impl LedgerRpc for LedgerService {
    async fn get_genesis(
        &self,
        _request: Request<pb::GetGenesisRequest>,
    ) -> Result<Response<pb::GetGenesisResponse>, Status> {
        let genesis = self.ledger.genesis();
        Ok(Response::new(pb::GetGenesisResponse {
            block: Some(self.ledger.genesis_block().into()),
            genesis_hash: self.ledger.genesis_hash().0.to_vec(),
            chain_id: genesis.chain_id.to_string(),
            allocations: genesis
                .sorted_allocations()
                .iter()
                .map(|(address, a)| pb::Account { address: address.0.to_vec(), balance: a.balance, nonce: a.nonce })
                .collect(),
            // The set that signs from height 1 (the ledger verifies certificates with it).
            validator_set: self.ledger.validators().entries().first().map(|(activation, set)| pb::ValidatorSet {
                validators: set
                    .validators()
                    .iter()
                    .enumerate()
                    .map(|(i, key)| pb::ValidatorInfo {
                        public_key: key.0.to_vec(),
                        peer_id: String::new(),
                        index: u32::try_from(i).unwrap_or(u32::MAX),
                    })
                    .collect(),
                activation_height: activation.get(),
                quorum_mode: match set.mode() {
                    QuorumMode::Crash => pb::QuorumMode::Crash,
                    QuorumMode::Byzantine => pb::QuorumMode::Byzantine,
                }
                .into(),
            }),
        }))
    }

    async fn get_chain_info(
        &self,
        _request: Request<pb::GetChainInfoRequest>,
    ) -> Result<Response<pb::GetChainInfoResponse>, Status> {
        let info = LedgerPort::chain_info(&*self.ledger).await?;
        Ok(Response::new(chain_info_to_pb(&info)))
    }

    async fn get_block_by_height(
        &self,
        request: Request<pb::GetBlockByHeightRequest>,
    ) -> Result<Response<pb::GetBlockByHeightResponse>, Status> {
        let height = request.into_inner().height;
        let stored = LedgerPort::block_by_height(&*self.ledger, Height(height))
            .await?
            .ok_or_else(|| Status::not_found(format!("no finalized block at height {height}")))?;
        Ok(Response::new(pb::GetBlockByHeightResponse {
            block: Some(block_to_pb(&stored)),
            block_hash: stored.hash.0.to_vec(),
        }))
    }

    async fn get_block_by_hash(
        &self,
        request: Request<pb::GetBlockByHashRequest>,
    ) -> Result<Response<pb::GetBlockByHashResponse>, Status> {
        let hash = convert::hash32(&request.into_inner().block_hash, "block_hash")?;
        let stored = LedgerPort::block_by_hash(&*self.ledger, &hash)
            .await?
            .ok_or_else(|| Status::not_found(format!("no finalized block has hash {hash}")))?;
        Ok(Response::new(pb::GetBlockByHashResponse { block: Some(block_to_pb(&stored)), height: stored.height.get() }))
    }

    type GetBlockRangeStream = ReceiverStream<Result<pb::GetBlockRangeResponse, Status>>;

    async fn get_block_range(
        &self,
        request: Request<pb::GetBlockRangeRequest>,
    ) -> Result<Response<Self::GetBlockRangeStream>, Status> {
        let req = request.into_inner();
        if req.limit == 0 || req.limit > MAX_BLOCK_RANGE {
            return Err(Status::invalid_argument(format!("limit: {} is not in 1..={MAX_BLOCK_RANGE}", req.limit)));
        }
        // Blocks are read a few at a time so a range of large blocks never sits in memory whole.
        let (sender, receiver) = tokio::sync::mpsc::channel(RANGE_READ_CHUNK as usize);
        let ledger = Arc::clone(&self.ledger);
        let headers = range_request_extras(&req);
        let read_chunk = match headers {
            Some(HeaderExtras::None | HeaderExtras::Sizes) => HEADER_READ_CHUNK,
            Some(HeaderExtras::Hashes) | None => RANGE_READ_CHUNK,
        };
        tokio::spawn(async move {
            let mut next = req.from_height;
            let mut remaining = req.limit;
            while remaining > 0 {
                let chunk = remaining.min(read_chunk);
                let items = match headers {
                    Some(extras) => ledger
                        .header_range_with(Height(next), chunk, extras)
                        .await
                        .map(|h| h.iter().map(header_to_pb).collect()),
                    None => ledger
                        .block_range(Height(next), chunk)
                        .await
                        .map(|b| b.iter().map(range_item_to_pb).collect::<Vec<_>>()),
                };
                let items = match items {
                    Ok(items) => items,
                    Err(e) => {
                        let _ = sender.send(Err(Status::from(e))).await;
                        return;
                    }
                };
                let got = items.len() as u32;
                for item in items {
                    if sender.send(Ok(item)).await.is_err() {
                        return; // the client went away
                    }
                }
                if got < chunk {
                    return; // reached the tip
                }
                remaining -= got;
                next += u64::from(got);
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn get_transaction(
        &self,
        request: Request<pb::LedgerGetTransactionRequest>,
    ) -> Result<Response<pb::LedgerGetTransactionResponse>, Status> {
        let hash = convert::hash32(&request.into_inner().tx_hash, "tx_hash")?;
        let found = LedgerPort::transaction(&*self.ledger, &hash)
            .await?
            .ok_or_else(|| Status::not_found(format!("no finalized transaction has hash {hash}")))?;
        Ok(Response::new(pb::LedgerGetTransactionResponse { transaction: Some(indexed_to_pb(&found)) }))
    }

    async fn get_account(
        &self,
        request: Request<pb::LedgerGetAccountRequest>,
    ) -> Result<Response<pb::LedgerGetAccountResponse>, Status> {
        let address: PublicKey = convert::public_key(&request.into_inner().address, "address")?;
        let account = LedgerPort::account(&*self.ledger, &address).await?;
        Ok(Response::new(account_to_pb(&account)))
    }

    async fn get_account_history(
        &self,
        request: Request<pb::GetAccountHistoryRequest>,
    ) -> Result<Response<pb::GetAccountHistoryResponse>, Status> {
        let req = request.into_inner();
        let address = convert::public_key(&req.address, "address")?;
        let page = LedgerPort::account_history(&*self.ledger, &address, &req.page_token, req.limit).await?;
        Ok(Response::new(pb::GetAccountHistoryResponse {
            transactions: page.transactions.iter().map(indexed_to_pb).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn check_transactions(
        &self,
        request: Request<pb::CheckTransactionsRequest>,
    ) -> Result<Response<pb::CheckTransactionsResponse>, Status> {
        // A remote caller's transactions, which may not even convert: each malformed one is a
        // per-item MALFORMED verdict naming its field.
        let checked = self.ledger.check_transactions(request.into_inner().transactions).await?;
        Ok(Response::new(pb::CheckTransactionsResponse {
            results: checked.verdicts.iter().map(|v| checked_to_pb(&crate::port::checked(v))).collect(),
            height: checked.height.get(),
        }))
    }

    async fn execute_block(
        &self,
        request: Request<pb::ExecuteBlockRequest>,
    ) -> Result<Response<pb::ExecuteBlockResponse>, Status> {
        let req = request.into_inner();
        let (block, pb_block) = request_block(req.block.as_ref())?;
        if pb_block.work.is_some() {
            return Ok(Response::new(pb::ExecuteBlockResponse {
                valid: false,
                reason: pb::BlockRejectReason::BadWork.into(),
                message: work_rejection(),
                ..Default::default()
            }));
        }
        // Sealed once here, as a caller in the ledger's process seals it.
        let execution = LedgerPort::execute_block(&*self.ledger, &SealedBlock::seal(block), req.draft).await?;
        Ok(Response::new(execution_to_pb(&execution)))
    }

    async fn apply_block(
        &self,
        request: Request<pb::ApplyBlockRequest>,
    ) -> Result<Response<pb::ApplyBlockResponse>, Status> {
        let req = request.into_inner();
        let (block, pb_block) = request_block(req.block.as_ref())?;
        let certificate = pb_block
            .commit_certificate
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("block.commit_certificate: is required"))?;
        let certificate =
            CommitCertificate::try_from(certificate).map_err(|e| Status::from(e.within("block.commit_certificate")))?;
        if pb_block.work.is_some() {
            return Err(LedgerError::InvalidBlock {
                height: block.header.block_index,
                hash: block.hash(),
                source: InvalidBlockError::Work,
            }
            .into());
        }
        let applied = LedgerPort::apply_block(&*self.ledger, &SealedBlock::seal(block), &certificate).await?;
        Ok(Response::new(applied_to_pb(&applied)))
    }

    async fn record_evidence(
        &self,
        request: Request<pb::RecordEvidenceRequest>,
    ) -> Result<Response<pb::RecordEvidenceResponse>, Status> {
        let req = request.into_inner();
        if req.evidence.len() > crate::ledger::MAX_EVIDENCE_BYTES {
            return Err(Status::invalid_argument(format!(
                "evidence: {} bytes, at most {}",
                req.evidence.len(),
                crate::ledger::MAX_EVIDENCE_BYTES
            )));
        }
        let evidence = coinjecture_primitives::Evidence::decode(&req.evidence)
            .map_err(|e| Status::invalid_argument(format!("evidence: {e}")))?;
        let recorded = LedgerPort::record_evidence(&*self.ledger, &evidence, UnixMillis(req.detected_at_ms)).await?;
        Ok(Response::new(pb::RecordEvidenceResponse { recorded }))
    }

    async fn list_recorded_evidence(
        &self,
        request: Request<pb::ListRecordedEvidenceRequest>,
    ) -> Result<Response<pb::ListRecordedEvidenceResponse>, Status> {
        let records = LedgerPort::recorded_evidence(&*self.ledger, request.into_inner().limit).await?;
        Ok(Response::new(pb::ListRecordedEvidenceResponse {
            records: records
                .into_iter()
                .map(|(e, at)| pb::RecordedEvidence { evidence: e.encode(), detected_at_ms: at.get() })
                .collect(),
        }))
    }
}

/// Serves Ledger, gRPC health and reflection on `listener` until `shutdown` completes.
pub async fn serve(
    ledger: Arc<Ledger>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<LedgerServer<LedgerService>>().await;
    let reflection = coinjecture_proto::server::reflection(&[coinjecture_proto::v1::ledger_server::SERVICE_NAME]);
    let local: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(addr = ?local, path = %ledger.path().display(), "ledger serving gRPC (Ledger, health, reflection)");
    coinjecture_proto::server::builder()
        .add_service(health_service)
        .add_optional_service(reflection)
        .add_service(LedgerService::new(ledger).into_server())
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}
