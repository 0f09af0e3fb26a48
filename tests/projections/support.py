"""Real events without a database: LedgerService over an in-memory store, with a settable clock.

The store keeps the port's guarantees the projections rely on (contiguous positions, versions
checked, recorded_at non-decreasing); hashes are not computed (the audit tests cover them).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, timedelta
from uuid import UUID

from ledger import commands as c
from ledger.domain.actor import Actor
from ledger.domain.codes import Category, Channel, PayerKind
from ledger.domain.context import SHANGHAI, Context
from ledger.domain.identifiers import make_citizen_id
from ledger.domain.payer import Payer
from ledger.projections.checks import intervals
from ledger.projections.fold import CaseFolder
from ledger.projections.views import Check
from ledger.service import LedgerService
from ledger.store.database import Database, Dialect
from ledger.store.port import (
    AppendResult,
    EventStore,
    Idempotency,
    IdempotencyRecord,
    NewEvent,
    Numbering,
    RecordedEvent,
    Snapshot,
    VersionConflict,
)

ZERO = bytes(32)
_payers = itertools.count(1)


def new_identifier() -> str:
    """A valid citizen ID not used before in this test run (make_citizen_id's default is fixed)."""
    n = next(_payers)
    return make_citizen_id(birth=date(1970, 1, 1) + timedelta(days=n // 1000), sequence=n % 1000)


class MemoryStore:
    # No database behind it: nothing may open audit tables or read models over it.
    database = Database("memory:", Dialect.SQLITE, path="")

    def __init__(self) -> None:
        self.log: list[RecordedEvent] = []
        self.case_numbers: dict[int, int] = {}
        self.snapshots: dict[tuple[UUID, int], Snapshot] = {}
        self.clock = lambda: datetime(2025, 1, 1, tzinfo=SHANGHAI)

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def append(
        self,
        case_id: UUID,
        expected_version: int,
        events: Sequence[NewEvent],
        idempotency: Idempotency | None = None,
        numbering: Numbering | None = None,
    ) -> AppendResult:
        if numbering is not None:  # case numbers, as the real stores give them out
            number = self.case_numbers.get(numbering.year, 0) + 1
            self.case_numbers[numbering.year] = number
            events = numbering.events(number)
        actual = await self.case_version(case_id)
        if actual != expected_version:
            raise VersionConflict(case_id, expected_version, actual)
        recorded_at = max([self.clock(), *(r.recorded_at for r in self.log[-1:])])
        first = len(self.log) + 1
        for new in events:
            self.log.append(
                RecordedEvent(
                    position=len(self.log) + 1,
                    case_id=case_id,
                    version=new.version,
                    topic=new.topic,
                    state=new.state,
                    metadata=new.metadata,
                    recorded_at=recorded_at,
                    prev_hash=ZERO,
                    hash=ZERO,
                )
            )
        return AppendResult(
            case_id,
            events[-1].version,
            first,
            len(self.log),
            recorded_at,
            records=tuple(self.log[first - 1 :]),
        )

    async def read_case(
        self,
        case_id: UUID,
        *,
        to_version: int | None = None,
        as_of: datetime | None = None,
        after_version: int = 0,
    ) -> list[RecordedEvent]:
        return [
            r
            for r in self.log
            if r.case_id == case_id
            and r.version > after_version
            and (to_version is None or r.version <= to_version)
            and (as_of is None or r.recorded_at <= as_of)
        ]

    async def save_snapshot(
        self, case_id: UUID, version: int, topic: str, state: bytes, event_hash: bytes
    ) -> None:
        self.snapshots[(case_id, version)] = Snapshot(case_id, version, topic, state, event_hash)

    async def latest_snapshot(
        self, case_id: UUID, topic: str, at_most_version: int | None = None
    ) -> Snapshot | None:
        hashes = {r.version: r.hash for r in self.log if r.case_id == case_id}
        kept = [
            s
            for (case, version), s in self.snapshots.items()
            if case == case_id
            and s.topic == topic
            and (at_most_version is None or version <= at_most_version)
            and hashes.get(version) == s.event_hash
        ]
        return max(kept, key=lambda s: s.version, default=None)

    async def read_log(self, after: int, limit: int = 1000) -> list[RecordedEvent]:
        return self.log[after : after + limit]

    async def iter_log(self, after: int = 0, batch: int = 5000) -> AsyncIterator[RecordedEvent]:
        for record in self.log[after:]:
            yield record

    async def head(self) -> int:
        return len(self.log)

    async def case_version(self, case_id: UUID) -> int:
        return max((r.version for r in self.log if r.case_id == case_id), default=0)

    async def position_at(self, as_of: datetime) -> int:
        return max((r.position for r in self.log if r.recorded_at <= as_of), default=0)

    async def idempotency_record(self, case_id: UUID, key: str) -> IdempotencyRecord | None:
        return None


class Desk:
    """A LedgerService whose clock (business time and recorded time alike) the test moves."""

    def __init__(self, store: EventStore | None = None, context: Context | None = None) -> None:
        self.now = datetime(2025, 3, 10, 9, 30, tzinfo=SHANGHAI)  # a Monday
        self.store = store if store is not None else MemoryStore()
        if isinstance(self.store, MemoryStore):
            self.store.clock = lambda: self.now
        self.service = LedgerService(self.store, context or Context(), clock=lambda: self.now)
        self.versions: dict[UUID, int] = {}

    def at(self, moment: datetime) -> Desk:
        self.now = moment
        return self

    def later(self, **delta: float) -> Desk:
        self.now += timedelta(**delta)
        return self

    async def register(
        self,
        actor: Actor,
        *,
        received_before: timedelta = timedelta(minutes=20),
        identifier: str | None = None,
        category: Category = Category.PAYMENT,
        jurisdiction: str = "qj.yuanlin",
    ) -> UUID:
        command = c.Register(
            channel=Channel.SERVICE_WINDOW,
            received_at=self.now - received_before,
            payer=Payer(
                kind=PayerKind.PERSON,
                name="陈静",
                identifier=identifier or new_identifier(),
                phone="13872001234",
            ),
            jurisdiction=jurisdiction,
            category=category,
            summary="缴费人反映缴费记录缺失",
            preliminary_opinion="需核实后答复",
        )
        result = await self.service.register(actor, command)
        self.versions[result.case_id] = result.version
        return result.case_id

    async def do(self, case_id: UUID, actor: Actor, command: c.Command) -> AppendResult:
        result = await self.service.execute(case_id, actor, command)
        self.versions[case_id] = result.version
        return result

    async def records(self) -> list[RecordedEvent]:
        return [r async for r in self.store.iter_log()]


def fold(records: Sequence[RecordedEvent], context: Context | None = None) -> CaseFolder:
    """All cases of ``records`` folded in memory, as the runner would with an unbounded cache."""
    folder = CaseFolder(context or Context())
    for record in records:
        folder.apply(record)
    return folder


def found(
    folder: CaseFolder, case_id: UUID, position: int | None = None, on: date | None = None
) -> dict[Check, set[int]]:
    """The findings of a case holding as of ``position`` on day ``on`` (default: the end of the
    log, far in the future), each with the union of the positions proving it."""
    state = folder.states[case_id]
    position = position if position is not None else 10**9
    on = on or date(2099, 1, 1)
    result: dict[Check, set[int]] = {}
    for interval in intervals(state, folder.context):
        if interval.holds(position, on):
            result.setdefault(interval.check, set()).update(interval.proof)
    return result
