//! Helpers the workspace's test suites share, so each lives once: signed transfers, deterministic
//! keys, a plain HTTP client for a local port, polling until a condition holds, and the skip
//! policy. A dev-dependency only: nothing that ships depends on it.
//!
//! **The skip policy.** A test that cannot run where it runs (no Chromium, no way to make a
//! directory read-only) calls [`skip`]: that fails the test unless the environment variable
//! `COINJECTURE_ALLOW_SKIP` names it (comma-separated test names, or `all`), so a missing tool
//! cannot turn a suite green unnoticed. The Python suite follows the same rule
//! (`clients/python/tests/conftest.py`).
#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

use std::time::Duration;

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::{ChainId, PublicKey, Signature, Transaction, TxType, chain_tag, sha256};

/// The variable that lets named tests skip.
pub const ALLOW_SKIP: &str = "COINJECTURE_ALLOW_SKIP";

/// Whether `COINJECTURE_ALLOW_SKIP` (comma-separated names, or `all`) lets `test` skip.
pub fn skip_allowed(test: &str) -> bool {
    std::env::var(ALLOW_SKIP).is_ok_and(|list| allowed_by(&list, test))
}

fn allowed_by(list: &str, test: &str) -> bool {
    list.split(',').map(str::trim).any(|name| name == test || name == "all")
}

/// Reports that `test` cannot run here because of `reason`: prints `SKIPPED` when
/// `COINJECTURE_ALLOW_SKIP` names it, and panics (fails the test) otherwise. The caller returns
/// right after.
pub fn skip(test: &str, reason: &str) {
    if skip_allowed(test) {
        println!("SKIPPED {test}: {reason} (allowed by {ALLOW_SKIP})");
    } else {
        panic!("{test} cannot run here: {reason}. Install what it needs, or set {ALLOW_SKIP}={test} to let it skip");
    }
}

/// A deterministic key: the same `label` and `i` give the same key in every run.
pub fn key(label: &str, i: usize) -> Keypair {
    Keypair::from_seed(&sha256(format!("{label} {i}").as_bytes()).0)
}

/// A signed transfer on the devnet chain (`coinjecture-devnet`; fee 21,000: enough for amounts up
/// to 210,000,000).
pub fn transfer(from: &Keypair, to: PublicKey, amount: u64, nonce: u64) -> Transaction {
    transfer_with_gas_price(from, to, amount, nonce, 1)
}

/// A signed transfer on the devnet chain with a fee of 21,000 × `gas_price` (the ledger wants at
/// least amount / 10,000).
pub fn transfer_with_gas_price(from: &Keypair, to: PublicKey, amount: u64, nonce: u64, gas_price: u64) -> Transaction {
    let chain = ChainId::new("coinjecture-devnet").unwrap();
    let mut tx = Transaction {
        codec_version: 1,
        tx_type: TxType::Transfer,
        from: from.public_key(),
        to,
        amount,
        nonce,
        gas_limit: 21_000,
        gas_price,
        signature: Signature::ZERO,
        data: chain_tag(&chain),
        timestamp: 1_767_225_600,
    };
    tx.signature = from.sign(&tx.signing_message());
    tx
}

/// A plain HTTP/1.1 request to `127.0.0.1:port` (`json` as the body, `Content-Type:
/// application/json`): the status code and body, or the I/O error (a closed port, a timeout of
/// `read_timeout`).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    json: Option<&str>,
    read_timeout: Duration,
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(read_timeout))?;
    let body = json.unwrap_or_default();
    let content = if json.is_some() {
        format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len())
    } else {
        String::new()
    };
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{content}Connection: close\r\n\r\n{body}")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// Polls `f` every 50 ms until it holds; panics naming `what` after `timeout` (tokio time, so
/// it works under a paused clock too).
pub async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_tests_may_skip() {
        assert!(allowed_by("explorer", "explorer"));
        assert!(allowed_by("faults_read_only_disk, explorer", "explorer"));
        assert!(allowed_by("all", "explorer"));
        assert!(!allowed_by("", "explorer"));
        assert!(!allowed_by("explorer_x", "explorer"));
        if !skip_allowed("a test nobody names") {
            assert!(std::panic::catch_unwind(|| skip("a test nobody names", "no tool")).is_err());
        }
    }

    #[test]
    fn transfers_verify_and_keys_are_deterministic() {
        let tx = transfer(&key("t", 1), key("t", 2).public_key(), 5, 0);
        assert_eq!(key("t", 1).public_key(), tx.from);
        assert_ne!(key("t", 1).public_key(), key("t", 2).public_key());
        assert!(coinjecture_crypto_core::signatures::verify(&tx.from, &tx.signing_message(), &tx.signature));
    }
}
