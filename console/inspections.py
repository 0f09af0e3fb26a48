"""首问责任检查: the first-responder inspection in the console, and its drill-down to a case.

``/inspections`` asks the read models exactly what ``GET /v1/inspections/first-responders``
asks (the same period check, the same report), for one unit or one member of staff, a period
and an as-of day (the end of that day, Asia/Shanghai; a day still to come is the forecast,
预警): per unit and staff member the cases received and held, the joint consultations (会商)
and the findings per check, the last two linking to the consultations and findings behind
them. Each finding and each consultation links to ``/inspections/cases/{id}``: the case's
timeline as inspectors read it (``api.inspections.inspection_events``: payer identifiers
masked) with the events that prove it highlighted, and the case's custody chart. The roles are
the API's (``READ_INSPECTIONS``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Request, get
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Template

from api.cases.views import case_body
from api.inspections import READ_INSPECTIONS, inspection_events
from api.params import FIRST_DAY, LAST_DAY, MAX_PERIOD_DAYS
from console.app import _ledger, _now, _state, page, signed_in
from console.charts import custody_chart
from console.timeline import business_time, entries, parse_positions
from ledger.domain.context import SHANGHAI, local_date
from ledger.projections import ProjectionsBehind
from ledger.projections.views import CHECK_LABELS, Check, Finding, InspectionReport

REFUSED = "你的角色不能查看首问责任检查（需督查、审计或领导小组办公室角色）"
MAX_CASES_NAMED = 500  # findings beyond these are listed by case id, not case number


@dataclass(frozen=True)
class Asked:
    """What the form asks: a period, one unit or one member of staff, an as-of day."""

    period_from: date
    period_to: date
    unit: str | None
    staff: str | None
    as_of_day: date | None
    check: Check | None
    who: str | None  # "unit" or "unit/staff id": whose findings to list

    today: date

    @property
    def as_of(self) -> datetime | None:
        """What the report is evaluated at: now for today (or no day), else the end of the
        as-of day in Asia/Shanghai (a day to come: the forecast)."""
        if self.as_of_day is None or self.as_of_day == self.today:
            return None
        return datetime.combine(self.as_of_day, time(23, 59, 59), SHANGHAI)

    def query(self, **changes: str | None) -> str:
        values: dict[str, Any] = {
            "from": self.period_from.isoformat(),
            "to": self.period_to.isoformat(),
            "unit": self.unit,
            "staff": self.staff,
            "as_of": self.as_of_day.isoformat() if self.as_of_day else None,
            "check": self.check.value if self.check else None,
            "who": self.who,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})


@dataclass(frozen=True)
class Row:
    """A unit's or a staff member's line of the report."""

    unit: str
    staff_id: str
    name: str
    received: int
    held: int
    counts: dict[Check, int]
    who: str
    consultations: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class ConsultationRow:
    """A joint consultation the page lists: who of the report recorded it, which of the
    report's units took part."""

    case_id: UUID
    position: int
    recorded_by: list[tuple[str, str, str]]  # (unit, staff id, name)
    units: list[str]
    case_number: str | None = None


@dataclass(frozen=True)
class FindingRow:
    finding: Finding
    unit: str
    staff_id: str
    name: str
    case_number: str | None


def _asked(query: dict[str, str], today: date) -> tuple[Asked, list[str]]:
    errors: list[str] = []

    def day(name: str, default: date | None) -> date | None:
        text = query.get(name, "").strip()
        if not text:
            return default
        try:
            return date.fromisoformat(text)
        except ValueError:
            errors.append(f"日期 {text} 的格式应为 YYYY-MM-DD")
            return default

    period_from = day("from", today.replace(month=1, day=1)) or today
    period_to = day("to", today) or today
    as_of_day = day("as_of", None)
    for day_asked in (period_from, period_to, as_of_day):
        if day_asked is not None and not FIRST_DAY <= day_asked <= LAST_DAY:
            errors.append(f"日期 {day_asked} 超出可查询的范围（{FIRST_DAY} 至 {LAST_DAY}）")
    if period_to < period_from:
        errors.append("检查期间的结束日期早于开始日期")
    elif (period_to - period_from).days > MAX_PERIOD_DAYS:
        errors.append(f"检查期间最长 {MAX_PERIOD_DAYS} 天")
    check_text = query.get("check", "").strip()
    check = Check(check_text) if check_text in Check.__members__ else None
    return (
        Asked(
            period_from=period_from,
            period_to=period_to,
            unit=query.get("unit", "").strip() or None,
            staff=query.get("staff", "").strip() or None,
            as_of_day=as_of_day,
            check=check,
            who=query.get("who", "").strip() or None,
            today=today,
        ),
        errors,
    )


def _rows(report: InspectionReport, asked: Asked) -> tuple[list[Row], list[Row]]:
    staff = [
        Row(
            s.unit,
            s.staff_id,
            s.name,
            s.cases_received,
            s.cases_held,
            s.counts,
            _who(s.unit, s),
            s.consultations,
        )
        for s in report.staff
        if asked.staff is None or s.staff_id == asked.staff
    ]
    units = [
        Row(u.unit, "", "", u.cases_received, u.cases_held, u.counts, u.unit, u.consultations)
        for u in report.units
        if asked.staff is None
    ]
    return units, staff


def _consultations(report: InspectionReport, asked: Asked) -> list[ConsultationRow]:
    """Every joint consultation counted on the page (of the row ``who`` names, if any), once,
    in log order: the staff rows' recorded, the unit rows' taken part in."""
    found: dict[tuple[UUID, int], ConsultationRow] = {}

    def row(case_id: UUID, position: int) -> ConsultationRow:
        key = (case_id, position)
        if key not in found:
            found[key] = ConsultationRow(case_id, position, [], [])
        return found[key]

    unit, slash, staff_id = (asked.who or "").partition("/")
    for s in report.staff:
        if asked.staff is not None and s.staff_id != asked.staff:
            continue
        if asked.who and (s.unit != unit or not slash or s.staff_id != staff_id):
            continue
        for proof in s.consulted:
            row(proof.case_id, proof.positions[0]).recorded_by.append((s.unit, s.staff_id, s.name))
    if asked.staff is None:
        for u in report.units:
            if asked.who and (u.unit != unit or slash):
                continue
            for proof in u.consulted:
                row(proof.case_id, proof.positions[0]).units.append(u.unit)
    return [found[key] for key in sorted(found, key=lambda key: key[1])]


def _who(unit: str, staff: Any | None) -> str:
    return f"{unit}/{staff.staff_id}" if staff is not None else f"{unit}/"


def _findings(report: InspectionReport, asked: Asked) -> list[tuple[str, str, str, Finding]]:
    """(unit, staff id, name, finding) of every finding the page lists, in check order."""
    found: list[tuple[str, str, str, Finding]] = []
    for s in report.staff:
        if asked.staff is not None and s.staff_id != asked.staff:
            continue
        found += [(s.unit, s.staff_id, s.name, f) for f in s.findings]
    if asked.staff is None:
        for u in report.units:
            found += [(u.unit, "", "", f) for f in u.findings]
    if asked.check is not None:
        found = [row for row in found if row[3].check is asked.check]
    if asked.who:
        unit, _, staff_id = asked.who.partition("/")
        found = [
            row for row in found if row[0] == unit and ("/" not in asked.who or row[1] == staff_id)
        ]
    found.sort(key=lambda row: (row[3].check.value, row[0], row[1], min(row[3].positions)))
    return found


@get("/inspections")
async def inspection_page(request: Request[Any, Any, Any]) -> Template:
    staff = await signed_in(request)
    if not staff.reads(READ_INSPECTIONS):
        raise PermissionDeniedException(
            "你的角色不能查看首问责任检查（需督查、审计或领导小组办公室）"
        )
    opened = _ledger(request)
    today = local_date(_now())
    query = {k: v for k, v in request.query_params.items()}
    asked, errors = _asked(query, today)
    report: InspectionReport | None = None
    units: list[Row] = []
    people: list[Row] = []
    findings: list[FindingRow] = []
    consultations: list[ConsultationRow] = []
    if asked.unit is not None and asked.unit not in {
        u.code for u in opened.context.reference.units
    }:
        errors.append(f"单位 {asked.unit} 不存在")
    status = 400 if errors else 200
    if not errors:
        try:
            report = await opened.read_models.inspection(
                asked.period_from, asked.period_to, asked.unit, asked.as_of
            )
        except ProjectionsBehind:
            errors.append("数据尚在更新，请稍后再查询")
            status = 503
    if report is not None:
        units, people = _rows(report, asked)
        listed = _findings(report, asked)
        consulted = _consultations(report, asked)
        numbers: dict[UUID, str | None] = {}
        for case_id in [*(f.case_id for _, _, _, f in listed), *(k.case_id for k in consulted)]:
            if case_id not in numbers and len(numbers) < MAX_CASES_NAMED:
                view = await opened.read_models.case_view(case_id)
                numbers[case_id] = view.case_number if view else None
        findings = [
            FindingRow(f, unit, staff_id, name, numbers.get(f.case_id))
            for unit, staff_id, name, f in listed
        ]
        consultations = [replace(k, case_number=numbers.get(k.case_id)) for k in consulted]
    return page(
        request,
        staff,
        "inspections.html",
        status=status,
        asked=asked,
        errors=errors,
        report=report,
        unit_rows=units,
        staff_rows=people,
        findings=findings,
        consultations=consultations,
        checks=list(Check),
        check_labels=CHECK_LABELS,
        units=opened.context.reference.units,
    )


@get("/inspections/cases/{case_id:uuid}")
async def inspection_case(request: Request[Any, Any, Any], case_id: FromPath[UUID]) -> Template:
    staff = await signed_in(request)
    if not staff.reads(READ_INSPECTIONS):
        raise PermissionDeniedException(
            "你的角色不能查看首问责任检查（需督查、审计或领导小组办公室）"
        )
    opened = _ledger(request)
    events = await inspection_events(opened.service, case_id)
    if not events or events[0].topic != "ledger.Registered":  # (a staff account's id)
        raise NotFoundException(f"案件 {case_id} 不存在")
    query = request.query_params
    proving = parse_positions(query.get("positions", ""))
    check_text = query.get("check", "")
    check = Check(check_text) if check_text in Check.__members__ else None
    timeline = entries(events, _state(request).labels, proving)
    ours = {e.position for e in timeline}
    view = await opened.read_models.case_view(case_id)
    trail = await opened.read_models.trail(case_id)
    marks = [(business_time(e.event), e.position, e.label) for e in timeline if e.proving]
    back = query.get("back", "")
    return page(
        request,
        staff,
        "inspection_case.html",
        case_id=case_id,
        view=case_body(view, staff.actor, opened.context) if view else None,
        timeline=timeline,
        check=check,
        check_label=CHECK_LABELS[check] if check else None,
        proving=proving,
        elsewhere=[p for p in proving if p not in ours],
        chart=custody_chart(trail, marks),
        trail=trail,
        back=f"/inspections?{back}" if back else "/inspections",
    )


ROUTES = [inspection_page, inspection_case]
