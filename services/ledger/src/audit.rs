//! `coinjectured db verify`: a whole database checked offline, block by block, from genesis to
//! the tip. The file is opened read-only; nothing is written or repaired.
//!
//! Always checked: every block's header hash, height, Merkle root, transaction count and each
//! transaction's stored hash key (the same checks as every read, see `verify`), the parent
//! links, and that each certificate names its block. With the genesis: the database belongs to
//! it, every transaction's signature and effect is replayed from the genesis allocations, and
//! each block's state commitment (header and row) is recomputed and compared, as is the final
//! account state with the `accounts` table and journal. With the validators: every
//! certificate's signers, quorum and signatures. A pruned database (`ledger.keep_blocks`) is
//! refused with [`LedgerError::Pruned`]: it cannot be replayed from the genesis.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use coinjecture_crypto_core::signatures::{VerifyItem, verify_batch};
use coinjecture_primitives::validators::ValidatorSchedule;
use coinjecture_primitives::{Hash32, Height, PoaExtra, PublicKey, Transaction};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::error::LedgerError;
use crate::execute::run_transactions;
use crate::genesis::GenesisConfig;
use crate::state::{AccountState, next_state_commitment};
use crate::store::{Store, StoredBlock};

/// Blocks read per query.
const CHUNK: u32 = 64;

/// What [`verify_database`] checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Height of the stored tip.
    pub tip: Height,
    /// Blocks checked (genesis included).
    pub blocks: u64,
    pub transactions: u64,
    /// Certificates whose signatures and quorum were verified (0 without validators).
    pub certificates_verified: u64,
    /// True when the state was replayed from the genesis (every state commitment recomputed).
    pub state_replayed: bool,
}

fn bad(message: String) -> LedgerError {
    LedgerError::Corrupt(message)
}

/// Checks the database at `path` (see the module doc); `progress(height, tip)` is called after
/// each chunk of blocks. Stops at the first problem, an error naming the height and row.
pub async fn verify_database(
    path: &Path,
    genesis: Option<&GenesisConfig>,
    validators: Option<&ValidatorSchedule>,
    mut progress: impl FnMut(Height, Height),
) -> Result<AuditReport, LedgerError> {
    let open_err = |e: sqlx::Error| LedgerError::open_failed(path, "")(e.into());
    if !path.is_file() {
        return Err(LedgerError::open(path, "no such database file"));
    }
    let options = SqliteConnectOptions::from_str("sqlite:")
        .map_err(open_err)?
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.map_err(open_err)?;
    let mut conn = pool.begin().await.map_err(open_err)?;
    let tip = Store::tip(&mut conn).await?.ok_or_else(|| bad("no blocks are stored (not even genesis)".into()))?;
    // A pruned database (ledger.keep_blocks) cannot be replayed from the genesis: say so, rather
    // than report the missing transactions as corruption.
    let oldest = Store::oldest_kept(&mut conn).await?;
    if oldest > Height(1) {
        return Err(LedgerError::Pruned { height: Height(1), oldest });
    }
    let chain_id = match genesis {
        Some(genesis) => {
            let stored = Store::meta(&mut conn, "genesis_hash").await?.unwrap_or_default();
            if stored != genesis.hash().0 {
                return Err(bad(format!(
                    "meta.genesis_hash is {}, the configured genesis hashes to {}",
                    hex::encode(&stored),
                    genesis.hash()
                )));
            }
            Some(genesis.chain_id.clone())
        }
        None => None,
    };
    let mut state: Option<HashMap<PublicKey, AccountState>> =
        genesis.map(|g| g.sorted_allocations().into_iter().collect());
    let mut commitment = genesis.map(GenesisConfig::state_commitment);
    let mut report = AuditReport { tip: tip.height, state_replayed: genesis.is_some(), ..Default::default() };
    let mut previous: Option<Hash32> = None;
    let mut next = Height::GENESIS;
    while next <= tip.height {
        let blocks = Store::block_range(&mut conn, next, CHUNK).await?;
        let commitments = stored_commitments(&mut conn, next, CHUNK).await?;
        if blocks.is_empty() {
            return Err(bad(format!("block {next} (blocks row {next}) is missing; the tip is {}", tip.height)));
        }
        for stored in &blocks {
            if stored.height != next {
                return Err(bad(format!(
                    "block {next} (blocks row {next}) is missing; the next row is {}",
                    stored.height
                )));
            }
            check_block(stored, previous, commitments.get(&stored.height).copied())?;
            if let (Some(validators), Some(chain), Some(certificate)) =
                (validators, chain_id.as_ref(), stored.certificate.as_ref())
            {
                let pending = validators
                    .at(stored.height)
                    .check_certificate(chain, stored.height, &stored.hash, certificate)
                    .map_err(|e| bad(format!("block {}: certificate: {e}", stored.height)))?;
                let items: Vec<VerifyItem<'_>> = pending
                    .signatures
                    .iter()
                    .map(|(key, signature)| VerifyItem { public_key: key, message: &pending.message, signature })
                    .collect();
                pending
                    .conclude(&verify_batch(&items))
                    .map_err(|e| bad(format!("block {}: certificate: {e}", stored.height)))?;
                report.certificates_verified += 1;
            }
            if let (Some(state), Some(commitment), Some(chain)) = (state.as_mut(), commitment.as_mut(), &chain_id)
                && stored.height > Height(0)
            {
                *commitment = replay(chain, state, commitment, stored)?;
            }
            report.blocks += 1;
            report.transactions += stored.block.transactions.len() as u64;
            previous = Some(stored.hash);
            next = next.next();
        }
        progress(next.saturating_sub(1), tip.height);
    }
    if let Some(state) = &state {
        compare_state(&mut conn, state).await?;
    }
    drop(conn);
    pool.close().await;
    Ok(report)
}

/// The `blocks.state_commitment` column of up to `limit` blocks from `from`.
async fn stored_commitments(
    conn: &mut sqlx::SqliteConnection,
    from: Height,
    limit: u32,
) -> Result<HashMap<Height, Hash32>, LedgerError> {
    let rows = sqlx::query("SELECT height, state_commitment FROM blocks WHERE height >= ? ORDER BY height LIMIT ?")
        .bind(i64::try_from(from).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await
        .map_err(LedgerError::db("reading state commitments"))?;
    rows.iter()
        .map(|row| {
            let height: i64 = row.try_get("height").map_err(LedgerError::db("reading a row"))?;
            let bytes: &[u8] = row.try_get("state_commitment").map_err(LedgerError::db("reading a row"))?;
            let hash = Hash32::from_slice(bytes)
                .map_err(|_| bad(format!("block {height} (blocks row {height}): state_commitment is not 32 bytes")))?;
            Ok((Height::try_from(height).unwrap_or_default(), hash))
        })
        .collect()
}

/// Parent link, and the header's state commitment against the row's.
fn check_block(stored: &StoredBlock, previous: Option<Hash32>, column: Option<Hash32>) -> Result<(), LedgerError> {
    let height = stored.height;
    let header = &stored.block.header;
    if let Some(previous) = previous
        && header.parent_hash != previous
    {
        return Err(bad(format!(
            "block {height}: parent_hash {} is not the hash of block {} ({previous})",
            header.parent_hash,
            height.saturating_sub(1)
        )));
    }
    if height == Height(0) {
        return Ok(());
    }
    if stored.certificate.is_none() {
        return Err(bad(format!("block {height} (blocks row {height}) has no certificate")));
    }
    let extra = PoaExtra::decode_at(&header.extra_data, height)
        .map_err(|e| bad(format!("block {height}: header.extra_data: {e}")))?;
    if column != Some(extra.state_commitment) {
        return Err(bad(format!(
            "block {height} (blocks row {height}): the row's state_commitment is not the header's {}",
            extra.state_commitment
        )));
    }
    Ok(())
}

/// Replays `stored` on `state`: signatures verified, every transaction valid, and the state
/// commitment after it the header's. Returns that commitment.
fn replay(
    chain: &coinjecture_primitives::ChainId,
    state: &mut HashMap<PublicKey, AccountState>,
    previous: &Hash32,
    stored: &StoredBlock,
) -> Result<Hash32, LedgerError> {
    let height = stored.height;
    let txs = &stored.block.transactions;
    let hashes: Vec<Hash32> = txs.iter().map(Transaction::hash).collect();
    let messages: Vec<Vec<u8>> = txs.iter().map(Transaction::signing_message).collect();
    let items: Vec<VerifyItem<'_>> = txs
        .iter()
        .zip(&messages)
        .map(|(tx, message)| VerifyItem { public_key: &tx.from, message, signature: &tx.signature })
        .collect();
    let signatures = verify_batch(&items);
    let transition = run_transactions(
        chain,
        |a| state.get(a).copied().unwrap_or_default(),
        txs,
        &hashes,
        Some(&signatures),
        Some(&stored.block.header.miner_address),
    );
    if let Some((i, rejection)) = transition.first_rejection() {
        return Err(bad(format!("block {height} transaction {i}: does not replay: {}", rejection.message)));
    }
    let commitment = next_state_commitment(previous, &transition.changes);
    let extra = PoaExtra::decode_at(&stored.block.header.extra_data, height)
        .map_err(|e| bad(format!("block {height}: header.extra_data: {e}")))?;
    if extra.state_commitment != commitment {
        return Err(bad(format!(
            "block {height}: replayed from genesis, the state commitment is {commitment}, the header says {}",
            extra.state_commitment
        )));
    }
    state.extend(transition.changes);
    Ok(commitment)
}

/// The replayed state against the stored one (`accounts` overlaid with the journal).
async fn compare_state(
    conn: &mut sqlx::SqliteConnection,
    replayed: &HashMap<PublicKey, AccountState>,
) -> Result<(), LedgerError> {
    let rows = sqlx::query("SELECT address, balance, nonce FROM accounts")
        .fetch_all(&mut *conn)
        .await
        .map_err(LedgerError::db("reading accounts"))?;
    let mut stored: HashMap<PublicKey, AccountState> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let address: &[u8] = row.try_get("address").map_err(LedgerError::db("reading a row"))?;
        let address = PublicKey::from_slice(address)
            .map_err(|_| bad(format!("accounts row {}: address is not 32 bytes", hex::encode(address))))?;
        let balance: i64 = row.try_get("balance").map_err(LedgerError::db("reading a row"))?;
        let nonce: i64 = row.try_get("nonce").map_err(LedgerError::db("reading a row"))?;
        let state = AccountState {
            balance: u64::try_from(balance).map_err(|_| bad(format!("accounts row {address}: negative balance")))?,
            nonce: u64::try_from(nonce).map_err(|_| bad(format!("accounts row {address}: negative nonce")))?,
        };
        stored.insert(address, state);
    }
    let (journaled, _, _) = Store::read_journal(conn).await?;
    stored.extend(journaled.into_iter().map(|(address, row)| (address, row.state)));
    let mut addresses: Vec<&PublicKey> = stored.keys().chain(replayed.keys()).collect();
    addresses.sort();
    addresses.dedup();
    for address in addresses {
        let (have, want) =
            (stored.get(address).copied().unwrap_or_default(), replayed.get(address).copied().unwrap_or_default());
        if have != want {
            return Err(bad(format!(
                "account {address}: stored balance {} nonce {}, replaying the chain gives balance {} nonce {}",
                have.balance, have.nonce, want.balance, want.nonce
            )));
        }
    }
    Ok(())
}
