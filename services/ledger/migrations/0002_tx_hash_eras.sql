-- COINjecture ledger schema, version 2: the transaction-hash index is split into eras.
--
-- Version 1 indexed `hash_key` alone. Hash keys are random, so each new transaction landed on
-- its own page of an index as large as the whole chain: a 10,000-transaction block dirtied
-- nearly 10,000 index pages once the chain held a few million transactions, and applying a
-- block slowed down as the chain grew. Now every transaction belongs to an era, a run of about
-- 131,072 consecutive transactions (whole blocks; the ledger starts a new era at the first block
-- after the current one is full), and the index is on (era, hash_key). A block's keys land in
-- the current era's part of the index only, whose size is bounded, so the pages a block
-- dirties no longer grow with the chain. A lookup by hash probes each era once (one B-tree
-- search per era, about 8 per million transactions).
--
-- Rows written by version 1 are era 0.
ALTER TABLE transactions ADD COLUMN era INTEGER NOT NULL DEFAULT 0 CHECK (era >= 0);

DROP INDEX transactions_by_hash_key;

CREATE INDEX transactions_by_era_hash_key ON transactions (era, hash_key);
