"""Whole-ledger verification as a background job, visible from every process of the database.

``GET /v1/ledger/verify`` answers with the report in the request, which suits a small ledger; a
big one takes minutes, longer than a request may. A job is a row of ``ledger_verifications``
(``ledger.audit.db``) in the ledger's own database, so whichever API process or host a client
asks answers the same:

- ``start`` inserts the job (``queued``, who asked: from the token) and runs it in this process
  (``running``); at most one job is queued or running per ledger — a unique partial index says
  so to every process at once — and a request made meanwhile gets that job instead of a second
  pass over the whole log.
- The running verifier reports its progress through ``verify_ledger``'s callback, which only
  keeps two numbers; a heartbeat task writes them with the time every ``heartbeat`` seconds.
- Finished, the job holds the same report ``GET /v1/ledger/verify`` gives (``done``; a ledger
  that fails verification is a ``done`` job whose report says ``ok: false``), or the reason it
  could not finish (``failed``: an error, this process stopping).
- A job whose heartbeat is older than ``stale`` seconds was left by a process that died (killed,
  its host lost): the next request that reads or starts a job, in any process, marks it
  ``failed`` and says so; a new one may then start. Jobs are not resumed: a verification is one
  pass whose state (the rebuilt tree, every case's chain tip) lives in the verifier's memory.

Times come from each process's clock (UTC), so the hosts of one database keep their clocks
within a few seconds of each other (NTP), well inside ``stale``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID, uuid4

import msgspec

from ledger.audit.db import AuditDB
from ledger.audit.errors import AuditError
from ledger.audit.verify import Progress, VerifyReport

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0  # how often a running job writes its progress and heartbeat
STALE_SECONDS = 30.0  # a job silent for this long was left by a process that is gone
ACTIVE = ("queued", "running")

Verify = Callable[[Progress], Awaitable[VerifyReport]]


class VerificationNotFound(AuditError, LookupError):
    code = "VERIFICATION_NOT_FOUND"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobProgress(msgspec.Struct, frozen=True):
    events_checked: int
    events_total: int  # the log's size when the run began (0: not known yet)
    fraction: float  # 0 to 1


class VerificationJob(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    status: JobStatus
    requested_by: str  # staff id, from the token of whoever started it
    requested_by_name: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime  # the running process's last sign of life
    progress: JobProgress
    report: VerifyReport | None  # when done: what GET /v1/ledger/verify gives
    error: str | None  # when failed: why it did not finish

    @property
    def active(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)


_COLUMNS = (
    "id, status, requested_by, requested_by_name, requested_at, started_at, finished_at, "
    "heartbeat_at, events_checked, events_total, report, error"
)
_report_decoder = msgspec.json.Decoder(VerifyReport)


def _job(row: Any) -> VerificationJob:
    (
        job_id,
        status,
        by,
        name,
        requested,
        started,
        finished,
        beat,
        checked,
        total,
        report,
        error,
    ) = tuple(row)
    status = JobStatus(status)
    done = 1.0 if status is JobStatus.DONE else 0.0
    fraction = min(checked / total, 1.0) if total else done
    return VerificationJob(
        id=UUID(str(job_id)),
        status=status,
        requested_by=by,
        requested_by_name=name,
        requested_at=_time(requested),
        started_at=None if started is None else _time(started),
        finished_at=None if finished is None else _time(finished),
        heartbeat_at=_time(beat),
        progress=JobProgress(int(checked), int(total), round(fraction, 4)),
        report=None if report is None else _report_decoder.decode(report),
        error=error,
    )


def _time(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC)


class JobTable(Protocol):
    """``ledger_verifications`` on one database. Updates are conditional on the job's
    ``owner`` and status, so a process that was declared gone changes nothing any more."""

    async def insert(self, job: VerificationJob, owner: str) -> bool:
        """False when another job is queued or running (the unique index refused it)."""

    async def get(self, job_id: UUID) -> VerificationJob | None: ...

    async def active(self) -> VerificationJob | None: ...

    async def latest(self) -> VerificationJob | None: ...

    async def claim(self, job_id: UUID, owner: str, now: datetime) -> bool: ...

    async def beat(
        self, job_id: UUID, owner: str, now: datetime, checked: int, total: int
    ) -> bool: ...

    async def finish(
        self,
        job_id: UUID,
        owner: str,
        now: datetime,
        status: JobStatus,
        checked: int,
        total: int,
        report: bytes | None,
        error: str | None,
    ) -> bool: ...

    async def fail_stale(self, before: datetime, now: datetime) -> int:
        """Mark failed every active job whose heartbeat is older than ``before``."""

    async def close(self) -> None: ...


class _PostgresJobs:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def insert(self, job: VerificationJob, owner: str) -> bool:
        status = await self.pool.execute(
            "INSERT INTO ledger_verifications (id, status, requested_by, requested_by_name, "
            "requested_at, heartbeat_at, owner) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT DO NOTHING",
            job.id,
            job.status.value,
            job.requested_by,
            job.requested_by_name,
            job.requested_at,
            job.heartbeat_at,
            owner,
        )
        return bool(status.endswith(" 1"))

    async def _one(self, tail: str, *args: Any) -> VerificationJob | None:
        row = await self.pool.fetchrow(f"SELECT {_COLUMNS} FROM ledger_verifications {tail}", *args)
        return None if row is None else _job(row)

    async def get(self, job_id: UUID) -> VerificationJob | None:
        return await self._one("WHERE id = $1", job_id)

    async def active(self) -> VerificationJob | None:
        return await self._one("WHERE status IN ('queued', 'running') LIMIT 1")

    async def latest(self) -> VerificationJob | None:
        return await self._one("ORDER BY requested_at DESC LIMIT 1")

    async def claim(self, job_id: UUID, owner: str, now: datetime) -> bool:
        status = await self.pool.execute(
            "UPDATE ledger_verifications SET status = 'running', started_at = $3, "
            "heartbeat_at = $3 WHERE id = $1 AND owner = $2 AND status = 'queued'",
            job_id,
            owner,
            now,
        )
        return bool(status.endswith(" 1"))

    async def beat(self, job_id: UUID, owner: str, now: datetime, checked: int, total: int) -> bool:
        status = await self.pool.execute(
            "UPDATE ledger_verifications SET heartbeat_at = $3, events_checked = $4, "
            "events_total = $5 WHERE id = $1 AND owner = $2 AND status = 'running'",
            job_id,
            owner,
            now,
            checked,
            total,
        )
        return bool(status.endswith(" 1"))

    async def finish(
        self,
        job_id: UUID,
        owner: str,
        now: datetime,
        status: JobStatus,
        checked: int,
        total: int,
        report: bytes | None,
        error: str | None,
    ) -> bool:
        done = await self.pool.execute(
            "UPDATE ledger_verifications SET status = $3, finished_at = $4, heartbeat_at = $4, "
            "events_checked = $5, events_total = $6, report = $7, error = $8 "
            "WHERE id = $1 AND owner = $2 AND status IN ('queued', 'running')",
            job_id,
            owner,
            status.value,
            now,
            checked,
            total,
            None if report is None else report.decode(),
            error,
        )
        return bool(done.endswith(" 1"))

    async def fail_stale(self, before: datetime, now: datetime) -> int:
        status = await self.pool.execute(
            "UPDATE ledger_verifications SET status = 'failed', finished_at = $2, "
            "error = 'the process running it stopped: no heartbeat since ' || "
            "to_char(heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
            "WHERE status IN ('queued', 'running') AND heartbeat_at < $1",
            before,
            now,
        )
        return int(status.rsplit(" ", 1)[-1])

    async def close(self) -> None:
        """Nothing to do: the pool belongs to the event store."""


def _text(moment: datetime) -> str:
    # One width for every time, so that the text sorts as the time does.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class _SQLiteJobs:
    """Its own connection to the store's file, used from a worker thread."""

    def __init__(self, path: str, busy_timeout: float = 30.0) -> None:
        self._conn = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()

    async def _run(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[int, list[Any]]:
        """The rows of ``sql`` and how many rows it changed."""

        def call() -> tuple[int, list[Any]]:
            with self._lock:
                cur = self._conn.execute(sql, params)
                return cur.rowcount, cur.fetchall()

        return await asyncio.to_thread(call)

    async def insert(self, job: VerificationJob, owner: str) -> bool:
        changed, _ = await self._run(
            "INSERT OR IGNORE INTO ledger_verifications (id, status, requested_by, "
            "requested_by_name, requested_at, heartbeat_at, owner) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                str(job.id),
                job.status.value,
                job.requested_by,
                job.requested_by_name,
                _text(job.requested_at),
                _text(job.heartbeat_at),
                owner,
            ),
        )
        return changed == 1

    async def _one(self, tail: str, params: tuple[Any, ...] = ()) -> VerificationJob | None:
        _, rows = await self._run(f"SELECT {_COLUMNS} FROM ledger_verifications {tail}", params)
        return _job(rows[0]) if rows else None

    async def get(self, job_id: UUID) -> VerificationJob | None:
        return await self._one("WHERE id = ?", (str(job_id),))

    async def active(self) -> VerificationJob | None:
        return await self._one("WHERE status IN ('queued', 'running') LIMIT 1")

    async def latest(self) -> VerificationJob | None:
        return await self._one("ORDER BY requested_at DESC LIMIT 1")

    async def claim(self, job_id: UUID, owner: str, now: datetime) -> bool:
        changed, _ = await self._run(
            "UPDATE ledger_verifications SET status = 'running', started_at = ?, "
            "heartbeat_at = ? WHERE id = ? AND owner = ? AND status = 'queued'",
            (_text(now), _text(now), str(job_id), owner),
        )
        return changed == 1

    async def beat(self, job_id: UUID, owner: str, now: datetime, checked: int, total: int) -> bool:
        changed, _ = await self._run(
            "UPDATE ledger_verifications SET heartbeat_at = ?, events_checked = ?, "
            "events_total = ? WHERE id = ? AND owner = ? AND status = 'running'",
            (_text(now), checked, total, str(job_id), owner),
        )
        return changed == 1

    async def finish(
        self,
        job_id: UUID,
        owner: str,
        now: datetime,
        status: JobStatus,
        checked: int,
        total: int,
        report: bytes | None,
        error: str | None,
    ) -> bool:
        changed, _ = await self._run(
            "UPDATE ledger_verifications SET status = ?, finished_at = ?, heartbeat_at = ?, "
            "events_checked = ?, events_total = ?, report = ?, error = ? "
            "WHERE id = ? AND owner = ? AND status IN ('queued', 'running')",
            (
                status.value,
                _text(now),
                _text(now),
                checked,
                total,
                None if report is None else report.decode(),
                error,
                str(job_id),
                owner,
            ),
        )
        return changed == 1

    async def fail_stale(self, before: datetime, now: datetime) -> int:
        changed, _ = await self._run(
            "UPDATE ledger_verifications SET status = 'failed', finished_at = ?, "
            "error = 'the process running it stopped: no heartbeat since ' || "
            "substr(heartbeat_at, 1, 19) || 'Z' "
            "WHERE status IN ('queued', 'running') AND heartbeat_at < ?",
            (_text(now), _text(before)),
        )
        return changed

    async def close(self) -> None:
        def call() -> None:
            with self._lock:
                self._conn.close()

        await asyncio.to_thread(call)


def open_job_table(db: AuditDB) -> JobTable:
    """``ledger_verifications`` in the database of ``db`` (created with the audit tables)."""
    if db.dialect == "postgresql":
        return _PostgresJobs(getattr(db, "pool"))  # noqa: B009 - PostgresAuditDB's pool
    return _SQLiteJobs(getattr(db, "path"))  # noqa: B009 - SQLiteAuditDB's file


class _Tally:
    """What the verifier's progress callback keeps: two numbers, nothing else per call."""

    __slots__ = ("checked", "total")

    def __init__(self) -> None:
        self.checked = self.total = 0

    def __call__(self, checked: int, total: int) -> None:
        self.checked, self.total = checked, total


def _owner() -> str:
    """This process, as job rows name it (host, pid and a random part: pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"


class VerificationJobs:
    """Starts, runs and reads verification jobs of one ledger (``AuditService.verifications``).

    ``verify(progress)`` runs one verification (``AuditService.verify``).
    """

    def __init__(
        self,
        table: JobTable,
        verify: Verify,
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        stale: float = STALE_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if heartbeat <= 0 or stale <= heartbeat:
            raise ValueError("a job's heartbeat must be positive and well inside its staleness")
        self.table, self.verify = table, verify
        self.heartbeat, self.stale, self.clock = heartbeat, timedelta(seconds=stale), clock
        self.owner = _owner()
        self._running: dict[UUID, asyncio.Task[None]] = {}

    async def _expire(self) -> None:
        now = self.clock()
        expired = await self.table.fail_stale(now - self.stale, now)
        if expired:
            log.warning("%d verification job(s) left without a heartbeat marked failed", expired)

    async def start(self, staff_id: str, name: str) -> tuple[VerificationJob, bool]:
        """A new job, running in this process; or, while one is queued or running anywhere,
        that one. Returns the job and whether it was created by this call."""
        for _ in range(5):  # the active one may finish between the insert and the read
            await self._expire()
            now = self.clock()
            job = VerificationJob(
                id=uuid4(),
                status=JobStatus.QUEUED,
                requested_by=staff_id,
                requested_by_name=name,
                requested_at=now,
                started_at=None,
                finished_at=None,
                heartbeat_at=now,
                progress=JobProgress(0, 0, 0.0),
                report=None,
                error=None,
            )
            if await self.table.insert(job, self.owner):
                self._running[job.id] = asyncio.create_task(
                    self._run(job.id), name=f"verification-{job.id}"
                )
                return job, True
            active = await self.table.active()
            if active is not None:
                return active, False
        raise RuntimeError("could not start a verification job: the table kept changing")

    async def get(self, job_id: UUID) -> VerificationJob:
        await self._expire()
        job = await self.table.get(job_id)
        if job is None:
            raise VerificationNotFound(f"there is no verification job {job_id}")
        return job

    async def latest(self) -> VerificationJob | None:
        """The job requested last (running or finished), if any."""
        await self._expire()
        return await self.table.latest()

    async def _run(self, job_id: UUID) -> None:
        try:
            if not await self.table.claim(job_id, self.owner, self.clock()):
                return  # declared gone before it began
            tally = _Tally()
            verifying = asyncio.ensure_future(self.verify(tally))
            beating = asyncio.create_task(self._beat(job_id, tally, verifying))
            try:
                report = await verifying
            finally:
                beating.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beating
            await self._finish(
                job_id,
                JobStatus.DONE,
                report.events_checked,
                max(tally.total, report.events_checked),
                msgspec.json.encode(report),
                None,
            )
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    self._finish(
                        job_id, JobStatus.FAILED, 0, 0, None, "stopped: the server shut down"
                    )
                )
            raise
        except Exception as exc:
            log.exception("verification job %s failed", job_id)
            with contextlib.suppress(Exception):
                await self._finish(job_id, JobStatus.FAILED, 0, 0, None, f"{exc!r}"[:2000])
        finally:
            self._running.pop(job_id, None)

    async def _finish(
        self,
        job_id: UUID,
        status: JobStatus,
        checked: int,
        total: int,
        report: bytes | None,
        error: str | None,
    ) -> None:
        if not await self.table.finish(
            job_id, self.owner, self.clock(), status, checked, total, report, error
        ):
            log.warning("verification job %s was already marked failed elsewhere", job_id)

    async def _beat(
        self, job_id: UUID, tally: _Tally, verifying: asyncio.Future[VerifyReport]
    ) -> None:
        """Progress and a sign of life every ``heartbeat`` seconds. If the row is no longer
        this process's running job (another process declared it gone), stop verifying."""
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                mine = await self.table.beat(
                    job_id, self.owner, self.clock(), tally.checked, tally.total
                )
            except Exception as exc:  # a missed beat is retried; staleness is judged by others
                log.warning("verification job %s: heartbeat not written: %s", job_id, exc)
                continue
            if not mine:
                verifying.cancel()
                return

    async def close(self) -> None:
        """Stop this process's jobs (each is marked failed: the server stopped)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.table.close()
