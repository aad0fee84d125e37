//! What a new user does with `coinjectured devnet` and `coinjectured wallet`, with real
//! processes: start a devnet, read the send command it prints, create a key, send from the
//! faucet and wait for finality, check the receiver's balance (text and `--json`), and get clear
//! errors for a missing key file, an unreachable node and a refused transfer. Also: `devnet`
//! keeps edited configs, `--reset` starts over; `/health`, `/ready`, `latest` and the validators'
//! peer ids on a live node.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code: a panic is the failure report")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coinjecture_e2e::{binary, free_port_base, http_get};

/// A `coinjectured devnet` process whose console is collected; SIGTERM on drop.
struct Devnet {
    child: Child,
    console: Arc<Mutex<String>>,
    api: u16,
}

impl Devnet {
    fn start(dir: &Path) -> Self {
        let base = free_port_base(9);
        let mut child = Command::new(binary())
            .args(["devnet", "--block-time", "500ms", "--dir"])
            .arg(dir)
            .args(["--p2p-port", &base.to_string(), "--api-port", &(base + 3).to_string()])
            .args(["--grpc-port", &(base + 6).to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let console = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let console = Arc::clone(&console);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    console.lock().unwrap().push_str(&format!("{line}\n"));
                }
            });
        }
        Self { child, console, api: base + 3 }
    }

    fn console(&self) -> String {
        self.console.lock().unwrap().clone()
    }

    /// Waits until the console shows a line containing `needle`.
    fn wait_console(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.console();
            if let Some(line) = text.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("devnet exited ({status}) before printing {needle:?}:\n{text}");
            }
            assert!(Instant::now() < deadline, "devnet did not print {needle:?} within {timeout:?}:\n{text}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wallet(args: &[&str], cwd: &Path) -> Output {
    Command::new(binary()).arg("wallet").args(args).current_dir(cwd).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

#[test]
fn a_new_user_sends_coins_from_the_faucet_and_sees_them_final() {
    let _machine = coinjecture_e2e::share_machine();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("devnet");
    let mut devnet = Devnet::start(&dir);
    let node = format!("http://127.0.0.1:{}", devnet.api);

    // The console names the faucet key and prints a send command to paste.
    let faucet_line = devnet.wait_console("faucet key:", Duration::from_secs(60));
    assert!(faucet_line.contains(&dir.join("keys/faucet.key").display().to_string()), "{faucet_line}");
    let send_line = devnet.wait_console("wallet send --faucet", Duration::from_secs(5));
    assert!(send_line.contains(&format!("--node {node}")) && send_line.contains("--wait"), "{send_line}");
    // ... and logs final blocks (height, transactions, proposer).
    let block_line = devnet.wait_console("final block ", Duration::from_secs(120));
    assert!(block_line.contains(" tx") && block_line.contains("proposer validator-"), "{block_line}");

    // A new key, its address.
    let new = wallet(&["new", "--key", "alice.key", "--json"], work.path());
    assert!(new.status.success(), "{}", stderr(&new));
    let created: serde_json::Value = serde_json::from_str(&stdout(&new)).unwrap();
    let address = created["address"].as_str().unwrap().to_string();
    let shown = wallet(&["address", "--key", "alice.key"], work.path());
    assert_eq!(stdout(&shown), address);

    // Send from the faucet (found through --devnet-dir, as the console's command does) and wait.
    let dir_text = dir.display().to_string();
    let faucet = ["--faucet", "--devnet-dir", dir_text.as_str(), "--node", node.as_str()];
    let mut args = vec!["send", "--to", address.as_str(), "--amount", "123456", "--wait", "--json"];
    args.extend(faucet);
    let sent = wallet(&args, work.path());
    assert!(sent.status.success(), "send failed: {}\n{}", stderr(&sent), devnet.console());
    let receipt: serde_json::Value = serde_json::from_str(&stdout(&sent)).unwrap();
    assert_eq!((receipt["final"].as_bool(), receipt["amount"].as_u64()), (Some(true), Some(123_456)), "{receipt}");
    let height = receipt["block_height"].as_u64().unwrap();
    assert!(height >= 1, "{receipt}");
    // The block it names holds the transaction.
    let (code, block) = http_get(devnet.api, &format!("/v1/blocks/{height}"));
    assert_eq!(code, 200, "{block}");
    let block: serde_json::Value = serde_json::from_str(&block).unwrap();
    assert_eq!(block["hash"], receipt["block_hash"]);
    let hashes: Vec<&serde_json::Value> =
        block["transactions"].as_array().unwrap().iter().map(|t| &t["hash"]).collect();
    assert!(hashes.contains(&&receipt["tx_hash"]), "{block}");

    // The receiver's balance matches, in text and JSON; the faucet's nonce moved on.
    let balance = wallet(&["balance", &address, "--node", &node], work.path());
    assert!(stdout(&balance).starts_with("123456 "), "{}", stdout(&balance));
    let balance = wallet(&["balance", "--key", "alice.key", "--node", &node, "--json"], work.path());
    let account: serde_json::Value = serde_json::from_str(&stdout(&balance)).unwrap();
    assert_eq!(account["balance"], 123_456);
    let mut nonce_args = vec!["nonce", "--json"];
    nonce_args.extend(faucet);
    let nonce: serde_json::Value = serde_json::from_str(&stdout(&wallet(&nonce_args, work.path()))).unwrap();
    assert_eq!(nonce["nonce"].as_u64(), Some(receipt["nonce"].as_u64().unwrap() + 1));

    // A refused transfer names the reason code: alice cannot pay 10^12 plus the fee.
    let broke = wallet(
        &["send", "--key", "alice.key", "--to", &"42".repeat(32), "--amount", "1000000000000", "--node", &node],
        work.path(),
    );
    assert!(!broke.status.success());
    assert!(stderr(&broke).contains("refused the transfer: INSUFFICIENT_BALANCE"), "{}", stderr(&broke));

    // Missing and bad key files, an unreachable node.
    let missing = wallet(&["address", "--key", "nope.key"], work.path());
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("--key: cannot read key file nope.key"), "{}", stderr(&missing));
    std::fs::write(work.path().join("bad.key"), "not a key\n").unwrap();
    let bad = wallet(&["address", "--key", "bad.key"], work.path());
    assert!(stderr(&bad).contains("bad.key") && stderr(&bad).contains("not hex"), "{}", stderr(&bad));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = wallet(&["balance", &address, "--node", &format!("http://127.0.0.1:{closed}")], work.path());
    assert!(!down.status.success());
    assert!(
        stderr(&down).contains(&format!("cannot reach the node at http://127.0.0.1:{closed}")),
        "{}",
        stderr(&down)
    );

    // The health endpoints and the validators' peer ids on the live node.
    let (code, body) = http_get(devnet.api, "/health");
    assert_eq!((code, body.as_str()), (200, r#"{"status":"ok"}"#));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = http_get(devnet.api, "/ready");
        if code == 200 {
            assert!(body.contains(r#""ready":true"#), "{body}");
            break;
        }
        assert_eq!(code, 503, "{body}");
        assert!(Instant::now() < deadline, "validator-1 not ready after 60 s: {body}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // The container healthcheck command (the image has no curl) agrees.
    let probe = |url: String| Command::new(binary()).args(["healthcheck", &url]).output().unwrap();
    let ok = probe(format!("{node}/ready"));
    assert!(ok.status.success() && stdout(&ok).contains(r#""ready":true"#), "{}", stderr(&ok));
    let refused = probe(format!("{node}/v1/validators?height=99999999"));
    assert!(!refused.status.success() && stderr(&refused).contains("answered 404"), "{}", stderr(&refused));
    let (_, latest) = http_get(devnet.api, "/v1/blocks/latest");
    let latest: serde_json::Value = serde_json::from_str(&latest).unwrap();
    assert!(latest["height"].as_u64().unwrap() >= height, "{latest}");
    let (_, set) = http_get(devnet.api, "/v1/validators");
    let set: serde_json::Value = serde_json::from_str(&set).unwrap();
    let validators = set["validators"].as_array().unwrap();
    assert_eq!(validators.len(), 3, "{set}");
    assert!(validators.iter().all(|v| v["peer_id"].as_str().unwrap().starts_with("12D3KooW")), "{set}");
    assert_eq!(validators.iter().filter(|v| v["local"] == true).count(), 1, "{set}");
    assert_eq!(validators.iter().filter(|v| v["connected"] == true).count(), 2, "{set}");
    let (code, body) = http_get(devnet.api, "/v1/validators?height=99999999");
    assert_eq!(code, 404, "{body}");
}

#[test]
fn devnet_keeps_edited_configs_and_reset_starts_over() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("devnet");
    let init = |extra: &[&str]| {
        let out =
            Command::new(binary()).args(["devnet", "--init-only", "--dir"]).arg(&dir).args(extra).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let first = init(&[]);
    assert!(first.contains("wrote genesis.yaml, validator-1.yaml, validator-2.yaml, validator-3.yaml"), "{first}");
    let config = dir.join("validator-1.yaml");
    let faucet_before = std::fs::read_to_string(dir.join("keys/faucet.key")).unwrap();

    // An operator adds a section and changes a value.
    let edited = std::fs::read_to_string(&config).unwrap().replace("level: info", "level: debug")
        + "otel:\n  endpoint: http://127.0.0.1:4317\n";
    std::fs::write(&config, &edited).unwrap();
    let second = init(&[]);
    assert!(second.contains("kept existing genesis.yaml, validator-1.yaml"), "{second}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited, "the edit was lost");
    assert_eq!(std::fs::read_to_string(dir.join("keys/faucet.key")).unwrap(), faucet_before);

    // A deleted config is written again; a different validator count is refused.
    std::fs::remove_file(dir.join("validator-2.yaml")).unwrap();
    let third = init(&[]);
    assert!(third.contains("wrote validator-2.yaml"), "{third}");
    let four = Command::new(binary())
        .args(["devnet", "--init-only", "--validators", "4", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!four.status.success());
    assert!(
        stderr(&four).contains("holds a devnet of 3 validators") && stderr(&four).contains("--reset"),
        "{}",
        stderr(&four)
    );

    // --reset says what it removes and regenerates everything; files it did not write stay.
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let reset = init(&["--reset"]);
    for removed in ["genesis.yaml", "keys", "validator-1.yaml", "validator-3.yaml"] {
        assert!(reset.contains(&format!("--reset: removed {}", dir.join(removed).display())), "{reset}");
    }
    assert!(reset.contains("wrote genesis.yaml, validator-1.yaml"), "{reset}");
    let regenerated = std::fs::read_to_string(&config).unwrap();
    assert!(regenerated.contains("level: info") && !regenerated.contains("otel:"), "{regenerated}");
    assert_ne!(std::fs::read_to_string(dir.join("keys/faucet.key")).unwrap(), faucet_before);
    assert_eq!(std::fs::read_to_string(dir.join("notes.txt")).unwrap(), "mine");
}
