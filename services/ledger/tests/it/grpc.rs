//! The Ledger gRPC service on a real socket, with crypto-core remote (Network B), and the same
//! service called in process through its trait (Network A).

use std::sync::Arc;

use coinjecture_ledger::test_utils::{TestChain, certificate};
use coinjecture_ledger::{Ledger, LedgerService};
use coinjecture_primitives::{Block, ChainId, Signature, Transaction};
use coinjecture_proto::ports::crypto::RemoteCrypto;
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::ledger_client::LedgerClient;
use coinjecture_proto::v1::ledger_server::Ledger as LedgerRpc;
use tonic::transport::Channel;
use tonic::{Code, Request};

use crate::open_ledger;

pub(crate) struct Running {
    pub(crate) client: LedgerClient<Channel>,
    channel: Channel,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

/// crypto-core and the ledger, each on its own 127.0.0.1 port; the ledger calls crypto-core
/// over gRPC.
pub(crate) async fn start(dir: &std::path::Path, chain: &TestChain) -> Running {
    let crypto_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let crypto_addr = crypto_listener.local_addr().unwrap();
    let (stop_crypto, crypto_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(coinjecture_crypto_core::service::serve(crypto_listener, async {
        let _ = crypto_stopped.await;
    }));
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{crypto_addr}")).unwrap();
    let remote = RemoteCrypto::new(coinjecture_proto::client::connect(endpoint));
    let ledger = Arc::new(
        Ledger::open(dir.join("ledger.db"), chain.genesis.clone(), chain.validators(), Arc::new(remote)).await.unwrap(),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_ledger, ledger_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(coinjecture_ledger::serve(ledger, listener, async {
        let _ = ledger_stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let client = LedgerClient::new(channel.clone())
        .max_decoding_message_size(32 * 1024 * 1024)
        .max_encoding_message_size(32 * 1024 * 1024);
    Running { client, channel, _stops: vec![stop_crypto, stop_ledger] }
}

/// `block` with its real certificate (every test here runs chain `coinjecture-grpc`).
fn finalized(block: &Block) -> pb::Block {
    let mut pb_block = pb::Block::from(block);
    let chain = ChainId::new("coinjecture-grpc").unwrap();
    pb_block.commit_certificate = Some((&certificate(&chain, block)).into());
    pb_block
}

#[tokio::test]
async fn the_service_applies_and_serves_blocks_over_a_socket_with_a_remote_crypto_core() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new("coinjecture-grpc", 3, 1_000_000);
    let mut running = start(dir.path(), &chain).await;
    let client = &mut running.client;

    let transfer = chain.next_transfer(0, chain.accounts[1], 250);
    let block = chain.push(vec![transfer.clone()]);
    let applied =
        client.apply_block(pb::ApplyBlockRequest { block: Some(finalized(&block)) }).await.unwrap().into_inner();
    assert_eq!((applied.tip_height, applied.already_applied), (1, false));
    assert_eq!(applied.tip_hash, block.hash().0.to_vec());
    assert_eq!(applied.state_commitment, chain.tip().state_commitment.0.to_vec());
    let again =
        client.apply_block(pb::ApplyBlockRequest { block: Some(finalized(&block)) }).await.unwrap().into_inner();
    assert!(again.already_applied);

    let by_height = client.get_block_by_height(pb::GetBlockByHeightRequest { height: 1 }).await.unwrap().into_inner();
    assert_eq!(by_height.block, Some(finalized(&block)));
    assert_eq!(by_height.block_hash, block.hash().0.to_vec());

    let account = client
        .get_account(pb::LedgerGetAccountRequest { address: chain.accounts[1].0.to_vec() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(account.account.unwrap().balance, 1_000_250);
    assert_eq!(account.height, 1);

    let info = client.get_chain_info(pb::GetChainInfoRequest {}).await.unwrap().into_inner();
    assert_eq!((info.chain_id.as_str(), info.tip_height), ("coinjecture-grpc", 1));
    assert_eq!(info.genesis_hash, chain.genesis.hash().0.to_vec());

    let found = client
        .get_transaction(pb::LedgerGetTransactionRequest { tx_hash: transfer.hash().0.to_vec() })
        .await
        .unwrap()
        .into_inner()
        .transaction
        .unwrap();
    assert_eq!((found.block_height, found.index), (1, 0));

    let mut stream = client
        .get_block_range(pb::GetBlockRangeRequest { from_height: 0, limit: 10, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let mut heights = Vec::new();
    while let Some(item) = stream.message().await.unwrap() {
        heights.push(item.block.unwrap().header.unwrap().block_index);
    }
    assert_eq!(heights, vec![0, 1]);

    let history = client
        .get_account_history(pb::GetAccountHistoryRequest {
            address: chain.accounts[0].0.to_vec(),
            page_token: vec![],
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.transactions.len(), 1);
    assert!(history.next_page_token.is_empty());

    let genesis = client.get_genesis(pb::GetGenesisRequest {}).await.unwrap().into_inner();
    assert_eq!(genesis.allocations.len(), 3);
    let set = genesis.validator_set.unwrap();
    assert_eq!((set.activation_height, set.validators.len()), (1, 1));
    assert_eq!(set.validators[0].public_key, chain.proposer.0.to_vec());
    assert_eq!(genesis.genesis_hash, chain.genesis.hash().0.to_vec());

    let mut health = tonic_health::pb::health_client::HealthClient::new(running.channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "coinjecture.v1.Ledger".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
}

#[tokio::test]
async fn bad_requests_answer_invalid_argument_not_found_or_failed_precondition_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new("coinjecture-grpc", 3, 1_000_000);
    let mut running = start(dir.path(), &chain).await;
    let client = &mut running.client;

    let err = client.get_account(pb::LedgerGetAccountRequest { address: vec![1; 31] }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "address: expected 32 bytes, found 31");
    let err = client.get_block_by_hash(pb::GetBlockByHashRequest { block_hash: vec![] }).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "block_hash: expected 32 bytes, found 0"));
    let err = client.get_block_by_height(pb::GetBlockByHeightRequest { height: 99 }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .get_block_range(pb::GetBlockRangeRequest { from_height: 0, limit: 0, ..Default::default() })
        .await
        .unwrap_err();
    assert!(err.code() == Code::InvalidArgument && err.message().starts_with("limit"), "{err:?}");
    let err = client
        .get_account_history(pb::GetAccountHistoryRequest { address: vec![0; 32], page_token: vec![1, 2], limit: 5 })
        .await
        .unwrap_err();
    assert!(err.code() == Code::InvalidArgument && err.message().starts_with("page_token"), "{err:?}");

    // CheckTransactions: a malformed transaction is a per-item MALFORMED result naming the field
    // (the contract: INVALID_ARGUMENT is only for a batch above 100,000).
    let mut bad = pb::Transaction::from(&chain.next_transfer(0, chain.accounts[1], 1));
    bad.signature = vec![0; 63];
    let checked =
        client.check_transactions(pb::CheckTransactionsRequest { transactions: vec![bad] }).await.unwrap().into_inner();
    let result = &checked.results[0];
    assert!(!result.accepted);
    assert_eq!(result.reason, pb::TxRejectReason::Malformed as i32);
    assert_eq!(result.message, "transactions[0].signature: expected 64 bytes, found 63");

    // A block whose transaction's signature is wrong: the remote crypto-core's verdict decides.
    let tampered = Transaction { signature: Signature([5; 64]), ..chain.next_transfer(1, chain.accounts[2], 1) };
    let bad_block = chain.block(vec![tampered]);
    let execution = client
        .execute_block(pb::ExecuteBlockRequest { block: Some(pb::Block::from(&bad_block)), draft: false })
        .await
        .unwrap()
        .into_inner();
    assert!(!execution.valid);
    assert_eq!(execution.reason, pb::BlockRejectReason::InvalidTransaction as i32);
    assert_eq!(execution.results[0].reason, pb::TxRejectReason::BadSignature as i32);
    let err = client.apply_block(pb::ApplyBlockRequest { block: Some(finalized(&bad_block)) }).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");

    let other = chain.block(vec![]);
    let block = chain.push(vec![chain.next_transfer(0, chain.accounts[1], 1)]);
    let mut no_certificate = finalized(&block);
    no_certificate.commit_certificate = None;
    let err = client.apply_block(pb::ApplyBlockRequest { block: Some(no_certificate) }).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "block.commit_certificate: is required"));
    let mut bad_header = finalized(&block);
    bad_header.header.as_mut().unwrap().parent_hash = vec![0; 5];
    let err = client.apply_block(pb::ApplyBlockRequest { block: Some(bad_header) }).await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "block.header.parent_hash: expected 32 bytes, found 5")
    );
    let err = client.execute_block(pb::ExecuteBlockRequest { block: None, draft: false }).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "block: is required"));

    client.apply_block(pb::ApplyBlockRequest { block: Some(finalized(&block)) }).await.unwrap();
    // Another block at the final height 1.
    let err = client.apply_block(pb::ApplyBlockRequest { block: Some(finalized(&other)) }).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("a different block is already final at height 1"), "{err:?}");
    let mut far = pb::Block::from(&chain.block(vec![]));
    far.header.as_mut().unwrap().block_index = 7;
    let err = client.execute_block(pb::ExecuteBlockRequest { block: Some(far), draft: true }).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
}

#[tokio::test]
async fn the_service_value_is_the_in_process_handle() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = TestChain::new("coinjecture-grpc", 2, 1_000_000);
    let service = LedgerService::new(open_ledger(dir.path(), &chain).await);
    let block = chain.push(vec![chain.next_transfer(0, chain.accounts[1], 9)]);
    let draft = service
        .execute_block(Request::new(pb::ExecuteBlockRequest { block: Some(pb::Block::from(&block)), draft: true }))
        .await
        .unwrap()
        .into_inner();
    assert!(draft.valid);
    assert_eq!(draft.state_commitment, chain.tip().state_commitment.0.to_vec());
    assert_eq!(draft.merkle_root, block.header.merkle_root.0.to_vec());
    let applied =
        service.apply_block(Request::new(pb::ApplyBlockRequest { block: Some(finalized(&block)) })).await.unwrap();
    assert_eq!(applied.into_inner().tip_height, 1);
}
