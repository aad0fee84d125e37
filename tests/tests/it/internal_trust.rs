//! The internal gRPC port (Ledger, Consensus, P2pGateway, CryptoCore) trusts whoever reaches it,
//! so it binds loopback, or it requires mutual TLS (issue 18, item 1). Real processes:
//!
//! - the forged-block attack (`Ledger.ExecuteBlock` draft, then `Ledger.ApplyBlock` with the
//!   caller's block and an empty certificate) against a node whose internal port is bound on
//!   `0.0.0.0` with mutual TLS: without a certificate of the validator's CA (plaintext, TLS
//!   without a client certificate, a certificate of another CA) the connection is refused, the
//!   ledger never sees the call, and the node keeps finalizing; with one, the port answers;
//! - a node, or a split service, configured to listen off loopback without TLS refuses to start
//!   and names the key;
//! - a split validator whose services listen on `0.0.0.0` and talk `https://` with mutual TLS
//!   finalizes.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is the failure report")]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use coinjecture_e2e::{Network, binary};
use coinjecture_proto::tls::TlsFiles;
use coinjecture_proto::v1 as pb;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// `coinjectured tls gen --dir DIR --names 127.0.0.1 [--cert-name NAME]`.
fn tls_gen(dir: &Path, cert_name: &str) {
    let out = Command::new(binary())
        .args(["tls", "gen", "--names", "127.0.0.1", "--cert-name", cert_name])
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "tls gen: {}", String::from_utf8_lossy(&out.stderr));
}

fn files(dir: &Path, name: &str) -> TlsFiles {
    TlsFiles { ca: dir.join("ca.pem"), cert: dir.join(format!("{name}.pem")), key: dir.join(format!("{name}-key.pem")) }
}

/// Validator `i`'s finalized height from its public REST port (`/v1/status`).
fn rest_height(net: &Network, i: usize) -> Option<u64> {
    // The harness's REST helper panics while the port is closed (a node starting).
    std::net::TcpStream::connect(("127.0.0.1", net.api_port(i))).ok()?;
    let (code, body) = std::panic::catch_unwind(|| net.rest_get(i, "/v1/status")).ok()?;
    if code != 200 {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(&body).ok()?["block_height"].as_u64()
}

async fn wait_rest_height(net: &Network, i: usize, height: u64, timeout: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(h) = rest_height(net, i).filter(|h| *h >= height) {
            return h;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "validator {i} did not reach height {height} (at {:?}); log:\n{}",
            rest_height(net, i),
            net.log(i)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The attack: a draft execution, then ApplyBlock of a block of the caller's choosing at tip + 1
/// with an empty, unsigned certificate. `Err` carries the first call's failure.
async fn forge_block(channel: Channel, tip: u64) -> Result<(), tonic::Status> {
    let mut ledger = pb::ledger_client::LedgerClient::new(channel);
    let header = pb::BlockHeader { block_index: tip + 1, ..Default::default() };
    let block = pb::Block { header: Some(header), ..Default::default() };
    ledger.execute_block(pb::ExecuteBlockRequest { block: Some(block.clone()), draft: true }).await?;
    ledger.apply_block(pb::ApplyBlockRequest { block: Some(block) }).await?;
    Ok(())
}

/// A channel to `port` with `tls` (or plaintext); `Err` when it cannot even connect.
async fn connect(port: u16, tls: Option<ClientTlsConfig>) -> Result<Channel, tonic::transport::Error> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://127.0.0.1:{port}")).unwrap();
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).unwrap();
    }
    endpoint.connect_timeout(Duration::from_secs(5)).timeout(Duration::from_secs(10)).connect().await
}

/// The attack over a connection that must be refused: either the connection (TLS handshake) or
/// the first call fails, and never with an answer from the ledger itself.
async fn assert_refused(port: u16, tls: Option<ClientTlsConfig>, tip: u64, what: &str) {
    match connect(port, tls).await {
        Err(e) => eprintln!("{what}: connection refused: {e:?}"),
        Ok(channel) => {
            let status = forge_block(channel, tip).await.expect_err(&format!("{what}: the forged block got through"));
            // A ledger answer (INVALID_ARGUMENT, FAILED_PRECONDITION, OK) would mean the call
            // reached it; a refused handshake is a transport error (its code varies with when
            // the connection dies: UNKNOWN, UNAVAILABLE, CANCELLED, INTERNAL for h2 framing).
            let transport = std::error::Error::source(&status)
                .is_some_and(|source| source.downcast_ref::<tonic::transport::Error>().is_some());
            assert!(
                transport || status.code() == tonic::Code::Unauthenticated,
                "{what}: expected a refused connection, got {status:?}"
            );
            let mut cause = String::new();
            let mut source = std::error::Error::source(&status);
            while let Some(e) = source {
                cause = format!("{cause} / {e}");
                source = e.source();
            }
            eprintln!("{what}: call refused: {:?}: {}{cause}", status.code(), status.message());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_block_over_a_non_loopback_internal_port_is_refused_without_a_client_certificate() {
    let mut net = Network::lay_out(1, "500ms");
    let tls_dir = net.dir.path().join("tls");
    tls_gen(&tls_dir, "node");
    // The attacker's own CA and certificate: well-formed, but not signed by the validator's CA.
    let evil_dir = net.dir.path().join("evil");
    tls_gen(&evil_dir, "node");
    let node = files(&tls_dir, "node");
    net.edit_config(0, |text| {
        text.replacen(
            "api:\n",
            &format!(
                "api:\n  grpc_bind: 0.0.0.0\n  internal_tls:\n    ca: {}\n    cert: {}\n    key: {}\n",
                node.ca.display(),
                node.cert.display(),
                node.key.display()
            ),
            1,
        )
    });
    net.start_validator(0);
    let port = net.grpc_base;
    let tip = wait_rest_height(&net, 0, 3, Duration::from_secs(120)).await;

    // 1. Plaintext gRPC to a TLS port.
    assert_refused(port, None, tip, "plaintext").await;
    // 2. TLS that trusts the server (the CA certificate is not secret) but presents no certificate.
    let ca = Certificate::from_pem(std::fs::read(&node.ca).unwrap());
    let no_cert = ClientTlsConfig::new().ca_certificate(ca.clone());
    assert_refused(port, Some(no_cert), tip, "TLS without a client certificate").await;
    // 3. A client certificate of another CA.
    let evil = files(&evil_dir, "node");
    let evil_identity =
        tonic::transport::Identity::from_pem(std::fs::read(&evil.cert).unwrap(), std::fs::read(&evil.key).unwrap());
    let other_ca = ClientTlsConfig::new().ca_certificate(ca).identity(evil_identity);
    assert_refused(port, Some(other_ca), tip, "a certificate of another CA").await;

    // The ledger never saw an ExecuteBlock or ApplyBlock call from outside (the RPC metric
    // records every call the internal port's handlers answered).
    let (code, metrics) = net.rest_get(0, "/metrics");
    assert_eq!(code, 200);
    for method in ["method=\"ApplyBlock\"", "method=\"ExecuteBlock\""] {
        assert!(
            !metrics.lines().any(|l| l.contains("coinjecture.v1.Ledger") && l.contains(method)),
            "the internal port answered a Ledger {method} call:\n{metrics}"
        );
    }

    // A client with a certificate of the validator's CA is served (the port is up, and it is
    // authentication that refused the others).
    let client_tls = coinjecture_proto::tls::client_config(&node, None).unwrap();
    let channel = connect(port, Some(client_tls)).await.expect("mutual TLS connects");
    let status = pb::consensus_client::ConsensusClient::new(channel)
        .get_status(pb::ConsensusGetStatusRequest {})
        .await
        .expect("Consensus.GetStatus over mutual TLS")
        .into_inner();
    assert!(status.finalized_height >= tip);

    // And the node keeps finalizing.
    wait_rest_height(&net, 0, tip + 5, Duration::from_secs(120)).await;
    assert!(net.exit_status(0).is_none(), "the node exited; log:\n{}", net.log(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_internal_bind_without_tls_refuses_to_start_naming_the_key() {
    let mut net = Network::lay_out(1, "500ms");
    net.edit_config(0, |text| text.replacen("api:\n", "api:\n  grpc_bind: 0.0.0.0\n", 1));
    net.start_validator(0);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = net.exit_status(0) {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "the node did not refuse to start; log:\n{}", net.log(0));
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    let log = net.log(0);
    assert!(log.contains("error: api.internal_tls:") && log.contains("api.grpc_bind 0.0.0.0 is not loopback"), "{log}");
    // check-config says the same without starting anything.
    let out = Command::new(binary()).arg("check-config").arg("--config").arg(net.config_path(0)).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("api.internal_tls:"), "{out:?}");

    // A split service listening off loopback without TLS refuses too, naming --listen; so does
    // the stateless crypto-core unless told --insecure-public.
    net.edit_config(0, |text| text.replacen("  grpc_bind: 0.0.0.0\n", "", 1));
    let free = coinjecture_e2e::free_port_base(2);
    let listen = format!("0.0.0.0:{free}");
    let config = net.config_path(0);
    let out = Command::new(binary())
        .args(["service", "ledger", "--listen", &listen, "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--listen 0.0.0.0:") && stderr.contains("api.internal_tls"), "{stderr}");
    let out = Command::new(binary()).args(["service", "crypto-core", "--listen", &listen]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--insecure-public"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_services_off_loopback_talk_mutual_tls_and_finalize() {
    let mut net = Network::lay_out(1, "500ms");
    let tls_dir = net.dir.path().join("tls");
    tls_gen(&tls_dir, "node");
    net.start_validator_split_tls(0, &tls_dir);
    let h = wait_rest_height(&net, 0, 3, Duration::from_secs(180)).await;
    // The split ledger, on 0.0.0.0, refuses the forged block from a client without a certificate
    // of the validator's CA, as the node's internal port does.
    let ca = Certificate::from_pem(std::fs::read(tls_dir.join("ca.pem")).unwrap());
    assert_refused(net.ledger_port(0), None, h, "split ledger, plaintext").await;
    assert_refused(
        net.ledger_port(0),
        Some(ClientTlsConfig::new().ca_certificate(ca)),
        h,
        "split ledger, no certificate",
    )
    .await;
    wait_rest_height(&net, 0, h + 3, Duration::from_secs(120)).await;
}
