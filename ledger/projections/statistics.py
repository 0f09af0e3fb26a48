"""Department statistics (考核, clause 四): per unit and per department, what was received,
held, closed (on time or late), fed back, repeated, returned and escalated, month by month.

The projection stores per-case *facts* (``proj_unit_facts``), each dated (its Asia/Shanghai
business date), positioned (the log position of the event it rests on) and, for what can be
undone or that lasts, bounded by the position that ended it (``until_position``: a reopening
ends a closure; an acceptance, a new deadline or a closure ends a custody segment). A report
"as of T" is then one query over the facts at position P(T) = ``store.position_at(T)``: facts
recorded later are not seen, so the answer for a T in the past never changes.

The facts of a case are a function of its state alone (the case view projection folds it: this
one requires it, as the findings do) and of the working-day calendar (handling times).

Whose a fact is:

- ``received``, ``repeat``: the unit that received (registered) the case, on its received date;
  a repeat trip (重复跑, FR7) is a case registered while the same payer had an open case of the
  same category, or linked by its own record as a duplicate of another case.
- ``held``: custody segments of the open case — its holding unit (custody passes on acceptance,
  签收) and the deadline in force; ``overdue`` is a held segment whose deadline has passed.
- ``closed``, ``escalated``, ``feedback``: the unit holding the case when it happened.
- ``follow_up``, ``follow_up_flag``: the unit that closed the case (it still holds it); an
  unsatisfied follow-up flags the case until the office reopens it or records why not.
- ``returned``: the unit that sent the transfer that came back as misrouted (退单) — it still
  holds the case when the return is recorded.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple
from uuid import UUID

import msgspec

from ledger.domain.codes import LinkRelation, Satisfaction
from ledger.domain.context import SHANGHAI, Context, local_date
from ledger.domain.reference import UnknownUnit
from ledger.projections.cases import CaseStates, RowsOfCases
from ledger.projections.findings import settings_fingerprint
from ledger.projections.projection import (
    TYPES,
    Applier,
    Dialect,
    Projection,
    Reader,
    Table,
)
from ledger.projections.state import CaseState
from ledger.projections.views import Counted, Measure


class Fact(NamedTuple):
    case_id: UUID
    seq: int
    kind: str
    unit: str
    day: date
    position: int
    until_position: int | None
    days: int | None  # handling time of a closure, in working days
    due: date | None  # the deadline in force (custody segments, closures)
    outcome: str | None  # on_time / late (closures), the satisfaction (feedback)


FACTS = Table(
    name="proj_unit_facts",
    columns="""
    case_id        {uuid}     NOT NULL,
    seq            {smallint} NOT NULL,
    kind           TEXT       NOT NULL,
    unit           TEXT       NOT NULL,
    day            {date}     NOT NULL,
    position       {bigint}   NOT NULL,
    until_position {bigint},
    days           INTEGER,
    due            {date},
    outcome        TEXT,
    PRIMARY KEY (case_id, seq)
    """,
    names=Fact._fields,
    key=("case_id", "seq"),
    indexes=(
        "CREATE INDEX IF NOT EXISTS proj_unit_facts_day ON proj_unit_facts (kind, day)",
        "CREATE INDEX IF NOT EXISTS proj_unit_facts_held"
        " ON proj_unit_facts (kind, position) WHERE until_position IS NULL",
    ),
)

RECEIVED, REPEAT, HELD, CLOSED = "received", "repeat", "held", "closed"
ESCALATED, RETURNED, FEEDBACK = "escalated", "returned", "feedback"
FOLLOW_UP, FLAG = "follow_up", "follow_up_flag"
ON_TIME, LATE = "on_time", "late"
# Facts counted in the period they fall in (by their business date).
FLOWS = (RECEIVED, REPEAT, CLOSED, ESCALATED, RETURNED, FEEDBACK, FOLLOW_UP)
WHOLE = "*"  # the label of the report's own moment among the stocks' cutoffs
# Facts counted at a moment: those holding at its position.
STOCKS = (HELD, FLAG)


def _holder_at(s: CaseState, position: int) -> str:
    """The unit holding the case just before the event at ``position``."""
    unit = s.receiving_unit
    for a in s.acceptances:
        if a.position >= position:
            break
        unit = a.unit
    return unit


def case_facts(s: CaseState, ctx: Context) -> list[Fact]:
    """Every fact of one case (pure)."""
    facts: list[Fact] = []
    received = local_date(s.received_at)

    def add(
        kind: str,
        unit: str,
        day: date,
        position: int,
        until: int | None = None,
        days: int | None = None,
        due: date | None = None,
        outcome: str | None = None,
    ) -> None:
        fact = Fact(s.case_id, len(facts), kind, unit, day, position, until, days, due, outcome)
        facts.append(fact)

    add(RECEIVED, s.receiving_unit, received, s.registered_position)
    duplicates = [
        k.position for k in s.links if k.outgoing and k.relation is LinkRelation.DUPLICATE
    ]
    if s.earlier_open_cases:
        add(REPEAT, s.receiving_unit, received, s.registered_position)
    elif duplicates:
        add(REPEAT, s.receiving_unit, received, min(duplicates))

    # Custody segments: one unit, one deadline, open; and the closures they end in.
    changes: list[tuple[int, int, Any, datetime]] = [
        *((a.position, 0, a.unit, a.at) for a in s.acceptances),
        *((c.position, 1, c.due, c.at) for c in s.classifications),
        *((x.position, 1, x.until, x.at) for x in s.extensions if x.approved),
        *((k.position, 2, None, k.at) for k in s.closures),
        *((r.position, 3, None, r.at) for r in s.reopenings),
    ]
    changes.sort(key=lambda change: change[0])
    reopened = [r.position for r in s.reopenings]
    unit, due, is_open = s.receiving_unit, None, True
    start, start_day = s.registered_position, local_date(s.registered_at)
    for position, what, value, at in changes:
        if what == 3:  # reopened: held again by the unit that closed it
            is_open, start, start_day = True, position, local_date(at)
            continue
        if is_open:
            add(HELD, unit, start_day, start, position, due=due)
        if what == 0:
            unit = value
        elif what == 1:
            due = value
        else:
            closed = local_date(at)
            until = next((r for r in reopened if r > position), None)
            days, _ = ctx.calendar.working_days_between(received, closed)
            outcome = ON_TIME if due is None or closed <= due else LATE
            add(CLOSED, unit, closed, position, until, max(days, 0), due, outcome)
            is_open = False
            continue
        if is_open:
            start, start_day = position, local_date(at)
    if is_open:
        add(HELD, unit, start_day, start, None, due=due)

    for e in s.escalations:
        add(ESCALATED, _holder_at(s, e.position), local_date(e.at), e.position)
    for r in s.returns:
        add(RETURNED, _holder_at(s, r.position), local_date(r.at), r.position)
    satisfactions = s.feedback_satisfactions
    for i, f in enumerate(s.feedbacks):
        said = satisfactions[i] if i < len(satisfactions) else Satisfaction.UNKNOWN
        add(FEEDBACK, _holder_at(s, f.position), local_date(f.at), f.position, outcome=said.value)
    # Follow-ups (回访) after closure; an unsatisfied one flags the case until the office
    # reopens it or records why not (one flag at a time).
    lowered = sorted(k.position for k in (*s.follow_up_resolutions, *s.reopenings))
    flagged_until: int | None = 0
    for visit in s.follow_ups:
        unit, day = _holder_at(s, visit.position), local_date(visit.at)
        add(FOLLOW_UP, unit, day, visit.position, outcome=visit.satisfaction.value)
        flag_open = flagged_until is None or flagged_until > visit.position
        if visit.satisfaction is Satisfaction.UNSATISFIED and not flag_open:
            flagged_until = next((k for k in lowered if k > visit.position), None)
            add(FLAG, unit, day, visit.position, flagged_until)
    return facts


class UnitFacts(Projection):
    name = "unit_statistics"
    version = 1
    requires = ("cases",)
    partitionable = True  # a case's facts depend on its state alone

    def tables(self) -> tuple[Table, ...]:
        return (FACTS,)

    def fingerprint(self, context: Context) -> str:
        digest = hashlib.sha256(super().fingerprint(context).encode())
        digest.update(settings_fingerprint(context))  # handling times count working days
        return digest.hexdigest()

    def start(
        self, context: Context, upstream: Mapping[str, Applier], cache_size: int = 20_000
    ) -> FactsOfCases:
        cases = upstream["cases"]
        assert isinstance(cases, CaseStates)
        return FactsOfCases(context, cases)


class FactsOfCases(RowsOfCases):
    """A case's facts, rewritten when they change (as the findings)."""

    targets = (FACTS,)

    def rows(self, state: CaseState) -> tuple[tuple[Fact, ...]]:
        return (tuple(case_facts(state, self.context)),)


# -- the report ---------------------------------------------------------------------------------


class Measures(msgspec.Struct, kw_only=True):
    """What a unit or department did in a period (``held``, ``overdue``: at its end)."""

    received: int = 0
    held: int = 0  # open cases in its custody at the moment asked about
    closed: int = 0
    closed_on_time: int = 0
    closed_on_time_percent: float | None = None
    overdue: int = 0  # of those held, past their deadline
    median_handling_working_days: float | None = None  # received → closed
    feedback_given: int = 0
    satisfaction_percent: float | None = None  # satisfied of those satisfied or not
    unsatisfied: int = 0
    repeat_trips: int = 0
    returned_transfers: int = 0
    escalations: int = 0
    follow_ups: int = 0  # follow-up visits (回访) after closure
    # Cases whose unsatisfied follow-up awaits the office, at the moment asked about.
    follow_up_flags: int = 0


class MonthMeasures(Measures, kw_only=True):
    month: str  # YYYY-MM; held and overdue as of the month's end (or the report's moment)


class UnitStatistics(Measures, kw_only=True):
    unit: str
    department: str
    months: list[MonthMeasures]


class DepartmentStatistics(Measures, kw_only=True):
    department: str
    months: list[MonthMeasures]


class StatisticsReport(msgspec.Struct, kw_only=True):
    period_from: date
    period_to: date
    as_of: datetime
    position: int
    units: list[UnitStatistics]
    departments: list[DepartmentStatistics]


class _Tally:
    """Counts of one unit (or department) in one month (or the whole period)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str | None], int] = defaultdict(int)
        self.days: Counter[int] = Counter()  # closures by handling time in working days
        self.held = self.overdue = self.flags = 0

    def add(self, other: _Tally) -> None:
        for key, n in other.counts.items():
            self.counts[key] += n
        self.days.update(other.days)
        self.held += other.held
        self.overdue += other.overdue
        self.flags += other.flags

    def count(self, kind: str, outcome: str | None = None) -> int:
        if outcome is not None:
            return self.counts.get((kind, outcome), 0)
        return sum(n for (k, _), n in self.counts.items() if k == kind)

    def values(self) -> dict[str, Any]:
        closed, on_time = self.count(CLOSED), self.count(CLOSED, ON_TIME)
        # Satisfaction: of the feedback and the follow-up visits that recorded one.
        satisfied, unsatisfied = (
            self.count(FEEDBACK, said.value) + self.count(FOLLOW_UP, said.value)
            for said in (Satisfaction.SATISFIED, Satisfaction.UNSATISFIED)
        )
        return {
            "received": self.count(RECEIVED),
            "held": self.held,
            "closed": closed,
            "closed_on_time": on_time,
            "closed_on_time_percent": _percent(on_time, closed),
            "overdue": self.overdue,
            "median_handling_working_days": _median(self.days),
            "feedback_given": self.count(FEEDBACK),
            "satisfaction_percent": _percent(satisfied, satisfied + unsatisfied),
            "unsatisfied": unsatisfied,
            "repeat_trips": self.count(REPEAT),
            "returned_transfers": self.count(RETURNED),
            "escalations": self.count(ESCALATED),
            "follow_ups": self.count(FOLLOW_UP),
            "follow_up_flags": self.flags,
        }


def _median(histogram: Counter[int]) -> float | None:
    """The median of the values counted in ``histogram`` (value → how many)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    wanted = ((total - 1) // 2, total // 2)  # the middle one, or the middle two
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while len(found) < 2 and wanted[len(found)] < seen:
            found.append(value)
    return (found[0] + found[1]) / 2


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100 * part / whole, 1)


def months_of(period_from: date, period_to: date) -> list[str]:
    found, year, month = [], period_from.year, period_from.month
    while (year, month) <= (period_to.year, period_to.month):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def _month_end(month: str) -> date:
    year, number = int(month[:4]), int(month[5:])
    first_next = date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1)
    return first_next - timedelta(days=1)


def _placeholders(dialect: Dialect) -> tuple[list[Any], Callable[[Any], str]]:
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return "?" if dialect is Dialect.SQLITE else f"${len(params)}"

    return params, param


def _month_sql(dialect: Dialect) -> str:
    return "substr(day, 1, 7)" if dialect is Dialect.SQLITE else "to_char(day, 'YYYY-MM')"


async def _flows(
    reader: Reader, period_from: date, period_to: date, position: int
) -> list[Sequence[Any]]:
    """The period's facts standing at ``position``, counted per unit, kind, outcome, month and
    handling time (a histogram: medians without fetching every closure)."""
    params, p = _placeholders(reader.dialect)  # bound in the order they appear
    kinds = ", ".join(p(kind) for kind in FLOWS)
    month = _month_sql(reader.dialect)
    sql = (
        f"SELECT unit, kind, outcome, {month} AS month, days, count(*)"
        f" FROM proj_unit_facts WHERE kind IN ({kinds})"
        f" AND day >= {p(period_from)} AND day <= {p(period_to)}"
        f" AND position <= {p(position)}"
        f" AND (until_position IS NULL OR until_position > {p(position)})"
        f" GROUP BY unit, kind, outcome, {month}, days"
    )
    return await reader.fetch(sql, params)


async def _stocks(
    reader: Reader, cutoffs: Sequence[tuple[str, int, date]], since: int
) -> list[Sequence[Any]]:
    """Per cutoff (label, log position, day), unit and kind: the open cases held at the
    position (and of those, how many were past their deadline on the day), and the flagged
    follow-ups. ``since``: no cutoff lies before this position (older facts are skipped)."""
    params, p = _placeholders(reader.dialect)  # bound in the order they appear
    types = TYPES[reader.dialect]
    rows = ", ".join(
        f"(CAST({p(label)} AS TEXT), CAST({p(at)} AS {types['bigint']}),"
        f" CAST({p(day)} AS {types['date']}))"
        for label, at, day in cutoffs
    )
    kinds = ", ".join(p(kind) for kind in STOCKS)
    sql = (
        f"WITH m (label, pos, day) AS (VALUES {rows})"
        " SELECT m.label, f.unit, f.kind, count(*),"
        " sum(CASE WHEN f.due IS NOT NULL AND f.due < m.day THEN 1 ELSE 0 END)"
        " FROM proj_unit_facts f JOIN m ON f.position <= m.pos"
        " AND (f.until_position IS NULL OR f.until_position > m.pos)"
        f" WHERE f.kind IN ({kinds})"
        f" AND (f.until_position IS NULL OR f.until_position > {p(since)})"
        " GROUP BY m.label, f.unit, f.kind"
    )
    return await reader.fetch(sql, params)


# The facts behind each number of the report: kinds, and outcomes (None: any).
MEASURE_FACTS: dict[Measure, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    Measure.RECEIVED: ((RECEIVED,), None),
    Measure.REPEAT_TRIPS: ((REPEAT,), None),
    Measure.CLOSED: ((CLOSED,), None),
    Measure.CLOSED_ON_TIME: ((CLOSED,), (ON_TIME,)),
    Measure.CLOSED_LATE: ((CLOSED,), (LATE,)),
    Measure.FEEDBACK_GIVEN: ((FEEDBACK,), None),
    Measure.SATISFIED: ((FEEDBACK, FOLLOW_UP), (Satisfaction.SATISFIED.value,)),
    Measure.UNSATISFIED: ((FEEDBACK, FOLLOW_UP), (Satisfaction.UNSATISFIED.value,)),
    Measure.RETURNED_TRANSFERS: ((RETURNED,), None),
    Measure.ESCALATIONS: ((ESCALATED,), None),
    Measure.FOLLOW_UPS: ((FOLLOW_UP,), None),
    Measure.HELD: ((HELD,), None),
    Measure.OVERDUE: ((HELD,), None),
}


def counted_condition(counted: Counted, today: date, param: Callable[[Any], str]) -> str:
    """A case listing's condition for the cases behind a number of the report as of now: the
    facts :func:`_flows` counts for the period (or, for ``held`` and ``overdue``, the stocks
    :func:`_stocks` counts at the moment), of the units asked about."""
    kinds, outcomes = MEASURE_FACTS[counted.measure]
    where = [
        f"kind IN ({', '.join(param(k) for k in kinds)})",
        "until_position IS NULL",  # not ended (a closure by a reopening) as the log stands
    ]
    if outcomes is not None:
        where.append(f"outcome IN ({', '.join(param(o) for o in outcomes)})")
    if counted.measure is Measure.OVERDUE:
        where.append(f"due IS NOT NULL AND due < {param(today)}")
    elif counted.measure is not Measure.HELD:
        if counted.period_from is None or counted.period_to is None:
            raise ValueError(f"{counted.measure} is counted over a period")
        where.append(f"day >= {param(counted.period_from)} AND day <= {param(counted.period_to)}")
    if counted.units is not None:
        where.append(f"unit IN ({', '.join(param(u) for u in counted.units) or 'NULL'})")
    return f"case_id IN (SELECT case_id FROM proj_unit_facts WHERE {' AND '.join(where)})"


def _settle(tally: _Tally, kind: str, count: Any, overdue: Any) -> None:
    """A stock of ``tally`` (held and overdue, or flagged) from one row of :func:`_stocks`."""
    if kind == FLAG:
        tally.flags = int(count)
    else:
        tally.held, tally.overdue = int(count), int(overdue or 0)


async def report(
    reader: Reader,
    context: Context,
    period_from: date,
    period_to: date,
    moment: datetime,
    position: int,
    position_at: Callable[[datetime], Any],
) -> StatisticsReport:
    """The statistics of ``period_from``–``period_to`` (inclusive) as of ``moment``, whose
    log position is ``position``; ``position_at`` gives the position of an earlier moment (the
    end of each month, for the monthly stocks)."""
    months = months_of(period_from, period_to)
    whole: dict[str, _Tally] = defaultdict(_Tally)
    monthly: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for unit, kind, outcome, month, days, count in await _flows(
        reader, period_from, period_to, position
    ):
        for tally in (whole[unit], monthly[(unit, month)]):
            tally.counts[(kind, outcome)] += count
            if kind == CLOSED and days is not None:
                tally.days[int(days)] += count
    # The stocks: now (as of), and at each month's end before it.
    today = local_date(moment)
    cutoffs = [(WHOLE, position, today)]
    for month in months:
        end = _month_end(month)
        if end >= today:
            cutoffs.append((month, position, today))
        else:
            cutoff = datetime.combine(end + timedelta(days=1), time(), SHANGHAI)
            at = await position_at(cutoff - timedelta(microseconds=1))
            cutoffs.append((month, min(position, at), end))
    since = min(at for _, at, _ in cutoffs)
    for label, unit, kind, count, overdue in await _stocks(reader, cutoffs, since):
        _settle(whole[unit] if label == WHOLE else monthly[(unit, label)], kind, count, overdue)

    reference = context.reference
    codes = [u.code for u in reference.units]
    codes += sorted(set(whole) - set(codes))

    def department_of(unit: str) -> str:
        try:
            return reference.department_of(unit).value
        except UnknownUnit:
            return ""

    units = [
        UnitStatistics(
            unit=code,
            department=department_of(code),
            months=[
                MonthMeasures(month=m, **monthly.get((code, m), _Tally()).values()) for m in months
            ],
            **whole.get(code, _Tally()).values(),
        )
        for code in codes
    ]
    departments: list[DepartmentStatistics] = []
    for department in dict.fromkeys(department_of(code) for code in codes):
        members = [code for code in codes if department_of(code) == department]
        total = _Tally()
        per_month = {m: _Tally() for m in months}
        for code in members:
            total.add(whole.get(code, _Tally()))
            for m in months:
                per_month[m].add(monthly.get((code, m), _Tally()))
        departments.append(
            DepartmentStatistics(
                department=department,
                months=[MonthMeasures(month=m, **per_month[m].values()) for m in months],
                **total.values(),
            )
        )
    return StatisticsReport(
        period_from=period_from,
        period_to=period_to,
        as_of=moment,
        position=position,
        units=units,
        departments=departments,
    )
