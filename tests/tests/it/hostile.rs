//! Hostile clients against a 3-validator devnet of real processes (issue 17): each attack class,
//! and what a user would check while it runs — the validator stays up and keeps finalizing (the
//! height rises on every node), honest requests from another address are answered within
//! [`HONEST_BOUND`], memory stays bounded, nothing accepted is lost. The API's refusals are
//! read back from `/metrics`; the p2p port is flooded too.
//!
//! Attackers use loopback source addresses other than 127.0.0.1 (all of 127/8 is local on
//! Linux), the honest client uses 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test: a panic is the failure report")]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use coinjecture_e2e::{Network, tail, transfer, transfer_with_gas_price};
use coinjecture_primitives::PublicKey;
use coinjecture_proto::v1 as pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The longest an honest request from another address may take while an attack runs (generous:
/// the machine running the suite is loaded).
const HONEST_BOUND: Duration = Duration::from_secs(5);

fn attacker(a: u8, b: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, a, b))
}

/// One attack at a time, and nothing else of the suite beside it: each test loads the machine on
/// purpose, and the honest-latency bound is about the node under attack, not about three attacks
/// (or other tests' networks) sharing two cores.
async fn one_at_a_time() -> coinjecture_e2e::MachineAlone {
    coinjecture_e2e::machine_alone().await
}

/// Raises this test process's soft file-descriptor limit (it holds >1,100 sockets).
fn raise_own_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft < hard {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard.min(1 << 20), hard);
    }
}

async fn connect_from(source: IpAddr, port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    tokio::time::timeout(Duration::from_secs(3), socket.connect(SocketAddr::from(([127, 0, 0, 1], port))))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}

/// An HTTP/1.1 request from `source`: (status, body, time taken).
async fn http_from(source: IpAddr, port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, String, Duration) {
    let started = Instant::now();
    let answer = async {
        let mut s = connect_from(source, port).await.ok()?;
        let content = body
            .map_or(String::new(), |b| format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
        let head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{content}Connection: close\r\n\r\n");
        s.write_all(head.as_bytes()).await.ok()?;
        if let Some(b) = body {
            // A server may answer (429, 413) before it reads a large body, and close: what it
            // said is still read below, as an HTTP client would.
            let _ = s.write_all(b.as_bytes()).await;
        }
        let mut response = Vec::new();
        if s.read_to_end(&mut response).await.is_err() && response.is_empty() {
            return None;
        }
        let response = String::from_utf8_lossy(&response).to_string();
        let status = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Some((status, body))
    };
    let (status, body) = tokio::time::timeout(Duration::from_secs(30), answer).await.ok().flatten().unwrap_or_default();
    (status, body, started.elapsed())
}

/// Honest `GET /v1/status` from 127.0.0.1: the time until it was answered (a 429 is retried
/// after its `Retry-After`, as a client would, within [`HONEST_BOUND`]), or what failed (status
/// 0: no answer, the connection closed or timed out).
async fn honest_status(port: u16) -> Result<(Duration, String), String> {
    let started = Instant::now();
    // Each attempt's status and time, so a slow answer says whether it was refused or slow.
    let mut trail = String::new();
    loop {
        let (status, body, took) = http_from(IpAddr::V4(Ipv4Addr::LOCALHOST), port, "GET", "/v1/status", None).await;
        trail.push_str(&format!("{status} in {took:?}; "));
        match status {
            200 => return Ok((started.elapsed(), trail)),
            429 if started.elapsed() < HONEST_BOUND => {
                trail.push_str(&format!("({}) ", body.chars().take(120).collect::<String>()));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            _ => return Err(format!("status {status} after {:?}: {body} (attempts: {trail})", started.elapsed())),
        }
    }
}

async fn heights(net: &Network) -> Vec<u64> {
    let mut out = Vec::new();
    for i in 0..net.validators {
        out.push(net.height(i).await.unwrap_or(0));
    }
    out
}

/// Polls honest status requests for `duration`; the slowest answer (panics on a failure).
async fn honest_requests_for(net: &Network, duration: Duration) -> Duration {
    let port = net.api_port(0);
    let until = Instant::now() + duration;
    let mut slowest = Duration::ZERO;
    let mut slowest_trail = String::new();
    while Instant::now() < until {
        let (took, trail) = honest_status(port)
            .await
            .unwrap_or_else(|e| panic!("an honest status request failed ({e})\n{}", tail(&net.log(0))));
        if took > HONEST_BOUND {
            let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
            panic!("an honest request took {took:?} (bound {HONEST_BOUND:?}; attempts: {trail}; load {load})");
        }
        if took > slowest {
            slowest = took;
            slowest_trail = trail;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("slowest honest request: {slowest:?} (attempts: {slowest_trail})");
    slowest
}

/// Three validators at height 2, validator 0 started under `ulimit -n 1024` (the usual soft limit).
async fn three_validators_the_first_with_1024_descriptors() -> Network {
    let mut net = Network::lay_out(3, "500ms");
    net.start_validator_with_fd_limit(0, 1024);
    net.start_validator(1);
    net.start_validator(2);
    net.wait_for_height(&[0, 1, 2], 2, Duration::from_secs(120)).await;
    net
}

async fn assert_finalizing(net: &Network, before: &[u64], by: u64) {
    let target = before.iter().copied().max().unwrap_or(0) + by;
    net.wait_for_height(&[0, 1, 2], target, Duration::from_secs(90)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_and_slowloris_connections_do_not_stop_a_validator_with_1024_descriptors() {
    let _serial = one_at_a_time().await;
    raise_own_fd_limit();
    let mut net = three_validators_the_first_with_1024_descriptors().await;
    let port = net.api_port(0);
    let before = heights(&net).await;

    // 1,100 idle connections from 50 addresses (22 each), never sending a byte.
    let mut connecting = Vec::new();
    for k in 0..1_100u32 {
        let source = attacker(1, 1 + u8::try_from(k % 50).unwrap());
        connecting.push(tokio::spawn(async move { connect_from(source, port).await.ok() }));
    }
    // 200 slowloris connections from 5 addresses: a request line, then a byte every 2 s.
    let mut slow = Vec::new();
    for k in 0..200u32 {
        let source = attacker(2, 1 + u8::try_from(k % 5).unwrap());
        slow.push(tokio::spawn(async move {
            let Ok(mut s) = connect_from(source, port).await else { return false };
            if s.write_all(b"GET /v1/status HTTP/1.1\r\n").await.is_err() {
                return true;
            }
            for _ in 0..30 {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if s.write_all(b"X").await.is_err() {
                    return true;
                }
            }
            false
        }));
    }
    // The node's descriptors while the attack runs (sampled every 250 ms).
    let pid = net.pid(0).unwrap();
    let sampler = tokio::spawn(async move {
        let mut most = 0;
        for _ in 0..80 {
            most = most.max(std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        most
    });
    let slowest = honest_requests_for(&net, Duration::from_secs(25)).await;
    let most_fds = sampler.await.unwrap();
    let mut idle = Vec::new();
    for c in connecting {
        if let Some(s) = c.await.unwrap() {
            idle.push(s);
        }
    }
    println!("validator 0 held at most {most_fds} file descriptors (limit 1024)");
    assert!(net.exit_status(0).is_none(), "validator 0 exited under the attack:\n{}", tail(&net.log(0)));
    assert!(most_fds < 1_000, "validator 0 came within reach of its descriptor limit: {most_fds}");
    let log = net.log(0);
    assert!(!log.contains("Too many open files"), "validator 0 ran out of descriptors:\n{}", tail(&log));
    assert!(slowest <= HONEST_BOUND, "an honest request took {slowest:?} (bound {HONEST_BOUND:?})");
    assert_finalizing(&net, &before, 5).await;
    let cut = futures_join(slow).await.into_iter().filter(|closed| *closed).count();
    assert!(cut >= 190, "only {cut} of 200 slowloris connections were cut by the node");
    // What the operator sees: the listener's refusals on /metrics.
    let (_, metrics, _) = http_from(IpAddr::V4(Ipv4Addr::LOCALHOST), port, "GET", "/metrics", None).await;
    let header_timeouts = metrics
        .lines()
        .find(|l| {
            l.starts_with("coinjecture_listener_refusals{")
                && l.contains("listener=\"api\"")
                && l.contains("header_timeout")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no listener metrics on /metrics:\n{metrics}"));
    assert!(header_timeouts >= 200, "coinjecture_listener_refusals header_timeout = {header_timeouts}");
    println!(
        "idle connections opened {}; most fds {most_fds}; header timeouts on /metrics {header_timeouts}; honest slowest {slowest:?}; slowloris cut {cut}/200; heights {before:?} -> {:?}",
        idle.len(),
        heights(&net).await
    );
    drop(idle);
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<bool>>) -> Vec<bool> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// A tonic channel to `port` whose connection comes from `source`.
async fn channel_from(source: IpAddr, port: u16) -> tonic::transport::Channel {
    let connector = tower::service_fn(move |_: tonic::codegen::http::Uri| async move {
        connect_from(source, port).await.map(hyper_util::rt::TokioIo::new)
    });
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_with_connector(connector)
        .await
        .unwrap()
}

/// `count` transfers with wrong signatures, as a REST batch body of raw encodings.
fn bad_signature_batch(count: usize, seed: u64) -> String {
    let key = coinjecture_crypto_core::signatures::Keypair::from_seed(&[9; 32]);
    let items: Vec<String> = (0..count)
        .map(|n| {
            let mut tx = transfer(&key, PublicKey([7; 32]), 1 + seed, n as u64);
            tx.signature.0[0] ^= 0xff;
            format!("{{\"raw\":\"{}\"}}", hex::encode(tx.encode()))
        })
        .collect();
    format!("{{\"transactions\":[{}]}}", items.join(","))
}

/// `coinjecture_api_refusals_total{reason}` from the node's `/metrics`, by reason.
async fn refusals(port: u16) -> std::collections::HashMap<String, u64> {
    let (status, text, _) = http_from(IpAddr::V4(Ipv4Addr::LOCALHOST), port, "GET", "/metrics", None).await;
    assert_eq!(status, 200, "/metrics: {text}");
    let counts: std::collections::HashMap<String, u64> = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("coinjecture_api_refusals_total{")?;
            let reason = rest.split("reason=\"").nth(1)?.split('"').next()?;
            let value = line.rsplit(' ').next()?.parse::<f64>().ok()?;
            Some((reason.to_string(), value as u64))
        })
        .collect();
    assert!(counts.contains_key("global_budget"), "no coinjecture_api_refusals_total in /metrics:\n{text}");
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unread_streams_bad_signature_floods_and_large_data_leave_the_validator_serving() {
    let _serial = one_at_a_time().await;
    raise_own_fd_limit();
    let net = Network::start(3, "500ms");
    net.wait_for_height(&[0, 1, 2], 2, Duration::from_secs(120)).await;
    let port = net.api_port(0);
    let rss_before = net.rss_kib(0).unwrap();
    let before = heights(&net).await;

    // 300 StreamBlocks streams from one address (3 connections), never read.
    let mut open_streams = Vec::new();
    let mut refused = 0;
    for c in 0..3 {
        let channel = channel_from(attacker(3, 1), port).await;
        let _ = c;
        let mut client = pb::public_api_client::PublicApiClient::new(channel);
        for _ in 0..100 {
            match client.stream_blocks(pb::StreamBlocksRequest { from_height: 0 }).await {
                Ok(stream) => open_streams.push(stream),
                Err(s) if s.code() == tonic::Code::ResourceExhausted => refused += 1,
                Err(s) => panic!("StreamBlocks: {s:?}"),
            }
        }
    }

    // 24 POSTs of 10,000 wrongly signed transactions from another address, all at once.
    let body = std::sync::Arc::new(bad_signature_batch(10_000, 0));
    let floods: Vec<_> = (0..24)
        .map(|_| {
            let body = body.clone();
            tokio::spawn(async move {
                let (status, answer, _) =
                    http_from(attacker(4, 1), port, "POST", "/v1/transactions", Some(&body)).await;
                if status != 0 {
                    println!("flood answered {status}: {}", answer.chars().take(300).collect::<String>());
                }
                status
            })
        })
        .collect();

    // Meanwhile an honest client submits a transfer and reads the status.
    let faucet = net.faucet();
    let recipient = PublicKey([42; 32]);
    let nonce = net.nonce(0, &faucet.public_key()).await;
    let honest_tx = transfer(&faucet, recipient, 1_234, nonce);
    let raw = format!("{{\"raw\":\"{}\"}}", hex::encode(honest_tx.encode()));
    let (code, answer, took) =
        http_from(IpAddr::V4(Ipv4Addr::LOCALHOST), port, "POST", "/v1/transactions", Some(&raw)).await;
    assert_eq!(code, 202, "the honest transfer was refused: {answer}");
    assert!(took <= HONEST_BOUND, "the honest submission took {took:?}");
    let slowest = honest_requests_for(&net, Duration::from_secs(10)).await;
    assert!(slowest <= HONEST_BOUND, "an honest request took {slowest:?} (bound {HONEST_BOUND:?})");

    // A transfer with 512 KiB of data at the usual fee pays for its size, or is refused.
    let mut large = transfer_with_gas_price(&faucet, recipient, 1, nonce + 1, 1);
    large.data.extend(std::iter::repeat_n(0u8, 512 * 1024));
    large.signature = faucet.sign(&large.signing_message());
    let raw = format!("{{\"raw\":\"{}\"}}", hex::encode(large.encode()));
    let (code, answer, _) =
        http_from(IpAddr::V4(Ipv4Addr::LOCALHOST), port, "POST", "/v1/transactions", Some(&raw)).await;
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains("FEE_TOO_LOW") && answer.contains("min_fee_per_byte"), "{answer}");

    let mut statuses = Vec::new();
    for f in floods {
        statuses.push(f.await.unwrap());
    }
    // 200: processed (every item refused). A refused flood is answered 429 before its body is
    // read, so the client often sees the connection reset while still writing (0).
    let processed = statuses.iter().filter(|s| **s == 200).count();
    assert!(processed <= 3, "only the burst's worth of floods should be processed: {statuses:?}");
    assert!(open_streams.len() <= 4, "{} unread streams were opened from one address", open_streams.len());
    // Each refusal is counted by its reason.
    let counted = refusals(port).await;
    assert!(counted["streams_per_ip"] >= 1 && counted["streams_per_ip"] <= refused, "{counted:?}, {refused} refused");
    let floods_refused = (statuses.len() - processed) as u64;
    assert!(counted["per_ip_budget"] + counted["global_budget"] >= floods_refused, "{counted:?}, floods {statuses:?}");

    assert_finalizing(&net, &before, 5).await;
    let rss_after = net.rss_kib(0).unwrap();
    let grown_mib = rss_after.saturating_sub(rss_before) / 1024;
    assert!(grown_mib < 150, "RSS grew {grown_mib} MiB ({rss_before} -> {rss_after} KiB)");
    // Nothing accepted is lost: the honest transfer is final on every node.
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..3 {
        while net.balance(i, &recipient).await != 1_234 {
            assert!(Instant::now() < deadline, "the accepted transfer never became final on {i}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    println!(
        "streams open {} refused {refused}; floods {statuses:?}; honest slowest {slowest:?}; RSS +{grown_mib} MiB; heights {before:?} -> {:?}",
        open_streams.len(),
        heights(&net).await
    );
    drop(open_streams);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_flooded_from_many_addresses_meet_the_global_budget_and_honest_reads_are_served() {
    let _serial = one_at_a_time().await;
    raise_own_fd_limit();
    let mut net = Network::start(3, "500ms");
    net.wait_for_height(&[0, 1, 2], 20, Duration::from_secs(120)).await;
    let port = net.api_port(0);
    let before = heights(&net).await;
    // 50 addresses, 4 loops each, listing 100 blocks at a time for 15 s.
    let until = Instant::now() + Duration::from_secs(15);
    let floods: Vec<_> = (0..200u32)
        .map(|k| {
            let source = attacker(5, 1 + u8::try_from(k % 50).unwrap());
            tokio::spawn(async move {
                let (mut served, mut global, mut other) = (0u32, 0u32, 0u32);
                while Instant::now() < until {
                    let (status, body, _) = http_from(source, port, "GET", "/v1/blocks?limit=100", None).await;
                    match status {
                        200 => served += 1,
                        429 if body.contains("request budget") => global += 1,
                        _ => other += 1,
                    }
                }
                (served, global, other)
            })
        })
        .collect();
    let slowest = honest_requests_for(&net, Duration::from_secs(15)).await;
    let (mut served, mut global, mut other) = (0, 0, 0);
    for f in floods {
        let (s, g, o) = f.await.unwrap();
        served += s;
        global += g;
        other += o;
    }
    assert!(net.exit_status(0).is_none(), "validator 0 exited under the attack:\n{}", tail(&net.log(0)));
    assert!(slowest <= HONEST_BOUND, "an honest request took {slowest:?} (bound {HONEST_BOUND:?})");
    assert!(global > 0, "the flood never met the global budget (served {served}, other {other})");
    let counted = refusals(port).await;
    assert!(counted["global_budget"] >= u64::from(global), "{counted:?}: {global} answers named the global budget");
    assert_finalizing(&net, &before, 5).await;
    println!(
        "listings served {served}, refused by the global budget {global}, otherwise {other}; honest slowest {slowest:?}; heights {before:?} -> {:?}",
        heights(&net).await
    );
}

/// The p2p port flooded: 1,100 TCP connections from 50 addresses to a validator with 1,024
/// descriptors, every other one starting libp2p's handshake (multistream-select) and stalling.
/// The validator stays up and keeps finalizing, drops what exceeds `p2p.limits` (pending
/// handshakes beyond 32 at once, handshakes after 10 s), and an honest validator restarted
/// during the flood connects to it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooded_p2p_port_keeps_the_validator_finalizing_and_open_to_honest_peers() {
    let _serial = one_at_a_time().await;
    raise_own_fd_limit();
    let mut net = three_validators_the_first_with_1024_descriptors().await;
    let p2p = net.p2p_port(0);
    let before = heights(&net).await;

    let mut flood = Vec::new();
    for k in 0..1_100u32 {
        let source = attacker(6, 1 + u8::try_from(k % 50).unwrap());
        flood.push(tokio::spawn(async move {
            let mut s = connect_from(source, p2p).await.ok()?;
            if k % 2 == 0 {
                // "/multistream/1.0.0\n", length-prefixed: how every libp2p connection starts.
                s.write_all(b"\x13/multistream/1.0.0\n").await.ok()?;
            }
            Some(s)
        }));
    }
    let pid = net.pid(0).unwrap();
    let sampler = tokio::spawn(async move {
        let mut most = 0;
        for _ in 0..80 {
            most = most.max(std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        most
    });
    // An honest peer connecting during the flood: validator 2 restarts.
    net.kill(2);
    net.start_validator(2);
    let most_fds = sampler.await.unwrap();

    // After 20 s, the connections the node has closed (read: end of stream or reset).
    let mut open = Vec::new();
    let mut refused = 0;
    for f in flood {
        match f.await.unwrap() {
            Some(s) => open.push(s),
            None => refused += 1,
        }
    }
    let mut closed = 0;
    for s in &mut open {
        let mut byte = [0u8; 256];
        loop {
            match tokio::time::timeout(Duration::from_millis(20), s.read(&mut byte)).await {
                Ok(Ok(0) | Err(_)) => {
                    closed += 1;
                    break;
                }
                Ok(Ok(_)) => continue, // the node's half of multistream-select
                Err(_) => break,       // still open
            }
        }
    }
    assert!(net.exit_status(0).is_none(), "validator 0 exited under the flood:\n{}", tail(&net.log(0)));
    let log = net.log(0);
    assert!(!log.contains("Too many open files"), "validator 0 ran out of descriptors:\n{}", tail(&log));
    assert!(most_fds < 1_000, "validator 0 came within reach of its descriptor limit: {most_fds}");
    assert!(
        closed + refused >= 1_000,
        "only {closed} of {} connections closed by the node ({refused} never connected)",
        open.len()
    );
    assert_finalizing(&net, &before, 5).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while net.peer_count(0).await.unwrap_or(0) < 2 {
        assert!(Instant::now() < deadline, "the restarted validator 2 never reconnected to validator 0");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "p2p flood: {closed} of {} connections closed by the node, {refused} not connected; at most {most_fds} descriptors; heights {before:?} -> {:?}",
        open.len(),
        heights(&net).await
    );
    drop(open);
}

/// Whole-block listings over a range of large blocks (8 transactions of 900 KiB of data), from
/// 20 addresses at once for 15 s: every answer is cut at `max_list_bytes` (4 MiB) and names
/// where to go on, the pages followed from there list every block once, memory stays bounded,
/// the chain keeps finalizing and honest requests are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn listings_of_large_blocks_are_cut_at_the_byte_bound_and_memory_stays_bounded() {
    let _serial = one_at_a_time().await;
    raise_own_fd_limit();
    let net = Network::start(3, "500ms");
    net.wait_for_height(&[0, 1, 2], 2, Duration::from_secs(120)).await;
    let port = net.api_port(0);

    // 8 transactions of 900 KiB each, paying for their size.
    let faucet = net.faucet();
    let first_nonce = net.nonce(0, &faucet.public_key()).await;
    let mut expected_data = 0;
    for k in 0..8u64 {
        let mut tx = transfer_with_gas_price(&faucet, PublicKey([7; 32]), 1, first_nonce + k, 1_000);
        tx.data.extend(std::iter::repeat_n(0u8, 900 * 1024));
        expected_data += tx.data.len();
        tx.signature = faucet.sign(&tx.signing_message());
        let raw = format!("{{\"raw\":\"{}\"}}", hex::encode(tx.encode()));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (code, answer, _) =
                http_from(IpAddr::V4(Ipv4Addr::LOCALHOST), port, "POST", "/v1/transactions", Some(&raw)).await;
            if code == 202 {
                break;
            }
            // 429: over the address's budget (each 4 KiB of body costs a unit, and 8 of these
            // bodies together exceed the burst). 0: the refusal came before the body was sent
            // and the connection was reset before it could be read.
            assert!(
                (code == 429 || code == 0) && Instant::now() < deadline,
                "a large transaction was refused: {code} {answer}"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while net.nonce(0, &faucet.public_key()).await < first_nonce + 8 {
        assert!(Instant::now() < deadline, "the large transactions never became final");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // One listing: cut by bytes (fewer blocks than asked and than exist), with a place to go on.
    let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();
    let tip = net.height(0).await.unwrap();
    let (code, body, _) =
        http_from(IpAddr::V4(Ipv4Addr::LOCALHOST), port, "GET", "/v1/blocks?limit=100&full=true", None).await;
    assert_eq!(code, 200, "{}", tail(&body));
    let page = json(&body);
    let listed = page["blocks"].as_array().unwrap().len() as u64;
    assert!(listed < 100.min(tip + 1), "{listed} blocks listed of {} (tip {tip}): not cut by bytes", 100.min(tip + 1));
    let data_bytes = |page: &serde_json::Value| -> usize {
        page["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| b["transactions"].as_array().unwrap().iter())
            .map(|t| t["data"].as_str().map_or(0, str::len) / 2)
            .sum()
    };
    // At most the bound, or one block if that one alone is larger.
    let first_data = data_bytes(&page);
    assert!(
        first_data <= 4 * 1024 * 1024 || listed == 1,
        "{first_data} bytes of data in one answer of {listed} blocks"
    );
    // Followed by next_from, the pages list every block up to the tip once, with all the data.
    let mut next = page["next_from"].as_u64();
    let (mut walked, mut data) = (listed, first_data);
    assert!(next.is_some(), "a page cut at the bound must say where to go on");
    while let Some(from) = next {
        if from > tip {
            break;
        }
        let (code, body, _) = http_from(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            port,
            "GET",
            &format!("/v1/blocks?limit=100&full=true&from={from}"),
            None,
        )
        .await;
        if code == 429 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        assert_eq!(code, 200, "{}", tail(&body));
        let page = json(&body);
        let blocks = page["blocks"].as_array().unwrap();
        assert_eq!(blocks.first().and_then(|b| b["height"].as_u64()), Some(from));
        walked += blocks.iter().filter(|b| b["height"].as_u64().unwrap() <= tip).count() as u64;
        data += data_bytes(&page);
        next = page["next_from"].as_u64();
    }
    assert_eq!(walked, tip + 1, "the pages listed every block up to {tip} once");
    assert_eq!(data, expected_data, "the pages carried every large transaction");

    // 20 addresses listing whole blocks for 15 s.
    let rss_before = net.rss_kib(0).unwrap();
    let before = heights(&net).await;
    let until = Instant::now() + Duration::from_secs(15);
    let floods: Vec<_> = (0..40u32)
        .map(|k| {
            let source = attacker(7, 1 + u8::try_from(k % 20).unwrap());
            tokio::spawn(async move {
                let (mut served, mut refused) = (0u32, 0u32);
                while Instant::now() < until {
                    let (status, _, _) = http_from(source, port, "GET", "/v1/blocks?limit=100&full=true", None).await;
                    match status {
                        200 => served += 1,
                        _ => refused += 1,
                    }
                }
                (served, refused)
            })
        })
        .collect();
    let pid = net.pid(0).unwrap();
    let sampler = tokio::spawn(async move {
        let mut most = 0u64;
        while Instant::now() < until {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let rss =
                status.lines().find_map(|l| l.strip_prefix("VmRSS:")?.trim().strip_suffix("kB")?.trim().parse().ok());
            most = most.max(rss.unwrap_or(0));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        most
    });
    let slowest = honest_requests_for(&net, Duration::from_secs(15)).await;
    let (mut served, mut refused) = (0, 0);
    for f in floods {
        let (s, r) = f.await.unwrap();
        served += s;
        refused += r;
    }
    let most_rss = sampler.await.unwrap();
    let grown_mib = most_rss.saturating_sub(rss_before) / 1024;
    assert!(served > 0, "no flood listing was served ({refused} refused)");
    assert!(slowest <= HONEST_BOUND, "an honest request took {slowest:?} (bound {HONEST_BOUND:?})");
    assert!(grown_mib < 300, "RSS grew {grown_mib} MiB under the listings ({rss_before} -> {most_rss} KiB)");
    assert_finalizing(&net, &before, 5).await;
    println!(
        "large-block listings: first page {listed} blocks / {first_data} data bytes; flood served {served}, refused {refused}; RSS +{grown_mib} MiB at most; honest slowest {slowest:?}"
    );
}

/// crypto-core's packed `VerifyBlock` (Network B's one call per block) from a hostile client of a
/// real `coinjectured service crypto-core` process: packed fields that do not fit, lengths that
/// claim gigabytes of messages, and more leaves than a call takes are each refused with
/// INVALID_ARGUMENT naming the field (checked before any work, so nothing is allocated for
/// what a length claims), and the process keeps answering an honest call the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_and_oversize_packed_verify_block_requests_leave_crypto_core_serving() {
    let _share = coinjecture_e2e::share_machine();
    let port = coinjecture_e2e::free_port_base(1);
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("crypto-core.log")).unwrap();
    let mut child = std::process::Command::new(coinjecture_e2e::binary())
        .args(["service", "crypto-core", "--listen", &format!("127.0.0.1:{port}")])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "crypto-core did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let channel = channel_from(IpAddr::V4(Ipv4Addr::LOCALHOST), port).await;
    let mut client = pb::crypto_core_client::CryptoCoreClient::new(channel)
        .max_encoding_message_size(32 * 1024 * 1024)
        .max_decoding_message_size(32 * 1024 * 1024);
    let honest = pb::VerifyBlockRequest { leaves: vec![7; 96].into(), signatures: None };
    let root = client.verify_block(honest.clone()).await.unwrap().into_inner().root;
    assert_eq!(root.len(), 32);

    let n = 100_000;
    let batch = |keys: usize, sigs: usize, lengths: Vec<u32>, messages: usize| pb::Ed25519PackedBatch {
        public_keys: vec![1; keys].into(),
        signatures: vec![2; sigs].into(),
        messages: vec![3; messages].into(),
        message_lengths: lengths,
    };
    let cases: Vec<(pb::VerifyBlockRequest, &str)> = vec![
        (pb::VerifyBlockRequest { leaves: vec![0; 33].into(), signatures: None }, "leaves: "),
        (pb::VerifyBlockRequest { leaves: vec![0; 32 * (n + 1)].into(), signatures: None }, "leaves: "),
        (
            pb::VerifyBlockRequest { leaves: vec![].into(), signatures: Some(batch(32 * n + 1, 0, vec![], 0)) },
            "signatures.public_keys: ",
        ),
        (
            pb::VerifyBlockRequest { leaves: vec![].into(), signatures: Some(batch(32 * n, 64 * n - 1, vec![], 0)) },
            "signatures.signatures: ",
        ),
        (
            pb::VerifyBlockRequest {
                leaves: vec![].into(),
                signatures: Some(batch(32 * n, 64 * n, vec![0; n - 1], 0)),
            },
            "signatures.message_lengths: ",
        ),
        // 100,000 items each claiming a 4 GiB message, with 10 bytes sent.
        (
            pb::VerifyBlockRequest {
                leaves: vec![].into(),
                signatures: Some(batch(32 * n, 64 * n, vec![u32::MAX; n], 10)),
            },
            "signatures.messages: ",
        ),
    ];
    for (request, field) in cases {
        let started = Instant::now();
        let status = client.verify_block(request).await.unwrap_err();
        eprintln!("refused in {:?}: {}", started.elapsed(), status.message());
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(field), "{field} named: {}", status.message());
    }
    // The largest batch that fits, all bad: answered (every verdict false), not refused.
    let answer = client
        .verify_block(pb::VerifyBlockRequest {
            leaves: vec![].into(),
            signatures: Some(batch(32 * n, 64 * n, vec![1; n], n)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((answer.valid.len(), answer.all_valid), (n, false));
    assert!(answer.valid.iter().all(|v| !v));
    // Still serving, with the same answer.
    assert_eq!(client.verify_block(honest).await.unwrap().into_inner().root, root);
    assert!(child.try_wait().unwrap().is_none(), "crypto-core is still running");
    child.kill().unwrap();
    child.wait().unwrap();
}
