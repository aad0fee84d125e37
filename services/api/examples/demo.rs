//! The API over a throw-away chain, for looking at the explorer or trying requests without a
//! node: a real SQLite ledger that grows by one block (with a few transfers) every 2 s, and a
//! stand-in consensus that accepts well-formed transactions without keeping them.
//!
//! ```sh
//! cargo run -p coinjecture-api --example demo -- 127.0.0.1:8080
//! # then open http://127.0.0.1:8080/ or: curl http://127.0.0.1:8080/v1/status
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a demo: a panic is the report")]

use std::sync::Arc;
use std::time::Duration;

use coinjecture_api::{ApiConfig, Backends, InProcess};
use coinjecture_ledger::Ledger;
use coinjecture_ledger::test_utils::{TestChain, local_crypto};
use coinjecture_primitives::Transaction;
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::consensus_server::Consensus;
use tonic::{Request, Response, Status};

/// Accepts every well-formed transaction (and forgets it).
#[derive(Debug)]
struct StandInConsensus {
    validator: Vec<u8>,
}

#[tonic::async_trait]
impl Consensus for StandInConsensus {
    async fn submit_transactions(
        &self,
        request: Request<pb::ConsensusSubmitTransactionsRequest>,
    ) -> Result<Response<pb::ConsensusSubmitTransactionsResponse>, Status> {
        let results = request
            .into_inner()
            .transactions
            .iter()
            .map(|tx| match Transaction::try_from(tx) {
                Ok(t) => pb::TransactionResult { tx_hash: t.hash().0.to_vec(), accepted: true, ..Default::default() },
                Err(e) => pb::TransactionResult {
                    reason: pb::TxRejectReason::Malformed.into(),
                    message: e.to_string(),
                    ..Default::default()
                },
            })
            .collect();
        Ok(Response::new(pb::ConsensusSubmitTransactionsResponse { results }))
    }
    async fn get_status(
        &self,
        _: Request<pb::ConsensusGetStatusRequest>,
    ) -> Result<Response<pb::ConsensusGetStatusResponse>, Status> {
        Ok(Response::new(pb::ConsensusGetStatusResponse {
            local_validator: self.validator.clone(),
            ..Default::default()
        }))
    }
    async fn get_validator_set(
        &self,
        request: Request<pb::GetValidatorSetRequest>,
    ) -> Result<Response<pb::GetValidatorSetResponse>, Status> {
        Ok(Response::new(pb::GetValidatorSetResponse {
            validator_set: Some(pb::ValidatorSet {
                validators: vec![pb::ValidatorInfo { public_key: self.validator.clone(), ..Default::default() }],
                activation_height: 1,
                quorum_mode: pb::QuorumMode::Crash.into(),
            }),
            height: request.into_inner().height.unwrap_or(1),
        }))
    }
    async fn list_evidence(
        &self,
        _: Request<pb::ListEvidenceRequest>,
    ) -> Result<Response<pb::ListEvidenceResponse>, Status> {
        Ok(Response::new(pb::ListEvidenceResponse::default()))
    }
    async fn get_mempool_stats(
        &self,
        _: Request<pb::GetMempoolStatsRequest>,
    ) -> Result<Response<pb::GetMempoolStatsResponse>, Status> {
        Ok(Response::new(pb::GetMempoolStatsResponse::default()))
    }
}

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".into());
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new("coinjecture-demo", 4, 1_000_000_000);
    let ledger = Arc::new(
        Ledger::open(dir.path().join("demo.db"), chain.genesis.clone(), chain.validators(), local_crypto())
            .await
            .unwrap(),
    );
    let consensus = StandInConsensus { validator: chain.proposer.0.to_vec() };
    let backends = Backends::new(ledger.clone(), InProcess(Arc::new(consensus)));

    let grower = Arc::clone(&ledger);
    tokio::spawn(async move {
        loop {
            let height = chain.tip().height;
            let txs = (0..(height % 4) as usize)
                .map(|i| chain.next_transfer(i, chain.accounts[(i + 1) % 4], 1_000 + height))
                .collect::<Vec<_>>();
            // Next-nonce transfers from distinct senders: all valid in one block.
            let block = chain.push(txs);
            grower.apply_block(&block, &chain.certificate(&block)).await.unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });

    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    println!("explorer: http://{}/", listener.local_addr().unwrap());
    let config = ApiConfig { network_label: Some("demo".into()), ..ApiConfig::default() };
    coinjecture_api::serve(config, backends, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .unwrap();
}
