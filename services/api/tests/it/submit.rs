//! `POST /v1/transactions`: single, batch, raw, malformed items, limits.

use axum::http::{Method, StatusCode};
use coinjecture_api::ApiConfig;
use serde_json::json;

use crate::support::{Chain, REFUSED_AMOUNT, config, post_json, request, start, tx_json};

#[tokio::test]
async fn a_single_transaction_is_accepted_with_202_and_its_hash() {
    let chain = Chain::new(0).await;
    let api = start(&chain, config()).await;
    let tx = chain.chain.next_transfer(0, chain.chain.accounts[2], 500);
    let answer = post_json(&api.url("/v1/transactions"), &tx_json(&tx)).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let body = answer.json();
    assert_eq!(body["accepted_count"], 1);
    assert_eq!(body["results"][0]["tx_hash"], tx.hash().to_hex());
    assert_eq!(body["results"][0]["accepted"], true);
    assert_eq!(body["results"][0]["reason"], serde_json::Value::Null);
    let submitted = api.consensus.submitted.lock().unwrap().clone();
    assert_eq!(submitted, vec![(&tx).into()]);
}

#[tokio::test]
async fn raw_submission_carries_exactly_the_signed_bytes() {
    let chain = Chain::new(0).await;
    let api = start(&chain, config()).await;
    let tx = chain.chain.next_transfer(1, chain.chain.accounts[2], u64::from(u32::MAX) * 4);
    let answer = post_json(&api.url("/v1/transactions"), &json!({ "raw": hex::encode(tx.encode()) })).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(answer.json()["results"][0]["tx_hash"], tx.hash().to_hex());
    let bad = post_json(&api.url("/v1/transactions"), &json!({ "raw": "81a3" })).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["message"].as_str().unwrap().starts_with("raw:"));
}

#[tokio::test]
async fn a_batch_with_a_malformed_item_answers_200_with_per_item_verdicts() {
    let chain = Chain::new(0).await;
    let api = start(&chain, config()).await;
    let good = chain.chain.transfer(0, chain.chain.accounts[1], 10, 0);
    let refused = chain.chain.transfer(0, chain.chain.accounts[1], REFUSED_AMOUNT, 1);
    let mut malformed = tx_json(&chain.chain.transfer(0, chain.chain.accounts[1], 11, 2));
    malformed["from"] = json!("abcd");
    let as_string = {
        let mut t = tx_json(&chain.chain.transfer(0, chain.chain.accounts[1], 12, 3));
        t["amount"] = json!("12");
        t
    };
    let body = json!({ "transactions": [tx_json(&good), malformed, tx_json(&refused), as_string] });
    let answer = post_json(&api.url("/v1/transactions"), &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.json();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(body["accepted_count"], 2);
    assert_eq!(results[0]["accepted"], true);
    assert_eq!(results[0]["tx_hash"], good.hash().to_hex());
    assert_eq!(results[1]["accepted"], false);
    assert_eq!(results[1]["reason"], "MALFORMED");
    assert_eq!(results[1]["tx_hash"], serde_json::Value::Null);
    assert!(results[1]["message"].as_str().unwrap().starts_with("transactions[1].from:"), "{}", results[1]);
    assert_eq!(results[2]["reason"], "INSUFFICIENT_BALANCE");
    assert_eq!(results[2]["tx_hash"], refused.hash().to_hex());
    assert_eq!(results[3]["accepted"], true);
    assert_eq!(api.consensus.submitted.lock().unwrap().len(), 3, "the malformed item never reaches consensus");
}

#[tokio::test]
async fn malformed_bodies_are_400_naming_the_field() {
    let chain = Chain::new(0).await;
    let api = start(&chain, config()).await;
    let tx = tx_json(&chain.chain.next_transfer(0, chain.chain.accounts[1], 10));
    let mut missing = tx.clone();
    missing.as_object_mut().unwrap().remove("signature");
    let mut typo = tx.clone();
    typo["gasPrice"] = json!(1);
    let mut negative = tx.clone();
    negative["nonce"] = json!(-1);
    let cases = [
        (json!([1, 2]), "body:"),
        (missing, "signature:"),
        (typo, "gasPrice:"),
        (negative, "nonce:"),
        (json!({ "transactions": [] }), "transactions:"),
        (json!({ "transactions": {} }), "transactions:"),
    ];
    for (body, field) in cases {
        let answer = post_json(&api.url("/v1/transactions"), &body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        let message = answer.json()["message"].as_str().unwrap().to_string();
        assert!(message.starts_with(field), "{field}: {message}");
    }
    let json = [("content-type", "application/json")];
    let not_json = request(Method::POST, &api.url("/v1/transactions"), &json, "{not json").await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert!(not_json.json()["message"].as_str().unwrap().starts_with("body: not valid JSON"));
    assert!(api.consensus.submitted.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415_and_echoes_are_clipped() {
    let chain = Chain::new(0).await;
    let api = start(&chain, config()).await;
    let tx = tx_json(&chain.chain.next_transfer(0, chain.chain.accounts[1], 10)).to_string();
    for headers in [&[("content-type", "text/plain")][..], &[][..], &[("content-type", "application/jsonx")][..]] {
        let answer = request(Method::POST, &api.url("/v1/transactions"), headers, tx.clone()).await;
        assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{headers:?}");
        assert_eq!(answer.json()["code"], "unsupported_media_type");
    }
    let charset = [("content-type", "application/json; charset=utf-8")];
    let answer = request(Method::POST, &api.url("/v1/transactions"), &charset, tx).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    // A 100 KB value is not echoed back whole.
    let mut huge = tx_json(&chain.chain.next_transfer(0, chain.chain.accounts[1], 10));
    huge["amount"] = json!("9".repeat(100_000));
    let answer = post_json(&api.url("/v1/transactions"), &huge).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let message = answer.json()["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("amount:") && message.len() < 300, "{} chars", message.len());
    let answer = crate::support::get(&api.url(&format!("/v1/mempool?{}=1", "x".repeat(10_000)))).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.json()["message"].as_str().unwrap().len() < 300);
    assert_eq!(crate::support::get(&api.url("/v1/mempool?x=1")).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn batches_above_the_limit_are_refused_whole() {
    let chain = Chain::new(0).await;
    let api = start(&chain, ApiConfig { max_rest_batch: 3, ..config() }).await;
    let tx = tx_json(&chain.chain.next_transfer(0, chain.chain.accounts[1], 10));
    let answer = post_json(&api.url("/v1/transactions"), &json!({ "transactions": vec![tx; 4] })).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.json()["message"].as_str().unwrap().starts_with("transactions: 4 items exceed the maximum 3"));
}

#[tokio::test]
async fn an_oversize_body_is_413_and_the_server_keeps_serving() {
    let chain = Chain::new(0).await;
    let api = start(&chain, config()).await;
    let limit = ApiConfig::default().max_body_bytes;
    let body = vec![b' '; limit + 1];
    let answer =
        request(Method::POST, &api.url("/v1/transactions"), &[("content-type", "application/json")], body).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.json()["code"], "payload_too_large");
    assert_eq!(crate::support::get(&api.url("/v1/status")).await.status, StatusCode::OK);
}
