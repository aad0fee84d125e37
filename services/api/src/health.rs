//! `GET /health` (liveness) and `GET /ready` (readiness), for load balancers, Kubernetes probes
//! and compose healthchecks.
//!
//! - `/health` answers 200 `{"status": "ok"}` whenever the process serves HTTP; it asks no other
//!   service (a liveness probe must not restart a node whose peers are down).
//! - `/ready` answers 200 when the node can serve current data and take part in the chain, else
//!   503; both with `{"ready", "reasons", "checks"}`, `reasons` naming each failed rule:
//!   1. the ledger answers (`ledger: …` otherwise);
//!   2. consensus answers, i.e. its driver runs (`consensus: …`);
//!   3. it is not catching up (`syncing`);
//!   4. a validator of the current set is signing (`signing paused: …`);
//!   5. when the current set has a validator other than this node, at least one peer is
//!      connected (`no peers: …`): a lone validator needs none, a non-validator needs one.

use coinjecture_proto::ports::consensus::ConsensusStatus;
use serde_json::{Value, json};

use crate::grpc::PublicApiService;
use crate::ledger_view::LedgerView as _;

/// What readiness is decided on.
#[derive(Debug, Default, Clone)]
pub(crate) struct Inputs {
    /// `Err`: the ledger did not answer, with why.
    pub(crate) ledger: Option<Result<u64, String>>,
    pub(crate) consensus: Option<Result<ConsensusStatus, String>>,
    /// `None` without a p2p gateway; `Err` when it did not answer.
    pub(crate) peers: Option<Result<u32, String>>,
}

/// The reasons the node is not ready (empty: ready), and the checked values.
pub(crate) fn verdict(inputs: &Inputs) -> (Vec<String>, Value) {
    let mut reasons = Vec::new();
    let mut checks = serde_json::Map::new();
    match &inputs.ledger {
        Some(Ok(height)) => {
            checks.insert("finalized_height".into(), (*height).into());
        }
        Some(Err(e)) => reasons.push(format!("ledger: {e}")),
        None => reasons.push("ledger: not asked".into()),
    }
    let peers = match &inputs.peers {
        Some(Ok(n)) => Some(*n),
        Some(Err(e)) => {
            reasons.push(format!("p2p-gateway: {e}"));
            None
        }
        None => Some(0),
    };
    checks.insert("peers".into(), peers.into());
    match &inputs.consensus {
        Some(Ok(s)) => {
            let is_validator = s.local_validator.is_some();
            let others = s.validator_count.saturating_sub(u32::from(is_validator));
            checks.insert("syncing".into(), s.syncing.into());
            checks.insert("validator".into(), is_validator.into());
            checks.insert("validator_count".into(), s.validator_count.into());
            checks.insert("signing_paused".into(), s.signing_paused.clone().map_or(Value::Null, Value::from));
            if s.syncing {
                reasons.push("syncing: catching up from peers".into());
            }
            if is_validator && let Some(paused) = &s.signing_paused {
                reasons.push(format!("signing paused: {paused}"));
            }
            if others > 0 && peers == Some(0) {
                reasons.push(format!(
                    "no peers: {others} other validator{} to reach, 0 connected",
                    if others == 1 { "" } else { "s" }
                ));
            }
        }
        Some(Err(e)) => reasons.push(format!("consensus: {e}")),
        None => reasons.push("consensus: not asked".into()),
    }
    (reasons, Value::Object(checks))
}

/// Asks the ledger, consensus and p2p-gateway, and decides.
pub(crate) async fn readiness(api: &PublicApiService) -> (bool, Value) {
    let b = api.backends();
    let (ledger, consensus, peers) = tokio::join!(b.ledger.get_chain_info(), b.consensus.status(), async {
        match &b.peers {
            None => None,
            Some(p) => Some(p.connected_peers().await.map_err(|e| e.to_string())),
        }
    });
    let inputs = Inputs {
        ledger: Some(ledger.map(|i| i.tip_height).map_err(|e| e.message().to_string())),
        consensus: Some(consensus.map_err(|e| e.to_string())),
        peers,
    };
    let (reasons, checks) = verdict(&inputs);
    let ready = reasons.is_empty();
    (ready, json!({ "ready": ready, "reasons": reasons, "checks": checks }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use coinjecture_primitives::{Height, Round};

    fn status(validator: bool, count: u32) -> ConsensusStatus {
        ConsensusStatus {
            chain_id: coinjecture_primitives::ChainId::new("coinjecture-health").unwrap(),
            finalized_height: Height(7),
            finalized_hash: coinjecture_primitives::Hash32::ZERO,
            height: Height(8),
            round: Round(0),
            step: None,
            proposer: None,
            local_validator: validator.then_some(coinjecture_primitives::PublicKey([1; 32])),
            syncing: false,
            mempool_size: 0,
            quorum_mode: coinjecture_primitives::validators::QuorumMode::Crash,
            validator_count: count,
            signing_paused: None,
        }
    }

    fn inputs(consensus: ConsensusStatus, peers: u32) -> Inputs {
        Inputs { ledger: Some(Ok(7)), consensus: Some(Ok(consensus)), peers: Some(Ok(peers)) }
    }

    #[test]
    fn a_synced_signing_validator_with_a_peer_is_ready() {
        assert!(verdict(&inputs(status(true, 3), 1)).0.is_empty());
        // A lone validator has nobody to talk to.
        assert!(verdict(&inputs(status(true, 1), 0)).0.is_empty());
    }

    #[test]
    fn each_failed_rule_is_named() {
        let (r, _) = verdict(&inputs(status(true, 3), 0));
        assert_eq!(r, ["no peers: 2 other validators to reach, 0 connected"]);
        // A follower of a one-validator network needs that validator.
        let (r, _) = verdict(&inputs(status(false, 1), 0));
        assert_eq!(r, ["no peers: 1 other validator to reach, 0 connected"]);
        let mut s = status(true, 3);
        s.syncing = true;
        s.signing_paused = Some("waiting for height 9 to be final".into());
        let (r, checks) = verdict(&inputs(s, 2));
        assert_eq!(r, ["syncing: catching up from peers", "signing paused: waiting for height 9 to be final"]);
        assert_eq!(checks["peers"], 2);
        let down = Inputs {
            ledger: Some(Err("connection refused".into())),
            consensus: Some(Err("consensus driver stopped".into())),
            peers: Some(Err("unreachable".into())),
        };
        let (r, _) = verdict(&down);
        assert_eq!(
            r,
            ["ledger: connection refused", "p2p-gateway: unreachable", "consensus: consensus driver stopped"]
        );
    }
}
