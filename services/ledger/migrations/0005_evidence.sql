-- COINjecture ledger schema, version 5: evidence of validator equivocation (issue #19).
--
-- Consensus detects two conflicting signed votes (or proposals) of one validator for the same
-- (height, round) and records them here, so the evidence survives a restart and is served by
-- Consensus.ListEvidence. Not part of the chain's state: nothing in a block refers to it, and
-- each node keeps what it saw itself.
--
-- `encoded` is the consensus encoding (coinjecture_primitives::Evidence::encode), canonical
-- (the two messages in a fixed order), so `hash` (its SHA-256) identifies one piece of evidence
-- and the same evidence is stored once. `offender`, `height` and `round` are copies for reading.
-- IF NOT EXISTS: a database rolled back to an older schema by hand (as a test of the upgrade path
-- does) may still hold the table.
CREATE TABLE IF NOT EXISTS evidence (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    hash           BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    kind           INTEGER NOT NULL CHECK (kind IN (1, 2)),
    offender       BLOB    NOT NULL CHECK (length(offender) = 32),
    height         INTEGER NOT NULL CHECK (height >= 0),
    round          INTEGER NOT NULL CHECK (round >= 0),
    detected_at_ms INTEGER NOT NULL,
    encoded        BLOB    NOT NULL
);
