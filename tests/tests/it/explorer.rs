//! The block explorer in a real browser: headless Chromium (Debian's `chromium`; scripts/test.sh
//! installs it) loads `/` of a running node and is used as a person would: the header shows the
//! chain's height, the chart draws block times and TPS, a click on a block row opens that block,
//! the search box (typed into, then the Search button clicked) finds a transaction by its hash, an
//! account by its address, a block by its height and by its hash, and refuses other text with a
//! message; links lead from a transaction to its block and to its accounts; the Validators page
//! lists the validator; the block list pages past its first page. Screenshots of each view are
//! saved under `target/test-artifacts/` (explorer-*.png).
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
            if Instant::now() >= deadline {
                let page = self.eval("(() => { try { return location.href + '\\n' + document.body.innerText; } catch (e) { return String(e); } })()");
                panic!(
                    "timed out waiting for {what} ({expression}); the page shows:\n{}",
                    page.as_str().unwrap_or_default()
                );
            }
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

    /// Types `text` into the input `selector` selects as a keyboard would (a click to focus it,
    /// its old text selected and replaced).
    fn type_into(&mut self, selector: &str, text: &str) {
        self.click(selector);
        let selector_json = serde_json::to_string(selector).unwrap();
        self.eval(&format!("document.querySelector({selector_json}).select()"));
        self.call("Input.insertText", json!({ "text": text }));
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
async fn the_explorer_searches_pages_and_charts_the_chain_in_headless_chromium() {
    let Some(executable) = chromium() else {
        coinjecture_e2e::skip(
            "explorer",
            "no chromium on PATH (scripts/test.sh installs Debian's chromium; or set CHROMIUM)",
        );
        return;
    };
    let started = Instant::now();
    let net = Network::start(1, "500ms");
    net.wait_for_height(&[0], 2, Duration::from_secs(60)).await;

    // A transfer, so the block we open has a transaction to show.
    let recipient = PublicKey([0x77; 32]);
    let recipient_hex = hex::encode(recipient.0);
    let tx = transfer(&net.faucet(), recipient, 4_242, 0);
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
    // Enough blocks for two pages of 5 below the transaction's block.
    net.wait_for_height(&[0], tx_height.max(12) + 1, Duration::from_secs(60)).await;
    let validator_hex = hex::encode(net.validator_key(0).0);

    let artifacts = workspace().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let mut browser = Browser::launch(&executable, net.dir.path().join("chromium.log"));
    // Pages of 5 blocks (the default is 15), so paging is exercised without waiting for 30 blocks.
    let url = format!("http://127.0.0.1:{}/?page_size=5", net.api_base);
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

    // The chart: one point per block interval, block times near the configured 500 ms, and the
    // transfer's block counted in the TPS line (a nonzero maximum).
    let points = browser.wait_for(
        "the block-time chart",
        "(() => { const p = document.querySelector('#chart-block-time polyline'); \
         return p && p.getAttribute('points').split(' ').length >= 5 ? p.getAttribute('points').split(' ').length : null; })()",
    );
    let summary = browser.eval("document.getElementById('chart-summary').textContent");
    let summary = summary.as_str().unwrap().to_string();
    let mean_block_time: f64 = summary
        .strip_prefix("mean block time ")
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("chart summary: {summary}"));
    assert!((0.3..5.0).contains(&mean_block_time), "{summary}");
    assert!(browser.eval("document.querySelectorAll('#chart-tps polyline').length") == json!(1), "no TPS line");
    let tps_label = browser.eval("document.querySelector('#chart-tps text').textContent");
    assert!(tps_label.as_str().is_some_and(|l| l.starts_with("max ")), "{tps_label}");
    browser.screenshot(&artifacts.join("explorer-home.png"));

    // Paging: the first page is the 5 newest blocks; Older shows the 5 below them, Newer returns.
    let first_page = browser.wait_for(
        "a first page of 5 blocks",
        "(() => { const r = [...document.querySelectorAll('#latest-blocks tr.block-row')].map(r => Number(r.dataset.height)); \
         return r.length === 5 ? r : null; })()",
    );
    browser.click("#older");
    let first_lowest = first_page.as_array().unwrap().iter().map(|h| h.as_u64().unwrap()).min().unwrap();
    let second_page = browser.wait_for(
        "the older page",
        &format!(
            "(() => {{ const r = [...document.querySelectorAll('#latest-blocks tr.block-row')].map(r => Number(r.dataset.height)); \
             return r.length === 5 && Math.max(...r) < {first_lowest} ? r : null; }})()"
        ),
    );
    let second: Vec<u64> = second_page.as_array().unwrap().iter().map(|h| h.as_u64().unwrap()).collect();
    assert_eq!(second, (first_lowest - 5..first_lowest).rev().collect::<Vec<_>>(), "the older page");
    assert_eq!(browser.eval("document.getElementById('newer').disabled"), json!(false));
    browser.screenshot(&artifacts.join("explorer-page-2.png"));
    browser.click("#newer");
    browser.wait_for(
        "the newest page again",
        &format!("[...document.querySelectorAll('#latest-blocks tr.block-row')].some(r => Number(r.dataset.height) >= {first_lowest})"),
    );

    // Search by transaction hash: the transaction page, with its amount and block.
    browser.type_into("#search", &tx_hash);
    browser.click("#search-button");
    let detail = browser.wait_for(
        "the transaction page",
        &format!(
            "(() => {{ const d = document.getElementById('tx-detail'); return d && d.textContent.includes('{tx_hash}') ? d.innerText : null; }})()"
        ),
    );
    let detail = detail.as_str().unwrap();
    assert!(detail.contains("4242"), "the transfer's amount is not shown: {detail}");
    assert_eq!(browser.eval("location.hash"), json!(format!("#tx/{tx_hash}")));
    browser.screenshot(&artifacts.join("explorer-transaction.png"));

    // Its block link: the block page with the transaction, whose hash links back to it.
    browser.click(&format!("#tx-detail a[href='#block/{tx_height}']"));
    let detail = browser.wait_for(
        "the block view",
        &format!(
            "(() => {{ const d = document.getElementById('block-detail'); \
             return d && d.querySelector('.tx-row') && d.textContent.includes('{block_hash}') ? d.innerText : null; }})()"
        ),
    );
    assert!(detail.as_str().unwrap().contains("4242"), "{detail}");
    let tx_title = browser.eval("document.querySelector('#block-detail .tx-row td').title");
    assert_eq!(tx_title, json!(tx_hash));
    assert_eq!(browser.eval("location.hash"), json!(format!("#block/{tx_height}")));
    browser.screenshot(&artifacts.join("explorer-block.png"));

    // A click on a row of the block list opens that block.
    let row = "#latest-blocks tr.block-row:nth-child(2)";
    let clicked = browser.eval(&format!("document.querySelector('{row}').dataset.height"));
    browser.click(row);
    browser.wait_for(
        "the clicked block",
        &format!("document.querySelector('#view h2').textContent === 'Block ' + {clicked}"),
    );
    assert_eq!(browser.eval("document.querySelector('#latest-blocks tr.selected')?.dataset.height"), clicked);

    // Search by block height and by block hash.
    browser.type_into("#search", &tx_height.to_string());
    browser.click("#search-button");
    browser.wait_for("the block by height", &format!("location.hash === '#block/{tx_height}' && document.getElementById('block-detail')?.textContent.includes('{block_hash}')"));
    browser.type_into("#search", &block_hash);
    browser.click("#search-button");
    browser.wait_for(
        "the block by hash",
        &format!("location.hash === '#block/{block_hash}' && document.querySelector('#view h2').textContent === 'Block {tx_height}'"),
    );

    // Search by account address: balance and history with the transfer.
    browser.type_into("#search", &recipient_hex);
    browser.click("#search-button");
    let account = browser.wait_for(
        "the account page",
        &format!(
            "(() => {{ const d = document.getElementById('account-detail'); \
             return d && d.textContent.includes('{recipient_hex}') && d.querySelector('.tx-row') ? d.innerText : null; }})()"
        ),
    );
    let account = account.as_str().unwrap();
    assert!(account.contains("balance\t4242") || account.contains("balance\n4242"), "{account}");
    assert_eq!(browser.eval("document.querySelector('#account-detail .tx-row td').title"), json!(tx_hash));
    browser.screenshot(&artifacts.join("explorer-account.png"));

    // Text that is none of these: a message, and the view stays.
    browser.type_into("#search", "not a hash");
    browser.click("#search-button");
    let refusal = browser.wait_for("the refusal", "document.getElementById('search-error').textContent");
    assert!(refusal.as_str().unwrap().contains("expected a block height"), "{refusal}");
    assert_eq!(browser.eval("location.hash"), json!(format!("#account/{recipient_hex}")));

    // The Validators page lists the validator.
    browser.click("#nav-validators");
    let validators = browser.wait_for(
        "the validators page",
        "(() => { const t = document.getElementById('validators'); return t ? [...t.querySelectorAll('.validator-row a')].map(a => a.title) : null; })()",
    );
    assert_eq!(validators, json!([validator_hex]));
    browser.screenshot(&artifacts.join("explorer-validators.png"));
    println!(
        "e2e explorer: height {shown}, chart of {points} points ({summary}), paging, search by tx/block/height/account, validators; screenshots in {}, {:.1}s",
        artifacts.display(),
        started.elapsed().as_secs_f64()
    );
}
