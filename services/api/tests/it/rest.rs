//! REST reads, errors and middleware on a real socket over a real ledger.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use coinjecture_api::{ApiConfig, Backends, RateLimit};
use coinjecture_primitives::Transaction;
use coinjecture_proto::ports::consensus::RemoteConsensus;

use crate::support::{CHAIN_ID, Chain, FakeConsensus, config, get, request, serve, start};

#[tokio::test]
async fn status_reports_the_tip_validator_peers_and_version() {
    let chain = Chain::new(3).await;
    let api = start(&chain, config()).await;
    let answer = get(&api.url("/v1/status")).await;
    assert_eq!(answer.status, StatusCode::OK);
    let s = answer.json();
    let tip = chain.blocks.last().unwrap();
    assert_eq!(s["network"], "A");
    assert_eq!(s["network_id"], CHAIN_ID);
    assert_eq!(s["chain_id"], CHAIN_ID);
    assert_eq!(s["block_height"], 3);
    assert_eq!(s["latest_block_hash"], tip.hash().to_hex());
    assert_eq!(s["latest_block_time_ms"], tip.header.timestamp_ms().get());
    assert_eq!(s["latest_block_time"], "2026-01-01T00:00:03.000Z");
    assert_eq!(s["validator"], "ab".repeat(32));
    assert_eq!(s["peers"], 4);
    assert_eq!(s["syncing"], false);
    assert_eq!(s["signing_paused"], serde_json::Value::Null);
    assert_eq!(s["version"], "9.9.9-test");
    assert_eq!(s["genesis_hash"], chain.chain.genesis.hash().to_hex());
}

#[tokio::test]
async fn without_a_p2p_gateway_peers_is_zero_and_validator_null_when_not_a_validator() {
    let chain = Chain::new(0).await;
    let consensus = Arc::new(FakeConsensus::default());
    let api = serve(config(), Backends::new(chain.ledger_service(), Arc::clone(&consensus)), consensus).await;
    let s = get(&api.url("/v1/status")).await.json();
    assert_eq!(s["peers"], 0);
    assert_eq!(s["validator"], serde_json::Value::Null);
    assert_eq!(s["block_height"], 0);
}

#[tokio::test]
async fn blocks_by_height_and_by_hash_and_unknown_ones() {
    let chain = Chain::new(2).await;
    let api = start(&chain, config()).await;
    let block = &chain.blocks[1];
    let tx: &Transaction = &block.transactions[0];

    let by_height = get(&api.url("/v1/blocks/2")).await;
    assert_eq!(by_height.status, StatusCode::OK);
    let b = by_height.json();
    assert_eq!(b["hash"], block.hash().to_hex());
    assert_eq!(b["height"], 2);
    assert_eq!(b["block_index"], 2);
    assert_eq!(b["parent_hash"], chain.blocks[0].hash().to_hex());
    assert_eq!(b["merkle_root"], block.header.merkle_root.to_hex());
    assert_eq!(b["miner_address"], block.header.miner_address.to_hex());
    assert_eq!(b["extra_data"], hex::encode(&block.header.extra_data));
    assert_eq!(b["round"], 0);
    assert!(b["state_commitment"].as_str().unwrap().len() == 64);
    assert_eq!(b["transaction_count"], 1);
    assert_eq!(b["transactions"][0]["hash"], tx.hash().to_hex());
    assert_eq!(b["transactions"][0]["amount"], tx.amount);
    assert_eq!(b["transactions"][0]["tx_type"], "Transfer");
    assert_eq!(b["commit_certificate"]["round"], 0);
    assert_eq!(b["commit_certificate"]["signatures"][0]["validator"], block.header.miner_address.to_hex());

    let by_hash = get(&api.url(&format!("/v1/blocks/{}", block.hash().to_hex()))).await;
    assert_eq!(by_hash.status, StatusCode::OK);
    assert_eq!(by_hash.json(), b);

    let genesis = get(&api.url("/v1/blocks/0")).await.json();
    assert_eq!(genesis["commit_certificate"], serde_json::Value::Null);
    assert_eq!(genesis["hash"], chain.chain.genesis.hash().to_hex());

    let missing = get(&api.url("/v1/blocks/99")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["code"], "not_found");
    let unknown_hash = get(&api.url(&format!("/v1/blocks/{}", "ee".repeat(32)))).await;
    assert_eq!(unknown_hash.status, StatusCode::NOT_FOUND);
}

/// #22 item 3: a node keeping the last 16 of 20 blocks answers 410 Gone for the pruned ones,
/// naming the oldest height it serves, and says it in /v1/status.
#[tokio::test]
async fn pruned_blocks_are_410_gone_naming_the_oldest_kept_height() {
    let chain = Chain::pruning(20, 16).await;
    let api = start(&chain, config()).await;
    let status = get(&api.url("/v1/status")).await.json();
    assert_eq!(status["oldest_block_height"], 5);
    assert_eq!(status["block_height"], 20);

    for path in [
        "/v1/blocks/3".to_string(),
        format!("/v1/blocks/{}", chain.blocks[0].hash().to_hex()),
        "/v1/blocks?from=1&order=asc&limit=10".to_string(),
    ] {
        let gone = get(&api.url(&path)).await;
        assert_eq!(gone.status, StatusCode::GONE, "{path}");
        let body = gone.json();
        assert_eq!(body["code"], "pruned", "{path}");
        assert_eq!(body["oldest_height"], 5, "{path}");
        assert!(body["message"].as_str().unwrap().contains("from height 5"), "{path}: {body}");
    }
    // The kept window and genesis are served; headers-only listings reach below it.
    assert_eq!(get(&api.url("/v1/blocks/5")).await.status, StatusCode::OK);
    assert_eq!(get(&api.url("/v1/blocks/0")).await.status, StatusCode::OK);
    let headers = get(&api.url("/v1/blocks?from=1&order=asc&limit=10&headers_only=true")).await;
    assert_eq!(headers.status, StatusCode::OK);
    assert_eq!(headers.json()["blocks"].as_array().unwrap().len(), 10);
    // An archive node says 0.
    let archive = Chain::new(1).await;
    let api = start(&archive, config()).await;
    assert_eq!(get(&api.url("/v1/status")).await.json()["oldest_block_height"], 0);
}

#[tokio::test]
async fn bad_block_ids_hashes_addresses_and_params_are_400_naming_them() {
    let chain = Chain::new(1).await;
    let api = start(&chain, config()).await;
    let cases = [
        ("/v1/blocks/xyz", "height_or_hash:"),
        (&*format!("/v1/blocks/{}", "zz".repeat(32)), "height_or_hash:"),
        ("/v1/blocks/123456789012345678901234", "height_or_hash:"),
        ("/v1/transactions/abcd", "hash:"),
        (&*format!("/v1/accounts/{}", "1".repeat(63)), "address:"),
        (&*format!("/v1/accounts/{}/transactions?limit=5000", "11".repeat(32)), "limit:"),
        (&*format!("/v1/accounts/{}/transactions?cursor=xyz", "11".repeat(32)), "cursor:"),
        (&*format!("/v1/accounts/{}/transactions?cursor=0102", "11".repeat(32)), "cursor:"),
        ("/v1/blocks?limit=101", "limit:"),
        ("/v1/blocks?limit=abc", "limit:"),
        ("/v1/blocks?order=sideways", "order:"),
        ("/v1/blocks?form=1", "form:"),
        ("/v1/validators?height=0", "height:"),
    ];
    for (path, field) in cases {
        let answer = get(&api.url(path)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}");
        let body = answer.json();
        assert_eq!(body["code"], "invalid_argument", "{path}");
        assert!(body["message"].as_str().unwrap().starts_with(field), "{path}: {body}");
    }
}

#[tokio::test]
async fn block_pages_walk_up_and_down() {
    let chain = Chain::new(5).await;
    let api = start(&chain, config()).await;
    let up = get(&api.url("/v1/blocks?order=asc&from=1&limit=2")).await.json();
    let heights: Vec<u64> = up["blocks"].as_array().unwrap().iter().map(|b| b["height"].as_u64().unwrap()).collect();
    assert_eq!(heights, vec![1, 2]);
    assert_eq!(up["next_from"], 3);
    assert!(up["blocks"][0].get("transactions").is_none(), "summaries carry hashes only");
    assert_eq!(up["blocks"][0]["transaction_hashes"][0], chain.blocks[0].transactions[0].hash().to_hex());

    let latest = get(&api.url("/v1/blocks?order=desc&limit=3&full=true")).await.json();
    let heights: Vec<u64> =
        latest["blocks"].as_array().unwrap().iter().map(|b| b["height"].as_u64().unwrap()).collect();
    assert_eq!(heights, vec![5, 4, 3]);
    assert_eq!(latest["next_from"], 2);
    assert_eq!(latest["blocks"][0]["transactions"][0]["hash"], chain.blocks[4].transactions[0].hash().to_hex());

    // Newest first by default; `latest` names the tip wherever a height is taken.
    let newest = get(&api.url("/v1/blocks?limit=2")).await.json();
    let heights: Vec<u64> =
        newest["blocks"].as_array().unwrap().iter().map(|b| b["height"].as_u64().unwrap()).collect();
    assert_eq!((heights, newest["next_from"].as_u64()), (vec![5, 4], Some(3)));
    let tip = get(&api.url("/v1/blocks/latest")).await;
    assert_eq!(tip.status, StatusCode::OK);
    assert_eq!(tip.json()["height"], 5);
    assert_eq!(tip.json()["hash"], chain.blocks[4].hash().to_hex());
    let from_latest = get(&api.url("/v1/blocks?from=latest&limit=1")).await.json();
    assert_eq!(from_latest["blocks"][0]["height"], 5);

    let end = get(&api.url("/v1/blocks?order=asc&from=4")).await.json();
    assert_eq!(end["blocks"].as_array().unwrap().len(), 2);
    assert_eq!(end["next_from"], serde_json::Value::Null);
    let beyond = get(&api.url("/v1/blocks?order=asc&from=50")).await.json();
    assert!(beyond["blocks"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn transactions_accounts_and_history() {
    let chain = Chain::new(3).await;
    let api = start(&chain, config()).await;
    let tx = &chain.blocks[1].transactions[0];
    let found = get(&api.url(&format!("/v1/transactions/{}", tx.hash().to_hex()))).await;
    assert_eq!(found.status, StatusCode::OK);
    let t = found.json();
    assert_eq!((t["block_height"].as_u64(), t["index"].as_u64()), (Some(2), Some(0)));
    assert_eq!(t["block_hash"], chain.blocks[1].hash().to_hex());
    assert_eq!(t["from"], tx.from.to_hex());
    assert_eq!(t["signature"], tx.signature.to_hex());
    assert_eq!(t["data"], hex::encode(&tx.data));
    let missing = get(&api.url(&format!("/v1/transactions/{}", "00".repeat(32)))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let receiver = chain.chain.accounts[1];
    let account = get(&api.url(&format!("/v1/accounts/{}", receiver.to_hex()))).await.json();
    let expected = chain.chain.account(&receiver);
    assert_eq!(account["balance"], expected.balance);
    assert_eq!(account["nonce"], expected.nonce);
    assert_eq!(account["height"], 3);
    let stranger = get(&api.url(&format!("/v1/accounts/{}", "42".repeat(32)))).await.json();
    assert_eq!((stranger["balance"].as_u64(), stranger["nonce"].as_u64()), (Some(0), Some(0)));

    let sender = chain.chain.accounts[0].to_hex();
    let page = get(&api.url(&format!("/v1/accounts/{sender}/transactions?limit=2"))).await.json();
    let heights: Vec<u64> =
        page["transactions"].as_array().unwrap().iter().map(|t| t["block_height"].as_u64().unwrap()).collect();
    assert_eq!(heights, vec![3, 2], "newest first");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = get(&api.url(&format!("/v1/accounts/{sender}/transactions?limit=2&cursor={cursor}"))).await.json();
    assert_eq!(rest["transactions"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn validators_mempool_metrics_explorer() {
    let chain = Chain::new(1).await;
    let api = start(&chain, config()).await;
    let v = get(&api.url("/v1/validators")).await.json();
    assert_eq!(v["validators"][0]["public_key"], "09".repeat(32));
    assert_eq!(v["quorum_mode"], "CRASH");
    // The chain's tip is 1: sets are known up to height 2 (being decided); above, 404.
    assert_eq!(get(&api.url("/v1/validators?height=2")).await.json()["height"], 2);
    assert_eq!(get(&api.url("/v1/validators?height=latest")).await.json()["height"], 1);
    for height in ["3", "99999999"] {
        let beyond = get(&api.url(&format!("/v1/validators?height={height}"))).await;
        assert_eq!(beyond.status, StatusCode::NOT_FOUND, "height={height}");
        assert_eq!(beyond.json()["code"], "not_found");
        assert!(beyond.json()["message"].as_str().unwrap().starts_with("height:"), "{}", beyond.json());
    }

    let m = get(&api.url("/v1/mempool")).await.json();
    assert_eq!(m["capacity_transactions"], 100_000);

    let metrics = get(&api.url("/metrics")).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    assert!(String::from_utf8_lossy(&metrics.body).contains("coinjecture_block_height{network=\"A\"} 3"));

    let page = get(&api.url("/")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let html = String::from_utf8_lossy(&page.body);
    for id in ["id=\"height\"", "id=\"latest-blocks\"", "id=\"search-form\"", "id=\"view\"", "id=\"chart-block-time\""]
    {
        assert!(html.contains(id), "explorer lacks {id}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let chain = Chain::new(0).await;
    let api = start(&chain, config()).await;
    let nowhere = get(&api.url("/v2/nothing")).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.json()["code"], "no_route");
    let wrong_method = request(Method::DELETE, &api.url("/v1/status"), &[], "").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.json()["code"], "method_not_allowed");
    assert!(wrong_method.header("allow").is_some());
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_per_ip() {
    let chain = Chain::new(0).await;
    let config = ApiConfig { rate_limit: Some(RateLimit { per_second: 0.5, burst: 3 }), ..config() };
    let api = start(&chain, config).await;
    for _ in 0..3 {
        assert_eq!(get(&api.url("/v1/status")).await.status, StatusCode::OK);
    }
    let limited = get(&api.url("/v1/status")).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.json()["code"], "rate_limited");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");

    // gRPC shares the bucket and gets RESOURCE_EXHAUSTED.
    let mut client = coinjecture_proto::v1::public_api_client::PublicApiClient::connect(api.url("")).await.unwrap();
    let refused = client.get_status(coinjecture_proto::v1::GetStatusRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
}

#[tokio::test]
async fn cors_allows_gets_from_anywhere_and_submissions_from_configured_origins() {
    let chain = Chain::new(0).await;
    let config = ApiConfig { cors_origins: vec!["https://wallet.example".into()], ..config() };
    let api = start(&chain, config).await;
    let answer = request(Method::GET, &api.url("/v1/status"), &[("origin", "https://anyone.example")], "").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));

    let preflight = |origin: &'static str| {
        let url = api.url("/v1/transactions");
        async move {
            request(
                Method::OPTIONS,
                &url,
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "content-type"),
                ],
                "",
            )
            .await
        }
    };
    let allowed = preflight("https://wallet.example").await;
    assert_eq!(allowed.header("access-control-allow-origin"), Some("https://wallet.example"));
    let other = preflight("https://evil.example").await;
    assert_eq!(other.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_slow_upstream_times_out_with_504_and_a_missing_one_is_503() {
    let chain = Chain::new(0).await;
    let slow = Arc::new(FakeConsensus { mempool_delay: Duration::from_secs(5), ..Default::default() });
    let config = ApiConfig { request_timeout: Duration::from_millis(200), ..config() };
    let api = serve(config, Backends::new(chain.ledger_service(), Arc::clone(&slow)), slow).await;
    let answer = get(&api.url("/v1/mempool")).await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(answer.json()["code"], "timeout");

    // Consensus at an address where nothing listens.
    let unused = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", unused.local_addr().unwrap());
    drop(unused);
    let backends = Backends::new(chain.ledger_service(), RemoteConsensus::from_url(&dead).unwrap());
    let api = serve(crate::support::config(), backends, Arc::new(FakeConsensus::default())).await;
    let answer = get(&api.url("/v1/status")).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = answer.json();
    assert_eq!(body["code"], "unavailable");
    assert!(body["message"].as_str().unwrap().starts_with("consensus unavailable"), "{body}");
    // Reads that need only the ledger still work.
    assert_eq!(get(&api.url("/v1/blocks/0")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn shutdown_is_prompt() {
    let chain = Chain::new(0).await;
    let api = start(&chain, config()).await;
    assert_eq!(get(&api.url("/v1/status")).await.status, StatusCode::OK);
    tokio::time::timeout(Duration::from_secs(10), api.stop()).await.expect("stops in time").unwrap();
}
