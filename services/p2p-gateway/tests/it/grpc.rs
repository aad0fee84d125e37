//! The gRPC service on real sockets: Publish + Subscribe between two gateways, and bad requests.

use std::time::Duration;

use coinjecture_p2p_gateway::serve;
use coinjecture_proto::v1::{self as pb, p2p_gateway_client::P2pGatewayClient};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

use crate::support::*;

async fn grpc(node: &TestNode) -> (P2pGatewayClient<Channel>, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = node.handle.clone();
    tokio::spawn(async move {
        serve(handle, listener, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let client = P2pGatewayClient::connect(format!("http://{addr}")).await.unwrap();
    (client, stop)
}

fn assert_invalid(status: tonic::Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with(&format!("{field}:")), "expected field {field}: {}", status.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_subscribe_round_trip_between_two_gateways_over_grpc() {
    init_tracing();
    let a = TestNode::start(config(NET, 1, vec![])).await;
    let b = TestNode::start(config(NET, 2, vec![])).await;
    let (mut client_a, _stop_a) = grpc(&a).await;
    let (mut client_b, _stop_b) = grpc(&b).await;

    // B dials A through gRPC.
    let dialled = client_b.dial(pb::DialRequest { multiaddr: a.addr.to_string() }).await.unwrap().into_inner();
    assert_eq!(dialled.peer_id, a.handle.local_peer_id().to_base58());
    let info = client_a.get_network_info(pb::GetNetworkInfoRequest {}).await.unwrap().into_inner();
    assert_eq!(info.local_peer_id, a.handle.local_peer_id().to_base58());
    assert_eq!(info.network_id, NET);
    assert_eq!(info.topics.len(), 4);
    assert!(info.topics.iter().any(|t| t.name == "/coinjecture/coinjecture-test/vote/1"));
    wait_until(Duration::from_secs(5), "A lists B", || {
        let mut c = client_a.clone();
        async move { c.list_peers(pb::ListPeersRequest {}).await.map(|r| r.into_inner().peers.len() == 1).unwrap_or(false) }
    })
    .await;
    let peers = client_a.list_peers(pb::ListPeersRequest {}).await.unwrap().into_inner().peers;
    assert_eq!(peers[0].peer_id, b.handle.local_peer_id().to_base58());
    assert!(!peers[0].outbound, "B dialled A");

    let mut stream = client_b
        .subscribe(pb::SubscribeRequest { topics: vec![pb::Topic::Votes.into()], validate: false })
        .await
        .unwrap()
        .into_inner();
    // Publish until the subscription sees one (the mesh forms within a few heartbeats).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut height = 0;
    let (message, published) = loop {
        assert!(tokio::time::Instant::now() < deadline, "no message over gRPC");
        height += 1;
        let payload = vote_payload(height);
        let published = client_a
            .publish(pb::PublishRequest { topic: pb::Topic::Votes.into(), payload: payload.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(published.message_id.len(), 32);
        if let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_millis(300), stream.next()).await {
            break (m, published);
        }
    };
    assert_eq!(message.topic, i32::from(pb::Topic::Votes));
    assert_eq!(message.source_peer_id, a.handle.local_peer_id().to_base58());
    assert_eq!(message.payload, vote_payload(height), "the last published one");
    assert_eq!(message.message_id, published.message_id);
    assert!(message.received_at_ms > 0);
    // The same bytes again: duplicate.
    let dup = client_a
        .publish(pb::PublishRequest { topic: pb::Topic::Votes.into(), payload: vote_payload(height) })
        .await
        .unwrap()
        .into_inner();
    assert!(dup.duplicate);
    // An observer's report of an accepted message is unknown (not pending).
    let report = client_b
        .report_validation(pb::ReportValidationRequest {
            reports: vec![pb::ValidationReport {
                message_id: message.message_id,
                result: pb::ValidationResult::Accept.into(),
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((report.applied, report.unknown), (0, 1));

    // Health is served too.
    let mut health = tonic_health::pb::health_client::HealthClient::new(client_a_channel(&a).await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "coinjecture.v1.P2pGateway".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
}

async fn client_a_channel(node: &TestNode) -> Channel {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = node.handle.clone();
    tokio::spawn(async move { serve(handle, listener, std::future::pending()).await });
    Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_answer_invalid_argument_naming_the_field() {
    init_tracing();
    let node = TestNode::start(config(NET, 1, vec![])).await;
    let (mut client, _stop) = grpc(&node).await;

    let publish = |topic: pb::Topic, payload: Vec<u8>| pb::PublishRequest { topic: topic.into(), payload };
    assert_invalid(client.publish(publish(pb::Topic::Unspecified, vote_payload(1))).await.unwrap_err(), "topic");
    assert_invalid(
        client.publish(pb::PublishRequest { topic: 42, payload: vote_payload(1) }).await.unwrap_err(),
        "topic",
    );
    assert_invalid(client.publish(publish(pb::Topic::Votes, Vec::new())).await.unwrap_err(), "payload");
    let status = client.publish(publish(pb::Topic::Votes, vec![0x0f, 1, 2])).await.unwrap_err();
    assert_invalid(status.clone(), "payload");
    assert!(status.message().contains("ConsensusMessage"), "{}", status.message());
    let status = client.publish(publish(pb::Topic::Proposals, vote_payload(1))).await.unwrap_err();
    assert_invalid(status.clone(), "payload");
    assert!(status.message().contains("does not belong on topic TOPIC_PROPOSALS"), "{}", status.message());
    // Above 16 MiB: refused (by the size limit; the message names the payload or the limit).
    let huge = client.publish(publish(pb::Topic::Votes, vec![0; 16 * 1024 * 1024 + 1])).await.unwrap_err();
    assert!(matches!(huge.code(), Code::InvalidArgument | Code::OutOfRange | Code::ResourceExhausted), "{huge:?}");
    // With no peers, a valid publish succeeds with 0 recipients.
    let ok = client.publish(publish(pb::Topic::Votes, vote_payload(1))).await.unwrap().into_inner();
    assert_eq!((ok.recipients, ok.duplicate), (0, false));

    let subscribe = |topics: Vec<i32>, validate| pb::SubscribeRequest { topics, validate };
    assert_invalid(client.subscribe(subscribe(vec![], false)).await.unwrap_err(), "topics");
    assert_invalid(client.subscribe(subscribe(vec![1, 0], false)).await.unwrap_err(), "topics[1]");
    let _validating = client.subscribe(subscribe(vec![pb::Topic::Votes.into()], true)).await.unwrap();
    let second = client.subscribe(subscribe(vec![pb::Topic::Votes.into()], true)).await.unwrap_err();
    assert_eq!(second.code(), Code::FailedPrecondition, "{second:?}");

    let report = |result: i32| pb::ReportValidationRequest {
        reports: vec![pb::ValidationReport { message_id: vec![0; 32], result }],
    };
    assert_invalid(client.report_validation(report(0)).await.unwrap_err(), "reports[0].result");
    let unknown = client.report_validation(report(1)).await.unwrap().into_inner();
    assert_eq!((unknown.applied, unknown.unknown), (0, 1));

    assert_invalid(
        client.dial(pb::DialRequest { multiaddr: "not a multiaddr".into() }).await.unwrap_err(),
        "multiaddr",
    );
    // Nobody listens there: UNAVAILABLE.
    let refused = client.dial(pb::DialRequest { multiaddr: "/ip4/127.0.0.1/tcp/1".into() }).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");

    let blocks =
        |count: u32, peer_id: &str| pb::RequestBlocksRequest { from_height: 1, count, peer_id: peer_id.into() };
    assert_invalid(client.request_blocks(blocks(0, "")).await.unwrap_err(), "count");
    assert_invalid(client.request_blocks(blocks(1001, "")).await.unwrap_err(), "count");
    assert_invalid(client.request_blocks(blocks(1, "nope")).await.unwrap_err(), "peer_id");
    assert_eq!(client.request_blocks(blocks(1, "")).await.unwrap_err().code(), Code::NotFound);

    // The service keeps serving.
    client.get_network_info(pb::GetNetworkInfoRequest {}).await.unwrap();
}
