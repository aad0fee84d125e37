//! `coinjectured wallet`: accounts from the command line, against any node's REST API.
//!
//! `new` writes a key file; `address` prints an account's address; `balance` and `nonce` read
//! an account; `send` signs a transfer, submits it and (with `--wait`) waits until a block that
//! holds it is final. Keys come from `--key FILE` (the same hex seed format as validator keys)
//! or, with `--faucet`, from the devnet's faucet key (`<devnet dir>/keys/faucet.key`). `--json`
//! prints one JSON object instead of text.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::{ChainId, PublicKey, Signature, Transaction, TxType, chain_tag};
use eyre::{WrapErr, bail, eyre};
use serde_json::{Value, json};

use crate::http::{Answer, Node};
use crate::keys;

/// Default `--node`: validator 1 of a devnet started with the default ports.
const DEFAULT_NODE: &str = "http://127.0.0.1:8080";
/// Gas of a transfer (the v4 minimum); the wallet pays its fee as gas_limit × 1.
const TRANSFER_GAS: u64 = coinjecture_primitives::transaction::MIN_GAS_TRANSFER;

#[derive(Debug, Subcommand)]
pub(crate) enum WalletCommand {
    /// Create a new account key (hex seed, file mode 0600) and print its address.
    New {
        /// Where to write the key.
        #[arg(long)]
        key: PathBuf,
        /// Overwrite an existing file (its key is lost).
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print the address (hex ed25519 public key) of a key file or of the devnet faucet.
    Address {
        #[command(flatten)]
        from: KeyArgs,
        #[arg(long)]
        json: bool,
    },
    /// An account's balance at the node's latest final block.
    Balance(AccountArgs),
    /// The nonce an account's next transaction must carry.
    Nonce(AccountArgs),
    /// Sign a transfer and submit it; `--wait` waits until it is final.
    Send(SendArgs),
}

/// Where a signing key comes from.
#[derive(Debug, Args)]
pub(crate) struct KeyArgs {
    /// The account's key file (written by `wallet new` or `keygen`).
    #[arg(long, conflicts_with = "faucet")]
    key: Option<PathBuf>,
    /// Use the devnet's faucet key (`<devnet-dir>/keys/faucet.key`).
    #[arg(long)]
    faucet: bool,
    /// Where `coinjectured devnet --dir` put the devnet (for --faucet).
    #[arg(long, default_value = "./devnet", env = "COINJECTURE_DEVNET_DIR")]
    devnet_dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// The node's REST API, e.g. http://127.0.0.1:8080 (any node of the network).
    #[arg(long, default_value = DEFAULT_NODE, env = "COINJECTURE_NODE_URL")]
    node: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AccountArgs {
    /// The account's address (64 hex digits); or give --key / --faucet.
    #[arg(conflicts_with_all = ["key", "faucet"])]
    address: Option<String>,
    #[command(flatten)]
    from: KeyArgs,
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// The recipient's address (64 hex digits).
    #[arg(long)]
    to: String,
    /// Amount to send, in base units.
    #[arg(long)]
    amount: u64,
    /// Fee to pay (default: the least the chain takes, at least 21,000).
    #[arg(long)]
    fee: Option<u64>,
    /// Nonce to use (default: the account's next nonce at the node).
    #[arg(long)]
    nonce: Option<u64>,
    /// Wait until a block holding the transfer is final, and print it.
    #[arg(long)]
    wait: bool,
    /// How long --wait waits (e.g. 30s, 2m).
    #[arg(long, default_value = "60s")]
    timeout: String,
    #[command(flatten)]
    from: KeyArgs,
    #[command(flatten)]
    node: NodeArgs,
}

/// Runs a wallet command.
pub(crate) fn run(command: &WalletCommand) -> eyre::Result<()> {
    match command {
        WalletCommand::New { key, force, json } => {
            let pair = keys::generate(key, *force)?;
            let address = pair.public_key().to_hex();
            print(*json, json!({ "address": address, "key": key.display().to_string() }), || {
                format!("address: {address}\nkey file: {} (mode 0600; keep it secret)", key.display())
            });
            Ok(())
        }
        WalletCommand::Address { from, json } => {
            let pair = from.keypair()?;
            let address = pair.public_key().to_hex();
            print(*json, json!({ "address": address }), || address.clone());
            Ok(())
        }
        WalletCommand::Balance(args) => {
            let (address, account) = args.read()?;
            print(args.node.json, account.clone(), || {
                format!("{} (address {address} at height {})", account["balance"], account["height"])
            });
            Ok(())
        }
        WalletCommand::Nonce(args) => {
            let (address, account) = args.read()?;
            print(args.node.json, account.clone(), || {
                format!("{} (address {address} at height {})", account["nonce"], account["height"])
            });
            Ok(())
        }
        WalletCommand::Send(args) => send(args),
    }
}

fn print(json: bool, value: Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

impl KeyArgs {
    fn path(&self) -> eyre::Result<PathBuf> {
        match (&self.key, self.faucet) {
            (Some(key), _) => Ok(key.clone()),
            (None, true) => {
                let path = self.devnet_dir.join("keys").join("faucet.key");
                if !path.exists() {
                    bail!(
                        "--faucet: no devnet faucet key at {} (start one with `coinjectured devnet`, or pass \
                         --devnet-dir DIR where `devnet --dir` put it)",
                        path.display()
                    );
                }
                Ok(path)
            }
            (None, false) => bail!("which account? pass --key FILE (see `wallet new`) or --faucet (the devnet's)"),
        }
    }

    fn keypair(&self) -> eyre::Result<Keypair> {
        read_key(&self.path()?)
    }
}

/// Reads a key file with a message naming the flag.
fn read_key(path: &Path) -> eyre::Result<Keypair> {
    keys::read(path).map_err(|e| eyre!("--key: {e:#}"))
}

impl AccountArgs {
    fn address(&self) -> eyre::Result<PublicKey> {
        match &self.address {
            Some(text) => parse_address(text, "address"),
            None => Ok(self.from.keypair()?.public_key()),
        }
    }

    /// The address and the node's JSON for it (`address`, `balance`, `nonce`, `height`).
    fn read(&self) -> eyre::Result<(String, Value)> {
        let address = self.address()?;
        let node = Node::parse(&self.node.node)?;
        Ok((address.to_hex(), account(&node, &address)?))
    }
}

fn parse_address(text: &str, flag: &str) -> eyre::Result<PublicKey> {
    let digits = text.trim().strip_prefix("0x").unwrap_or(text.trim());
    match hex::decode(digits) {
        Ok(bytes) if bytes.len() == 32 => {
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            Ok(PublicKey(key))
        }
        _ => bail!("--{flag}: expected an address of 64 hex digits (an ed25519 public key), found {text:?}"),
    }
}

/// A successful JSON answer, or an error naming the node's `code` and `message`.
fn expect_ok(answer: Answer, what: &str, node: &Node) -> eyre::Result<Value> {
    if (200..300).contains(&answer.status) {
        return Ok(answer.json);
    }
    let code = answer.json["code"].as_str().unwrap_or("");
    let message = answer.json["message"].as_str().map_or_else(|| answer.text.trim().to_string(), str::to_string);
    bail!("{what}: node {} answered {} {code}: {message}", node.url, answer.status)
}

fn account(node: &Node, address: &PublicKey) -> eyre::Result<Value> {
    let answer = node.get(&format!("/v1/accounts/{}", address.to_hex()))?;
    expect_ok(answer, "reading the account", node)
}

fn send(args: &SendArgs) -> eyre::Result<()> {
    let to = parse_address(&args.to, "to")?;
    let timeout = crate::config::parse_duration(&args.timeout).map_err(|e| eyre!("--timeout: {e}"))?;
    let pair = args.from.keypair()?;
    let from = pair.public_key();
    if from == to {
        bail!("--to: the recipient is the sender itself (the chain refuses transfers to oneself)");
    }
    let node = Node::parse(&args.node.node)?;
    let status = expect_ok(node.get("/v1/status")?, "reading the node's status", &node)?;
    let chain = status["chain_id"].as_str().ok_or_else(|| eyre!("node {}: /v1/status has no chain_id", node.url))?;
    let chain = ChainId::new(chain).map_err(|e| eyre!("node {}: chain id {chain:?}: {e}", node.url))?;
    let nonce = match args.nonce {
        Some(n) => n,
        None => account(&node, &from)?["nonce"]
            .as_u64()
            .ok_or_else(|| eyre!("node {}: the account has no nonce", node.url))?,
    };
    let mut tx = Transaction {
        codec_version: coinjecture_primitives::CODEC_VERSION,
        tx_type: TxType::Transfer,
        from,
        to,
        amount: args.amount,
        nonce,
        gas_limit: TRANSFER_GAS,
        gas_price: 1,
        signature: Signature::ZERO,
        data: chain_tag(&chain),
        timestamp: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    };
    let floor = tx.min_fee().max(TRANSFER_GAS);
    let fee = match args.fee {
        Some(fee) if fee < floor => bail!(
            "--fee: {fee} is below the least this transfer can pay, {floor} (max(amount / 10,000, 1,000), and at \
             least 21,000: a transfer burns 21,000 gas at gas price ≥ 1)"
        ),
        Some(fee) => fee,
        None => floor,
    };
    // The fee is gas_limit × gas_price; the wallet pays it as gas_limit × 1, exactly.
    tx.gas_limit = fee;
    tx.signature = pair.sign(&tx.signing_message());
    let tx_hash = tx.hash().to_hex();
    let answer = node.post("/v1/transactions", &json!({ "raw": hex::encode(tx.encode()) }))?;
    let verdict = expect_ok(answer, "submitting the transfer", &node)?;
    let result = &verdict["results"][0];
    if result["accepted"] != Value::Bool(true) {
        let reason = result["reason"].as_str().unwrap_or("UNSPECIFIED");
        let message = result["message"].as_str().unwrap_or("");
        bail!("the node refused the transfer: {reason}: {message}");
    }
    let mut out = json!({
        "tx_hash": tx_hash,
        "from": from.to_hex(),
        "to": to.to_hex(),
        "amount": args.amount,
        "fee": fee,
        "nonce": nonce,
        "accepted": true,
    });
    if !args.wait {
        print(args.node.json, out, || {
            format!("accepted: transaction {tx_hash} (nonce {nonce}, fee {fee}); not final yet (add --wait to wait)")
        });
        return Ok(());
    }
    if !args.node.json {
        eprintln!("accepted: transaction {tx_hash} (nonce {nonce}, fee {fee}); waiting for a final block …");
    }
    let included = wait_final(&node, &tx_hash, timeout)?;
    out["final"] = Value::Bool(true);
    out["block_height"] = included["block_height"].clone();
    out["block_hash"] = included["block_hash"].clone();
    print(args.node.json, out, || {
        format!(
            "final: transaction {tx_hash} in block {} ({})",
            included["block_height"],
            included["block_hash"].as_str().unwrap_or("")
        )
    });
    Ok(())
}

/// Polls `GET /v1/transactions/{hash}` (it answers 404 until a final block holds the
/// transaction) until it is found or `timeout` passes.
fn wait_final(node: &Node, tx_hash: &str, timeout: Duration) -> eyre::Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let answer = node.get(&format!("/v1/transactions/{tx_hash}")).wrap_err("--wait")?;
        match answer.status {
            200 => return Ok(answer.json),
            404 => {}
            _ => {
                expect_ok(answer, "--wait: looking the transaction up", node)?;
            }
        }
        if Instant::now() >= deadline {
            bail!(
                "--wait: transaction {tx_hash} is not final after {:.0} s (it may still be; look it up with \
                 GET {}/v1/transactions/{tx_hash})",
                timeout.as_secs_f64(),
                node.url
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_must_be_32_bytes_of_hex() {
        let k = PublicKey([0xab; 32]);
        assert_eq!(parse_address(&k.to_hex(), "to").unwrap(), k);
        assert_eq!(parse_address(&format!("0x{}", k.to_hex()), "to").unwrap(), k);
        let e = parse_address("abcd", "to").unwrap_err().to_string();
        assert!(e.starts_with("--to: expected an address of 64 hex digits"), "{e}");
    }

    #[test]
    fn faucet_without_a_devnet_says_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let args = KeyArgs { key: None, faucet: true, devnet_dir: dir.path().to_path_buf() };
        let e = args.path().unwrap_err().to_string();
        assert!(e.contains("no devnet faucet key at") && e.contains("faucet.key") && e.contains("--devnet-dir"), "{e}");
        let none = KeyArgs { key: None, faucet: false, devnet_dir: dir.path().to_path_buf() };
        assert!(none.path().unwrap_err().to_string().contains("--key FILE"));
    }
}
