"""The case repository: a case as its events make it, for deciding a command and for reading.

``get`` hands out a case to decide a command on and ``save`` appends what the command recorded;
between them the case is checked out, so two commands in this process never mutate one object.
A case is kept twice in one fold: as the ``Dispute`` aggregate (the state the rules decide on) and
as its projection state (``CaseState``, what the write's response shows), so a write neither reads
nor folds the case again to answer.

Three sources, cheapest first:

- the cache: the case as this process's last write to it left it (one cache, bounded, least
  recently written first out). Safe because appends are optimistic: a cached case another process
  has moved past is refused by the store at its stale version, and the caller decides again on
  the case read from the store (``CacheStale``).
- a snapshot (``ledger.snapshots``): the case at a multiple of ``snapshot_every`` events, sealed
  with a key the database does not hold and bound to the hash of the event at its version; only
  the events after it are read.
- the events, all of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from ledger import snapshots
from ledger.domain.context import Context
from ledger.domain.dispute import Dispute
from ledger.projections.caseview import fold_case
from ledger.projections.state import CaseState
from ledger.store.codec import TypedMapper, default_mapper
from ledger.store.port import (
    AppendResult,
    CaseNotFound,
    EventStore,
    Idempotency,
    NewEvent,
    Numbering,
    RecordedEvent,
    Snapshot,
)

log = logging.getLogger(__name__)

REGISTERED = Dispute.Registered.TOPIC  # a case's first event; other aggregates share the log
# Snapshots a read tries, newest first, when the store's one does not decode into the case.
_SNAPSHOT_TRIES = 3


# Records kept unfolded for a case's projection state before they are folded anyway.
_UNFOLDED_KEPT = 100


@dataclass
class LoadedCase:
    """A case checked out to decide a command on: the aggregate, and what its projection state
    is made of — a state (None: nothing yet) and the records after it, folded only when the
    state is asked for (``view``): a write whose caller does not show the case costs no fold."""

    case: Dispute
    state: CaseState | None
    version: int  # the version it was loaded at (the aggregate's moves on with new events)
    cached: bool = False  # taken from the cache (which may be stale, see the module)
    unfolded: list[RecordedEvent] = field(default_factory=list)
    known: bool = True  # whether state and unfolded make the case (False: read it to know)

    def follows(self, records: Sequence[RecordedEvent]) -> bool:
        """Whether ``records`` continue the events this holds (or start the case)."""
        if records and records[0].version == 1:
            return True
        at = self.unfolded[-1].version if self.unfolded else self.state.version if self.state else 0
        return self.known and bool(records) and at == records[0].version - 1

    def view(self, context: Context) -> CaseState | None:
        """The case's projection state after everything this holds; None if not known."""
        if not self.known:
            return None
        if self.unfolded:
            if self.state is None and self.unfolded[0].version != 1:
                return None
            self.state = fold_case(self.unfolded, context, self.state)
            self.unfolded = []
        return self.state


@dataclass(frozen=True)
class SnapshotRefresh:
    """What ``CaseRepository.refresh_snapshots`` did."""

    cases: int  # cases long enough to have snapshots
    refreshed: int  # of them, cases whose snapshots were rewritten
    snapshots: int  # snapshots written


class CaseRepository:
    def __init__(
        self,
        store: EventStore,
        context: Context,
        mapper: TypedMapper | None = None,
        *,
        cache_size: int = 10_000,
        snapshot_every: int = 100,
        snapshot_key: bytes | None = None,
    ) -> None:
        self.store = store
        self.context = context
        self.mapper = mapper or default_mapper()
        self._cache: OrderedDict[UUID, LoadedCase] = OrderedDict()
        self._cache_size = cache_size
        # A snapshot of the case after every this many events (0: none written or read),
        # sealed with ``snapshot_key``; without a key, none are kept or trusted.
        self.snapshot_key = snapshot_key or b""
        self.snapshot_every = snapshot_every if snapshot_key else 0

    # -- deciding commands -----------------------------------------------------------------------

    async def get(self, case_id: UUID, expected_version: int | None = None) -> LoadedCase:
        """The case to decide a command on, checked out of the cache if it is there at
        ``expected_version`` (the version the client believes; None: any), else read."""
        loaded = self._cache.pop(case_id, None)
        if loaded is not None and expected_version in (None, loaded.version):
            loaded.cached = True
            return loaded
        return await self.read(case_id, expected_version)

    async def read(self, case_id: UUID, expected_version: int | None = None) -> LoadedCase:
        """The case as the store has it now (never the cache)."""
        short = expected_version is not None and expected_version < self.snapshot_every
        start = None if short else await self._with_view(case_id)
        if start is not None:
            snapshot, case, state = start
            after = await self.store.read_case(case_id, after_version=snapshot.version)
            self.fold(after, case)
            return LoadedCase(case, state, case.version, unfolded=after)
        records = await self.history(case_id)
        folded = self.fold(records)
        if folded is None:
            raise CaseNotFound(case_id)
        return LoadedCase(folded, None, folded.version, unfolded=records)

    def new(self, case: Dispute) -> LoadedCase:
        """A case just created by its first command, to be saved."""
        return LoadedCase(case, None, 0)

    async def save(
        self,
        loaded: LoadedCase,
        metadata: bytes,
        idempotency: Idempotency | None = None,
        numbering: tuple[int, Callable[[int], Dispute]] | None = None,
    ) -> AppendResult:
        """Appends the case's new events (``VersionConflict`` if it moved on meanwhile) and puts
        the case back in the cache with the records appended (``kept_state`` folds them).

        ``numbering``: for a registration, the year and how to make the case with the n-th case
        number of that year; the store gives the number out under its append lock (no gaps, no
        repeats) and the case made with it is what is recorded.
        """
        case = loaded.case
        events = [self.mapper.to_new_event(e, metadata) for e in case.collect_events()]
        made: list[Dispute] = []
        extra: dict[str, Numbering] = {}
        if numbering is not None:
            year, make = numbering

            def numbered_events(seq: int) -> list[NewEvent]:
                made.append(make(seq))
                return [self.mapper.to_new_event(e, metadata) for e in made[-1].collect_events()]

            extra["numbering"] = Numbering(year, numbered_events)
        result = await self.store.append(case.id, loaded.version, events, idempotency, **extra)
        if made:
            case = made[-1]
        if result.replayed:  # what another request stored: ``case`` is not what the log holds
            return result
        kept = self._advance(loaded, case, result)
        due = self._snapshot_due(case, kept, loaded.version, result)  # before anyone touches it
        self._remember(kept)
        if due is not None:
            await self._keep_snapshot(*due)
        return result

    def _advance(self, loaded: LoadedCase, case: Dispute, result: AppendResult) -> LoadedCase:
        """What to keep of the case after the append: the records just appended after those
        ``loaded`` held (unfolded, at most a hundred or so), or, when they do not follow them
        (or the store returned none), the case with its projection state unknown (the response
        then reads it: ``LedgerService.state_after``)."""
        records = list(result.records)
        if records and records[0].version == 1:
            kept = LoadedCase(case, None, case.version, unfolded=records)
        elif loaded.follows(records):
            kept = LoadedCase(case, loaded.state, case.version, unfolded=loaded.unfolded + records)
        else:
            return LoadedCase(case, None, case.version, known=False)
        if len(kept.unfolded) > _UNFOLDED_KEPT:
            kept.view(self.context)
        return kept

    def _remember(self, loaded: LoadedCase) -> None:
        self._cache[loaded.case.id] = loaded
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def kept_state(self, case_id: UUID, version: int) -> CaseState | None:
        """The projection state of the case at ``version`` if the cache holds what makes it (not
        taken out: the caller only reads it, before its next await)."""
        loaded = self._cache.get(case_id)
        if loaded is None or loaded.version != version:
            return None
        return loaded.view(self.context)

    async def state_at(self, case_id: UUID, version: int) -> CaseState:
        """The case's projection state at ``version``, from its events."""
        return fold_case(await self.history(case_id, to_version=version), self.context)

    # -- reads that rebuild the case from events ------------------------------------------------

    async def history(
        self,
        case_id: UUID,
        *,
        to_version: int | None = None,
        as_of: datetime | None = None,
    ) -> list[RecordedEvent]:
        records = await self.store.read_case(case_id, to_version=to_version, as_of=as_of)
        if not records and await self.store.case_version(case_id) == 0:
            raise CaseNotFound(case_id)
        if records and records[0].topic != REGISTERED:  # another aggregate (a staff account)
            raise CaseNotFound(case_id)
        return records

    async def load(
        self,
        case_id: UUID,
        *,
        to_version: int | None = None,
        as_of: datetime | None = None,
    ) -> Dispute:
        """The case as it stands now, or as it stood at a version or a moment."""
        if as_of is not None:  # which version that was is known only from the events
            return (await self.replay(case_id, to_version=to_version, as_of=as_of))[1]
        start = await self._snapshot(case_id, to_version)
        if start is not None:
            snapshot, case = start
            after = await self.store.read_case(
                case_id, to_version=to_version, after_version=snapshot.version
            )
            folded = self.fold(after, case)
        else:
            folded = self.fold(await self.history(case_id, to_version=to_version))
        if folded is None:
            raise CaseNotFound(case_id)
        return folded

    async def replay(
        self,
        case_id: UUID,
        *,
        to_version: int | None = None,
        as_of: datetime | None = None,
    ) -> tuple[list[RecordedEvent], Dispute]:
        """A case's events (all, or up to a version or a moment) and its state after them.

        The events and the newest snapshot are read concurrently; the snapshot is used only if
        the event at its version is among them with the hash it was taken at, and only the events
        after it are folded. Without one, all of them are.
        """
        if as_of is None:
            records, start = await asyncio.gather(
                self.history(case_id, to_version=to_version), self._snapshot(case_id, to_version)
            )
        else:
            records = await self.history(case_id, to_version=to_version, as_of=as_of)
            start = await self._snapshot(case_id, records[-1].version) if records else None
        case: Dispute | None = None
        done = 0
        if start is not None:
            snapshot, state = start
            at = snapshot.version - 1
            if (
                0 <= at < len(records)
                and records[at].version == snapshot.version
                and records[at].hash == snapshot.event_hash
            ):
                case, done = state, snapshot.version
        case = self.fold(records[done:], case)
        if case is None:
            raise CaseNotFound(case_id)
        return records, case

    def fold(self, records: list[RecordedEvent], case: Dispute | None = None) -> Dispute | None:
        """``case`` (None: nothing yet) with the events of ``records`` applied, in order."""
        for record in records:
            case = self.decode(record).mutate(case)
        return case

    def decode(self, record: RecordedEvent) -> Any:
        """The domain event a stored record holds (upcast to the current class version)."""
        return self.mapper.from_record(record)

    # -- snapshots --------------------------------------------------------------------------------

    def _snapshot_due(
        self, case: Dispute, kept: LoadedCase, loaded_version: int, result: AppendResult
    ) -> tuple[UUID, int, bytes, bytes, bytes] | None:
        """The snapshot to keep after an append that crossed a multiple of ``snapshot_every``:
        the case and its projection state, bound to the hash of its last event (None if nothing
        is due)."""
        every = self.snapshot_every
        if every <= 0 or case.version // every == loaded_version // every:
            return None
        if not result.records or result.records[-1].version != case.version:
            return None  # no stored hash to bind it to
        state = kept.view(self.context)
        if state is None:
            return None
        try:
            data = snapshots.encode(case)
        except Exception:  # a cache: never fail a command that is already recorded
            log.warning("no snapshot of case %s at %d", case.id, case.version, exc_info=True)
            return None
        view = snapshots.encode_view(state)
        return case.id, case.version, data, view, result.records[-1].hash

    async def _keep_snapshot(
        self, case_id: UUID, version: int, case: bytes, view: bytes, event_hash: bytes
    ) -> None:
        """Keeps the case's snapshot and, beside it, its projection state's."""
        for topic, state in ((snapshots.TOPIC, case), (snapshots.VIEW_TOPIC, view)):
            sealed = snapshots.seal(self.snapshot_key, case_id, version, topic, state, event_hash)
            try:
                await self.store.save_snapshot(case_id, version, topic, sealed, event_hash)
            except Exception:  # a cache: never fail a command that is already recorded
                log.warning("snapshot of case %s at %d not kept", case_id, version, exc_info=True)
                return

    async def snapshot(self, case_id: UUID) -> int:
        """Keep the snapshots the write path would have kept for this case (after every
        ``snapshot_every``-th event), folding it from its events; returns how many.

        For cases whose events were stored other than through the service (a bulk load, the
        benchmark's long case) or before their snapshots were kept or could be read (a new
        ``snapshots.TOPIC``). Idempotent: it replaces what it rewrites.
        """
        every = self.snapshot_every
        if every <= 0:
            return 0
        case: Dispute | None = None
        state: CaseState | None = None
        kept = 0
        for record in await self.history(case_id):
            case = self.decode(record).mutate(case)
            state = fold_case((record,), self.context, state)
            if record.version % every == 0 and case is not None:
                await self._keep_snapshot(
                    case_id,
                    record.version,
                    snapshots.encode(case),
                    snapshots.encode_view(state),
                    record.hash,
                )
                kept += 1
        return kept

    async def _snapshot(
        self, case_id: UUID, at_most_version: int | None
    ) -> tuple[Snapshot, Dispute] | None:
        """The newest usable snapshot at or below the version, and the case it holds.

        None if there is none, or reading them failed: it is a cache, the events are always
        there. The store returns only snapshots of this code's ``snapshots.TOPIC``, bound to the
        log and intact; one that then is not sealed with this repository's key (forged by someone
        who can write the database but does not hold the key), does not decode, or does not hold
        the case at its version, is ignored too (and the one before it tried, a few at most).
        """
        if self.snapshot_every <= 0:
            return None
        for _ in range(_SNAPSHOT_TRIES):
            snapshot = await self._latest(case_id, snapshots.TOPIC, at_most_version)
            if snapshot is None:
                return None
            opened = self._open(case_id, snapshot)
            if not isinstance(opened, str):
                return snapshot, opened
            log.warning(
                "ignoring a snapshot of case %s at %d: %s", case_id, snapshot.version, opened
            )
            at_most_version = snapshot.version - 1
        return None

    async def _with_view(self, case_id: UUID) -> tuple[Snapshot, Dispute, CaseState] | None:
        """The newest usable snapshot of the case and its projection state at the same version
        (for the write path); None if either is missing or unusable."""
        start, kept = await asyncio.gather(
            self._snapshot(case_id, None), self._latest(case_id, snapshots.VIEW_TOPIC, None)
        )
        if start is None or kept is None:
            return None
        snapshot, case = start
        if (kept.version, kept.event_hash) != (snapshot.version, snapshot.event_hash):
            return None  # e.g. the view snapshot was not kept; the events are folded instead
        data = self._unseal(case_id, kept, snapshots.VIEW_TOPIC)
        try:
            state = snapshots.decode_view(data) if data is not None else None
        except msgspec.MsgspecError:
            state = None
        if state is None or state.case_id != case_id or state.version != snapshot.version:
            log.warning("ignoring the view snapshot of case %s at %d", case_id, kept.version)
            return None
        return snapshot, case, state

    async def _latest(self, case_id: UUID, topic: str, at_most: int | None) -> Snapshot | None:
        try:
            return await self.store.latest_snapshot(case_id, topic, at_most)
        except Exception:  # the read of the events that follows reports a store that is down
            log.debug("no snapshot read for case %s", case_id, exc_info=True)
            return None

    def _unseal(self, case_id: UUID, snapshot: Snapshot, topic: str) -> bytes | None:
        return snapshots.unseal(
            self.snapshot_key,
            case_id,
            snapshot.version,
            topic,
            snapshot.state,
            snapshot.event_hash,
        )

    def _open(self, case_id: UUID, snapshot: Snapshot) -> Dispute | str:
        """The case a snapshot holds, or why the snapshot is unusable."""
        data = self._unseal(case_id, snapshot, snapshots.TOPIC)
        if data is None:
            return "not sealed by this ledger (another key, or forged)"
        try:
            case = snapshots.decode(data)
        except msgspec.MsgspecError as exc:
            return f"undecodable ({exc})"
        if case.id != case_id or case.version != snapshot.version:
            return "it holds another state"
        return case

    async def refresh_snapshots(self) -> SnapshotRefresh:
        """Make every case's snapshots usable by this repository again: the log is read once,
        and each case whose newest due snapshot (at its highest multiple of ``snapshot_every``)
        is missing or unusable — sealed with an earlier key, written by code that folded
        otherwise, damaged — gets all of its snapshots rewritten (``snapshot``).

        For operators, after a new token secret (which changes the sealing key) or an upgrade
        that changes ``snapshots.TOPIC``: until then such cases fold from their events, correct
        but slower, and the write path keeps a new snapshot only at the next multiple.
        """
        every = self.snapshot_every
        due: dict[UUID, int] = {}  # case → its highest version that should have a snapshot
        if every > 0:
            async for record in self.store.iter_log():
                if record.version % every == 0:
                    due[record.case_id] = record.version
        refreshed = written = 0
        for case_id, version in due.items():
            kept = await self.store.latest_snapshot(case_id, snapshots.TOPIC, version)
            usable = kept is not None and not isinstance(self._open(case_id, kept), str)
            if kept is not None and kept.version == version and usable:
                continue
            written += await self.snapshot(case_id)
            refreshed += 1
        return SnapshotRefresh(cases=len(due), refreshed=refreshed, snapshots=written)
