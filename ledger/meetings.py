"""Meetings of the leading group and its office (四): convened, minuted, reported up (上报).

``Meetings`` appends ``Meeting`` events through the same event store as the cases (with the
audit hooks the ledger was opened with: the same hash chain and Merkle log), as
``ledger.staff`` does for accounts, and appends each decision of the minutes to its case as
``ledger.MeetingDecisionRecorded`` through the case repository (the case's own chain).

The two appends are not one transaction. The minutes event is the source of truth; the case
appends are made after it, each under the idempotency key ``meeting:<id>:<number>`` of its case
(``complete``), so that doing them again appends only those missing:

- a retry of the same minutes request (same body, with or without ``Idempotency-Key``, whatever
  its If-Match) records nothing on the meeting and completes the decisions missing on cases;
- ``complete_all`` does the same for every meeting whose minutes name a case that does not show
  the decision yet (run by ``ledger meetings complete``).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from ledger import commands as c
from ledger.domain.actor import Actor
from ledger.domain.context import Facts
from ledger.domain.dispute import Dispute
from ledger.domain.meeting import Meeting, MeetingDecision, MeetingKind
from ledger.domain.payer import ShortText
from ledger.service import LedgerService, RequestMeta, fingerprint
from ledger.store.codec import encode_metadata
from ledger.store.port import (
    AppendResult,
    CaseNotFound,
    Idempotency,
    IdempotencyKeyReused,
    VersionConflict,
)

_NAMESPACE = UUID("3c1f7a52-8e0b-4d6a-b2f4-91d0c5e7a613")
_CASE_RETRIES = 5
Codes = Annotated[tuple[c.Code, ...], msgspec.Meta(min_length=1, max_length=50)]


class MeetingNotFound(CaseNotFound):
    code = "MEETING_NOT_FOUND"

    def __init__(self, meeting_id: UUID) -> None:
        LookupError.__init__(self, f"no meeting {meeting_id}")
        self.case_id = meeting_id


# -- request bodies (the API's) ----------------------------------------------------------------


class Convene(c.Command):
    kind: MeetingKind
    scheduled_at: datetime
    units: Codes  # the units invited
    agenda: Annotated[tuple[UUID, ...], msgspec.Meta(min_length=1, max_length=50)]
    venue: ShortText | None = None  # default: the reference data's mediation venue


class Decision(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    case_id: UUID  # a case on the meeting's agenda
    decision: c.Text
    assigned_unit: c.Code
    due: date


class RecordMinutes(c.Command):
    attendees: Codes  # the units present
    minutes: Annotated[str, msgspec.Meta(min_length=1, max_length=20000)]
    attendee_names: Annotated[tuple[ShortText, ...], msgspec.Meta(max_length=100)] = ()
    decisions: Annotated[tuple[Decision, ...], msgspec.Meta(max_length=50)] = ()


class ReportUp(c.Command):
    content: c.Text  # what was reported to the leading group (上报)
    occurred_at: datetime | None = None  # when; default now


@dataclass(frozen=True)
class Written:
    """A write's outcome: the meeting as it now stands, and the append (None: nothing new)."""

    meeting: Meeting
    result: AppendResult | None
    replayed: bool = False


class Meetings:
    """Meetings over the ledger's write service (its store, context, clock, case repository)."""

    def __init__(self, service: LedgerService) -> None:
        self.service = service
        self.store = service.store
        self.mapper = service.mapper

    @property
    def context(self) -> Any:
        return self.service.context

    # -- reads ---------------------------------------------------------------------------------

    async def load(self, meeting_id: UUID, to_version: int | None = None) -> Meeting:
        records = await self.store.read_case(meeting_id, to_version=to_version)
        meeting: Any = None
        for record in records:
            if meeting is None and record.topic != "ledger.MeetingConvened":
                break
            meeting = self.mapper.from_record(record).mutate(meeting)  # type: ignore[attr-defined]
        if not isinstance(meeting, Meeting):
            raise MeetingNotFound(meeting_id)
        return meeting

    async def is_case(self, case_id: UUID) -> bool:
        first = await self.store.read_case(case_id, to_version=1)
        return bool(first) and first[0].topic == Dispute.Registered.TOPIC

    # -- writes --------------------------------------------------------------------------------

    async def _append(
        self, meeting: Meeting, actor: Actor, command: c.Command, meta: RequestMeta
    ) -> AppendResult | None:
        pending = meeting.collect_events()
        if not pending:
            return None
        metadata: dict[str, Any] = {"command": type(command).__name__}
        metadata["request_id"] = meta.request_id
        idempotency = None
        if meta.idempotency_key:
            metadata["idempotency_key"] = meta.idempotency_key
            idempotency = Idempotency(meta.idempotency_key, fingerprint(actor, command))
        events = [self.mapper.to_new_event(e, encode_metadata(metadata)) for e in pending]
        return await self.store.append(
            meeting.id, pending[0].originator_version - 1, events, idempotency
        )

    async def _replayed(
        self, meeting_id: UUID, actor: Actor, command: c.Command, meta: RequestMeta
    ) -> bool:
        if not meta.idempotency_key:
            return False
        record = await self.store.idempotency_record(meeting_id, meta.idempotency_key)
        if record is None:
            return False
        if record.fingerprint != fingerprint(actor, command):
            raise IdempotencyKeyReused(meeting_id, meta.idempotency_key)
        return True

    async def convene(self, actor: Actor, command: Convene, meta: RequestMeta) -> Written:
        if meta.idempotency_key:
            meeting_id = uuid.uuid5(_NAMESPACE, f"{actor.staff_id}\0{meta.idempotency_key}")
            if await self._replayed(meeting_id, actor, command, meta):
                return Written(await self.load(meeting_id), None, replayed=True)
        else:
            meeting_id = uuid.uuid4()
        existing = frozenset([case for case in command.agenda if await self.is_case(case)])
        meeting = Meeting.convene(
            meeting_id=meeting_id,
            actor=actor,
            kind=command.kind,
            scheduled_at=command.scheduled_at,
            venue=command.venue,
            units=command.units,
            agenda=command.agenda,
            now=self.service.clock(),
            context=self.context,
            facts=Facts(existing_cases=existing),
        )
        result = await self._append(meeting, actor, command, meta)
        return Written(meeting, result, replayed=bool(result and result.replayed))

    async def append_minutes(
        self,
        meeting_id: UUID,
        actor: Actor,
        command: RecordMinutes,
        expected_version: int | None,
        meta: RequestMeta | None = None,
    ) -> Written:
        """The minutes on the meeting only (``record_minutes`` then completes the cases)."""
        meta = meta or RequestMeta()
        if await self._replayed(meeting_id, actor, command, meta):
            return Written(await self.load(meeting_id), None, replayed=True)
        meeting = await self.load(meeting_id)
        retry = meeting.minutes is not None
        if not retry and expected_version is not None and expected_version != meeting.version:
            raise VersionConflict(meeting_id, expected_version, meeting.version)
        meeting.record_minutes(
            actor,
            command.attendees,
            command.attendee_names,
            command.minutes,
            tuple((d.case_id, d.decision, d.assigned_unit, d.due) for d in command.decisions),
            self.service.clock(),
            self.context,
        )
        result = await self._append(meeting, actor, command, meta)
        return Written(meeting, result, replayed=retry)

    async def record_minutes(
        self,
        meeting_id: UUID,
        actor: Actor,
        command: RecordMinutes,
        expected_version: int | None,
        meta: RequestMeta | None = None,
    ) -> Written:
        written = await self.append_minutes(meeting_id, actor, command, expected_version, meta)
        meeting = written.meeting
        if written.replayed:
            meeting = await self.load(meeting_id)
        await self.complete(meeting)
        return Written(meeting, written.result, written.replayed)

    async def report(
        self,
        meeting_id: UUID,
        actor: Actor,
        command: ReportUp,
        expected_version: int | None,
        meta: RequestMeta | None = None,
    ) -> Written:
        meta = meta or RequestMeta()
        if await self._replayed(meeting_id, actor, command, meta):
            return Written(await self.load(meeting_id), None, replayed=True)
        meeting = await self.load(meeting_id)
        if expected_version is not None and expected_version != meeting.version:
            raise VersionConflict(meeting_id, expected_version, meeting.version)
        meeting.report(
            actor, command.content, command.occurred_at, self.service.clock(), self.context
        )
        return Written(meeting, await self._append(meeting, actor, command, meta))

    # -- the decisions on their cases ----------------------------------------------------------

    async def complete(self, meeting: Meeting) -> int:
        """Append to each case the decisions of the minutes it does not show yet; the number
        appended (0 when every one was there already)."""
        appended = 0
        for decision in meeting.decisions:
            if await self._decision_on_case(meeting, decision):
                appended += 1
        return appended

    async def complete_all(self) -> int:
        """``complete`` for every meeting in the log with minutes (a restart's catch-up)."""
        appended, seen = 0, set()
        async for record in self.store.iter_log():
            if record.topic == "ledger.MeetingMinutesRecorded" and record.case_id not in seen:
                seen.add(record.case_id)
                appended += await self.complete(await self.load(record.case_id))
        return appended

    async def _decision_on_case(self, meeting: Meeting, decision: MeetingDecision) -> bool:
        assert meeting.minutes_by is not None
        assert meeting.minutes_at is not None
        key = f"meeting:{meeting.id}:{decision.number}"
        if await self.store.idempotency_record(decision.case_id, key) is not None:
            return False
        body = msgspec.json.encode(decision, order="sorted")
        digest = hashlib.sha256(f"{meeting.id}\0{meeting.minutes_by.staff_id}\0".encode() + body)
        idempotency = Idempotency(key, digest.hexdigest())
        metadata = encode_metadata(
            {
                "command": "RecordMeetingDecision",
                "request_id": "",
                "idempotency_key": key,
                "meeting_id": str(meeting.id),
            }
        )
        cases = self.service.cases
        for attempt in range(_CASE_RETRIES):
            loaded = await (cases.get if attempt == 0 else cases.read)(decision.case_id)
            loaded.case.record_meeting_decision(
                actor=meeting.minutes_by,
                meeting_id=meeting.id,
                meeting_kind=meeting.kind.value,
                decision_no=decision.number,
                decision=decision.decision,
                assigned_unit=decision.assigned_unit,
                due=decision.due,
                occurred_at=meeting.minutes_at,
            )
            if not loaded.case.pending_events:  # already on the case (recorded without a key)
                return False
            try:
                result = await cases.save(loaded, metadata, idempotency)
            except VersionConflict:
                continue
            return not result.replayed
        raise VersionConflict(decision.case_id, -1, -1)
