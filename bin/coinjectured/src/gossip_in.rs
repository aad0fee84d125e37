//! Gossip in → consensus, validated: consensus is the p2p-gateway's validating subscriber of
//! every topic, so a message is relayed to other peers only after [`GossipCheck`] accepted it
//! (signature, validator-set membership at its height, chain, height window; transactions:
//! signature and chain tag), and a peer whose messages are rejected loses gossipsub score until
//! the gateway disconnects and bans it. Used by `node` (in-process gateway) and by `service
//! consensus` (the gateway over gRPC).

use std::sync::Arc;

use coinjecture_consensus::driver::DriverStatus;
use coinjecture_consensus::gossip::{GossipCheck, GossipOutcome, GossipVerdict, NodePosition};
use coinjecture_proto::v1 as pb;
use prost::Message as _;
use tokio::sync::watch;

/// Most messages judged (and reported in one call) at a time.
pub(crate) const REPORT_BATCH: usize = 256;

/// Transaction batches larger than this are checked on the blocking pool (one signature per
/// transaction), so a big batch never holds up an async worker.
const INLINE_BYTES: usize = 64 * 1024;

/// One received message: (message id, topic, payload, the peer that sent it, for logs).
pub(crate) struct Received {
    pub(crate) message_id: Vec<u8>,
    pub(crate) topic: pb::Topic,
    pub(crate) payload: Vec<u8>,
    pub(crate) source: String,
}

/// Judges a batch of received messages: one verdict per message (in order), and the messages to
/// hand to consensus (in order).
pub(crate) async fn judge(
    check: &Arc<GossipCheck>,
    status: &watch::Receiver<DriverStatus>,
    batch: Vec<Received>,
) -> (Vec<(Vec<u8>, GossipVerdict)>, Vec<pb::ConsensusMessage>) {
    let mut verdicts = Vec::with_capacity(batch.len());
    let mut deliver = Vec::new();
    for m in batch {
        let at = {
            let s = status.borrow();
            NodePosition { height: s.height, round: s.round }
        };
        let outcome = judge_one(check, m.topic, m.payload, at).await;
        if outcome.verdict == GossipVerdict::Reject {
            tracing::debug!(peer_id = %m.source, topic = ?m.topic, reason = outcome.reason, "gossip rejected");
        }
        verdicts.push((m.message_id, outcome.verdict));
        deliver.extend(outcome.deliver);
    }
    (verdicts, deliver)
}

async fn judge_one(check: &Arc<GossipCheck>, topic: pb::Topic, payload: Vec<u8>, at: NodePosition) -> GossipOutcome {
    let run = move |check: &GossipCheck, payload: &[u8]| match pb::ConsensusMessage::decode(payload) {
        Ok(message) => check.check(message, at),
        Err(_) => GossipOutcome { verdict: GossipVerdict::Reject, reason: "malformed", deliver: None },
    };
    if topic == pb::Topic::Transactions && payload.len() > INLINE_BYTES {
        let check = check.clone();
        match tokio::task::spawn_blocking(move || run(&check, &payload)).await {
            Ok(outcome) => outcome,
            // Only a panic in verification gets here: not the sender's fault as far as we know.
            Err(_) => GossipOutcome { verdict: GossipVerdict::Ignore, reason: "check_failed", deliver: None },
        }
    } else {
        run(check, &payload)
    }
}

/// The gateway's name for a verdict.
pub(crate) fn validation(verdict: GossipVerdict) -> coinjecture_p2p_gateway::Validation {
    match verdict {
        GossipVerdict::Accept => coinjecture_p2p_gateway::Validation::Accept,
        GossipVerdict::Reject => coinjecture_p2p_gateway::Validation::Reject,
        GossipVerdict::Ignore => coinjecture_p2p_gateway::Validation::Ignore,
    }
}

/// The gRPC name for a verdict.
pub(crate) fn validation_result(verdict: GossipVerdict) -> pb::ValidationResult {
    match verdict {
        GossipVerdict::Accept => pb::ValidationResult::Accept,
        GossipVerdict::Reject => pb::ValidationResult::Reject,
        GossipVerdict::Ignore => pb::ValidationResult::Ignore,
    }
}

/// The in-process loop of `node`: receive, judge, report, hand over. Ends when the gateway or
/// consensus stops.
pub(crate) async fn forward(
    mut subscription: coinjecture_p2p_gateway::Subscription,
    p2p: coinjecture_p2p_gateway::P2pHandle,
    check: GossipCheck,
    status: watch::Receiver<DriverStatus>,
    inbound: tokio::sync::mpsc::Sender<pb::ConsensusMessage>,
) -> eyre::Result<()> {
    let check = Arc::new(check);
    while let Some(first) = subscription.recv().await {
        let mut batch = vec![first];
        while batch.len() < REPORT_BATCH
            && let Some(m) = subscription.try_recv()
        {
            batch.push(m);
        }
        let batch = batch
            .into_iter()
            .map(|m| Received {
                message_id: m.message_id.to_vec(),
                topic: m.topic,
                payload: m.payload,
                source: m.source.to_base58(),
            })
            .collect();
        let (verdicts, deliver) = judge(&check, &status, batch).await;
        let reports = verdicts
            .into_iter()
            .filter_map(|(id, v)| <[u8; 32]>::try_from(id.as_slice()).ok().map(|id| (id, validation(v))))
            .collect();
        if let Err(e) = p2p.report_validation(reports).await {
            tracing::debug!(error = %e, "reporting gossip validation failed");
        }
        for message in deliver {
            if inbound.send(message).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}
