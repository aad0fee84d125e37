//! Network A and Network B on one host: the shipped `configs/network-a-validator.yaml` and
//! `configs/network-b-go-validator.yaml` run at the same time — B hashing through a
//! `coinjectured service crypto-core` and verifying the golden vectors against it at start-up —
//! and each produces its own chain without seeing the other.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coinjecture_e2e::{binary, free_port_base, workspace};

/// Processes killed on drop.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(dir: &Path, log: &str, args: &[&str], env: &[(&str, String)]) -> Child {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    Command::new(binary())
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// `coinjectured keygen`: the public key it prints.
fn keygen(path: &Path) -> String {
    let out = Command::new(binary()).arg("keygen").arg("--output").arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().find_map(|l| l.strip_prefix("public key:")).unwrap().trim().to_string()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    coinjecture_test_utils::http(port, "GET", path, None, Duration::from_secs(5)).ok().map(|(_, body)| body)
}

/// `"key":value` of a flat JSON object, as text.
fn field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let rest = &json[json.find(&format!("\"{key}\":"))? + key.len() + 3..];
    Some(rest.split([',', '}']).next()?.trim_matches('"'))
}

#[test]
fn network_a_and_network_b_validators_run_side_by_side_on_one_host() {
    let _machine = coinjecture_e2e::share_machine();
    let started = Instant::now();
    let shipped_a = std::fs::read_to_string(workspace().join("configs/network-a-validator.yaml")).unwrap();
    let shipped_b = std::fs::read_to_string(workspace().join("configs/network-b-go-validator.yaml")).unwrap();
    // As shipped, the two do not collide: p2p 9000 vs 9001, REST 8080 vs 8081, own databases.
    assert!(shipped_a.contains("/tcp/9000") && shipped_a.contains("port: 8080"), "{shipped_a}");
    assert!(shipped_b.contains("/tcp/9001") && shipped_b.contains("port: 8081"), "{shipped_b}");
    assert!(shipped_a.contains("network-a.db") && shipped_b.contains("network-b.db"));

    // The operator's layout beside the configs: keys/, data/ and a genesis per network.
    let dir = tempfile::tempdir().unwrap();
    for sub in ["configs", "keys", "data"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    std::fs::write(dir.path().join("configs/network-a-validator.yaml"), &shipped_a).unwrap();
    std::fs::write(dir.path().join("configs/network-b-go-validator.yaml"), &shipped_b).unwrap();
    let key_a = keygen(&dir.path().join("keys/validator-1.key"));
    let key_b = keygen(&dir.path().join("keys/validator-b-1.key"));
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    for (file, chain, key) in [
        ("network-a-genesis.yaml", "coinjecture-go-testnet", &key_a),
        ("network-b-genesis.yaml", "coinjecture-migration-testnet", &key_b),
    ] {
        let genesis = format!(
            "chain_id: {chain}\ntimestamp_ms: {now_ms}\nallocations:\n  - address: {key}\n    balance: 1000000000\n"
        );
        std::fs::write(dir.path().join("configs").join(file), genesis).unwrap();
    }

    // Free loopback ports instead of 9000/8080/9001/8081 (tests run in parallel on shared
    // machines), the generated validator keys, and short blocks: environment overrides only.
    let base = free_port_base(5);
    let (a_p2p, a_api, b_p2p, b_api, crypto_core) = (base, base + 1, base + 2, base + 3, base + 4);
    let common = |p2p: u16, api: u16, key: &str| {
        vec![
            ("COINJECTURE_P2P_LISTEN_ADDRS", format!("/ip4/127.0.0.1/tcp/{p2p}")),
            ("COINJECTURE_API_PORT", api.to_string()),
            ("COINJECTURE_API_BIND", "127.0.0.1".to_string()),
            ("COINJECTURE_CONSENSUS_VALIDATORS", key.to_string()),
            ("COINJECTURE_CONSENSUS_BLOCK_TIME", "300ms".to_string()),
        ]
    };
    let mut env_b = common(b_p2p, b_api, &key_b);
    env_b.push(("COINJECTURE_CRYPTO_CORE_ENDPOINT", format!("http://127.0.0.1:{crypto_core}")));
    let config = |name: &str| dir.path().join("configs").join(name).to_str().unwrap().to_string();
    let listen = format!("127.0.0.1:{crypto_core}");
    let mut processes =
        Processes(vec![spawn(dir.path(), "crypto-core.log", &["service", "crypto-core", "--listen", &listen], &[])]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", crypto_core)).is_err() {
        assert!(Instant::now() < deadline, "crypto-core did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let config_a = config("network-a-validator.yaml");
    let config_b = config("network-b-go-validator.yaml");
    processes.0.push(spawn(dir.path(), "a.log", &["node", "--config", &config_a], &common(a_p2p, a_api, &key_a)));
    processes.0.push(spawn(dir.path(), "b.log", &["node", "--config", &config_b], &env_b));

    let log = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut heights = [0u64; 2];
    while heights.iter().any(|h| *h < 3) {
        assert!(Instant::now() < deadline, "heights {heights:?}\nA:\n{}\nB:\n{}", log("a.log"), log("b.log"));
        for (i, port) in [a_api, b_api].into_iter().enumerate() {
            if let Some(status) = http_get(port, "/v1/status") {
                heights[i] = field(&status, "block_height").and_then(|h| h.parse().ok()).unwrap_or(0);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let status_a = http_get(a_api, "/v1/status").unwrap();
    let status_b = http_get(b_api, "/v1/status").unwrap();
    assert_eq!(field(&status_a, "chain_id"), Some("coinjecture-go-testnet"), "{status_a}");
    assert_eq!(field(&status_b, "chain_id"), Some("coinjecture-migration-testnet"), "{status_b}");
    assert_eq!(field(&status_a, "network"), Some("A"), "{status_a}");
    assert_eq!(field(&status_b, "network"), Some("B"), "{status_b}");
    // Neither connected to the other (their gossip topics and chains differ).
    assert_eq!(field(&status_a, "peers"), Some("0"), "{status_a}");
    assert_eq!(field(&status_b, "peers"), Some("0"), "{status_b}");
    // Network B checked every golden vector against the shared crypto-core before starting.
    assert!(log("b.log").contains("golden vectors verified"), "{}", log("b.log"));
    for p in &mut processes.0 {
        assert!(p.try_wait().unwrap().is_none(), "a process exited:\nA:\n{}\nB:\n{}", log("a.log"), log("b.log"));
    }
    println!(
        "e2e networks A and B side by side: heights {heights:?}, B through crypto-core, {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
