//! The gateway over a `RemoteLedger` against a mock Ledger gRPC server on a real socket: split,
//! it serves sync from `Ledger.GetBlockRange` through the ledger's port.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use coinjecture_primitives::Height;
use coinjecture_proto::ports::ledger::{LedgerPort, RemoteLedger};
use coinjecture_proto::v1::{self as pb, ledger_server::Ledger, ledger_server::LedgerServer};
use futures::{Stream, StreamExt};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use crate::support::*;
use crate::sync::chain;

/// Answers GetBlockRange from a fixed chain; every other RPC is unimplemented.
struct MockLedger {
    blocks: Vec<pb::Block>,
}

#[tonic::async_trait]
impl Ledger for MockLedger {
    async fn get_genesis(&self, _: Request<pb::GetGenesisRequest>) -> Result<Response<pb::GetGenesisResponse>, Status> {
        Err(Status::unimplemented("get_genesis"))
    }

    async fn get_chain_info(
        &self,
        _: Request<pb::GetChainInfoRequest>,
    ) -> Result<Response<pb::GetChainInfoResponse>, Status> {
        Err(Status::unimplemented("get_chain_info"))
    }

    async fn get_block_by_height(
        &self,
        _: Request<pb::GetBlockByHeightRequest>,
    ) -> Result<Response<pb::GetBlockByHeightResponse>, Status> {
        Err(Status::unimplemented("get_block_by_height"))
    }

    async fn get_block_by_hash(
        &self,
        _: Request<pb::GetBlockByHashRequest>,
    ) -> Result<Response<pb::GetBlockByHashResponse>, Status> {
        Err(Status::unimplemented("get_block_by_hash"))
    }

    async fn get_transaction(
        &self,
        _: Request<pb::LedgerGetTransactionRequest>,
    ) -> Result<Response<pb::LedgerGetTransactionResponse>, Status> {
        Err(Status::unimplemented("get_transaction"))
    }

    async fn get_account(
        &self,
        _: Request<pb::LedgerGetAccountRequest>,
    ) -> Result<Response<pb::LedgerGetAccountResponse>, Status> {
        Err(Status::unimplemented("get_account"))
    }

    async fn get_account_history(
        &self,
        _: Request<pb::GetAccountHistoryRequest>,
    ) -> Result<Response<pb::GetAccountHistoryResponse>, Status> {
        Err(Status::unimplemented("get_account_history"))
    }

    async fn check_transactions(
        &self,
        _: Request<pb::CheckTransactionsRequest>,
    ) -> Result<Response<pb::CheckTransactionsResponse>, Status> {
        Err(Status::unimplemented("check_transactions"))
    }

    async fn execute_block(
        &self,
        _: Request<pb::ExecuteBlockRequest>,
    ) -> Result<Response<pb::ExecuteBlockResponse>, Status> {
        Err(Status::unimplemented("execute_block"))
    }

    async fn apply_block(&self, _: Request<pb::ApplyBlockRequest>) -> Result<Response<pb::ApplyBlockResponse>, Status> {
        Err(Status::unimplemented("apply_block"))
    }

    type GetBlockRangeStream = Pin<Box<dyn Stream<Item = Result<pb::GetBlockRangeResponse, Status>> + Send>>;

    async fn get_block_range(
        &self,
        request: Request<pb::GetBlockRangeRequest>,
    ) -> Result<Response<Self::GetBlockRangeStream>, Status> {
        let req = request.into_inner();
        if req.limit == 0 || req.limit > 1000 {
            return Err(Status::invalid_argument("limit"));
        }
        let items: Vec<_> = self
            .blocks
            .iter()
            .filter(|b| b.header.as_ref().is_some_and(|h| h.block_index >= req.from_height))
            .take(req.limit as usize)
            .map(|b| {
                Ok(pb::GetBlockRangeResponse { block: Some(b.clone()), block_hash: vec![0; 32], ..Default::default() })
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(items))))
    }

    async fn record_evidence(
        &self,
        _: Request<pb::RecordEvidenceRequest>,
    ) -> Result<Response<pb::RecordEvidenceResponse>, Status> {
        Err(Status::unimplemented("record_evidence"))
    }

    async fn list_recorded_evidence(
        &self,
        _: Request<pb::ListRecordedEvidenceRequest>,
    ) -> Result<Response<pb::ListRecordedEvidenceResponse>, Status> {
        Err(Status::unimplemented("list_recorded_evidence"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_serves_sync_from_the_ledger_over_grpc() {
    init_tracing();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(LedgerServer::new(MockLedger { blocks: chain(120) }))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let source = RemoteLedger::connect(endpoint);
    assert_eq!(source.blocks(Height(100), 50, usize::MAX).await.unwrap().len(), 21);
    assert_eq!(source.blocks(Height(1), 50, 1).await.unwrap().len(), 1, "byte budget");
    assert!(source.blocks(Height(500), 10, usize::MAX).await.unwrap().is_empty());

    let server = TestNode::start_with(config(NET, 1, vec![]), Arc::new(source)).await;
    let client = TestNode::start(config(NET, 2, vec![server.addr.clone()])).await;
    wait_until(Duration::from_secs(10), "connected", || async { peer_count(&client).await == 1 }).await;
    let blocks: Vec<_> = client.handle.request_blocks(1, 1000, None).await.unwrap().collect().await;
    assert_eq!(blocks.len(), 120);
    assert_eq!(blocks[119].block.header.as_ref().unwrap().block_index, 120);
}
