//! Gossip over a line of nodes, restart and rejoin, and network isolation.

use std::time::Duration;

use coinjecture_p2p_gateway::PeerId;
use coinjecture_proto::v1 as pb;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_published_at_one_end_of_a_five_node_line_reaches_all() {
    init_tracing();
    let nodes = line(NET, 5).await;
    for (i, node) in nodes.iter().enumerate() {
        let expected = if i == 0 || i == 4 { 1 } else { 2 };
        wait_until(Duration::from_secs(10), "line connections", || async { peer_count(node).await == expected }).await;
    }
    let mut subs = Vec::new();
    for node in &nodes[1..] {
        subs.push(node.handle.subscribe(&[pb::Topic::Votes], false).await.unwrap());
    }
    {
        let mut refs: Vec<_> = subs.iter_mut().collect();
        until_mesh_carries(&nodes[0].handle, &mut refs, Duration::from_secs(15)).await;
    }

    let payload = vote_payload(42);
    let outcome = nodes[0].handle.publish(pb::Topic::Votes, payload.clone()).await.unwrap();
    assert_eq!(outcome.recipients, 1, "the end node has one neighbour");
    assert!(!outcome.duplicate);
    for (i, sub) in subs.iter_mut().enumerate() {
        let m = expect_payload(sub, &payload, Duration::from_secs(5)).await;
        assert_eq!(m.message_id, outcome.message_id, "node {} got the same content id", i + 1);
        assert_eq!(m.topic, pb::Topic::Votes);
        // Each node hears it from its neighbour towards the publisher.
        assert_eq!(m.source, nodes[i].handle.local_peer_id());
    }
    // The same bytes again are a duplicate...
    let again = nodes[0].handle.publish(pb::Topic::Votes, payload.clone()).await.unwrap();
    assert!(again.duplicate);
    // ...for a few heartbeats past the message cache (2.8 s with the test limits), not for
    // gossipsub's default minute: a re-sent vote then reaches everyone again.
    // (gossipsub forgets expired ids when it records a new one, as on any live network.)
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let other = vote_payload(43);
    nodes[0].handle.publish(pb::Topic::Votes, other.clone()).await.unwrap();
    for sub in subs.iter_mut() {
        expect_payload(sub, &other, Duration::from_secs(5)).await;
    }
    let resent = nodes[0].handle.publish(pb::Topic::Votes, payload.clone()).await.unwrap();
    assert!(!resent.duplicate);
    for sub in subs.iter_mut() {
        expect_payload(sub, &payload, Duration::from_secs(5)).await;
    }

    let metrics = nodes[4].handle.encode_metrics();
    assert!(
        metrics.contains("coinjecture_p2p_messages_received_total{network=\"coinjecture-test\",topic=\"vote\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("coinjecture_p2p_peers{network=\"coinjecture-test\"} 1"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_restarted_on_its_port_with_its_key_rejoins_and_receives() {
    init_tracing();
    let mut nodes = line(NET, 3).await;
    wait_until(Duration::from_secs(10), "middle node has both neighbours", || async {
        peer_count(&nodes[1]).await == 2
    })
    .await;

    // Kill the middle node; its neighbours notice.
    let middle = nodes.remove(1);
    let middle_addr = middle.addr.clone();
    let middle_id = middle.handle.local_peer_id();
    middle.kill().await;
    wait_until(Duration::from_secs(5), "neighbours see the disconnect", || async {
        peer_count(&nodes[0]).await == 0 && peer_count(&nodes[1]).await == 0
    })
    .await;

    // Restart it on the same port with the same key; its bootstrap is the first node, and the
    // last node's redial (with backoff) finds it again.
    let mut cfg = config(NET, 2, vec![nodes[0].addr.clone()]);
    let mut listen = middle_addr.clone();
    listen.pop(); // drop /p2p/<id>: listen on the same ip and port
    cfg.listen_addrs = vec![listen];
    let restarted = TestNode::start(cfg).await;
    assert_eq!(restarted.handle.local_peer_id(), middle_id);
    wait_until(Duration::from_secs(10), "restarted node has both neighbours again", || async {
        peer_count(&restarted).await == 2
    })
    .await;
    let last_peers: Vec<PeerId> = nodes[1].handle.peers().await.unwrap().into_iter().map(|p| p.peer_id).collect();
    assert_eq!(last_peers, vec![middle_id]);

    let mut sub_middle = restarted.handle.subscribe(&[pb::Topic::Votes], false).await.unwrap();
    let mut sub_last = nodes[1].handle.subscribe(&[pb::Topic::Votes], false).await.unwrap();
    until_mesh_carries(&nodes[0].handle, &mut [&mut sub_middle, &mut sub_last], Duration::from_secs(15)).await;
    let payload = vote_payload(7);
    nodes[0].handle.publish(pb::Topic::Votes, payload.clone()).await.unwrap();
    expect_payload(&mut sub_middle, &payload, Duration::from_secs(5)).await;
    expect_payload(&mut sub_last, &payload, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_peer_given_by_host_name_is_dialled() {
    // As on Kubernetes (/dns4/validator-0.validator/...) and compose: a name, not an address.
    init_tracing();
    let named = TestNode::start(config(NET, 1, vec![])).await;
    let port = named.addr.to_string().split('/').nth(4).unwrap().to_string();
    let by_name: coinjecture_p2p_gateway::Multiaddr =
        format!("/dns4/localhost/tcp/{port}/p2p/{}", named.handle.local_peer_id()).parse().unwrap();
    let dialler = TestNode::start(config(NET, 2, vec![by_name])).await;
    wait_until(Duration::from_secs(10), "the dialler connects to the named peer", || async {
        peer_count(&dialler).await == 1 && peer_count(&named).await == 1
    })
    .await;
    let peers: Vec<PeerId> = dialler.handle.peers().await.unwrap().into_iter().map(|p| p.peer_id).collect();
    assert_eq!(peers, vec![named.handle.local_peer_id()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_network_never_receives_our_topics() {
    init_tracing();
    let ours = TestNode::start(config(NET, 1, vec![])).await;
    let friend = TestNode::start(config(NET, 2, vec![ours.addr.clone()])).await;
    // Same host, dials us, but belongs to network B.
    let stranger = TestNode::start(config("coinjecture-other", 3, vec![ours.addr.clone()])).await;
    assert_ne!(ours.handle.topic_name(pb::Topic::Votes), stranger.handle.topic_name(pb::Topic::Votes));

    let mut friend_sub = friend.handle.subscribe(&[pb::Topic::Votes], false).await.unwrap();
    let mut stranger_sub = stranger.handle.subscribe(&pb_all_topics(), false).await.unwrap();
    until_mesh_carries(&ours.handle, &mut [&mut friend_sub], Duration::from_secs(15)).await;
    let payload = vote_payload(99);
    ours.handle.publish(pb::Topic::Votes, payload.clone()).await.unwrap();
    expect_payload(&mut friend_sub, &payload, Duration::from_secs(5)).await;

    // Nothing of ours ever reached the stranger, and it is not kept as a peer (identify shows
    // another network: disconnected).
    assert!(stranger_sub.try_recv().is_none(), "the other network received our gossip");
    assert!(!receives(&mut stranger_sub, &payload, Duration::from_millis(500)).await);
    let stranger_id = stranger.handle.local_peer_id();
    wait_until(Duration::from_secs(5), "the stranger is disconnected", || async {
        let peers: Vec<PeerId> = ours.handle.peers().await.unwrap().into_iter().map(|p| p.peer_id).collect();
        !peers.contains(&stranger_id)
    })
    .await;
}

fn pb_all_topics() -> Vec<pb::Topic> {
    coinjecture_p2p_gateway::ALL_TOPICS.to_vec()
}
