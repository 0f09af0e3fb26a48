"""``catch_up``: bring the Merkle tree over events that were appended without ``MerkleHook``.

That is a deployment error (a process opened the store without ``audit_hooks()``), and the hook
deliberately refuses to absorb such events silently: until they are in the tree, ``verify``
reports them and further appends fail. An operator who has checked them (``ledger verify`` shows
their chains intact) runs ``ledger tree catch-up``, which extends the tree exactly as the hook
would have, in one transaction under the store's own append lock (PostgreSQL: the ``ledger_head``
row; SQLite: ``BEGIN IMMEDIATE``), so concurrent appends simply wait for it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from ledger.audit.db import AuditSchemaError
from ledger.audit.log_hook import PG_WRITE_RUN, extend_hashes
from ledger.audit.merkle import CompactRange
from ledger.store.database import Dialect
from ledger.store.port import EventStore

_MISSING = "SELECT position, hash FROM ledger_events WHERE position > {} ORDER BY position"


def _plan(tree: CompactRange, rows: list[Any]) -> tuple[CompactRange, tuple[int, bytes]] | None:
    if not rows:
        return None
    if rows[0][0] != tree.size + 1:
        raise AuditSchemaError(
            f"the tree has {tree.size} leaves but the log continues at "
            f"position {rows[0][0]}: the log has a gap"
        )
    after = tree.copy()
    return after, extend_hashes(after, [r[0] for r in rows], [bytes(r[1]) for r in rows])


async def catch_up(store: EventStore) -> int:
    """Extend the stored tree to the end of the log; return how many leaves were added."""
    if store.database.dialect is Dialect.POSTGRESQL:
        from ledger.store.postgres import PostgresStore

        if not isinstance(store, PostgresStore):
            raise AuditSchemaError(f"cannot reach the database of {type(store).__name__}")
        async with store.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT position FROM ledger_head FOR UPDATE")  # the append lock
            before = CompactRange.from_bytes(
                await conn.fetchval("SELECT compact FROM ledger_merkle_state FOR UPDATE")
            )
            plan = _plan(before, await conn.fetch(_MISSING.format("$1"), before.size))
            if plan is None:
                return 0
            after, run = plan
            await conn.execute(PG_WRITE_RUN, after.size, after.to_bytes(), before.to_bytes(), *run)
            return after.size - before.size
    return await asyncio.to_thread(_catch_up_sqlite, store.database.path)


def _catch_up_sqlite(path: str) -> int:
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")  # the store's append lock
        try:
            (compact,) = conn.execute("SELECT compact FROM ledger_merkle_state").fetchone()
            before = CompactRange.from_bytes(compact)
            plan = _plan(before, conn.execute(_MISSING.format("?"), (before.size,)).fetchall())
            if plan is not None:
                after, run = plan
                conn.execute("INSERT INTO ledger_merkle_nodes (pos, hashes) VALUES (?, ?)", run)
                conn.execute(
                    "UPDATE ledger_merkle_state SET size = ?, compact = ?",
                    (after.size, after.to_bytes()),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return 0 if plan is None else plan[0].size - before.size
    finally:
        conn.close()
