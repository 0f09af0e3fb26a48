"""The production event store: PostgreSQL through asyncpg.

Appends are serialized by a row lock on the one-row ``ledger_head`` table, taken by every append
transaction of every process, so positions are assigned and committed in the same order and are
never skipped (a sequence would leave gaps on rollback). To keep that lock from becoming one
transaction (and one fsync) per event, each store instance has one writer task that drains the
queue of pending appends into a single transaction (group commit):

    lock the head row → read the batch's case tips and idempotency keys in one query each →
    decide every request (``ledger.store.batch``) → one statement inserting all accepted rows via
    ``unnest``, the idempotency rows, the new head and its ``pg_notify`` → hooks → COMMIT

and only after COMMIT returns is any caller answered. If the transaction fails, every request in
it gets the error (an append whose COMMIT outcome is unknown may have been recorded; callers retry
with the same idempotency key). A transaction that does not finish within the append timeout
(``ledger.store.timeouts``: a frozen or partitioned server) fails its callers the same way, and
its connection is dropped, so the next batch starts on a fresh one once the server answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

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
from ledger.store.database import Database, database
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
    PG_KEYS,
    PG_LATEST_SNAPSHOTS,
    PG_LOCK_HEAD,
    PG_SAVE_SNAPSHOT,
    PG_SCHEMA,
    PG_TIPS,
    PG_WRITE,
    SCHEMA_LOCK,
)
from ledger.store.timeouts import DatabaseTimeouts, create_pool


class AppendTimeout(StoreError, TimeoutError):
    """The group commit did not finish in time; it may or may not have been recorded."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the database did not commit within {seconds:g} s; the append may have been"
            " recorded: retry with the same Idempotency-Key"
        )


def _to_record(row: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(
        position=row[0],
        case_id=row[1],
        version=row[2],
        topic=row[3],
        state=row[4],
        metadata=row[5],
        recorded_at=row[6],
        prev_hash=row[7],
        hash=row[8],
    )


class _Job:
    __slots__ = ("future", "request")

    def __init__(self, request: AppendRequest, future: asyncio.Future[AppendResult]) -> None:
        self.request, self.future = request, future


def _settle(future: asyncio.Future[AppendResult], outcome: AppendResult | BaseException) -> None:
    if future.done():  # the caller gave up waiting (cancelled)
        return
    if isinstance(outcome, AppendResult):
        future.set_result(outcome)
    else:
        future.set_exception(outcome)


class PostgresStore(StoreBase):
    """The PostgreSQL adapter of ``EventStore``."""

    def __init__(
        self,
        db: Database | str,
        hooks: Sequence[AppendHook] = (),
        *,
        min_pool: int = 1,
        max_pool: int = 10,
        max_batch: int = 1000,
        timeouts: DatabaseTimeouts | None = None,
    ) -> None:
        self.database = database(db)
        self.url = self.database.url
        self.timeouts = timeouts or DatabaseTimeouts.from_env()
        self.hooks = tuple(hooks)
        self.min_pool, self.max_pool, self.max_batch = min_pool, max_pool, max_batch
        self.committed_batches = 0  # transactions committed by this instance's writer
        self._pool: asyncpg.Pool | None = None
        # The writer's own connection, outside the pool: a pool release costs a reset round trip,
        # and a writer holding a pool slot could starve readers of a small pool.
        self._conn: asyncpg.Connection | None = None
        self._jobs: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the store is not open")
        return self._pool

    # -- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        conn = await self._writer_connection()
        async with conn.transaction():
            # Concurrent CREATE … IF NOT EXISTS can still collide in the catalog: serialize the
            # schema set-up of processes starting together.
            await conn.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            await conn.execute(PG_SCHEMA)
            for hook in self.hooks:
                await conn.execute(hook.postgres_schema())
        self._pool = await create_pool(
            self.url, self.timeouts, min_size=self.min_pool, max_size=self.max_pool, reset=_no_reset
        )
        self._writer = asyncio.create_task(self._run_writer(), name="ledger-postgres-writer")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            await self._jobs.put(None)  # the writer finishes what was queued before it, then stops
            await self._writer
        if self._conn is not None:
            await self._conn.close()
        if self._pool is not None:
            await self._pool.close()

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
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self._jobs.put_nowait(_Job(request, future))
        with metrics.APPEND_SECONDS.time():
            return await future

    async def _run_writer(self) -> None:
        stop = False
        while not stop:
            jobs: list[_Job] = []
            job = await self._jobs.get()
            while job is not None:
                if not job.future.done():  # skip callers that were cancelled while queued
                    jobs.append(job)
                if len(jobs) >= self.max_batch:
                    break
                try:
                    job = self._jobs.get_nowait()
                except asyncio.QueueEmpty:
                    break
            stop = job is None
            if jobs:
                await self._commit(jobs)

    async def _writer_connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():  # first use, or lost with a batch
            self._conn = await asyncpg.connect(self.url, **self.timeouts.connect_kwargs())
        return self._conn

    async def _commit(self, jobs: list[_Job]) -> None:
        requests = [job.request for job in jobs]
        started = time.perf_counter()
        try:
            plan = await self._bounded(self._transact(requests))
        except Exception as exc:  # not committed (or not known to be): everyone gets the error
            if not isinstance(exc, asyncpg.PostgresError) and self._conn is not None:
                # Timed out or cut off mid-protocol: the connection's state is unknown.
                self._conn.terminate()
            for job in jobs:
                _settle(job.future, exc)
            return
        except BaseException:  # the writer itself is being cancelled: do not leave callers hanging
            for job in jobs:
                _settle(job.future, StoreError("the store was shut down during the append"))
            raise
        self.committed_batches += 1
        metrics.committed(len(jobs), time.perf_counter() - started)
        for job, outcome in zip(jobs, plan.outcomes, strict=True):
            _settle(job.future, outcome)

    async def _transact(self, requests: list[AppendRequest]) -> BatchPlan:
        conn = await self._writer_connection()
        async with conn.transaction():
            plan = await self._plan(conn, requests)
            if plan.records:
                await conn.execute(PG_WRITE, *_write_args(plan))
                for hook in self.hooks:
                    await hook.on_append_postgres(conn, plan.records)
        return plan

    async def _bounded(self, transaction: Awaitable[BatchPlan]) -> BatchPlan:
        """The transaction's plan, or ``AppendTimeout`` once it took ``timeouts.append``: then
        its connection is terminated first (a cancelled statement would wait for the server to
        acknowledge the cancel), which also ends the transaction."""
        task = asyncio.ensure_future(transaction)
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeouts.append)
        except BaseException:
            task.cancel()
            raise
        if task in done:
            return task.result()
        if self._conn is not None:
            self._conn.terminate()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise AppendTimeout(self.timeouts.append)

    async def _plan(self, conn: asyncpg.Connection, requests: list[AppendRequest]) -> BatchPlan:
        locked = await conn.fetchrow(PG_LOCK_HEAD)
        cases = list(dict.fromkeys(request.case_id for request in requests))
        tips: dict[UUID, CaseTip] = {}
        now: datetime = locked["recorded_at"]
        given: dict[int, int] = {}
        for row in await conn.fetch(PG_TIPS, cases):
            now = row["now"]
            given = dict(zip(row["number_years"] or (), row["number_lasts"] or (), strict=True))
            if row["version"] is not None:
                tips[row["case_id"]] = CaseTip(row["version"], row["hash"])
        used: dict[tuple[UUID, str], IdempotencyRecord] = {}
        keyed = [(r.case_id, r.idempotency.key) for r in requests if r.idempotency is not None]
        if keyed:
            rows = await conn.fetch(PG_KEYS, [c for c, _ in keyed], [k for _, k in keyed])
            for row in rows:
                used[(row["case_id"], row["key"])] = IdempotencyRecord(
                    row["fingerprint"], decode_result(row["result"])
                )
        # Never before the last stored time, so recorded_at is non-decreasing along positions.
        recorded_at = max(now, locked["recorded_at"])
        # Read under the head's lock, which every append takes first: no two batches give out
        # the same number.
        counters = {year: given.get(year, 0) for year in numbering_years(requests)}
        return plan_batch(
            requests,
            head=locked["position"],
            recorded_at=recorded_at,
            tips=tips,
            used_keys=used,
            counters=counters,
        )

    # -- reading ------------------------------------------------------------------------------

    async def read_case(
        self,
        case_id: UUID,
        *,
        to_version: int | None = None,
        as_of: datetime | None = None,
        after_version: int = 0,
    ) -> list[RecordedEvent]:
        rows = await self.pool.fetch(
            f"SELECT {COLUMNS} FROM ledger_events WHERE case_id = $1 AND version > $4"
            " AND ($2::integer IS NULL OR version <= $2)"
            " AND ($3::timestamptz IS NULL OR recorded_at <= $3) ORDER BY version",
            case_id,
            to_version,
            None if as_of is None else aware(as_of),
            after_version,
        )
        return [_to_record(row) for row in rows]

    async def read_log(self, after: int, limit: int = 1000) -> list[RecordedEvent]:
        rows = await self.pool.fetch(
            f"SELECT {COLUMNS} FROM ledger_events WHERE position > $1 ORDER BY position LIMIT $2",
            after,
            limit,
        )
        return [_to_record(row) for row in rows]

    async def head(self) -> int:
        return int(await self.pool.fetchval("SELECT position FROM ledger_head"))

    async def case_version(self, case_id: UUID) -> int:
        return int(
            await self.pool.fetchval(
                "SELECT coalesce(max(version), 0) FROM ledger_events WHERE case_id = $1", case_id
            )
        )

    async def position_at(self, as_of: datetime) -> int:
        return int(
            await self.pool.fetchval(
                "SELECT coalesce((SELECT position FROM ledger_events WHERE recorded_at <= $1"
                " ORDER BY recorded_at DESC, position DESC LIMIT 1), 0)",
                aware(as_of),
            )
        )

    async def idempotency_record(self, case_id: UUID, key: str) -> IdempotencyRecord | None:
        row = await self.pool.fetchrow(
            "SELECT fingerprint, result FROM ledger_idempotency WHERE case_id = $1 AND key = $2",
            case_id,
            key,
        )
        return None if row is None else IdempotencyRecord(row[0], decode_result(row[1]))

    # -- snapshots (a cache beside the log) ------------------------------------------------------

    async def save_snapshot(
        self, case_id: UUID, version: int, topic: str, state: bytes, event_hash: bytes
    ) -> None:
        digest = snapshot_digest(case_id, version, topic, state, event_hash)
        async with self.pool.acquire() as conn, conn.transaction():
            # A cache: losing the last ones in a crash costs a longer fold, so no WAL flush wait.
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute(PG_SAVE_SNAPSHOT, case_id, version, topic, state, event_hash, digest)

    async def latest_snapshot(
        self, case_id: UUID, topic: str, at_most_version: int | None = None
    ) -> Snapshot | None:
        rows = await self.pool.fetch(
            PG_LATEST_SNAPSHOTS, case_id, topic, at_most_version, CANDIDATES
        )
        return first_intact(case_id, rows)


def _write_args(plan: BatchPlan) -> list[Any]:
    records = plan.records
    return [
        [r.position for r in records],
        [r.case_id for r in records],
        [r.version for r in records],
        [r.topic for r in records],
        [r.state for r in records],
        [r.metadata for r in records],
        records[0].recorded_at,  # one stamp for the whole batch
        [r.prev_hash for r in records],
        [r.hash for r in records],
        [k[0] for k in plan.keys],
        [k[1] for k in plan.keys],
        [k[2] for k in plan.keys],
        [k[3] for k in plan.keys],
        plan.head,
        list(plan.counters),  # the last case number given out, per year numbered in the batch
        list(plan.counters.values()),
    ]


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Pooled connections carry no session state here (locks are transaction-scoped, nobody
    LISTENs on them), so asyncpg's reset query on every release would be a wasted round trip."""
