//! The consensus port (see [`super`]): what the api (and tools) ask of consensus — submit
//! transactions, the engine's status, validator sets, evidence, mempool statistics.
//!
//! - In one process the caller holds `Arc<dyn ConsensusPort>` pointing at the running driver
//!   (`coinjecture_consensus::driver::DriverHandle` implements it): sealed transactions go in as
//!   they are, verdicts come back as [`TxVerdict`]s.
//! - Split, the same `Arc<dyn ConsensusPort>` is a [`RemoteConsensus`]; the consensus service's
//!   gRPC server is [`ConsensusGrpc`] over the driver's port.
//!
//! Each message is converted in exactly one place: the `*_to_pb` / `*_from_pb` functions here,
//! used by both [`RemoteConsensus`] and [`ConsensusGrpc`].

use std::sync::Arc;

use coinjecture_primitives::consensus::Evidence;
use coinjecture_primitives::validators::{QuorumMode, ValidatorSet};
use coinjecture_primitives::{
    ChainId, Hash32, Height, PublicKey, RejectReason, Rejection, Round, SealedTransaction, Transaction, TxVerdict,
    UnixMillis, limits::MAX_BATCH_ITEMS,
};
use tonic::transport::Endpoint;
use tonic::{Code, Request, Response, Status};

use crate::client::{MESSAGE_LIMIT, TracedChannel, connect};
use crate::convert;
use crate::v1 as pb;
use crate::v1::consensus_client::ConsensusClient;
use crate::v1::consensus_server::{Consensus, ConsensusServer};

/// The result of submitting one transaction: its hash (computed once, when it was sealed) and
/// the verdict (accepted into the mempool, or refused with a reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitResult {
    /// [`Hash32::ZERO`] for a transaction too malformed to hash (empty on the wire).
    pub tx_hash: Hash32,
    pub outcome: TxVerdict,
}

/// The step of the round being decided (the engine's, without its commit step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundStep {
    Propose,
    Prevote,
    Precommit,
}

/// The engine's position and the node's role (`Consensus.GetStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusStatus {
    pub chain_id: ChainId,
    pub finalized_height: Height,
    pub finalized_hash: Hash32,
    /// The height being decided (finalized_height + 1).
    pub height: Height,
    pub round: Round,
    /// None before the engine's first step.
    pub step: Option<RoundStep>,
    /// The proposer of (height, round); None before the first step.
    pub proposer: Option<PublicKey>,
    /// This node's key when it is a validator of the current set.
    pub local_validator: Option<PublicKey>,
    pub syncing: bool,
    pub mempool_size: u64,
    pub quorum_mode: QuorumMode,
    pub validator_count: u32,
    /// Why this validator is not signing right now (None while it signs).
    pub signing_paused: Option<String>,
}

/// The validator set that decides a height (`Consensus.GetValidatorSet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSetAt {
    /// The height asked about.
    pub height: Height,
    /// The height from which this set decides.
    pub activation_height: Height,
    pub set: ValidatorSet,
}

/// Mempool size and capacity (`Consensus.GetMempoolStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MempoolStats {
    pub transaction_count: u64,
    pub future_count: u64,
    pub size_bytes: u64,
    pub sender_count: u64,
    pub capacity_transactions: u64,
    pub capacity_bytes: u64,
    pub oldest_age_ms: u64,
}

/// One page of evidence, oldest first, with when this node detected each (Unix ms).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidencePage {
    pub records: Vec<(Evidence, UnixMillis)>,
    /// Offset of the next page; None when this was the last.
    pub next: Option<u64>,
}

/// Most evidence records in one page, and the default.
pub const MAX_EVIDENCE_PAGE: u32 = 1000;
const DEFAULT_EVIDENCE_PAGE: u32 = 100;

/// Why a consensus call failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// A request field is out of range; the message names it.
    #[error("{0}")]
    InvalidArgument(String),
    /// Asked about something not known (yet), e.g. a validator set above the height decided.
    #[error("{0}")]
    NotFound(String),
    /// The node is stopping and takes no more transactions.
    #[error("the node is stopping; submit the transaction to another node")]
    Stopping,
    /// Accepted but not made durable (the transaction journal failed); the message says what
    /// the client should do.
    #[error("{0}")]
    NotDurable(String),
    /// The consensus driver is not running.
    #[error("consensus driver stopped")]
    Stopped,
    /// Backpressure: the mempool is above its high-water mark (or the node's intake is full);
    /// nothing of the call was admitted. The client retries after `retry_after_secs`
    /// (RESOURCE_EXHAUSTED with a `retry-after` metadata entry; the REST API answers 503 with
    /// `Retry-After`).
    #[error("{message}; retry in {retry_after_secs} s")]
    Overloaded { message: String, retry_after_secs: u64 },
    /// A remote consensus service failed or could not be reached (its status keeps the code).
    #[error("{}", .0.message())]
    Unavailable(#[source] Status),
}

impl From<ConsensusError> for Status {
    fn from(e: ConsensusError) -> Self {
        match e {
            ConsensusError::InvalidArgument(m) => Status::invalid_argument(m),
            ConsensusError::NotFound(m) => Status::not_found(m),
            ConsensusError::Stopping | ConsensusError::Stopped | ConsensusError::NotDurable(_) => {
                Status::unavailable(e.to_string())
            }
            ConsensusError::Overloaded { retry_after_secs, .. } => {
                let mut status = Status::resource_exhausted(e.to_string());
                status.metadata_mut().insert(RETRY_AFTER, retry_after_secs.into());
                status
            }
            ConsensusError::Unavailable(status) => status,
        }
    }
}

/// The gRPC metadata key of a backpressure refusal ([`ConsensusError::Overloaded`]): whole
/// seconds after which the client may retry. A RESOURCE_EXHAUSTED without it is a rate limit.
pub const RETRY_AFTER: &str = "retry-after";

/// The seconds of a backpressure refusal's `retry-after` (None for any other status).
pub fn overloaded_retry_after(status: &Status) -> Option<u64> {
    if status.code() != Code::ResourceExhausted {
        return None;
    }
    status.metadata().get(RETRY_AFTER)?.to_str().ok()?.parse().ok()
}

impl From<Status> for ConsensusError {
    fn from(status: Status) -> Self {
        match status.code() {
            Code::InvalidArgument => Self::InvalidArgument(status.message().to_string()),
            Code::NotFound => Self::NotFound(status.message().to_string()),
            _ => match overloaded_retry_after(&status) {
                Some(retry_after_secs) => {
                    // The message without the suffix Display adds back.
                    let message = status.message();
                    let message = message.rsplit_once("; retry in ").map_or(message, |(m, _)| m).to_string();
                    Self::Overloaded { message, retry_after_secs }
                }
                None => Self::Unavailable(status),
            },
        }
    }
}

/// What consensus offers the other services.
#[tonic::async_trait]
pub trait ConsensusPort: Send + Sync + 'static {
    /// Admits transactions (ledger check, mempool, gossip): one result per transaction, in order.
    /// At most [`MAX_BATCH_ITEMS`].
    async fn submit(&self, transactions: Vec<SealedTransaction>) -> Result<Vec<SubmitResult>, ConsensusError>;
    /// The engine's current position.
    async fn status(&self) -> Result<ConsensusStatus, ConsensusError>;
    /// The set that decides `height` (default: the height being decided).
    async fn validator_set(&self, height: Option<Height>) -> Result<ValidatorSetAt, ConsensusError>;
    /// Evidence from `offset` on, at most `limit` (1 to [`MAX_EVIDENCE_PAGE`]) records.
    async fn evidence(&self, offset: u64, limit: u32) -> Result<EvidencePage, ConsensusError>;
    /// Mempool size and capacity.
    async fn mempool_stats(&self) -> Result<MempoolStats, ConsensusError>;
}

#[tonic::async_trait]
impl<T: ConsensusPort + ?Sized> ConsensusPort for Arc<T> {
    async fn submit(&self, transactions: Vec<SealedTransaction>) -> Result<Vec<SubmitResult>, ConsensusError> {
        (**self).submit(transactions).await
    }
    async fn status(&self) -> Result<ConsensusStatus, ConsensusError> {
        (**self).status().await
    }
    async fn validator_set(&self, height: Option<Height>) -> Result<ValidatorSetAt, ConsensusError> {
        (**self).validator_set(height).await
    }
    async fn evidence(&self, offset: u64, limit: u32) -> Result<EvidencePage, ConsensusError> {
        (**self).evidence(offset, limit).await
    }
    async fn mempool_stats(&self) -> Result<MempoolStats, ConsensusError> {
        (**self).mempool_stats().await
    }
}

// ---------------------------------------------------------------------------------------------
// Wire conversions (both directions), used by RemoteConsensus and ConsensusGrpc.
// ---------------------------------------------------------------------------------------------

fn quorum_to_pb(mode: QuorumMode) -> pb::QuorumMode {
    match mode {
        QuorumMode::Crash => pb::QuorumMode::Crash,
        QuorumMode::Byzantine => pb::QuorumMode::Byzantine,
    }
}

fn quorum_from_pb(mode: i32, field: &str) -> Result<QuorumMode, Status> {
    match pb::QuorumMode::try_from(mode) {
        Ok(pb::QuorumMode::Crash) => Ok(QuorumMode::Crash),
        Ok(pb::QuorumMode::Byzantine) => Ok(QuorumMode::Byzantine),
        _ => Err(Status::internal(format!("{field}: unknown quorum mode {mode}"))),
    }
}

/// One submit result on the wire.
pub fn submit_result_to_pb(r: &SubmitResult) -> pb::TransactionResult {
    let tx_hash = if r.tx_hash == Hash32::ZERO { Vec::new() } else { r.tx_hash.0.to_vec() };
    convert::transaction_result(&r.outcome, tx_hash)
}

fn submit_result_from_pb(r: &pb::TransactionResult) -> Result<SubmitResult, Status> {
    let tx_hash = if r.tx_hash.is_empty() { Hash32::ZERO } else { convert::hash32(&r.tx_hash, "results.tx_hash")? };
    Ok(SubmitResult { tx_hash, outcome: convert::verdict(r) })
}

/// The status on the wire.
pub fn status_to_pb(s: &ConsensusStatus) -> pb::ConsensusGetStatusResponse {
    let step = match s.step {
        Some(RoundStep::Propose) => pb::RoundStep::Propose,
        Some(RoundStep::Prevote) => pb::RoundStep::Prevote,
        Some(RoundStep::Precommit) => pb::RoundStep::Precommit,
        None => pb::RoundStep::Unspecified,
    };
    pb::ConsensusGetStatusResponse {
        chain_id: s.chain_id.to_string(),
        finalized_height: s.finalized_height.get(),
        finalized_hash: s.finalized_hash.0.to_vec(),
        height: s.height.get(),
        round: s.round.get(),
        step: step.into(),
        proposer: s.proposer.map(|p| p.0.to_vec()).unwrap_or_default(),
        local_validator: s.local_validator.map(|p| p.0.to_vec()).unwrap_or_default(),
        syncing: s.syncing,
        mempool_size: s.mempool_size,
        quorum_mode: quorum_to_pb(s.quorum_mode).into(),
        validator_count: s.validator_count,
        signing_paused: s.signing_paused.clone().unwrap_or_default(),
    }
}

fn optional_key(bytes: &[u8], field: &str) -> Result<Option<PublicKey>, Status> {
    if bytes.is_empty() { Ok(None) } else { Ok(Some(convert::public_key(bytes, field)?)) }
}

/// The status from the wire.
pub fn status_from_pb(s: &pb::ConsensusGetStatusResponse) -> Result<ConsensusStatus, Status> {
    let step = match pb::RoundStep::try_from(s.step) {
        Ok(pb::RoundStep::Propose) => Some(RoundStep::Propose),
        Ok(pb::RoundStep::Prevote) => Some(RoundStep::Prevote),
        Ok(pb::RoundStep::Precommit) => Some(RoundStep::Precommit),
        _ => None,
    };
    Ok(ConsensusStatus {
        chain_id: ChainId::new(&s.chain_id).map_err(|e| Status::internal(format!("chain_id: {e}")))?,
        finalized_height: Height(s.finalized_height),
        finalized_hash: convert::hash32(&s.finalized_hash, "finalized_hash")?,
        height: Height(s.height),
        round: Round(s.round),
        step,
        proposer: optional_key(&s.proposer, "proposer")?,
        local_validator: optional_key(&s.local_validator, "local_validator")?,
        syncing: s.syncing,
        mempool_size: s.mempool_size,
        quorum_mode: quorum_from_pb(s.quorum_mode, "quorum_mode")?,
        validator_count: s.validator_count,
        signing_paused: (!s.signing_paused.is_empty()).then(|| s.signing_paused.clone()),
    })
}

/// A validator set on the wire (peer ids are left for the api to fill in).
pub fn validator_set_to_pb(set: &ValidatorSet, activation_height: Height) -> pb::ValidatorSet {
    pb::ValidatorSet {
        validators: set
            .validators()
            .iter()
            .enumerate()
            .map(|(i, k)| pb::ValidatorInfo { public_key: k.0.to_vec(), peer_id: String::new(), index: i as u32 })
            .collect(),
        activation_height: activation_height.get(),
        quorum_mode: quorum_to_pb(set.mode()).into(),
    }
}

fn validator_set_from_pb(r: pb::GetValidatorSetResponse) -> Result<ValidatorSetAt, Status> {
    let set = r.validator_set.ok_or_else(|| Status::internal("validator_set: missing"))?;
    let keys = set
        .validators
        .iter()
        .enumerate()
        .map(|(i, v)| convert::public_key(&v.public_key, &format!("validator_set.validators[{i}].public_key")))
        .collect::<Result<Vec<_>, _>>()?;
    let mode = quorum_from_pb(set.quorum_mode, "validator_set.quorum_mode")?;
    let validators = ValidatorSet::new(keys, mode).map_err(|e| Status::internal(format!("validator_set: {e}")))?;
    Ok(ValidatorSetAt { height: Height(r.height), activation_height: Height(set.activation_height), set: validators })
}

/// Mempool statistics on the wire.
pub fn mempool_stats_to_pb(s: &MempoolStats) -> pb::GetMempoolStatsResponse {
    pb::GetMempoolStatsResponse {
        transaction_count: s.transaction_count,
        future_count: s.future_count,
        size_bytes: s.size_bytes,
        sender_count: s.sender_count,
        capacity_transactions: s.capacity_transactions,
        capacity_bytes: s.capacity_bytes,
        oldest_age_ms: s.oldest_age_ms,
    }
}

fn mempool_stats_from_pb(s: &pb::GetMempoolStatsResponse) -> MempoolStats {
    MempoolStats {
        transaction_count: s.transaction_count,
        future_count: s.future_count,
        size_bytes: s.size_bytes,
        sender_count: s.sender_count,
        capacity_transactions: s.capacity_transactions,
        capacity_bytes: s.capacity_bytes,
        oldest_age_ms: s.oldest_age_ms,
    }
}

/// The evidence page cursor: an 8-byte big-endian offset (empty: the first page).
fn page_offset(token: &[u8]) -> Result<u64, Status> {
    match <[u8; 8]>::try_from(token) {
        Ok(b) => Ok(u64::from_be_bytes(b)),
        Err(_) if token.is_empty() => Ok(0),
        Err(_) => Err(Status::invalid_argument(format!("page_token: expected 8 bytes, found {}", token.len()))),
    }
}

fn page_limit(limit: u32) -> u32 {
    match limit {
        0 => DEFAULT_EVIDENCE_PAGE,
        l => l.min(MAX_EVIDENCE_PAGE),
    }
}

/// Seals protobuf transactions, each once; a malformed one gets its own `MALFORMED` result
/// naming `field[i]`. Returns the sealed ones and, per input, `None` (sealed, in order) or its
/// refusal: what a submitter of protobuf transactions (this server, the api) does before
/// [`ConsensusPort::submit`].
pub fn seal_all(txs: &[pb::Transaction], field: &str) -> (Vec<SealedTransaction>, Vec<Option<SubmitResult>>) {
    let mut sealed = Vec::with_capacity(txs.len());
    let mut refused = Vec::with_capacity(txs.len());
    for (i, t) in txs.iter().enumerate() {
        match Transaction::try_from(t) {
            Ok(tx) => {
                sealed.push(SealedTransaction::seal(tx));
                refused.push(None);
            }
            Err(e) => refused.push(Some(SubmitResult {
                tx_hash: Hash32::ZERO,
                outcome: Err(Rejection::new(RejectReason::Malformed, e.within(&format!("{field}[{i}]")).to_string())),
            })),
        }
    }
    (sealed, refused)
}

/// Merges [`seal_all`]'s refusals with the verdicts on the sealed ones, in input order.
pub fn merge_results(refused: Vec<Option<SubmitResult>>, verdicts: Vec<SubmitResult>) -> Vec<SubmitResult> {
    let mut verdicts = verdicts.into_iter();
    refused
        .into_iter()
        .map(|r| {
            r.or_else(|| verdicts.next()).unwrap_or(SubmitResult {
                tx_hash: Hash32::ZERO,
                outcome: Err(Rejection::new(RejectReason::Malformed, "no verdict")),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The remote implementation.
// ---------------------------------------------------------------------------------------------

/// Consensus in another process, over its gRPC service (`coinjecture service consensus`).
#[derive(Debug, Clone)]
pub struct RemoteConsensus(ConsensusClient<TracedChannel>);

impl RemoteConsensus {
    /// Connects lazily to `endpoint` (see [`connect`]): calls fail with `Unavailable` until the
    /// service is up.
    pub fn new(endpoint: Endpoint) -> Self {
        Self(
            ConsensusClient::new(connect(endpoint))
                .max_decoding_message_size(MESSAGE_LIMIT)
                .max_encoding_message_size(MESSAGE_LIMIT),
        )
    }

    /// [`Self::new`] for a URL (`http://127.0.0.1:50053`); `InvalidArgument` naming it when it
    /// does not parse.
    pub fn from_url(url: &str) -> Result<Self, ConsensusError> {
        Endpoint::from_shared(url.to_string())
            .map(Self::new)
            .map_err(|e| ConsensusError::InvalidArgument(format!("consensus endpoint {url:?}: {e}")))
    }
}

#[tonic::async_trait]
impl ConsensusPort for RemoteConsensus {
    async fn submit(&self, transactions: Vec<SealedTransaction>) -> Result<Vec<SubmitResult>, ConsensusError> {
        let request = pb::ConsensusSubmitTransactionsRequest {
            transactions: transactions.iter().map(|t| pb::Transaction::from(t.transaction())).collect(),
        };
        let response = self.0.clone().submit_transactions(request).await?.into_inner();
        Ok(response.results.iter().map(submit_result_from_pb).collect::<Result<_, _>>()?)
    }

    async fn status(&self) -> Result<ConsensusStatus, ConsensusError> {
        let response = self.0.clone().get_status(pb::ConsensusGetStatusRequest {}).await?.into_inner();
        Ok(status_from_pb(&response)?)
    }

    async fn validator_set(&self, height: Option<Height>) -> Result<ValidatorSetAt, ConsensusError> {
        let response = self
            .0
            .clone()
            .get_validator_set(pb::GetValidatorSetRequest { height: height.map(Height::get) })
            .await?
            .into_inner();
        Ok(validator_set_from_pb(response)?)
    }

    async fn evidence(&self, offset: u64, limit: u32) -> Result<EvidencePage, ConsensusError> {
        let page_token = if offset == 0 { Vec::new() } else { offset.to_be_bytes().to_vec() };
        let response = self.0.clone().list_evidence(pb::ListEvidenceRequest { page_token, limit }).await?.into_inner();
        let records = response
            .records
            .iter()
            .map(|r| {
                let e = r.evidence.as_ref().ok_or_else(|| Status::internal("records.evidence: missing"))?;
                Ok((Evidence::try_from(e).map_err(Status::from)?, UnixMillis(r.detected_at_ms)))
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let next =
            if response.next_page_token.is_empty() { None } else { Some(page_offset(&response.next_page_token)?) };
        Ok(EvidencePage { records, next })
    }

    async fn mempool_stats(&self) -> Result<MempoolStats, ConsensusError> {
        let response = self.0.clone().get_mempool_stats(pb::GetMempoolStatsRequest {}).await?.into_inner();
        Ok(mempool_stats_from_pb(&response))
    }
}

// ---------------------------------------------------------------------------------------------
// The gRPC server.
// ---------------------------------------------------------------------------------------------

/// The `Consensus` gRPC service over a consensus port (the running driver).
#[derive(Clone)]
pub struct ConsensusGrpc(pub Arc<dyn ConsensusPort>);

impl std::fmt::Debug for ConsensusGrpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsensusGrpc")
    }
}

impl ConsensusGrpc {
    /// The tonic server with the chain's message size limit.
    pub fn into_server(self) -> ConsensusServer<Self> {
        ConsensusServer::new(self).max_decoding_message_size(MESSAGE_LIMIT).max_encoding_message_size(MESSAGE_LIMIT)
    }
}

#[tonic::async_trait]
impl Consensus for ConsensusGrpc {
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
        // Sealed once here: encoded and hashed once for the whole way in.
        let (sealed, refused) = seal_all(&txs, "transactions");
        let verdicts = if sealed.is_empty() { Vec::new() } else { self.0.submit(sealed).await? };
        let results = merge_results(refused, verdicts).iter().map(submit_result_to_pb).collect();
        Ok(Response::new(pb::ConsensusSubmitTransactionsResponse { results }))
    }

    async fn get_status(
        &self,
        _request: Request<pb::ConsensusGetStatusRequest>,
    ) -> Result<Response<pb::ConsensusGetStatusResponse>, Status> {
        Ok(Response::new(status_to_pb(&self.0.status().await?)))
    }

    async fn get_validator_set(
        &self,
        request: Request<pb::GetValidatorSetRequest>,
    ) -> Result<Response<pb::GetValidatorSetResponse>, Status> {
        let at = self.0.validator_set(request.into_inner().height.map(Height)).await?;
        Ok(Response::new(pb::GetValidatorSetResponse {
            validator_set: Some(validator_set_to_pb(&at.set, at.activation_height)),
            height: at.height.get(),
        }))
    }

    async fn list_evidence(
        &self,
        request: Request<pb::ListEvidenceRequest>,
    ) -> Result<Response<pb::ListEvidenceResponse>, Status> {
        let req = request.into_inner();
        let page = self.0.evidence(page_offset(&req.page_token)?, page_limit(req.limit)).await?;
        Ok(Response::new(pb::ListEvidenceResponse {
            records: page
                .records
                .iter()
                .map(|(e, at)| pb::EvidenceRecord { evidence: Some(e.into()), detected_at_ms: at.get() })
                .collect(),
            next_page_token: page.next.map(|n| n.to_be_bytes().to_vec()).unwrap_or_default(),
        }))
    }

    async fn get_mempool_stats(
        &self,
        _request: Request<pb::GetMempoolStatsRequest>,
    ) -> Result<Response<pb::GetMempoolStatsResponse>, Status> {
        Ok(Response::new(mempool_stats_to_pb(&self.0.mempool_stats().await?)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use super::*;

    fn status() -> ConsensusStatus {
        ConsensusStatus {
            chain_id: ChainId::new("coinjecture-port").unwrap(),
            finalized_height: Height(41),
            finalized_hash: Hash32([3; 32]),
            height: Height(42),
            round: Round(2),
            step: Some(RoundStep::Prevote),
            proposer: Some(PublicKey([1; 32])),
            local_validator: None,
            syncing: true,
            mempool_size: 9,
            quorum_mode: QuorumMode::Byzantine,
            validator_count: 4,
            signing_paused: Some("waiting for height 42 to be final".into()),
        }
    }

    #[test]
    fn the_status_survives_the_wire_both_ways() {
        let s = status();
        let wire = status_to_pb(&s);
        assert!(wire.local_validator.is_empty(), "not a validator: empty on the wire");
        assert_eq!(status_from_pb(&wire).unwrap(), s);
    }

    #[test]
    fn a_malformed_submission_gets_its_own_result_in_order() {
        let good = pb::Transaction {
            codec_version: 1,
            tx_type: 1,
            from: vec![1; 32],
            to: vec![2; 32],
            signature: vec![0; 64],
            ..Default::default()
        };
        let mut bad = good.clone();
        bad.from = vec![1; 31];
        let (sealed, refused) = seal_all(&[bad, good], "transactions");
        assert_eq!(sealed.len(), 1);
        let verdicts = vec![SubmitResult { tx_hash: sealed[0].hash(), outcome: Ok(()) }];
        let merged: Vec<pb::TransactionResult> =
            merge_results(refused, verdicts).iter().map(submit_result_to_pb).collect();
        assert_eq!(merged[0].reason(), pb::TxRejectReason::Malformed);
        assert_eq!(merged[0].message, "transactions[0].from: expected 32 bytes, found 31");
        assert!(merged[0].tx_hash.is_empty(), "no hash for what does not decode");
        assert!(merged[1].accepted);
        assert_eq!(merged[1].tx_hash, sealed[0].hash().0.to_vec());
    }

    #[test]
    fn errors_map_to_the_codes_clients_act_on() {
        assert_eq!(Status::from(ConsensusError::Stopping).code(), Code::Unavailable);
        assert!(Status::from(ConsensusError::Stopping).message().contains("another node"));
        assert_eq!(Status::from(ConsensusError::InvalidArgument("height: x".into())).code(), Code::InvalidArgument);
        let busy = || ConsensusError::Overloaded {
            message: "the mempool is above its high-water mark".into(),
            retry_after_secs: 2,
        };
        let status = Status::from(busy());
        assert_eq!((status.code(), overloaded_retry_after(&status)), (Code::ResourceExhausted, Some(2)));
        assert_eq!(ConsensusError::from(status).to_string(), busy().to_string(), "the same error across the wire");
        assert_eq!(overloaded_retry_after(&Status::resource_exhausted("rate limited")), None);
        let remote = ConsensusError::from(Status::deadline_exceeded("slow"));
        assert_eq!(Status::from(remote).code(), Code::DeadlineExceeded);
    }
}
