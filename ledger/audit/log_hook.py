"""``MerkleHook``: extends the Merkle log inside every append transaction (both dialects).

Pass it to the store: ``open_store(url, hooks=[MerkleHook()])``. Then the event rows, the tree's
compact range and its new nodes commit or roll back together, so the log and its tree cannot
disagree, whatever crashes or how many processes append.

Correctness never rests on memory. The store calls the hook under its append lock (PostgreSQL: the
``ledger_head`` row; SQLite: ``BEGIN IMMEDIATE``), and the hook checks that the stored tree ends
exactly where the batch begins. On PostgreSQL it also keeps the last compact range it wrote, to save
a round trip: the write is guarded by ``WHERE compact = <the range it started from>``, so if another
process appended meanwhile, or the transaction that wrote the cached range rolled back, the guard
matches no row, nothing is written, and the hook re-reads the state (``FOR UPDATE``) and redoes the
batch. One statement per batch when the cache is right, two or three when it is not.

Cost, measured with 64 concurrent appenders (≈150 events per group-commit transaction): about
0.5 ms per transaction on PostgreSQL (3–4 µs an event, ~9 % of the append transaction) and
0.3 ms on SQLite (~5 %): two SHA-256 per event, and one row per transaction (see ``db``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from ledger.audit.db import POSTGRES_SCHEMA, SQLITE_SCHEMA, AuditSchemaError
from ledger.audit.merkle import CompactRange, nodes_before
from ledger.store.port import RecordedEvent

PG_WRITE_RUN = """
WITH moved AS (
    UPDATE ledger_merkle_state SET size = $1, compact = $2
    WHERE singleton AND compact = $3
    RETURNING 1
)
INSERT INTO ledger_merkle_nodes (pos, hashes) SELECT $4, $5 WHERE EXISTS (SELECT 1 FROM moved)
"""
_PG_READ = "SELECT compact FROM ledger_merkle_state FOR UPDATE"


def extend_hashes(
    tree: CompactRange, positions: Sequence[int], hashes: Sequence[bytes]
) -> tuple[int, bytes]:
    """Append events (their positions and chain hashes) to ``tree`` in place. Returns the run of
    nodes this formed: the position of the first (``merkle.node_pos``) and their hashes,
    concatenated in creation order — one ``ledger_merkle_nodes`` row."""
    first = positions[0]
    if first != tree.size + 1:
        raise AuditSchemaError(
            f"the Merkle tree has {tree.size} leaves but the batch starts at position {first}: "
            "events were appended without the MerkleHook; check them with `ledger verify`, then "
            "run `ledger tree catch-up`"
        )
    if any(q != p for p, q in enumerate(positions, start=first)):
        raise AuditSchemaError(f"batch positions from {first} on are not contiguous")
    start = nodes_before(tree.size)
    return start, b"".join(tree.extend_run(hashes))


def extend(tree: CompactRange, records: Sequence[RecordedEvent]) -> tuple[int, bytes]:
    return extend_hashes(tree, [r.position for r in records], [r.hash for r in records])


class MerkleHook:
    """The ``AppendHook`` that keeps ``ledger_merkle_state`` and ``ledger_merkle_nodes``."""

    def __init__(self) -> None:
        self._cached: CompactRange | None = None  # PostgreSQL only: what we last wrote

    # -- schema -------------------------------------------------------------------------------

    def postgres_schema(self) -> str:
        return POSTGRES_SCHEMA

    def sqlite_schema(self) -> str:
        return SQLITE_SCHEMA

    # -- PostgreSQL ---------------------------------------------------------------------------

    async def on_append_postgres(self, conn: Any, records: Sequence[RecordedEvent]) -> None:
        if not records:
            return
        cached = self._cached
        self._cached = None  # stays unset unless this batch's write goes through
        if cached is not None and cached.size + 1 == records[0].position:
            tree = cached.copy()
            if await self._write_pg(conn, cached, tree, extend(tree, records)):
                self._cached = tree
                return
        before = CompactRange.from_bytes(await conn.fetchval(_PG_READ))
        tree = before.copy()
        run = extend(tree, records)
        if not await self._write_pg(conn, before, tree, run):
            raise AuditSchemaError("ledger_merkle_state changed while locked")  # cannot happen
        self._cached = tree

    @staticmethod
    async def _write_pg(
        conn: Any, before: CompactRange, after: CompactRange, run: tuple[int, bytes]
    ) -> bool:
        status: str = await conn.execute(
            PG_WRITE_RUN, after.size, after.to_bytes(), before.to_bytes(), *run
        )
        return status == "INSERT 0 1"  # 0 rows: the guard found another state

    # -- SQLite -------------------------------------------------------------------------------

    def on_append_sqlite(self, conn: Any, records: Sequence[RecordedEvent]) -> None:
        # The store's writer holds BEGIN IMMEDIATE, so this read is the file's current state.
        if not records:
            return
        db: sqlite3.Connection = conn
        row = db.execute("SELECT compact FROM ledger_merkle_state").fetchone()
        if row is None:
            raise AuditSchemaError("ledger_merkle_state has no row")
        tree = CompactRange.from_bytes(row[0])
        run = extend(tree, records)
        db.execute("INSERT INTO ledger_merkle_nodes (pos, hashes) VALUES (?, ?)", run)
        db.execute(
            "UPDATE ledger_merkle_state SET size = ?, compact = ?", (tree.size, tree.to_bytes())
        )


def bulk_runs(
    event_hashes: Iterable[bytes], run_nodes: int = 4096
) -> tuple[list[tuple[int, bytes]], CompactRange]:
    """The ``ledger_merkle_nodes`` rows (``pos``, ``hashes``) and final compact range for a log
    loaded in bulk (event hashes in position order): what the hook would have stored, in runs of
    at most ``run_nodes`` nodes (any tiling of the node positions reads the same)."""
    tree = CompactRange()
    run: list[bytes] = tree.extend_run(event_hashes)
    rows = [(k, b"".join(run[k : k + run_nodes])) for k in range(0, len(run), run_nodes)]
    return rows, tree
