"""Custody: who held a case when, and so who a finding is charged to (DOMAIN.md, custody).

A custody period starts at the registration (the receiving unit, held by the first responder),
at an acceptance (签收: the accepting unit and staff member) or at a reopening (the unit and staff
member that held it when it was closed), and ends at the next acceptance or the closure. A
transfer does not move custody until it is accepted; a transfer returned as misrouted (退单)
never moved it. Pure functions of the case state: no I/O.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from ledger.domain.context import SHANGHAI
from ledger.projections.state import CaseState


class Charge(NamedTuple):
    """Whom a finding is charged to: a unit, and the staff member of it who owed the duty
    (``staff_id`` empty when no one of the unit had taken the case yet, e.g. FR5)."""

    unit: str
    staff_id: str
    name: str


class Holding(NamedTuple):
    """One custody period; ``to_position``/``to_at`` None while it lasts."""

    unit: str
    staff_id: str
    name: str
    from_position: int
    from_at: datetime
    to_position: int | None
    to_at: datetime | None


def first_responder(s: CaseState) -> Charge:
    return Charge(s.receiving_unit, s.first_responder.staff_id, s.first_responder.name)


def holdings(s: CaseState) -> list[Holding]:
    """Every custody period of the case, in log order (over its whole history)."""
    moves: list[tuple[int, datetime, str, Charge | None]] = [
        *((a.position, a.at, "accept", Charge(a.unit, a.staff_id, a.name)) for a in s.acceptances),
        *((k.position, k.at, "close", None) for k in s.closures),
        *((r.position, r.at, "reopen", None) for r in s.reopenings),
    ]
    moves.sort(key=lambda move: move[0])
    periods: list[Holding] = []
    holder = first_responder(s)
    since, since_position, holding = s.registered_at, s.registered_position, True
    for position, at, kind, charge in moves:
        if kind == "reopen":
            if not holding:  # the unit (and person) that closed it takes it up again
                since, since_position, holding = at, position, True
            continue
        if holding:
            periods.append(Holding(*holder, since_position, since, position, at))
        if kind == "close":
            holding = False
            continue
        assert charge is not None
        holder, since, since_position, holding = charge, at, position, True
    if holding:
        periods.append(Holding(*holder, since_position, since, None, None))
    return periods


@functools.lru_cache(maxsize=4096)
def deadline_passed(due: date) -> datetime:
    """The moment a deadline passes: the start of the next day, Asia/Shanghai (in UTC, as the
    case state's times are: comparing times of one zone is the fast path)."""
    return datetime.combine(due + timedelta(days=1), time(), SHANGHAI).astimezone(UTC)


def holder_at(periods: list[Holding], moment: datetime, fallback: Charge) -> Charge:
    """Who held the case at ``moment`` (business time): the last period begun by then; before
    the first, or with no period at all, ``fallback``."""
    found = fallback
    for p in periods:
        if p.from_at > moment:
            break
        found = Charge(p.unit, p.staff_id, p.name)
    return found
