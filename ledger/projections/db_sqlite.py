"""Read models in the embedded SQLite file, next to the event log.

The runner's batch is one ``BEGIN IMMEDIATE`` transaction: rows and the tracked position commit
together or not at all. It shares SQLite's single write lock with the store's appends, so
batches stay small enough (see ``ProjectionRunner``) not to hold appends up noticeably.
Read-model connections use ``synchronous = NORMAL``: a power cut may lose the last batches, but
never half of one, and the runner simply applies them again from the tracked position.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from ledger.projections import tables as t
from ledger.projections.db import CaseRows
from ledger.projections.inspection import Consulted, FindingFact, Held, Received
from ledger.projections.projection import Dialect, Projection, Table, Write
from ledger.projections.views import CaseFilters

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TRACKING = """CREATE TABLE IF NOT EXISTS proj_tracking (
    name        TEXT    PRIMARY KEY,
    position    INTEGER NOT NULL,
    fingerprint TEXT    NOT NULL
)"""
_DIALECT = Dialect.SQLITE


def _tables(projections: Iterable[Projection]) -> list[Table]:
    return [table for p in projections for table in p.tables()]


def _create(tables: Iterable[Table]) -> list[str]:
    """The tables and the indexes their fold reads through (the others: :func:`_indexes`)."""
    return [sql for t in tables for sql in (t.create(_DIALECT), *t.eager_indexes)]


def _layout_current(conn: sqlite3.Connection, table: Table) -> bool:
    """Whether ``table`` is missing or has every column its definition names."""
    have = {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table.name})")}
    return not have or set(table.names) <= have


def _indexes(tables: Iterable[Table]) -> list[str]:
    return [sql for t in tables for sql in t.all_indexes(_DIALECT)]


def _upsert(table: Table) -> str:
    names = table.names
    update = [c for c in names if c not in table.key]
    conflict = (
        "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in update)
        if update
        else "DO NOTHING"
    )
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        f" ON CONFLICT ({', '.join(table.key)}) {conflict}"
    )


def _insert(table: Table) -> str:
    names = table.names
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


def _add(table: Table) -> str:
    names = table.names
    added = ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in table.adds)
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        f" ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {added}"
    )


def _drop_zeros(table: Table) -> str:
    keys = " AND ".join(f"{c} = ?" for c in table.key)
    zeros = " AND ".join(f"{c} = 0" for c in table.adds)
    return f"DELETE FROM {table.name} WHERE {keys} AND {zeros}"


def _apply(conn: sqlite3.Connection, write: Write) -> None:
    table = write.table
    if write.delete:
        conn.executemany(
            f"DELETE FROM {table.name} WHERE {write.key_column} = ?",
            ((_value(key),) for key in write.delete),
        )
    if write.upsert:
        conn.executemany(_upsert(table), ([_value(v) for v in row] for row in write.upsert))
    if write.insert:
        conn.executemany(_insert(table), ([_value(v) for v in row] for row in write.insert))
    if write.add:
        rows = [[_value(v) for v in row] for row in write.add]
        conn.executemany(_add(table), rows)
        keys = [table.names.index(c) for c in table.key]
        conn.executemany(_drop_zeros(table), ([row[i] for i in keys] for row in rows))


def _value(value: Any) -> Any:
    """Python → SQLite: UUIDs as text, times as UTC microseconds, dates as ISO text, proofs as
    comma-separated positions."""
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return (value - _EPOCH) // timedelta(microseconds=1)  # exact, and sorts
    if isinstance(value, date):
        return value.isoformat()
    return value


def _binder(params: list[Any]) -> Callable[[Any], str]:
    def param(value: Any) -> str:
        params.append(_value(value))
        return "?"

    return param


class _Snapshot:
    """The statements of :meth:`SQLiteReadStore.snapshot`, in its transaction."""

    dialect = _DIALECT

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        values = [_value(v) for v in params]
        return await asyncio.to_thread(lambda: self.conn.execute(sql, values).fetchall())

    async def fetch_each(self, sql: str, params: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
        found: list[Sequence[Any]] = []
        for one in params:
            found.extend(await self.fetch(sql, one))
        return found


class SQLiteReadStore:
    dialect = _DIALECT

    def __init__(
        self,
        path: str,
        projections: Sequence[Projection] | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        if projections is None:
            from ledger.projections.registry import PROJECTIONS

            projections = PROJECTIONS
        self.path = path
        self.projections = tuple(projections)
        self.busy_timeout = busy_timeout
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                conn = self._connect()
            try:
                return work(conn)
            finally:
                self._pool.put(conn)

        return await asyncio.to_thread(run)

    def _named(self, names: Collection[str] | None) -> list[Table]:
        return _tables(p for p in self.projections if names is None or p.name in names)

    async def open(self) -> None:
        tables = self._named(None)

        def create(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA journal_mode = WAL")
            # A table an earlier version made without some of today's columns is left as it
            # is, indexes and all: its projection's fingerprint differs, so the runner drops and
            # rebuilds it (and then builds its indexes).
            current = [t for t in tables if _layout_current(conn, t)]
            for sql in [TRACKING, *_create(current), *_indexes(current)]:
                conn.execute(sql)

        await self._run(create)

    async def close(self) -> None:
        while not self._pool.empty():
            self._pool.get_nowait().close()

    async def tracking(self) -> dict[str, tuple[int, str]]:
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT name, position, fingerprint FROM proj_tracking"
            ).fetchall()
        )
        return {str(n): (int(p), str(f)) for n, p, f in rows}

    async def reset(self, fingerprints: Mapping[str, str]) -> None:
        """Empty tables at position 0 for the named projections, without their secondary
        indexes (see :meth:`create_indexes`)."""
        tables = self._named(fingerprints)

        def reset(conn: sqlite3.Connection) -> None:
            # One transaction: a reader sees the old read models or the empty new ones.
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(TRACKING)
                for table in reversed(tables):
                    conn.execute(f"DROP TABLE IF EXISTS {table.name}")
                for sql in _create(tables):
                    conn.execute(sql)
                conn.executemany(
                    "INSERT INTO proj_tracking (name, position, fingerprint) VALUES (?, 0, ?)"
                    " ON CONFLICT (name) DO UPDATE SET position = 0,"
                    " fingerprint = excluded.fingerprint",
                    list(fingerprints.items()),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        await self._run(reset)

    async def create_indexes(self, names: Collection[str] | None = None) -> None:
        statements = _indexes(self._named(names))

        def build(conn: sqlite3.Connection) -> None:
            for sql in statements:
                conn.execute(sql)
            conn.execute("ANALYZE")

        await self._run(build)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        values = [_value(v) for v in params]
        return await self._run(lambda conn: conn.execute(sql, values).fetchall())

    async def fetch_each(self, sql: str, params: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
        each = [[_value(v) for v in one] for one in params]

        def fetch(conn: sqlite3.Connection) -> list[Sequence[Any]]:
            found: list[Sequence[Any]] = []
            for values in each:
                found.extend(conn.execute(sql, values))
            return found

        return await self._run(fetch) if each else []

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[_Snapshot]:
        """One read transaction on one connection (in WAL mode it sees one commit)."""
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = await asyncio.to_thread(self._connect)

        def begin() -> None:
            if conn.in_transaction:  # left open by a reader cancelled mid-way
                conn.execute("ROLLBACK")
            conn.execute("BEGIN")

        try:
            await asyncio.to_thread(begin)
            try:
                yield _Snapshot(conn)
            finally:
                await asyncio.to_thread(conn.execute, "ROLLBACK")
        finally:
            self._pool.put(conn)

    async def commit(self, moves: Mapping[str, tuple[int, int]], writes: Sequence[Write]) -> bool:
        """Move each projection's position from the expected one and write the batch, in one
        transaction; False (nothing written) if another runner moved one first."""

        def commit(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for name, (expected, position) in moves.items():
                    moved = conn.execute(
                        "UPDATE proj_tracking SET position = ? WHERE name = ? AND position = ?",
                        (position, name, expected),
                    ).rowcount
                    if moved != 1:
                        conn.execute("ROLLBACK")
                        return False
                for write in writes:
                    _apply(conn, write)
                conn.execute("COMMIT")
                return True
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        return await self._run(commit)

    async def case_state(self, case_id: UUID) -> bytes | None:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT state FROM proj_cases WHERE case_id = ?", (str(case_id),)
            ).fetchone()
        )
        return None if row is None else bytes(row[0])

    async def list_states(
        self, filters: CaseFilters, cursor: t.Cursor | None, limit: int, today: date
    ) -> list[bytes]:
        params: list[Any] = []
        where = t.case_conditions(filters, cursor, today, _binder(params))
        sql = f"SELECT state FROM proj_cases WHERE {where} {t.CASE_ORDER} LIMIT ?"
        rows = await self._run(lambda conn: conn.execute(sql, (*params, limit)).fetchall())
        return [bytes(r[0]) for r in rows]

    @contextlib.asynccontextmanager
    async def case_rows(
        self, filters: CaseFilters, today: date, page: int
    ) -> AsyncIterator[CaseRows]:
        """One read transaction on a connection of its own (WAL: a snapshot from its first
        read to its end, which appends and the runner's commits do not disturb)."""
        params: list[Any] = []
        where = t.case_conditions(filters, None, today, _binder(params))
        conn = await asyncio.to_thread(self._connect)

        def begin() -> tuple[int, int, sqlite3.Cursor]:
            conn.execute("BEGIN")
            counted = f"SELECT count(*) FROM proj_cases WHERE {where}"
            (count,) = conn.execute(counted, params).fetchone()
            tracked = conn.execute(t.CASES_POSITION_SQL).fetchone()
            listed = f"SELECT state FROM proj_cases WHERE {where} {t.CASE_ORDER}"
            rows = conn.execute(listed, params)
            return int(count), int(tracked[0]) if tracked else 0, rows

        async def pages(rows: sqlite3.Cursor) -> AsyncIterator[list[bytes]]:
            while found := await asyncio.to_thread(rows.fetchmany, page):
                yield [bytes(r[0]) for r in found]

        try:
            count, position, rows = await asyncio.to_thread(begin)
            yield CaseRows(count=count, position=position, pages=pages(rows))
        finally:
            await asyncio.to_thread(conn.close)  # ends the read transaction

    async def count_states(self, filters: CaseFilters, today: date) -> int:
        params: list[Any] = []
        where = t.case_conditions(filters, None, today, _binder(params))
        sql = f"SELECT count(*) FROM proj_cases WHERE {where}"
        row = await self._run(lambda conn: conn.execute(sql, params).fetchone())
        return int(row[0])

    async def held_by_deadline(self, unit: str, limit: int) -> list[bytes]:
        sql = t.HELD_BY_DEADLINE_SQL.format(unit="?", limit="?")
        rows = await self._run(lambda conn: conn.execute(sql, (unit, limit)).fetchall())
        return [bytes(r[0]) for r in rows]

    async def received(self, period: t.Period) -> Sequence[Received]:
        params: list[Any] = []
        sql = t.RECEIVED_SQL.format(where=t.received_conditions(period, _binder(params)))
        rows = await self._run(lambda conn: conn.execute(sql, params).fetchall())
        return [(u, s, n, UUID(c), p) for u, s, n, c, p in rows]

    async def held(self, period: t.Period) -> Sequence[Held]:
        params: list[Any] = []
        sql = t.HELD_SQL.format(where=t.held_conditions(period, _binder(params)))
        rows = await self._run(lambda conn: conn.execute(sql, params).fetchall())
        return [(u, s, n, UUID(c), f, e) for u, s, n, c, f, e in rows]

    async def consulted(self, period: t.Period) -> Sequence[Consulted]:
        params: list[Any] = []
        among = "instr(',' || units || ',', ',' || {0} || ',') > 0"
        sql = t.CONSULTED_SQL.format(where=t.consulted_conditions(period, _binder(params), among))
        rows = await self._run(lambda conn: conn.execute(sql, params).fetchall())
        return [(u, s, n, UUID(c), p, units.split(",")) for u, s, n, c, p, units in rows]

    async def findings(self, period: t.Period, today: date) -> Sequence[FindingFact]:
        params: list[Any] = []
        param = _binder(params)
        where = t.received_conditions(period, param, "charged_unit")
        where += " AND " + t.holding_conditions(period.position, today, param)
        rows = await self._run(
            lambda conn: conn.execute(t.FINDINGS_SQL.format(where=where), params).fetchall()
        )
        return [
            (UUID(c), k, s, u, n, [int(x) for x in p.split(",")], bool(v))
            for c, k, s, u, n, p, v in rows
        ]

    async def listen(self) -> None:
        pass  # SQLite has no notifications

    async def wait_for_change(self, seconds: float) -> None:
        await asyncio.sleep(seconds)  # SQLite has no notifications: the runner polls
