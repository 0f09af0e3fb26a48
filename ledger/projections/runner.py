"""The projection runner: keeps the read models current with the event log, exactly once.

Each batch reads the log after the tracked position, folds the events into the case states they
touch (kept in a bounded in-memory cache, loaded from the read models on a miss), and commits the
changed rows together with the new position; the commit is conditional on the position still
being the one the batch started from, so a second runner (the API's and a ``ledger projections
run``, say) can never apply a batch twice. A crash loses at most the batch in flight, and the
next start resumes from the committed position.

A rebuild from scratch of a long log on PostgreSQL runs in several processes, the cases
partitioned by payer (``ledger.projections.partition``); the position then moves from 0 to the
head at once, when every process has written its rows, and a crash before that leaves read
models that the next runner rebuilds.

The rows depend on the projection code, the deadline policy, the calendar and the reference
data; a fingerprint of those is tracked, and a runner that finds a different one rebuilds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, timedelta
from uuid import UUID

import msgspec

from ledger.domain.context import Context
from ledger.projections import events as ev
from ledger.projections.db import PartitionedReadStore, ReadStore
from ledger.projections.fold import CaseFolder, PayerKey
from ledger.projections.state import CaseState, decode_state
from ledger.projections.tables import CaseRow, FindingRow, case_row, finding_rows
from ledger.store.failures import cause as outage_cause
from ledger.store.failures import explain as explain_outage
from ledger.store.port import EventStore, RecordedEvent

log = logging.getLogger(__name__)

# Bump when the state, the rows or any check changes meaning: stored read models are rebuilt.
PROJECTION_VERSION = 2
# The calendar is fingerprinted over these years: all chinesecalendar knows and then some.
_CALENDAR_YEARS = range(2004, 2041)

Progress = Callable[[int, int], None]  # (position reached, head)
# A page of the log to fold: each record with its decoded event, and whether only the other side
# of a link is to be applied (partitioned replays: the link's own case is folded elsewhere).
Batch = list[tuple[RecordedEvent, "ev.Event | None", bool]]


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


def fingerprint(context: Context) -> str:
    digest = hashlib.sha256(f"ledger.projections v{PROJECTION_VERSION}\n".encode())
    digest.update(msgspec.json.encode(context.policy, order="sorted"))
    digest.update(msgspec.json.encode(context.reference, order="sorted"))
    for year in _CALENDAR_YEARS:
        day, end = date(year, 1, 1), date(year + 1, 1, 1)
        flags = bytearray()
        while day < end:
            flags.append(context.calendar.is_working_day(day))
            day += timedelta(days=1)
        digest.update(bytes(flags) + bytes([context.calendar.knows(year)]))
    return digest.hexdigest()


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
        self.position = 0  # the last position committed (by this runner or found tracked)
        self.fingerprint = fingerprint(context)
        self._cache: dict[UUID, CaseState] = {}
        # The finding rows this runner last committed for cached cases: an event that leaves
        # a case's findings as they were (most do) costs no delete and re-insert of them.
        self._findings: dict[UUID, tuple[FindingRow, ...]] = {}
        # Open cases per payer and category not yet committed (FR7); the database has the rest.
        self._payers: dict[PayerKey, set[UUID]] = {}
        self._progress = asyncio.Condition()
        self.running = False  # inside run(): wait_for can rely on this runner's progress

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

    async def prepare(self) -> None:
        """Pick up the tracked position; rebuild if the read models were computed otherwise."""
        position, tracked = await self.db.tracking()
        while (
            tracked is not None
            and tracked != self.fingerprint
            and isinstance(self.db, PartitionedReadStore)
            and await self.db.rebuilding_elsewhere()
        ):
            # Another process is rebuilding in partitions: wait for it, then judge its result.
            await asyncio.sleep(min(self.poll_interval, 1.0))
            position, tracked = await self.db.tracking()
        if tracked == self.fingerprint:
            self.position = position
            return
        if tracked is not None:
            log.warning("read models were built by other code or settings: rebuilding them")
        await self.rebuild()

    async def _far_behind(self) -> bool:
        return await self.store.head() - self.position > self.rebuild_batch_size

    async def catch_up(self) -> int:
        """Apply everything appended so far; the position reached."""
        while await self.step(self.batch_size) == self.batch_size:
            pass
        return self.position

    async def rebuild(self, progress: Progress | None = None) -> int:
        """Drop the read models and replay the whole log (see :meth:`replay`)."""
        await self.db.reset(self.fingerprint)
        self._forget()
        self.position = 0
        await self.replay(progress)
        await self.db.create_indexes()
        return self.position

    async def replay(self, progress: Progress | None = None) -> int:
        """Apply the whole backlog in bulk: the log is read in ``rebuild_batch_size`` pages, but
        a transaction is committed only every ``commit_every`` events, so a case touched by
        many events in between is written once, not once per page. Each commit still carries
        its position: an interrupted replay resumes from its last commit.

        From scratch (position 0), a backlog of at least ``partition_min_events`` is split over
        ``workers`` processes where the database allows it (PostgreSQL; see
        ``ledger.projections.partition``): the position then moves once, from 0 to the head,
        when every worker has written its rows, and an interrupted replay starts over."""
        head = await self.store.head()
        if (
            self.position == 0
            and self.workers > 1
            and head >= max(1, self.partition_min_events)
            and isinstance(self.db, PartitionedReadStore)
        ):
            from ledger.projections.partition import replay_partitioned

            if await replay_partitioned(self, self.db, head, progress):
                self.replay_processes = self.workers
                self._forget()
                async with self._progress:
                    self.position = head
                    self._progress.notify_all()
                return self.position
            # Not claimed (another runner got there first): the serial replay sorts it out.
        self.replay_processes = 1
        with _collector_relaxed():
            return await self._replay_serial(head, progress)

    async def _replay_serial(
        self, head: int, progress: Progress | None = None, until: int | None = None
    ) -> int:
        """The replay in this process, up to the end of the log or to position ``until``."""
        dirty: dict[UUID, None] = {}
        folded = self.position
        while True:
            limit = self.rebuild_batch_size
            if until is not None:
                limit = min(limit, until - folded)
            records = await self._read_log(folded, limit) if limit > 0 else []
            if until is not None and records and records[-1].position > until:
                records = [r for r in records if r.position <= until]  # not if gap-free
            if records:
                dirty.update(await self._fold(records))
                folded = records[-1].position
                if progress is not None:
                    progress(folded, max(head, folded))
            elif folded == self.position:
                return self.position
            if not records or folded - self.position >= self.commit_every:
                if not await self._commit(dirty, folded):
                    folded = self.position  # another runner got further: go on from there
                dirty = {}

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
            await self._commit(await self._fold(records), records[-1].position)
        return len(records)

    async def _commit(self, touched: dict[UUID, None], position: int) -> bool:
        """Write the touched cases and ``position`` in one transaction; False if another
        runner had moved the position (then nothing was written)."""
        try:
            committed = await self._write(position, [self._cache[c] for c in touched])
        except BaseException:
            self._forget()  # the cache may hold changes that were never committed
            raise
        if not committed:
            # Another runner moved on: its rows are the truth now, our cache is not.
            self._forget()
            self.position, tracked = await self.db.tracking()
            if tracked != self.fingerprint:
                raise ReadModelsTakenOver(f"the read models are now tracked as {tracked!r}")
            return False
        self._payers.clear()  # the database now knows every open case
        self._evict(touched)
        async with self._progress:
            self.position = position
            self._progress.notify_all()
        return True

    async def _read_log(self, after: int, limit: int) -> list[RecordedEvent]:
        return await self.store.read_log(after, limit)

    async def _write(self, position: int, states: list[CaseState]) -> bool:
        """The rows of a commit, and the position (conditionally: see :meth:`_commit`). The
        findings of a case are rewritten only when they differ from those this runner last
        committed for it (as long as the position has not moved under it, they are the
        stored ones; when it has, the commit fails and :meth:`_forget` drops them)."""
        cases, rows_of = self._rows(states)
        findings: list[FindingRow] = []
        kept: list[UUID] = []
        for case_id, rows in rows_of.items():
            if self._findings.get(case_id) == rows:
                kept.append(case_id)
            else:
                findings.extend(rows)
        committed = await self.db.commit(self.position, position, cases, findings, kept)
        if committed:
            self._findings.update(rows_of)
        return committed

    def _rows(
        self, states: list[CaseState]
    ) -> tuple[list[CaseRow], dict[UUID, tuple[FindingRow, ...]]]:
        """The case rows of ``states``, and each case's finding rows."""
        cases = [case_row(s) for s in states]
        return cases, {s.case_id: tuple(finding_rows(s, self.context)) for s in states}

    def _select(self, records: list[RecordedEvent]) -> Batch:
        """The events to fold, decoded (a partition worker keeps only its own cases')."""
        return [(record, ev.decode(record), False) for record in records]

    def _loadable(self, case_ids: set[UUID]) -> set[UUID]:
        """Of the cases to load from the database, those this runner folds."""
        return case_ids

    async def _fold(self, records: list[RecordedEvent]) -> dict[UUID, None]:
        """Fold ``records`` into the cached states (loading what is missing); the cases
        changed, in order."""
        batch = self._select(records)
        registered: set[UUID] = set()
        wanted: set[UUID] = set()
        keys: set[PayerKey] = set()
        for record, event, back in batch:
            if isinstance(event, ev.Registered):
                registered.add(record.case_id)
                keys.add((event.payer.identifier, event.category))
                continue
            if not back:
                wanted.add(record.case_id)
            if isinstance(event, ev.Linked):
                wanted.add(event.case_id)
        # Every case changed since the last commit is in the cache (evicted only at commits),
        # so what the database holds for the others is their latest state.
        missing = self._loadable(wanted - registered - self._cache.keys())
        for case_id, data in (await self.db.load_states(missing)).items():
            self._cache[case_id] = decode_state(data)
        for case_id, data in (await self.db.open_cases_of(keys)).items():
            state = self._cache.get(case_id)
            if state is None:
                state = self._cache[case_id] = decode_state(data)
            self._payers.setdefault((state.payer.identifier, state.category), set()).add(case_id)
        folder = CaseFolder(self.context, self._cache, self._payers)
        touched: dict[UUID, None] = {}
        for record, event, back in batch:
            if back:
                assert isinstance(event, ev.Linked)
                changed = folder.link_back(record, event)
            else:
                changed = folder.apply(record, event)
            for case_id in changed:
                touched[case_id] = None
        return touched

    def _forget(self) -> None:
        self._cache.clear()
        self._findings.clear()
        self._payers.clear()

    def _evict(self, touched: dict[UUID, None]) -> None:
        for case_id in touched:  # most recently used last
            self._cache[case_id] = self._cache.pop(case_id)
        excess = len(self._cache) - self.cache_size
        if excess > 0:
            for case_id in list(self._cache)[:excess]:
                del self._cache[case_id]
                self._findings.pop(case_id, None)

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
