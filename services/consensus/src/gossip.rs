//! Validation of gossip before it is relayed: the verdict a validating subscriber of the
//! p2p-gateway reports for each received message (ACCEPT relays it, REJECT drops it and lowers
//! the sender's score, IGNORE drops it without penalty).
//!
//! The gateway has already checked what needs no state (size, decodes as a `ConsensusMessage`,
//! variant matches the topic). [`GossipCheck::check`] adds what needs the chain's configuration
//! and the node's position:
//!
//! | message | REJECT when | IGNORE when | delivered to consensus |
//! |---|---|---|---|
//! | vote, proposal | wrong chain, signer not a validator at the message's height (not the proposer of its round), bad signature, malformed | authentic but outside the relay window (height not within ±1 of the height being decided, or round more than [`MAX_ROUNDS_AHEAD`] ahead) | if authentic |
//! | finalized block | certificate does not verify against its height's set, malformed | height already final here, or beyond the relay window | if verified and not yet final |
//! | transactions | a transaction without our chain tag or with a bad signature, malformed | empty batch | if every one checks out |
//! | compact proposal | as a proposal, or its transaction hashes do not give the header's Merkle root | as a proposal | if authentic |
//! | transaction request | malformed (more than 65,536 hashes) | outside the relay window | if in the window |
//!
//! A REJECT is objective (a signature, a set membership, a chain id that every honest node
//! computes the same), so honest relays are never penalised; everything that depends on the
//! node's own position is an IGNORE. The cost is bounded per message: one ed25519 verification
//! for a vote or proposal (plus the block hash), one per signer for a certificate (at most the
//! set's size), one per transaction (the payload limit bounds their number).
//!
//! **Two lanes.** [`forward`] judges consensus messages at once, in arrival order, and hands
//! transaction batches to a separate lane ([`TX_LANE`] messages deep) whose signatures are
//! verified on crypto-core's intake pool (below consensus's priority), so no vote or proposal
//! waits behind the verification of gossiped transactions. A batch that finds the lane full is
//! shed (IGNORE, not relayed, counted as `dropped{reason="transaction_batches_shed"}`), like the
//! driver's own backpressure drops.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use coinjecture_crypto_core::signatures;
use coinjecture_primitives::{ChainId, Hash32, Height, Round, SealedTransaction, VerifiedSignatures, chain_tag};
use coinjecture_proto::ports::gateway::{self, GatewayPort, GossipMessage, InboundGossip, Topic};
use coinjecture_proto::ports::ledger::LedgerPort;
use tokio::sync::{mpsc, oneshot, watch};

use crate::admission::{self, Inauthentic};
use crate::driver::DriverStatus;
use crate::validators::ValidatorSchedule;

/// Rounds ahead of the node's own that are still relayed (the engine's default window).
pub const MAX_ROUNDS_AHEAD: u32 = 16;

/// The outcome to report to the gateway (the gateway port's [`gateway::Validation`]).
pub use coinjecture_proto::ports::gateway::Validation as GossipVerdict;

/// What to do with one received message.
#[derive(Debug, Clone)]
pub struct GossipOutcome {
    pub verdict: GossipVerdict,
    /// Why (a short label for logs and metrics).
    pub reason: &'static str,
    /// The message for consensus, when it is worth handing over.
    pub deliver: Option<GossipMessage>,
}

impl GossipOutcome {
    fn reject(reason: &'static str) -> Self {
        Self { verdict: GossipVerdict::Reject, reason, deliver: None }
    }
    fn ignore(reason: &'static str, deliver: Option<GossipMessage>) -> Self {
        Self { verdict: GossipVerdict::Ignore, reason, deliver }
    }
    fn accept(deliver: GossipMessage) -> Self {
        Self { verdict: GossipVerdict::Accept, reason: "valid", deliver: Some(deliver) }
    }
}

/// Where the node is: the height it is deciding and its round (from the driver's status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePosition {
    pub height: Height,
    pub round: Round,
}

fn reason(e: Inauthentic) -> &'static str {
    match e {
        Inauthentic::WrongChain => "wrong_chain",
        Inauthentic::NotAValidator => "not_a_validator",
        Inauthentic::WrongProposer => "wrong_proposer",
        Inauthentic::BlockMismatch => "block_mismatch",
        Inauthentic::BadSignature => "bad_signature",
        Inauthentic::BadCertificate => "bad_certificate",
    }
}

/// The stateful checks of gossip: the chain id, the validator schedule and, in one process
/// with the ledger, the ledger's verified-signature cache.
#[derive(Debug, Clone)]
pub struct GossipCheck {
    chain_id: ChainId,
    schedule: ValidatorSchedule,
    verified: Option<Arc<VerifiedSignatures>>,
}

impl GossipCheck {
    /// Checks that verify every transaction signature they are given (no shared cache).
    pub fn new(chain_id: ChainId, schedule: ValidatorSchedule) -> Self {
        Self { chain_id, schedule, verified: None }
    }

    /// The node's gossip check, as its consensus service builds it: sharing the verdicts of
    /// `ledger` when it is in this process ([`LedgerPort::verified_signatures`]), so a
    /// transaction whose proposal was validated before its gossip arrived is not verified again,
    /// and what gossip verifies first is not verified again by the ledger.
    pub fn for_ledger(chain_id: ChainId, schedule: ValidatorSchedule, ledger: &dyn LedgerPort) -> Self {
        Self { chain_id, schedule, verified: ledger.verified_signatures() }
    }

    /// Each transaction's signature verdict: known from the shared cache (recorded on the
    /// sealed transaction, not verified again), carried already, or verified now (and the
    /// valid ones remembered in the shared cache).
    fn verify_transactions(&self, txs: &[SealedTransaction]) -> Vec<bool> {
        let Some(verified) = &self.verified else { return signatures::verify_transactions(txs) };
        let hashes: Vec<Hash32> = txs.iter().map(SealedTransaction::hash).collect();
        for (tx, known) in txs.iter().zip(verified.known(&hashes)) {
            if known && tx.signature_verdict().is_none() {
                tx.record_signature_verdict(true);
            }
        }
        let valid = signatures::verify_transactions(txs);
        verified.insert(hashes.iter().zip(&valid).filter(|(_, ok)| **ok).map(|(h, _)| *h));
        valid
    }

    /// The verdict on one received message, given the node's position.
    pub fn check(&self, message: GossipMessage, at: NodePosition) -> GossipOutcome {
        let in_window = |height: Height, round: Round| {
            height.saturating_add(1) >= at.height
                && height <= at.height.saturating_add(1)
                && (height != at.height || round <= at.round.saturating_add(MAX_ROUNDS_AHEAD))
        };
        match &message {
            GossipMessage::Vote(vote) => {
                if let Err(e) = admission::check_vote(&self.schedule, &self.chain_id, vote) {
                    return GossipOutcome::reject(reason(e));
                }
                if in_window(vote.height, vote.round) {
                    GossipOutcome::accept(message)
                } else {
                    GossipOutcome::ignore("outside_window", Some(message))
                }
            }
            GossipMessage::Proposal(proposal) => {
                if let Err(e) = admission::check_proposal(&self.schedule, &self.chain_id, proposal) {
                    return GossipOutcome::reject(reason(e));
                }
                if in_window(proposal.height, proposal.round) {
                    GossipOutcome::accept(message)
                } else {
                    GossipOutcome::ignore("outside_window", Some(message))
                }
            }
            GossipMessage::FinalizedBlock { block, certificate } => {
                let height = block.header.block_index;
                if height < at.height {
                    return GossipOutcome::ignore("already_final", None);
                }
                if let Err(e) = admission::check_decided(&self.schedule, &self.chain_id, block, certificate) {
                    return GossipOutcome::reject(reason(e));
                }
                if height <= at.height.saturating_add(1) {
                    GossipOutcome::accept(message)
                } else {
                    GossipOutcome::ignore("outside_window", Some(message))
                }
            }
            GossipMessage::CompactProposal(compact) => {
                let proposal = &compact.proposal;
                if let Err(e) = admission::check_proposal(&self.schedule, &self.chain_id, proposal) {
                    return GossipOutcome::reject(reason(e));
                }
                // Objective, and cheap (one SHA-256 per pair of hashes): a list that does not
                // give the signed header's root names another block than the one signed.
                if coinjecture_crypto_core::merkle::merkle_root(&compact.tx_hashes) != proposal.block.header.merkle_root
                {
                    return GossipOutcome::reject("merkle_mismatch");
                }
                if in_window(proposal.height, proposal.round) {
                    GossipOutcome::accept(message)
                } else {
                    GossipOutcome::ignore("outside_window", Some(message))
                }
            }
            GossipMessage::TransactionRequest(request) => {
                if in_window(request.height, request.round) {
                    GossipOutcome::accept(message)
                } else {
                    GossipOutcome::ignore("outside_window", None)
                }
            }
            GossipMessage::Transactions(txs) => {
                if txs.is_empty() {
                    return GossipOutcome::ignore("empty", None);
                }
                let tag = chain_tag(&self.chain_id);
                if txs.iter().any(|t| !t.data.starts_with(&tag)) {
                    return GossipOutcome::reject("wrong_chain");
                }
                // Each verdict is recorded on its sealed transaction, which goes on to admission
                // and block validation: verified once here, not again there; and not here
                // either when the ledger verified it first (a proposal before its gossip).
                if self.verify_transactions(txs).iter().any(|ok| !ok) {
                    return GossipOutcome::reject("bad_signature");
                }
                GossipOutcome::accept(message)
            }
        }
    }

    /// Decodes a received payload and judges it; an undecodable payload is a REJECT.
    pub fn check_payload(&self, payload: &[u8], at: NodePosition) -> GossipOutcome {
        match gateway::decode_gossip(payload) {
            Ok(message) => self.check(message, at),
            Err(_) => GossipOutcome::reject("malformed"),
        }
    }
}

/// Most messages judged (and reported in one call) at a time.
pub const REPORT_BATCH: usize = 256;

/// Judges a batch of received messages, each at the node's position as `at` gives it when that
/// message's turn comes: one verdict per message (in order), and the messages to hand to
/// consensus (in order). It runs where it is called: consensus messages on the gossip loop's
/// task, transaction batches on the intake pool ([`forward`]'s transaction lane).
pub fn judge(
    check: &GossipCheck,
    batch: &[InboundGossip],
    mut at: impl FnMut() -> NodePosition,
) -> (Vec<([u8; 32], GossipVerdict)>, Vec<GossipMessage>) {
    let mut verdicts = Vec::with_capacity(batch.len());
    let mut deliver = Vec::new();
    for m in batch {
        let outcome = check.check_payload(&m.payload, at());
        if outcome.verdict == GossipVerdict::Reject {
            tracing::debug!(peer_id = %m.source, topic = ?m.topic, reason = outcome.reason, "gossip rejected");
        }
        verdicts.push((m.message_id, outcome.verdict));
        deliver.extend(outcome.deliver);
    }
    (verdicts, deliver)
}

/// The node's position as the driver last published it.
fn position(status: &watch::Receiver<DriverStatus>) -> NodePosition {
    let s = status.borrow();
    NodePosition { height: s.height, round: s.round }
}

/// Gossiped transaction messages waiting for the transaction lane: beyond this a batch is shed.
pub const TX_LANE: usize = 64;

/// Transaction messages the lane judges (on the intake pool) and reports at a time.
const TX_LANE_BATCH: usize = 16;

/// Gossip in → consensus, validated: consensus is the gateway's validating subscriber of every
/// topic, so a message is relayed to other peers only after [`GossipCheck`] accepted it, and a
/// peer whose messages are rejected loses gossipsub score until the gateway disconnects it.
/// The same loop for a gateway in this process and one over gRPC: it subscribes at once (so
/// nothing is missed while the driver starts), starts judging once `status` arrives (the
/// driver's status and its counter of shed transaction batches), reports each batch's verdicts
/// and hands the authentic messages to `inbound`. Transaction batches go through a lane of
/// their own (see the module's "Two lanes"). It subscribes again (every 500 ms) when the
/// gateway restarts, and ends when consensus stops.
pub async fn forward(
    gateway: Arc<dyn GatewayPort>,
    check: GossipCheck,
    status: oneshot::Receiver<(watch::Receiver<DriverStatus>, Arc<AtomicU64>)>,
    inbound: mpsc::Sender<GossipMessage>,
) {
    let check = Arc::new(check);
    let mut status = status;
    let mut subscription = gateway.subscribe_validated().await;
    // While the driver starts, keep trying to subscribe (a remote gateway may still be starting):
    // a message that arrives while no validating subscriber holds its topic is dropped, and its
    // sender's re-sends are duplicates, so a late subscription can lose a round's votes.
    let (status, shed) = loop {
        if subscription.is_ok() {
            match (&mut status).await {
                Ok(s) => break s,
                Err(_) => return,
            }
        }
        tokio::select! {
            s = &mut status => match s {
                Ok(s) => break s,
                Err(_) => return,
            },
            () = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                subscription = gateway.subscribe_validated().await;
            }
        }
    };
    if subscription.is_err() {
        subscription = gateway.subscribe_validated().await;
    }
    let (lane, lane_rx) = mpsc::channel(TX_LANE);
    let lane_task = AbortOnDrop(tokio::spawn(transaction_lane(
        gateway.clone(),
        check.clone(),
        status.clone(),
        lane_rx,
        inbound.clone(),
    )));
    loop {
        match subscription {
            Ok(mut messages) => {
                while let Some(first) = messages.recv().await {
                    let mut batch = vec![first];
                    while batch.len() < REPORT_BATCH
                        && let Ok(m) = messages.try_recv()
                    {
                        batch.push(m);
                    }
                    let mut consensus = Vec::with_capacity(batch.len());
                    let mut shed_now = Vec::new();
                    for m in batch {
                        if m.topic != Topic::Transactions {
                            consensus.push(m);
                            continue;
                        }
                        match lane.try_send(m) {
                            Ok(()) => {}
                            Err(mpsc::error::TrySendError::Full(m)) => {
                                shed_now.push((m.message_id, GossipVerdict::Ignore))
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => return,
                        }
                    }
                    if !shed_now.is_empty() {
                        shed.fetch_add(shed_now.len() as u64, Ordering::Relaxed);
                        tracing::debug!(batches = shed_now.len(), "transaction lane full: gossiped batches shed");
                    }
                    if consensus.is_empty() && shed_now.is_empty() {
                        continue;
                    }
                    let (mut verdicts, deliver) = judge(&check, &consensus, || position(&status));
                    verdicts.extend(shed_now);
                    if let Err(e) = gateway.report_validation(verdicts).await {
                        tracing::debug!(error = %e, "reporting gossip validation failed");
                    }
                    for message in deliver {
                        if inbound.send(message).await.is_err() {
                            return;
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "subscribing to gossip failed; retrying"),
        }
        if inbound.is_closed() || lane_task.0.is_finished() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        subscription = gateway.subscribe_validated().await;
    }
}

/// Aborts the task when dropped (the lane ends with [`forward`]).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The transaction lane: judges gossiped transaction batches on the intake pool, up to
/// [`TX_LANE_BATCH`] at a time, reports the verdicts and hands the authentic batches to
/// `inbound` (the driver queues them behind consensus messages).
async fn transaction_lane(
    gateway: Arc<dyn GatewayPort>,
    check: Arc<GossipCheck>,
    status: watch::Receiver<DriverStatus>,
    mut lane: mpsc::Receiver<InboundGossip>,
    inbound: mpsc::Sender<GossipMessage>,
) {
    while let Some(first) = lane.recv().await {
        let mut batch = vec![first];
        while batch.len() < TX_LANE_BATCH
            && let Ok(m) = lane.try_recv()
        {
            batch.push(m);
        }
        let at = position(&status);
        let ids: Vec<[u8; 32]> = batch.iter().map(|m| m.message_id).collect();
        let (done, judged) = oneshot::channel();
        let judge_check = check.clone();
        signatures::on_intake_pool(move || {
            let _ = done.send(judge(&judge_check, &batch, || at));
        });
        let (verdicts, deliver) = judged.await.unwrap_or_else(|_| {
            // Only a panic in verification gets here: not the senders' fault as far as we know.
            (ids.iter().map(|id| (*id, GossipVerdict::Ignore)).collect(), Vec::new())
        });
        if let Err(e) = gateway.report_validation(verdicts).await {
            tracing::debug!(error = %e, "reporting gossip validation failed");
        }
        for message in deliver {
            if inbound.send(message).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use coinjecture_crypto_core::signatures::Keypair;
    use coinjecture_primitives::consensus::{Vote, VoteType};
    use coinjecture_primitives::{Block, BlockHeader, CommitCertificate, Signature, Transaction, TxType};

    use super::*;
    use crate::{QuorumMode, ValidatorSet};

    fn chain() -> ChainId {
        ChainId::new("coinjecture-gossip").unwrap()
    }

    fn keys() -> Vec<Keypair> {
        (0u8..4).map(|i| Keypair::from_seed(&[i + 1; 32])).collect()
    }

    fn check() -> GossipCheck {
        let set = ValidatorSet::new(keys().iter().map(Keypair::public_key).collect(), QuorumMode::Byzantine).unwrap();
        GossipCheck::new(chain(), ValidatorSchedule::fixed(set))
    }

    const AT: NodePosition = NodePosition { height: Height(10), round: Round(0) };

    fn vote_message(key: &Keypair, chain_id: ChainId, height: u64, round: u32, sign: bool) -> GossipMessage {
        let mut v = Vote {
            chain_id,
            height: Height(height),
            round: Round(round),
            vote_type: VoteType::Prevote,
            block_hash: None,
            validator: key.public_key(),
            signature: Signature::ZERO,
        };
        if sign {
            v.signature = key.sign(&v.signing_bytes());
        }
        GossipMessage::Vote(v)
    }

    fn verdict(m: GossipMessage) -> (GossipVerdict, &'static str, bool) {
        let o = check().check(m, AT);
        (o.verdict, o.reason, o.deliver.is_some())
    }

    #[test]
    fn votes_are_accepted_only_when_authentic_and_relayed_only_near_our_height() {
        let k = &keys()[1];
        assert_eq!(verdict(vote_message(k, chain(), 10, 0, true)), (GossipVerdict::Accept, "valid", true));
        assert_eq!(verdict(vote_message(k, chain(), 11, 3, true)).0, GossipVerdict::Accept);
        assert_eq!(verdict(vote_message(k, chain(), 10, 0, false)), (GossipVerdict::Reject, "bad_signature", false));
        let outsider = Keypair::from_seed(&[99; 32]);
        assert_eq!(
            verdict(vote_message(&outsider, chain(), 10, 0, true)),
            (GossipVerdict::Reject, "not_a_validator", false)
        );
        let other = ChainId::new("another-chain").unwrap();
        assert_eq!(verdict(vote_message(k, other, 10, 0, true)), (GossipVerdict::Reject, "wrong_chain", false));
        // Authentic but stale, far ahead, or many rounds ahead: not relayed, still delivered.
        for (h, r) in [(3, 0), (40, 0), (10, 100)] {
            assert_eq!(verdict(vote_message(k, chain(), h, r, true)), (GossipVerdict::Ignore, "outside_window", true));
        }
    }

    fn block(height: u64) -> Block {
        Block {
            header: BlockHeader { codec_version: 1, block_index: Height(height), timestamp: 1, ..Default::default() },
            transactions: Vec::new(),
        }
    }

    fn finalized(height: u64, forge: bool) -> GossipMessage {
        let b = block(height);
        let mut c =
            CommitCertificate { height: Height(height), round: Round(0), block_hash: b.hash(), signatures: Vec::new() };
        let bytes = c.signing_bytes(&chain());
        c.signatures = keys()
            .iter()
            .take(3)
            .map(|k| (k.public_key(), if forge { Signature([3; 64]) } else { k.sign(&bytes) }))
            .collect();
        let c = c.sorted();
        GossipMessage::FinalizedBlock { block: b, certificate: c }
    }

    #[test]
    fn finalized_blocks_are_checked_against_their_certificate() {
        assert_eq!(verdict(finalized(10, false)), (GossipVerdict::Accept, "valid", true));
        assert_eq!(verdict(finalized(10, true)), (GossipVerdict::Reject, "bad_certificate", false));
        assert_eq!(verdict(finalized(5, true)), (GossipVerdict::Ignore, "already_final", false));
        assert_eq!(verdict(finalized(30, false)), (GossipVerdict::Ignore, "outside_window", true));
    }

    fn transfer(from: &Keypair, data: Vec<u8>, sign: bool) -> Transaction {
        let mut t = Transaction {
            codec_version: 1,
            tx_type: TxType::Transfer,
            from: from.public_key(),
            to: keys()[0].public_key(),
            amount: 1,
            nonce: 0,
            gas_limit: 21_000,
            gas_price: 1,
            signature: Signature::ZERO,
            data,
            timestamp: 0,
        };
        if sign {
            t.signature = from.sign(&t.signing_message());
        }
        t
    }

    fn batch(txs: &[Transaction]) -> GossipMessage {
        GossipMessage::Transactions(txs.iter().cloned().map(coinjecture_primitives::SealedTransaction::seal).collect())
    }

    #[test]
    fn an_undecodable_payload_is_rejected_as_malformed() {
        let o = check().check_payload(&[0x0f, 0xff, 0x01], AT);
        assert_eq!((o.verdict, o.reason, o.deliver.is_some()), (GossipVerdict::Reject, "malformed", false));
        let (_, payload) =
            coinjecture_proto::ports::gateway::encode_gossip(&vote_message(&keys()[1], chain(), 10, 0, true));
        assert_eq!(check().check_payload(&payload, AT).verdict, GossipVerdict::Accept);
    }

    #[test]
    fn transactions_share_their_verdicts_with_the_ledgers_cache() {
        let sender = Keypair::from_seed(&[42; 32]);
        let verified = Arc::new(coinjecture_primitives::VerifiedSignatures::new(16));
        let check = GossipCheck { verified: Some(verified.clone()), ..check() };
        // Verified here first: remembered for the ledger (a proposal carrying it later).
        let good = transfer(&sender, chain_tag(&chain()), true);
        assert_eq!(check.check(batch(std::slice::from_ref(&good)), AT).verdict, GossipVerdict::Accept);
        assert_eq!(verified.known(&[good.hash()]), vec![true]);
        // Verified first by this process's ledger (the cache holds its hash): taken as known,
        // not verified again. Only this process's verdicts enter the cache; the hash covers the
        // signature, so a cached hash is a verified signature (here one is planted to show that
        // the check does not run: this one's signature is in fact missing).
        let planted = transfer(&sender, chain_tag(&chain()), false);
        verified.insert([planted.hash()]);
        let message = batch(std::slice::from_ref(&planted));
        let GossipMessage::Transactions(sealed) = &message else { unreachable!() };
        let sealed = sealed[0].clone();
        assert_eq!(check.check(message, AT).verdict, GossipVerdict::Accept);
        assert_eq!(sealed.signature_verdict(), Some(true), "the cached verdict rides on to admission");
        // Without the shared cache, the same transaction is verified (and refused).
        assert_eq!(verdict(batch(&[planted])), (GossipVerdict::Reject, "bad_signature", false));
    }

    #[test]
    fn transactions_are_relayed_only_with_our_chain_tag_and_valid_signatures() {
        let sender = Keypair::from_seed(&[42; 32]);
        let good = transfer(&sender, chain_tag(&chain()), true);
        assert_eq!(verdict(batch(&[good.clone(), good.clone()])), (GossipVerdict::Accept, "valid", true));
        let unsigned = transfer(&sender, chain_tag(&chain()), false);
        assert_eq!(verdict(batch(&[good.clone(), unsigned])), (GossipVerdict::Reject, "bad_signature", false));
        let elsewhere = transfer(&sender, chain_tag(&ChainId::new("another-chain").unwrap()), true);
        assert_eq!(verdict(batch(&[elsewhere, good])), (GossipVerdict::Reject, "wrong_chain", false));
        assert_eq!(verdict(batch(&[])).0, GossipVerdict::Ignore);
    }
}
