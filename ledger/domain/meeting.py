"""The Meeting aggregate: a joint meeting (联席会议) or a leading-group meeting (领导小组会议) of
clause 四 — who convened it, the units invited, the cases on its agenda, its minutes and
decisions, and what was reported up (上报).

Stored in the same log as the cases (same hash chain, same Merkle tree), as ``StaffAccount`` is.
The minutes event is the source of truth for the decisions; each decision is also appended to
its case's history (``ledger.MeetingDecisionRecorded``, by ``ledger.meetings``), where it is a
task of the assigned unit. Pure domain: what the rules need from beyond the meeting (whether the
agenda's cases exist) comes in as ``Facts``.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate, event

from ledger.domain import guards
from ledger.domain.actor import Actor
from ledger.domain.codes import Role
from ledger.domain.context import Context, Facts, local_date
from ledger.domain.errors import InvalidCommand, InvalidTransition, r11


class MeetingKind(StrEnum):
    JOINT_MEETING = "joint_meeting"  # 联席会议
    LEADING_GROUP = "leading_group"  # 领导小组会议

    @property
    def label(self) -> str:
        return {"joint_meeting": "联席会议", "leading_group": "领导小组会议"}[self.value]


class UnknownCase(InvalidCommand):
    code = "UNKNOWN_CASE"


class NotOnAgenda(InvalidCommand):
    code = "NOT_ON_AGENDA"


class MeetingDecision(msgspec.Struct, frozen=True, kw_only=True):
    """One decision of the minutes: numbered from 1 in the order given; a task of
    ``assigned_unit`` on ``case_id``, due on ``due`` (Asia/Shanghai date)."""

    number: int
    case_id: UUID
    decision: str
    assigned_unit: str
    due: date


MAX_AGENDA = 50
MAX_DECISIONS = 50


def _units(codes: tuple[str, ...], context: Context, what: str) -> tuple[str, ...]:
    seen: list[str] = []
    for code in codes:
        if not guards._is_unit(context.reference, code):
            raise InvalidCommand(f"{what}: unknown unit {code!r}")
        if code in seen:
            raise InvalidCommand(f"{what}: unit {code!r} is listed twice")
        seen.append(code)
    return tuple(seen)


def leading_group_office(actor: Actor, context: Context, what: str) -> None:
    """R11: the leading group's office is the unit the reference data names, with the role."""
    if not actor.has(Role.OFFICE) or actor.unit != context.reference.leading_group_office:
        raise r11(
            f"only the leading-group office ({context.reference.leading_group_office} in the "
            f"reference data) may {what}; {actor.unit} may not"
        )


class Meeting(Aggregate):
    TOPIC = "ledger.Meeting"

    class Event(Aggregate.Event):
        TOPIC = "ledger.Meeting.Event"

    class Created(Aggregate.Created):
        TOPIC = "ledger.Meeting.Created"

    @classmethod
    def convene(
        cls,
        *,
        meeting_id: UUID,
        actor: Actor,
        kind: MeetingKind,
        scheduled_at: datetime,
        venue: str | None,
        units: tuple[str, ...],
        agenda: tuple[UUID, ...],
        now: datetime,
        context: Context,
        facts: Facts,
    ) -> Meeting:
        leading_group_office(actor, context, "convene a meeting")
        scheduled_at = guards.aware("scheduled_at", scheduled_at)
        if venue is None or guards.is_blank(venue):
            code = context.reference.mediation_venue
            if code is None:
                raise InvalidCommand("give a venue: the reference data names no mediation venue")
            venue = context.reference.unit(code).name
        venue = guards.text("venue", venue)
        if not units:
            raise InvalidCommand("a meeting invites at least one unit")
        invited = _units(units, context, "units")
        if not agenda:
            raise InvalidCommand("a meeting has at least one case on its agenda")
        if len(set(agenda)) != len(agenda):
            raise InvalidCommand("a case is on the agenda once")
        for case_id in agenda:
            if case_id not in facts.existing_cases:
                raise UnknownCase(f"no case {case_id} to put on the agenda")
        return cls(
            id=meeting_id,
            actor=actor,
            kind=kind,
            scheduled_at=scheduled_at,
            venue=venue,
            units=list(invited),
            agenda=list(agenda),
            occurred_at=now,
        )

    @event("MeetingConvened", topic="ledger.MeetingConvened")
    def __init__(
        self,
        id: UUID,
        actor: Actor,
        kind: MeetingKind,
        scheduled_at: datetime,
        venue: str,
        units: list[str],
        agenda: list[UUID],
        occurred_at: datetime,
    ) -> None:
        self.kind = kind
        self.scheduled_at = scheduled_at
        self.venue = venue
        self.units = tuple(units)
        self.agenda = tuple(agenda)
        self.convened_by = actor
        self.minutes: str | None = None
        self.minutes_by: Actor | None = None
        self.minutes_at: datetime | None = None
        self.attendees: tuple[str, ...] = ()
        self.attendee_names: tuple[str, ...] = ()
        self.decisions: tuple[MeetingDecision, ...] = ()
        self.reports: tuple[tuple[str, datetime, Actor], ...] = ()

    def record_minutes(
        self,
        actor: Actor,
        attendees: tuple[str, ...],
        attendee_names: tuple[str, ...],
        minutes: str,
        decisions: tuple[tuple[UUID, str, str, date], ...],
        now: datetime,
        context: Context,
    ) -> None:
        """The minutes, once. The same minutes again (a retry) record nothing; other minutes
        after them are refused."""
        leading_group_office(actor, context, "record a meeting's minutes")
        present = _units(attendees, context, "attendees")
        if not present:
            raise InvalidCommand("the minutes list the units present")
        names = tuple(guards.text("attendee_names", n) for n in attendee_names)
        text = guards.text("minutes", minutes)
        made = []
        for number, (case_id, decision, unit, due) in enumerate(decisions, start=1):
            if case_id not in self.agenda:
                raise NotOnAgenda(
                    f"decision {number}: case {case_id} is not on the meeting's agenda"
                )
            _units((unit,), context, f"decision {number} assigned_unit")
            if due < local_date(self.scheduled_at):
                raise InvalidCommand(
                    f"decision {number}: due {due.isoformat()} is before the meeting"
                )
            made.append(
                MeetingDecision(
                    number=number,
                    case_id=case_id,
                    decision=guards.text(f"decision {number}", decision),
                    assigned_unit=unit,
                    due=due,
                )
            )
        if len(made) > MAX_DECISIONS:
            raise InvalidCommand(f"at most {MAX_DECISIONS} decisions per meeting")
        if self.minutes is not None:
            same = (self.attendees, self.attendee_names, self.minutes, self.decisions) == (
                present,
                names,
                text,
                tuple(made),
            )
            if same:
                return  # a retry of the minutes on record: nothing new
            raise InvalidTransition("the meeting's minutes are recorded already")
        if now < self.scheduled_at - guards.CLOCK_SKEW:
            raise InvalidTransition(
                f"the meeting is scheduled for {self.scheduled_at.isoformat()}: minutes follow it"
            )
        self._minutes_recorded(
            actor=actor,
            attendees=list(present),
            attendee_names=list(names),
            minutes=text,
            decisions=made,
            occurred_at=now,
        )

    @event("MinutesRecorded", topic="ledger.MeetingMinutesRecorded")
    def _minutes_recorded(
        self,
        actor: Actor,
        attendees: list[str],
        attendee_names: list[str],
        minutes: str,
        decisions: list[MeetingDecision],
        occurred_at: datetime,
    ) -> None:
        self.attendees = tuple(attendees)
        self.attendee_names = tuple(attendee_names)
        self.minutes = minutes
        self.minutes_by = actor
        self.minutes_at = occurred_at
        self.decisions = tuple(decisions)

    def report(
        self,
        actor: Actor,
        content: str,
        occurred_at: datetime | None,
        now: datetime,
        context: Context,
    ) -> None:
        """上报: what was reported to the leading group, and when (``occurred_at``, default
        now; not in the future, not before the minutes)."""
        leading_group_office(actor, context, "report a meeting up (上报)")
        if self.minutes is None or self.minutes_at is None:
            raise InvalidTransition("record the meeting's minutes before reporting it up")
        when = now if occurred_at is None else guards.not_in_future("occurred_at", occurred_at, now)
        if when < self.minutes_at - guards.CLOCK_SKEW:
            raise InvalidCommand("occurred_at is before the minutes were recorded")
        self._reported(actor=actor, content=guards.text("content", content), occurred_at=when)

    @event("Reported", topic="ledger.MeetingReported")
    def _reported(self, actor: Actor, content: str, occurred_at: datetime) -> None:
        self.reports = (*self.reports, (content, occurred_at, actor))
