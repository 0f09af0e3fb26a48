"""Read models in PostgreSQL (asyncpg), in the event store's database.

A batch is one transaction: the tracked positions are moved first (``UPDATE … WHERE position =
expected``, which also row-locks them against a second runner), then the projections' writes
applied: rows known to be new copied in (binary COPY), the others upserted through a staging
table (COPY, then ``INSERT … ON CONFLICT``), deletions by key. The runner's connections
use ``synchronous_commit = off``: read models are derived, and a crash can only lose whole
batches together with their position, which the runner then applies again.

A partitioned rebuild (``ledger.projections.partition``) writes from several processes at once,
each its own cases, under a marker in the tracking rows of the projections it rebuilds
(``claim_rebuild`` … ``finish_rebuild``).

The store NOTIFYs ``ledger_events`` on every commit; :meth:`wait_for_change` listens on a
dedicated connection and falls back to the timeout (polling) while that connection is down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from datetime import date
from typing import Any, cast
from uuid import UUID

import asyncpg

from ledger.projections import tables as t
from ledger.projections.db import CaseRows
from ledger.projections.inspection import Consulted, FindingFact, Held, Received
from ledger.projections.projection import Dialect, Projection, Table, Write
from ledger.projections.views import CaseFilters
from ledger.store.port import RecordedEvent
from ledger.store.sql import NOTIFY_CHANNEL
from ledger.store.timeouts import DatabaseTimeouts, create_pool

TRACKING = """CREATE TABLE IF NOT EXISTS proj_tracking (
    name        TEXT   PRIMARY KEY,
    position    BIGINT NOT NULL,
    fingerprint TEXT   NOT NULL
)"""
_DIALECT = Dialect.POSTGRES


def _tables(projections: Iterable[Projection]) -> list[Table]:
    return [table for p in projections for table in p.tables()]


def _create(tables: Iterable[Table]) -> str:
    """The tables and the indexes their fold reads through (the others: :func:`_indexes`)."""
    return ";\n".join(sql for t in tables for sql in (t.create(_DIALECT), *t.eager_indexes))


def _indexes(tables: Iterable[Table]) -> list[str]:
    return [sql for t in tables for sql in t.all_indexes(_DIALECT)]


# Held (exclusive) while tables and indexes are created or dropped, shared while a rebuild
# builds its indexes: processes starting together must not race on the catalog.
_SCHEMA_LOCK = "hashtext('ledger.projections')"

# Held (session level) by the process leading a partitioned rebuild.
_REBUILD_LOCK = 0x6C65_6467_6572_7062  # "ledgerpb"


# Upserted rows go through a per-session staging table: binary COPY is several times faster than
# binding arrays, and only an INSERT … SELECT can turn the copied rows into an upsert.
def _stage(table: Table) -> str:
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS stage_{table.name} (LIKE {table.name})"
        " ON COMMIT DELETE ROWS"
    )


def _upsert_staged(table: Table) -> str:
    names = table.names
    update = [c for c in names if c not in table.key]
    conflict = (
        "DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
        if update
        else "DO NOTHING"
    )
    return (
        f"INSERT INTO {table.name} ({', '.join(names)})"
        f" SELECT {', '.join(names)} FROM stage_{table.name}"
        f" ON CONFLICT ({', '.join(table.key)}) {conflict}"
    )


def _stage_added(table: Table) -> str:
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS added_{table.name} (LIKE {table.name})"
        " ON COMMIT DELETE ROWS"
    )


def _add_staged(table: Table) -> str:
    """The staged rows added to the stored ones, in key order: processes adding to the same
    rows at once (a partitioned rebuild) lock them in one order, so neither waits for the other
    in a cycle."""
    names, key = ", ".join(table.names), ", ".join(table.key)
    added = ", ".join(f"{c} = {table.name}.{c} + EXCLUDED.{c}" for c in table.adds)
    return (
        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM added_{table.name}"
        f" ORDER BY {key} ON CONFLICT ({key}) DO UPDATE SET {added}"
    )


def _drop_zeros(table: Table) -> str:
    same = " AND ".join(f"t.{c} = a.{c}" for c in table.key)
    zeros = " AND ".join(f"t.{c} = 0" for c in table.adds)
    return f"DELETE FROM {table.name} t USING added_{table.name} a WHERE {same} AND {zeros}"


class _NotMoved(Exception):
    """A tracked position was not the one a commit expected."""


def _binder(params: list[Any]) -> Any:
    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    return param


class _Snapshot:
    """The statements of :meth:`PostgresReadStore.snapshot`, in its transaction."""

    dialect = _DIALECT

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return list(await self.conn.fetch(sql, *params))

    async def fetch_each(self, sql: str, params: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
        found: list[Sequence[Any]] = []
        for values in params:
            found.extend(await self.conn.fetch(sql, *values))
        return found


class PostgresReadStore:
    dialect = _DIALECT

    def __init__(
        self,
        url: str,
        projections: Sequence[Projection] | None = None,
        *,
        max_pool: int = 4,
        timeouts: DatabaseTimeouts | None = None,
    ) -> None:
        if projections is None:
            from ledger.projections.registry import PROJECTIONS

            projections = PROJECTIONS
        self.url = url
        self.timeouts = timeouts or DatabaseTimeouts.from_env()
        self.projections = tuple(projections)
        self.max_pool = max_pool
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._changed = asyncio.Event()
        self._rebuild_lock: asyncpg.Connection | None = None  # see claim_rebuild

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the read models are not open")
        return self._pool

    def _named(self, names: Collection[str] | None) -> list[Table]:
        return _tables(p for p in self.projections if names is None or p.name in names)

    async def open(self, *, create: bool = True) -> None:
        """Connect; with ``create``, also create the tables and indexes that are missing (a
        partition worker of a rebuild must not: the indexes are built after the bulk load)."""
        self._pool = await create_pool(
            self.url,
            self.timeouts,
            command=False,
            min_size=1,
            max_size=self.max_pool,
            init=_session,
        )
        if not create:
            return
        tables = self._named(None)
        async with self._pool.acquire() as conn, conn.transaction():
            # Processes starting together (API, runner) must not race on the catalog.
            await conn.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            # A table an earlier version made without some of today's columns is left as it
            # is, indexes and all: its projection's fingerprint differs, so the runner drops and
            # rebuilds it (and then builds its indexes).
            have: dict[str, set[str]] = {}
            for name, column in await conn.fetch(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
            ):
                have.setdefault(name, set()).add(column)
            tables = [t for t in tables if t.name not in have or set(t.names) <= have[t.name]]
            await conn.execute(";\n".join([TRACKING, _create(tables), *_indexes(tables)]))
            await _upgrade_layout(conn, tables)

    async def close(self) -> None:
        await self.release_rebuild()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def tracking(self) -> dict[str, tuple[int, str]]:
        rows = await self.pool.fetch("SELECT name, position, fingerprint FROM proj_tracking")
        return {str(n): (int(p), str(f)) for n, p, f in rows}

    async def reset(self, fingerprints: Mapping[str, str]) -> None:
        """Empty tables at position 0 for the named projections, without their secondary
        indexes (see :meth:`create_indexes`)."""
        tables = self._named(fingerprints)
        drop = ";".join(f"DROP TABLE IF EXISTS {t.name}" for t in reversed(tables))
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            await conn.execute(";\n".join(s for s in (TRACKING, drop, _create(tables)) if s))
            await conn.executemany(
                "INSERT INTO proj_tracking (name, position, fingerprint) VALUES ($1, 0, $2)"
                " ON CONFLICT (name) DO UPDATE SET position = 0, fingerprint = $2",
                list(fingerprints.items()),
            )

    async def create_indexes(self, names: Collection[str] | None = None) -> None:
        # Two at a time: each build is one backend's sort, and the server has cores to spare
        # once the bulk load is done.
        tables = self._named(names)
        statements = _indexes(tables)
        lanes = max(1, min(2, self.max_pool))

        async def build(lane: int) -> None:
            async with self.pool.acquire() as conn, conn.transaction():
                # Shared: the lanes build side by side, but never while another process's
                # ``open`` creates the same indexes (concurrent CREATE INDEX IF NOT EXISTS of
                # one name collide in the catalog: seen when the API and ``projections run``
                # start together on a fresh database).
                await conn.execute(f"SELECT pg_advisory_xact_lock_shared({_SCHEMA_LOCK})")
                for sql in statements[lane::lanes]:
                    await conn.execute(sql)

        await asyncio.gather(*(build(lane) for lane in range(lanes)))
        # Fresh statistics for the planner, and a visibility map for index-only scans.
        await asyncio.gather(*(self.pool.execute(f"VACUUM (ANALYZE) {t.name}") for t in tables))

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return list(await self.pool.fetch(sql, *params))

    async def fetch_each(self, sql: str, params: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
        found: list[Sequence[Any]] = []
        async with self.pool.acquire() as conn:
            for values in params:
                found.extend(await conn.fetch(sql, *values))
        return found

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[_Snapshot]:
        """One read-only transaction, every statement in it seeing the same commits."""
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            yield _Snapshot(conn)

    async def commit(self, moves: Mapping[str, tuple[int, int]], writes: Sequence[Write]) -> bool:
        """Move each projection's position from the expected one and write the batch, in one
        transaction; False (nothing written) if another runner moved one first."""
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                for name, (expected, position) in moves.items():
                    moved = await conn.execute(
                        "UPDATE proj_tracking SET position = $1 WHERE name = $2 AND position = $3",
                        position,
                        name,
                        expected,
                    )
                    if moved != "UPDATE 1":
                        raise _NotMoved  # rolls back the positions moved before
                await _write(conn, writes)
        except _NotMoved:
            return False
        return True

    # -- partitioned rebuilds (ledger.projections.partition) ----------------------------------
    #
    # While worker processes load the rows of a rebuild, the tracking row holds position -1
    # (no runner can commit from there) and a marker instead of the fingerprint: a crash at
    # any point leaves the marker, and the next runner rebuilds. The process that leads the
    # rebuild holds a session advisory lock meanwhile, so that other runners can tell a
    # rebuild in progress (wait for it) from an abandoned one (rebuild again).

    async def claim_rebuild(self, fingerprints: Mapping[str, str], marker: str) -> bool:
        """Take the named projections, empty at position 0 with these fingerprints, for a
        partitioned rebuild under ``marker``; False (nothing changed) if they are not in that
        state or another partitioned rebuild runs."""
        await self.release_rebuild()
        conn: asyncpg.Connection = await asyncpg.connect(self.url, timeout=self.timeouts.connect)
        try:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", _REBUILD_LOCK):
                async with conn.transaction():
                    claimed = 0
                    for name, fingerprint in fingerprints.items():
                        done = await conn.execute(
                            "UPDATE proj_tracking SET position = -1, fingerprint = $1"
                            " WHERE name = $2 AND position = 0 AND fingerprint = $3",
                            marker,
                            name,
                            fingerprint,
                        )
                        claimed += done == "UPDATE 1"
                    if claimed == len(fingerprints):
                        self._rebuild_lock = conn
                        return True
                    raise _NotMoved
        except _NotMoved:
            pass
        except BaseException:
            await conn.close()
            raise
        await conn.close()  # closing the session releases its advisory lock
        return False

    async def write_partition(self, marker: str, writes: Sequence[Write]) -> bool:
        """One partition worker's rows; False (nothing written) if the rebuild under
        ``marker`` was abandoned or taken over. The share lock on the tracking rows keeps a
        reset from slipping between the check and the commit."""
        async with self.pool.acquire() as conn, conn.transaction():
            ours = await conn.fetch(
                "SELECT name FROM proj_tracking WHERE fingerprint = $1 FOR SHARE", marker
            )
            if not ours:
                return False
            await _write(conn, writes)
        return True

    async def finish_rebuild(
        self, marker: str, position: int, fingerprints: Mapping[str, str]
    ) -> bool:
        """Every partition is written: the named projections stand at ``position`` with their
        fingerprints. False if the rebuild under ``marker`` was taken over meanwhile."""
        conn = self._rebuild_lock
        if conn is None:
            raise RuntimeError("finish_rebuild without claim_rebuild")
        try:
            async with conn.transaction():
                for name, fingerprint in fingerprints.items():
                    done = await conn.execute(
                        "UPDATE proj_tracking SET position = $1, fingerprint = $2"
                        " WHERE name = $3 AND fingerprint = $4",
                        position,
                        fingerprint,
                        name,
                        marker,
                    )
                    if done != "UPDATE 1":
                        raise _NotMoved
        except _NotMoved:
            return False
        finally:
            await self.release_rebuild()
        return True

    async def release_rebuild(self) -> None:
        """Let go of a claimed rebuild (finished or not: an unfinished one keeps its marker)."""
        conn, self._rebuild_lock = self._rebuild_lock, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def read_events(self, after: int, until: int) -> list[RecordedEvent]:
        """The log's events after ``after`` up to ``until``, with only what projections read:
        position, case, version, topic, state and the time recorded (the rest is left empty).
        A partitioned rebuild reads the whole log in every worker; the full rows (metadata,
        hashes) would triple what each worker decodes."""
        rows = await self.pool.fetch(
            "SELECT position, case_id, version, topic, state, recorded_at FROM ledger_events"
            " WHERE position > $1 AND position <= $2 ORDER BY position",
            after,
            until,
        )
        return [RecordedEvent(p, c, v, t, s, b"", at, b"", b"") for p, c, v, t, s, at in rows]

    async def rebuilding_elsewhere(self) -> bool:
        """Whether a partitioned rebuild is in progress in a live process."""
        async with self.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _REBUILD_LOCK):
                return True
            await conn.fetchval("SELECT pg_advisory_unlock($1)", _REBUILD_LOCK)
        return False

    async def case_state(self, case_id: UUID) -> bytes | None:
        state: bytes | None = await self.pool.fetchval(
            "SELECT state FROM proj_cases WHERE case_id = $1", case_id
        )
        return state

    async def list_states(
        self, filters: CaseFilters, cursor: t.Cursor | None, limit: int, today: date
    ) -> list[bytes]:
        params: list[Any] = []
        param = _binder(params)
        where = t.case_conditions(filters, cursor, today, param)
        sql = f"SELECT state FROM proj_cases WHERE {where} {t.CASE_ORDER} LIMIT {param(limit)}"
        return [row[0] for row in await self.pool.fetch(sql, *params)]

    @contextlib.asynccontextmanager
    async def case_rows(
        self, filters: CaseFilters, today: date, page: int
    ) -> AsyncIterator[CaseRows]:
        """One read-only REPEATABLE READ transaction on a pooled connection, held until the
        context exits: the count, the position and every row see one snapshot; the rows come
        through a server-side cursor."""
        params: list[Any] = []
        where = t.case_conditions(filters, None, today, _binder(params))
        async with self.pool.acquire() as conn:
            transaction = conn.transaction(isolation="repeatable_read", readonly=True)
            await transaction.start()
            try:
                count = await conn.fetchval(
                    f"SELECT count(*) FROM proj_cases WHERE {where}", *params
                )
                position = await conn.fetchval(t.CASES_POSITION_SQL)
                rows = await conn.cursor(
                    f"SELECT state FROM proj_cases WHERE {where} {t.CASE_ORDER}", *params
                )

                async def pages() -> AsyncIterator[list[bytes]]:
                    while found := await rows.fetch(page):
                        yield [row[0] for row in found]

                yield CaseRows(count=int(count), position=int(position or 0), pages=pages())
            finally:
                # Read only: nothing to keep. A connection broken meanwhile is the pool's to
                # discard; the error that broke it is the one to report.
                with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
                    await transaction.rollback()

    async def count_states(self, filters: CaseFilters, today: date) -> int:
        params: list[Any] = []
        where = t.case_conditions(filters, None, today, _binder(params))
        sql = f"SELECT count(*) FROM proj_cases WHERE {where}"
        return int(await self.pool.fetchval(sql, *params))

    async def held_by_deadline(self, unit: str, limit: int) -> list[bytes]:
        sql = t.HELD_BY_DEADLINE_SQL.format(unit="$1", limit="$2")
        return [row[0] for row in await self.pool.fetch(sql, unit, limit)]

    # asyncpg's records unpack like the tuples the port promises: no copy of ten thousands rows.

    async def received(self, period: t.Period) -> Sequence[Received]:
        params: list[Any] = []
        sql = t.RECEIVED_SQL.format(where=t.received_conditions(period, _binder(params)))
        return cast(list[Received], await self.pool.fetch(sql, *params))

    async def held(self, period: t.Period) -> Sequence[Held]:
        params: list[Any] = []
        sql = t.HELD_SQL.format(where=t.held_conditions(period, _binder(params)))
        return cast(list[Held], await self.pool.fetch(sql, *params))

    async def consulted(self, period: t.Period) -> Sequence[Consulted]:
        params: list[Any] = []
        among = "{0} = ANY(units)"
        sql = t.CONSULTED_SQL.format(where=t.consulted_conditions(period, _binder(params), among))
        return cast(list[Consulted], await self.pool.fetch(sql, *params))

    async def findings(self, period: t.Period, today: date) -> Sequence[FindingFact]:
        params: list[Any] = []
        param = _binder(params)
        where = t.received_conditions(period, param, "charged_unit")
        where += " AND " + t.holding_conditions(period.position, today, param)
        rows = await self.pool.fetch(t.FINDINGS_SQL.format(where=where), *params)
        return cast(list[FindingFact], rows)

    async def listen(self) -> None:
        """Start (or restart) listening for the store's commit notifications."""
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = None
        try:
            self._listener = await asyncpg.connect(self.url, timeout=self.timeouts.connect)
            await self._listener.add_listener(NOTIFY_CHANNEL, self._notified)
            # A lost connection wakes the runner at once: notifications may have been missed.
            self._listener.add_termination_listener(self._notified)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            self._listener = None  # poll meanwhile; the next wait tries to listen again

    async def wait_for_change(self, seconds: float) -> None:
        """Until the store announces a commit, or ``seconds`` (the polling fallback)."""
        await self.listen()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)
        self._changed.clear()

    def _notified(self, *args: object) -> None:
        self._changed.set()


async def _upgrade_layout(conn: asyncpg.Connection, tables: Iterable[Table]) -> None:
    """Give a table made before it had them the storage parameters of its definition (new
    pages only; a rebuild rewrites them all). Its lock conflicts only with vacuum and schema
    changes, not with reads and writes, like the ``CREATE INDEX IF NOT EXISTS`` before it."""
    for table in tables:
        if not table.storage:
            continue
        options = await conn.fetchval(
            "SELECT reloptions FROM pg_catalog.pg_class WHERE oid = $1::regclass", table.name
        )
        if table.storage not in (options or []):
            await conn.execute(f"ALTER TABLE {table.name} SET ({table.storage})")


async def _write(conn: asyncpg.Connection, writes: Sequence[Write]) -> None:
    """``writes`` in ``conn``'s transaction: deletions, upserts (copied to a staging table,
    then merged), insertions (copied straight in), additions to totals (staged, then
    merged)."""
    for write in writes:
        table = write.table
        if write.delete:
            await conn.execute(
                f"DELETE FROM {table.name} WHERE {write.key_column} = ANY($1)", list(write.delete)
            )
        if write.upsert:
            await conn.execute(_stage(table))
            await conn.copy_records_to_table(
                f"stage_{table.name}", records=write.upsert, columns=table.names
            )
            await conn.execute(_upsert_staged(table))
        if write.insert:
            await conn.copy_records_to_table(table.name, records=write.insert, columns=table.names)
        if write.add:
            await conn.execute(_stage_added(table))
            await conn.copy_records_to_table(
                f"added_{table.name}", records=write.add, columns=table.names
            )
            await conn.execute(_add_staged(table))
            await conn.execute(_drop_zeros(table))


async def _session(conn: asyncpg.Connection) -> None:
    await conn.execute("SET synchronous_commit = off")
