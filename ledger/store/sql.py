"""The SQL of both adapters, side by side so that their two schemas stay alike.

Tables: ``ledger_events`` (the log: one row per event, positions 1..N, unique (case_id, version)),
``ledger_idempotency`` (case_id + key → fingerprint and the original AppendResult),
``ledger_snapshots`` (a cache of folded case states, see ``ledger.store.snapshots``; not part of
the log, safe to empty at any time) and, on PostgreSQL, the one-row ``ledger_head`` whose row lock
serializes appends. SQLite needs no head row: ``BEGIN IMMEDIATE`` is its lock, and the head is the
last row of the integer primary key.
"""

# Concurrent CREATE … IF NOT EXISTS can still collide in PostgreSQL's catalog: processes starting
# together make their tables under this transaction-level advisory lock.
SCHEMA_LOCK = "hashtext('ledger.store.schema')"

COLUMNS = "position, case_id, version, topic, state, metadata, recorded_at, prev_hash, hash"

# -- SQLite ---------------------------------------------------------------------------------------

# A snapshot table made by an earlier version (one snapshot per case version) is a cache: the
# store drops it at start and makes it anew with the topic in the key.
SQLITE_OLD_SNAPSHOTS = (
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_snapshots' "
    "AND sql LIKE '%PRIMARY KEY (case_id, version)%'"
)

# recorded_at: integer microseconds since the epoch (UTC), exact and sortable.
SQLITE_SCHEMA = """
-- Case numbers: the last sequence number given out per year, advanced in the append transaction
-- of each registration (ledger.store.port.Numbering), so numbers have no gaps and no repeats.
CREATE TABLE IF NOT EXISTS ledger_case_numbers (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_events (
    position    INTEGER PRIMARY KEY,
    case_id     TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    topic       TEXT    NOT NULL,
    state       BLOB    NOT NULL,
    metadata    BLOB    NOT NULL,
    recorded_at INTEGER NOT NULL,
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL,
    UNIQUE (case_id, version)
);
CREATE INDEX IF NOT EXISTS ledger_events_recorded_at ON ledger_events (recorded_at, position);
CREATE TABLE IF NOT EXISTS ledger_idempotency (
    case_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    result      BLOB NOT NULL,
    PRIMARY KEY (case_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_snapshots (
    case_id    TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    topic      TEXT    NOT NULL,
    state      BLOB    NOT NULL,
    event_hash BLOB    NOT NULL,
    digest     BLOB    NOT NULL,
    PRIMARY KEY (case_id, topic, version)
);
"""
SQLITE_INSERT_EVENT = f"INSERT INTO ledger_events ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
SQLITE_INSERT_KEY = "INSERT INTO ledger_idempotency VALUES (?, ?, ?, ?)"

SNAPSHOT_COLUMNS = "s.version, s.topic, s.state, s.event_hash, s.digest"

SQLITE_SAVE_SNAPSHOT = """
INSERT INTO ledger_snapshots (case_id, version, topic, state, event_hash, digest)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (case_id, topic, version) DO UPDATE SET
    state = excluded.state, event_hash = excluded.event_hash,
    digest = excluded.digest
"""

# Only snapshots bound to the log: the case's stored event at the snapshot's version has the hash
# the snapshot was taken at. Newest first; the caller checks the digests (ledger.store.snapshots).
SQLITE_LATEST_SNAPSHOTS = f"""
SELECT {SNAPSHOT_COLUMNS}
FROM ledger_snapshots s
JOIN ledger_events e ON e.case_id = s.case_id AND e.version = s.version AND e.hash = s.event_hash
WHERE s.case_id = ? AND s.topic = ? AND s.version <= ?
ORDER BY s.version DESC LIMIT ?
"""

# -- PostgreSQL -----------------------------------------------------------------------------------

NOTIFY_CHANNEL = "ledger_events"  # payload: the new head position, sent at commit (PG_WRITE)

PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_case_numbers (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_events (
    position    BIGINT      PRIMARY KEY,
    case_id     UUID        NOT NULL,
    version     INTEGER     NOT NULL,
    topic       TEXT        NOT NULL,
    state       BYTEA       NOT NULL,
    metadata    BYTEA       NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    prev_hash   BYTEA       NOT NULL,
    hash        BYTEA       NOT NULL,
    CONSTRAINT ledger_events_case_version UNIQUE (case_id, version)
);
CREATE INDEX IF NOT EXISTS ledger_events_recorded_at ON ledger_events (recorded_at, position);
CREATE TABLE IF NOT EXISTS ledger_head (
    singleton   BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    position    BIGINT      NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
INSERT INTO ledger_head (singleton, position, recorded_at) VALUES (TRUE, 0, 'epoch')
    ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS ledger_idempotency (
    case_id     UUID  NOT NULL,
    key         TEXT  NOT NULL,
    fingerprint TEXT  NOT NULL,
    result      BYTEA NOT NULL,
    PRIMARY KEY (case_id, key)
);
-- A cache: made by an earlier version with one snapshot per case version, it is dropped and
-- made again with room for several kinds of snapshot (topics) at one version.
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
        WHERE c.oid = to_regclass('ledger_snapshots') AND i.indisprimary AND i.indnatts = 2
    ) THEN
        DROP TABLE ledger_snapshots;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS ledger_snapshots (
    case_id    UUID    NOT NULL,
    version    INTEGER NOT NULL,
    topic      TEXT    NOT NULL,
    state      BYTEA   NOT NULL,
    event_hash BYTEA   NOT NULL,
    digest     BYTEA   NOT NULL,
    PRIMARY KEY (case_id, topic, version)
);
"""

# Its own statement, before anything else is read: under READ COMMITTED each statement takes a
# fresh snapshot, so reads issued after the lock is granted see the previous batch's commit.
PG_LOCK_HEAD = "SELECT position, recorded_at FROM ledger_head FOR UPDATE"

# One row per case of the batch: its last version and hash (NULL for a new case), plus the
# database clock and the case numbers given out so far per year (a few rows, one a year), all
# read by a statement that starts after the head's lock was granted, so it sees every batch
# committed before (the lock's own statement would read them as of before its wait).
PG_TIPS = """
SELECT c.case_id, t.version, t.hash, clock_timestamp() AS now,
       (SELECT array_agg(n.year ORDER BY n.year) FROM ledger_case_numbers n) AS number_years,
       (SELECT array_agg(n.last ORDER BY n.year) FROM ledger_case_numbers n) AS number_lasts
FROM unnest($1::uuid[]) AS c(case_id)
LEFT JOIN LATERAL (
    SELECT e.version, e.hash FROM ledger_events e
    WHERE e.case_id = c.case_id ORDER BY e.version DESC LIMIT 1
) t ON TRUE
"""

PG_KEYS = """
SELECT k.case_id, k.key, k.fingerprint, k.result
FROM ledger_idempotency k
JOIN unnest($1::uuid[], $2::text[]) AS q(case_id, key) ON k.case_id = q.case_id AND k.key = q.key
"""

# Everything the batch writes, in one round trip.
PG_WRITE = """
WITH inserted AS (
    INSERT INTO ledger_events (position, case_id, version, topic, state, metadata, recorded_at,
                               prev_hash, hash)
    SELECT u.position, u.case_id, u.version, u.topic, u.state, u.metadata, $7::timestamptz,
           u.prev_hash, u.hash
    FROM unnest($1::bigint[], $2::uuid[], $3::integer[], $4::text[], $5::bytea[], $6::bytea[],
                $8::bytea[], $9::bytea[])
         AS u(position, case_id, version, topic, state, metadata, prev_hash, hash)
), keys AS (
    INSERT INTO ledger_idempotency (case_id, key, fingerprint, result)
    SELECT * FROM unnest($10::uuid[], $11::text[], $12::text[], $13::bytea[])
), numbers AS (
    INSERT INTO ledger_case_numbers (year, last)
    SELECT * FROM unnest($15::integer[], $16::bigint[])
    ON CONFLICT (year) DO UPDATE SET last = excluded.last
)
UPDATE ledger_head SET position = $14::bigint, recorded_at = $7::timestamptz
RETURNING pg_notify('ledger_events', position::text)
"""

PG_SAVE_SNAPSHOT = """
INSERT INTO ledger_snapshots (case_id, version, topic, state, event_hash, digest)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (case_id, topic, version) DO UPDATE SET
    state = excluded.state, event_hash = excluded.event_hash,
    digest = excluded.digest
"""

# As SQLITE_LATEST_SNAPSHOTS: only snapshots bound to the log, newest first.
PG_LATEST_SNAPSHOTS = f"""
SELECT {SNAPSHOT_COLUMNS}
FROM ledger_snapshots s
JOIN ledger_events e ON e.case_id = s.case_id AND e.version = s.version AND e.hash = s.event_hash
WHERE s.case_id = $1 AND s.topic = $2 AND ($3::integer IS NULL OR s.version <= $3)
ORDER BY s.version DESC LIMIT $4
"""
