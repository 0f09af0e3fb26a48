"""Rebuilding the read models in several processes at once (PostgreSQL), when every projection
being rebuilt is ``partitionable`` (the registered ones are).

A rebuild is CPU in Python — decoding, folding, the findings of every case — so one process
uses one core however idle the database is. :func:`replay_partitioned` splits the cases over
worker processes by **payer identifier** (CRC-32 modulo the number of workers). Each worker
reads the whole log, folds only the events of its own cases and writes their rows itself
(binary COPY, as the serial replay does); every case is folded in exactly one process.

Why each worker's rows are exactly the serial replay's:

- a case's state depends on its own events, and on other cases only through
  - FR7 (``CaseFolder._register``: the cases of the same payer it may repeat when a case is
    registered): same payer, same partition, so the worker that folds a case has all of them;
  - links (``Linked``): recorded on one case, they add a step to the other case too. A worker
    folding the recording case applies its side only (the other case is never loaded there),
    and the worker owning the other case applies just the other side
    (``CaseFolder.link_back``), at the same place in the log;
- events of a case without a registration (which the serial replay refuses with a
  ``ProjectionError``, or skips for topics no projection reads) go to worker 0, which does the
  same.

A worker knows a case's partition from its registration (payer identifiers are decoded from
every ``Registered`` event, the one event that carries them); cases are never re-partitioned.

Crash safety: while workers write, the tracking rows of the projections being rebuilt hold
position -1 and a marker instead of their fingerprints, and the leading process holds a session
advisory lock (``PostgresReadStore.claim_rebuild``). The positions and fingerprints are set only
once every worker has committed all its rows. Any crash (of a worker, or SIGKILL of the leader — the
workers die with it) leaves the marker: the next runner's ``prepare`` finds a fingerprint that
is not its own and no live rebuild, and rebuilds again. Worker writes check the marker under a
share lock, so a worker that outlived its leader cannot write into a newer rebuild's tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import traceback
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import msgspec

from ledger.domain.context import Context
from ledger.projections import events as ev
from ledger.projections.db import PartitionedReadStore
from ledger.projections.projection import Batch, Projection, Write
from ledger.projections.runner import (
    REPLAY_GC_THRESHOLDS,
    Progress,
    ProjectionRunner,
    ReadModelsTakenOver,
)
from ledger.store import open_store
from ledger.store.port import EventStore, RecordedEvent

log = logging.getLogger(__name__)

REGISTERED = "ledger.Registered"
LINKED = "ledger.Linked"


class _PayerId(msgspec.Struct):
    identifier: str


class _RegisteredPayer(msgspec.Struct):
    payer: _PayerId


_PAYER = msgspec.json.Decoder(_RegisteredPayer)


def partition_of(identifier: str, partitions: int) -> int:
    """The partition of a payer: stable across processes and runs (unlike ``hash``)."""
    return zlib.crc32(identifier.encode()) % partitions


def _payer_of(record: RecordedEvent) -> str:
    try:
        return _PAYER.decode(record.state).payer.identifier
    except msgspec.DecodeError as exc:  # ValidationError included
        raise ev.ProjectionError(
            f"cannot decode event at position {record.position} ({record.topic}): {exc}"
        ) from exc


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs (pickled to it)."""

    read_url: str
    store_url: str
    projections: tuple[Projection, ...]  # those being rebuilt (all partitionable)
    context: Context
    index: int
    partitions: int
    head: int  # replay up to here: the position the leader sets when all are done
    marker: str
    rebuild_batch_size: int
    commit_every: int
    cache_size: int
    parent: int  # the leader's pid


class PartitionRunner(ProjectionRunner):
    """The serial replay of one partition's cases, writing rows under the rebuild's marker
    without moving the tracked position (the leader does that at the end)."""

    def __init__(self, db: PartitionedReadStore, store: EventStore, spec: WorkerSpec) -> None:
        super().__init__(
            db,
            store,
            spec.context,
            rebuild_batch_size=spec.rebuild_batch_size,
            commit_every=spec.commit_every,
            cache_size=spec.cache_size,
            workers=1,
        )
        self.partitioned: PartitionedReadStore = db
        self.spec = spec
        self._own: set[UUID] = set()
        self._foreign: set[UUID] = set()

    async def replay_partition(self, progress: Progress | None = None) -> int:
        return await self._replay_serial(self.spec.head, progress, until=self.spec.head)

    def _select(self, records: list[RecordedEvent]) -> Batch:
        own, foreign = self._own, self._foreign
        index, partitions = self.spec.index, self.spec.partitions
        batch: list[tuple[RecordedEvent, bool]] = []
        for record in records:
            case_id = record.case_id
            if case_id in own:
                batch.append((record, False))
            elif case_id in foreign:
                if record.topic == LINKED:
                    event = ev.decode(record)
                    if isinstance(event, ev.Linked) and event.case_id in own:
                        batch.append((record, True))  # the other side is ours
            elif record.topic == REGISTERED:
                if partition_of(_payer_of(record), partitions) == index:
                    own.add(case_id)
                    batch.append((record, False))
                else:
                    foreign.add(case_id)
            elif index == 0:
                # No registration seen: the serial replay's verdict (an error, or nothing).
                batch.append((record, False))
        return batch

    async def _read_log(self, after: int, limit: int) -> list[RecordedEvent]:
        return await self.partitioned.read_events(after, min(after + limit, self.spec.head))

    def _owned(self) -> set[UUID]:
        return self._own

    async def _write(self, moves: Mapping[str, tuple[int, int]], writes: Sequence[Write]) -> bool:
        # Nothing ties one worker transaction to another (the positions move at the end).
        if not await self.partitioned.write_partition(self.spec.marker, writes):
            raise ReadModelsTakenOver("the partitioned rebuild was abandoned or taken over")
        return True


# -- the leader ---------------------------------------------------------------------------------


async def replay_partitioned(
    runner: ProjectionRunner,
    db: PartitionedReadStore,
    head: int,
    names: Collection[str],
    progress: Progress | None = None,
) -> bool:
    """Replay the log up to ``head`` into the empty read models of the projections ``names``
    in ``runner.workers`` processes; True when done (tracked at ``head``), False if the read
    models were not empty at position 0 (nothing done). A worker's failure is raised here."""
    fingerprints = {name: runner.fingerprints[name] for name in names}
    marker = f"partitioned:{uuid4().hex}"
    if not await db.claim_rebuild(fingerprints, marker):
        return False
    try:
        store_url = getattr(runner.store, "url", db.url)  # the same database, by design
        specs = [
            WorkerSpec(
                read_url=db.url,
                store_url=store_url,
                projections=tuple(p for p in runner.projections if p.name in fingerprints),
                context=runner.context,
                index=index,
                partitions=runner.workers,
                head=head,
                marker=marker,
                rebuild_batch_size=runner.rebuild_batch_size,
                commit_every=runner.commit_every,
                cache_size=max(1, runner.cache_size // runner.workers),
                parent=os.getpid(),
            )
            for index in range(runner.workers)
        ]
        await _run_workers(specs, progress)
        if not await db.finish_rebuild(marker, head, fingerprints):
            raise ReadModelsTakenOver("the read models were reset during the partitioned rebuild")
    finally:
        await db.release_rebuild()
    return True


async def _run_workers(specs: list[WorkerSpec], progress: Progress | None) -> None:
    # 'spawn': the leader runs an event loop (and maybe threads) that a fork would copy mid-way.
    mp = multiprocessing.get_context("spawn")
    messages: Any = mp.Queue()
    processes = [
        mp.Process(
            target=_work,
            args=(spec, messages),
            name=f"ledger-projections-{spec.index}",
            daemon=True,
        )
        for spec in specs
    ]
    started = []
    head = specs[0].head
    reached = [0] * len(specs)
    try:
        for process in processes:
            process.start()
            started.append(process)
        while True:
            finished = all(p.exitcode is not None for p in processes)
            for message in _drain(messages):
                if message[0] == "failed":
                    raise _failure(message)
                reached[message[1]] = message[2]
                if progress is not None:
                    progress(min(reached), head)
            if finished:
                for p in processes:
                    if p.exitcode != 0:
                        raise RuntimeError(
                            f"projection worker {p.name} exited with code {p.exitcode}"
                        )
                return
            await asyncio.sleep(0.05)
    finally:
        for p in started:
            if p.exitcode is None:
                p.kill()
        for p in started:
            await asyncio.to_thread(p.join, 10)
        messages.close()


def _drain(messages: Any) -> list[tuple[Any, ...]]:
    found = []
    while True:
        try:
            found.append(messages.get_nowait())
        except queue.Empty:
            return found


def _failure(message: tuple[Any, ...]) -> BaseException:
    _, index, error, text = message
    exc: BaseException = error if isinstance(error, BaseException) else RuntimeError(error)
    exc.add_note(f"in projection worker {index}:\n{text}")
    return exc


# -- a worker -----------------------------------------------------------------------------------


def _work(spec: WorkerSpec, messages: Any) -> None:
    """A worker process's main function."""
    _die_with(spec.parent)
    _quiet_collector()
    try:
        asyncio.run(_replay(spec, messages))
    except BaseException as exc:
        messages.put(("failed", spec.index, _portable(exc), traceback.format_exc()))
        messages.close()
        messages.join_thread()
        sys.exit(1)
    messages.put(("done", spec.index, spec.head))
    messages.close()
    messages.join_thread()


async def _replay(spec: WorkerSpec, messages: Any) -> None:
    from ledger.projections.db_postgres import PostgresReadStore

    # The store is not opened: the worker reads the log through its own connection, and
    # only the columns projections need (PostgresReadStore.read_events).
    store = open_store(spec.store_url)
    db = PostgresReadStore(spec.read_url, spec.projections, max_pool=2)
    try:
        await db.open(create=False)
        runner = PartitionRunner(db, store, spec)

        def progress(position: int, head: int) -> None:
            if os.getppid() != spec.parent:
                raise SystemExit("the leading process is gone")
            messages.put(("progress", spec.index, position))

        await runner.replay_partition(progress)
    finally:
        await db.close()


def _quiet_collector() -> None:
    """A replay allocates millions of objects that live until the next commit (states, rows)
    and forms no cycles worth collecting: with the default thresholds, the cyclic collector
    walks that growing heap thousands of times (measured: a third of a worker's time)."""
    gc.collect()
    gc.freeze()  # the modules: alive for good
    gc.set_threshold(*REPLAY_GC_THRESHOLDS)


def _die_with(parent: int) -> None:
    """Be killed when the leading process dies (Linux), however it dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _portable(exc: BaseException) -> BaseException | str:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return f"{type(exc).__name__}: {exc}"
    return exc
