"""The audit tables and the async access to them, for both dialects.

Tables (created by ``MerkleHook`` when the store opens, in the store's schema transaction):
- ``ledger_merkle_state``: one row, the tree size and its compact range (the right edge);
- ``ledger_merkle_nodes (pos, hashes)``: every complete perfect subtree, leaves (level 0)
  included — one leaf plus on average one interior node per event. Nodes are numbered by their
  rank in creation order (``merkle.node_pos``), so the nodes one append transaction forms are a
  contiguous run; each transaction stores its run as ONE row (``pos`` of the first node, the
  32-byte hashes concatenated). Measured on PostgreSQL: 0.12 ms per 300 nodes, against 1.06 ms
  for a row per node keyed ``(level, idx)`` — the tree stays cheap at group-commit rates. Storing
  leaves costs 32 bytes an event but buys two things: proofs never touch the event table, and
  ``verify_ledger`` names the exact position whose event no longer matches the tree;
- ``ledger_checkpoints``: signed checkpoints, one per size; ``ledger_cosignatures``: witness
  cosignatures of stored checkpoints;
- ``ledger_verifications``: whole-ledger verifications run as jobs (``ledger.audit.jobs``), their
  progress, heartbeat and report — mutable bookkeeping, never evidence; at most one queued or
  running (a unique partial index).
Nodes, checkpoints and cosignatures are append-only, enforced by triggers: a stray UPDATE or
DELETE fails loudly (an attacker with DDL rights can drop them; the signatures are the real
defence).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

import msgspec

from ledger.audit.merkle import CompactRange, NodeKey
from ledger.store.database import Dialect
from ledger.store.port import EventStore

_APPEND_ONLY = ("ledger_merkle_nodes", "ledger_checkpoints", "ledger_cosignatures")

POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_merkle_state (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    size      BIGINT  NOT NULL,
    compact   BYTEA   NOT NULL
);
INSERT INTO ledger_merkle_state VALUES (TRUE, 0, '\\x0000000000000000'::bytea)
    ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS ledger_merkle_nodes (
    pos    BIGINT PRIMARY KEY,
    hashes BYTEA  NOT NULL
);
DO $$ BEGIN  -- random hashes never compress: store them out of line as they are, sliceable
    IF (SELECT attstorage FROM pg_attribute WHERE attname = 'hashes'
        AND attrelid = 'ledger_merkle_nodes'::regclass) <> 'e' THEN
        ALTER TABLE ledger_merkle_nodes ALTER COLUMN hashes SET STORAGE EXTERNAL;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    size    BIGINT      PRIMARY KEY,
    root    BYTEA       NOT NULL,
    made_at TIMESTAMPTZ NOT NULL,
    note    TEXT        NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_cosignatures (
    size      BIGINT      NOT NULL REFERENCES ledger_checkpoints (size),
    witness   TEXT        NOT NULL,
    key_id    BYTEA       NOT NULL,
    signed_at TIMESTAMPTZ NOT NULL,
    line      TEXT        NOT NULL,
    PRIMARY KEY (size, witness, key_id)
);
CREATE TABLE IF NOT EXISTS ledger_verifications (
    id                UUID        PRIMARY KEY,
    status            TEXT        NOT NULL,
    requested_by      TEXT        NOT NULL,
    requested_by_name TEXT        NOT NULL,
    requested_at      TIMESTAMPTZ NOT NULL,
    started_at        TIMESTAMPTZ,
    finished_at       TIMESTAMPTZ,
    heartbeat_at      TIMESTAMPTZ NOT NULL,
    owner             TEXT        NOT NULL,
    events_checked    BIGINT      NOT NULL DEFAULT 0,
    events_total      BIGINT      NOT NULL DEFAULT 0,
    report            TEXT,
    error             TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS ledger_verifications_one_active
    ON ledger_verifications ((status IN ('queued', 'running')))
    WHERE status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS ledger_verifications_requested
    ON ledger_verifications (requested_at);
CREATE OR REPLACE FUNCTION ledger_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
""" + "".join(
    # A DO block rather than CREATE OR REPLACE TRIGGER (PostgreSQL 14+) so that older
    # PostgreSQL-compatible servers work; a trigger found disabled is switched back on.
    f"""DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{t}_append_only') THEN
        CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
            FOR EACH ROW EXECUTE PROCEDURE ledger_audit_append_only();
        CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t}
            FOR EACH STATEMENT EXECUTE PROCEDURE ledger_audit_append_only();
    ELSIF EXISTS (SELECT 1 FROM pg_trigger WHERE tgname LIKE '{t}_%' AND tgenabled = 'D') THEN
        ALTER TABLE {t} ENABLE TRIGGER USER;
    END IF;
END $$;
"""
    for t in _APPEND_ONLY
)

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_merkle_state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    size      INTEGER NOT NULL,
    compact   BLOB    NOT NULL
);
INSERT OR IGNORE INTO ledger_merkle_state VALUES (1, 0, x'0000000000000000');
CREATE TABLE IF NOT EXISTS ledger_merkle_nodes (
    pos    INTEGER PRIMARY KEY,
    hashes BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    size    INTEGER PRIMARY KEY,
    root    BLOB    NOT NULL,
    made_at TEXT    NOT NULL,
    note    TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_cosignatures (
    size      INTEGER NOT NULL REFERENCES ledger_checkpoints (size),
    witness   TEXT    NOT NULL,
    key_id    BLOB    NOT NULL,
    signed_at TEXT    NOT NULL,
    line      TEXT    NOT NULL,
    PRIMARY KEY (size, witness, key_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_verifications (
    id                TEXT        PRIMARY KEY,
    status            TEXT        NOT NULL,
    requested_by      TEXT        NOT NULL,
    requested_by_name TEXT        NOT NULL,
    requested_at      TEXT        NOT NULL,
    started_at        TEXT,
    finished_at       TEXT,
    heartbeat_at      TEXT        NOT NULL,
    owner             TEXT        NOT NULL,
    events_checked    INTEGER     NOT NULL DEFAULT 0,
    events_total      INTEGER     NOT NULL DEFAULT 0,
    report            TEXT,
    error             TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS ledger_verifications_one_active
    ON ledger_verifications ((status IN ('queued', 'running')))
    WHERE status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS ledger_verifications_requested
    ON ledger_verifications (requested_at);
""" + "".join(
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t}\n"
    f"    BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;\n"
    for t in _APPEND_ONLY
    for op in ("UPDATE", "DELETE")
)


class AuditSchemaError(RuntimeError):
    """The audit tables are missing or the Merkle state does not fit the log."""


class StoredCheckpoint(msgspec.Struct, frozen=True):
    size: int
    root: bytes
    made_at: datetime
    note: str  # the note as the ledger signed it (its signature only)
    cosignatures: tuple[str, ...] = ()  # witness signature lines, in the order received

    def full_note(self) -> str:
        """The note with every cosignature line appended (c2sp: one note, many signatures)."""
        return self.note + "".join(self.cosignatures)


class LeafBlock(msgspec.Struct, frozen=True):
    """``count`` events at consecutive positions from ``first`` on, as the Merkle rebuild needs
    them: each one's leaf input ``0x00 ‖ hash`` (33 bytes), concatenated."""

    first: int
    count: int
    inputs: bytes

    def __len__(self) -> int:
        return self.count


class AuditDB(Protocol):
    """What the audit services need from the database, beyond the event store port."""

    dialect: str

    async def state(self) -> CompactRange: ...

    async def nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]: ...

    async def node_runs(self, lo: int, hi: int) -> list[tuple[int, bytes]]:
        """The stored runs ``(pos, hashes)`` holding the nodes with ``lo <= pos < hi``."""

    async def node_span(self, lo: int, hi: int) -> list[bytes | None]:
        """The hashes of the nodes with ``lo <= pos < hi``, in pos order (None: missing)."""

    async def add_checkpoint(self, cp: StoredCheckpoint) -> bool:
        """Store a checkpoint; False if one of that size exists already (append-only)."""

    async def checkpoint(self, size: int) -> StoredCheckpoint | None: ...

    async def latest_checkpoint(self) -> StoredCheckpoint | None: ...

    async def covering_checkpoint(self, position: int) -> StoredCheckpoint | None:
        """Among checkpoints of size ≥ position: the most cosigned, then the largest."""

    async def checkpoints(self, after: int = 0, limit: int = 500) -> list[StoredCheckpoint]:
        """Checkpoints with size > ``after`` in size order, with their cosignatures."""

    async def add_cosignature(
        self, size: int, witness: str, key_id: bytes, signed_at: datetime, line: str
    ) -> bool:
        """Store a (verified) cosignature; False if that witness key already cosigned it."""

    async def close(self) -> None: ...


def place_runs(lo: int, hi: int, runs: Iterable[tuple[int, bytes]]) -> list[bytes | None]:
    """The node hashes for ``lo <= pos < hi`` out of stored runs (None where none is stored)."""
    out: list[bytes | None] = [None] * (hi - lo)
    for start, blob in runs:
        for k in range(max(lo, start), min(hi, start + len(blob) // 32)):
            out[k - lo] = blob[(k - start) * 32 : (k - start + 1) * 32]
    return out


def span_bytes(lo: int, hi: int, runs: Iterable[tuple[int, bytes]]) -> bytes | None:
    """The node hashes for ``lo <= pos < hi`` as one string of 32-byte hashes, when ``runs`` (in
    pos order, the first one holding ``lo``) tile the span without gaps or overlaps: then it is
    ``b"".join(place_runs(lo, hi, runs))``. Otherwise None (``place_runs`` says what is where)."""
    parts: list[bytes] = []
    at = lo
    for start, blob in runs:
        end = start + len(blob) // 32
        if len(blob) % 32 or start > at or (parts and start < at) or end <= at:
            return None
        parts.append(blob[(at - start) * 32 : (min(end, hi) - start) * 32])
        at = min(end, hi)
    return b"".join(parts) if at == hi else None


def open_audit_db(store: EventStore) -> AuditDB:
    """The audit tables of the database behind ``store`` (an opened SQLite or PostgreSQL store).

    Shares the PostgreSQL store's pool; SQLite gets its own connection to the same file (its
    writes are rare: checkpoints and cosignatures).
    """
    if store.database.dialect is Dialect.POSTGRESQL:
        from ledger.audit.db_postgres import PostgresAuditDB
        from ledger.store.postgres import PostgresStore

        if isinstance(store, PostgresStore):
            return PostgresAuditDB(store.pool)
    else:
        from ledger.audit.db_sqlite import SQLiteAuditDB

        return SQLiteAuditDB(store.database.path)
    raise AuditSchemaError(f"no audit tables for a {type(store).__name__}")
