//! The ledger reads the API answers from, as the wire messages its responses are built of.
//!
//! The API holds the ledger as `Arc<dyn LedgerPort>` (the ledger itself in one process, a
//! `RemoteLedger` split); [`LedgerView`] turns the port's domain values into the protobuf the
//! `PublicApi` and REST answers embed, with the port's own conversions
//! (`coinjecture_proto::ports::ledger`), and its errors into statuses.

use coinjecture_primitives::Height;
use coinjecture_proto::convert;
use coinjecture_proto::ports::ledger::{
    LedgerPort, account_to_pb, block_to_pb, chain_info_to_pb, header_to_pb, indexed_to_pb, range_item_to_pb,
    range_request_extras,
};
use coinjecture_proto::v1 as pb;
use tonic::Status;

/// The API's reads of the ledger, in wire shapes (see the module documentation).
#[tonic::async_trait]
pub(crate) trait LedgerView {
    async fn get_chain_info(&self) -> Result<pb::GetChainInfoResponse, Status>;
    async fn get_block_by_height(&self, height: u64) -> Result<pb::GetBlockByHeightResponse, Status>;
    async fn get_block_by_hash(&self, block_hash: Vec<u8>) -> Result<pb::GetBlockByHashResponse, Status>;
    /// A range, collected (the API asks for at most 100 blocks; listings of headers ask with
    /// `headers_only`).
    async fn get_block_range(
        &self,
        request: pb::GetBlockRangeRequest,
    ) -> Result<Vec<pb::GetBlockRangeResponse>, Status>;
    async fn get_transaction(&self, tx_hash: Vec<u8>) -> Result<pb::LedgerGetTransactionResponse, Status>;
    async fn get_account(&self, address: Vec<u8>) -> Result<pb::LedgerGetAccountResponse, Status>;
    async fn get_account_history(
        &self,
        request: pb::GetAccountHistoryRequest,
    ) -> Result<pb::GetAccountHistoryResponse, Status>;
}

#[tonic::async_trait]
impl LedgerView for dyn LedgerPort {
    async fn get_chain_info(&self) -> Result<pb::GetChainInfoResponse, Status> {
        Ok(chain_info_to_pb(&self.chain_info().await?))
    }

    async fn get_block_by_height(&self, height: u64) -> Result<pb::GetBlockByHeightResponse, Status> {
        let stored = self
            .block_by_height(Height(height))
            .await?
            .ok_or_else(|| Status::not_found(format!("no finalized block at height {height}")))?;
        Ok(pb::GetBlockByHeightResponse { block: Some(block_to_pb(&stored)), block_hash: stored.hash.0.to_vec() })
    }

    async fn get_block_by_hash(&self, block_hash: Vec<u8>) -> Result<pb::GetBlockByHashResponse, Status> {
        let hash = convert::hash32(&block_hash, "block_hash")?;
        let stored = self
            .block_by_hash(&hash)
            .await?
            .ok_or_else(|| Status::not_found(format!("no finalized block has hash {hash}")))?;
        Ok(pb::GetBlockByHashResponse { block: Some(block_to_pb(&stored)), height: stored.height.get() })
    }

    async fn get_block_range(
        &self,
        request: pb::GetBlockRangeRequest,
    ) -> Result<Vec<pb::GetBlockRangeResponse>, Status> {
        Ok(match range_request_extras(&request) {
            Some(extras) => self
                .headers(Height(request.from_height), request.limit, extras)
                .await?
                .iter()
                .map(header_to_pb)
                .collect(),
            None => self
                .blocks(Height(request.from_height), request.limit, usize::MAX)
                .await?
                .iter()
                .map(range_item_to_pb)
                .collect(),
        })
    }

    async fn get_transaction(&self, tx_hash: Vec<u8>) -> Result<pb::LedgerGetTransactionResponse, Status> {
        let hash = convert::hash32(&tx_hash, "tx_hash")?;
        let found = self
            .transaction(&hash)
            .await?
            .ok_or_else(|| Status::not_found(format!("no finalized transaction has hash {hash}")))?;
        Ok(pb::LedgerGetTransactionResponse { transaction: Some(indexed_to_pb(&found)) })
    }

    async fn get_account(&self, address: Vec<u8>) -> Result<pb::LedgerGetAccountResponse, Status> {
        let address = convert::public_key(&address, "address")?;
        Ok(account_to_pb(&self.account(&address).await?))
    }

    async fn get_account_history(
        &self,
        request: pb::GetAccountHistoryRequest,
    ) -> Result<pb::GetAccountHistoryResponse, Status> {
        let address = convert::public_key(&request.address, "address")?;
        let page = self.account_history(&address, &request.page_token, request.limit).await?;
        Ok(pb::GetAccountHistoryResponse {
            transactions: page.transactions.iter().map(indexed_to_pb).collect(),
            next_page_token: page.next_page_token,
        })
    }
}
