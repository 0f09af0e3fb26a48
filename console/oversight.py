"""督办: the leading-group office's view of the whole city — the open cases per holding unit
(overdue, due within three working days, returned transfers, escalations, awaiting acceptance),
the meetings of the period and the tasks they assigned that are not done yet,
and the department statistics (考核) as charts and a table. Every number links to 案件查询 with
the filters that list the cases behind it: the counts and the lists come from the same
read-model conditions (``ReadModels.open_cases_by_unit`` and the list's ``overdue``,
``due_within`` and ``status`` filters; the statistics report and the list's ``statistic``
filters), never from the event log.

Read only, for the roles that read the statistics (office, inspector, auditor: the reads it
shows are theirs in the API). The charts are drawn in the browser by the vendored ECharts
(``static/vendor/echarts``) from the page's own JSON; the page forbids every other origin and
inline script (Content-Security-Policy).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get
from litestar.exceptions import PermissionDeniedException
from litestar.response import Template

from api.cases.views import case_body
from api.params import MAX_PERIOD_DAYS
from api.statistics import READ_STATISTICS
from console.app import PAGE_SIZE, _ledger, _now, _state, page, signed_in
from ledger.domain.codes import CaseStatus, Department
from ledger.domain.context import local_date
from ledger.domain.meeting import MeetingKind
from ledger.projections.statistics import Measures, StatisticsReport
from ledger.projections.views import CaseFilters, Measure

DUE_WITHIN = 3  # working days: what falls due next (预警)
# Nothing but this origin; no inline script or style (ECharts sets styles through the DOM).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# The statistics table's columns: (measure of the report, its link's statistic, heading).
COLUMNS: tuple[tuple[str, Measure, str], ...] = (
    ("received", Measure.RECEIVED, "受理"),
    ("repeat_trips", Measure.REPEAT_TRIPS, "重复跑"),
    ("closed", Measure.CLOSED, "办结"),
    ("closed_on_time", Measure.CLOSED_ON_TIME, "按期办结"),
    ("feedback_given", Measure.FEEDBACK_GIVEN, "反馈"),
    ("unsatisfied", Measure.UNSATISFIED, "不满意"),
    ("returned_transfers", Measure.RETURNED_TRANSFERS, "退单"),
    ("escalations", Measure.ESCALATIONS, "提请领导小组"),
    ("follow_ups", Measure.FOLLOW_UPS, "回访"),
    ("held", Measure.HELD, "在办"),
    ("overdue", Measure.OVERDUE, "超期"),
)
# The open cases' columns: (key, heading).
OPEN_COLUMNS = (
    ("open", "在办"),
    ("overdue", "已超期"),
    ("due_soon", f"{DUE_WITHIN}个工作日内到期"),
    ("returned", "被退回待重新流转"),
    ("escalated", "已提请领导小组"),
    ("transferred", "流转待签收"),
)


def cases_link(**filters: Any) -> str:
    return "/cases?" + urlencode({k: str(v) for k, v in filters.items() if v is not None})


def statistic_link(
    measure: Measure,
    period: tuple[date, date],
    unit: str | None = None,
    department: str | None = None,
) -> str:
    stock = measure in (Measure.HELD, Measure.OVERDUE)
    return cases_link(
        statistic=measure.value,
        statistic_unit=unit,
        statistic_department=department,
        statistic_from=None if stock else period[0].isoformat(),
        statistic_to=None if stock else period[1].isoformat(),
    )


@dataclass
class OpenRow:
    """A holding unit's open cases (``unit`` None: every unit), each count with its list."""

    unit: str | None
    counts: dict[str, int] = field(default_factory=dict)

    def link(self, key: str) -> str:
        status = {
            "returned": CaseStatus.RETURNED,
            "escalated": CaseStatus.ESCALATED,
            "transferred": CaseStatus.TRANSFERRED,
        }.get(key)
        if key == "open":
            return cases_link(statistic=Measure.HELD.value, statistic_unit=self.unit)
        if key == "overdue":
            return cases_link(unit=self.unit, overdue="true")
        if key == "due_soon":
            return cases_link(unit=self.unit, due_within=DUE_WITHIN)
        assert status is not None
        return cases_link(unit=self.unit, status=status.value)


def _open_rows(found: list[Any], units: list[str]) -> tuple[list[OpenRow], OpenRow]:
    rows = {code: OpenRow(code, dict.fromkeys((k for k, _ in OPEN_COLUMNS), 0)) for code in units}
    total = OpenRow(None, dict.fromkeys((k for k, _ in OPEN_COLUMNS), 0))
    for one in found:
        row = rows.setdefault(
            one.unit, OpenRow(one.unit, dict.fromkeys((k for k, _ in OPEN_COLUMNS), 0))
        )
        add = {"open": one.open, "overdue": one.overdue, "due_soon": one.due_soon}
        if one.status in (CaseStatus.RETURNED, CaseStatus.ESCALATED, CaseStatus.TRANSFERRED):
            add[one.status.value] = one.open
        for key, n in add.items():
            row.counts[key] += n
            total.counts[key] += n
    # Units with nothing open are left out; the busiest (most overdue) first.
    shown = sorted(
        (r for r in rows.values() if r.counts["open"]),
        key=lambda r: (-r.counts["overdue"], -r.counts["open"]),
    )
    return shown, total


def _period(query: dict[str, str], today: date) -> tuple[tuple[date, date], list[str]]:
    """The statistics' period: ``from``–``to`` of the query, by default the twelve months to
    today (from the first day of the month eleven months ago)."""
    errors: list[str] = []
    month = today.month - 11
    default_from = date(today.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    chosen = []
    for name, default in (("from", default_from), ("to", today)):
        text = query.get(name, "").strip()
        try:
            chosen.append(date.fromisoformat(text) if text else default)
        except ValueError:
            errors.append(f"日期 {text} 的格式应为 YYYY-MM-DD")
            chosen.append(default)
    start, end = chosen
    if start > end:
        errors.append("统计期间的开始日期晚于结束日期")
    elif (end - start).days > MAX_PERIOD_DAYS:
        errors.append(f"统计期间最长 {MAX_PERIOD_DAYS} 天")
    if errors:
        start, end = default_from, today
    return (start, end), errors


def _rate(part: int, whole: int) -> str:
    return "—" if whole == 0 else f"{100 * part / whole:.1f}%"


def _charts(report: StatisticsReport, period: tuple[date, date], labels: Any) -> dict[str, Any]:
    """What the charts draw, each value with the list of cases behind it."""

    def point(value: float | None, measure: Measure, **where: Any) -> dict[str, Any]:
        return {"value": value, "url": statistic_link(measure, period, **where)}

    departments = [d for d in report.departments if d.department]
    names = [Department(d.department).label for d in departments]
    bars = [
        ("受理", "received", Measure.RECEIVED),
        ("办结", "closed", Measure.CLOSED),
        ("按期办结", "closed_on_time", Measure.CLOSED_ON_TIME),
        ("在办", "held", Measure.HELD),
        ("超期", "overdue", Measure.OVERDUE),
    ]
    rates = [
        ("按期办结率", "closed_on_time_percent", Measure.CLOSED_ON_TIME),
        ("满意率", "satisfaction_percent", Measure.SATISFIED),
    ]
    months = [m.month for m in departments[0].months] if departments else []

    def month_total(name: str, i: int) -> int:
        return sum(int(getattr(d.months[i], name)) for d in departments)

    def month_period(month: str) -> tuple[date, date]:
        first = date.fromisoformat(month + "-01")
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        return max(first, period[0]), min(last, period[1])

    trends = []
    for label, name, measure in (
        ("受理", "received", Measure.RECEIVED),
        ("办结", "closed", Measure.CLOSED),
        ("按期办结", "closed_on_time", Measure.CLOSED_ON_TIME),
    ):
        trends.append(
            {
                "name": label,
                "data": [
                    {
                        "value": month_total(name, i),
                        "url": statistic_link(measure, month_period(m)),
                    }
                    for i, m in enumerate(months)
                ],
            }
        )
    return {
        "departments": names,
        "bars": [
            {
                "name": label,
                "data": [
                    point(getattr(d, name), measure, department=d.department) for d in departments
                ],
            }
            for label, name, measure in bars
        ],
        "rates": [
            {
                "name": label,
                "data": [
                    point(getattr(d, name), measure, department=d.department) for d in departments
                ],
            }
            for label, name, measure in rates
        ],
        "months": months,
        "trends": trends,
    }


@dataclass(frozen=True)
class StatRow:
    name: str
    unit: str | None
    department: str | None
    measures: Measures


@get("/oversight")
async def oversight(request: Request[Any, Any, Any]) -> Template:
    staff = await signed_in(request)
    if not staff.reads(READ_STATISTICS):  # (base.html shows the link to the same roles)
        raise PermissionDeniedException("督办页面供领导小组办公室、检查和审计人员查看")
    opened = _ledger(request)
    labels = _state(request).labels
    query = {k: v for k, v in request.query_params.items()}
    today = local_date(_now())
    period, errors = _period(query, today)
    read_models = opened.read_models
    # Three independent reads, at once (each on a connection of its own).
    open_found, due_soon, report, tasks, meetings = await asyncio.gather(
        read_models.open_cases_by_unit(DUE_WITHIN),
        read_models.list_cases(CaseFilters(due_within=DUE_WITHIN), None, PAGE_SIZE),
        read_models.statistics(*period),
        read_models.open_tasks_by_unit(),
        read_models.meetings_held(*period),
    )
    units = [u.code for u in opened.context.reference.units]
    open_rows, open_total = _open_rows(open_found, units)
    # Each department, then those of its units that had anything to count.
    stat_rows = []
    for d in report.departments:
        if d.department:
            stat_rows.append(StatRow(Department(d.department).label, None, d.department, d))
        stat_rows += [
            StatRow(labels.unit(u.unit), u.unit, None, u)
            for u in report.units
            if u.department == d.department
            and (u.received or u.held or u.closed or u.escalations or u.returned_transfers)
        ]
    response = page(
        request,
        staff,
        "oversight.html",
        period=period,
        errors=errors,
        due_within=DUE_WITHIN,
        open_columns=OPEN_COLUMNS,
        open_rows=open_rows,
        open_total=open_total,
        due_soon=[case_body(v, staff.actor, opened.context) for v in due_soon.items],
        due_soon_more=due_soon.next_cursor is not None,
        due_soon_link=cases_link(due_within=DUE_WITHIN),
        columns=COLUMNS,
        stat_rows=stat_rows,
        statistic_link=statistic_link,
        rate=_rate,
        satisfied=Measure.SATISFIED,
        charts=_charts(report, period, labels),
        tasks=tasks,
        meetings=[(MeetingKind(kind).label, n) for kind, n in sorted(meetings.items())],
        task_link=lambda unit: cases_link(task_unit=unit),
    )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


ROUTES = [oversight]
