//! Traces and RPC metrics of real `coinjectured` processes: an in-test OTLP collector (the
//! collector's `TraceService` over tonic) receives the spans of a transaction submitted over
//! REST, and they form one trace across the api, consensus, ledger and p2p-gateway processes of
//! a split validator (and within a whole node); `/metrics` shows gRPC server latencies by
//! service, method and status.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coinjecture_e2e::{Network, transfer};
use coinjecture_primitives::PublicKey;
use coinjecture_proto::v1 as pb;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;

/// One received span.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
}

/// The OTLP/gRPC collector: keeps every span it is sent.
#[derive(Debug, Clone, Default)]
struct Collector(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                    Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                spans.push(Received {
                    service: service.clone(),
                    name: span.name,
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent_span_id: span.parent_span_id,
                });
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

impl Collector {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        format!("http://{addr}")
    }

    /// Waits until the trace whose root span `root` (from `service`) was received holds a span
    /// named `name` of each `(service, name)` in `expected`; returns that trace's spans.
    async fn wait_for_trace(&self, service: &str, root: &str, expected: &[(&str, &str)]) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let spans = self.0.lock().unwrap().clone();
            let roots: Vec<&Received> = spans
                .iter()
                .filter(|s| s.service == service && s.name == root && s.parent_span_id.is_empty())
                .collect();
            for r in &roots {
                let trace: Vec<Received> = spans.iter().filter(|s| s.trace_id == r.trace_id).cloned().collect();
                if expected.iter().all(|(svc, name)| trace.iter().any(|s| s.service == *svc && s.name == *name)) {
                    return trace;
                }
            }
            if Instant::now() > deadline {
                let mut by_trace: HashMap<String, Vec<String>> = HashMap::new();
                for s in &spans {
                    by_trace.entry(hex::encode(&s.trace_id)).or_default().push(format!("{}:{}", s.service, s.name));
                }
                let interesting: Vec<_> = by_trace.values().filter(|v| v.iter().any(|n| n.contains(root))).collect();
                panic!("no trace rooted at {service}:{root} with {expected:?}; traces with the root: {interesting:#?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The span of `trace` from `service` named `name`.
fn span<'a>(trace: &'a [Received], service: &str, name: &str) -> &'a Received {
    trace.iter().find(|s| s.service == service && s.name == name).unwrap_or_else(|| panic!("{service}:{name}"))
}

/// `{"raw": hex}` of a signed transfer from the faucet.
fn raw_transfer(net: &Network, to: PublicKey, amount: u64, nonce: u64) -> String {
    format!("{{\"raw\":\"{}\"}}", hex::encode(transfer(&net.faucet(), to, amount, nonce).encode()))
}

async fn wait_for_balance(net: &Network, nodes: &[usize], account: &PublicKey, amount: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for &i in nodes {
        while net.balance(i, account).await != amount {
            assert!(Instant::now() < deadline, "transfer not final on validator {i}:\n{}", net.log(i));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The value of one Prometheus series line (`name{labels} value`) in `text`.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_submitted_transaction_is_one_trace_across_the_split_services_and_rpc_latency_is_on_metrics() {
    let started = Instant::now();
    let collector = Collector::default();
    let endpoint = collector.start().await;

    let mut net = Network::start(3, "500ms");
    // Validator 2 as a whole node and validator 3 split into four processes, both exporting
    // traces to the collector (batches every 100 ms).
    net.env = vec![("COINJECTURE_OTEL_ENDPOINT".into(), endpoint), ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into())];
    net.kill(1);
    net.start_validator(1);
    net.kill(2);
    net.start_validator_split(2);
    net.wait_for_height(&[0, 1, 2], 3, Duration::from_secs(120)).await;

    // A transfer submitted over REST to the split validator's api process.
    let recipient = PublicKey([0x51; 32]);
    let (code, body) = net.rest_post(2, "/v1/transactions", &raw_transfer(&net, recipient, 500, 0));
    assert_eq!(code, 202, "{body}");
    let trace = collector
        .wait_for_trace(
            "api",
            "POST /v1/transactions",
            &[
                ("api", "submit transactions"),
                ("consensus", "coinjecture.v1.Consensus/SubmitTransactions"),
                ("consensus", "admit transactions"),
                ("consensus", "check transactions"),
                ("ledger", "coinjecture.v1.Ledger/CheckTransactions"),
                ("consensus", "gossip transactions"),
                ("p2p-gateway", "coinjecture.v1.P2pGateway/Publish"),
            ],
        )
        .await;
    // Each hop's server span is the child of the calling span in the other process.
    let parent_of = |service: &str, name: &str| span(&trace, service, name).parent_span_id.clone();
    assert_eq!(
        parent_of("ledger", "coinjecture.v1.Ledger/CheckTransactions"),
        span(&trace, "consensus", "check transactions").span_id
    );
    assert_eq!(
        parent_of("p2p-gateway", "coinjecture.v1.P2pGateway/Publish"),
        span(&trace, "consensus", "gossip transactions").span_id
    );
    assert_eq!(
        parent_of("consensus", "coinjecture.v1.Consensus/SubmitTransactions"),
        span(&trace, "api", "submit transactions").span_id
    );
    wait_for_balance(&net, &[0, 1, 2], &recipient, 500).await;

    // The whole node (one process, service.name coinjectured): the same steps in one trace.
    let (code, body) = net.rest_post(1, "/v1/transactions", &raw_transfer(&net, recipient, 700, 1));
    assert_eq!(code, 202, "{body}");
    collector
        .wait_for_trace(
            "coinjectured",
            "POST /v1/transactions",
            &[
                ("coinjectured", "submit transactions"),
                ("coinjectured", "admit transactions"),
                ("coinjectured", "check transactions"),
                ("coinjectured", "gossip transactions"),
            ],
        )
        .await;
    // Blocks are traced too: proposing (with the ledger's draft execution) and applying them.
    collector.wait_for_trace("consensus", "apply block", &[("ledger", "coinjecture.v1.Ledger/ApplyBlock")]).await;
    collector.wait_for_trace("consensus", "propose block", &[("ledger", "coinjecture.v1.Ledger/ExecuteBlock")]).await;

    // RPC latency on /metrics. A whole node: its internal gRPC port (the harness polls
    // Consensus.GetStatus there), including a NOT_FOUND.
    let mut ledger = pb::ledger_client::LedgerClient::new(net.channel(0).await);
    let missing = ledger.get_block_by_height(pb::GetBlockByHeightRequest { height: 1 << 40 }).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let (code, metrics) = net.rest_get(0, "/metrics");
    assert_eq!(code, 200);
    let count = |text: &str, labels: &str| series(text, &format!("coinjecture_rpc_duration_seconds_count{{{labels}}}"));
    let status_calls = count(&metrics, r#"service="coinjecture.v1.Consensus",method="GetStatus",code="OK""#);
    assert!(status_calls.is_some_and(|n| n >= 1.0), "{metrics}");
    let not_found = count(&metrics, r#"service="coinjecture.v1.Ledger",method="GetBlockByHeight",code="NOT_FOUND""#);
    assert_eq!(not_found, Some(1.0), "{metrics}");
    // The split validator's api process: its PublicApi gRPC calls.
    let url = format!("http://127.0.0.1:{}", net.api_base + 2);
    let mut api = pb::public_api_client::PublicApiClient::connect(url).await.unwrap();
    api.get_status(pb::GetStatusRequest {}).await.unwrap();
    let (code, metrics) = net.rest_get(2, "/metrics");
    assert_eq!(code, 200);
    let api_calls = count(&metrics, r#"service="coinjecture.v1.PublicApi",method="GetStatus",code="OK""#);
    assert_eq!(api_calls, Some(1.0), "{metrics}");
    println!(
        "e2e traces: split and whole-node submissions traced across services, RPC latency on /metrics, {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
