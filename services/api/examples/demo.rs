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

use coinjecture_api::{ApiConfig, Backends};
use coinjecture_ledger::Ledger;
use coinjecture_ledger::test_utils::{TestChain, local_crypto};
use coinjecture_primitives::validators::{QuorumMode, ValidatorSet};
use coinjecture_primitives::{ChainId, Hash32, Height, PublicKey, Round, SealedTransaction};
use coinjecture_proto::ports::consensus::{
    ConsensusError, ConsensusPort, ConsensusStatus, EvidencePage, MempoolStats, SubmitResult, ValidatorSetAt,
};

/// Accepts every well-formed transaction (and forgets it).
#[derive(Debug)]
struct StandInConsensus {
    validator: PublicKey,
    chain_id: ChainId,
}

#[tonic::async_trait]
impl ConsensusPort for StandInConsensus {
    async fn submit(&self, txs: Vec<SealedTransaction>) -> Result<Vec<SubmitResult>, ConsensusError> {
        Ok(txs.iter().map(|t| SubmitResult { tx_hash: t.hash(), outcome: Ok(()) }).collect())
    }
    async fn status(&self) -> Result<ConsensusStatus, ConsensusError> {
        Ok(ConsensusStatus {
            chain_id: self.chain_id.clone(),
            finalized_height: Height(0),
            finalized_hash: Hash32::ZERO,
            height: Height(1),
            round: Round(0),
            step: None,
            proposer: None,
            local_validator: Some(self.validator),
            syncing: false,
            mempool_size: 0,
            quorum_mode: QuorumMode::Crash,
            validator_count: 1,
            signing_paused: None,
        })
    }
    async fn validator_set(&self, height: Option<Height>) -> Result<ValidatorSetAt, ConsensusError> {
        Ok(ValidatorSetAt {
            height: Height(height.unwrap_or(Height(1)).get()),
            activation_height: Height(1),
            set: ValidatorSet::new(vec![self.validator], QuorumMode::Crash).unwrap(),
        })
    }
    async fn evidence(&self, _offset: u64, _limit: u32) -> Result<EvidencePage, ConsensusError> {
        Ok(EvidencePage::default())
    }
    async fn mempool_stats(&self) -> Result<MempoolStats, ConsensusError> {
        Ok(MempoolStats::default())
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
    let consensus = StandInConsensus { validator: chain.proposer, chain_id: chain.genesis.chain_id.clone() };
    let backends = Backends::new(ledger.clone(), consensus);

    let grower = Arc::clone(&ledger);
    tokio::spawn(async move {
        loop {
            let height = chain.tip().height.get();
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
    coinjecture_api::run(config, backends, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .unwrap();
}
