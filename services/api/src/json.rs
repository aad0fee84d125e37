//! The REST gateway's JSON shapes: protobuf messages → JSON (byte strings as lower-case hex,
//! u64/i64 as JSON numbers) and transaction JSON → protobuf, naming the offending field.
//!
//! Transaction input is strict: unknown fields are refused (a typo like `gasLimit` would
//! otherwise sign one thing and submit another), byte strings must be hex (an optional `0x` is
//! accepted), integers may be JSON numbers or decimal strings (for values above 2^53, which
//! JavaScript cannot hold as numbers).

use coinjecture_primitives as p;
use coinjecture_proto::convert::{self, ConversionError};
use coinjecture_proto::v1 as pb;
use serde_json::{Map, Value, json};

use crate::time::rfc3339_millis;

/// Most transactions one `POST /v1/transactions` may carry.
pub const MAX_REST_BATCH: usize = 10_000;

pub(crate) fn hex_or_null(bytes: &[u8]) -> Value {
    if bytes.is_empty() { Value::Null } else { Value::String(hex::encode(bytes)) }
}

fn tx_type_name(t: i32) -> Value {
    match convert::tx_type(t) {
        Ok(t) => Value::String(t.name().to_string()),
        Err(_) => Value::from(t),
    }
}

/// `TX_REJECT_REASON_BAD_SIGNATURE` → `"BAD_SIGNATURE"`; `null` when not rejected.
pub(crate) fn reject_reason(reason: i32) -> Value {
    match pb::TxRejectReason::try_from(reason) {
        Ok(pb::TxRejectReason::Unspecified) => Value::Null,
        Ok(r) => Value::String(r.as_str_name().trim_start_matches("TX_REJECT_REASON_").to_string()),
        Err(_) => Value::from(reason),
    }
}

/// A transaction with its hash.
pub(crate) fn transaction(tx: &pb::Transaction, hash: &[u8]) -> Value {
    json!({
        "hash": hex_or_null(hash),
        "codec_version": tx.codec_version,
        "tx_type": tx_type_name(tx.tx_type),
        "from": hex::encode(&tx.from),
        "to": hex::encode(&tx.to),
        "amount": tx.amount,
        "nonce": tx.nonce,
        "gas_limit": tx.gas_limit,
        "gas_price": tx.gas_price,
        "signature": hex::encode(&tx.signature),
        "data": hex::encode(&tx.data),
        "timestamp": tx.timestamp,
    })
}

/// A finalized transaction with where it is.
pub(crate) fn indexed_transaction(t: &pb::IndexedTransaction) -> Value {
    let mut value = transaction(&t.transaction.clone().unwrap_or_default(), &t.tx_hash);
    if let Value::Object(map) = &mut value {
        map.insert("block_height".into(), t.block_height.into());
        map.insert("block_hash".into(), hex::encode(&t.block_hash).into());
        map.insert("index".into(), t.index.into());
    }
    value
}

fn certificate(c: &pb::CommitCertificate) -> Value {
    json!({
        "height": c.height,
        "round": c.round,
        "block_hash": hex::encode(&c.block_hash),
        "signatures": c.signatures.iter().map(|s| json!({
            "validator": hex::encode(&s.validator),
            "signature": hex::encode(&s.signature),
        })).collect::<Vec<_>>(),
    })
}

/// A block: its hash and height, the ten v4 header fields (golden/README.md §3.1), the decoded
/// PoA extra data (`round`, `state_commitment`, millisecond time), the commit certificate, and
/// either the full transactions (`full`) or only their hashes (unless `hashes` is false: a
/// headers-only listing).
pub(crate) fn block(view: &pb::BlockView, full: bool) -> Value {
    block_shaped(view, full, true)
}

/// [`block`], leaving out `transaction_hashes` when neither `full` nor `hashes`.
pub(crate) fn block_shaped(view: &pb::BlockView, full: bool, hashes: bool) -> Value {
    let block = view.block.clone().unwrap_or_default();
    let header = block.header.clone().unwrap_or_default();
    let extra = p::PoaExtra::decode(&header.extra_data).ok();
    let timestamp_ms = header
        .timestamp
        .saturating_mul(1000)
        .saturating_add(extra.as_ref().map_or(0, |e| i64::from(e.timestamp_millis)));
    let mut map = Map::new();
    map.insert("hash".into(), hex::encode(&view.block_hash).into());
    map.insert("height".into(), header.block_index.into());
    map.insert("codec_version".into(), header.codec_version.into());
    map.insert("block_index".into(), header.block_index.into());
    map.insert("timestamp".into(), header.timestamp.into());
    map.insert("parent_hash".into(), hex::encode(&header.parent_hash).into());
    map.insert("merkle_root".into(), hex::encode(&header.merkle_root).into());
    map.insert("miner_address".into(), hex::encode(&header.miner_address).into());
    map.insert("commitment".into(), hex::encode(&header.commitment).into());
    map.insert("difficulty_target".into(), header.difficulty_target.into());
    map.insert("nonce".into(), header.nonce.into());
    map.insert("extra_data".into(), hex::encode(&header.extra_data).into());
    map.insert("round".into(), extra.as_ref().map(|e| e.round.get()).into());
    map.insert("state_commitment".into(), extra.as_ref().map(|e| e.state_commitment.to_hex()).into());
    map.insert("timestamp_ms".into(), timestamp_ms.into());
    map.insert("time".into(), rfc3339_millis(timestamp_ms).into());
    // A listing without the transactions says how many there are.
    let count = if block.transactions.is_empty() { view.transaction_count as usize } else { block.transactions.len() };
    map.insert("transaction_count".into(), count.into());
    if full {
        let txs = block
            .transactions
            .iter()
            .enumerate()
            .map(|(i, tx)| transaction(tx, view.transaction_hashes.get(i).map_or(&[][..], Vec::as_slice)))
            .collect::<Vec<_>>();
        map.insert("transactions".into(), txs.into());
    } else if hashes {
        let hashes = view.transaction_hashes.iter().map(hex::encode).collect::<Vec<_>>();
        map.insert("transaction_hashes".into(), hashes.into());
    }
    map.insert("commit_certificate".into(), block.commit_certificate.as_ref().map(certificate).into());
    Value::Object(map)
}

/// One verdict of a submission.
pub(crate) fn transaction_result(r: &pb::TransactionResult) -> Value {
    json!({
        "tx_hash": hex_or_null(&r.tx_hash),
        "accepted": r.accepted,
        "reason": reject_reason(r.reason),
        "message": r.message,
    })
}

pub(crate) fn account(a: &pb::Account, height: u64) -> Value {
    json!({ "address": hex::encode(&a.address), "balance": a.balance, "nonce": a.nonce, "height": height })
}

/// A validator set. Each validator's `peer_id` is derived from its public key when the set does
/// not carry it; `connected` says whether this node has a p2p connection to it (`None`: unknown,
/// e.g. no p2p gateway), `local` marks this node's own key.
pub(crate) fn validator_set(
    set: &pb::ValidatorSet,
    height: u64,
    connected: Option<&std::collections::HashSet<String>>,
    local: &[u8],
) -> Value {
    let quorum = match pb::QuorumMode::try_from(set.quorum_mode) {
        Ok(pb::QuorumMode::Crash) => Value::from("CRASH"),
        Ok(pb::QuorumMode::Byzantine) => Value::from("BYZANTINE"),
        _ => Value::Null,
    };
    json!({
        "height": height,
        "activation_height": set.activation_height,
        "quorum_mode": quorum,
        "validators": set.validators.iter().map(|v| {
            let peer_id = if v.peer_id.is_empty() { crate::peer_id::of_ed25519(&v.public_key) } else { Some(v.peer_id.clone()) };
            let is_local = !local.is_empty() && v.public_key == local;
            json!({
                "index": v.index,
                "public_key": hex::encode(&v.public_key),
                "peer_id": peer_id,
                "local": is_local,
                "connected": if is_local { None } else { connected.map(|c| peer_id.as_ref().is_some_and(|p| c.contains(p))) },
            })
        }).collect::<Vec<_>>(),
    })
}

pub(crate) fn mempool(m: &pb::GetMempoolStatsResponse) -> Value {
    json!({
        "transaction_count": m.transaction_count,
        "future_count": m.future_count,
        "size_bytes": m.size_bytes,
        "sender_count": m.sender_count,
        "capacity_transactions": m.capacity_transactions,
        "capacity_bytes": m.capacity_bytes,
        "oldest_age_ms": m.oldest_age_ms,
    })
}

// ---------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------

/// A parsed `POST /v1/transactions` body.
#[derive(Debug)]
pub(crate) struct Submission {
    /// True for a single transaction (object or `{"raw": ...}`), false for `{"transactions": [...]}`.
    pub single: bool,
    /// Each item, or why it is malformed (field path from the body's root for batches).
    pub items: Vec<Result<pb::Transaction, ConversionError>>,
}

/// Parses a submission body. The whole request fails (400) when the body is not JSON, not an
/// object, or the batch is empty or above `max_batch`; malformed items of a batch are per-item
/// errors.
pub(crate) fn parse_submission(body: &[u8], max_batch: usize) -> Result<Submission, ConversionError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ConversionError::new("body", format!("not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ConversionError::new("body", "must be a JSON object (a transaction or {\"transactions\": [...]})"));
    };
    let Some(list) = map.get("transactions") else {
        return Ok(Submission { single: true, items: vec![parse_transaction(&map)] });
    };
    if map.len() > 1 {
        let other = map.keys().find(|k| *k != "transactions").map(|k| clip(k)).unwrap_or_default();
        return Err(ConversionError::new(other, "unknown field beside \"transactions\""));
    }
    let Value::Array(list) = list else {
        return Err(ConversionError::new("transactions", "must be an array"));
    };
    if list.is_empty() {
        return Err(ConversionError::new("transactions", "must not be empty"));
    }
    if list.len() > max_batch {
        return Err(ConversionError::new(
            "transactions",
            format!("{} items exceed the maximum {max_batch} per request", list.len()),
        ));
    }
    let items = list
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let within = |e: ConversionError| e.within(&format!("transactions[{i}]"));
            match item {
                Value::Object(obj) => parse_transaction(obj).map_err(within),
                _ => Err(within(ConversionError::new("", "must be a JSON object"))),
            }
        })
        .collect();
    Ok(Submission { single: false, items })
}

const TX_FIELDS: [&str; 11] = [
    "codec_version",
    "tx_type",
    "from",
    "to",
    "amount",
    "nonce",
    "gas_limit",
    "gas_price",
    "signature",
    "data",
    "timestamp",
];

/// One transaction: the JSON fields, or `{"raw": "<hex of the canonical v4 encoding>"}`. The
/// result passes the protobuf → primitive conversion (lengths, codec version, tx type, data size).
pub(crate) fn parse_transaction(obj: &Map<String, Value>) -> Result<pb::Transaction, ConversionError> {
    if let Some(raw) = obj.get("raw") {
        if let Some(other) = obj.keys().find(|k| *k != "raw") {
            return Err(ConversionError::new(clip(other), "unknown field beside \"raw\""));
        }
        let bytes = hex_field(raw, "raw")?;
        let tx = p::Transaction::decode(&bytes).map_err(|e| ConversionError::new("raw", e.to_string()))?;
        return Ok(pb::Transaction::from(&tx));
    }
    if let Some(unknown) = obj.keys().find(|k| !TX_FIELDS.contains(&k.as_str())) {
        return Err(ConversionError::new(clip(unknown), "unknown field"));
    }
    let get = |name: &str| obj.get(name).ok_or_else(|| ConversionError::new(name, "is required"));
    let codec_version = match obj.get("codec_version") {
        None => u32::from(p::CODEC_VERSION),
        Some(v) => u32::try_from(unsigned(v, "codec_version")?)
            .map_err(|_| ConversionError::new("codec_version", "out of range"))?,
    };
    let tx_type = match get("tx_type")? {
        Value::String(name) => match p::TxType::from_name(name) {
            Some(p::TxType::Transfer) => pb::TxType::Transfer,
            Some(p::TxType::ProblemSubmission) => pb::TxType::ProblemSubmission,
            Some(p::TxType::BountyPayment) => pb::TxType::BountyPayment,
            None => {
                return Err(ConversionError::new(
                    "tx_type",
                    format!("unknown type {:?} (expected Transfer, ProblemSubmission or BountyPayment)", clip(name)),
                ));
            }
        },
        _ => return Err(ConversionError::new("tx_type", "must be a string")),
    };
    let tx = pb::Transaction {
        codec_version,
        tx_type: tx_type.into(),
        from: hex_field(get("from")?, "from")?,
        to: hex_field(get("to")?, "to")?,
        amount: unsigned(get("amount")?, "amount")?,
        nonce: unsigned(get("nonce")?, "nonce")?,
        gas_limit: unsigned(get("gas_limit")?, "gas_limit")?,
        gas_price: unsigned(get("gas_price")?, "gas_price")?,
        signature: hex_field(get("signature")?, "signature")?,
        data: match obj.get("data") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => hex_field(v, "data")?,
        },
        timestamp: signed(get("timestamp")?, "timestamp")?,
    };
    // Lengths, codec version and data size, with the protobuf conversion's field names.
    p::Transaction::try_from(&tx)?;
    Ok(tx)
}

/// Long user input is cut to 80 characters in error messages.
pub(crate) fn clip(s: &str) -> String {
    if s.chars().count() > 80 { format!("{}…", s.chars().take(80).collect::<String>()) } else { s.to_string() }
}

/// A hex byte string (an optional `0x` prefix is allowed).
pub(crate) fn hex_field(v: &Value, field: &str) -> Result<Vec<u8>, ConversionError> {
    let Value::String(s) = v else {
        return Err(ConversionError::new(field, "must be a hex string"));
    };
    hex_str(s, field)
}

pub(crate) fn hex_str(s: &str, field: &str) -> Result<Vec<u8>, ConversionError> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(digits).map_err(|e| ConversionError::new(field, format!("not valid hex: {e}")))
}

fn unsigned(v: &Value, field: &str) -> Result<u64, ConversionError> {
    let out_of_range = || {
        ConversionError::new(
            field,
            format!("must be an integer from 0 to {}, found {}", u64::MAX, clip(&v.to_string())),
        )
    };
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(out_of_range),
        Value::String(s) => s.parse::<u64>().map_err(|_| out_of_range()),
        _ => Err(out_of_range()),
    }
}

fn signed(v: &Value, field: &str) -> Result<i64, ConversionError> {
    let out_of_range = || {
        ConversionError::new(
            field,
            format!("must be an integer from {} to {}, found {}", i64::MIN, i64::MAX, clip(&v.to_string())),
        )
    };
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(out_of_range),
        Value::String(s) => s.parse::<i64>().map_err(|_| out_of_range()),
        _ => Err(out_of_range()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        json!({
            "codec_version": 1,
            "tx_type": "Transfer",
            "from": "11".repeat(32),
            "to": "22".repeat(32),
            "amount": 5,
            "nonce": "18446744073709551615",
            "gas_limit": 21000,
            "gas_price": 1,
            "signature": "33".repeat(64),
            "data": "",
            "timestamp": -5,
        })
    }

    fn parse(v: Value) -> Result<pb::Transaction, ConversionError> {
        parse_transaction(v.as_object().unwrap())
    }

    #[test]
    fn parses_a_transaction_with_big_integers_as_strings() {
        let tx = parse(sample()).unwrap();
        assert_eq!(tx.nonce, u64::MAX);
        assert_eq!(tx.timestamp, -5);
        assert_eq!(tx.from, vec![0x11; 32]);
    }

    #[test]
    fn names_the_bad_field() {
        let cases = [
            ("from", json!("11".repeat(31)), "from: expected 32 bytes, found 31"),
            ("signature", json!("zz"), "signature: not valid hex"),
            ("amount", json!(-1), "amount: must be an integer"),
            ("amount", json!(1.5), "amount: must be an integer"),
            ("tx_type", json!("Mint"), "tx_type: unknown type"),
            ("codec_version", json!(2), "codec_version: must be 1"),
            ("gasLimit", json!(1), "gasLimit: unknown field"),
        ];
        for (field, value, expected) in cases {
            let mut v = sample();
            v[field] = value;
            let e = parse(v).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{field}: {e}");
        }
        let mut v = sample();
        v.as_object_mut().unwrap().remove("to");
        assert_eq!(parse(v).unwrap_err().to_string(), "to: is required");
    }

    #[test]
    fn raw_is_the_canonical_encoding() {
        let tx = p::Transaction::try_from(&parse(sample()).unwrap()).unwrap();
        let raw = json!({ "raw": hex::encode(tx.encode()) });
        assert_eq!(p::Transaction::try_from(&parse(raw).unwrap()).unwrap(), tx);
        let e = parse(json!({ "raw": "80" })).unwrap_err();
        assert_eq!(e.field, "raw");
    }

    #[test]
    fn batches_name_the_index() {
        let mut bad = sample();
        bad["to"] = json!("00");
        let body = serde_json::to_vec(&json!({ "transactions": [sample(), bad, 7] })).unwrap();
        let submission = parse_submission(&body, MAX_REST_BATCH).unwrap();
        assert!(!submission.single);
        assert!(submission.items[0].is_ok());
        assert_eq!(submission.items[1].as_ref().unwrap_err().field, "transactions[1].to");
        assert_eq!(submission.items[2].as_ref().unwrap_err().field, "transactions[2]");
        assert_eq!(parse_submission(b"[]", 10).unwrap_err().field, "body");
        assert_eq!(parse_submission(br#"{"transactions": []}"#, 10).unwrap_err().field, "transactions");
    }
}
