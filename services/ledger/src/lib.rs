//! # coinjecture-ledger
//!
//! The node's durable chain state: finalized blocks with their commit certificates, transactions
//! and accounts (balance, nonce) in one SQLite file, the state transition that applies a block,
//! and the `Ledger` gRPC service (`proto/coinjecture/v1/ledger.proto`). Consensus hands it
//! finalized blocks; p2p-gateway and api read from it. It never decides what is final.
//!
//! ## Bird's eye view
//!
//! | module        | owns                                                                       |
//! |---------------|----------------------------------------------------------------------------|
//! | [`genesis`]   | [`GenesisConfig`], its YAML/JSON file format and the genesis block         |
//! | [`state`]     | [`AccountState`] and the state commitment                                  |
//! | `execute`     | the state transition, pure (no I/O): transactions in, verdicts and changes out |
//! | `store`       | SQLite: pragmas, migrations (`services/ledger/migrations`), rows, queries |
//! | [`verify`]    | reads verified against stored hashes; `coinjecture_ledger_corrupt_reads_total` |
//! | `audit`       | [`verify_database`]: a whole database checked offline (`coinjectured db verify`) |
//! | [`Ledger`]    | the rules of a block, reads, CheckTransactions, ExecuteBlock, ApplyBlock   |
//! | `port`        | `LedgerPort` for [`Ledger`]: the contract other services hold           |
//! | [`service`]   | [`LedgerService`]: the generated `Ledger` trait over the port; `serve`     |
//!
//! ## Trust
//!
//! The ledger trusts no caller with a certificate: ApplyBlock verifies the commit certificate
//! itself (it names the block, its signers are members of the validator set of that height
//! and reach its quorum, every signature is a valid precommit: one batched `Ed25519VerifyBatch`
//! call), whoever calls; the rule shared with consensus is
//! `coinjecture_primitives::validators`. At open the stored tip's certificate is verified.
//! Nor does it trust its file: every block and transaction read is checked against its stored
//! hashes before it is returned (see [`verify`]).
//!
//! The ledger's contract is its port, `coinjecture_proto::ports::ledger::LedgerPort`, which
//! [`Ledger`] implements (`port`): other services in the same process hold `Arc<Ledger>` as their
//! `Arc<dyn LedgerPort>` and call it directly (no socket, no protobuf, sealed values as they
//! are); split, they hold a `RemoteLedger`, and [`LedgerService`] serves the same port over gRPC
//! with the port's wire conversions.
//!
//! ## Crypto through the port
//!
//! Signatures and Merkle roots go through crypto-core's port
//! (`coinjecture_proto::ports::crypto::CryptoPort`), batched — never one call per transaction.
//! Transactions are sealed (encoded and hashed once, by `coinjecture-primitives`), so only
//! signatures and Merkle leaves go to crypto-core: one `verify_transactions` per
//! CheckTransactions call, one `verify_block` per executed block (its Merkle root and the
//! signatures this ledger has not verified before: a transaction admitted to the mempool is not
//! verified again inside a proposal, the hashes of the last 262,144 verified ones are kept, and
//! the hash covers the signature), one `verify_signatures` per applied block (its certificate).
//! The port is crypto-core itself in one process (Network A) or `RemoteCrypto` over gRPC
//! (Network B); the ledger's code is the same.
//!
//! When ExecuteBlock has found a block valid, the ledger remembers the result (the last 4, each
//! with the tip it ran on), and ApplyBlock of that same block on that same tip writes it without
//! verifying or executing again: the same block on the same state gives the same result.
//! [`SignatureCheck::AlreadyVerified`] lets an in-process caller that has verified a block skip
//! the signatures explicitly (the benchmark does); everything else is then checked.
//!
//! ## Storage
//!
//! One SQLite file, path chosen by the caller (parent directories are created), opened with the
//! WAL journal, `synchronous = FULL` (a committed block survives power loss, not just a crash),
//! foreign keys on, a 10 s busy timeout, a 64 MiB page cache and in-memory temporary storage. At
//! open a quick integrity check runs and the embedded migrations are applied. WAL checkpoints run
//! in the background after each block (`wal_checkpoint(PASSIVE)`), not inside the commit
//! (`wal_autocheckpoint = 0`).
//! Schema (see `migrations/0001_initial.sql` to `0005_evidence.sql`):
//!
//! - `evidence(id PK, hash UNIQUE, kind, offender, height, round, detected_at_ms, encoded)`:
//!   equivocation evidence consensus recorded (not chain state; see `0005_evidence.sql`).
//! - `meta(key, value)`: `chain_id`, `genesis_hash`, `created_by`; the schema version is sqlx's
//!   `_sqlx_migrations` table.
//! - `blocks(height PK, hash UNIQUE, parent_hash, header, certificate, timestamp_ms, tx_count,
//!   state_commitment, proposer)`: `header` is the canonical v4 header encoding and
//!   `certificate` the canonical `CommitCertificate` encoding (NULL for genesis). The **tip is the
//!   highest row**, so it can never disagree with the blocks.
//! - `transactions(position PK, era, hash_key, sender_prev, recipient_prev, encoded)`: `encoded`
//!   is the canonical v4 transaction encoding (the hash is its SHA-256); `position = height ×
//!   65536 + index` (a block holds at most 50,000) clusters the table by (height, index), so new
//!   rows are appended and a block's canonical encoding is rebuilt from its header and one range
//!   scan (no transaction is stored twice). No secondary index: account history follows links
//!   (each row names the previous transaction of its sender and of its recipient), and lookups
//!   by hash use `tx_hash_index`.
//! - `tx_hash_index(era, hash_key, position)` and `tx_eras(era, first_position)`: `hash_key` is
//!   the first 8 bytes of the hash as an integer (lookups compare the full hash); an era is a run
//!   of about 131,072 consecutive transactions (whole blocks). The current era is indexed in
//!   memory only (read back at open: one range scan); when it is full the ledger **seals** it in
//!   the background: its pairs, sorted, appended to `tx_hash_index` in one transaction. A
//!   lookup checks memory, then searches each sealed era once. A block therefore writes no
//!   random-key index entry at all.
//! - `accounts(address PK, balance, nonce, last_tx)` and `account_journal(height PK, changes)`:
//!   a block writes the rows of the accounts it changed (new state or new `last_tx`, the head of
//!   the history chain) as **one journal row**, in the block's transaction; every 256 blocks or
//!   1,000,000 journaled rows the ledger **folds** the journal into `accounts` in the background
//!   (the latest row of each account, sorted, then the journal deleted: one transaction). The
//!   state at the tip is `accounts` overlaid with the journal; the journal is kept in memory
//!   in full and rebuilt from the file at open. A fold rewrites each account page once, where
//!   upserting every block's rows rewrote nearly all of them per block.
//!
//! Sealing and folding take the write lock, so the next ApplyBlock waits for them (about 0.1 s
//! per seal, every ~13 full blocks; 0.4-0.65 s per fold of 100,000 accounts, every ~54 full
//! blocks). Both are idempotent and crash-safe: a crash leaves the journal or the era as it
//! was, and the next trigger or the next open finishes it.
//!
//! Why no `sender`/`recipient`/`hash` blob indexes, and no per-block account upserts: each is a
//! random-key B-tree, so a 10,000-transaction block dirtied tens of thousands of pages (120 MB of
//! WAL and 800 ms with the three indexes; still ~6 MiB and ~45 ms for the account upserts alone).
//!
//! Balances are u64 in every API, SQLite integers are i64: a genesis whose total supply exceeds
//! `i64::MAX` is refused ([`GenesisError::SupplyTooLarge`]); blocks conserve the supply (fees go
//! to the proposer), so no balance can exceed it later.
//!
//! In memory, not in the schema: the account state (every journaled account, authoritative,
//! plus a cache of up to a million `accounts` rows; valid for one view, the tip and the first
//! journaled height: a reader uses it only when its snapshot has that view, else reads the table
//! and the journal of its own snapshot), the hash index of the unsealed eras, and the last few
//! valid ExecuteBlock results, so that ApplyBlock of a block consensus executed before voting
//! writes the remembered result instead of executing it again.

mod audit;
mod cache;
mod error;
mod execute;
pub mod genesis;
mod ledger;
mod port;
pub mod service;
pub mod snapshot;
pub mod state;
mod store;
#[cfg(feature = "test-utils")]
pub mod test_utils;
pub mod verify;

pub use audit::{AuditReport, verify_database};
pub use error::{InvalidBlockError, LedgerError, StoredCertificateError};
pub use execute::{TxRejection, TxVerdict};
pub use genesis::{GenesisConfig, GenesisError};
pub use ledger::{
    Applied, BatchApplied, BlockExecution, BlockRejection, ChainInfo, CheckedTransactions, DEFAULT_HISTORY_PAGE,
    HistoryCursor, HistoryPage, Ledger, LedgerOptions, MAX_BLOCK_RANGE, MAX_HISTORY_PAGE, MIN_KEEP_BLOCKS,
    PRUNE_BATCH_TRANSACTIONS, ReplayBatch, SignatureCheck,
};
pub use service::{LedgerService, LedgerSettings, serve};
pub use state::{AccountState, STATE_COMMITMENT_DOMAIN, next_state_commitment};
pub use store::{HeaderExtras, IndexedTransaction, StoredBlock, StoredHeader, Tip};
pub use verify::{corrupt_reads, register_metrics};
