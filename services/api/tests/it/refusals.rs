//! Admission refusals are counted by reason (`ApiConfig::refusals`, exported by the node as
//! `coinjecture_api_refusals_total{reason}`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use coinjecture_api::{ApiConfig, ConcurrencyLimits, RateLimit, Refusals};
use coinjecture_proto::v1 as pb;
use coinjecture_proto::v1::public_api_client::PublicApiClient;

use crate::support::{Chain, config, get, request, start};

fn counts(refusals: &Refusals) -> HashMap<&'static str, u64> {
    refusals.snapshot().into_iter().map(|(reason, n)| (reason.label(), n)).collect()
}

#[tokio::test]
async fn each_refusal_is_counted_under_its_reason() {
    let chain = Chain::new(2).await;
    // Caps without a budget: a stream beyond the per-IP cap of 1, a body over 1,000 bytes.
    let capped = ApiConfig {
        concurrency: ConcurrencyLimits { max_streams_per_ip: 1, ..ConcurrencyLimits::default() },
        max_body_bytes: 1_000,
        ..config()
    };
    let refusals = std::sync::Arc::clone(&capped.refusals);
    let api = start(&chain, capped).await;
    assert!(counts(&refusals).values().all(|n| *n == 0));
    let mut client = PublicApiClient::connect(format!("http://{}", api.addr)).await.unwrap();
    let _open = client.stream_blocks(pb::StreamBlocksRequest { from_height: 0 }).await.unwrap();
    let refused = client.stream_blocks(pb::StreamBlocksRequest { from_height: 0 }).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert_eq!(counts(&refusals)["streams_per_ip"], 1);
    let json = [("content-type", "application/json")];
    let big = request(Method::POST, &api.url("/v1/transactions"), &json, Bytes::from(vec![b' '; 2_000])).await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(counts(&refusals)["body_too_large"], 1);

    // A budget of 3 requests: the ones past it are 429, each counted.
    let budgeted = ApiConfig { rate_limit: Some(RateLimit { per_second: 0.01, burst: 3 }), ..config() };
    let refusals = std::sync::Arc::clone(&budgeted.refusals);
    let api = start(&chain, budgeted).await;
    let mut limited = 0;
    for _ in 0..10 {
        if get(&api.url("/v1/status")).await.status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(limited >= 7, "{limited} of 10 refused");
    let after = counts(&refusals);
    assert_eq!(after["per_ip_budget"], limited, "{after:?}");
    assert_eq!(after.values().sum::<u64>(), limited, "no other reason: {after:?}");
}
