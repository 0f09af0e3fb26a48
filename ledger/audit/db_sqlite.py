"""``AuditDB`` on SQLite: its own connection to the store's file, used from a worker thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from ledger.audit.db import StoredCheckpoint, place_runs
from ledger.audit.merkle import CompactRange, NodeKey, node_pos

T = TypeVar("T")

_SELECT_CHECKPOINT = """
SELECT c.size, c.root, c.made_at, c.note,
       (SELECT group_concat(line, '') FROM (SELECT s.line FROM ledger_cosignatures s
        WHERE s.size = c.size ORDER BY s.signed_at, s.witness))
FROM ledger_checkpoints c
"""


def _text_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _checkpoint(row: tuple[Any, ...] | None) -> StoredCheckpoint | None:
    if row is None:
        return None
    size, root, made_at, note, lines = row
    # Each cosignature line ends in a newline, so the concatenation splits back exactly.
    cosigs = tuple((lines or "").splitlines(keepends=True))
    return StoredCheckpoint(size, root, datetime.fromisoformat(made_at), note, cosigs)


class SQLiteAuditDB:
    dialect = "sqlite"

    def __init__(self, path: str, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._conn = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()  # one statement at a time on the shared connection

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            with self._lock:
                return work(self._conn)

        return await asyncio.to_thread(call)

    async def state(self) -> CompactRange:
        row = await self._run(
            lambda c: c.execute("SELECT compact FROM ledger_merkle_state").fetchone()
        )
        return CompactRange.from_bytes(row[0])

    async def nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        wanted = [(node_pos(level, idx), (level, idx)) for level, idx in keys]
        sql = (
            "SELECT substr(hashes, (? - pos) * 32 + 1, 32) FROM ledger_merkle_nodes "
            "WHERE pos <= ? ORDER BY pos DESC LIMIT 1"
        )

        def work(c: sqlite3.Connection) -> dict[NodeKey, bytes]:
            found: dict[NodeKey, bytes] = {}
            for pos, key in wanted:  # one indexed probe each: microseconds in SQLite
                row = c.execute(sql, (pos, pos)).fetchone()
                if row is not None and len(row[0]) == 32:
                    found[key] = row[0]
            return found

        return await self._run(work)

    async def node_runs(self, lo: int, hi: int) -> list[tuple[int, bytes]]:
        sql = (
            "SELECT pos, hashes FROM ledger_merkle_nodes WHERE pos >= coalesce((SELECT max(pos) "
            "FROM ledger_merkle_nodes WHERE pos <= ?), 0) AND pos < ? ORDER BY pos"
        )

        def work(c: sqlite3.Connection) -> list[tuple[int, bytes]]:
            return [(pos, blob) for pos, blob in c.execute(sql, (lo, hi))]

        return await self._run(work)

    async def node_span(self, lo: int, hi: int) -> list[bytes | None]:
        return place_runs(lo, hi, await self.node_runs(lo, hi))

    async def add_checkpoint(self, cp: StoredCheckpoint) -> bool:
        def work(c: sqlite3.Connection) -> bool:
            cur = c.execute(
                "INSERT OR IGNORE INTO ledger_checkpoints (size, root, made_at, note) "
                "VALUES (?, ?, ?, ?)",
                (cp.size, cp.root, _text_time(cp.made_at), cp.note),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def _one(self, tail: str, params: tuple[Any, ...] = ()) -> StoredCheckpoint | None:
        return _checkpoint(
            await self._run(lambda c: c.execute(_SELECT_CHECKPOINT + tail, params).fetchone())
        )

    async def checkpoint(self, size: int) -> StoredCheckpoint | None:
        return await self._one("WHERE c.size = ?", (size,))

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        return await self._one("ORDER BY c.size DESC LIMIT 1")

    async def covering_checkpoint(self, position: int) -> StoredCheckpoint | None:
        return await self._one(
            "WHERE c.size >= ? ORDER BY (SELECT count(*) FROM ledger_cosignatures s "
            "WHERE s.size = c.size) DESC, c.size DESC LIMIT 1",
            (position,),
        )

    async def checkpoints(self, after: int = 0, limit: int = 500) -> list[StoredCheckpoint]:
        rows = await self._run(
            lambda c: c.execute(
                _SELECT_CHECKPOINT + "WHERE c.size > ? ORDER BY c.size LIMIT ?", (after, limit)
            ).fetchall()
        )
        return [cp for cp in map(_checkpoint, rows) if cp is not None]

    async def add_cosignature(
        self, size: int, witness: str, key_id: bytes, signed_at: datetime, line: str
    ) -> bool:
        def work(c: sqlite3.Connection) -> bool:
            cur = c.execute(
                "INSERT OR IGNORE INTO ledger_cosignatures (size, witness, key_id, signed_at, "
                "line) VALUES (?, ?, ?, ?, ?)",
                (size, witness, key_id, _text_time(signed_at), line),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def close(self) -> None:
        await self._run(lambda c: c.close())
