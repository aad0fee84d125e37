-- COINjecture ledger schema, version 1.
--
-- Everything a node needs to serve and extend the finalized chain. Written only by the ledger,
-- one SQLite transaction per block (ApplyBlock), so a crash leaves either the whole block or none
-- of it. Integers are SQLite's i64: heights, timestamps, nonces and balances (the genesis caps
-- the total supply at i64::MAX, and blocks conserve it).

-- Chain identity: chain_id (UTF-8), genesis_hash (32 bytes), created_by (ledger version).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;

-- One row per finalized block, genesis (height 0) included. The tip is the highest row.
-- `header` is the canonical v4 header encoding (BlockHeader::encode; its SHA-256 is `hash`); the
-- block's transactions are the `transactions` rows of this height in position order, so the
-- canonical block encoding is rebuilt from both without storing each transaction twice.
CREATE TABLE blocks (
    height           INTEGER PRIMARY KEY NOT NULL CHECK (height >= 0),
    hash             BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    parent_hash      BLOB NOT NULL CHECK (length(parent_hash) = 32),
    header           BLOB NOT NULL,
    -- CommitCertificate::encode; NULL only for genesis.
    certificate      BLOB CHECK (certificate IS NOT NULL OR height = 0),
    timestamp_ms     INTEGER NOT NULL,
    tx_count         INTEGER NOT NULL CHECK (tx_count >= 0),
    -- State commitment after this block (also inside header.extra_data).
    state_commitment BLOB NOT NULL CHECK (length(state_commitment) = 32),
    -- header.miner_address: the proposer, who received the fees.
    proposer         BLOB NOT NULL CHECK (length(proposer) = 32)
) STRICT;

-- Finalized transactions. `position` = height * 65536 + index in the block (a block holds at most
-- 50,000), so the table is clustered by (height, index) and a block's transactions are one range
-- scan; new rows are always appended at the end.
--
-- Only one secondary index, on `hash_key` = the first 8 bytes of the transaction hash (big-endian,
-- as a signed integer): lookups by hash read the few rows with that key and compare the SHA-256
-- of `encoded`. Account history needs no index: each row links to the previous transaction of
-- its sender (`sender_prev`) and of its recipient (`recipient_prev`), and `accounts.last_tx`
-- points at an account's newest one. Random-key blob indexes (hash, sender, recipient) would
-- dirty about three index pages per transaction; this keeps a 10,000-transaction block at a few
-- MiB of writes.
CREATE TABLE transactions (
    position       INTEGER PRIMARY KEY NOT NULL,
    hash_key       INTEGER NOT NULL,
    sender_prev    INTEGER,
    recipient_prev INTEGER,
    -- Transaction::encode (canonical v4 MessagePack); its SHA-256 is the transaction hash.
    encoded        BLOB NOT NULL
) STRICT;

CREATE INDEX transactions_by_hash_key ON transactions (hash_key);

-- Balance and nonce at the tip of every account whose state is not (0, 0) or that has sent or
-- received a transaction; `last_tx` is the position of its newest transaction (NULL if none).
CREATE TABLE accounts (
    address BLOB PRIMARY KEY NOT NULL CHECK (length(address) = 32),
    balance INTEGER NOT NULL CHECK (balance >= 0),
    nonce   INTEGER NOT NULL CHECK (nonce >= 0),
    last_tx INTEGER
) STRICT, WITHOUT ROWID;
