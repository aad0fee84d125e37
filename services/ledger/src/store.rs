//! The SQLite store: opening (pragmas, integrity, migrations), row encodings, reads, and the
//! one-transaction block write. Knows nothing of the chain rules; `ledger.rs` decides what to
//! write.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use coinjecture_primitives::UnixMillis;
use coinjecture_primitives::consensus::BinReader;
use coinjecture_primitives::{Block, BlockHeader, CommitCertificate, Hash32, Height, PublicKey, Transaction, limits};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Row, SqliteConnection, SqlitePool};

use crate::error::LedgerError;
use crate::state::AccountState;
use crate::verify;

/// Bits of a transaction's index within `transactions.position` (height << 16 | index).
pub(crate) const INDEX_BITS: u32 = 16;
const _: () = assert!(limits::MAX_BLOCK_TRANSACTIONS < (1 << INDEX_BITS));

/// Transactions per era of the hash index (see migrations/0002_tx_hash_eras.sql).
pub(crate) const ERA_TRANSACTIONS: u64 = 1 << 17;

/// Rows per multi-row statement (SQLite allows 32,766 parameters).
const ROWS_PER_STATEMENT: usize = 500;

/// How long a connection waits for a lock held by another before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Page cache per connection, KiB.
const PAGE_CACHE_KIB: u32 = 64 * 1024;

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

/// `meta` key of the lowest height whose transactions are kept ([`Store::oldest_kept`]).
const META_OLDEST_BLOCK: &str = "oldest_block";

// The stored shapes are the ledger port's domain types (one definition, used by every caller).
pub use coinjecture_proto::ports::ledger::{HeaderExtras, IndexedTransaction, StoredBlock, StoredHeader, Tip};

/// An `accounts` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AccountRow {
    pub(crate) state: AccountState,
    /// Position of the account's newest transaction.
    pub(crate) last_tx: Option<i64>,
}

/// The index key of a transaction hash: its first 8 bytes, big-endian.
pub(crate) fn hash_key(hash: &Hash32) -> i64 {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&hash.0[..8]);
    i64::from_be_bytes(prefix)
}

/// Everything one block writes.
#[derive(Debug)]
pub(crate) struct BlockWrite<'a> {
    pub(crate) height: Height,
    pub(crate) hash: Hash32,
    pub(crate) header: &'a BlockHeader,
    pub(crate) certificate: Option<&'a CommitCertificate>,
    pub(crate) timestamp_ms: i64,
    pub(crate) state_commitment: Hash32,
    pub(crate) transactions: &'a [Transaction],
    /// `Transaction::encode` of each transaction.
    pub(crate) tx_encodings: &'a [Vec<u8>],
    pub(crate) tx_hashes: &'a [Hash32],
    /// The hash-index era of the block's transactions.
    pub(crate) era: i64,
    /// (sender_prev, recipient_prev) of each transaction: the history links.
    pub(crate) tx_links: &'a [(Option<i64>, Option<i64>)],
    /// Account rows the block changes (new state or new history), sorted by address: written
    /// to `accounts` for genesis, journaled (`account_journal`) for every later block.
    pub(crate) accounts: &'a [(PublicKey, AccountRow)],
}

/// Bytes per row of an `account_journal.changes` blob (see migrations/0003_account_journal.sql).
const JOURNAL_ROW_BYTES: usize = 32 + 8 + 8 + 1 + 8;

/// Encodes account rows as an `account_journal.changes` blob.
pub(crate) fn encode_journal(rows: &[(PublicKey, AccountRow)]) -> Result<Vec<u8>, LedgerError> {
    let count = u32::try_from(rows.len()).map_err(|_| LedgerError::invalid("accounts", "too many rows"))?;
    let mut out = Vec::with_capacity(4 + rows.len() * JOURNAL_ROW_BYTES);
    out.extend_from_slice(&count.to_be_bytes());
    for (address, row) in rows {
        out.extend_from_slice(&address.0);
        out.extend_from_slice(&row.state.balance.to_be_bytes());
        out.extend_from_slice(&row.state.nonce.to_be_bytes());
        out.push(u8::from(row.last_tx.is_some()));
        out.extend_from_slice(&row.last_tx.unwrap_or(0).to_be_bytes());
    }
    Ok(out)
}

/// Decodes an `account_journal.changes` blob; errors name the height and the byte offset.
pub(crate) fn decode_journal(height: i64, bytes: &[u8]) -> Result<Vec<(PublicKey, AccountRow)>, LedgerError> {
    let corrupt = |e: coinjecture_primitives::DecodeError| {
        LedgerError::corrupt_value(format!("account_journal row of block {height}"))(e)
    };
    let mut r = BinReader::new(bytes);
    let count = r.u32().map_err(corrupt)? as usize;
    if bytes.len() != 4 + count * JOURNAL_ROW_BYTES {
        return Err(LedgerError::Corrupt(format!(
            "account_journal row of block {height}: {} bytes for {count} rows (expected {})",
            bytes.len(),
            4 + count * JOURNAL_ROW_BYTES
        )));
    }
    let mut rows = Vec::with_capacity(count);
    for _ in 0..count {
        let address = PublicKey(r.array().map_err(corrupt)?);
        let balance = r.u64().map_err(corrupt)?;
        let nonce = r.u64().map_err(corrupt)?;
        let flag = r.u8().map_err(corrupt)?;
        let last_tx = i64::from_be_bytes(r.array().map_err(corrupt)?);
        let last_tx = match flag {
            0 => None,
            1 => Some(last_tx),
            other => {
                return Err(LedgerError::Corrupt(format!(
                    "account_journal row of block {height}: last_tx flag {other} is neither 0 nor 1"
                )));
            }
        };
        rows.push((address, AccountRow { state: AccountState { balance, nonce }, last_tx }));
    }
    r.finish().map_err(corrupt)?;
    Ok(rows)
}

pub(crate) fn position(height: Height, index: usize) -> Result<i64, LedgerError> {
    let height = height_to_i64(height)?;
    height
        .checked_mul(1 << INDEX_BITS)
        .map(|p| p + index as i64)
        .ok_or_else(|| LedgerError::invalid("height", format!("{height} is too large to store")))
}

pub(crate) fn to_i64(value: u64, what: &str) -> Result<i64, LedgerError> {
    i64::try_from(value).map_err(|_| LedgerError::invalid(what, format!("{value} exceeds i64::MAX")))
}

fn from_i64(value: i64, what: &str) -> Result<u64, LedgerError> {
    u64::try_from(value).map_err(|_| LedgerError::Corrupt(format!("{what} is negative ({value})")))
}

/// A height read from an SQLite `INTEGER` (a negative one is corrupt data).
pub(crate) fn height_from_i64(value: i64, what: &str) -> Result<Height, LedgerError> {
    Height::try_from(value).map_err(|_| LedgerError::Corrupt(format!("{what} is negative ({value})")))
}

/// A height as an SQLite `INTEGER` (one above `i64::MAX` cannot be stored).
pub(crate) fn height_to_i64(height: Height) -> Result<i64, LedgerError> {
    i64::try_from(height).map_err(|_| LedgerError::invalid("height", format!("{height} exceeds i64::MAX")))
}

fn blob<const N: usize>(row: &SqliteRow, column: &str) -> Result<[u8; N], LedgerError> {
    let bytes: &[u8] = row.try_get(column).map_err(LedgerError::db("reading a row"))?;
    <[u8; N]>::try_from(bytes)
        .map_err(|_| LedgerError::Corrupt(format!("column {column} holds {} bytes, expected {N}", bytes.len())))
}

fn int(row: &SqliteRow, column: &str) -> Result<i64, LedgerError> {
    row.try_get(column).map_err(LedgerError::db("reading a row"))
}

/// A `blocks` row (`height`, `hash`, `header`, `tx_count`, `certificate`) as stored, for checking.
fn block_row(row: &SqliteRow) -> Result<verify::BlockRow<'_>, LedgerError> {
    Ok(verify::BlockRow {
        height: height_from_i64(int(row, "height")?, "blocks.height")?,
        hash: Hash32(blob(row, "hash")?),
        header_bytes: row.try_get("header").map_err(LedgerError::db("reading a row"))?,
        tx_count: int(row, "tx_count")?,
        certificate: row.try_get("certificate").map_err(LedgerError::db("reading a row"))?,
    })
}

/// The SQL of a multi-row statement for a chunk of rows: built once for the full chunks (so
/// sqlx prepares and caches one statement), separately for the last, shorter one.
struct ChunkedSql {
    make: fn(usize) -> String,
    full: Option<String>,
}

impl ChunkedSql {
    fn new(make: fn(usize) -> String) -> Self {
        Self { make, full: None }
    }

    fn for_chunk(&mut self, rows: usize) -> String {
        if rows == ROWS_PER_STATEMENT {
            let make = self.make;
            self.full.get_or_insert_with(|| make(ROWS_PER_STATEMENT)).clone()
        } else {
            (self.make)(rows)
        }
    }
}

fn placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(","));
    vec![row; rows].join(",")
}

/// The SQLite database of one ledger.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub(crate) pool: SqlitePool,
    pub(crate) path: PathBuf,
}

impl Store {
    /// Opens (creating if missing) the database at `path`: parent directories, WAL journal,
    /// `synchronous = FULL`, foreign keys, busy timeout, a quick integrity check, migrations.
    pub(crate) async fn open(path: &Path) -> Result<Self, LedgerError> {
        let fail = |reason: String| LedgerError::open(path, reason);
        let failed = |context: String| LedgerError::open_failed(path, context);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| failed(format!("cannot create the directory {}: ", parent.display()))(e.into()))?;
        }
        // SQLite reports garbage only on first use ("file is not a database"); say it plainly.
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => return Err(fail("it is a directory, not a database file".into())),
            Ok(meta) if meta.len() > 0 => {
                let mut header = [0u8; 16];
                let read = std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header));
                match read {
                    Ok(()) if header == SQLITE_HEADER => {}
                    Ok(()) => return Err(fail("not an SQLite database (bad file header)".into())),
                    Err(e) => return Err(failed("cannot read the file header: ".into())(e.into())),
                }
            }
            _ => {}
        }
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|e| failed(String::new())(e.into()))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // Applying a block touches ~40,000 random index pages; SQLite's default 2 MiB page
            // cache would re-read most of them from the OS on every block.
            .pragma("cache_size", format!("-{}", PAGE_CACHE_KIB))
            // No automatic checkpoint inside COMMIT: with SQLite's default (1,000 pages) the
            // committing connection copied the WAL into the database file and fsynced it before
            // ApplyBlock returned, doubling the commit (about 110 -> 55 ms for a 10,000-transfer
            // block). The ledger checkpoints in the background after each block instead
            // (`checkpoint`). Durability is unchanged: a commit still fsyncs the WAL
            // (synchronous = FULL), and a committed frame is durable whether or not it has
            // been copied into the database file.
            .pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| failed(String::new())(e.into()))?;
        let store = Self { pool, path: path.to_path_buf() };
        store.quick_check().await.map_err(|reason| fail(format!("integrity check failed: {reason}")))?;
        sqlx::migrate!().run(&store.pool).await.map_err(|e| failed("schema migration failed: ".into())(e.into()))?;
        Ok(store)
    }

    /// Copies committed WAL pages into the database file without blocking readers or the next
    /// writer (`PRAGMA wal_checkpoint(PASSIVE)`); run in the background after each block.
    pub(crate) async fn checkpoint(&self) {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&self.pool).await {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }

    /// `PRAGMA quick_check`: `Ok` when SQLite finds the file consistent, else its findings.
    pub(crate) async fn quick_check(&self) -> Result<(), String> {
        let rows: Vec<String> =
            sqlx::query_scalar("PRAGMA quick_check").fetch_all(&self.pool).await.map_err(|e| e.to_string())?;
        if rows.len() == 1 && rows[0] == "ok" { Ok(()) } else { Err(rows.join("; ")) }
    }

    pub(crate) async fn meta(conn: &mut SqliteConnection, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key.to_string())
            .fetch_optional(conn)
            .await
            .map_err(LedgerError::db("reading meta"))
    }

    pub(crate) async fn set_meta(conn: &mut SqliteConnection, key: &str, value: Vec<u8>) -> Result<(), LedgerError> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key.to_string())
        .bind(value)
        .execute(conn)
        .await
        .map_err(LedgerError::db("writing meta"))?;
        Ok(())
    }

    /// Records `height` as the lowest height whose block body is kept (a state-synced ledger).
    pub(crate) async fn set_oldest_kept(conn: &mut SqliteConnection, height: Height) -> Result<(), LedgerError> {
        Self::set_meta(conn, META_OLDEST_BLOCK, height.to_be_bytes().to_vec()).await
    }

    /// Every `accounts` row's (address, balance, nonce), sorted by address (a snapshot's read).
    pub(crate) async fn all_accounts(
        conn: &mut SqliteConnection,
    ) -> Result<Vec<(PublicKey, AccountState)>, LedgerError> {
        let rows: Vec<(Vec<u8>, i64, i64)> =
            sqlx::query_as("SELECT address, balance, nonce FROM accounts ORDER BY address")
                .fetch_all(conn)
                .await
                .map_err(LedgerError::db("reading accounts"))?;
        rows.into_iter()
            .map(|(address, balance, nonce)| {
                let address = PublicKey::from_slice(&address)
                    .map_err(|_| LedgerError::Corrupt(format!("accounts.address holds {} bytes", address.len())))?;
                let balance = from_i64(balance, "accounts.balance")?;
                let nonce = from_i64(nonce, "accounts.nonce")?;
                Ok((address, AccountState { balance, nonce }))
            })
            .collect()
    }

    /// The stored header and certificate of the block at `height`, checked against its hash.
    pub(crate) async fn header_at(
        conn: &mut SqliteConnection,
        height: Height,
    ) -> Result<Option<(BlockHeader, Option<CommitCertificate>)>, LedgerError> {
        let row = sqlx::query("SELECT height, hash, header, certificate, tx_count FROM blocks WHERE height = ?")
            .bind(height_to_i64(height)?)
            .fetch_optional(conn)
            .await
            .map_err(LedgerError::db("reading a block header"))?;
        row.map(|row| block_row(&row)?.check_header()).transpose()
    }

    /// The lowest height whose block body (its transactions) is kept: 0 when nothing was
    /// pruned (`meta.oldest_block`, 8 bytes big-endian, written by [`Self::prune_step`]).
    /// Heights `1..oldest` keep their header and certificate only; genesis has no body.
    pub(crate) async fn oldest_kept(conn: &mut SqliteConnection) -> Result<Height, LedgerError> {
        match Self::meta(conn, META_OLDEST_BLOCK).await? {
            None => Ok(Height(0)),
            Some(bytes) => {
                let bytes: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
                    LedgerError::Corrupt(format!("meta.{META_OLDEST_BLOCK} holds {} bytes, not 8", bytes.len()))
                })?;
                Ok(Height(u64::from_be_bytes(bytes)))
            }
        }
    }

    /// One bounded step of pruning towards `target` (the oldest height to keep), from the
    /// current oldest kept height `oldest`: deletes the transaction rows of the next blocks
    /// below `target` holding at most `max_transactions` rows together (at least one block, at
    /// most 1,000 blocks), the hash-index entries of the eras whose transactions are all gone
    /// (never the newest sealed era, so sealing still finds where it stopped), and records the
    /// new oldest kept height. Returns it and how many transaction rows were deleted. The caller owns the transaction (one per step).
    pub(crate) async fn prune_step(
        conn: &mut SqliteConnection,
        oldest: Height,
        target: Height,
        max_transactions: u64,
    ) -> Result<(Height, u64), LedgerError> {
        let from = oldest.max(Height(1));
        if from >= target {
            return Ok((oldest, 0));
        }
        let counts: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT height, tx_count FROM blocks WHERE height >= ? AND height < ? ORDER BY height LIMIT 1000",
        )
        .bind(to_i64(from.into(), "height")?)
        .bind(to_i64(target.into(), "height")?)
        .fetch_all(&mut *conn)
        .await
        .map_err(LedgerError::db("reading the blocks to prune"))?;
        let mut until = from;
        let mut rows = 0u64;
        for (height, count) in counts {
            let count = from_i64(count, "blocks.tx_count")?;
            if until > from && rows + count > max_transactions {
                break;
            }
            rows += count;
            until = Height(from_i64(height, "blocks.height")? + 1);
        }
        if until == from {
            // Heights missing below the target (cannot happen: blocks are contiguous).
            return Err(LedgerError::Corrupt(format!("no block rows from height {from} to prune")));
        }
        let cut = position(until, 0)?;
        sqlx::query("DELETE FROM transactions WHERE position >= ? AND position < ?")
            .bind(position(from, 0)?)
            .bind(cut)
            .execute(&mut *conn)
            .await
            .map_err(LedgerError::db("pruning transactions"))?;
        // The hash index of every era whose transactions are all gone now, except the newest
        // sealed one (sealing finds where it stopped by it). At most one era more than this
        // step's transactions: earlier steps deleted the eras they emptied.
        sqlx::query(
            "DELETE FROM tx_hash_index WHERE era IN (SELECT e.era FROM tx_eras e \
             WHERE e.era < (SELECT coalesce(max(era), -1) FROM tx_hash_index) \
             AND (SELECT first_position FROM tx_eras n WHERE n.era = e.era + 1) <= ?)",
        )
        .bind(cut)
        .execute(&mut *conn)
        .await
        .map_err(LedgerError::db("pruning the hash index"))?;
        Self::set_meta(conn, META_OLDEST_BLOCK, until.to_be_bytes().to_vec()).await?;
        Ok((until, rows))
    }

    /// The highest stored block; `None` before genesis is written.
    pub(crate) async fn tip(conn: &mut SqliteConnection) -> Result<Option<Tip>, LedgerError> {
        let row =
            sqlx::query("SELECT height, hash, timestamp_ms, state_commitment FROM blocks ORDER BY height DESC LIMIT 1")
                .fetch_optional(conn)
                .await
                .map_err(LedgerError::db("reading the tip"))?;
        row.map(|row| {
            Ok(Tip {
                height: height_from_i64(int(&row, "height")?, "blocks.height")?,
                hash: Hash32(blob(&row, "hash")?),
                timestamp_ms: UnixMillis(int(&row, "timestamp_ms")?),
                state_commitment: Hash32(blob(&row, "state_commitment")?),
            })
        })
        .transpose()
    }

    /// The hash of the block at `height`, if stored.
    pub(crate) async fn hash_at(conn: &mut SqliteConnection, height: Height) -> Result<Option<Hash32>, LedgerError> {
        let row = sqlx::query("SELECT hash FROM blocks WHERE height = ?")
            .bind(height_to_i64(height)?)
            .fetch_optional(conn)
            .await
            .map_err(LedgerError::db("reading a block hash"))?;
        row.map(|r| blob(&r, "hash").map(Hash32)).transpose()
    }

    /// The accounts among `addresses` that have a row (absent ones are zero).
    pub(crate) async fn load_accounts(
        conn: &mut SqliteConnection,
        addresses: &[PublicKey],
    ) -> Result<HashMap<PublicKey, AccountRow>, LedgerError> {
        let mut found = HashMap::with_capacity(addresses.len());
        let mut statements = ChunkedSql::new(accounts_select_sql);
        for chunk in addresses.chunks(ROWS_PER_STATEMENT) {
            let sql = statements.for_chunk(chunk.len());
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for address in chunk {
                query = query.bind(address.0.to_vec());
            }
            // One JSON row per statement: sqlx hands every result row across a thread channel,
            // which costs more than SQLite's lookup itself.
            let json: Option<String> = query
                .fetch_one(&mut *conn)
                .await
                .map_err(LedgerError::db("reading accounts"))?
                .try_get(0)
                .map_err(LedgerError::db("reading accounts"))?;
            let rows: Vec<(String, i64, i64, Option<i64>)> = serde_json::from_str(json.as_deref().unwrap_or("[]"))
                .map_err(LedgerError::corrupt_value("account rows"))?;
            for (address, balance, nonce, last_tx) in rows {
                let address = PublicKey::from_hex_named(&address, "accounts.address")
                    .map_err(LedgerError::corrupt_value("an accounts row"))?;
                let balance = from_i64(balance, "accounts.balance")?;
                let nonce = from_i64(nonce, "accounts.nonce")?;
                found.insert(address, AccountRow { state: AccountState { balance, nonce }, last_tx });
            }
        }
        Ok(found)
    }

    /// Writes one block: its row, its transactions, the changed accounts. The caller owns the
    /// SQLite transaction (so the block is all or nothing).
    pub(crate) async fn write_block(conn: &mut SqliteConnection, write: &BlockWrite<'_>) -> Result<(), LedgerError> {
        let height = height_to_i64(write.height)?;
        sqlx::query(
            "INSERT INTO blocks (height, hash, parent_hash, header, certificate, timestamp_ms, tx_count, \
             state_commitment, proposer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(height)
        .bind(write.hash.0.to_vec())
        .bind(write.header.parent_hash.0.to_vec())
        .bind(write.header.encode())
        .bind(write.certificate.map(CommitCertificate::encode))
        .bind(write.timestamp_ms)
        .bind(write.transactions.len() as i64)
        .bind(write.state_commitment.0.to_vec())
        .bind(write.header.miner_address.0.to_vec())
        .execute(&mut *conn)
        .await
        .map_err(LedgerError::db("writing the block row"))?;

        let first_position = position(write.height, 0)?;
        let mut statements = ChunkedSql::new(transactions_insert_sql);
        for (chunk_index, chunk) in write.transactions.chunks(ROWS_PER_STATEMENT).enumerate() {
            let sql = statements.for_chunk(chunk.len());
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for offset in 0..chunk.len() {
                let index = chunk_index * ROWS_PER_STATEMENT + offset;
                let (Some(hash), Some(encoded), Some((sender_prev, recipient_prev))) =
                    (write.tx_hashes.get(index), write.tx_encodings.get(index), write.tx_links.get(index))
                else {
                    return Err(LedgerError::invalid(
                        "transactions",
                        "a transaction hash, encoding or link is missing",
                    ));
                };
                query = query
                    .bind(first_position + index as i64)
                    .bind(write.era)
                    .bind(hash_key(hash))
                    .bind(*sender_prev)
                    .bind(*recipient_prev)
                    .bind(encoded.as_slice());
            }
            query.execute(&mut *conn).await.map_err(LedgerError::db("writing transactions"))?;
        }
        if !write.transactions.is_empty() {
            // The era's first block with transactions records where the era starts.
            sqlx::query("INSERT OR IGNORE INTO tx_eras (era, first_position) VALUES (?, ?)")
                .bind(write.era)
                .bind(first_position)
                .execute(&mut *conn)
                .await
                .map_err(LedgerError::db("writing the era start"))?;
        }
        if write.height == Height(0) {
            Self::write_accounts(conn, write.accounts).await
        } else if write.accounts.is_empty() {
            Ok(())
        } else {
            sqlx::query("INSERT INTO account_journal (height, changes) VALUES (?, ?)")
                .bind(height)
                .bind(encode_journal(write.accounts)?)
                .execute(&mut *conn)
                .await
                .map_err(LedgerError::db("writing the account journal"))?;
            Ok(())
        }
    }

    /// The first height whose account changes are journaled, not yet in `accounts`:
    /// the lowest journal row, or `tip + 1` when the journal is empty.
    pub(crate) async fn journal_start(conn: &mut SqliteConnection, tip: Height) -> Result<Height, LedgerError> {
        let start: Option<i64> = sqlx::query_scalar("SELECT min(height) FROM account_journal")
            .fetch_one(conn)
            .await
            .map_err(LedgerError::db("reading the account journal"))?;
        match start {
            Some(start) => height_from_i64(start, "account_journal.height"),
            None => Ok(tip.next()),
        }
    }

    /// The latest journaled row of every journaled account, the journal rows (blocks) and the
    /// account rows they hold in total.
    pub(crate) async fn read_journal(
        conn: &mut SqliteConnection,
    ) -> Result<(HashMap<PublicKey, AccountRow>, usize, usize), LedgerError> {
        let rows = sqlx::query("SELECT height, changes FROM account_journal ORDER BY height")
            .fetch_all(conn)
            .await
            .map_err(LedgerError::db("reading the account journal"))?;
        let mut accounts = HashMap::new();
        let mut total = 0;
        for row in &rows {
            let height = int(row, "height")?;
            let changes: &[u8] = row.try_get("changes").map_err(LedgerError::db("reading the account journal"))?;
            let decoded = decode_journal(height, changes)?;
            total += decoded.len();
            accounts.extend(decoded);
        }
        Ok((accounts, rows.len(), total))
    }

    /// Folds the journal into `accounts`: upserts `rows` (the latest row of every journaled
    /// account, sorted by address) and deletes the journal. The caller owns the transaction.
    pub(crate) async fn fold_journal(
        conn: &mut SqliteConnection,
        rows: &[(PublicKey, AccountRow)],
    ) -> Result<(), LedgerError> {
        Self::write_accounts(&mut *conn, rows).await?;
        sqlx::query("DELETE FROM account_journal")
            .execute(conn)
            .await
            .map_err(LedgerError::db("clearing the account journal"))?;
        Ok(())
    }

    /// Upserts account rows.
    pub(crate) async fn write_accounts(
        conn: &mut SqliteConnection,
        accounts: &[(PublicKey, AccountRow)],
    ) -> Result<(), LedgerError> {
        let mut statements = ChunkedSql::new(accounts_upsert_sql);
        for chunk in accounts.chunks(ROWS_PER_STATEMENT) {
            let sql = statements.for_chunk(chunk.len());
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (address, row) in chunk {
                query = query
                    .bind(address.0.to_vec())
                    .bind(to_i64(row.state.balance, "balance")?)
                    .bind(to_i64(row.state.nonce, "nonce")?)
                    .bind(row.last_tx);
            }
            query.execute(&mut *conn).await.map_err(LedgerError::db("writing accounts"))?;
        }
        Ok(())
    }

    /// One block by height, with its transactions.
    pub(crate) async fn block_by_height(
        conn: &mut SqliteConnection,
        height: Height,
    ) -> Result<Option<StoredBlock>, LedgerError> {
        let Ok(height) = i64::try_from(height) else { return Ok(None) };
        let row = sqlx::query("SELECT height, hash, header, certificate, tx_count FROM blocks WHERE height = ?")
            .bind(height)
            .fetch_optional(&mut *conn)
            .await
            .map_err(LedgerError::db("reading a block"))?;
        match row {
            Some(row) => Ok(Self::assemble(conn, vec![row]).await?.pop()),
            None => Ok(None),
        }
    }

    /// One block by hash, with its transactions.
    pub(crate) async fn block_by_hash(
        conn: &mut SqliteConnection,
        hash: &Hash32,
    ) -> Result<Option<StoredBlock>, LedgerError> {
        let row = sqlx::query("SELECT height, hash, header, certificate, tx_count FROM blocks WHERE hash = ?")
            .bind(hash.0.to_vec())
            .fetch_optional(&mut *conn)
            .await
            .map_err(LedgerError::db("reading a block"))?;
        match row {
            Some(row) => Ok(Self::assemble(conn, vec![row]).await?.pop()),
            None => Ok(None),
        }
    }

    /// The `blocks` rows (height, hash, header, certificate, tx_count) of up to `limit`
    /// consecutive heights from `from`; `what` names the read in an error.
    async fn block_rows(
        conn: &mut SqliteConnection,
        from: Height,
        limit: u32,
        what: &'static str,
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>, LedgerError> {
        let Ok(from) = i64::try_from(from) else { return Ok(Vec::new()) };
        sqlx::query(
            "SELECT height, hash, header, certificate, tx_count FROM blocks WHERE height >= ? ORDER BY height LIMIT ?",
        )
        .bind(from)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(LedgerError::db(what))
    }

    /// Up to `limit` consecutive blocks from `from`.
    pub(crate) async fn block_range(
        conn: &mut SqliteConnection,
        from: Height,
        limit: u32,
    ) -> Result<Vec<StoredBlock>, LedgerError> {
        let rows = Self::block_rows(conn, from, limit, "reading blocks").await?;
        Self::assemble(conn, rows).await
    }

    /// Up to `limit` consecutive block headers from `from`, from the `blocks` rows only, each
    /// checked against its stored hash (`verify::BlockRow::check_header`). With
    /// [`HeaderExtras::Hashes`], also the transactions' hashes: their rows are read in one range
    /// scan and hashed (checked against their hash keys, the row count and the header's Merkle
    /// root) but not decoded. With [`HeaderExtras::Sizes`], the transactions' stored sizes.
    pub(crate) async fn header_range(
        conn: &mut SqliteConnection,
        from: Height,
        limit: u32,
        extras: HeaderExtras,
    ) -> Result<Vec<StoredHeader>, LedgerError> {
        let hashes = extras == HeaderExtras::Hashes;
        let rows = Self::block_rows(conn, from, limit, "reading block headers").await?;
        let mut by_height = if hashes { Self::transaction_hashes(conn, &rows).await? } else { HashMap::new() };
        let sizes =
            if extras == HeaderExtras::Sizes { Some(Self::transaction_sizes(conn, &rows).await?) } else { None };
        rows.iter()
            .map(|row| {
                let stored = block_row(row)?;
                let height = stored.height;
                let (header, certificate, transaction_hashes) = if hashes {
                    let tx_hashes = by_height.remove(&height).unwrap_or_default();
                    let (header, certificate) = stored.check(&tx_hashes)?;
                    (header, certificate, Some(tx_hashes))
                } else {
                    let (header, certificate) = stored.check_header()?;
                    (header, certificate, None)
                };
                Ok(StoredHeader {
                    height,
                    hash: stored.hash,
                    header,
                    certificate,
                    // check_header bounded it by the block limit.
                    transaction_count: u32::try_from(stored.tx_count).unwrap_or(u32::MAX),
                    transaction_hashes,
                    transactions_bytes: sizes.as_ref().map(|s| s.get(&height).copied().unwrap_or(0)),
                })
            })
            .collect()
    }

    /// The summed stored length of the transactions of block rows (ascending, consecutive), by
    /// height: one range scan of lengths. `length()` of a blob reads its size from the record
    /// header, not the value (nor its overflow pages), so this costs far less than the blocks.
    async fn transaction_sizes(
        conn: &mut SqliteConnection,
        rows: &[SqliteRow],
    ) -> Result<HashMap<Height, u64>, LedgerError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Ok(HashMap::new()) };
        let first_height = height_from_i64(int(first, "height")?, "blocks.height")?;
        let last_height = height_from_i64(int(last, "height")?, "blocks.height")?;
        let size_rows = sqlx::query(
            "SELECT position >> ? AS height, SUM(length(encoded)) AS bytes FROM transactions \
             WHERE position >= ? AND position < ? GROUP BY position >> ?",
        )
        .bind(i64::from(INDEX_BITS))
        .bind(position(first_height, 0)?)
        .bind(position(last_height.next(), 0)?)
        .bind(i64::from(INDEX_BITS))
        .fetch_all(&mut *conn)
        .await
        .map_err(LedgerError::db("reading block sizes"))?;
        size_rows
            .iter()
            .map(|row| {
                let height = height_from_i64(int(row, "height")?, "transactions.position")?;
                Ok((height, from_i64(int(row, "bytes")?, "a block's transaction bytes")?))
            })
            .collect()
    }

    /// The hashes of the transactions of block rows (ascending, consecutive), by height: one
    /// range scan, each row hashed and checked against its hash key, none decoded.
    async fn transaction_hashes(
        conn: &mut SqliteConnection,
        rows: &[SqliteRow],
    ) -> Result<HashMap<Height, Vec<Hash32>>, LedgerError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Ok(HashMap::new()) };
        let first_height = height_from_i64(int(first, "height")?, "blocks.height")?;
        let last_height = height_from_i64(int(last, "height")?, "blocks.height")?;
        let tx_rows = sqlx::query(
            "SELECT position, hash_key, encoded FROM transactions WHERE position >= ? AND position < ? \
             ORDER BY position",
        )
        .bind(position(first_height, 0)?)
        .bind(position(last_height.next(), 0)?)
        .fetch_all(&mut *conn)
        .await
        .map_err(LedgerError::db("reading block transactions"))?;
        let mut by_height: HashMap<Height, Vec<Hash32>> = HashMap::new();
        for row in tx_rows {
            let position = int(&row, "position")?;
            let encoded: &[u8] = row.try_get("encoded").map_err(LedgerError::db("reading a row"))?;
            let hash = verify::transaction_hash(position, int(&row, "hash_key")?, encoded)?;
            let height = height_from_i64(position >> INDEX_BITS, "transactions.position")?;
            let hashes = by_height.entry(height).or_default();
            if position & ((1 << INDEX_BITS) - 1) != hashes.len() as i64 {
                return Err(verify::corrupt_read(format!(
                    "{}: the rows before it in block {height} are {} (a row is missing)",
                    verify::row_name(position),
                    hashes.len()
                )));
            }
            hashes.push(hash);
        }
        Ok(by_height)
    }

    /// Turns block rows (ascending, consecutive) into blocks, reading their transactions in one
    /// range scan. Each transaction is checked against its stored hash key and each block
    /// against its hash, Merkle root and row count (see `verify`): corrupt data is an error.
    async fn assemble(conn: &mut SqliteConnection, rows: Vec<SqliteRow>) -> Result<Vec<StoredBlock>, LedgerError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Ok(Vec::new()) };
        let first_height = height_from_i64(int(first, "height")?, "blocks.height")?;
        let last_height = height_from_i64(int(last, "height")?, "blocks.height")?;
        let tx_rows = sqlx::query(
            "SELECT position, hash_key, encoded FROM transactions WHERE position >= ? AND position < ? \
             ORDER BY position",
        )
        .bind(position(first_height, 0)?)
        .bind(position(last_height.next(), 0)?)
        .fetch_all(&mut *conn)
        .await
        .map_err(LedgerError::db("reading block transactions"))?;
        let mut by_height: HashMap<Height, (Vec<Transaction>, Vec<Hash32>)> = HashMap::new();
        for row in tx_rows {
            let position = int(&row, "position")?;
            let encoded: &[u8] = row.try_get("encoded").map_err(LedgerError::db("reading a row"))?;
            let (tx, hash) = verify::transaction_row(position, int(&row, "hash_key")?, encoded)?;
            let height = height_from_i64(position >> INDEX_BITS, "transactions.position")?;
            let (txs, hashes) = by_height.entry(height).or_default();
            if position & ((1 << INDEX_BITS) - 1) != txs.len() as i64 {
                return Err(verify::corrupt_read(format!(
                    "{}: the rows before it in block {height} are {} (a row is missing)",
                    verify::row_name(position),
                    txs.len()
                )));
            }
            txs.push(tx);
            hashes.push(hash);
        }
        rows.iter()
            .map(|row| {
                let stored = block_row(row)?;
                let height = stored.height;
                let (transactions, hashes) = by_height.remove(&height).unwrap_or_default();
                let (header, certificate) = stored.check(&hashes)?;
                Ok(StoredBlock { height, hash: stored.hash, block: Block { header, transactions }, certificate })
            })
            .collect()
    }

    /// The newest era of the hash index, how many transactions it holds and where it starts
    /// (`None` before the first transaction).
    pub(crate) async fn current_era(conn: &mut SqliteConnection) -> Result<(i64, u64, Option<i64>), LedgerError> {
        let row = sqlx::query("SELECT era, first_position FROM tx_eras ORDER BY era DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(LedgerError::db("reading the current era"))?;
        let Some(row) = row else { return Ok((0, 0, None)) };
        let (era, first) = (int(&row, "era")?, int(&row, "first_position")?);
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions WHERE position >= ?")
            .bind(first)
            .fetch_one(conn)
            .await
            .map_err(LedgerError::db("counting the current era"))?;
        Ok((era, from_i64(count, "era rows")?, Some(first)))
    }

    /// The (hash_key, position) pairs of the transactions from `first_position` on, sorted:
    /// the current era, indexed in memory only.
    pub(crate) async fn era_keys(
        conn: &mut SqliteConnection,
        first_position: i64,
    ) -> Result<Vec<(i64, i64)>, LedgerError> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT hash_key, position FROM transactions WHERE position >= ? ORDER BY hash_key, position",
        )
        .bind(first_position)
        .fetch_all(conn)
        .await
        .map_err(LedgerError::db("reading the current era's hash keys"))?;
        Ok(rows)
    }

    /// The eras below `current` whose hash keys are not in `tx_hash_index` yet.
    pub(crate) async fn unsealed_eras(conn: &mut SqliteConnection, current: i64) -> Result<Vec<i64>, LedgerError> {
        sqlx::query_scalar(
            "SELECT era FROM tx_eras WHERE era > (SELECT coalesce(max(era), -1) FROM tx_hash_index) AND era < ? \
             ORDER BY era",
        )
        .bind(current)
        .fetch_all(conn)
        .await
        .map_err(LedgerError::db("reading the unsealed eras"))
    }

    /// Seals `era`: copies its (era, hash_key, position) triples into `tx_hash_index`, sorted.
    /// Idempotent. The caller owns the transaction.
    pub(crate) async fn seal_era(conn: &mut SqliteConnection, era: i64) -> Result<(), LedgerError> {
        sqlx::query(
            "INSERT OR IGNORE INTO tx_hash_index (era, hash_key, position) \
             SELECT era, hash_key, position FROM transactions \
             WHERE position >= (SELECT first_position FROM tx_eras WHERE era = ?1) AND era = ?1 \
             ORDER BY hash_key, position",
        )
        .bind(era)
        .execute(conn)
        .await
        .map_err(LedgerError::db("sealing an era of the hash index"))?;
        Ok(())
    }

    /// Seals `era` from its (hash_key, position) pairs held in memory (sorted): the same rows as
    /// [`Self::seal_era`] without reading the era's transactions back.
    pub(crate) async fn seal_era_from(
        conn: &mut SqliteConnection,
        era: i64,
        pairs: &[(i64, i64)],
    ) -> Result<(), LedgerError> {
        let mut statements = ChunkedSql::new(hash_index_insert_sql);
        for chunk in pairs.chunks(ROWS_PER_STATEMENT) {
            let sql = statements.for_chunk(chunk.len());
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (key, position) in chunk {
                query = query.bind(era).bind(*key).bind(*position);
            }
            query.execute(&mut *conn).await.map_err(LedgerError::db("sealing an era of the hash index"))?;
        }
        Ok(())
    }

    /// A finalized transaction by hash: first at `recent` (positions the in-memory index of the
    /// unsealed eras holds for its hash key; ones not in this snapshot are skipped), then in
    /// each sealed era of `tx_hash_index`.
    pub(crate) async fn transaction(
        conn: &mut SqliteConnection,
        hash: &Hash32,
        recent: &[i64],
    ) -> Result<Option<IndexedTransaction>, LedgerError> {
        for position in recent {
            let (found, _) = Self::transaction_at(conn, *position).await?;
            if let Some(found) = found.filter(|t| t.tx_hash == *hash) {
                return Ok(Some(found));
            }
        }
        // One index search per era (a plain `WHERE hash_key = ?` could not use the index).
        let rows = sqlx::query(
            "WITH RECURSIVE eras(e) AS (SELECT 0 UNION ALL SELECT e + 1 FROM eras \
             WHERE e < (SELECT coalesce(max(era), 0) FROM tx_hash_index)) \
             SELECT i.position FROM eras CROSS JOIN tx_hash_index i WHERE i.era = eras.e AND i.hash_key = ?",
        )
        .bind(hash_key(hash))
        .fetch_all(&mut *conn)
        .await
        .map_err(LedgerError::db("reading a transaction"))?;
        for row in rows {
            let (found, _) = Self::transaction_at(conn, int(&row, "position")?).await?;
            if let Some(found) = found.filter(|t| t.tx_hash == *hash) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The transaction at `position` and its (sender_prev, recipient_prev) links.
    async fn transaction_at(
        conn: &mut SqliteConnection,
        position: i64,
    ) -> Result<(Option<IndexedTransaction>, (Option<i64>, Option<i64>)), LedgerError> {
        let row = sqlx::query(
            "SELECT t.position, t.hash_key, t.encoded, t.sender_prev, t.recipient_prev, b.hash AS block_hash \
             FROM transactions t JOIN blocks b ON b.height = (t.position >> 16) WHERE t.position = ?",
        )
        .bind(position)
        .fetch_optional(conn)
        .await
        .map_err(LedgerError::db("reading a transaction"))?;
        let Some(row) = row else { return Ok((None, (None, None))) };
        let sender_prev: Option<i64> = row.try_get("sender_prev").map_err(LedgerError::db("reading a row"))?;
        let recipient_prev: Option<i64> = row.try_get("recipient_prev").map_err(LedgerError::db("reading a row"))?;
        Ok((Some(indexed(&row)?), (sender_prev, recipient_prev)))
    }

    /// Up to `limit` transactions sent or received by `address`, newest first, starting after
    /// the one at position `cursor`, or at `newest` (the account's `last_tx` at the snapshot's
    /// tip) without a cursor. Also says whether older ones remain. A pruned ledger's history
    /// ends at its oldest kept block (`oldest_kept`): links below it are not followed.
    pub(crate) async fn history(
        conn: &mut SqliteConnection,
        address: &PublicKey,
        cursor: Option<i64>,
        newest: Option<i64>,
        limit: u32,
        oldest_kept: Height,
    ) -> Result<(Vec<IndexedTransaction>, bool), LedgerError> {
        let kept_from = position(oldest_kept, 0)?;
        let prev_of = |tx: &IndexedTransaction, links: (Option<i64>, Option<i64>)| {
            if tx.transaction.from == *address {
                Some(links.0)
            } else if tx.transaction.to == *address {
                Some(links.1)
            } else {
                None
            }
        };
        let mut next = match cursor {
            None => newest,
            Some(position) => {
                let (tx, links) = Self::transaction_at(&mut *conn, position).await?;
                tx.and_then(|tx| prev_of(&tx, links))
                    .ok_or_else(|| LedgerError::invalid("page_token", "does not name a transaction of this account"))?
            }
        };
        let mut page = Vec::new();
        next = next.filter(|p| *p >= kept_from);
        while let Some(position) = next {
            if page.len() >= limit as usize {
                break;
            }
            let (tx, links) = Self::transaction_at(&mut *conn, position).await?;
            let tx =
                tx.ok_or_else(|| LedgerError::Corrupt(format!("history links to a missing position {position}")))?;
            next = prev_of(&tx, links)
                .ok_or_else(|| {
                    LedgerError::Corrupt(format!("history of {address} links to an unrelated position {position}"))
                })?
                .filter(|p| *p >= kept_from);
            page.push(tx);
        }
        Ok((page, next.is_some()))
    }
}

/// A transaction row with its block hash, checked against its stored hash key (`verify`).
fn indexed(row: &SqliteRow) -> Result<IndexedTransaction, LedgerError> {
    let stored_position = int(row, "position")?;
    let position = from_i64(stored_position, "transactions.position")?;
    let encoded: &[u8] = row.try_get("encoded").map_err(LedgerError::db("reading a row"))?;
    let (transaction, tx_hash) = verify::transaction_row(stored_position, int(row, "hash_key")?, encoded)?;
    Ok(IndexedTransaction {
        transaction,
        tx_hash,
        block_height: Height(position >> INDEX_BITS),
        block_hash: Hash32(blob(row, "block_hash")?),
        index: (position & ((1 << INDEX_BITS) - 1)) as u32,
    })
}

fn accounts_select_sql(rows: usize) -> String {
    format!(
        "SELECT json_group_array(json_array(hex(address), balance, nonce, last_tx)) FROM accounts WHERE address IN ({})",
        vec!["?"; rows].join(",")
    )
}

fn transactions_insert_sql(rows: usize) -> String {
    format!(
        "INSERT OR FAIL INTO transactions (position, era, hash_key, sender_prev, recipient_prev, encoded) VALUES {}",
        placeholders(rows, 6)
    )
}

fn hash_index_insert_sql(rows: usize) -> String {
    format!("INSERT OR IGNORE INTO tx_hash_index (era, hash_key, position) VALUES {}", placeholders(rows, 3))
}

fn accounts_upsert_sql(rows: usize) -> String {
    format!(
        "INSERT OR FAIL INTO accounts (address, balance, nonce, last_tx) VALUES {} \
         ON CONFLICT (address) DO UPDATE SET balance = excluded.balance, nonce = excluded.nonce, \
         last_tx = excluded.last_tx",
        placeholders(rows, 4)
    )
}
