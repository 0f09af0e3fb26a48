"""The only write path: command → load the case → domain method (rules) → append.

The actor is passed in by the caller (the API passes the verified token's principal). Reads that
rebuild a case from its events (full history, as of a version or a time) live here too, because
they use the same codec and fold. They start from a snapshot of the case (``ledger.snapshots``)
where there is a trustworthy one, which the write path keeps every ``snapshot_every`` events.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from ledger import commands as c
from ledger import snapshots
from ledger.domain.actor import Actor
from ledger.domain.context import Context, local_date
from ledger.domain.dispute import Dispute
from ledger.domain.errors import InvalidCommand
from ledger.domain.payer import checked_payer
from ledger.handlers import HANDLERS, Handler
from ledger.store.codec import TypedMapper, default_mapper, encode_metadata
from ledger.store.port import (
    AppendResult,
    EventStore,
    Idempotency,
    IdempotencyKeyReused,
    NewEvent,
    Numbering,
    RecordedEvent,
    Snapshot,
    VersionConflict,
)

log = logging.getLogger(__name__)

# Snapshots a read tries, newest first, when the store's one does not decode into the case.
_SNAPSHOT_TRIES = 3

# Registration retries carry no case id yet: the id is derived from the staff member and the key,
# so a retried POST /v1/cases lands on the same case and the store's idempotency check applies.
# Case numbers (``{year}``, ``{seq}``): LEDGER_CASE_NUMBER_FORMAT sets a deployment's own.
DEFAULT_CASE_NUMBER_FORMAT = "潜社争〔{year}〕{seq:04d}号"
_REGISTRATION_NAMESPACE = UUID("6f1d3c0e-2b7a-4c59-9a51-0d3f8f6c2e11")


class CaseNotFound(LookupError):
    code = "CASE_NOT_FOUND"

    def __init__(self, case_id: UUID) -> None:
        super().__init__(f"no case {case_id}")
        self.case_id = case_id


@dataclass(frozen=True)
class SnapshotRefresh:
    """What ``LedgerService.refresh_snapshots`` did."""

    cases: int  # cases long enough to have snapshots
    refreshed: int  # of them, cases whose snapshots were rewritten
    snapshots: int  # snapshots written


@dataclass(frozen=True)
class RequestMeta:
    """Per-request facts that go into every event's metadata."""

    request_id: str = ""
    idempotency_key: str | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


def fingerprint(actor: Actor, command: c.Command) -> str:
    """Identifies who asked for what, so a key reused for another request (or by another member
    of staff) is refused instead of answered with someone else's result."""
    head = f"{actor.staff_id}\0{type(command).__name__}\0".encode()
    body = head + msgspec.json.encode(command, order="sorted")
    return hashlib.sha256(body).hexdigest()


class LedgerService:
    def __init__(
        self,
        store: EventStore,
        context: Context | None = None,
        clock: Callable[[], datetime] = utc_now,
        mapper: TypedMapper | None = None,
        cache_size: int = 10_000,
        snapshot_every: int = 100,
        snapshot_key: bytes | None = None,
        case_number_format: str = DEFAULT_CASE_NUMBER_FORMAT,
    ) -> None:
        self.store = store
        self.case_number_format = case_number_format
        self.context = context or Context()
        self.clock = clock
        self.mapper = mapper or default_mapper()
        # Folded cases by id, least recently written first (see ``_cached``).
        self._cache: OrderedDict[UUID, Dispute] = OrderedDict()
        self._cache_size = cache_size
        # A snapshot of the case after every this many events (0: none written or read),
        # sealed with ``snapshot_key``; without a key, none are kept or trusted.
        self.snapshot_key = snapshot_key or b""
        self.snapshot_every = snapshot_every if snapshot_key else 0
        self._history_observers: list[Callable[[UUID, list[RecordedEvent]], None]] = []

    def observe_histories(self, observer: Callable[[UUID, list[RecordedEvent]], None]) -> None:
        """Have ``observer(case_id, records)`` called with every whole history (versions 1 to
        the newest) the write path reads to load a case, before the command runs on it: the
        API's write responses fold the same records instead of reading them again."""
        self._history_observers.append(observer)

    # -- writes ------------------------------------------------------------------------------

    async def register(
        self, actor: Actor, command: c.Register, meta: RequestMeta | None = None
    ) -> AppendResult:
        meta = meta or RequestMeta()
        if meta.idempotency_key:
            name = f"{actor.staff_id}\0{meta.idempotency_key}"
            case_id = uuid.uuid5(_REGISTRATION_NAMESPACE, name)
            replay = await self._replay(case_id, actor, command, meta)
            if replay is not None:
                return replay
        else:
            case_id = uuid.uuid4()
        p = command.payer
        now = self.clock()

        def numbered(case_number: str | None) -> Dispute:
            return Dispute.register(
                case_id=case_id,
                actor=actor,
                channel=command.channel,
                received_at=command.received_at,
                payer=checked_payer(p.kind, p.name, p.identifier, p.phone),
                jurisdiction=command.jurisdiction,
                category=command.category,
                summary=command.summary,
                preliminary_opinion=command.preliminary_opinion,
                now=now,
                context=self.context,
                case_number=case_number,
            )

        case = numbered(None)  # the rules are checked here, before anything is queued
        # Numbered in the year of registration, Beijing time.
        return await self._save(case, 0, actor, command, meta, (local_date(now).year, numbered))

    async def execute(
        self,
        case_id: UUID,
        actor: Actor,
        command: c.Command,
        expected_version: int | None = None,
        meta: RequestMeta | None = None,
    ) -> AppendResult:
        """Run one command on a case. ``expected_version`` is the version the client last saw."""
        meta = meta or RequestMeta()
        replay = await self._replay(case_id, actor, command, meta)
        if replay is not None:
            return replay
        handler = HANDLERS.get(type(command))
        if handler is None:
            raise InvalidCommand(f"{type(command).__name__} is not a command on a case")
        await self._check_references(case_id, command)
        case = self._cached(case_id, expected_version)
        if case is not None:
            try:
                return await self._run(case, handler, actor, command, expected_version, meta)
            except VersionConflict:
                pass  # the cached state was stale (another process wrote): decide on fresh state
        case = await self.load(case_id, expected_version=expected_version)
        return await self._run(case, handler, actor, command, expected_version, meta)

    async def _run(
        self,
        case: Dispute,
        handler: Handler,
        actor: Actor,
        command: c.Command,
        expected_version: int | None,
        meta: RequestMeta,
    ) -> AppendResult:
        if expected_version is not None and expected_version != case.version:
            raise VersionConflict(case.id, expected_version, case.version)
        loaded_version = case.version
        handler(case, actor, command, self.clock(), self.context)
        return await self._save(case, loaded_version, actor, command, meta)

    def _cached(self, case_id: UUID, expected_version: int | None) -> Dispute | None:
        """A folded case kept from this process's last write to it, taken out of the cache.

        Safe because the append is optimistic: a cached state that another process has moved
        past is refused by the store at its stale version, and the command is decided again on
        the state read from the store. Taken out (not shared) so that concurrent commands on one
        case never mutate the same object; only a successful append puts it back.
        """
        case = self._cache.pop(case_id, None)
        if case is None or (expected_version is not None and case.version != expected_version):
            return None
        return case

    def _remember(self, case: Dispute) -> None:
        self._cache[case.id] = case
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _check_references(self, case_id: UUID, command: c.Command) -> None:
        """Checks that need the store rather than the case: the other case, the corrected event."""
        if isinstance(command, c.Link) and await self.store.case_version(command.case_id) == 0:
            raise InvalidCommand(f"there is no case {command.case_id} to link to")
        if isinstance(command, c.Correct):
            positions = {r.position for r in await self.store.read_case(case_id)}
            if command.position not in positions:
                raise InvalidCommand(
                    f"position {command.position} is not an event of case {case_id}"
                )

    async def _replay(
        self, case_id: UUID, actor: Actor, command: c.Command, meta: RequestMeta
    ) -> AppendResult | None:
        if not meta.idempotency_key:
            return None
        record = await self.store.idempotency_record(case_id, meta.idempotency_key)
        if record is None:
            return None
        if record.fingerprint != fingerprint(actor, command):
            raise IdempotencyKeyReused(case_id, meta.idempotency_key)
        return msgspec.structs.replace(record.result, replayed=True)

    async def _save(
        self,
        case: Dispute,
        loaded_version: int,
        actor: Actor,
        command: c.Command,
        meta: RequestMeta,
        numbered: tuple[int, Callable[[str | None], Dispute]] | None = None,
    ) -> AppendResult:
        metadata: dict[str, Any] = {
            "command": type(command).__name__,
            "request_id": meta.request_id,
        }
        if meta.idempotency_key:
            metadata["idempotency_key"] = meta.idempotency_key
        encoded_metadata = encode_metadata(metadata)
        events = [self.mapper.to_new_event(e, encoded_metadata) for e in case.collect_events()]
        idempotency = (
            Idempotency(meta.idempotency_key, fingerprint(actor, command))
            if meta.idempotency_key
            else None
        )
        extra: dict[str, Any] = {}
        made: list[Dispute] = []
        if numbered is not None:  # a registration: the store gives out its case number
            year, make = numbered

            def events_for(n: int) -> list[NewEvent]:
                made.append(make(self.case_number_format.format(year=year, seq=n)))
                return [
                    self.mapper.to_new_event(e, encoded_metadata) for e in made[-1].collect_events()
                ]

            extra["numbering"] = Numbering(year, events_for)
        result = await self.store.append(case.id, loaded_version, events, idempotency, **extra)
        if made:
            case = made[-1]
        if not result.replayed:  # a replay returns what another request stored, not ``case``
            due = self._snapshot_due(case, loaded_version, result)  # before another can touch it
            self._remember(case)
            if due is not None:
                await self._keep_snapshot(*due)
        return result

    def _snapshot_due(
        self, case: Dispute, loaded_version: int, result: AppendResult
    ) -> tuple[UUID, int, bytes, bytes] | None:
        """The snapshot to keep after an append that crossed a multiple of ``snapshot_every``:
        the case's state, bound to the hash of its last event (None if nothing is due)."""
        every = self.snapshot_every
        if every <= 0 or case.version // every == loaded_version // every:
            return None
        if not result.records or result.records[-1].version != case.version:
            return None  # no stored hash to bind it to (a store that returns no records)
        try:
            state = snapshots.encode(case)
        except Exception:  # a cache: never fail a command that is already recorded
            log.warning("no snapshot of case %s at %d", case.id, case.version, exc_info=True)
            return None
        return case.id, case.version, state, result.records[-1].hash

    async def _keep_snapshot(
        self, case_id: UUID, version: int, state: bytes, event_hash: bytes
    ) -> None:
        topic = snapshots.TOPIC
        sealed = snapshots.seal(self.snapshot_key, case_id, version, topic, state, event_hash)
        try:
            await self.store.save_snapshot(case_id, version, topic, sealed, event_hash)
        except Exception:  # a cache: never fail a command that is already recorded
            log.warning("snapshot of case %s at %d not kept", case_id, version, exc_info=True)

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
        if records and records[0].topic != "ledger.Registered":  # a staff account's events
            raise CaseNotFound(case_id)
        return records

    async def load(
        self,
        case_id: UUID,
        *,
        to_version: int | None = None,
        as_of: datetime | None = None,
        expected_version: int | None = None,
    ) -> Dispute:
        """The case as it stands now, or as it stood at a version or a moment.

        Starts from the newest trustworthy snapshot at or below the version and folds only the
        events after it (the store hands back only snapshots bound to the log, see ``replay``).
        ``expected_version``: the version the caller believes the case is at; below the first
        snapshot's, no snapshot is looked for (one read instead of two for most cases; a wrong
        belief only costs reading the whole history).
        """
        if as_of is not None:  # which version that was is known only from the events
            return (await self.replay(case_id, to_version=to_version, as_of=as_of))[1]
        short = expected_version is not None and expected_version < self.snapshot_every
        start = None if short else await self._snapshot(case_id, to_version)
        if start is not None:
            snapshot, case = start
            after = await self.store.read_case(
                case_id, to_version=to_version, after_version=snapshot.version
            )
            folded = self.fold(after, case)
        else:
            records = await self.history(case_id, to_version=to_version)
            if to_version is None:
                for observe in self._history_observers:
                    observe(case_id, records)
            folded = self.fold(records)
        if not isinstance(folded, Dispute):  # nothing, or another aggregate (a staff account)
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

    async def snapshot(self, case_id: UUID) -> int:
        """Keep the snapshots the write path would have kept for this case (after every
        ``snapshot_every``-th event), folding it from its events; returns how many.

        For cases whose events were stored other than through this service (a bulk load, the
        benchmark's long case) or before their snapshots were kept or could be read (a new
        ``snapshots.TOPIC``). Idempotent: it replaces what it rewrites.
        """
        every = self.snapshot_every
        if every <= 0:
            return 0
        case: Dispute | None = None
        kept = 0
        for record in await self.history(case_id):
            case = self.decode(record).mutate(case)
            if record.version % every == 0 and case is not None:
                await self._keep_snapshot(
                    case_id, record.version, snapshots.encode(case), record.hash
                )
                kept += 1
        return kept

    async def _snapshot(
        self, case_id: UUID, at_most_version: int | None
    ) -> tuple[Snapshot, Dispute] | None:
        """The newest usable snapshot at or below the version, and its state.

        None if there is none, or reading them failed: it is a cache, the events are always
        there. The store returns only snapshots of this code's ``snapshots.TOPIC``, bound to the
        log and intact; one that then is not sealed with this service's key (forged by someone
        who can write the database but does not hold the key), does not decode, or does not hold
        the case at its version, is ignored too (and the one before it tried, a few at most).
        """
        if self.snapshot_every <= 0:
            return None
        for _ in range(_SNAPSHOT_TRIES):
            try:
                snapshot = await self.store.latest_snapshot(
                    case_id, snapshots.TOPIC, at_most_version
                )
            except Exception:  # the read of the events that follows reports a store that is down
                log.debug("no snapshot read for case %s", case_id, exc_info=True)
                return None
            if snapshot is None:
                return None
            case = self._opened(case_id, snapshot)
            if case is not None:
                return snapshot, case
            at_most_version = snapshot.version - 1
        return None

    def _opened(self, case_id: UUID, snapshot: Snapshot) -> Dispute | None:
        """The case a snapshot holds, if it is sealed with this service's key, decodes, and
        holds ``case_id`` at the snapshot's version; None (logged) otherwise."""
        case = self._open(case_id, snapshot)
        if isinstance(case, str):
            log.warning("ignoring a snapshot of case %s at %d: %s", case_id, snapshot.version, case)
            return None
        return case

    def _open(self, case_id: UUID, snapshot: Snapshot) -> Dispute | str:
        """``_opened`` without the log: the case, or why the snapshot is unusable."""
        state = snapshots.unseal(
            self.snapshot_key,
            case_id,
            snapshot.version,
            snapshots.TOPIC,
            snapshot.state,
            snapshot.event_hash,
        )
        if state is None:
            return "not sealed by this ledger (another key, or forged)"
        try:
            case = snapshots.decode(state)
        except msgspec.MsgspecError as exc:
            return f"undecodable ({exc})"
        if case.id != case_id or case.version != snapshot.version:
            return "it holds another state"
        return case

    async def refresh_snapshots(self) -> SnapshotRefresh:
        """Make every case's snapshots usable by this service again: the log is read once, and
        each case whose newest due snapshot (at its highest multiple of ``snapshot_every``) is
        missing or unusable — sealed with an earlier key, written by code that folded otherwise,
        damaged — gets all of its snapshots rewritten (``snapshot``).

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

    def fold(self, records: list[RecordedEvent], case: Dispute | None = None) -> Dispute | None:
        """``case`` (None: nothing yet) with the events of ``records`` applied, in order."""
        for record in records:
            case = self.decode(record).mutate(case)
        return case

    def decode(self, record: RecordedEvent) -> Any:
        """The domain event a stored record holds (upcast to the current class version)."""
        return self.mapper.from_record(record)
