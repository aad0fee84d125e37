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
//! | [`crypto`]    | [`CryptoBackend`]: the two batched crypto-core calls the ledger makes      |
//! | `store`       | SQLite: pragmas, migrations (`services/ledger/migrations`), rows, queries |
//! | [`Ledger`]    | the rules of a block, reads, CheckTransactions, ExecuteBlock, ApplyBlock   |
//! | [`service`]   | [`LedgerService`]: the generated `Ledger` trait over a [`Ledger`]; `serve` |
//!
//! The in-process handle *is* [`LedgerService`]: other services in the same process call its
//! `Ledger` trait methods directly (no socket), exactly as a remote caller would over gRPC.
//!
//! ## Crypto through the contract
//!
//! Signatures and Merkle roots go through crypto-core's gRPC contract, batched — never one call
//! per transaction: one `HashTransactionBatch` with `verify_signatures = true` per
//! CheckTransactions call; per block one that only hashes, then one that verifies just the
//! signatures this ledger has not verified before (a transaction admitted to the mempool is not
//! verified again inside a proposal: the hashes of the last 262,144 verified ones are kept, and
//! the hash covers the signature); one `MerkleRoot` per block. [`CryptoBackend`] is
//! implemented for `coinjecture_crypto_core::service::CryptoCoreService` (Network A: the
//! generated `CryptoCore` trait methods called in process) and for
//! `CryptoCoreClient<TracedChannel>` (Network B: a remote crypto-core, see [`connect_crypto_core`]).
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
//! Schema (see `migrations/0001_initial.sql` and `0002_tx_hash_eras.sql`):
//!
//! - `meta(key, value)`: `chain_id`, `genesis_hash`, `created_by`; the schema version is sqlx's
//!   `_sqlx_migrations` table.
//! - `blocks(height PK, hash UNIQUE, parent_hash, header, certificate, timestamp_ms, tx_count,
//!   state_commitment, proposer)`: `header` is the canonical v4 header encoding and
//!   `certificate` the canonical `CommitCertificate` encoding (NULL for genesis). The **tip is the
//!   highest row**, so it can never disagree with the blocks.
//! - `transactions(position PK, era, hash_key, sender_prev, recipient_prev, encoded)`: `encoded` is the
//!   canonical v4 transaction encoding (the hash is its SHA-256); `position = height × 65536 +
//!   index` (a block holds at most 50,000) clusters the table by (height, index), so new rows are
//!   appended and a block's canonical encoding is rebuilt from its header and one range scan (no
//!   transaction is stored twice). The only secondary index is on (`era`, `hash_key`):
//!   `hash_key` is the first 8 bytes of the hash as an integer (lookups compare the full hash)
//!   and `era` numbers runs of about 131,072 consecutive transactions (whole blocks), so a
//!   block's random keys land in one bounded part of the index and the pages a block dirties do
//!   not grow with the chain; a lookup searches each era once. Account history needs no index:
//!   each row links to the previous transaction of its sender and of its recipient.
//! - `accounts(address PK, balance, nonce, last_tx)`: every account whose state is not (0, 0) or
//!   that has a transaction; `last_tx` heads its history chain.
//!
//! Why no `sender`/`recipient`/`hash` blob indexes: each is a random-key B-tree, so a
//! 10,000-transaction block dirtied ~30,000 index pages (120 MB of WAL) and took 800 ms to apply.
//!
//! Balances are u64 in every API, SQLite integers are i64: a genesis whose total supply exceeds
//! `i64::MAX` is refused ([`GenesisError::SupplyTooLarge`]); blocks conserve the supply (fees go
//! to the proposer), so no balance can exceed it later.
//!
//! In memory, not in the schema: an account cache (the rows of up to a million recently used
//! accounts, valid for one tip: a reader uses it only when its snapshot's tip is the cache's,
//! else reads SQLite), and the last few valid ExecuteBlock results, so that ApplyBlock of a block
//! consensus executed before voting writes the remembered result instead of executing it again.
//!
//! ApplyBlock writes one block in **one** SQLite transaction (`BEGIN IMMEDIATE`): the block row,
//! its transaction rows and the changed accounts. A crash (even `kill -9`) leaves either all of
//! it or none; re-applying the stored block is a no-op success.
//!
//! ## Genesis
//!
//! [`GenesisConfig`] (chain id, time in ms, allocations). The genesis block has height 0, zero
//! parent, Merkle root, proposer and work commitment, difficulty and nonce 0, `timestamp` = the
//! seconds, no transactions, no certificate, and `extra_data` = `PoaExtra { round: 0, the
//! milliseconds, commitment_0, chain_id }`, so its hash is deterministic and differs per chain.
//! [`Ledger::open`] writes it into an empty database in one transaction and refuses a database
//! whose stored genesis hash differs ([`LedgerError::GenesisMismatch`] names both hashes and the
//! path).
//!
//! ## State commitment
//!
//! ```text
//! commitment_0 = SHA-256("coinjecture/v1/state\0" ‖ 32 zero bytes ‖ entries_0)
//! commitment_h = SHA-256("coinjecture/v1/state\0" ‖ commitment_{h-1} ‖ entries_h)
//! entry        = address (32 bytes) ‖ balance (u64 big-endian) ‖ nonce (u64 big-endian)
//! ```
//!
//! `entries_h` are the final values, after block `h`, of every account whose (balance, nonce)
//! differs from before the block, sorted by address ascending; `entries_0` are all genesis
//! allocations (nonce 0). An empty block has no entries, but its commitment still chains. The
//! proposer puts `commitment_h` into its header's `PoaExtra`; validators recompute it in
//! ExecuteBlock and reject a mismatch (`BAD_STATE_COMMITMENT`), so a state divergence is caught
//! at the block where it happens.
//!
//! ## State transition
//!
//! Per transaction, in block order, the first failing rule being the reason: the stateless
//! rules (`Transaction::check_stateless`: version, sizes, minimum gas, fee floor, overflow, this
//! chain's tag, no self-transfer), the signature, no duplicate hash within the block, `nonce` =
//! account nonce (lower: NONCE_TOO_LOW, which is also how a replay of an included transaction is
//! refused; higher: NONCE_TOO_HIGH), balance ≥ amount + fee. Then the sender pays amount + fee
//! and its nonce advances, the recipient gets the amount and the block's proposer
//! (`header.miner_address`) gets the fee = gas_limit × gas_price (v4 has no metering), so the
//! total supply is conserved. ProblemSubmission and BountyPayment are applied as value transfers
//! (their `data` is not interpreted). A block is valid only if every transaction is; ExecuteBlock
//! reports the first bad index. CheckTransactions runs the same rules on the tip state, each
//! transaction on the state left by the earlier accepted ones, without a proposer (fees are
//! debited, credited to nobody: stricter only when the sender is the next proposer).
//!
//! Block rules, in order: height = tip + 1 and parent = tip hash (errors, FAILED_PRECONDITION),
//! header (codec version, `PoaExtra` decodes at that height, difficulty and nonce 0, a proposer),
//! at most 50,000 transactions and 16 MiB, block time (ms) after the parent's, no subset-sum work
//! (header.commitment zero: this version stores no work), Merkle root, transactions, state
//! commitment. The ledger does not read a clock: timeliness of proposals is consensus's.
//!
//! ApplyBlock only checks that the commit certificate names the block (height and hash); its
//! signatures and quorum belong to consensus.
//!
//! ## Reads
//!
//! Block by height or hash (with certificate), latest, ranges of up to 1,000 blocks, transaction
//! by hash (with height, index and block hash), account (never seen: zero balance and nonce),
//! account history newest first (by height, then descending index), paged by the cursor
//! (height, index) of the last transaction returned ([`HistoryCursor`]; the page token is
//! `01 ‖ height u64 BE ‖ index u32 BE`). Oldest-first is not offered: the history chain runs
//! backwards.

mod cache;
pub mod crypto;
mod error;
mod execute;
pub mod genesis;
mod ledger;
pub mod service;
pub mod state;
mod store;
#[cfg(feature = "test-utils")]
pub mod test_utils;

pub use crypto::{CryptoBackend, TxDigest, connect_crypto_core};
pub use error::LedgerError;
pub use execute::{TxRejection, TxVerdict};
pub use genesis::{GenesisConfig, GenesisError};
pub use ledger::{
    Applied, BlockExecution, BlockRejection, ChainInfo, CheckedTransactions, DEFAULT_HISTORY_PAGE, HistoryCursor,
    HistoryPage, Ledger, MAX_BLOCK_RANGE, MAX_HISTORY_PAGE, SignatureCheck,
};
pub use service::{LedgerService, serve};
pub use state::{AccountState, STATE_COMMITMENT_DOMAIN, next_state_commitment};
pub use store::{IndexedTransaction, StoredBlock, Tip};
