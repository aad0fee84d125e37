//! What each port of a real node says about itself, as an operator's tools see it: gRPC reflection
//! (grpcurl's `list`) names only the services that port serves, in one process and in the split
//! deployment (`coinjectured service <name>`); a call to a service the port does not serve is
//! UNIMPLEMENTED with a message naming it; `/metrics` answers OpenMetrics by default and the classic
//! text format to `Accept: text/plain`, which `promtool check metrics` accepts (when promtool is
//! installed: Debian's `prometheus` package, which scripts/test.sh installs), with one `network`
//! label value (the chain id) on every series.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use coinjecture_e2e::Network;
use coinjecture_proto::v1 as pb;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

const HEALTH: &str = "grpc.health.v1.Health";
const REFLECTION: &str = "grpc.reflection.v1.ServerReflection";

async fn connect(port: u16) -> Channel {
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..600 {
        if let Ok(c) = Channel::from_shared(url.clone()).unwrap().connect().await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing listens on {url}");
}

/// The services reflection lists on `port`, sorted (retried while the server starts).
async fn listed(port: u16) -> Vec<String> {
    let channel = connect(port).await;
    let mut last = String::new();
    for _ in 0..100 {
        let request = tonic_reflection::pb::v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        match ServerReflectionClient::new(channel.clone())
            .server_reflection_info(tokio_stream::iter(vec![request]))
            .await
        {
            Ok(response) => {
                let answer = response.into_inner().message().await.unwrap().unwrap();
                let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
                    panic!("unexpected reflection answer on port {port}");
                };
                let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
                names.sort();
                return names;
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("reflection on port {port} never answered: {last}");
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// A CryptoCore call on `port`: its error.
async fn crypto_core_call(port: u16) -> tonic::Status {
    let mut client = pb::crypto_core_client::CryptoCoreClient::new(connect(port).await);
    client.sha256(pb::Sha256Request { data: b"x".to_vec() }).await.expect_err("CryptoCore answered")
}

/// A Ledger call on `port`: its error.
async fn ledger_call(port: u16) -> tonic::Status {
    let mut client = pb::ledger_client::LedgerClient::new(connect(port).await);
    client.get_chain_info(pb::GetChainInfoRequest {}).await.expect_err("Ledger answered")
}

/// GET /metrics on `port` with `accept` (None: no Accept header): (content type, body).
fn scrape(port: u16, accept: Option<&str>) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n{accept}Connection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let content_type = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim()))
        .unwrap()
        .to_string();
    (content_type, body.to_string())
}

/// `promtool check metrics` on `text`: None when promtool is not installed, else its exit
/// status and output.
fn promtool_check(text: &str) -> Option<(bool, String)> {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("promtool: {e}"),
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    Some((
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    ))
}

/// Every `network="…"` label value in `text`.
fn network_labels(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            l.split_once("network=\"").and_then(|(_, rest)| rest.split_once('"')).map(|(v, _)| v.to_string())
        })
        .collect()
}

fn check_metrics(what: &str, port: u16, chain_id: &str) {
    let (content_type, openmetrics) = scrape(port, None);
    assert!(content_type.starts_with("application/openmetrics-text"), "{what}: {content_type}");
    assert!(openmetrics.trim_end().ends_with("# EOF"), "{what}: {openmetrics}");
    // What Prometheus sends: OpenMetrics first.
    let prometheus_accept = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    assert!(scrape(port, Some(prometheus_accept)).0.starts_with("application/openmetrics-text"), "{what}");
    let (content_type, text) = scrape(port, Some("text/plain"));
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{what}: {content_type}");
    assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{what}: {text}");
    assert!(text.contains("\nprocess_cpu_seconds_total ") && text.contains("\nprocess_open_fds "), "{what}: {text}");
    assert!(text.contains("\ncoinjecture_build_info{version=\""), "{what}: {text}");
    let networks = network_labels(&text);
    assert!(networks.iter().all(|n| n == chain_id), "{what}: network labels {networks:?}, chain id {chain_id}");
    match promtool_check(&text) {
        None => coinjecture_e2e::skip(
            "served_services_promtool",
            &format!("no promtool on PATH for {what}'s scrape (apt-get install prometheus)"),
        ),
        Some((ok, output)) => assert!(ok, "{what}: promtool check metrics failed:\n{output}\n--- scraped:\n{text}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_port_lists_and_serves_only_its_services_and_metrics_pass_promtool() {
    let mut net = Network::lay_out(2, "500ms");
    net.start_validator(0);
    net.start_validator_split(1);
    net.wait_for_height(&[0, 1], 2, Duration::from_secs(90)).await;

    // One process: the internal port serves the four internal services, the api port PublicApi.
    let internal = listed(net.grpc_base).await;
    assert_eq!(
        internal,
        sorted(&[
            "coinjecture.v1.Ledger",
            "coinjecture.v1.Consensus",
            "coinjecture.v1.P2pGateway",
            "coinjecture.v1.CryptoCore",
            HEALTH,
            REFLECTION
        ])
    );
    for i in [0, 1] {
        assert_eq!(listed(net.api_port(i)).await, sorted(&["coinjecture.v1.PublicApi", HEALTH, REFLECTION]), "api {i}");
    }

    // Split: each service's port lists that service.
    assert_eq!(listed(net.ledger_port(1)).await, sorted(&["coinjecture.v1.Ledger", HEALTH, REFLECTION]));
    assert_eq!(listed(net.consensus_port(1)).await, sorted(&["coinjecture.v1.Consensus", HEALTH, REFLECTION]));

    // A service the port does not serve: UNIMPLEMENTED naming it.
    for (what, status) in [
        ("split ledger port", crypto_core_call(net.ledger_port(1)).await),
        ("split consensus port", crypto_core_call(net.consensus_port(1)).await),
        ("api port", crypto_core_call(net.api_port(0)).await),
    ] {
        assert_eq!(status.code(), tonic::Code::Unimplemented, "{what}: {status:?}");
        assert!(status.message().contains("coinjecture.v1.CryptoCore/Sha256"), "{what}: {:?}", status.message());
        assert!(status.message().contains("not served on this port"), "{what}: {:?}", status.message());
    }
    let status = ledger_call(net.api_port(0)).await;
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");
    assert!(status.message().contains("coinjecture.v1.Ledger/"), "{:?}", status.message());
    // The served ones still answer.
    let mut core = pb::crypto_core_client::CryptoCoreClient::new(connect(net.grpc_base).await);
    core.sha256(pb::Sha256Request { data: b"x".to_vec() }).await.unwrap();

    // Metrics: the node's api port and a split service's --metrics-listen port.
    let chain_id = "coinjecture-devnet";
    check_metrics("validator 1 (one process) api /metrics", net.api_port(0), chain_id);
    for (k, name) in ["ledger", "p2p-gateway", "consensus"].iter().enumerate() {
        check_metrics(&format!("validator 2 split {name} /metrics"), net.split_metrics_port(1, k), chain_id);
    }
    let (_, text) = scrape(net.api_port(0), Some("text/plain"));
    assert!(text.contains("# TYPE coinjecture_validator_blocks_produced_total counter"), "{text}");
    // What ended each block this validator built (present from the start, one series per reason).
    assert!(text.contains("# TYPE coinjecture_block_fill_stopped_total counter"), "{text}");
    assert!(text.contains("reason=\"time\""), "{text}");
    // (coinjecture_consensus_dropped_messages_total appears with its first drop, as a counter too.)
    assert!(text.contains("coinjecture_database_filesystem_avail_bytes "), "{text}");
    let (_, ledger_metrics) = scrape(net.split_metrics_port(1, 0), Some("text/plain"));
    assert!(ledger_metrics.contains("coinjecture_database_size_bytes "), "{ledger_metrics}");

    // Every metric the alert rules and the Grafana dashboard use is one a live node exports.
    let mut exported = sample_names(&text);
    for k in 0..3 {
        exported.extend(sample_names(&scrape(net.split_metrics_port(1, k), Some("text/plain")).1));
    }
    let monitoring = coinjecture_e2e::workspace().join("deploy/monitoring");
    for file in ["alerts.yml", "grafana-dashboard.json"] {
        let content = std::fs::read_to_string(monitoring.join(file)).unwrap();
        let used = metric_names(&content);
        assert!(used.len() >= 10, "{file}: only {used:?}");
        // A family without series is not exported: drops appear with the first dropped message.
        let missing: Vec<&String> = used
            .iter()
            .filter(|n| !exported.contains(*n) && n.as_str() != "coinjecture_consensus_dropped_messages_total")
            .collect();
        assert!(missing.is_empty(), "{file} uses metrics no node exports: {missing:?}");
    }
}

/// The sample names of a classic-format scrape.
fn sample_names(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// The `coinjecture_*` and `process_*` metric names in a rules or dashboard file.
fn metric_names(content: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let bytes = content.as_bytes();
    for prefix in ["coinjecture_", "process_"] {
        for (start, _) in content.match_indices(prefix) {
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let end = content[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(content.len(), |n| start + n);
            names.insert(content[start..end].to_string());
        }
    }
    names
}
