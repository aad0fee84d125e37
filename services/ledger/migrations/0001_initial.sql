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
-- 50,000), so the table is clustered by (height, index): a block's transactions are one range
-- scan, and the position is the account-history cursor.
CREATE TABLE transactions (
    position  INTEGER PRIMARY KEY NOT NULL,
    height    INTEGER NOT NULL REFERENCES blocks (height),
    hash      BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    sender    BLOB NOT NULL CHECK (length(sender) = 32),
    recipient BLOB NOT NULL CHECK (length(recipient) = 32),
    -- Transaction::encode (canonical v4 MessagePack); its SHA-256 is `hash`.
    encoded   BLOB NOT NULL
) STRICT;

-- Account history (sent and received), newest or oldest first: each index is ordered by
-- (account, position).
CREATE INDEX transactions_by_sender ON transactions (sender);
CREATE INDEX transactions_by_recipient ON transactions (recipient);

-- Balance and nonce at the tip of every account whose state is not (0, 0).
CREATE TABLE accounts (
    address BLOB PRIMARY KEY NOT NULL CHECK (length(address) = 32),
    balance INTEGER NOT NULL CHECK (balance >= 0),
    nonce   INTEGER NOT NULL CHECK (nonce >= 0)
) STRICT, WITHOUT ROWID;
