//! Consensus as a service: the running driver ([`DriverHandle`]) implements the consensus port
//! ([`ConsensusPort`]), which the api calls directly in one process and the `Consensus` gRPC
//! server ([`ConsensusGrpc`], in `coinjecture_proto::ports::consensus` with the wire
//! conversions) serves to a split deployment.

use std::sync::Arc;

use coinjecture_primitives::{BlockHeight, SealedTransaction};
use coinjecture_proto::ports::consensus::{
    ConsensusError, ConsensusGrpc, ConsensusPort, ConsensusStatus, EvidencePage, MAX_EVIDENCE_PAGE, MempoolStats,
    RoundStep, SubmitResult, ValidatorSetAt,
};
use coinjecture_proto::v1::consensus_server::ConsensusServer;

use crate::driver::DriverHandle;
use crate::engine::Step;

/// The `Consensus` gRPC server over a running driver.
pub fn server(handle: DriverHandle) -> ConsensusServer<ConsensusGrpc> {
    ConsensusGrpc(Arc::new(handle)).into_server()
}

#[tonic::async_trait]
impl ConsensusPort for DriverHandle {
    async fn submit(&self, transactions: Vec<SealedTransaction>) -> Result<Vec<SubmitResult>, ConsensusError> {
        if transactions.len() > coinjecture_primitives::limits::MAX_BATCH_ITEMS {
            return Err(ConsensusError::InvalidArgument(format!(
                "transactions: {} items exceed the maximum {}",
                transactions.len(),
                coinjecture_primitives::limits::MAX_BATCH_ITEMS
            )));
        }
        DriverHandle::submit(self, transactions).await
    }

    async fn status(&self) -> Result<ConsensusStatus, ConsensusError> {
        let s = DriverHandle::status(self);
        let set = self.schedule.at(s.height.max(1));
        let step = match s.step {
            Some(Step::Propose) => Some(RoundStep::Propose),
            Some(Step::Prevote) => Some(RoundStep::Prevote),
            Some(Step::Precommit) => Some(RoundStep::Precommit),
            None => None,
        };
        Ok(ConsensusStatus {
            chain_id: self.chain_id.clone(),
            finalized_height: s.finalized_height,
            finalized_hash: s.finalized_hash,
            height: s.height,
            round: s.round,
            step,
            proposer: s.proposer,
            local_validator: set.contains(&self.local_validator).then_some(self.local_validator),
            syncing: s.syncing,
            mempool_size: s.mempool_size as u64,
            quorum_mode: set.mode(),
            validator_count: set.len() as u32,
            signing_paused: s.signing_paused,
        })
    }

    async fn validator_set(&self, height: Option<BlockHeight>) -> Result<ValidatorSetAt, ConsensusError> {
        let height = height.unwrap_or_else(|| DriverHandle::status(self).height.max(1));
        if height == 0 {
            return Err(ConsensusError::InvalidArgument("height: validator sets start at height 1".into()));
        }
        let activation_height = self.schedule.entries().iter().rev().find(|(h, _)| *h <= height).map_or(1, |(h, _)| *h);
        Ok(ValidatorSetAt { height, activation_height, set: self.schedule.at(height).clone() })
    }

    async fn evidence(&self, offset: u64, limit: u32) -> Result<EvidencePage, ConsensusError> {
        let all = DriverHandle::evidence(self).await?;
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let limit = limit.clamp(1, MAX_EVIDENCE_PAGE) as usize;
        let records: Vec<_> = all.iter().skip(offset).take(limit).cloned().collect();
        let next = offset.saturating_add(records.len());
        Ok(EvidencePage { records, next: (next < all.len()).then_some(next as u64) })
    }

    async fn mempool_stats(&self) -> Result<MempoolStats, ConsensusError> {
        let s = DriverHandle::status(self);
        Ok(MempoolStats {
            transaction_count: s.mempool_size as u64,
            future_count: 0,
            size_bytes: s.mempool_bytes as u64,
            sender_count: s.mempool_senders as u64,
            capacity_transactions: self.mempool_config.max_transactions as u64,
            capacity_bytes: self.mempool_config.max_bytes as u64,
            oldest_age_ms: 0,
        })
    }
}
