-- COINjecture ledger schema, version 4: the transaction-hash index is written once per era,
-- sorted, instead of once per transaction.
--
-- Version 2's index on transactions (era, hash_key) still took one random B-tree insert per
-- transaction inside the block's commit (about a quarter of applying a 10,000-transaction
-- block). Now the transactions of the current era are indexed in memory only (the ledger reads
-- them back at open: one range scan of at most one era), and when an era is full the ledger
-- seals it: one transaction copies its (era, hash_key, position) triples into `tx_hash_index`,
-- sorted, after the era's last block has been committed. Sealed eras are appended at the end of
-- the index (era is its first column), so sealing writes the era's index pages once, in order.
-- A lookup by hash checks the in-memory eras, then probes each sealed era once.
--
-- `tx_eras` records where each era starts, so sealing and the open-time scan read a range of
-- `transactions` by position (its primary key) rather than filtering every row by era.
--
-- Existing rows are indexed here, all eras including the current one (sealing is idempotent:
-- INSERT OR IGNORE).
CREATE TABLE tx_eras (
    era            INTEGER PRIMARY KEY NOT NULL CHECK (era >= 0),
    first_position INTEGER NOT NULL
) STRICT;

INSERT INTO tx_eras (era, first_position) SELECT era, min(position) FROM transactions GROUP BY era;

CREATE TABLE tx_hash_index (
    era      INTEGER NOT NULL,
    hash_key INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (era, hash_key, position)
) STRICT, WITHOUT ROWID;

INSERT INTO tx_hash_index (era, hash_key, position)
    SELECT era, hash_key, position FROM transactions ORDER BY era, hash_key, position;

DROP INDEX transactions_by_era_hash_key;
