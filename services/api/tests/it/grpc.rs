//! The public gRPC service on the REST port: status, blocks, limits, streaming, health,
//! reflection, and a remote ledger.

use std::sync::Arc;
use std::time::Duration;

use coinjecture_api::{Backends, connect_ledger};
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::get_block_request::Selector;
use coinjecture_proto::v1::public_api_client::PublicApiClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::support::{CHAIN_ID, Chain, FakePeers, config, fake_consensus, serve, start};

async fn client(url: String) -> PublicApiClient<Channel> {
    PublicApiClient::connect(url).await.unwrap()
}

#[tokio::test]
async fn get_status_and_get_block_over_a_socket() {
    let chain = Chain::new(2).await;
    let api = start(&chain, config()).await;
    let mut client = client(api.url("")).await;

    let status = client.get_status(pb::GetStatusRequest {}).await.unwrap().into_inner();
    assert_eq!(status.chain_id, CHAIN_ID);
    assert_eq!(status.network_id, CHAIN_ID);
    assert_eq!(status.block_height, 2);
    assert_eq!(status.latest_block_hash, chain.blocks[1].hash().0.to_vec());
    assert_eq!(status.latest_block_time, chain.blocks[1].header.timestamp);
    assert_eq!(status.validator, vec![0xab; 32]);
    assert_eq!(status.peers, 4);
    assert_eq!(status.genesis_hash, chain.chain.genesis.hash().0.to_vec());
    assert_eq!(status.version, "9.9.9-test");

    let by_height = client
        .get_block(pb::GetBlockRequest { selector: Some(Selector::Height(1)) })
        .await
        .unwrap()
        .into_inner()
        .block
        .unwrap();
    let block = &chain.blocks[0];
    assert_eq!(by_height.block_hash, block.hash().0.to_vec());
    assert_eq!(by_height.transaction_hashes, vec![block.transactions[0].hash().0.to_vec()]);
    assert!(by_height.block.as_ref().unwrap().commit_certificate.is_some());
    let by_hash = client
        .get_block(pb::GetBlockRequest { selector: Some(Selector::Hash(block.hash().0.to_vec())) })
        .await
        .unwrap()
        .into_inner()
        .block
        .unwrap();
    assert_eq!(by_hash, by_height);

    let missing = client.get_block(pb::GetBlockRequest { selector: Some(Selector::Height(9)) }).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let short =
        client.get_block(pb::GetBlockRequest { selector: Some(Selector::Hash(vec![1; 31])) }).await.unwrap_err();
    assert_eq!(short.code(), Code::InvalidArgument);
    assert!(short.message().starts_with("hash:"), "{}", short.message());
    let unset = client.get_block(pb::GetBlockRequest { selector: None }).await.unwrap_err();
    assert!(unset.message().starts_with("selector:"));
}

#[tokio::test]
async fn limits_and_bad_arguments_name_the_field() {
    let chain = Chain::new(1).await;
    let api = start(&chain, config()).await;
    let mut client = client(api.url("")).await;
    let e = client.list_blocks(pb::ListBlocksRequest { limit: 101, ..Default::default() }).await.unwrap_err();
    assert_eq!((e.code(), e.message().starts_with("limit:")), (Code::InvalidArgument, true));
    let e = client.get_account(pb::GetAccountRequest { address: vec![0; 5] }).await.unwrap_err();
    assert!(e.message().starts_with("address:"));
    let e = client.get_transaction(pb::GetTransactionRequest { tx_hash: vec![] }).await.unwrap_err();
    assert!(e.message().starts_with("tx_hash:"));
    let e = client.submit_transaction(pb::SubmitTransactionRequest { transaction: None }).await.unwrap_err();
    assert!(e.message().starts_with("transaction:"));
    let e = client.get_validators(pb::GetValidatorsRequest { height: Some(0) }).await.unwrap_err();
    assert!(e.message().starts_with("height:"));
    let e = client
        .list_account_transactions(pb::ListAccountTransactionsRequest {
            address: vec![1; 32],
            page_token: vec![],
            limit: 1001,
        })
        .await
        .unwrap_err();
    assert!(e.message().starts_with("limit:"));

    let page = client
        .list_blocks(pb::ListBlocksRequest { from_height: None, limit: 0, descending: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.blocks.len(), 2);
    assert_eq!(page.next_height, None);

    let tx = chain.chain.next_transfer(0, chain.chain.accounts[1], 7);
    let submitted = client
        .submit_transactions(pb::SubmitTransactionsRequest {
            transactions: vec![(&tx).into(), pb::Transaction::default()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(submitted.accepted_count, 1);
    assert_eq!(submitted.results[0].tx_hash, tx.hash().0.to_vec());
    assert_eq!(submitted.results[1].reason, i32::from(pb::TxRejectReason::Malformed));
}

#[tokio::test]
async fn health_and_reflection_list_public_api() {
    let chain = Chain::new(0).await;
    let api = start(&chain, config()).await;
    let channel = Channel::from_shared(api.url("")).unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "coinjecture.v1.PublicApi".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status(), tonic_health::pb::health_check_response::ServingStatus::Serving);

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(channel);
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection.server_reflection_info(tokio_stream::iter(vec![request])).await.unwrap().into_inner();
    let response = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"coinjecture.v1.PublicApi".to_string()), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health".to_string()), "{names:?}");
}

#[tokio::test]
async fn stream_blocks_sends_stored_blocks_then_new_ones_and_ends_on_shutdown() {
    let mut chain = Chain::new(2).await;
    let api = start(&chain, config()).await;
    let mut client = client(api.url("")).await;
    let mut stream = client.stream_blocks(pb::StreamBlocksRequest { from_height: 1 }).await.unwrap().into_inner();
    let height = |m: pb::StreamBlocksResponse| m.block.unwrap().block.unwrap().header.unwrap().block_index;
    assert_eq!(height(stream.message().await.unwrap().unwrap()), 1);
    assert_eq!(height(stream.message().await.unwrap().unwrap()), 2);

    let next = chain.push_transfer().await;
    let message = tokio::time::timeout(Duration::from_secs(5), stream.message()).await.expect("new block streamed");
    let view = message.unwrap().unwrap().block.unwrap();
    assert_eq!(view.block_hash, next.hash().0.to_vec());

    let stopped = tokio::spawn(api.stop());
    let end = tokio::time::timeout(Duration::from_secs(10), stream.message()).await.expect("stream ends on shutdown");
    match end {
        Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
        Ok(None) => {}
        Ok(Some(m)) => panic!("unexpected block after shutdown: {m:?}"),
    }
    tokio::time::timeout(Duration::from_secs(10), stopped).await.expect("server stops").unwrap().unwrap();
}

#[tokio::test]
async fn a_remote_ledger_answers_like_the_in_process_one() {
    let chain = Chain::new(3).await;
    let ledger_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ledger_addr = ledger_listener.local_addr().unwrap();
    let (stop_ledger, ledger_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(coinjecture_ledger::serve(Arc::clone(&chain.ledger), ledger_listener, async {
        let _ = ledger_stopped.await;
    }));
    let consensus = fake_consensus();
    let remote =
        Backends::new(Arc::new(connect_ledger(&format!("http://{ledger_addr}")).unwrap()), Arc::clone(&consensus))
            .with_peers(FakePeers(4));
    let remote_api = serve(config(), remote, consensus).await;
    let local_api = start(&chain, config()).await;

    for path in [
        "/v1/status",
        "/v1/blocks/2",
        "/v1/blocks?order=desc",
        &format!("/v1/accounts/{}", chain.chain.accounts[0].to_hex()),
    ] {
        let remote = crate::support::get(&remote_api.url(path)).await;
        let local = crate::support::get(&local_api.url(path)).await;
        assert_eq!(remote.status, axum::http::StatusCode::OK, "{path}");
        assert_eq!(remote.json(), local.json(), "{path}");
    }
    let mut remote_client = client(remote_api.url("")).await;
    let mut stream =
        remote_client.stream_blocks(pb::StreamBlocksRequest { from_height: 0 }).await.unwrap().into_inner();
    for expected in 0..=3 {
        let view = stream.message().await.unwrap().unwrap().block.unwrap();
        assert_eq!(view.block.unwrap().header.unwrap().block_index, expected);
    }
    let _ = stop_ledger.send(());
}

#[tokio::test]
async fn stream_blocks_wakes_on_tip_updates() {
    let mut chain = Chain::new(1).await;
    let consensus = fake_consensus();
    let (announce, updates) = tokio::sync::watch::channel(1u64);
    let backends = Backends::new(chain.ledger_service(), Arc::clone(&consensus)).with_tip_updates(updates);
    let api = serve(config(), backends, consensus).await;
    let mut client = client(api.url("")).await;
    let mut stream = client.stream_blocks(pb::StreamBlocksRequest { from_height: 1 }).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(100)).await;

    let next = chain.push_transfer().await;
    announce.send_replace(2);
    // Well under the 2 s fallback poll: the announcement woke the stream.
    let message =
        tokio::time::timeout(Duration::from_millis(1000), stream.message()).await.expect("woken by the update");
    assert_eq!(message.unwrap().unwrap().block.unwrap().block_hash, next.hash().0.to_vec());
}
