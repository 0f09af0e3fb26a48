"""Repeat trips (重复跑/多头跑, FR7): whether a payer registered again repeats an earlier case.

One definition, used everywhere the ledger speaks of repeat trips: the findings (FR7,
``checks``), the department statistics (their ``repeat`` fact) and the cases a registration
answers with (``ReadModels.payer_cases``).

A registration repeats an earlier case of the same payer (by identifier) — through any channel,
in any category — that is open when the payer comes back, or was closed at most
``context.repeat_window.days`` working days before (``unsatisfied_days`` when the payer's last
word on it, a feedback or a follow-up visit, was unsatisfied). The earlier cases are found when
the registration is folded (``CaseFolder._register``), so the verdict rests on the log up to
the registration alone; the finding lasts until the new case is linked to one of them.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from ledger.domain.codes import LinkRelation, Satisfaction
from ledger.domain.context import Context, local_date
from ledger.projections.state import CaseState, EarlierCase


def repeats(earlier: CaseState, came_back_on: date, context: Context) -> bool:
    """Whether a payer coming back on ``came_back_on`` (Asia/Shanghai) repeats ``earlier``, as
    its state stands then."""
    if not earlier.closed:
        return True
    closed_on = local_date(earlier.closures[-1].at)
    window = context.repeat_window
    days = window.unsatisfied_days if last_word_unsatisfied(earlier) else window.days
    since, _ = context.calendar.working_days_between(closed_on, came_back_on)
    return since <= days


def last_word_unsatisfied(s: CaseState) -> bool:
    """Whether the payer's latest feedback or follow-up visit on the case was unsatisfied."""
    said = [
        *((f.position, x) for f, x in zip(s.feedbacks, s.feedback_satisfactions, strict=False)),
        *((v.position, v.satisfaction) for v in s.follow_ups),
    ]
    return bool(said) and max(said, key=lambda p: p[0])[1] is Satisfaction.UNSATISFIED


class RepeatTrip(NamedTuple):
    position: int  # where it is known: the registration, or a duplicate link recorded on it
    earlier: tuple[EarlierCase, ...]  # the earlier cases repeated (none: only linked as one)
    linked: int | None  # the position of the link to one of them (it answers FR7)


def repeat_trip(s: CaseState) -> RepeatTrip | None:
    """The repeat trip the case is, if it is one: registered while it repeated earlier cases of
    the payer (:func:`repeats`), or linked by its own record as a duplicate of another case."""
    if s.earlier_open_cases:
        earlier = {c.case_id for c in s.earlier_open_cases}
        link = next((k.position for k in s.links if k.case_id in earlier), None)
        return RepeatTrip(s.registered_position, tuple(s.earlier_open_cases), link)
    duplicates = [
        k.position for k in s.links if k.outgoing and k.relation is LinkRelation.DUPLICATE
    ]
    if duplicates:
        return RepeatTrip(min(duplicates), (), min(duplicates))
    return None
