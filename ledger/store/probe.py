"""Can the ledger write? A readiness probe's question, answered by writing: one row of a table of
its own (``ledger_write_probe``), committed durably, in a transaction of its own — never an event.

Reading the log's head proves only that the database answers; a full disk, a read-only file or
mount, a replica or ``default_transaction_read_only`` refuse every append while reads succeed.
The probe meets the same refusal (``ledger.store.failures`` names it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3

from ledger.store.port import EventStore
from ledger.store.sql import SCHEMA_LOCK

PROBE_TABLE = "ledger_write_probe"
_PG_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE}"
    " (id integer PRIMARY KEY, probed_at timestamptz NOT NULL)"
)
_PG_WRITE = (
    f"INSERT INTO {PROBE_TABLE} VALUES (1, now())"
    " ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at"
)
_SQLITE_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (id INTEGER PRIMARY KEY, probed_at TEXT NOT NULL)"
)
_SQLITE_WRITE = f"INSERT OR REPLACE INTO {PROBE_TABLE} VALUES (1, datetime('now'))"
# The probe takes the write lock for an instant; a writer holding it longer means "busy", not
# "cannot write": wait for it as long as a probe may take.
SQLITE_BUSY_SECONDS = 1.0


async def probe_write(store: EventStore) -> None:
    """Write and commit the probe row in ``store``'s database, or raise what the database said."""
    from ledger.store.postgres import PostgresStore
    from ledger.store.sqlite import SQLiteStore

    if isinstance(store, PostgresStore):
        async with store.pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = on")  # the WAL flush is the test
            if await conn.fetchval("SELECT to_regclass($1) IS NULL", PROBE_TABLE):
                # Processes starting together: CREATE … IF NOT EXISTS can still collide in the
                # catalog, so tables are made under the store's schema lock.
                await conn.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
                await conn.execute(_PG_CREATE)
            await conn.execute(_PG_WRITE)
    elif isinstance(store, SQLiteStore):
        await asyncio.to_thread(_probe_sqlite, store.path)
    else:  # pragma: no cover - every adapter is one of the above
        raise TypeError(f"no write probe for {type(store).__name__}")


# An overwrite of the probe row may fit in pages and WAL space the file already has, while the
# next append needs more: the probe also writes this much to a file beside the database.
SQLITE_ROOM_BYTES = 64 * 1024


def _probe_sqlite(path: str) -> None:
    _room_beside(path)
    conn = sqlite3.connect(path, timeout=SQLITE_BUSY_SECONDS, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_SQLITE_CREATE)
            conn.execute(_SQLITE_WRITE)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite ends it itself on some errors (a full disk)
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


def _room_beside(path: str) -> None:
    """Whether the database's file system takes ``SQLITE_ROOM_BYTES`` more, durably (an
    ``OSError``, ENOSPC or EROFS, if not); the file is removed again."""
    room = os.path.join(os.path.dirname(os.path.abspath(path)), ".ledger-write-probe")
    try:
        with open(room, "wb") as out:
            out.write(bytes(SQLITE_ROOM_BYTES))
            out.flush()
            os.fsync(out.fileno())
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(room)
