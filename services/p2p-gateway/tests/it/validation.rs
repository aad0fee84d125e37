//! Manual validation: a message is forwarded only after the validating subscriber accepts it.

use std::time::Duration;

use coinjecture_p2p_gateway::{P2pError, Validation};
use coinjecture_proto::v1 as pb;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_forwarded_only_after_the_validating_subscriber_accepts() {
    init_tracing();
    let nodes = line(NET, 3).await;
    wait_until(Duration::from_secs(10), "middle connected", || async { peer_count(&nodes[1]).await == 2 }).await;
    let mut end_sub = nodes[2].handle.subscribe(&[pb::Topic::Votes], false).await.unwrap();
    let mut middle_obs = nodes[1].handle.subscribe(&[pb::Topic::Votes], false).await.unwrap();
    until_mesh_carries(&nodes[0].handle, &mut [&mut end_sub, &mut middle_obs], Duration::from_secs(15)).await;

    let mut validator = nodes[1].handle.subscribe(&[pb::Topic::Votes, pb::Topic::Proposals], true).await.unwrap();
    // One validating subscriber per topic.
    let second = nodes[1].handle.subscribe(&[pb::Topic::Votes], true).await;
    assert!(matches!(second, Err(P2pError::TopicAlreadyValidated(_))), "{second:?}");

    // Accepted: forwarded to the far end.
    let accepted = vote_payload(1);
    nodes[0].handle.publish(pb::Topic::Votes, accepted.clone()).await.unwrap();
    let m = expect_payload(&mut validator, &accepted, Duration::from_secs(5)).await;
    // The observer sees it as it arrives, the far end does not see it before the verdict.
    expect_payload(&mut middle_obs, &accepted, Duration::from_secs(1)).await;
    assert!(!receives(&mut end_sub, &accepted, Duration::from_millis(500)).await, "forwarded before validation");
    let outcome = nodes[1].handle.report_validation(vec![(m.message_id, Validation::Accept)]).await.unwrap();
    assert_eq!((outcome.applied, outcome.unknown), (1, 0));
    expect_payload(&mut end_sub, &accepted, Duration::from_secs(5)).await;
    // A second report for the same message is unknown.
    let outcome = nodes[1].handle.report_validation(vec![(m.message_id, Validation::Accept)]).await.unwrap();
    assert_eq!((outcome.applied, outcome.unknown), (0, 1));

    // Rejected: never forwarded.
    let rejected = vote_payload(2);
    nodes[0].handle.publish(pb::Topic::Votes, rejected.clone()).await.unwrap();
    let m = expect_payload(&mut validator, &rejected, Duration::from_secs(5)).await;
    nodes[1].handle.report_validation(vec![(m.message_id, Validation::Reject)]).await.unwrap();
    assert!(!receives(&mut end_sub, &rejected, Duration::from_millis(800)).await, "rejected message forwarded");

    // Unreported: ignored after the validation timeout (2 s in tests), never forwarded.
    let unreported = vote_payload(3);
    nodes[0].handle.publish(pb::Topic::Votes, unreported.clone()).await.unwrap();
    let m = expect_payload(&mut validator, &unreported, Duration::from_secs(5)).await;
    assert!(!receives(&mut end_sub, &unreported, Duration::from_millis(2500)).await);
    let late = nodes[1].handle.report_validation(vec![(m.message_id, Validation::Accept)]).await.unwrap();
    assert_eq!((late.applied, late.unknown), (0, 1), "expired");
    let metrics = nodes[1].handle.encode_metrics();
    for result in ["accept", "reject", "timeout"] {
        assert!(metrics.contains(&format!("topic=\"vote\",result=\"{result}\"")), "{result}: {metrics}");
    }

    // Dropping the validator releases the topic: messages flow without waiting again.
    drop(validator);
    let again = nodes[1].handle.subscribe(&[pb::Topic::Votes], true).await;
    assert!(again.is_ok(), "topic released");
    drop(again);
    let free = vote_payload(4);
    // The next subscribe call (or delivery) notices the dropped receiver.
    let _observer = nodes[1].handle.subscribe(&[pb::Topic::Blocks], false).await.unwrap();
    nodes[0].handle.publish(pb::Topic::Votes, free.clone()).await.unwrap();
    expect_payload(&mut end_sub, &free, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_relay_unvalidated_off_nothing_is_relayed_before_a_validator_subscribes() {
    init_tracing();
    // Its own network and keys: tests run in parallel in one process.
    const NET_UNVALIDATED: &str = "coinjecture-test-unvalidated";
    let first = TestNode::start(config(NET_UNVALIDATED, 41, vec![])).await;
    let mut middle_config = config(NET_UNVALIDATED, 42, vec![first.addr.clone()]);
    middle_config.limits.relay_unvalidated = false;
    let middle = TestNode::start(middle_config).await;
    let last = TestNode::start(config(NET_UNVALIDATED, 43, vec![middle.addr.clone()])).await;
    wait_until(Duration::from_secs(10), "middle connected", || async { peer_count(&middle).await == 2 }).await;
    let mut end_sub = last.handle.subscribe(&[pb::Topic::Votes], false).await.unwrap();
    let mut middle_obs = middle.handle.subscribe(&[pb::Topic::Votes], false).await.unwrap();
    until_mesh_carries(&first.handle, &mut [&mut middle_obs], Duration::from_secs(15)).await;
    // The middle node sees the messages (observers do) but relays none of them.
    for i in 0..3 {
        let payload = vote_payload(100 + i);
        first.handle.publish(pb::Topic::Votes, payload.clone()).await.unwrap();
        expect_payload(&mut middle_obs, &payload, Duration::from_secs(5)).await;
        assert!(!receives(&mut end_sub, &payload, Duration::from_millis(800)).await, "relayed unvalidated");
    }
    assert!(middle.handle.encode_metrics().contains("result=\"unvalidated\""));
    // With a validator, what it accepts flows again.
    let mut validator = middle.handle.subscribe(&[pb::Topic::Votes], true).await.unwrap();
    let accepted = vote_payload(200);
    first.handle.publish(pb::Topic::Votes, accepted.clone()).await.unwrap();
    let m = expect_payload(&mut validator, &accepted, Duration::from_secs(5)).await;
    middle.handle.report_validation(vec![(m.message_id, Validation::Accept)]).await.unwrap();
    expect_payload(&mut end_sub, &accepted, Duration::from_secs(5)).await;
}
