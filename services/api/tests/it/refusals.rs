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
    let config = ApiConfig {
        rate_limit: Some(RateLimit { per_second: 0.01, burst: 5 }),
        concurrency: ConcurrencyLimits { max_streams_per_ip: 1, ..ConcurrencyLimits::default() },
        max_body_bytes: 1_000,
        ..config()
    };
    let refusals = std::sync::Arc::clone(&config.refusals);
    let api = start(&chain, config).await;
    assert!(counts(&refusals).values().all(|n| *n == 0));

    // A stream beyond the per-IP cap of 1 (opening a stream costs no budget).
    let mut client = PublicApiClient::connect(format!("http://{}", api.addr)).await.unwrap();
    let _open = client.stream_blocks(pb::StreamBlocksRequest { from_height: 0 }).await.unwrap();
    let refused = client.stream_blocks(pb::StreamBlocksRequest { from_height: 0 }).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert_eq!(counts(&refusals)["streams_per_ip"], 1);

    // A body over max_body_bytes: 413.
    let big = request(
        Method::POST,
        &api.url("/v1/transactions"),
        &[("content-type", "application/json")],
        Bytes::from(vec![b' '; 2_000]),
    )
    .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(counts(&refusals)["body_too_large"], 1);

    // Requests past the per-IP budget of 5: 429, each counted.
    let mut limited = 0;
    for _ in 0..10 {
        if get(&api.url("/v1/status")).await.status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(limited >= 3, "{limited} of 10 refused");
    let after = counts(&refusals);
    assert_eq!(after["per_ip_budget"], limited, "{after:?}");
    assert_eq!(after["global_budget"] + after["in_flight_per_ip"] + after["in_flight_global"], 0, "{after:?}");
}
