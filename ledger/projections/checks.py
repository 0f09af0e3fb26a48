"""First-responder accountability findings FR1–FR9 (DOMAIN.md) of one case, as intervals.

FR1–FR5 are duties (``ledger.projections.duties``) whose misses become intervals; FR6–FR9 are
patterns in the case's history — ping-pong, repeat trips, closure without feedback, cases left
hanging — found here directly as intervals of the log in which they hold.
"""

from __future__ import annotations

from datetime import date, datetime
from itertools import pairwise

from ledger.domain.context import Context, local_date
from ledger.projections.custody import (
    Charge,
    Holding,
    deadline_passed,
    first_responder,
    holder_at,
    holdings,
)
from ledger.projections.duties import Interval, duties
from ledger.projections.repeats import repeat_trip
from ledger.projections.state import (
    AcceptStep,
    CaseState,
    ClassifiedStep,
    ExtensionStep,
    Step,
    TransferStep,
)
from ledger.projections.views import Check


def intervals(s: CaseState, ctx: Context) -> list[Interval]:
    """Every finding FR1–FR9 of the case, as stored for inspections."""
    found = [i for duty in duties(s, ctx) for i in duty.intervals()]
    found += _ping_pong(s, ctx) + _repeat_trip(s) + _closed_without_feedback(s)
    found += _left_hanging(s)
    found.sort(key=lambda i: (i.check, i.from_position, i.proof))
    return found


def _ping_pong(s: CaseState, ctx: Context) -> list[Interval]:
    """FR6 (推诿): a transfer back to a unit or jurisdiction that already held the case, and the
    transfer that takes the count past policy.max_transfers; a transfer returned as misrouted
    (退单) counts as one more move. Charged to the unit (and staff member) that sent the case on;
    a return, to the sender of the transfer it returns (the misrouting was theirs).
    """
    held_units = {s.receiving_unit: s.registered_position}
    held_places = {s.registered_jurisdiction: s.registered_position}
    found = []
    moves: list[TransferStep | AcceptStep | Step] = [*s.transfers, *s.acceptances, *s.returns]
    moves.sort(key=lambda m: m.position)
    counted: list[int] = []  # the positions of the transfers and returns so far
    sender = first_responder(s)
    for m in moves:
        if isinstance(m, AcceptStep):
            held_units.setdefault(m.unit, m.position)
            if m.jurisdiction is not None:
                held_places.setdefault(m.jurisdiction, m.position)
            continue
        counted.append(m.position)
        if isinstance(m, TransferStep):
            sender = Charge(m.from_unit, m.staff_id, m.name)
            before = held_units.get(m.to_unit or "") or held_places.get(m.to_jurisdiction or "")
            if before is not None:
                back = (before, m.position)
                found.append(Interval(Check.FR6, m.position, None, None, False, back, sender))
        if len(counted) == ctx.policy.max_transfers + 1:
            found.append(Interval(Check.FR6, m.position, None, None, False, (*counted,), sender))
    return found


def _repeat_trip(s: CaseState) -> list[Interval]:
    """FR7 (重复跑/多头跑): registered again by the same payer, through any channel and in any
    category, while an earlier case was open or soon after it closed (``repeats``); it holds
    until the new case is linked to one of them (either way round)."""
    trip = repeat_trip(s)
    if trip is None or not trip.earlier:
        return []
    proof = (s.registered_position, *(c.registered_position for c in trip.earlier))
    interval = Interval(Check.FR7, trip.position, trip.linked, None, False, tuple(sorted(proof)))
    return [interval]


def _closed_without_feedback(s: CaseState) -> list[Interval]:
    """FR8: a closure with no feedback since the last decision or reopening. R6 refuses it on
    the write path; imported or corrected data can still carry it, so it is checked anyway."""
    found = []
    for closure in s.closures:
        resets = [
            x.position for x in (*s.decisions, *s.reopenings) if x.position < closure.position
        ]
        since = max(resets, default=s.registered_position)
        if not any(since < f.position < closure.position for f in s.feedbacks):
            proof = (closure.position,) if not resets else (since, closure.position)
            found.append(Interval(Check.FR8, closure.position, None, None, False, proof))
    return found


def _left_hanging(s: CaseState) -> list[Interval]:
    """FR9 (久拖不决): open past the class deadline (as moved by approved extensions), or closed
    after it. Between two changes of deadline or of open/closed the verdict is fixed, so each
    such stretch of the log is one interval. A deadline cannot be erased: when a
    reclassification (R10) sets another one after the case was already open past its deadline,
    that miss stays a finding from then on.

    Each is charged to the unit, and the staff member who accepted it, holding the case when it
    went past its deadline: the start of the day after the deadline, or the start of the stretch
    if that is later (a reopening or a reclassification after the deadline)."""
    closures = {k.position: k for k in s.closures}
    approved = [x for x in s.extensions if x.approved]
    moves: list[Step | ClassifiedStep | ExtensionStep] = [
        *s.classifications,
        *approved,
        *s.closures,
        *s.reopenings,
    ]
    moves.sort(key=lambda m: m.position)
    found: list[Interval] = []
    periods: list[Holding] | None = None  # computed when a finding needs them

    def holder(moment: datetime) -> Charge:
        nonlocal periods
        if periods is None:
            periods = holdings(s)
        return holder_at(periods, moment, first_responder(s))

    charge: Charge | None = None  # of the last open stretch
    due: date | None = None
    provisional, due_position, closure = False, 0, None
    for m, following in pairwise([*moves, None]):
        assert m is not None
        if isinstance(m, ClassifiedStep):
            if due is not None and closure is None and local_date(m.at) > due:
                missed = (s.registered_position, due_position, m.position)
                charge = holder(deadline_passed(due))
                found.append(
                    Interval(Check.FR9, m.position, None, None, provisional, missed, charge)
                )
            due, provisional, due_position, charge = m.due, m.provisional, m.position, None
        elif isinstance(m, ExtensionStep):
            due, provisional, due_position, charge = m.until, False, m.position, None
        else:
            closure = closures.get(m.position)  # None after a reopening
        if due is None:
            continue
        end = following.position if following is not None else None
        basis = (s.registered_position, due_position)
        if closure is None:
            # Open from m on: overdue from the deadline, or from m if that came later.
            charge = holder(max(deadline_passed(due), m.at))
            found.append(Interval(Check.FR9, m.position, end, due, provisional, basis, charge))
        elif local_date(closure.at) > due:
            # Closed late: whoever held it when it went overdue (the open stretch before).
            if charge is None:
                charge = holder(deadline_passed(due))
            proof = (*basis, closure.position)
            found.append(Interval(Check.FR9, m.position, end, None, provisional, proof, charge))
    return found
