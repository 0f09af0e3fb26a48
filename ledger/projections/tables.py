"""The stored shape of the read models, shared by both databases: rows, filters, cursors.

``proj_cases``: one row per case, the columns the list filters and inspections need, plus the
case state (msgpack) the runner folds into and views are built from.
``proj_findings``: one row per finding interval (``ledger.projections.checks``), with the case's
first responder, unit and received time copied in so an inspection is one indexed range scan,
and whom the finding is charged to (``ledger.projections.custody``).
``proj_custody``: one row per custody period of a case (the inspections' cases held).
``proj_consultations``: one row per joint consultation (会商) of a case (the inspections'
consultations, ``ledger.projections.consultations``).
``proj_tracking``: per projection, the last log position applied and a fingerprint of what its
rows were computed with (projection version; for the findings also policy, calendar, reference
data). The tables themselves are declared by the projections (``cases.py``, ``findings.py``,
``consultations.py`` …).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, NamedTuple
from uuid import UUID

import msgspec

from ledger.domain.context import Context
from ledger.projections.checks import intervals
from ledger.projections.custody import first_responder as first_responder_charge
from ledger.projections.custody import holdings
from ledger.projections.state import CaseState, encode_state
from ledger.projections.views import CaseFilters


class CaseRow(NamedTuple):
    case_id: UUID
    status: str
    classification: str | None
    category: str
    holding_unit: str
    jurisdiction: str
    first_responder: str
    first_responder_name: str
    receiving_unit: str
    received_at: datetime
    due: date | None
    closed: bool
    payer_identifier: str
    registered_position: int
    last_position: int
    case_number: str | None
    # The side a transfer awaits (签收 or 退单): a unit, or a jurisdiction (any unit serving it);
    # both None when no transfer is pending.
    awaiting_unit: str | None
    awaiting_jurisdiction: str | None
    # The date the assigning body is owed a reply by (交办/转办), until the first reply.
    reply_due: date | None
    state: bytes


class FindingRow(NamedTuple):
    case_id: UUID
    seq: int
    check_id: str
    first_responder: str
    receiving_unit: str
    received_at: datetime
    registered_position: int
    from_position: int
    to_position: int | None
    after_date: date | None
    provisional: bool
    proof: list[int]  # the positions proving it (a list: both drivers make arrays of lists)
    # Whom it is charged to: whoever owed the duty when it fell due (ledger.projections.custody)
    charged_unit: str
    charged_staff: str  # empty: the unit as a whole (FR5: nobody there had taken the case)
    charged_name: str


class CustodyRow(NamedTuple):
    """One custody period of a case (``ledger.projections.custody.Holding``)."""

    case_id: UUID
    seq: int
    unit: str
    staff_id: str
    staff_name: str
    from_position: int
    from_at: datetime
    to_position: int | None
    to_at: datetime | None


CASE_COLUMNS = CaseRow._fields
FINDING_COLUMNS = FindingRow._fields
CUSTODY_COLUMNS = CustodyRow._fields


def case_row(s: CaseState) -> CaseRow:
    pending = s.pending_transfer
    return CaseRow(
        case_id=s.case_id,
        status=s.status.value,
        classification=s.classification.value if s.classification is not None else None,
        category=s.category.value,
        holding_unit=s.holder,
        jurisdiction=s.jurisdiction,
        first_responder=s.first_responder.staff_id,
        first_responder_name=s.first_responder.name,
        receiving_unit=s.receiving_unit,
        received_at=s.received_at,
        due=s.due,
        closed=s.closed,
        payer_identifier=s.payer.identifier,
        registered_position=s.registered_position,
        last_position=s.last_position,
        case_number=s.case_number,
        awaiting_unit=pending.to_unit if pending is not None else None,
        awaiting_jurisdiction=pending.to_jurisdiction if pending is not None else None,
        reply_due=(
            s.assignment.reply_due
            if s.assignment is not None and not s.assignment_replies
            else None
        ),
        state=encode_state(s),
    )


def finding_rows(s: CaseState, ctx: Context) -> list[FindingRow]:
    # Each finding carries the case's first responder and receiving unit (三(一): the first
    # responder answers for registration, classification and transfer) and whom it is charged
    # to: those for FR1–FR4, FR7 and FR8; the receiving unit for FR5, the sender for FR6, the
    # holder when the deadline passed for FR9.
    responder = first_responder_charge(s)
    return [
        FindingRow(
            case_id=s.case_id,
            seq=seq,
            check_id=i.check.value,
            first_responder=s.first_responder.staff_id,
            receiving_unit=s.receiving_unit,
            received_at=s.received_at,
            registered_position=s.registered_position,
            from_position=i.from_position,
            to_position=i.to_position,
            after_date=i.after,
            provisional=i.provisional,
            proof=list(i.proof),
            charged_unit=(i.charge or responder).unit,
            charged_staff=(i.charge or responder).staff_id,
            charged_name=(i.charge or responder).name,
        )
        for seq, i in enumerate(intervals(s, ctx))
    ]


def custody_rows(s: CaseState) -> list[CustodyRow]:
    return [CustodyRow(s.case_id, seq, *h) for seq, h in enumerate(holdings(s))]


# -- listing ----------------------------------------------------------------------------------


class InvalidCursor(ValueError):
    code = "INVALID_CURSOR"


class Cursor(NamedTuple):
    """Where a page ended, in the list order: received_at descending, then case id."""

    received_at: datetime
    case_id: UUID


_CURSOR = msgspec.json.Decoder(tuple[datetime, UUID])


def encode_cursor(cursor: Cursor) -> str:
    raw = msgspec.json.encode((cursor.received_at, cursor.case_id))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        received_at, case_id = _CURSOR.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidCursor("the cursor is not one this API issued") from None
    if received_at.tzinfo is None:
        raise InvalidCursor("the cursor is not one this API issued")
    return Cursor(received_at, case_id)


def case_conditions(
    filters: CaseFilters, cursor: Cursor | None, today: date, param: Callable[[Any], str]
) -> str:
    """The WHERE clause of a case listing; ``param`` binds a value and returns its placeholder.

    Column names and logic are the same in both databases; only placeholders and value
    encodings differ, and ``param`` owns those.
    """
    where = []
    for column, value in (
        ("status", filters.status),
        ("classification", filters.classification),
        ("category", filters.category),
        ("holding_unit", filters.unit),
        ("jurisdiction", filters.jurisdiction),
        ("first_responder", filters.first_responder),
        ("payer_identifier", filters.payer_identifier),
        ("case_number", filters.case_number),
    ):
        if value is not None:
            where.append(f"{column} = {param(str(value))}")
    if filters.received_from is not None:
        where.append(f"received_at >= {param(filters.received_from)}")
    if filters.received_to is not None:
        where.append(f"received_at < {param(filters.received_to)}")
    if filters.overdue is not None:
        # The same test as CaseView.overdue, on the query's own date.
        overdue = f"(NOT closed AND due IS NOT NULL AND due < {param(today)})"
        where.append(overdue if filters.overdue else f"NOT {overdue}")
    if filters.awaiting is not None:
        awaited = f"awaiting_unit = {param(filters.awaiting)}"
        if filters.awaiting_jurisdiction is not None:
            jurisdiction = param(filters.awaiting_jurisdiction)
            awaited = f"({awaited} OR awaiting_jurisdiction = {jurisdiction})"
        where.append(awaited)
    if filters.reply_owed is not None:
        where.append("reply_due IS NOT NULL" if filters.reply_owed else "reply_due IS NULL")
    if filters.task_unit is not None:
        where.append(
            "case_id IN (SELECT case_id FROM proj_tasks"
            f" WHERE assigned_unit = {param(filters.task_unit)} AND done_position IS NULL)"
        )
    if filters.due_by is not None:
        where.append(f"NOT closed AND due >= {param(today)} AND due <= {param(filters.due_by)}")
    if filters.counted is not None:
        from ledger.projections.statistics import counted_condition  # (it imports this module)

        where.append(counted_condition(filters.counted, today, param))
    if cursor is not None:
        # The leading bound lets the (received_at, case_id) index seek straight to the page.
        at, again, case_id = (
            param(cursor.received_at),
            param(cursor.received_at),
            param(cursor.case_id),
        )
        where.append(f"received_at <= {at} AND (received_at < {again} OR case_id < {case_id})")
    return " AND ".join(where) if where else "TRUE"


# The order of a case listing (newest received first), and the read models' position the case
# rows reflect (the ``cases`` projection's).
CASE_ORDER = "ORDER BY received_at DESC, case_id DESC"
CASES_POSITION_SQL = "SELECT position FROM proj_tracking WHERE name = 'cases'"


# -- inspections ------------------------------------------------------------------------------


class Period(NamedTuple):
    """Cases received from ``start`` (inclusive) to ``end`` (exclusive), known at ``position``."""

    start: datetime
    end: datetime
    unit: str | None
    position: int


def received_conditions(
    period: Period, param: Callable[[Any], str], unit_column: str = "receiving_unit"
) -> str:
    """Cases (or their findings: the columns are the same) received in the period and
    registered at or before its position; of the period's unit in ``unit_column`` (the
    receiving unit, or for findings the charged unit)."""
    where = [
        f"received_at >= {param(period.start)}",
        f"received_at < {param(period.end)}",
        f"registered_position <= {param(period.position)}",
    ]
    if period.unit is not None:
        where.append(f"{unit_column} = {param(period.unit)}")
    return " AND ".join(where)


def held_conditions(period: Period, param: Callable[[Any], str]) -> str:
    """Custody periods that overlap the period as the log stood at its position: begun by
    then, begun before the period ends, and not ended (as far as the position knows) before it
    starts."""
    position = period.position
    where = [
        f"from_position <= {param(position)}",
        f"from_at < {param(period.end)}",
        f"(to_position IS NULL OR to_position > {param(position)}"
        f" OR to_at > {param(period.start)})",
    ]
    if period.unit is not None:
        where.append(f"unit = {param(period.unit)}")
    return " AND ".join(where)


def consulted_conditions(period: Period, param: Callable[[Any], str], among: str) -> str:
    """Joint consultations held in the period and recorded at or before its position; of the
    period's unit: recorded by it, or with it among the units consulted (``among``: that test
    in the database's own terms, ``{0}`` the unit's placeholder)."""
    where = [
        f"occurred_at >= {param(period.start)}",
        f"occurred_at < {param(period.end)}",
        f"position <= {param(period.position)}",
    ]
    if period.unit is not None:
        unit, again = param(period.unit), param(period.unit)
        where.append(f"(unit = {unit} OR {among.format(again)})")
    return " AND ".join(where)


def holding_conditions(position: int, today: date, param: Callable[[Any], str]) -> str:
    """Finding intervals that hold at ``position`` on ``today`` (``Interval.holds`` in SQL)."""
    return (
        f"from_position <= {param(position)}"
        f" AND (to_position IS NULL OR to_position > {param(position)})"
        f" AND (after_date IS NULL OR after_date < {param(today)})"
    )


RECEIVED_SQL = (
    "SELECT receiving_unit, first_responder, first_responder_name, case_id, registered_position"
    " FROM proj_cases WHERE {where}"
)
FINDINGS_SQL = (
    "SELECT case_id, check_id, charged_staff, charged_unit, charged_name, proof, provisional"
    " FROM proj_findings WHERE {where}"
    " ORDER BY check_id, case_id, charged_unit, charged_staff"
)
HELD_SQL = (
    "SELECT unit, staff_id, staff_name, case_id, from_position, to_position"
    " FROM proj_custody WHERE {where}"
)
CONSULTED_SQL = (
    "SELECT unit, staff_id, staff_name, case_id, position, units"
    " FROM proj_consultations WHERE {where}"
)


# The open cases a unit holds, not awaiting another unit's acceptance: nearest deadline first.
HELD_BY_DEADLINE_SQL = """
SELECT state FROM proj_cases
WHERE holding_unit = {unit} AND NOT closed AND status <> 'transferred'
ORDER BY due IS NULL, due, received_at
LIMIT {limit}
"""


# 督办: the open cases per holding unit and status; of them, those past their deadline and
# those due from today to a day (the conditions of case_conditions' overdue and due_by).
OPEN_CASES_SQL = """
SELECT holding_unit, status, count(*),
       sum(CASE WHEN due IS NOT NULL AND due < {0} THEN 1 ELSE 0 END),
       sum(CASE WHEN due >= {1} AND due <= {2} THEN 1 ELSE 0 END)
FROM proj_cases WHERE NOT closed
GROUP BY holding_unit, status
"""


# 督办: the meetings' tasks not yet done, per assigned unit: how many, of them past their due
# date, and the cases they are on (the length of the list ``task_unit`` filters).
OPEN_TASKS_SQL = """
SELECT assigned_unit, count(*), sum(CASE WHEN due < {0} THEN 1 ELSE 0 END),
       count(DISTINCT case_id)
FROM proj_tasks WHERE done_position IS NULL
GROUP BY assigned_unit ORDER BY assigned_unit
"""
# 督办: the meetings scheduled in a period, per kind.
MEETINGS_SQL = """
SELECT kind, count(*) FROM proj_meetings
WHERE scheduled_at >= {0} AND scheduled_at < {1} GROUP BY kind ORDER BY kind
"""
