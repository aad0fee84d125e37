//! The `Consensus` gRPC service: submit transactions, status, validator sets, evidence, mempool
//! statistics — a thin layer over a running driver's [`DriverHandle`].

use coinjecture_primitives::limits::MAX_BATCH_ITEMS;
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::consensus_server::{Consensus, ConsensusServer};
use tonic::{Request, Response, Status};

use crate::driver::DriverHandle;
use crate::engine::Step;
use crate::validators::{QuorumMode, ValidatorSet};

/// The service over a driver.
#[derive(Debug, Clone)]
pub struct ConsensusService {
    handle: DriverHandle,
}

impl ConsensusService {
    /// Wraps a running driver.
    pub fn new(handle: DriverHandle) -> Self {
        Self { handle }
    }

    /// The tonic server with the chain's message size limit.
    pub fn into_server(self) -> ConsensusServer<Self> {
        let limit = coinjecture_primitives::limits::MAX_MESSAGE_BYTES + 64 * 1024;
        ConsensusServer::new(self).max_decoding_message_size(limit).max_encoding_message_size(limit)
    }
}

fn quorum_mode(mode: QuorumMode) -> pb::QuorumMode {
    match mode {
        QuorumMode::Crash => pb::QuorumMode::Crash,
        QuorumMode::Byzantine => pb::QuorumMode::Byzantine,
    }
}

/// The protobuf form of a validator set.
pub fn validator_set_to_pb(set: &ValidatorSet, activation_height: u64) -> pb::ValidatorSet {
    pb::ValidatorSet {
        validators: set
            .validators()
            .iter()
            .enumerate()
            .map(|(i, k)| pb::ValidatorInfo { public_key: k.0.to_vec(), peer_id: String::new(), index: i as u32 })
            .collect(),
        activation_height,
        quorum_mode: quorum_mode(set.mode()).into(),
    }
}

#[tonic::async_trait]
impl Consensus for ConsensusService {
    async fn submit_transactions(
        &self,
        request: Request<pb::ConsensusSubmitTransactionsRequest>,
    ) -> Result<Response<pb::ConsensusSubmitTransactionsResponse>, Status> {
        let txs = request.into_inner().transactions;
        if txs.len() > MAX_BATCH_ITEMS {
            return Err(Status::invalid_argument(format!(
                "transactions: {} items exceed the maximum {MAX_BATCH_ITEMS}",
                txs.len()
            )));
        }
        // Malformed transactions get their own result; the well-formed ones go on together.
        let mut results: Vec<Option<pb::TransactionResult>> = Vec::with_capacity(txs.len());
        let mut good = Vec::new();
        for (i, t) in txs.iter().enumerate() {
            match coinjecture_primitives::Transaction::try_from(t) {
                Ok(tx) => {
                    // Sealed once here: encoded and hashed once for the whole way in.
                    good.push(coinjecture_primitives::SealedTransaction::seal(tx));
                    results.push(None);
                }
                Err(e) => results.push(Some(pb::TransactionResult {
                    tx_hash: Vec::new(),
                    accepted: false,
                    reason: pb::TxRejectReason::Malformed.into(),
                    message: e.within(&format!("transactions[{i}]")).to_string(),
                })),
            }
        }
        let mut verdicts = self.handle.submit(good).await?.into_iter();
        let results = results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| match verdicts.next() {
                    Some(v) => match v.outcome {
                        Ok(()) => pb::TransactionResult {
                            tx_hash: v.tx_hash.0.to_vec(),
                            accepted: true,
                            reason: pb::TxRejectReason::Unspecified.into(),
                            message: String::new(),
                        },
                        Err((reason, message)) => pb::TransactionResult {
                            tx_hash: v.tx_hash.0.to_vec(),
                            accepted: false,
                            reason: reason.into(),
                            message,
                        },
                    },
                    None => pb::TransactionResult {
                        tx_hash: Vec::new(),
                        accepted: false,
                        reason: pb::TxRejectReason::Unspecified.into(),
                        message: "no verdict".into(),
                    },
                })
            })
            .collect();
        Ok(Response::new(pb::ConsensusSubmitTransactionsResponse { results }))
    }

    async fn get_status(
        &self,
        _request: Request<pb::ConsensusGetStatusRequest>,
    ) -> Result<Response<pb::ConsensusGetStatusResponse>, Status> {
        let s = self.handle.status();
        let set = self.handle.schedule.at(s.height.max(1));
        let step = match s.step {
            Some(Step::Propose) => pb::RoundStep::Propose,
            Some(Step::Prevote) => pb::RoundStep::Prevote,
            Some(Step::Precommit) => pb::RoundStep::Precommit,
            None => pb::RoundStep::Unspecified,
        };
        Ok(Response::new(pb::ConsensusGetStatusResponse {
            chain_id: self.handle.chain_id.to_string(),
            finalized_height: s.finalized_height,
            finalized_hash: s.finalized_hash.0.to_vec(),
            height: s.height,
            round: s.round,
            step: step.into(),
            proposer: s.proposer.map(|p| p.0.to_vec()).unwrap_or_default(),
            local_validator: if set.contains(&self.handle.local_validator) {
                self.handle.local_validator.0.to_vec()
            } else {
                Vec::new()
            },
            syncing: s.syncing,
            mempool_size: s.mempool_size as u64,
            quorum_mode: quorum_mode(set.mode()).into(),
            validator_count: set.len() as u32,
            signing_paused: s.signing_paused.clone().unwrap_or_default(),
        }))
    }

    async fn get_validator_set(
        &self,
        request: Request<pb::GetValidatorSetRequest>,
    ) -> Result<Response<pb::GetValidatorSetResponse>, Status> {
        let height = request.into_inner().height.unwrap_or_else(|| self.handle.status().height.max(1));
        if height == 0 {
            return Err(Status::invalid_argument("height: validator sets start at height 1"));
        }
        let activation = self.handle.schedule.entries().iter().rev().find(|(h, _)| *h <= height).map_or(1, |(h, _)| *h);
        let set = self.handle.schedule.at(height);
        Ok(Response::new(pb::GetValidatorSetResponse {
            validator_set: Some(validator_set_to_pb(set, activation)),
            height,
        }))
    }

    async fn list_evidence(
        &self,
        request: Request<pb::ListEvidenceRequest>,
    ) -> Result<Response<pb::ListEvidenceResponse>, Status> {
        let req = request.into_inner();
        let offset = match req.page_token.len() {
            0 => 0usize,
            8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&req.page_token);
                usize::try_from(u64::from_be_bytes(b)).unwrap_or(usize::MAX)
            }
            n => return Err(Status::invalid_argument(format!("page_token: expected 8 bytes, found {n}"))),
        };
        let limit = match req.limit {
            0 => 100,
            l => (l as usize).min(1000),
        };
        let all = self.handle.evidence().await?;
        let records: Vec<pb::EvidenceRecord> = all
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(e, at)| pb::EvidenceRecord { evidence: Some(e.into()), detected_at_ms: *at })
            .collect();
        let next = offset + records.len();
        let next_page_token = if next < all.len() { (next as u64).to_be_bytes().to_vec() } else { Vec::new() };
        Ok(Response::new(pb::ListEvidenceResponse { records, next_page_token }))
    }

    async fn get_mempool_stats(
        &self,
        _request: Request<pb::GetMempoolStatsRequest>,
    ) -> Result<Response<pb::GetMempoolStatsResponse>, Status> {
        let s = self.handle.status();
        Ok(Response::new(pb::GetMempoolStatsResponse {
            transaction_count: s.mempool_size as u64,
            future_count: 0,
            size_bytes: s.mempool_bytes as u64,
            sender_count: s.mempool_senders as u64,
            capacity_transactions: self.handle.mempool_config.max_transactions as u64,
            capacity_bytes: self.handle.mempool_config.max_bytes as u64,
            oldest_age_ms: 0,
        }))
    }
}
