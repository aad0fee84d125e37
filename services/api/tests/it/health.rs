//! `/health`, `/ready` and the validators' peer ids, as a load balancer, a Kubernetes probe and
//! an operator see them.

use std::sync::Arc;

use axum::http::StatusCode;
use coinjecture_api::Backends;
use coinjecture_proto::ports::consensus::RemoteConsensus;

use crate::support::{Chain, FakeConsensus, FakePeers, VALIDATOR_PEER_ID, config, get, serve};

fn consensus(syncing: bool, validator_count: u32, signing_paused: &str) -> Arc<FakeConsensus> {
    Arc::new(FakeConsensus {
        local_validator: vec![0xab; 32],
        syncing,
        validator_count,
        signing_paused: signing_paused.into(),
        ..Default::default()
    })
}

async fn ready_answer(chain: &Chain, consensus: Arc<FakeConsensus>, peers: u32) -> (StatusCode, serde_json::Value) {
    let backends = Backends::new(chain.ledger_service(), Arc::clone(&consensus)).with_peers(FakePeers(peers));
    let api = serve(config(), backends, consensus).await;
    let answer = get(&api.url("/ready")).await;
    (answer.status, answer.json())
}

#[tokio::test]
async fn ready_when_synced_signing_and_connected_else_503_naming_why() {
    let chain = Chain::new(2).await;
    let (status, body) = ready_answer(&chain, consensus(false, 3, ""), 2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["reasons"], serde_json::json!([]));
    assert_eq!((body["checks"]["finalized_height"].as_u64(), body["checks"]["peers"].as_u64()), (Some(2), Some(2)));

    // A lone validator has nobody to talk to: ready without peers.
    assert_eq!(ready_answer(&chain, consensus(false, 1, ""), 0).await.0, StatusCode::OK);

    for (c, peers, reason) in [
        (consensus(true, 3, ""), 2, "syncing: catching up from peers"),
        (consensus(false, 3, ""), 0, "no peers: 2 other validators to reach, 0 connected"),
        (
            consensus(false, 3, "waiting for height 9 to be final"),
            2,
            "signing paused: waiting for height 9 to be final",
        ),
    ] {
        let (status, body) = ready_answer(&chain, c, peers).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["ready"], false);
        assert_eq!(body["reasons"], serde_json::json!([reason]));
    }
}

#[tokio::test]
async fn health_answers_while_ready_says_consensus_is_down() {
    let chain = Chain::new(1).await;
    // Consensus in "another process" that is not running.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let backends =
        Backends::new(chain.ledger_service(), RemoteConsensus::from_url(&format!("http://127.0.0.1:{port}")).unwrap());
    let api = serve(config(), backends, Arc::new(FakeConsensus::default())).await;
    let health = get(&api.url("/health")).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json(), serde_json::json!({ "status": "ok" }));
    let ready = get(&api.url("/ready")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    let reasons = ready.json()["reasons"].clone();
    assert!(reasons.as_array().unwrap().iter().any(|r| r.as_str().unwrap().starts_with("consensus: ")), "{reasons}");
}

#[tokio::test]
async fn validators_show_peer_ids_and_whether_they_are_connected() {
    let chain = Chain::new(1).await;
    for (peers, connected) in [(2, serde_json::json!(true)), (0, serde_json::json!(false))] {
        let consensus = consensus(false, 1, "");
        let backends = Backends::new(chain.ledger_service(), Arc::clone(&consensus)).with_peers(FakePeers(peers));
        let api = serve(config(), backends, consensus).await;
        let v = get(&api.url("/v1/validators")).await.json();
        let validator = &v["validators"][0];
        assert_eq!(validator["peer_id"], VALIDATOR_PEER_ID, "{v}");
        assert_eq!(validator["connected"], connected, "{v}");
        assert_eq!(validator["local"], false);
    }
    // This node's own key is marked local (connected: null).
    let me = Arc::new(FakeConsensus { local_validator: vec![9; 32], ..Default::default() });
    let backends = Backends::new(chain.ledger_service(), Arc::clone(&me)).with_peers(FakePeers(1));
    let api = serve(config(), backends, me).await;
    let v = get(&api.url("/v1/validators")).await.json();
    assert_eq!(
        (v["validators"][0]["local"].clone(), v["validators"][0]["connected"].clone()),
        (true.into(), serde_json::Value::Null)
    );
}
