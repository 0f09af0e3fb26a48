"""First-responder duties FR1–FR5 (DOMAIN.md), and the interval form findings are stored in.

Two shapes, one source:

- a :class:`Duty` is something owed by a due date: it arises at a log position, may be
  discharged by a later event (well or badly) or superseded; its status as of (position P,
  day D) is met / missed / pending. The accountability trail shows duties.
- an :class:`Interval` is a finding as stored for inspections: it holds for log positions
  ``from_position <= P < to_position`` and, if ``after`` is set, only on days after ``after``.
  Duties turn into intervals mechanically (:meth:`Duty.intervals`); the checks FR6–FR9
  (``ledger.projections.checks``) are intervals directly.

Every verdict depends only on events at or before the position it is evaluated at, so an interval
computed today answers "as of" any earlier position exactly as it would have then: that is what
makes an inspection as of T reproducible, and what lets inspections filter stored intervals
instead of replaying histories. Deadlines come from the policy and the working-day calendar only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise

from ledger.domain.calendar import Deadline, WorkingCalendar
from ledger.domain.codes import Channel, Classification
from ledger.domain.context import Context, local_date
from ledger.domain.policy import petition_limit
from ledger.domain.reference import UnknownUnit
from ledger.projections.custody import (
    Charge,
    deadline_passed,
    first_responder,
    holder_at,
    holdings,
)
from ledger.projections.state import CaseState, Step, TransferStep
from ledger.projections.views import Check, DutyStatus


@dataclass(frozen=True, slots=True)
class Interval:
    check: Check
    from_position: int
    to_position: int | None  # exclusive; None: for good
    after: date | None  # holds only on days after this one (a deadline); None: at once
    provisional: bool
    proof: tuple[int, ...]
    # Whom it is charged to (``ledger.projections.custody``); None: the first responder and
    # the receiving unit.
    charge: Charge | None = None

    def holds(self, position: int, today: date) -> bool:
        return (
            self.from_position <= position
            and (self.to_position is None or position < self.to_position)
            and (self.after is None or today > self.after)
        )


@dataclass(frozen=True, slots=True)
class Duty:
    check: Check
    arises: int  # the position from which the duty is known
    due: date | None  # None: no time limit, only a wrong discharge misses it
    provisional: bool
    basis: tuple[int, ...]  # the positions that establish the duty
    done: int | None = None  # the position of the event that discharged it
    done_at: datetime | None = None
    ok: bool = True  # whether that discharge met the duty
    until: int | None = None  # superseded at this position without being discharged
    charge: Charge | None = None  # None: the first responder's (FR1–FR4)

    def status(self, position: int, today: date) -> DutyStatus | None:
        """As of log position ``position`` on day ``today``; None if not (or no longer) owed."""
        if position < self.arises:
            return None
        if self.done is not None and self.done <= position:
            return DutyStatus.MET if self.ok else DutyStatus.MISSED
        if self.until is not None and self.until <= position:
            return None
        if self.due is not None and today > self.due:
            return DutyStatus.MISSED
        return DutyStatus.PENDING

    @property
    def positions(self) -> tuple[int, ...]:
        if self.done is None or self.done in self.basis:
            return self.basis
        return (*self.basis, self.done)

    def intervals(self) -> list[Interval]:
        """The findings this duty gives, exactly when :meth:`status` is MISSED."""
        found = []
        end = self.done if self.done is not None else self.until
        if self.due is not None and (end is None or end > self.arises):
            found.append(
                Interval(
                    self.check,
                    self.arises,
                    end,
                    self.due,
                    self.provisional,
                    self.basis,
                    self.charge,
                )
            )
        if self.done is not None and not self.ok:
            found.append(
                Interval(
                    self.check,
                    self.done,
                    None,
                    None,
                    self.provisional,
                    self.positions,
                    self.charge,
                )
            )
        return found


@functools.lru_cache(maxsize=8192)
def _deadline(calendar: WorkingCalendar, start: date, working_days: int) -> Deadline:
    # A rebuild asks for the same few hundred (day, count) pairs hundreds of thousands of times.
    return calendar.add_working_days(start, working_days)


def duties(s: CaseState, ctx: Context) -> list[Duty]:
    """FR1–FR5: what the first responder (and, for FR5, the receiving unit) owed; and the time
    limits other rules set (PA, AR), owed by the unit holding the case."""
    return [
        _registration(s, ctx),
        _classification(s, ctx),
        *_routing(s, ctx),
        *_handover(s, ctx),
        *_tasks(s),
        *_time_limits(s, ctx),
    ]


def _tasks(s: CaseState) -> list[Duty]:
    """TASK: each meeting's decision on the case done by its due date, charged to the unit it
    was assigned to (四: the member units carry out the tasks the leading group assigns)."""
    found = []
    for t in s.tasks:
        duty = Duty(
            Check.TASK,
            t.position,
            t.due,
            False,
            (t.position,),
            charge=Charge(t.assigned_unit, "", ""),
        )
        if t.done_position is not None and t.done_at is not None:
            duty = _discharged(duty, t.done_position, t.done_at, local_date(t.done_at) <= t.due)
        found.append(duty)
    return found


def _time_limits(s: CaseState, ctx: Context) -> list[Duty]:
    """PA: a petition-platform matter (信访) is decided whether to accept within the days of
    信访工作条例 (calendar days from receipt, ``policy.petition_limit``) — by its first
    classification (accepted and routed; 不予受理 is a classification too, then a decision).
    AR: the reply owed to the body that assigned the matter (交办/转办), by the date it set —
    owed from the event that recorded the assignment (the registration, or a later
    ``AssignmentRecorded``, which is then its basis); the first reply answers it. Each is
    charged to the unit, and the staff member who accepted the case, holding it when the limit
    passed (as FR9)."""
    found = []
    basis = (s.registered_position,)
    if s.channel is Channel.PETITION_PLATFORM:
        days = ctx.policy.petition_acceptance_days
        d = petition_limit(ctx.calendar, local_date(s.received_at), days)
        duty = Duty(Check.PA, s.registered_position, d.due, d.provisional, basis)
        if s.classifications:
            first = s.classifications[0]
            ok = local_date(first.at) <= d.due
            duty = _discharged(duty, first.position, first.at, ok)
        found.append(duty)
    if s.assignment is not None:
        due = s.assignment.reply_due
        assigned = s.assignment.position or s.registered_position
        duty = Duty(Check.AR, assigned, due, False, (assigned,))
        if s.assignment_replies:
            reply = s.assignment_replies[0]
            duty = _discharged(duty, reply.position, reply.at, local_date(reply.at) <= due)
        found.append(duty)
    if not found:
        return found
    periods = holdings(s)
    return [
        Duty(
            d.check,
            d.arises,
            d.due,
            d.provisional,
            d.basis,
            d.done,
            d.done_at,
            d.ok,
            charge=holder_at(periods, deadline_passed(d.due), first_responder(s))
            if d.due is not None
            else None,
        )
        for d in found
    ]


def _registration(s: CaseState, ctx: Context) -> Duty:
    # FR1: registered the same working day as the payer's contact (policy.registration_days).
    deadline = _deadline(ctx.calendar, local_date(s.received_at), ctx.policy.registration_days)
    reg = s.registered_position
    return Duty(
        Check.FR1,
        reg,
        deadline.due,
        deadline.provisional,
        (),
        done=reg,
        done_at=s.registered_at,
        ok=local_date(s.registered_at) <= deadline.due,
    )


def _classification(s: CaseState, ctx: Context) -> Duty:
    # FR2: classified by the first responder within policy.classification_days.
    deadline = _deadline(ctx.calendar, local_date(s.registered_at), ctx.policy.classification_days)
    duty = Duty(
        Check.FR2,
        s.registered_position,
        deadline.due,
        deadline.provisional,
        (s.registered_position,),
    )
    if not s.classifications:
        return duty
    first = s.classifications[0]
    ok = first.staff_id == s.first_responder.staff_id and local_date(first.at) <= deadline.due
    return _discharged(duty, first.position, first.at, ok)


def _discharged(duty: Duty, position: int, at: datetime, ok: bool) -> Duty:
    return Duty(
        duty.check,
        duty.arises,
        duty.due,
        duty.provisional,
        duty.basis,
        position,
        at,
        ok,
        charge=duty.charge,
    )


def _holder_at(s: CaseState, position: int) -> str:
    holder = s.receiving_unit
    for accepted in s.acceptances:
        if accepted.position > position:
            break
        holder = accepted.unit
    return holder


def _routing(s: CaseState, ctx: Context) -> list[Duty]:
    """FR3, one duty per classification: the first routing step after it must fit the class —
    simple: closed on the spot by the first responder; general: to a service window or a
    便民服务中心 (or handed to the competent jurisdiction); major: to the leading group."""
    actions: list[tuple[int, str, Step | TransferStep]] = sorted(
        [
            *((t.position, "transfer", t) for t in s.transfers),
            *((e.position, "escalation", e) for e in s.escalations),
            *((k.position, "closure", k) for k in s.closures),
        ],
        key=lambda action: action[0],
    )
    found = []
    for c, following in pairwise([*s.classifications, None]):
        assert c is not None
        due, provisional = None, False
        if c.classification is Classification.SIMPLE:
            d = _deadline(ctx.calendar, local_date(c.at), ctx.policy.simple_route_days)
            due, provisional = d.due, d.provisional
        duty = Duty(Check.FR3, c.position, due, provisional, (c.position,))
        if c.classification is Classification.GENERAL and _window(ctx, _holder_at(s, c.position)):
            found.append(_discharged(duty, c.position, c.at, True))  # already where it is done
            continue
        action = next((a for a in actions if a[0] > c.position), None)
        if action is None or (following is not None and following.position < action[0]):
            until = following.position if following is not None else None
            found.append(Duty(Check.FR3, c.position, due, provisional, duty.basis, until=until))
            continue
        position, kind, step = action
        ok = _as_classified(s, ctx, c.classification, kind, step, due)
        found.append(_discharged(duty, position, step.at, ok))
    return found


def _window(ctx: Context, unit: str) -> bool:
    try:
        return ctx.reference.is_window_or_centre(unit)
    except UnknownUnit:  # a unit the deployment's reference data no longer lists
        return False


def _as_classified(
    s: CaseState,
    ctx: Context,
    classification: Classification,
    kind: str,
    step: Step | TransferStep,
    due: date | None,
) -> bool:
    if classification is Classification.SIMPLE:
        return (
            kind == "closure"
            and step.staff_id == s.first_responder.staff_id
            and due is not None
            and local_date(step.at) <= due
        )
    if not isinstance(step, TransferStep):
        return classification is Classification.MAJOR and kind == "escalation"
    if classification is Classification.GENERAL:
        return step.to_jurisdiction is not None or (
            step.to_unit is not None and _window(ctx, step.to_unit)
        )
    return step.to_unit == ctx.reference.leading_group_office


def _registered_elsewhere(s: CaseState, ctx: Context) -> bool:
    """Whether the case's jurisdiction at registration is not the receiving unit's (a city-wide
    unit, or one the reference data no longer lists, serves every jurisdiction: no duty)."""
    try:
        served = ctx.reference.jurisdiction_of(s.receiving_unit)
    except UnknownUnit:
        return False
    return served is not None and served != s.registered_jurisdiction


def _handover(s: CaseState, ctx: Context) -> list[Duty]:
    """FR4 (the first transfer to another jurisdiction, counted from registration: owed from
    the registration when the case was registered outside the receiving unit's jurisdiction,
    else known once such a transfer exists) and FR5 (each transfer accepted in time, charged to
    the unit it was sent to)."""
    found = []
    policy, calendar = ctx.policy, ctx.calendar
    to_jurisdiction = next((t for t in s.transfers if t.to_jurisdiction is not None), None)
    elsewhere = _registered_elsewhere(s, ctx)
    if to_jurisdiction is not None or elsewhere:
        d = _deadline(
            calendar, local_date(s.registered_at), policy.out_of_jurisdiction_transfer_days
        )
        arises = s.registered_position
        if not elsewhere and to_jurisdiction is not None:
            arises = to_jurisdiction.position
        duty = Duty(Check.FR4, arises, d.due, d.provisional, (s.registered_position,))
        if to_jurisdiction is not None:
            ok = local_date(to_jurisdiction.at) <= d.due
            duty = _discharged(duty, to_jurisdiction.position, to_jurisdiction.at, ok)
        found.append(duty)
    for t in s.transfers:
        d = _deadline(calendar, local_date(t.at), policy.acceptance_days)
        receiver = Charge(t.to_unit or t.to_jurisdiction or t.from_unit, "", "")
        duty = Duty(Check.FR5, t.position, d.due, d.provisional, (t.position,), charge=receiver)
        # Accepted (签收), or returned as misrouted (退单): either way the receiving side acted.
        answers = [
            *((a.position, a.at) for a in s.acceptances),
            *((r.position, r.at) for r in s.returns),
        ]
        answer = min((a for a in answers if a[0] > t.position), default=None)
        later = next((n for n in s.transfers if n.position > t.position), None)
        if answer is not None and (later is None or answer[0] < later.position):
            duty = _discharged(duty, answer[0], answer[1], local_date(answer[1]) <= d.due)
        found.append(duty)
    return found
