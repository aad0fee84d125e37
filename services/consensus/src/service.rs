//! Consensus as a service: the running driver ([`DriverHandle`]) implements the consensus port
//! ([`ConsensusPort`]), which the api calls directly in one process and the `Consensus` gRPC
//! server ([`ConsensusGrpc`], in `coinjecture_proto::ports::consensus` with the wire
//! conversions) serves to a split deployment. [`run`] starts the service the same way in both.

use std::sync::Arc;
use std::time::Duration;

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_proto::ports::gateway::GatewayPort;
use coinjecture_proto::ports::ledger::LedgerPort;

use coinjecture_primitives::{Height, SealedTransaction};
use coinjecture_proto::ports::consensus::{
    ConsensusError, ConsensusGrpc, ConsensusPort, ConsensusStatus, EvidencePage, MAX_EVIDENCE_PAGE, MempoolStats,
    RoundStep, SubmitResult, ValidatorSetAt,
};
use coinjecture_proto::v1::consensus_server::ConsensusServer;

use crate::driver::{self, DriverConfig, DriverError, DriverHandle};
use crate::engine::Step;
use crate::gossip::{self, GossipCheck};

/// A running consensus service (see [`run`]).
#[derive(Debug)]
pub struct Running {
    /// The driver: the consensus port, status and submissions.
    pub handle: DriverHandle,
    /// The driver's task; it ends with an error only when the ledger or a safety file fails.
    pub driver: tokio::task::JoinHandle<Result<(), DriverError>>,
    /// The inbound gossip loop (validated gossip → the driver).
    pub gossip_in: tokio::task::JoinHandle<()>,
}

/// Inbound gossip waiting for the driver (a burst of transaction batches, votes and proposals).
const INBOX: usize = 16_384;

/// Starts the consensus service, the same in one process and split; only the objects behind the
/// ports differ. It subscribes to validated gossip through `gateway` first (nothing is missed
/// while the driver starts), waits up to `ledger_wait` for the ledger to answer (a split ledger
/// may still be starting), then starts the driver, which publishes through `network` (the
/// gateway itself, or a wrapper of it) and reads and writes the chain through `ledger`.
pub async fn run<N: GatewayPort>(
    config: DriverConfig,
    key: Keypair,
    ledger: Arc<dyn LedgerPort>,
    gateway: Arc<dyn GatewayPort>,
    network: N,
    ledger_wait: Duration,
) -> Result<Running, DriverError> {
    let (inbound_tx, inbound_rx) = tokio::sync::mpsc::channel(INBOX);
    let (status_ready, status_rx) = tokio::sync::oneshot::channel();
    let check = GossipCheck::for_ledger(config.engine.chain_id.clone(), config.schedule.clone(), ledger.as_ref());
    let gossip_in = tokio::spawn(gossip::forward(gateway, check, status_rx, inbound_tx));
    let deadline = tokio::time::Instant::now() + ledger_wait;
    while let Err(e) = ledger.tip().await {
        if tokio::time::Instant::now() >= deadline {
            gossip_in.abort();
            return Err(DriverError::LedgerUnreachable(e));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (handle, driver) = match driver::start(config, key, ledger, network, inbound_rx).await {
        Ok(started) => started,
        Err(e) => {
            gossip_in.abort();
            return Err(e);
        }
    };
    let _ = status_ready.send((handle.watch(), handle.gossip_shed()));
    Ok(Running { handle, driver, gossip_in })
}

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
        let set = self.schedule.at(s.height.max(Height(1)));
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

    async fn validator_set(&self, height: Option<Height>) -> Result<ValidatorSetAt, ConsensusError> {
        let height = height.unwrap_or_else(|| DriverHandle::status(self).height.max(Height(1)));
        if height == Height(0) {
            return Err(ConsensusError::InvalidArgument("height: validator sets start at height 1".into()));
        }
        let activation_height =
            self.schedule.entries().iter().rev().find(|(h, _)| *h <= height).map_or(Height(1), |(h, _)| *h);
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
