//! The OpenAPI document describes exactly the routes the router serves.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use coinjecture_api::ROUTES;
use serde_json::Value;

use crate::support::{Chain, config, get, request, start};

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_only_those() {
    let chain = Chain::new(1).await;
    let api = start(&chain, config()).await;
    let answer = get(&api.url("/v1/openapi.json")).await;
    assert_eq!(answer.status, StatusCode::OK);
    let doc = answer.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));

    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "delete", "patch"].contains(&k.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, served);

    // Every listed route is really routed (the fallback would answer `no_route`).
    let sample = |path: &str| {
        path.replace("{height_or_hash}", "0").replace("{hash}", &"00".repeat(32)).replace("{address}", &"11".repeat(32))
    };
    for (method, path) in ROUTES {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let answer = request(method.clone(), &api.url(&sample(path)), &[], "{}").await;
        if answer.status == StatusCode::NOT_FOUND {
            assert_ne!(answer.json()["code"], "no_route", "{method} {path} is documented but not routed");
        }
    }

    // Every operation documents its responses, and every $ref resolves.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
            assert!(op["operationId"].is_string(), "{method} {path} has no operationId");
        }
    }
    check_refs(&doc, &doc);
}

fn check_refs(doc: &Value, node: &Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let pointer = reference.strip_prefix('#').expect("local $ref");
                assert!(doc.pointer(pointer).is_some(), "dangling $ref {reference}");
            }
            map.values().for_each(|v| check_refs(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(doc, v)),
        _ => {}
    }
}
