"""The projection runner: keeps the registered read models (``ledger.projections.registry``)
current with the event log, exactly once.

Each projection has its own tracked position. Each batch reads the log after the lowest of
them, hands every projection the events after its own position (its applier folds them in
memory, ``ledger.projections.projection``), and commits the rows they changed together with the
new positions, in one transaction; the commit is conditional on each position still being the
one the batch started from, so a second runner (the API's and a ``ledger projections run``,
say) can never apply a batch twice. A crash loses at most the batch in flight, and the next
start resumes from the committed positions.

A rebuild from scratch of a long log on PostgreSQL runs in several processes, the cases
partitioned by payer (``ledger.projections.partition``); the position then moves from 0 to the
head at once, when every process has written its rows, and a crash before that leaves read
models that the next runner rebuilds.

The rows depend on the projection code (its ``version``) and, for some, on the deadline policy,
the calendar and the reference data; each projection's fingerprint of those is tracked, and a
runner that finds a different one rebuilds that projection (with those it is joined to by
``requires``) from position 1, while the others carry on from where they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from uuid import UUID

from ledger.domain.context import Context
from ledger.projections.db import PartitionedReadStore, ReadStore
from ledger.projections.projection import Applier, Batch, Projection, Write, check, groups
from ledger.store.failures import cause as outage_cause
from ledger.store.failures import explain as explain_outage
from ledger.store.port import EventStore, RecordedEvent

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (position reached, head)


class ReadModelsTakenOver(Exception):
    """Another runner reset the read models (other settings, or a partitioned rebuild): this
    runner must prepare again before it applies anything."""


# A replay keeps hundreds of thousands of objects alive between commits (states, rows) and makes
# no cycles worth collecting; at the default thresholds (700, 10, 10) the cyclic collector walks
# that heap thousands of times: a third of a rebuild's time, measured on 1M events.
REPLAY_GC_THRESHOLDS = (100_000, 50, 1_000)


_relaxed: list[tuple[int, ...]] = []  # the thresholds to restore, while replays run


@contextlib.contextmanager
def _collector_relaxed() -> Iterator[None]:
    """Rare collections during a bulk replay (reference counting frees everything as usual);
    the thresholds are restored when the last replay of the process ends."""
    before: tuple[int, ...]
    if not _relaxed:
        before = gc.get_threshold()
        gc.set_threshold(*(max(a, b) for a, b in zip(before, REPLAY_GC_THRESHOLDS, strict=False)))
    else:
        before = _relaxed[0]
    _relaxed.append(before)
    try:
        yield
    finally:
        _relaxed.pop()
        if not _relaxed:
            gc.set_threshold(*before)


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


# The shortest time between the starts of two batches while following the log. Every batch costs
# a read of the log, a transaction and a position update whatever its size: applying each commit
# on its own (one per API request under load) cost more database time than the appends did.
SETTLE_SECONDS = 0.1
# After an outage, how often the runner asks whether the database is back.
RECOVERY_PROBE_SECONDS = 0.5


def settle_pause(last_start: float, now: float, settle: float) -> float:
    """How long to wait before the next batch so that batches start ``settle`` seconds apart."""
    return max(0.0, min(settle, last_start + settle - now))


class ProjectionRunner:
    def __init__(
        self,
        db: ReadStore,
        store: EventStore,
        context: Context,
        *,
        batch_size: int = 500,
        rebuild_batch_size: int = 10_000,
        commit_every: int = 200_000,
        poll_interval: float = 2.0,
        settle: float = SETTLE_SECONDS,
        cache_size: int = 20_000,
        workers: int | None = None,
        partition_min_events: int = 50_000,
    ) -> None:
        self.db, self.store, self.context = db, store, context
        self.batch_size, self.rebuild_batch_size = batch_size, rebuild_batch_size
        self.commit_every = commit_every
        self.poll_interval, self.cache_size = poll_interval, cache_size
        self.settle = settle
        # A replay from scratch of at least partition_min_events events is split over this
        # many processes where the database allows it (PostgreSQL): see :meth:`replay`.
        self.workers = default_workers() if workers is None else workers
        self.partition_min_events = partition_min_events
        self.replay_processes = 0  # how many processes the last replay ran in
        # The read models are those the database was opened with.
        self.projections: tuple[Projection, ...] = tuple(db.projections)
        check(self.projections)
        self.fingerprints = {p.name: p.fingerprint(context) for p in self.projections}
        # The last position committed per projection (by this runner or found tracked).
        self.positions = {p.name: 0 for p in self.projections}
        self.appliers: dict[str, Applier] = {}
        for p in self.projections:
            upstream = {name: self.appliers[name] for name in p.requires}
            self.appliers[p.name] = p.start(context, upstream, cache_size)
        self._progress = asyncio.Condition()
        self.running = False  # inside run(): wait_for can rely on this runner's progress

    @property
    def position(self) -> int:
        """The position every read model has reached."""
        return min(self.positions.values(), default=0)

    # -- running ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Apply new events until ``stop`` is set: woken by the store's notifications where
        there are any (PostgreSQL), polling every ``poll_interval`` seconds otherwise. Failures
        (the database restarting, say) are logged and retried with a growing pause."""
        self.running = True
        prepared, failures = False, 0
        clock = asyncio.get_running_loop().time
        started = -self.settle
        try:
            while not stop.is_set():
                try:
                    if not prepared:
                        await self.prepare()
                        await self.db.listen()
                        prepared = True
                    started = clock()
                    applied = await self.step(self.batch_size)
                    if applied == self.batch_size and await self._far_behind():
                        await self.replay()  # e.g. resuming an interrupted rebuild
                    failures = 0
                except ReadModelsTakenOver:
                    log.warning("another runner reset the read models: preparing again")
                    prepared = False
                    continue
                except Exception as exc:
                    failures += 1
                    prepared = False
                    if outage_cause(exc) is None:
                        log.exception("projection runner failed after position %s", self.position)
                        await _until(stop, self._backoff(failures))
                    else:  # the database is away: one line, and back as soon as it is
                        log.warning(
                            "projection runner paused after position %s: %s",
                            self.position,
                            explain_outage(exc),
                        )
                        await _until(stop, self._database_back(failures))
                    continue
                if applied < self.batch_size:  # caught up: wait for news
                    await _until(stop, self.db.wait_for_change(self.poll_interval))
                    # Under a steady stream of commits, apply them together: one batch per
                    # ``settle`` seconds at most. A lone commit after a quiet spell waits for
                    # nothing.
                    pause = settle_pause(started, clock(), self.settle)
                    if pause > 0:
                        await _until(stop, asyncio.sleep(pause))
        finally:
            self.running = False

    def _stale(self, tracked: Mapping[str, tuple[int, str]]) -> set[str]:
        """The projections whose rows were computed otherwise (or never), with every
        projection joined to one of them by ``requires``."""
        stale = {
            name
            for name, fingerprint in self.fingerprints.items()
            if tracked.get(name, (0, None))[1] != fingerprint
        }
        for group in groups(self.projections):
            if group & stale:
                stale |= group
        return stale

    async def prepare(self) -> None:
        """Pick up the tracked positions; rebuild the projections computed otherwise."""
        tracked = await self.db.tracking()
        while (
            self._stale(tracked)
            and isinstance(self.db, PartitionedReadStore)
            and await self.db.rebuilding_elsewhere()
        ):
            # Another process is rebuilding in partitions: wait for it, then judge its result.
            await asyncio.sleep(min(self.poll_interval, 1.0))
            tracked = await self.db.tracking()
        stale = self._stale(tracked)
        self._forget()
        for name in self.positions:
            self.positions[name] = 0 if name in stale else tracked[name][0]
        if not stale:
            return
        if any(name in tracked for name in stale):
            log.warning(
                "read models %s were built by other code or settings: rebuilding them",
                ", ".join(sorted(stale)),
            )
        await self.rebuild(names=stale)

    async def _far_behind(self) -> bool:
        return await self.store.head() - self.position > self.rebuild_batch_size

    async def catch_up(self) -> int:
        """Apply everything appended so far; the position reached."""
        while await self.step(self.batch_size) == self.batch_size:
            pass
        return self.position

    async def rebuild(
        self, progress: Progress | None = None, names: Collection[str] | None = None
    ) -> int:
        """Drop the read models (those named, with the projections they are joined to; all by
        default) and replay the whole log into them (see :meth:`replay`)."""
        chosen = set(self.positions) if names is None else set(self.positions) & set(names)
        for group in groups(self.projections):
            if group & chosen:
                chosen |= group
        await self.db.reset({name: self.fingerprints[name] for name in chosen})
        self._forget()
        for name in chosen:
            self.positions[name] = 0
        await self.replay(progress)
        await self.db.create_indexes(chosen)
        return self.position

    async def replay(self, progress: Progress | None = None) -> int:
        """Apply the whole backlog in bulk: the log is read in ``rebuild_batch_size`` pages, but
        a transaction is committed only every ``commit_every`` events, so a case touched by
        many events in between is written once, not once per page. Each commit still carries
        its positions: an interrupted replay resumes from its last commit.

        Projections at position 0 (all partitionable), with a backlog of at least
        ``partition_min_events``, are replayed in ``workers`` processes where the database
        allows it (PostgreSQL; see ``ledger.projections.partition``): their positions then move
        once, from 0 to the head, when every worker has written its rows, and an interrupted
        replay starts over."""
        head = await self.store.head()
        fresh = [p for p in self.projections if self.positions[p.name] == 0]
        self.replay_processes = 1
        if (
            fresh
            and all(p.partitionable for p in fresh)
            and self.workers > 1
            and head >= max(1, self.partition_min_events)
            and isinstance(self.db, PartitionedReadStore)
        ):
            from ledger.projections.partition import replay_partitioned

            names = [p.name for p in fresh]
            if await replay_partitioned(self, self.db, head, names, progress):
                self.replay_processes = self.workers
                self._forget()
                async with self._progress:
                    for name in names:
                        self.positions[name] = head
                    self._progress.notify_all()
                if self.position >= head:
                    return self.position
            # Not claimed (another runner got there first), or other read models behind: the
            # serial replay sorts it out.
        with _collector_relaxed():
            return await self._replay_serial(head, progress)

    async def _replay_serial(
        self, head: int, progress: Progress | None = None, until: int | None = None
    ) -> int:
        """The replay in this process, up to the end of the log or to position ``until``."""
        folded = self.position
        while True:
            limit = self.rebuild_batch_size
            if until is not None:
                limit = min(limit, until - folded)
            records = await self._read_log(folded, limit) if limit > 0 else []
            if until is not None and records and records[-1].position > until:
                records = [r for r in records if r.position <= until]  # not if gap-free
            if records:
                await self._fold(records)
                folded = records[-1].position
                if progress is not None:
                    progress(folded, max(head, folded))
            elif folded == self.position:
                return self.position
            due = not records or folded - self.position >= self.commit_every
            if due and not await self._commit(folded):
                folded = self.position  # another runner got further: go on from there

    async def wait_for(self, position: int, timeout: float) -> bool:  # noqa: ASYNC109
        """True once this runner has committed ``position``; False after ``timeout`` seconds."""
        async with self._progress:
            try:
                await asyncio.wait_for(
                    self._progress.wait_for(lambda: self.position >= position), timeout
                )
            except TimeoutError:
                return False
        return True

    # -- one batch ----------------------------------------------------------------------------

    async def step(self, limit: int) -> int:
        """Apply up to ``limit`` events in one transaction; how many were read."""
        records = await self.store.read_log(self.position, limit)
        if records:
            await self._fold(records)
            await self._commit(records[-1].position)
        return len(records)

    async def _commit(self, position: int) -> bool:
        """Write what the projections behind ``position`` changed, and move them there, in one
        transaction; False if another runner had moved a position (then nothing was
        written)."""
        moving = [p.name for p in self.projections if self.positions[p.name] < position]
        if not moving:
            return True
        try:
            writes = [
                w for name in moving for w in self.appliers[name].writes(self.positions[name]) if w
            ]
            moves = {name: (self.positions[name], position) for name in moving}
            committed = await self._write(moves, writes)
        except BaseException:
            self._forget()  # the appliers may hold changes that were never committed
            raise
        if not committed:
            # Another runner moved on: its rows are the truth now, our appliers' are not.
            self._forget()
            tracked = await self.db.tracking()
            if self._stale(tracked):
                raise ReadModelsTakenOver(f"the read models are now tracked as {tracked!r}")
            for name in self.positions:
                self.positions[name] = tracked[name][0]
            return False
        for name in moving:
            self.appliers[name].committed()
        async with self._progress:
            for name in moving:
                self.positions[name] = position
            self._progress.notify_all()
        return True

    async def _read_log(self, after: int, limit: int) -> list[RecordedEvent]:
        return await self.store.read_log(after, limit)

    async def _write(self, moves: Mapping[str, tuple[int, int]], writes: Sequence[Write]) -> bool:
        """The rows of a commit, and the positions (conditionally: see :meth:`_commit`)."""
        return await self.db.commit(moves, writes)

    def _select(self, records: list[RecordedEvent]) -> Batch:
        """The events to fold (a partition worker keeps only its own cases')."""
        return [(record, False) for record in records]

    def _owned(self) -> Collection[UUID] | None:
        """Of the cases to load from the database, those this runner folds (None: all)."""
        return None

    async def _fold(self, records: list[RecordedEvent]) -> None:
        """Hand each projection the records after its position, in registration order."""
        batches: dict[int, Batch] = {}
        last = records[-1].position
        owned = self._owned()
        for p in self.projections:
            after = self.positions[p.name]
            if after >= last:
                continue  # ahead of this page (catching up after a rebuild of another)
            batch = batches.get(after)
            if batch is None:
                page = (
                    records
                    if records[0].position > after
                    else [r for r in records if r.position > after]
                )
                batch = batches[after] = self._select(page)
            await self.appliers[p.name].fold(batch, self.db, owned)

    def _forget(self) -> None:
        for applier in self.appliers.values():
            applier.forget()

    def _backoff(self, failures: int) -> Awaitable[None]:
        return asyncio.sleep(min(30.0, 0.5 * 2**failures))

    async def _database_back(self, failures: int) -> None:
        """Until the database answers again — asked every ``RECOVERY_PROBE_SECONDS`` — or the
        backoff has passed: the runner resumes within a probe's interval of its return instead
        of sleeping out a long pause."""
        loop = asyncio.get_running_loop()
        end = loop.time() + min(30.0, 0.5 * 2**failures)
        while loop.time() < end:
            await asyncio.sleep(RECOVERY_PROBE_SECONDS)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.store.head(), RECOVERY_PROBE_SECONDS * 2)
                return


async def _until(stop: asyncio.Event, waiting: Awaitable[None]) -> None:
    """Wait for ``waiting`` or for ``stop``, whichever comes first."""
    task = asyncio.ensure_future(waiting)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, stopping):
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
