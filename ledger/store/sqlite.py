"""The embedded event store: one SQLite file, so ``ledger serve`` needs no database server.

Writes go through one writer thread with its own connection. Appends from any number of asyncio
tasks are queued; the writer drains the queue into one ``BEGIN IMMEDIATE`` transaction (group
commit), so a burst of appends costs one fsync, not one each.

Durability: WAL with ``synchronous=FULL``. With NORMAL, WAL commits are only fsynced at
checkpoints, so a power cut can lose transactions whose appends were already acknowledged; a
ledger must not forget what it confirmed. Group commit keeps the price of FULL (one WAL fsync per
transaction) shared by the whole batch.

Several processes may open the same file. ``BEGIN IMMEDIATE`` takes SQLite's write lock, and
everything the batch decision depends on (head, case versions and hashes, idempotency keys) is
read from the file under that lock, never from memory, so another process's appends are seen.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from ledger.store import metrics
from ledger.store.base import StoreBase, aware
from ledger.store.batch import (
    AppendRequest,
    BatchPlan,
    CaseTip,
    check_request,
    decode_result,
    numbering_years,
    plan_batch,
)
from ledger.store.database import Database, Dialect
from ledger.store.port import (
    AppendHook,
    AppendResult,
    Idempotency,
    IdempotencyRecord,
    NewEvent,
    Numbering,
    RecordedEvent,
    Snapshot,
    StoreError,
)
from ledger.store.snapshots import CANDIDATES, first_intact, snapshot_digest
from ledger.store.sql import (
    COLUMNS,
    SQLITE_INSERT_EVENT,
    SQLITE_INSERT_KEY,
    SQLITE_LATEST_SNAPSHOTS,
    SQLITE_OLD_SNAPSHOTS,
    SQLITE_SAVE_SNAPSHOT,
    SQLITE_SCHEMA,
)

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    """recorded_at is kept as integer microseconds since the epoch (UTC): exact, and it sorts."""
    return (aware(moment) - _EPOCH) // _US


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _row_to_record(row: tuple[Any, ...]) -> RecordedEvent:
    position, case_id, version, topic, state, metadata, recorded_at, prev_hash, digest = row
    return RecordedEvent(
        position=position,
        case_id=UUID(case_id),
        version=version,
        topic=topic,
        state=state,
        metadata=metadata,
        recorded_at=from_micros(recorded_at),
        prev_hash=prev_hash,
        hash=digest,
    )


class _Job:
    __slots__ = ("future", "request")

    def __init__(self, request: AppendRequest) -> None:
        self.request = request
        self.future: Future[AppendResult] = Future()


class SQLiteStore(StoreBase):
    """The SQLite adapter of ``EventStore``."""

    def __init__(
        self,
        db: Database | str | os.PathLike[str],
        hooks: Sequence[AppendHook] = (),
        *,
        max_batch: int = 1000,
        busy_timeout: float = 30.0,
    ) -> None:
        # A Database, or a bare file path (tests, tools).
        if not isinstance(db, Database):
            path = os.fspath(db)
            db = Database(f"sqlite:///{path}", Dialect.SQLITE, path)
        self.database = db
        self.path = self.database.path
        self.hooks = tuple(hooks)
        self.max_batch = max_batch
        self.busy_timeout = busy_timeout
        self.committed_batches = 0  # transactions committed by this instance's writer
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        # Snapshots are written outside the writer thread, on their own connection (see
        # ``save_snapshot``), one at a time.
        self._snapshot_conn: sqlite3.Connection | None = None
        self._snapshot_lock = threading.Lock()
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are begun explicitly (BEGIN IMMEDIATE for writes).
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    # -- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        conn = await asyncio.to_thread(self._open_writer)
        self._writer = threading.Thread(
            target=self._run_writer,
            args=(conn,),
            name=f"ledger-sqlite-writer:{self.path}",
            daemon=True,
        )
        self._writer.start()

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        conn.execute("PRAGMA journal_mode = WAL")  # persistent: recorded in the file itself
        if conn.execute(SQLITE_OLD_SNAPSHOTS).fetchone() is not None:
            conn.execute("DROP TABLE ledger_snapshots")  # a cache; made anew just below
        conn.executescript(SQLITE_SCHEMA + "".join(hook.sqlite_schema() for hook in self.hooks))
        return conn

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._jobs.put(None)  # the writer finishes what was queued before it, then stops
            await asyncio.to_thread(self._writer.join)
        while not self._readers.empty():
            self._readers.get_nowait().close()
        with self._snapshot_lock:
            if self._snapshot_conn is not None:
                self._snapshot_conn.close()
                self._snapshot_conn = None

    # -- appending ----------------------------------------------------------------------------

    async def append(
        self,
        case_id: UUID,
        expected_version: int,
        events: Sequence[NewEvent],
        idempotency: Idempotency | None = None,
        numbering: Numbering | None = None,
    ) -> AppendResult:
        request = check_request(case_id, expected_version, events, idempotency, numbering)
        if self._closed or self._writer is None:
            raise StoreError("the store is not open")
        job = _Job(request)
        self._jobs.put(job)
        # If the caller is cancelled before the writer picks the job up, the job is skipped.
        with metrics.APPEND_SECONDS.time():
            return await asyncio.wrap_future(job.future)

    def _run_writer(self, conn: sqlite3.Connection) -> None:
        try:
            stop = False
            while not stop:
                jobs: list[_Job] = []
                job = self._jobs.get()
                while job is not None:
                    if job.future.set_running_or_notify_cancel():
                        jobs.append(job)
                    if len(jobs) >= self.max_batch:
                        break
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                stop = job is None
                if jobs:
                    self._commit(conn, jobs)
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        requests = [job.request for job in jobs]
        started = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                plan = self._plan(conn, requests)
                if plan.records:
                    conn.executemany(SQLITE_INSERT_EVENT, (_record_row(r) for r in plan.records))
                    conn.executemany(
                        SQLITE_INSERT_KEY, ((str(c), k, f, res) for c, k, f, res in plan.keys)
                    )
                    conn.executemany(
                        "INSERT INTO ledger_case_numbers (year, last) VALUES (?, ?)"
                        " ON CONFLICT (year) DO UPDATE SET last = excluded.last",
                        plan.counters.items(),
                    )
                    for hook in self.hooks:
                        hook.on_append_sqlite(conn, plan.records)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except Exception as exc:  # nothing was committed: every request in the batch fails
            for job in jobs:
                job.future.set_exception(exc)
            return
        self.committed_batches += 1
        metrics.committed(len(jobs), time.perf_counter() - started)
        for job, outcome in zip(jobs, plan.outcomes, strict=True):
            if isinstance(outcome, AppendResult):
                job.future.set_result(outcome)
            else:
                job.future.set_exception(outcome)

    def _plan(self, conn: sqlite3.Connection, requests: list[AppendRequest]) -> BatchPlan:
        last = conn.execute(
            "SELECT position, recorded_at FROM ledger_events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        head, last_micros = last if last is not None else (0, 0)
        tips: dict[UUID, CaseTip] = {}
        used: dict[tuple[UUID, str], IdempotencyRecord] = {}
        for request in requests:
            case = request.case_id
            if case not in tips:
                row = conn.execute(
                    "SELECT version, hash FROM ledger_events WHERE case_id = ? "
                    "ORDER BY version DESC LIMIT 1",
                    (str(case),),
                ).fetchone()
                if row is not None:
                    tips[case] = CaseTip(row[0], row[1])
            if request.idempotency is not None:
                key = request.idempotency.key
                row = conn.execute(
                    "SELECT fingerprint, result FROM ledger_idempotency "
                    "WHERE case_id = ? AND key = ?",
                    (str(case), key),
                ).fetchone()
                if row is not None:
                    used[(case, key)] = IdempotencyRecord(row[0], decode_result(row[1]))
        # Stamped under the lock; never before the last stored time, even if the clock stepped
        # back or another process's clock runs ahead, so recorded_at never decreases.
        now = max(to_micros(datetime.now(UTC)), last_micros)
        counters: dict[int, int] = {}
        for year in numbering_years(requests):
            row = conn.execute("SELECT last FROM ledger_case_numbers WHERE year = ?", (year,))
            found = row.fetchone()
            counters[year] = found[0] if found is not None else 0
        return plan_batch(
            requests,
            head=head,
            recorded_at=from_micros(now),
            tips=tips,
            used_keys=used,
            counters=counters,
        )

    # -- reading ------------------------------------------------------------------------------

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            try:
                conn = self._readers.get_nowait()
            except queue.Empty:
                conn = self._connect()
                conn.execute("PRAGMA query_only = ON")
            try:
                return query(conn)
            finally:
                self._readers.put(conn)

        return await asyncio.to_thread(run)

    async def _records(self, sql: str, params: tuple[Any, ...]) -> list[RecordedEvent]:
        rows = await self._read(lambda conn: conn.execute(sql, params).fetchall())
        return [_row_to_record(row) for row in rows]

    async def read_case(
        self,
        case_id: UUID,
        *,
        to_version: int | None = None,
        as_of: datetime | None = None,
        after_version: int = 0,
    ) -> list[RecordedEvent]:
        sql = f"SELECT {COLUMNS} FROM ledger_events WHERE case_id = ?"
        params: list[Any] = [str(case_id)]
        if after_version:
            sql += " AND version > ?"
            params.append(after_version)
        if to_version is not None:
            sql += " AND version <= ?"
            params.append(to_version)
        if as_of is not None:
            sql += " AND recorded_at <= ?"
            params.append(to_micros(as_of))
        return await self._records(sql + " ORDER BY version", tuple(params))

    async def read_log(self, after: int, limit: int = 1000) -> list[RecordedEvent]:
        return await self._records(
            f"SELECT {COLUMNS} FROM ledger_events WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        )

    async def _scalar(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        row = await self._read(lambda conn: conn.execute(sql, params).fetchone())
        return int(row[0]) if row is not None and row[0] is not None else 0

    async def head(self) -> int:
        return await self._scalar("SELECT max(position) FROM ledger_events")

    async def case_version(self, case_id: UUID) -> int:
        return await self._scalar(
            "SELECT max(version) FROM ledger_events WHERE case_id = ?", (str(case_id),)
        )

    async def position_at(self, as_of: datetime) -> int:
        return await self._scalar(
            "SELECT position FROM ledger_events WHERE recorded_at <= ? "
            "ORDER BY recorded_at DESC, position DESC LIMIT 1",
            (to_micros(as_of),),
        )

    async def idempotency_record(self, case_id: UUID, key: str) -> IdempotencyRecord | None:
        row = await self._read(
            lambda conn: conn.execute(
                "SELECT fingerprint, result FROM ledger_idempotency WHERE case_id = ? AND key = ?",
                (str(case_id), key),
            ).fetchone()
        )
        return None if row is None else IdempotencyRecord(row[0], decode_result(row[1]))

    # -- snapshots (a cache beside the log) ------------------------------------------------------

    async def save_snapshot(
        self, case_id: UUID, version: int, topic: str, state: bytes, event_hash: bytes
    ) -> None:
        """Written on a connection of its own rather than queued to the writer: it needs no
        decision under the append lock, and holds SQLite's write lock for one small row, without
        waiting for an fsync (``synchronous = NORMAL``: in WAL mode the file stays consistent,
        and a snapshot lost in a power cut costs only a longer fold)."""
        if self._closed:
            raise StoreError("the store is not open")
        row = (
            str(case_id),
            version,
            topic,
            state,
            event_hash,
            snapshot_digest(case_id, version, topic, state, event_hash),
        )

        def write() -> None:
            with self._snapshot_lock:
                if self._closed:  # closed meanwhile: do not open a connection nobody closes
                    raise StoreError("the store is not open")
                if self._snapshot_conn is None:
                    self._snapshot_conn = self._connect()
                    self._snapshot_conn.execute("PRAGMA synchronous = NORMAL")
                self._snapshot_conn.execute(SQLITE_SAVE_SNAPSHOT, row)

        await asyncio.to_thread(write)

    async def latest_snapshot(
        self, case_id: UUID, topic: str, at_most_version: int | None = None
    ) -> Snapshot | None:
        limit = _MAX_VERSION if at_most_version is None else at_most_version
        rows = await self._read(
            lambda conn: conn.execute(
                SQLITE_LATEST_SNAPSHOTS, (str(case_id), topic, limit, CANDIDATES)
            ).fetchall()
        )
        return first_intact(case_id, rows)


_MAX_VERSION = 2**63 - 1


def _record_row(r: RecordedEvent) -> tuple[Any, ...]:
    return (
        r.position,
        str(r.case_id),
        r.version,
        r.topic,
        r.state,
        r.metadata,
        to_micros(r.recorded_at),
        r.prev_hash,
        r.hash,
    )
