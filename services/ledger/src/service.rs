//! The `Ledger` gRPC service: the generated trait implemented over a [`Ledger`], and [`serve`]
//! (with gRPC health and reflection). [`LedgerService`] is also the in-process handle: call its
//! trait methods directly with `tonic::Request::new(..)`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use coinjecture_primitives::limits::MAX_MESSAGE_BYTES;
use coinjecture_primitives::validators::QuorumMode;
use coinjecture_primitives::{Block, CommitCertificate, PublicKey};
use coinjecture_proto::convert;
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::ledger_server::{Ledger as LedgerRpc, LedgerServer};
use tokio::net::TcpListener;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status};

use crate::error::LedgerError;
use crate::execute::TxVerdict;
use crate::ledger::{BlockExecution, DEFAULT_HISTORY_PAGE, HistoryCursor, Ledger, MAX_BLOCK_RANGE, MAX_HISTORY_PAGE};
use crate::store::{HeaderExtras, IndexedTransaction, StoredBlock, StoredHeader};

/// Blocks read per database query while streaming a range.
const RANGE_READ_CHUNK: u32 = 8;
/// Headers read per database query while streaming a headers-only range (a header row is a few
/// hundred bytes plus its certificate).
const HEADER_READ_CHUNK: u32 = 100;

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

fn block_to_pb(stored: &StoredBlock) -> pb::Block {
    let mut block = pb::Block::from(&stored.block);
    block.commit_certificate = stored.certificate.as_ref().map(Into::into);
    block
}

fn range_item(stored: &StoredBlock) -> pb::GetBlockRangeResponse {
    pb::GetBlockRangeResponse {
        block: Some(block_to_pb(stored)),
        block_hash: stored.hash.0.to_vec(),
        transaction_count: u32::try_from(stored.block.transactions.len()).unwrap_or(u32::MAX),
        transaction_hashes: Vec::new(),
        transactions_bytes: 0,
    }
}

/// A headers-only range item: the block without its transactions.
fn header_to_pb(stored: &StoredHeader) -> pb::GetBlockRangeResponse {
    let block = pb::Block {
        header: Some((&stored.header).into()),
        transactions: Vec::new(),
        commit_certificate: stored.certificate.as_ref().map(Into::into),
        work: None,
    };
    pb::GetBlockRangeResponse {
        block: Some(block),
        block_hash: stored.hash.0.to_vec(),
        transaction_count: stored.transaction_count,
        transaction_hashes: stored.transaction_hashes.iter().flatten().map(|h| h.0.to_vec()).collect(),
        transactions_bytes: stored.transactions_bytes.unwrap_or(0),
    }
}

fn indexed_to_pb(t: &IndexedTransaction) -> pb::IndexedTransaction {
    pb::IndexedTransaction {
        transaction: Some((&t.transaction).into()),
        tx_hash: t.tx_hash.0.to_vec(),
        block_height: t.block_height,
        block_hash: t.block_hash.0.to_vec(),
        index: t.index,
    }
}

fn verdict_to_pb(v: &TxVerdict) -> pb::TransactionResult {
    pb::TransactionResult {
        tx_hash: v.tx_hash.map(|h| h.0.to_vec()).unwrap_or_default(),
        accepted: v.accepted(),
        reason: v.rejection.as_ref().map_or(pb::TxRejectReason::Unspecified, |r| r.reason).into(),
        message: v.rejection.as_ref().map(|r| r.message.clone()).unwrap_or_default(),
    }
}

fn execution_to_pb(e: &BlockExecution) -> pb::ExecuteBlockResponse {
    pb::ExecuteBlockResponse {
        valid: e.is_valid(),
        reason: e.rejection.as_ref().map_or(pb::BlockRejectReason::Unspecified, |r| r.reason).into(),
        message: e.rejection.as_ref().map(|r| r.message.clone()).unwrap_or_default(),
        state_commitment: e.state_commitment.map(|h| h.0.to_vec()).unwrap_or_default(),
        merkle_root: e.merkle_root.map(|h| h.0.to_vec()).unwrap_or_default(),
        results: e.verdicts.iter().map(verdict_to_pb).collect(),
    }
}

/// The block of a request (`block`, `block.header` named when missing or malformed).
fn request_block(block: Option<&pb::Block>) -> Result<(Block, &pb::Block), Status> {
    let pb_block = block.ok_or_else(|| Status::invalid_argument("block: is required"))?;
    let block = Block::try_from(pb_block).map_err(|e| Status::from(e.within("block")))?;
    Ok((block, pb_block))
}

fn work_rejection() -> String {
    "block.work: this ledger does not accept blocks carrying subset-sum work yet".into()
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
                activation_height: *activation,
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
        let info = self.ledger.chain_info().await?;
        Ok(Response::new(pb::GetChainInfoResponse {
            chain_id: info.chain_id.to_string(),
            genesis_hash: info.genesis_hash.0.to_vec(),
            tip_height: info.tip.height,
            tip_hash: info.tip.hash.0.to_vec(),
            tip_timestamp: info.tip.timestamp_ms.div_euclid(1000),
            state_commitment: info.tip.state_commitment.0.to_vec(),
        }))
    }

    async fn get_block_by_height(
        &self,
        request: Request<pb::GetBlockByHeightRequest>,
    ) -> Result<Response<pb::GetBlockByHeightResponse>, Status> {
        let height = request.into_inner().height;
        let stored = self
            .ledger
            .block_by_height(height)
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
        let stored = self
            .ledger
            .block_by_hash(&hash)
            .await?
            .ok_or_else(|| Status::not_found(format!("no finalized block has hash {hash}")))?;
        Ok(Response::new(pb::GetBlockByHashResponse { block: Some(block_to_pb(&stored)), height: stored.height }))
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
        let headers_only = req.headers_only;
        let hashes = req.headers_only && req.with_transaction_hashes;
        let extras = match (hashes, req.with_transactions_bytes) {
            (true, _) => HeaderExtras::Hashes,
            (false, true) => HeaderExtras::Sizes,
            (false, false) => HeaderExtras::None,
        };
        let read_chunk = if headers_only && !hashes { HEADER_READ_CHUNK } else { RANGE_READ_CHUNK };
        tokio::spawn(async move {
            let mut next = req.from_height;
            let mut remaining = req.limit;
            while remaining > 0 {
                let chunk = remaining.min(read_chunk);
                let items = if headers_only {
                    ledger.header_range_with(next, chunk, extras).await.map(|h| h.iter().map(header_to_pb).collect())
                } else {
                    ledger.block_range(next, chunk).await.map(|b| b.iter().map(range_item).collect::<Vec<_>>())
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
        let found = self
            .ledger
            .transaction(&hash)
            .await?
            .ok_or_else(|| Status::not_found(format!("no finalized transaction has hash {hash}")))?;
        Ok(Response::new(pb::LedgerGetTransactionResponse { transaction: Some(indexed_to_pb(&found)) }))
    }

    async fn get_account(
        &self,
        request: Request<pb::LedgerGetAccountRequest>,
    ) -> Result<Response<pb::LedgerGetAccountResponse>, Status> {
        let address: PublicKey = convert::public_key(&request.into_inner().address, "address")?;
        let (account, height) = self.ledger.account(&address).await?;
        Ok(Response::new(pb::LedgerGetAccountResponse {
            account: Some(pb::Account { address: address.0.to_vec(), balance: account.balance, nonce: account.nonce }),
            height,
        }))
    }

    async fn get_account_history(
        &self,
        request: Request<pb::GetAccountHistoryRequest>,
    ) -> Result<Response<pb::GetAccountHistoryResponse>, Status> {
        let req = request.into_inner();
        let address = convert::public_key(&req.address, "address")?;
        let limit = match req.limit {
            0 => DEFAULT_HISTORY_PAGE,
            n if n > MAX_HISTORY_PAGE => {
                return Err(Status::invalid_argument(format!("limit: {n} exceeds the maximum {MAX_HISTORY_PAGE}")));
            }
            n => n,
        };
        let cursor = if req.page_token.is_empty() { None } else { Some(HistoryCursor::from_token(&req.page_token)?) };
        let page = self.ledger.account_history(&address, cursor, limit).await?;
        Ok(Response::new(pb::GetAccountHistoryResponse {
            transactions: page.transactions.iter().map(indexed_to_pb).collect(),
            next_page_token: page.next.map(HistoryCursor::to_token).unwrap_or_default(),
        }))
    }

    async fn check_transactions(
        &self,
        request: Request<pb::CheckTransactionsRequest>,
    ) -> Result<Response<pb::CheckTransactionsResponse>, Status> {
        // One process: consensus hands over the transactions it sealed (no second hash).
        let sealed = coinjecture_proto::sealed::sealed_batch(&request, request.get_ref().transactions.len())?.cloned();
        let checked = match sealed {
            Some(batch) => self.ledger.check_sealed(&batch.0).await?,
            None => self.ledger.check_transactions(request.into_inner().transactions).await?,
        };
        Ok(Response::new(pb::CheckTransactionsResponse {
            results: checked.verdicts.iter().map(verdict_to_pb).collect(),
            height: checked.height,
        }))
    }

    async fn execute_block(
        &self,
        request: Request<pb::ExecuteBlockRequest>,
    ) -> Result<Response<pb::ExecuteBlockResponse>, Status> {
        let sealed = request.extensions().get::<coinjecture_proto::sealed::SealedBatch>().cloned();
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
        // One process: the proposer hands over its block's transactions sealed (no second hash).
        let execution = match sealed {
            Some(batch) => self.ledger.execute_block_sealed(&block, batch.0, req.draft).await?,
            None => self.ledger.execute_block(&block, req.draft).await?,
        };
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
                reason: work_rejection(),
            }
            .into());
        }
        let applied = self.ledger.apply_block(&block, &certificate).await?;
        Ok(Response::new(pb::ApplyBlockResponse {
            tip_height: applied.tip.height,
            tip_hash: applied.tip.hash.0.to_vec(),
            state_commitment: applied.tip.state_commitment.0.to_vec(),
            already_applied: applied.already_applied,
        }))
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
        let recorded = self.ledger.record_evidence(&evidence, req.detected_at_ms).await?;
        Ok(Response::new(pb::RecordEvidenceResponse { recorded }))
    }

    async fn list_recorded_evidence(
        &self,
        request: Request<pb::ListRecordedEvidenceRequest>,
    ) -> Result<Response<pb::ListRecordedEvidenceResponse>, Status> {
        let records = self.ledger.recorded_evidence(request.into_inner().limit).await?;
        Ok(Response::new(pb::ListRecordedEvidenceResponse {
            records: records
                .into_iter()
                .map(|(e, at)| pb::RecordedEvidence { evidence: e.encode(), detected_at_ms: at })
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
