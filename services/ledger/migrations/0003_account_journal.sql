-- COINjecture ledger schema, version 3: account changes are journaled per block and folded
-- into `accounts` in batches.
--
-- Version 2 upserted every account a block touched into `accounts` inside the block's
-- transaction. Addresses are random, so a 10,000-transfer block among 100,000 accounts rewrote
-- nearly every page of the table (~6 MiB of WAL, about half of the block's commit). Now a block
-- writes its changed account rows as one `account_journal` row (appended, ~57 bytes per
-- account), in the same SQLite transaction as the block, so it is still all or nothing. Every
-- few dozen blocks the ledger folds the journal into `accounts` in one transaction (the latest
-- row of each account, sorted, then the journal rows deleted), rewriting each page once per
-- fold instead of once per block.
--
-- The state at the tip is therefore `accounts` overlaid with the journal rows in height order.
-- The ledger keeps that overlay in memory (every journaled account) and rebuilds it at open by
-- reading the journal.
--
-- `changes` layout, big-endian: u32 row count, then per row: address (32 bytes), balance (u64),
-- nonce (u64), last_tx flag (u8: 0 none, 1 present), last_tx (i64; 0 when absent). Rows are
-- sorted by address and unique. A block whose transactions touch no account writes no row.
--
-- Version 2 databases have an empty journal: their `accounts` table already holds the tip.
CREATE TABLE account_journal (
    height  INTEGER PRIMARY KEY NOT NULL CHECK (height > 0),
    changes BLOB NOT NULL
) STRICT;
