//! The block explorer in a real browser: headless Chromium (Debian's `chromium`; scripts/test.sh
//! installs it) loads `/` of a running node, shows the chain's height, and a mouse click on a
//! block row opens that block with its transaction. Screenshots of both views are saved under
//! `target/test-artifacts/`.
//!
//! Chromium is driven over the DevTools protocol on `--remote-debugging-pipe` (JSON messages
//! separated by NUL on file descriptors 3 and 4), so the test needs no WebSocket client and no
//! browser download. Without a Chromium binary the test fails unless `COINJECTURE_ALLOW_SKIP=explorer`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use coinjecture_e2e::{Network, transfer, workspace};
use coinjecture_primitives::PublicKey;
use serde_json::{Value, json};

/// `$CHROMIUM`, else `chromium` / `chromium-browser` on `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")])
        .find(|candidate| candidate.is_file())
}

/// A headless Chromium with one page, driven over the DevTools protocol.
struct Browser {
    child: Child,
    commands: ChildStdin,
    messages: mpsc::Receiver<Value>,
    next_id: u64,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch(executable: &PathBuf, log: PathBuf) -> Self {
        let profile = tempfile::tempdir().unwrap();
        // The shell hands our stdin/stdout to Chromium as descriptors 3 (commands in) and 4
        // (messages out), where --remote-debugging-pipe expects them.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null"#)
            .arg(executable)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-pipe",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let commands = child.stdin.take().unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = Vec::new();
            while output.read_until(0, &mut buffer).is_ok_and(|n| n > 0) {
                if buffer.last() == Some(&0) {
                    buffer.pop();
                }
                if let Ok(message) = serde_json::from_slice::<Value>(&buffer)
                    && tx.send(message).is_err()
                {
                    return;
                }
                buffer.clear();
            }
        });
        let mut browser = Self { child, commands, messages, next_id: 0, session: None, _profile: profile };
        let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = browser.call("Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }));
        browser.session = Some(attached["sessionId"].as_str().unwrap().to_string());
        browser.call("Page.enable", json!({}));
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        );
        browser
    }

    /// Sends one command (to the page once attached) and waits for its answer.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap();
        self.commands.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self.messages.recv_timeout(left).unwrap_or_else(|_| panic!("no answer to {method}"));
            if answer["id"] == json!(id) {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// Evaluates a JavaScript expression in the page; its JSON value.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true }));
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {result}");
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it is truthy (up to 30 s); its last value. While the page is
    /// still loading the expression may throw (an element not there yet): that counts as not yet.
    fn wait_for(&mut self, what: &str, expression: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        let guarded = format!("(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()");
        loop {
            let value = self.eval(&guarded);
            if !matches!(value, Value::Null | Value::Bool(false)) && value != json!("") {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what} ({expression})");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A real left click (mouse events) at the centre of the element `selector` selects.
    fn click(&mut self, selector: &str) {
        let selector_json = serde_json::to_string(selector).unwrap();
        let point = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector_json}); if (!e) return null; \
             e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
             return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
        ));
        let (x, y) = (point[0].as_f64().unwrap(), point[1].as_f64().unwrap());
        self.call("Input.dispatchMouseEvent", json!({ "type": "mouseMoved", "x": x, "y": y }));
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// Saves a PNG screenshot of the page.
    fn screenshot(&mut self, path: &PathBuf) {
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64_decode(shot["data"].as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => u32::from(c - b'A'),
        b'a'..=b'z' => u32::from(c - b'a') + 26,
        b'0'..=b'9' => u32::from(c - b'0') + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, c)| n | (value(*c) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// `"key":value` of a flat JSON object, as text.
fn field(json: &str, key: &str) -> Option<String> {
    let value: Value = serde_json::from_str(json).ok()?;
    match &value[key] {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_shows_the_height_and_a_clicked_block_in_headless_chromium() {
    let Some(executable) = chromium() else {
        coinjecture_e2e::skip(
            "explorer",
            "no chromium on PATH (scripts/test.sh installs Debian's chromium; or set CHROMIUM)",
        );
        return;
    };
    let started = Instant::now();
    let net = Network::start(1, "1s");
    net.wait_for_height(&[0], 2, Duration::from_secs(60)).await;

    // A transfer, so the block we open has a transaction to show.
    let tx = transfer(&net.faucet(), PublicKey([0x77; 32]), 4_242, 0);
    let tx_hash = tx.hash().to_string();
    let body = format!("{{\"raw\":\"{}\"}}", hex::encode(tx.encode()));
    let (code, answer) = net.rest_post(0, "/v1/transactions", &body);
    assert_eq!(code, 202, "{answer}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let tx_height: u64 = loop {
        let (code, found) = net.rest_get(0, &format!("/v1/transactions/{tx_hash}"));
        if code == 200
            && let Some(h) = field(&found, "block_height").and_then(|h| h.parse().ok())
        {
            break h;
        }
        assert!(Instant::now() < deadline, "transaction not final: {found}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (_, block) = net.rest_get(0, &format!("/v1/blocks/{tx_height}"));
    let block_hash = field(&block, "hash").unwrap();

    let artifacts = workspace().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let mut browser = Browser::launch(&executable, net.dir.path().join("chromium.log"));
    let url = format!("http://127.0.0.1:{}/", net.api_base);
    browser.call("Page.navigate", json!({ "url": url }));

    // The header shows the node's height: a number no lower than the transaction's block and no
    // higher than what the node reports right after.
    let shown = browser.wait_for(
        "the height in the header",
        &format!("(() => {{ const h = Number(document.getElementById('height').textContent); return h >= {tx_height} ? h : null; }})()"),
    );
    let shown = shown.as_u64().unwrap();
    let (_, status) = net.rest_get(0, "/v1/status");
    let node_height: u64 = field(&status, "block_height").unwrap().parse().unwrap();
    assert!((tx_height..=node_height).contains(&shown), "shown {shown}, node {node_height}, tx block {tx_height}");
    let network = browser.eval("document.getElementById('network').textContent");
    assert_eq!(network, json!("devnet · coinjecture-devnet"));
    let row = format!("#latest-blocks tr.block-row[data-height='{tx_height}']");
    browser.wait_for(
        "the transaction's block in the latest blocks",
        &format!("document.querySelector(\"{row}\") !== null"),
    );
    browser.screenshot(&artifacts.join("explorer-home.png"));

    // Click the block: its detail view shows its hash and the transaction; the URL remembers it.
    browser.click(&row);
    let detail = browser.wait_for(
        "the block view",
        &format!(
            "(() => {{ const d = document.getElementById('block-detail'); \
             return d.querySelector('.tx-row') && d.textContent.includes('{block_hash}') ? d.innerText : null; }})()"
        ),
    );
    let detail = detail.as_str().unwrap();
    assert!(detail.contains("4242"), "the transfer's amount is not shown: {detail}");
    let tx_title = browser.eval("document.querySelector('#block-detail .tx-row td').title");
    assert_eq!(tx_title, json!(tx_hash));
    assert_eq!(browser.eval("location.hash"), json!(format!("#block/{tx_height}")));
    let selected = browser.eval("document.querySelector('#latest-blocks tr.selected')?.dataset.height");
    assert_eq!(selected, json!(tx_height.to_string()));
    browser.screenshot(&artifacts.join("explorer-block.png"));
    println!(
        "e2e explorer: height {shown} shown, block {tx_height} opened by a click, screenshots in {}, {:.1}s",
        artifacts.display(),
        started.elapsed().as_secs_f64()
    );
}
