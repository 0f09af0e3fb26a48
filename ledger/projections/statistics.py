"""Department statistics (考核, clause 四): per unit and per department, what was received,
held, closed (on time or late), fed back, repeated, returned and escalated, month by month.

The projection stores per-case *facts* (``proj_unit_facts``), each dated (its Asia/Shanghai
business date), positioned (the log position of the event it rests on) and, for what can be
undone or that lasts, bounded by the position that ended it (``until_position``: a reopening
ends a closure; an acceptance, a new deadline or a closure ends a custody segment). The report
"as of T" counts the facts standing at position P(T) = ``store.position_at(T)``: recorded at or
before P and not ended by then. Facts recorded later are not seen, so the answer for a T in the
past never changes.

Counting those facts per request grows with the ledger, so the projection also keeps, in the
same transaction as the facts, what they add up to (:class:`Totals`):

- ``proj_unit_counts``: the facts counted in the period they fall in (received, closed …) that
  stand now, per unit, kind, outcome, business day and handling time (the histogram that gives
  medians exactly: working days are integers);
- ``proj_unit_stocks``: the lasting facts (held, flagged) standing now, per unit, kind and
  deadline (overdue is "deadline before the day asked about");
- ``proj_unit_stock_moves``: how those stocks moved in each month of the log (Asia/Shanghai,
  by the time events were recorded): +1 where a fact was recorded, −1 where it was ended;
- ``proj_unit_log_months``: the first log position recorded in each month.

A report at position P is then the totals corrected by the few facts recorded or ended after
P (:func:`totals`): for the flows, those standing now but recorded after P are taken off and
those ended after P but recorded by then put back; a stock at a month's end is the stock now
less the moves of the later months, exactly, with no fact read at all; at another position,
the facts recorded or ended after it within its month are read as well. The answer is the
fact count's (``tests/projections/statistics_scan.py`` keeps that count as the reference the
tests compare against).

The facts of a case are a function of its state alone (the case view projection folds it: this
one requires it, as the findings do) and of the working-day calendar (handling times).

Whose a fact is:

- ``received``, ``repeat``: the unit that received (registered) the case, on its received date;
  a repeat trip (重复跑, FR7) is what ``repeats.repeat_trip`` says: a case registered while it
  repeated an earlier case of the same payer (open, or closed within the repeat window), or
  linked by its own record as a duplicate of another case.
- ``held``: custody segments of the open case — its holding unit (custody passes on acceptance,
  签收) and the deadline in force; ``overdue`` is a held segment whose deadline has passed.
- ``closed``, ``escalated``, ``feedback``: the unit holding the case when it happened.
- ``follow_up``, ``follow_up_flag``: the unit that closed the case (it still holds it); an
  unsatisfied follow-up flags the case until the office reopens it or records why not.
- ``returned``: the unit that sent the transfer that came back as misrouted (退单) — it still
  holds the case when the return is recorded.
- ``task_done``: the unit a task (交办任务) was assigned to, on the day it was done, on time or
  late (:func:`task_facts`: case states carry no tasks yet).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Container, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

import msgspec

from ledger.domain.codes import Satisfaction
from ledger.domain.context import SHANGHAI, Context, local_date
from ledger.domain.reference import UnknownUnit
from ledger.projections.cases import CaseStates, RowsOfCases
from ledger.projections.events import ProjectionError
from ledger.projections.findings import settings_fingerprint
from ledger.projections.projection import (
    TYPES,
    Applier,
    Batch,
    Dialect,
    Projection,
    Reader,
    Table,
    Write,
)
from ledger.projections.repeats import repeat_trip
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
    outcome: str | None  # on_time / late (closures, tasks), the satisfaction (feedback)


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
    # A report reads the facts recorded, or ended, after the position it is about.
    indexes=(
        "CREATE INDEX IF NOT EXISTS proj_unit_facts_position ON proj_unit_facts (position)",
        "CREATE INDEX IF NOT EXISTS proj_unit_facts_until"
        " ON proj_unit_facts (until_position) WHERE until_position IS NOT NULL",
    ),
)

RECEIVED, REPEAT, HELD, CLOSED = "received", "repeat", "held", "closed"
ESCALATED, RETURNED, FEEDBACK = "escalated", "returned", "feedback"
FOLLOW_UP, FLAG = "follow_up", "follow_up_flag"
TASK_DONE = "task_done"
ON_TIME, LATE = "on_time", "late"
SATISFIED, UNSATISFIED = Satisfaction.SATISFIED.value, Satisfaction.UNSATISFIED.value
# Facts counted in the period they fall in (by their business date).
FLOWS = (RECEIVED, REPEAT, CLOSED, ESCALATED, RETURNED, FEEDBACK, FOLLOW_UP, TASK_DONE)
WHOLE = "*"  # the label of the report's own moment among the stocks' cutoffs
# Facts counted at a moment: those holding at its position.
STOCKS = (HELD, FLAG)


# -- the facts of a case ------------------------------------------------------------------------


def _holder_at(s: CaseState, position: int) -> str:
    """The unit holding the case just before the event at ``position``."""
    unit = s.receiving_unit
    for a in s.acceptances:
        if a.position >= position:
            break
        unit = a.unit
    return unit


class TaskDone(NamedTuple):
    unit: str  # the unit the task was assigned to
    day: date  # the day it was done (Asia/Shanghai)
    position: int  # the log position that recorded it done
    on_time: bool  # done by its due date


def task_facts(s: CaseState) -> list[TaskDone]:
    """The case's tasks (交办任务, from joint-meeting decisions) that are done: one entry per
    task, on the day its assigned unit recorded the result, on time when by its due date."""
    done = []
    for task in s.tasks:
        if task.done_position is None or task.done_at is None:
            continue
        day = local_date(task.done_at)
        done.append(TaskDone(task.assigned_unit, day, task.done_position, day <= task.due))
    return done


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
    trip = repeat_trip(s)
    if trip is not None:
        add(REPEAT, s.receiving_unit, received, trip.position)

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
    for task in task_facts(s):
        add(
            TASK_DONE, task.unit, task.day, task.position, outcome=ON_TIME if task.on_time else LATE
        )
    return facts


# -- what the facts add up to -------------------------------------------------------------------

# The totals' keys have no NULLs: no outcome, no handling time and no deadline are spelled so.
NO_OUTCOME, NO_DAYS, NO_DUE = "", -1, date(9999, 12, 31)  # no deadline is never passed

COUNTS = Table(
    name="proj_unit_counts",
    columns="""
    unit    TEXT     NOT NULL,
    kind    TEXT     NOT NULL,
    outcome TEXT     NOT NULL,
    day     {date}   NOT NULL,
    days    INTEGER  NOT NULL,
    n       {bigint} NOT NULL,
    PRIMARY KEY (unit, kind, outcome, day, days)
    """,
    names=("unit", "kind", "outcome", "day", "days", "n"),
    key=("unit", "kind", "outcome", "day", "days"),
    adds=("n",),
    indexes=("CREATE INDEX IF NOT EXISTS proj_unit_counts_day ON proj_unit_counts (day)",),
)
STOCK_NOW = Table(
    name="proj_unit_stocks",
    columns="""
    unit TEXT     NOT NULL,
    kind TEXT     NOT NULL,
    due  {date}   NOT NULL,
    n    {bigint} NOT NULL,
    PRIMARY KEY (unit, kind, due)
    """,
    names=("unit", "kind", "due", "n"),
    key=("unit", "kind", "due"),
    adds=("n",),
)
STOCK_MOVES = Table(
    name="proj_unit_stock_moves",
    columns="""
    month INTEGER  NOT NULL,
    unit  TEXT     NOT NULL,
    kind  TEXT     NOT NULL,
    due   {date}   NOT NULL,
    n     {bigint} NOT NULL,
    PRIMARY KEY (month, unit, kind, due)
    """,
    names=("month", "unit", "kind", "due", "n"),
    key=("month", "unit", "kind", "due"),
    adds=("n",),
)
# The first position of each month of the log; each process of a partitioned rebuild writes
# the first it saw, so a month's is the least of its rows.
LOG_MONTHS = Table(
    name="proj_unit_log_months",
    columns="""
    month    INTEGER  NOT NULL,
    position {bigint} NOT NULL,
    PRIMARY KEY (month, position)
    """,
    names=("month", "position"),
    key=("month", "position"),
)


def _month_span(moment: datetime) -> tuple[int, datetime, datetime]:
    """The month of ``moment`` in Asia/Shanghai (as YYYYMM) and its bounds."""
    local = moment.astimezone(SHANGHAI)
    start = datetime(local.year, local.month, 1, tzinfo=SHANGHAI)
    end = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=SHANGHAI)
    return local.year * 100 + local.month, start, end


_NO_POSITION = 2**63 - 1  # after every position


class LogMonths:
    """Which month of the log (when it was recorded, Asia/Shanghai) each position belongs to:
    the first position of each month, as seen in the events folded. Positions are recorded in
    time order, so a month runs from its first position to the next month's."""

    def __init__(self, firsts: Iterable[Sequence[Any]] = ()) -> None:
        self.firsts: dict[int, int] = {}
        self.pending: dict[int, int] = {}  # seen since the last commit
        for month, position in firsts:
            self._see(int(month), int(position), pending=False)
        self._index: tuple[list[int], list[int]] | None = None

    def _see(self, month: int, position: int, *, pending: bool = True) -> None:
        known = self.firsts.get(month)
        if known is None or position < known:
            self.firsts[month] = position
            if pending:
                self.pending[month] = position
            self._index = None

    def see(self, batch: Batch) -> None:
        start = end = None
        for record, _ in batch:
            at = record.recorded_at
            if start is not None and end is not None and start <= at < end:
                continue  # a later position of the month just seen
            month, start, end = _month_span(at)
            self._see(month, record.position)

    def _sorted(self) -> tuple[list[int], list[int]]:
        if self._index is None:
            months = sorted(self.firsts)
            self._index = ([self.firsts[m] for m in months], months)
        return self._index

    def month_of(self, position: int) -> int:
        positions, months = self._sorted()
        i = bisect_right(positions, position) - 1
        if i < 0:
            raise ProjectionError(f"no month of the log is known for position {position}")
        return months[i]

    @classmethod
    async def read(cls, reader: Reader) -> LogMonths:
        rows = await reader.fetch(
            "SELECT month, min(position) FROM proj_unit_log_months GROUP BY month"
        )
        return cls(rows)

    def last_of(self, month: int) -> int:
        """The last position recorded in ``month`` or before (YYYYMM): the one before the
        first of a later month, 2**63 - 1 while no later month is known."""
        positions, months = self._sorted()
        i = bisect_right(months, month)
        return positions[i] - 1 if i < len(positions) else _NO_POSITION

    def span(self, position: int) -> tuple[int, int]:
        """The month of ``position`` (0 before the log's first), and the first position of
        the month after it (2**63 - 1 when none is known yet)."""
        positions, months = self._sorted()
        i = bisect_right(positions, position)
        return (months[i - 1] if i else 0), (positions[i] if i < len(positions) else _NO_POSITION)


class Totals:
    """Additions to the three tables of totals, from facts taken away (-1) or added (+1)."""

    def __init__(self, months: LogMonths) -> None:
        self.month_of = months.month_of
        self.counts: Counter[tuple[Any, ...]] = Counter()
        self.stocks: Counter[tuple[Any, ...]] = Counter()
        self.moves: Counter[tuple[Any, ...]] = Counter()

    def add(self, facts: Iterable[Fact], sign: int) -> None:
        counts, stocks, moves, month_of = self.counts, self.stocks, self.moves, self.month_of
        for f in facts:
            until = f.until_position
            if f.kind in STOCKS:
                if until is not None and until <= f.position:
                    continue  # never standing
                due = NO_DUE if f.due is None else f.due
                moves[(month_of(f.position), f.unit, f.kind, due)] += sign
                if until is None:
                    stocks[(f.unit, f.kind, due)] += sign
                else:
                    moves[(month_of(until), f.unit, f.kind, due)] -= sign
            elif until is None:
                outcome = NO_OUTCOME if f.outcome is None else f.outcome
                days = NO_DAYS if f.days is None else f.days
                counts[(f.unit, f.kind, outcome, f.day, days)] += sign

    def writes(self) -> list[Write]:
        return [
            Write(table, add=[(*key, n) for key, n in sorted(added.items()) if n])
            for table, added in (
                (COUNTS, self.counts),
                (STOCK_NOW, self.stocks),
                (STOCK_MOVES, self.moves),
            )
        ]


# -- the projection -----------------------------------------------------------------------------


class UnitFacts(Projection):
    name = "unit_statistics"
    # 2: the totals beside the facts.
    version = 3  # 3: tasks done (meetings)
    requires = ("cases",)
    partitionable = True  # a case's facts depend on its state alone

    def tables(self) -> tuple[Table, ...]:
        return (FACTS, COUNTS, STOCK_NOW, STOCK_MOVES, LOG_MONTHS)

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


_STORED = {
    Dialect.SQLITE: f"SELECT {', '.join(FACTS.names)} FROM proj_unit_facts WHERE case_id = ?",
    Dialect.POSTGRES: f"SELECT {', '.join(FACTS.names)} FROM proj_unit_facts"
    " WHERE case_id = ANY($1::uuid[])",
}


def _stored_fact(row: Sequence[Any]) -> Fact:
    """A fact as read back (SQLite: UUIDs and dates as text)."""
    case_id, seq, kind, unit, day, position, until, days, due, outcome = row
    return Fact(
        case_id if type(case_id) is UUID else UUID(str(case_id)),
        int(seq),
        kind,
        unit,
        day if isinstance(day, date) else date.fromisoformat(day),
        int(position),
        None if until is None else int(until),
        None if days is None else int(days),
        due if due is None or isinstance(due, date) else date.fromisoformat(due),
        outcome,
    )


class FactsOfCases(RowsOfCases):
    """A case's facts, rewritten when they change (as the findings), and the totals moved by
    the difference between its facts as last committed and as they are now."""

    targets = (FACTS,)

    def __init__(self, context: Context, cases: CaseStates) -> None:
        super().__init__(context, cases)
        self._months: LogMonths | None = None
        # The stored facts of changed cases whose committed rows this applier did not keep.
        self._stored: dict[UUID, tuple[Fact, ...]] = {}
        self._base: int | None = None  # the position the batches since the last commit follow

    def rows(self, state: CaseState) -> tuple[tuple[Fact, ...]]:
        return (tuple(case_facts(state, self.context)),)

    async def fold(
        self, batch: Batch, reader: Reader, owned: Container[UUID] | None = None
    ) -> None:
        if not batch:
            return
        if self._months is None:
            self._months = await LogMonths.read(reader)
        self._months.see(batch)
        if self._base is None:
            self._base = batch[0][0].position - 1
        # A case registered after the base has never been written; the others' facts are
        # needed to move the totals by the difference (their states were read, not kept).
        committed, stored, base = self._committed, self._stored, self._base
        missing = [
            s.case_id
            for s in self.cases.changed
            if s.registered_position <= base
            and s.case_id not in committed
            and s.case_id not in stored
        ]
        if not missing:
            return
        if reader.dialect is Dialect.SQLITE:
            rows = await reader.fetch_each(_STORED[reader.dialect], [(c,) for c in missing])
        else:
            rows = await reader.fetch(_STORED[reader.dialect], [missing])
        found: dict[UUID, list[Fact]] = {case_id: [] for case_id in missing}
        for row in rows:
            fact = _stored_fact(row)
            found[fact.case_id].append(fact)
        for case_id, facts in found.items():
            stored[case_id] = tuple(sorted(facts, key=lambda f: f.seq))

    def writes(self, expected: int) -> list[Write]:
        months = self._months or LogMonths()
        committed, stored = self._committed, self._stored
        totals = Totals(months)
        changed: dict[UUID, tuple[tuple[Any, ...], ...]] = {}
        stale: list[UUID] = []  # cases with stored rows to replace
        rows: list[Fact] = []
        for state in self.cases.changed:
            (found,) = self.rows(state)
            case_id = state.case_id
            written = state.registered_position <= expected
            if written:
                before = committed.get(case_id)
                if before is None:
                    if case_id not in stored:
                        raise ProjectionError(f"the stored facts of case {case_id} were not read")
                    before = (stored[case_id],)
                if before == (found,):
                    continue
                stale.append(case_id)
                totals.add(before[0], -1)
            changed[case_id] = (found,)
            rows.extend(found)
            totals.add(found, 1)
        self._pending = changed
        return [
            Write(FACTS, insert=rows, delete=stale, key_column="case_id"),
            *totals.writes(),
            Write(LOG_MONTHS, upsert=sorted(months.pending.items())),
        ]

    def committed(self) -> None:
        for case_id, facts in self._stored.items():  # now known as committed
            self._committed.setdefault(case_id, (facts,))
        super().committed()
        self._stored = {}
        self._base = None
        if self._months is not None:
            self._months.pending = {}

    def forget(self) -> None:
        super().forget()
        self._months = None
        self._stored = {}
        self._base = None


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
    tasks_done: int = 0  # tasks (交办任务) of joint-meeting decisions done in the period
    tasks_done_on_time: int = 0  # of those, done by their due date


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

    __slots__ = ("counts", "days", "flags", "held", "overdue")

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

    def values(self) -> dict[str, Any]:
        per_kind: dict[str, int] = defaultdict(int)
        for (kind, _), n in self.counts.items():
            per_kind[kind] += n
        counts = self.counts
        closed, on_time = per_kind[CLOSED], counts.get((CLOSED, ON_TIME), 0)
        # Satisfaction: of the feedback and the follow-up visits that recorded one.
        satisfied = counts.get((FEEDBACK, SATISFIED), 0) + counts.get((FOLLOW_UP, SATISFIED), 0)
        unsatisfied = counts.get((FEEDBACK, UNSATISFIED), 0) + counts.get(
            (FOLLOW_UP, UNSATISFIED), 0
        )
        return {
            "received": per_kind[RECEIVED],
            "held": self.held,
            "closed": closed,
            "closed_on_time": on_time,
            "closed_on_time_percent": _percent(on_time, closed),
            "overdue": self.overdue,
            "median_handling_working_days": _median(self.days),
            "feedback_given": per_kind[FEEDBACK],
            "satisfaction_percent": _percent(satisfied, satisfied + unsatisfied),
            "unsatisfied": unsatisfied,
            "repeat_trips": per_kind[REPEAT],
            "returned_transfers": per_kind[RETURNED],
            "escalations": per_kind[ESCALATED],
            "follow_ups": per_kind[FOLLOW_UP],
            "follow_up_flags": self.flags,
            "tasks_done": per_kind[TASK_DONE],
            "tasks_done_on_time": counts.get((TASK_DONE, ON_TIME), 0),
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


_EMPTY = _Tally().values()


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


class Cutoff(NamedTuple):
    """A moment the stocks are counted at: its label (a month, or :data:`WHOLE`), its log
    position and its day (what is due before it is overdue)."""

    label: str
    position: int
    day: date


# (unit, kind, outcome, month, handling days, count) of the period's flows, and
# (cutoff label, unit, kind, count, of those overdue) of the stocks at each cutoff.
FlowRow = tuple[str, str, str | None, str, int | None, int]
StockRow = tuple[str, str, str, int, int]
Count = Callable[
    [Reader, date, date, int, Sequence[Cutoff], LogMonths],
    Awaitable[tuple[Sequence[FlowRow], Sequence[StockRow]]],
]


def placeholders(dialect: Dialect) -> tuple[list[Any], Callable[[Any], str]]:
    """The parameters of a statement, and a function that binds one and returns how the
    statement names it (numbered: a name may be used more than once)."""
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"?{len(params)}" if dialect is Dialect.SQLITE else f"${len(params)}"

    return params, param


def _before(bounds: Sequence[Any], column: str) -> str:
    """The index of the first of ``bounds`` (sorted) after ``column``'s value: how many of
    them it is not before (``bounds`` are bound as parameters by the caller)."""
    if not bounds:
        return "0"
    arms = " ".join(f"WHEN {column} < {bound} THEN {i}" for i, bound in enumerate(bounds))
    return f"CASE {arms} ELSE {len(bounds)} END"


async def _flows(
    reader: Reader, period_from: date, period_to: date, position: int, months: Sequence[str]
) -> list[FlowRow]:
    """The period's flows standing at ``position``: those standing now, less those recorded
    after it, plus those recorded by then and ended after it."""
    params, p = placeholders(reader.dialect)  # bound in the order they appear
    types = TYPES[reader.dialect]
    starts = [date.fromisoformat(f"{m}-01") for m in months[1:]]
    month = _before([f"CAST({p(day)} AS {types['date']})" for day in starts], "day")
    start, end, at = p(period_from), p(period_to), p(position)
    kinds = ", ".join(p(kind) for kind in FLOWS)
    sql = f"""
    SELECT unit, kind, outcome, month, days, sum(n) FROM (
        SELECT unit, kind, outcome, {month} AS month, days, n FROM proj_unit_counts
        WHERE day >= {start} AND day <= {end}
        UNION ALL
        SELECT unit, kind, coalesce(outcome, ''), {month}, coalesce(days, -1),
            CASE WHEN until_position IS NULL THEN -1 ELSE 1 END
        FROM proj_unit_facts
        WHERE kind IN ({kinds}) AND day >= {start} AND day <= {end}
            AND (position > {at} AND until_position IS NULL
                OR until_position > {at} AND position <= {at})
    ) AS flows
    GROUP BY unit, kind, outcome, month, days HAVING sum(n) <> 0
    """
    return [
        (
            unit,
            kind,
            None if outcome == NO_OUTCOME else outcome,
            months[month],
            None if days == NO_DAYS else int(days),
            int(n),
        )
        for unit, kind, outcome, month, days, n in await reader.fetch(sql, params)
    ]


async def _stocks(reader: Reader, cutoffs: Sequence[Cutoff], log: LogMonths) -> list[StockRow]:
    """The stocks at each cutoff: those standing now, less how they moved in the months of
    the log after the cutoff's, less and plus the facts recorded and ended after it in its
    own month. Deadlines are read only as far as the cutoffs' days tell them apart."""
    params, p = placeholders(reader.dialect)  # bound in the order they appear
    types = TYPES[reader.dialect]
    days = sorted({c.day for c in cutoffs})
    bucket = _before([f"CAST({p(day)} AS {types['date']})" for day in days], "due")
    spans = {c.position: log.span(c.position) for c in cutoffs}
    since = min(month for month, _ in spans.values())
    parts = [
        f"SELECT 0, 0, unit, kind, {bucket} AS bucket, sum(n) FROM proj_unit_stocks"
        " GROUP BY unit, kind, bucket",
        f"SELECT 1, month, unit, kind, {bucket} AS bucket, sum(n) FROM proj_unit_stock_moves"
        f" WHERE month > {p(since)} GROUP BY month, unit, kind, bucket",
    ]
    kinds = ""  # bound when used: PostgreSQL cannot type a parameter no statement uses
    for position, (_, following) in spans.items():
        if following <= position + 1:
            continue  # no position of the cutoff's month after it
        kinds = kinds or ", ".join(p(kind) for kind in STOCKS)
        at, upto = p(position), p(following)
        cutoff = f"CAST({at} AS {types['bigint']})"
        parts += [
            f"SELECT 2, {cutoff}, unit, kind, {bucket} AS bucket, -count(*) FROM proj_unit_facts"
            f" WHERE position > {at} AND position < {upto} AND kind IN ({kinds})"
            " AND (until_position IS NULL OR until_position > position)"
            " GROUP BY unit, kind, bucket",
            f"SELECT 2, {cutoff}, unit, kind, {bucket} AS bucket, count(*) FROM proj_unit_facts"
            f" WHERE until_position > {at} AND until_position < {upto} AND kind IN ({kinds})"
            " AND until_position > position GROUP BY unit, kind, bucket",
        ]
    width = len(days) + 1
    Key = tuple[str, str]  # unit, kind
    now: dict[Key, list[int]] = {}  # per bucket of deadlines
    moved: dict[Key, dict[int, list[int]]] = {}  # per month of the log
    after: dict[int, dict[Key, list[int]]] = {}  # per cutoff position
    for part, at, unit, kind, b, n in await reader.fetch(" UNION ALL ".join(parts), params):
        if part == 0:
            found = now.setdefault((unit, kind), [0] * width)
        elif part == 1:
            found = moved.setdefault((unit, kind), {}).setdefault(int(at), [0] * width)
        else:
            found = after.setdefault(int(at), {}).setdefault((unit, kind), [0] * width)
        found[int(b)] += int(n)
    # How each stock moved after the end of each month of the log: summed from the last.
    moves: dict[Key, list[tuple[int, list[int]]]] = {}  # oldest month first
    for key, per_month in moved.items():
        running = [0] * width
        sums: list[tuple[int, list[int]]] = []
        for month in sorted(per_month, reverse=True):
            running = [a + b for a, b in zip(running, per_month[month], strict=True)]
            sums.append((month, running))
        moves[key] = sums[::-1]
    rows: list[StockRow] = []
    zero = [0] * width
    for label, position, day in cutoffs:
        month, _ = spans[position]
        overdue = bisect_right(days, day)  # the buckets of deadlines before the day
        partial = after.get(position, {})
        for key in now.keys() | moves.keys() | partial.keys():
            stock = list(now.get(key, zero))
            # The moves of the months after the cutoff's: those of the first of them on.
            later = next((sums for m, sums in moves.get(key, ()) if m > month), None)
            if later is not None:
                stock = [a - b for a, b in zip(stock, later, strict=True)]
            for i, n in enumerate(partial.get(key, ())):
                stock[i] += n
            held = sum(stock)
            if held:
                rows.append((label, key[0], key[1], held, sum(stock[:overdue])))
    return rows


async def totals(
    reader: Reader,
    period_from: date,
    period_to: date,
    position: int,
    cutoffs: Sequence[Cutoff],
    log: LogMonths,
) -> tuple[Sequence[FlowRow], Sequence[StockRow]]:
    """The flows of the period and the stocks at each cutoff, as of ``position``, from the
    totals and the few facts recorded or ended after the positions asked about."""
    months = months_of(period_from, period_to)
    return (
        await _flows(reader, period_from, period_to, position, months),
        await _stocks(reader, cutoffs, log),
    )


def cutoffs_of(
    months: Sequence[str], moment: datetime, position: int, log: LogMonths
) -> list[Cutoff]:
    """The stocks' moments: the report's own, and the end of each month before it (the
    last position recorded by then: the log's months say which it is)."""
    today = local_date(moment)
    cutoffs = [Cutoff(WHOLE, position, today)]
    for month in months:
        end = _month_end(month)
        if end >= today:
            cutoffs.append(Cutoff(month, position, today))
        else:
            last = log.last_of(end.year * 100 + end.month)
            cutoffs.append(Cutoff(month, min(position, last), end))
    return cutoffs


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


async def report(
    reader: Reader,
    context: Context,
    period_from: date,
    period_to: date,
    moment: datetime,
    position: int,
    count: Count = totals,
) -> StatisticsReport:
    """The statistics of ``period_from``–``period_to`` (inclusive) as of ``moment``, whose
    log position is ``position``. ``reader`` is a snapshot (``ReadStore.snapshot``): the
    totals, the facts and the log's months must be read from the same state of the read
    models."""
    months = months_of(period_from, period_to)
    log = await LogMonths.read(reader)
    cutoffs = cutoffs_of(months, moment, position, log)
    flows, stocks = await count(reader, period_from, period_to, position, cutoffs, log)
    whole: dict[str, _Tally] = defaultdict(_Tally)
    monthly: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for unit, kind, outcome, month, days, n in flows:
        for tally in (whole[unit], monthly[(unit, month)]):
            tally.counts[(kind, outcome)] += n
            if kind == CLOSED and days is not None:
                tally.days[int(days)] += n
    for label, unit, kind, n, overdue in stocks:
        tally = whole[unit] if label == WHOLE else monthly[(unit, label)]
        if kind == FLAG:
            tally.flags = n
        else:
            tally.held, tally.overdue = n, overdue

    reference = context.reference
    codes = [u.code for u in reference.units]
    codes += sorted(set(whole) - set(codes))

    def department_of(unit: str) -> str:
        try:
            return reference.department_of(unit).value
        except UnknownUnit:
            return ""

    def measures(tally: _Tally | None) -> dict[str, Any]:
        return _EMPTY if tally is None else tally.values()

    units = [
        UnitStatistics(
            unit=code,
            department=department_of(code),
            months=[MonthMeasures(month=m, **measures(monthly.get((code, m)))) for m in months],
            **measures(whole.get(code)),
        )
        for code in codes
    ]
    departments: list[DepartmentStatistics] = []
    for department in dict.fromkeys(department_of(code) for code in codes):
        members = [code for code in codes if department_of(code) == department]
        total = _Tally()
        per_month = {m: _Tally() for m in months}
        for code in members:
            if code in whole:
                total.add(whole[code])
            for m in months:
                found = monthly.get((code, m))
                if found is not None:
                    per_month[m].add(found)
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
