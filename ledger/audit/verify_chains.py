"""The chain pass of ``verify_ledger`` on PostgreSQL: ranges of positions, in parallel processes.

On PostgreSQL ``verify_ledger`` splits its work in two passes that run at the same time: the tree
pass (in the caller's process: positions 1..N, the Merkle tree rebuilt from the stored hashes and
compared with every stored node, checkpoints) and this chain pass (every case chain — version
sequence, ``prev_hash`` links, each hash recomputed from the event's content — and
``recorded_at`` never going back). The chain pass is most of the work (it reads and hashes every
event's content), so it is split by position into ranges, each checked by its own child process
(``python -m ledger.audit.verify_chains``; request on stdin, result on stdout, both msgpack), or,
for small logs and in tests, by tasks of the caller's event loop.

A range checks everything it can alone: times from the row before it on, hashes, and each case's
chain from the case's first row in the range on. How a case enters a range — its first row's
version and ``prev_hash`` — depends on the ranges before it: each range reports those openings and
its cases' tips (next version, last hash), and ``stitch`` judges the openings against the tips of
the ranges before, exactly as one serial pass would have (same faults, same texts).

Per row the database sends the case id as text and the time as JSON text (``db_postgres``), and
Python builds the canonical bytes of ``ledger.store.chain`` with one f-string: positions, versions,
the cached JSON of the topic, the hex of state and metadata. A row whose bytes do not hash to its
stored hash, or that breaks a check, is read again as a ``RecordedEvent`` and judged by
``verify_core.explain`` with ``canonical_bytes``: the fast encoding can only send a row down the
slow path, never let a bad one pass (a test pins it to ``canonical_bytes`` on real rows).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import select
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

import msgspec

from ledger.audit.db_postgres import Reader, chain_rows, chain_time_before, record_at
from ledger.audit.verify_core import Fault, explain, link_fault, rank, version_fault
from ledger.store.chain import GENESIS

MAX_POSITION = 2**63 - 1
PARALLEL_MIN = 20_000  # events: below this, child processes cost more than they save
_DAWN = datetime(1, 1, 1, tzinfo=UTC)
_START = (1, GENESIS)  # the tip of a case not seen yet
_encode = msgspec.json.Encoder().encode
_ROOT = str(Path(__file__).resolve().parents[2])  # where the ``ledger`` package lives
_PROGRESS = b"progress "  # a child's progress line on its error output: ``progress <rows>``


class ChainRange(msgspec.Struct, frozen=True):
    after: int  # the range is the rows with after < position <= upto
    upto: int
    first: bool  # no range before: a case first seen here must start at version 1, GENESIS


class ChainPart(msgspec.Struct):
    """What one range found, and what ``stitch`` needs to finish its chains."""

    faults: list[Fault]
    full: bool  # stopped early: more than twice max_faults faults
    rows: int
    rechecked: int  # rows the fast check sent down the exact, slow path
    # Cases first seen in a range that does not start the log: case id text → (position,
    # version, prev_hash) of that first row.
    openings: dict[str, tuple[int, int, bytes]]
    # Every case of the range → (next version, last hash) after its last row in the range.
    tips: dict[str, tuple[int, bytes]]


class _Request(msgspec.Struct, frozen=True):
    url: str
    range: ChainRange
    batch: int
    max_faults: int


class ChainWorkerError(RuntimeError):
    """A chain worker process failed (its error output is in the message)."""


class _Topics(dict[str, str]):
    """Topic → its JSON text (few distinct topics: each encoded once)."""

    def __missing__(self, topic: str) -> str:
        text = self[topic] = _encode(topic).decode()
        return text


def _norm_time(text: str) -> str:
    """PostgreSQL's JSON of a timestamp with the fraction padded to 6 digits, as ``isoformat``
    spells it. Anything else comes back unchanged (and fails the hash: the slow path judges)."""
    inner = text[1:-1]
    if len(inner) == 19:
        inner += ".000000"
    elif 20 < len(inner) < 26 and inner[19] == ".":
        inner = inner.ljust(26, "0")
    else:
        return text
    return f'"{inner}"'


def _time_of(text: str) -> datetime:
    return _DAWN if not text else datetime.fromisoformat(text[1:-1]).replace(tzinfo=UTC)


async def _pages(db: Reader, after: int, upto: int, batch: int) -> AsyncIterator[list[Any]]:
    """The range in pages, the next read while this one is checked."""
    page = await chain_rows(db, after, upto, batch)
    while page:
        ahead = (
            asyncio.ensure_future(chain_rows(db, page[-1][0], upto, batch))
            if len(page) == batch
            else None
        )
        try:
            yield page
        except BaseException:
            if ahead is not None:
                ahead.cancel()
            raise
        page = await ahead if ahead is not None else []


async def check_range(
    db: Reader,
    rng: ChainRange,
    batch: int = 10_000,
    max_faults: int = 100,
    progress: Callable[[int], None] | None = None,
) -> ChainPart:
    """Check the chains and times of one range of positions (``db``: a pool, or a connection
    when ``batch`` covers the whole range — reading ahead needs two connections).
    ``progress(rows)``: called after each page with the rows checked so far."""
    faults: list[Fault] = []
    cases: dict[str, tuple[int, bytes]] = {}
    openings: dict[str, tuple[int, int, bytes]] = {}
    get, topics, sha, first = cases.get, _Topics(), sha256, rng.first
    last_ts = ""  # "" sorts before every time: the dawn of the first range
    if not first:
        before = await chain_time_before(db, rng.after)
        last_ts = "" if before is None else _norm_time(before)
    rows_seen, rechecked, full = 0, 0, False
    async for page in _pages(db, rng.after, rng.upto, batch):
        rows_seen += len(page)
        for pos, case, ver, topic, state, meta, ts, prev, digest in page:
            if len(ts) != 28:
                ts = _norm_time(ts)
            tip = get(case)
            if tip is None:
                if first:
                    tip = _START
                else:  # how the case enters this range is judged by stitch()
                    openings[case] = (pos, ver, prev)
                    tip = (ver, prev)
            body = (
                f'[{pos},"{case}",{ver},{topics[topic]},"{state.hex()}","{meta.hex()}",'
                f'{ts[:-1]}+00:00"]'
            ).encode()
            if (
                ver != tip[0]
                or prev != tip[1]
                or ts < last_ts
                or sha(prev + body).digest() != digest
            ):
                rechecked += 1
                r = await record_at(db, pos)
                if r is not None:
                    judged = None if case in openings and openings[case][0] == pos else tip
                    faults.extend(
                        explain(r, None if judged is None else (*judged, case), _time_of(last_ts))
                    )
                    if len(faults) > 2 * max_faults:
                        faults, full = rank(faults)[:max_faults], True
            last_ts = ts
            cases[case] = (ver + 1, digest)
        if progress is not None:
            progress(rows_seen)
        if full:
            break
    tips = cases if rng.upto < MAX_POSITION else {}  # nothing comes after the last range
    return ChainPart(faults, full, rows_seen, rechecked, openings, tips)


def stitch(parts: Sequence[ChainPart]) -> list[Fault]:
    """Judge how each case enters each range against the ranges before it (in order)."""
    faults: list[Fault] = []
    tips: dict[str, tuple[int, bytes]] = {}
    for part in parts:
        for case, (pos, ver, prev) in part.openings.items():
            want_version, want_prev = tips.get(case, _START)
            if ver != want_version:
                faults.append(version_fault(pos, case, ver, want_version))
            elif prev != want_prev:
                faults.append(link_fault(pos, case, ver))
        if part.full:  # its tips stop where it stopped: later openings cannot be judged
            break
        tips.update(part.tips)
    return faults


def split(head: int, parts: int) -> list[ChainRange]:
    """``parts`` ranges of about equal size over positions 1..head; the last one open-ended
    (rows beyond the head, forged or not, are checked too)."""
    parts = max(1, min(parts, head))
    bounds = [head * k // parts for k in range(parts)] + [MAX_POSITION]
    return [ChainRange(bounds[k], bounds[k + 1], k == 0) for k in range(parts)]


async def _stderr(stream: asyncio.StreamReader, progress: Callable[[int], None] | None) -> bytes:
    """A child's error output, less the progress lines it writes there (``progress <rows>``),
    which go to ``progress``."""
    kept = bytearray()
    async for line in stream:
        if line.startswith(_PROGRESS) and line[len(_PROGRESS) :].strip().isdigit():
            if progress is not None:
                progress(int(line[len(_PROGRESS) :]))
        else:
            kept += line
    return bytes(kept)


async def check_in_child(
    url: str,
    rng: ChainRange,
    batch: int,
    max_faults: int,
    progress: Callable[[int], None] | None = None,
) -> ChainPart:
    """``check_range`` in a child process of its own (the URL travels on stdin, not argv); its
    progress comes back as lines on its error output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __name__,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None  # the three pipes were asked for
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it died: see below
            proc.stdin.write(msgspec.msgpack.encode(_Request(url, rng, batch, max_faults)))
            await proc.stdin.drain()
            proc.stdin.close()
        out, err = await asyncio.gather(proc.stdout.read(), _stderr(proc.stderr, progress))
        await proc.wait()
    finally:
        if proc.returncode is None:  # cancelled (or failed) while it ran
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip()[-2000:]
        raise ChainWorkerError(f"the chain check of positions {rng.after + 1}.. failed: {tail}")
    try:
        return msgspec.msgpack.decode(out, type=ChainPart)
    except msgspec.DecodeError as exc:
        raise ChainWorkerError(
            f"the chain check of positions {rng.after + 1}.. sent {len(out)} bytes that do "
            f"not decode: {exc}"
        ) from exc


async def check_chains(
    db: Reader,
    url: str | None,
    head: int,
    *,
    workers: int | None = None,
    ranges: int | None = None,
    batch: int = 10_000,
    max_faults: int = 100,
    progress: Callable[[int], None] | None = None,
) -> list[ChainPart]:
    """Every chain of the log, over ``ranges`` ranges: in ``workers`` child processes (one per
    range) or, with ``workers=0``, in tasks of this event loop over ``db``. ``workers=None``:
    two processes for a log of ``PARALLEL_MIN`` events or more on a multi-core machine.
    ``progress(rows)``: the rows checked so far, over all ranges, after each range's page."""
    if workers is None:
        workers = 2 if head >= PARALLEL_MIN and (os.cpu_count() or 1) >= 2 else 0
    if url is None:
        workers = 0
    rngs = split(head, workers or ranges or 1)
    seen = [0] * len(rngs)

    def counter(k: int) -> Callable[[int], None] | None:
        if progress is None:
            return None

        def count(rows: int) -> None:
            seen[k] = rows
            progress(sum(seen))

        return count

    try:
        async with asyncio.TaskGroup() as tasks:  # one fails: the others are stopped (killed)
            if workers and url is not None:
                running = [
                    tasks.create_task(check_in_child(url, r, batch, max_faults, counter(k)))
                    for k, r in enumerate(rngs)
                ]
            else:
                running = [
                    tasks.create_task(check_range(db, r, batch, max_faults, counter(k)))
                    for k, r in enumerate(rngs)
                ]
    except ExceptionGroup as group:  # the caller gets the error itself, as from one pass
        raise group.exceptions[0] from None
    return [t.result() for t in running]


def _report_progress(rows: int) -> None:
    _write_all(sys.stderr.fileno(), _PROGRESS + b"%d\n" % rows)


async def _child(request: _Request) -> ChainPart:
    import asyncpg

    pool = await asyncpg.create_pool(request.url, min_size=2, max_size=2)
    try:
        return await check_range(
            pool, request.range, request.batch, request.max_faults, _report_progress
        )
    finally:
        await pool.close()


def main() -> int:
    request = msgspec.msgpack.decode(sys.stdin.buffer.read(), type=_Request)
    gc.disable()  # no cycles worth collecting here; the collector would walk every case's tip
    try:
        import uvloop  # a dependency on every platform but Windows: ~20 % less CPU reading
    except ImportError:
        part = asyncio.run(_child(request))
    else:
        part = uvloop.run(_child(request))
    _write_all(sys.stdout.fileno(), msgspec.msgpack.encode(part))
    return 0


def _write_all(fd: int, data: bytes) -> None:
    """All of ``data`` to ``fd``, even where the pipe has been made non-blocking (seen here:
    ``sys.stdout`` then returns short writes of a few MB without an error)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])


if __name__ == "__main__":
    sys.exit(main())
