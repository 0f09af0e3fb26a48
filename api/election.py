"""One projection runner and one checkpoint signer per database, however many API processes serve
it: each process's background job first wins an election, and the others stand by.

On PostgreSQL the vote is a session advisory lock (``pg_try_advisory_lock``) held on a connection
of its own: the process that holds it runs the job; the others ask again every
``RETRY_SECONDS``. A holder that exits, crashes or loses its connection releases the lock with
its session, and another process takes over within a few seconds. While holding it, the holder
checks its connection every ``RETRY_SECONDS``; a lost connection (the lock may be someone else's
by now) stops its job before another can start. On SQLite the vote is an exclusive ``flock`` on a
file beside the database (``<db>.<job>.lock``), released by the kernel when the process ends.

Two runners or two signers at once would still be correct (the runner's tracking row and the
checkpoint table refuse what another already did); the election saves the duplicated work and
the conflicts, and lets several processes or hosts run with no flags.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from ledger.config import Settings
from ledger.store import failures, sqlite_path

log = logging.getLogger("api.election")

RETRY_SECONDS = 2.0
UNREACHABLE_RETRY_SECONDS = 0.5  # after an outage: the runner resumes within this of its end
Job = Callable[[asyncio.Event], Awaitable[None]]


def lock_key(role: str) -> int:
    """The advisory lock of ``role``: a stable number, the same in every process."""
    return 0x1ED6E0000000 + zlib.crc32(f"ledger:{role}".encode())


async def elected(settings: Settings, role: str, stop: asyncio.Event, job: Job) -> None:
    """Run ``job`` whenever this process holds the ``role`` vote, until ``stop``."""
    vote = _PostgresVote(settings, role) if not settings.is_sqlite else _FileVote(settings, role)
    announced = False
    while not stop.is_set():
        won = await vote.take()
        if won is None:  # the database did not answer: ask again as soon as it may be back
            await _wait(stop, UNREACHABLE_RETRY_SECONDS)
            continue
        if not won:
            if not announced:
                log.info("%s: another process holds it; standing by", role)
                announced = True
            await _wait(stop, RETRY_SECONDS)
            continue
        announced = False
        log.info("%s: this process runs it", role)
        term = asyncio.Event()  # set when stopping or when the vote is lost
        watch = asyncio.create_task(_watch(vote, stop, term))
        try:
            await job(term)
        finally:
            term.set()
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
            lost = vote.lost
            await vote.release()
        if lost and not stop.is_set():
            log.warning("%s: lost its vote; standing by", role)


async def _watch(vote: _PostgresVote | _FileVote, stop: asyncio.Event, term: asyncio.Event) -> None:
    """Until ``stop`` or the vote is lost; then the job's term ends."""
    try:
        await vote.watch(stop)
    finally:
        term.set()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class _PostgresVote:
    def __init__(self, settings: Settings, role: str) -> None:
        self.url, self.key = settings.database_url, lock_key(role)
        self.timeouts = settings.timeouts
        self.conn: asyncpg.Connection | None = None
        self.lost = False

    async def take(self) -> bool | None:
        """True: won; False: another session holds the lock; None: no answer."""
        self.lost = False
        try:
            conn = await asyncpg.connect(self.url, **self.timeouts.connect_kwargs())
        except Exception as exc:
            log.warning("cannot vote: %s", failures.explain(exc))
            return None
        try:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key):
                self.conn = conn
                return True
        except Exception as exc:
            log.warning("cannot vote: %s", failures.explain(exc))
            conn.terminate()
            return None
        conn.terminate()
        return False

    async def watch(self, stop: asyncio.Event) -> None:
        conn = self.conn
        assert conn is not None
        while not stop.is_set():
            await _wait(stop, RETRY_SECONDS)
            try:
                await conn.fetchval("SELECT 1", timeout=RETRY_SECONDS)
            except Exception:
                if stop.is_set():
                    return
                self.lost = True
                conn.terminate()  # the lock goes with the session, on the server's side too
                return

    async def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None or conn.is_closed():
            return
        try:  # closing the session releases the lock
            await asyncio.wait_for(conn.close(), self.timeouts.command)
        except Exception:
            conn.terminate()


class _FileVote:
    def __init__(self, settings: Settings, role: str) -> None:
        self.path = Path(f"{sqlite_path(settings.database_url)}.{role}.lock")
        self.fd: int | None = None
        self.lost = False

    async def take(self) -> bool | None:
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    async def watch(self, stop: asyncio.Event) -> None:
        await stop.wait()  # a file lock is not lost while the process lives

    async def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # releases the lock
