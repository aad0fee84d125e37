//! A peer publishing garbage is scored down, disconnected and banned; honest gossip goes on.

use std::time::Duration;

use coinjecture_p2p_gateway::PeerId;
use coinjecture_proto::v1 as pb;

use crate::support::*;

/// Bytes that never decode as a ConsensusMessage: field 1 with the invalid wire type 7.
fn garbage(n: u64) -> Vec<u8> {
    let mut g = vec![0x0f];
    g.extend_from_slice(&n.to_be_bytes());
    g
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_garbage_is_scored_down_and_disconnected_while_honest_traffic_continues() {
    init_tracing();
    let hub = TestNode::start(config(NET, 1, vec![])).await;
    let honest = TestNode::start(config(NET, 2, vec![hub.addr.clone()])).await;
    let rogue = TestNode::start(config(NET, 3, vec![hub.addr.clone()])).await;
    let rogue_id = rogue.handle.local_peer_id();
    wait_until(Duration::from_secs(10), "hub has both peers", || async { peer_count(&hub).await == 2 }).await;

    // The gateway refuses to publish garbage itself...
    assert!(rogue.handle.publish(pb::Topic::Votes, garbage(0)).await.is_err());
    // ...but a modified node could: it goes out (signed, so gossipsub's own checks pass) and
    // fails the hub's stateless check.
    let mut hub_sub = hub.handle.subscribe(&[pb::Topic::Votes], false).await.unwrap();
    let mut sent = 0u64;
    let mut lowest_score = 0.0f64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let peers = hub.handle.peers().await.unwrap();
        let Some(rogue_entry) = peers.iter().find(|p| p.peer_id == rogue_id) else { break };
        lowest_score = lowest_score.min(rogue_entry.score);
        assert!(tokio::time::Instant::now() < deadline, "rogue still connected after {sent} garbage messages");
        sent += 1;
        rogue.handle.publish_unchecked(pb::Topic::Votes, garbage(sent)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sent >= 1);
    // Garbage never reached the hub's subscribers.
    assert!(hub_sub.try_recv().is_none());
    let metrics = hub.handle.encode_metrics();
    assert!(metrics.contains("result=\"stateless_reject\""), "{metrics}");
    assert!(
        metrics.contains("coinjecture_p2p_disconnects_for_score_total{network=\"coinjecture-test\"} 1"),
        "{metrics}"
    );
    tracing::info!(sent, lowest_score, "rogue disconnected");

    // It stays out: its redials are refused while banned.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let peers: Vec<PeerId> = hub.handle.peers().await.unwrap().into_iter().map(|p| p.peer_id).collect();
    assert!(!peers.contains(&rogue_id), "banned rogue reconnected: {peers:?}");

    // Honest traffic continues both ways.
    let mut honest_sub = honest.handle.subscribe(&[pb::Topic::Votes], false).await.unwrap();
    until_mesh_carries(&hub.handle, &mut [&mut honest_sub], Duration::from_secs(10)).await;
    let payload = vote_payload(5);
    honest.handle.publish(pb::Topic::Votes, payload.clone()).await.unwrap();
    expect_payload(&mut hub_sub, &payload, Duration::from_secs(5)).await;
}
