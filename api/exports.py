"""GET /v1/exports/…: the 台账 and the reports as spreadsheets, each export recorded first.

- ``cases.xlsx`` — the 台账: one row per case, with exactly the filters of ``GET /v1/cases``
  (the same parameter declarations and checks, ``api.cases.reads.provide_case_query``; the same
  query, ``ReadModels.case_export``), in the list's order, payer identifiers and phones masked
  case by case exactly as the list masks them (``api.cases.views.case_body``). Rows are read a
  page at a time from one snapshot of the read models and written as they come (``api.xlsx``):
  memory stays bounded whatever the number of rows.
- ``inspection.xlsx`` — the first-responder inspection (``GET /v1/inspections/first-responders``,
  same parameters): sheets 单位, 人员, 问题清单 and 报告 (the report's parameters).
- ``statistics.xlsx`` — the department statistics (``GET /v1/statistics/units``, same
  parameters): sheets 单位, 部门, 单位月度, 部门月度 and 报告.

Each route admits the roles of the read it exports.

**Recorded before sent.** Every export is an ``ExportRecorded`` event in the ledger
(``ledger.exports``): who (from the token), which export, its filter (the parameters by their
names in the URL), how many rows, as of which moment and log position. It is appended before
the response starts, so a file never leaves the server without its record; a refused request
(bad parameter, wrong role) records nothing. The count is exact: for the 台账 it is counted in
the same read snapshot, at the same moment, that the rows are then read from (so an export
racing the projection runner still holds exactly the rows its record says); a report is
computed whole before it is recorded. The record's stream id, position and row count come back
in the headers ``X-Export-Record``, ``X-Export-Position`` and ``X-Export-Rows``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

from litestar import Controller, Request, get
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.response import Stream

from api.access import actor_of, allow, roles_note
from api.cases.reads import CASE_FILTERS_NOTE, CASE_QUERY, READ_CASES, CaseQuery, CodeFilter, Moment
from api.cases.views import case_body
from api.inspections import READ_INSPECTIONS
from api.params import PeriodFrom, PeriodTo, check_period, given
from api.problems import problem_responses
from api.request_id import current_request_id
from api.statistics import READ_STATISTICS
from api.xlsx import MEDIA_TYPE, Book, Cell, SheetData, cells, disposition, local, yes_no
from ledger.domain.actor import Actor
from ledger.domain.codes import Department
from ledger.domain.context import Context
from ledger.domain.reference import UnknownJurisdiction, UnknownUnit
from ledger.exports import record_export
from ledger.projections import ReadModels
from ledger.projections.readmodels import CaseExport
from ledger.projections.statistics import Measures, StatisticsReport
from ledger.projections.views import CaseFilters, CaseView, Check, InspectionReport
from ledger.store.port import AppendResult

CASES, INSPECTION, STATISTICS = "cases.xlsx", "inspection.xlsx", "statistics.xlsx"
FILE_NAMES = {CASES: "台账.xlsx", INSPECTION: "首问责任检查.xlsx", STATISTICS: "考核统计.xlsx"}
PAGE = 500  # case rows read and written at a time


# -- names ------------------------------------------------------------------------------------


class Names:
    """Units' and jurisdictions' names from the reference data (the code when it has none)."""

    def __init__(self, context: Context) -> None:
        self.reference = context.reference

    def unit(self, code: str) -> str:
        try:
            return self.reference.unit(code).name
        except UnknownUnit:
            return code

    def jurisdiction(self, code: str) -> str:
        try:
            return self.reference.jurisdiction(code).name
        except UnknownJurisdiction:
            return code


def _label(value: Enum | None) -> str | None:
    return None if value is None else str(value.label)  # type: ignore[attr-defined]


# -- the 台账 ------------------------------------------------------------------------------------

# (header, value of a case view) in the order of the columns.
CASE_COLUMNS: tuple[tuple[str, Callable[[CaseView, Names], Any]], ...] = (
    ("案件编号", lambda v, n: v.case_number),
    ("案件标识", lambda v, n: str(v.case_id)),
    ("收件时间", lambda v, n: v.received_at),
    ("登记时间", lambda v, n: v.registered_at),
    ("受理渠道", lambda v, n: _label(v.channel)),
    ("争议类别", lambda v, n: _label(v.category)),
    ("事项分类", lambda v, n: _label(v.classification)),
    ("办理路径", lambda v, n: v.route),
    ("所属辖区", lambda v, n: n.jurisdiction(v.jurisdiction)),
    ("受理单位", lambda v, n: n.unit(v.receiving_unit)),
    ("首问责任人", lambda v, n: v.first_responder.name),
    ("首问责任人工号", lambda v, n: v.first_responder.staff_id),
    ("承办单位", lambda v, n: n.unit(v.holding_unit)),
    ("案件状态", lambda v, n: _label(v.status)),
    ("办结期限", lambda v, n: v.deadline.due if v.deadline else None),
    ("是否超期", lambda v, n: yes_no(v.overdue)),
    ("办结时间", lambda v, n: v.closed_at),
    ("缴费人类型", lambda v, n: _label(v.payer.kind)),
    ("缴费人名称", lambda v, n: v.payer.name),
    ("缴费人识别号", lambda v, n: v.payer.identifier),
    ("联系电话", lambda v, n: v.payer.phone),
    ("转办次数", lambda v, n: v.transfer_count),
    ("退单次数", lambda v, n: v.return_count),
    ("催办次数", lambda v, n: v.urge_count),
    ("提请领导小组", lambda v, n: yes_no(v.escalated)),
    ("满意度", lambda v, n: _label(v.satisfaction)),
    ("回访次数", lambda v, n: v.follow_up_count),
    ("版本", lambda v, n: v.version),
)


def case_row(view: CaseView, names: Names) -> list[Cell]:
    return cells(value(view, names) for _, value in CASE_COLUMNS)


async def _case_file(
    export: CaseExport, actor: Actor, context: Context, snapshot: contextlib.AsyncExitStack
) -> AsyncIterator[bytes]:
    names = Names(context)
    book = Book()
    sheet = book.sheet("台账", [header for header, _ in CASE_COLUMNS])
    try:
        async for views in export.pages:
            rows = [case_row(case_body(view, actor, context), names) for view in views]
            await asyncio.to_thread(sheet.extend, rows)
    finally:
        await snapshot.aclose()
    if sheet.rows != export.count:  # one snapshot: cannot differ, and must not go out if it did
        raise RuntimeError(f"{sheet.rows} rows read, {export.count} counted and recorded")
    async for chunk in book.chunks():
        yield chunk


# -- the inspection -----------------------------------------------------------------------------

CHECKS = tuple(Check)
CHECK_HEADERS = [f"{check.value} {check.label}" for check in CHECKS]
# Cases received and held, and joint consultations (会商: each unit's that took part, each staff
# member's recorded).
COUNT_HEADERS = ["受理件数", "经手件数", "会商次数"]


def _report_sheet(rows: Sequence[tuple[str, Cell]]) -> SheetData:
    return SheetData("报告", ["项目", "内容"], [list(row) for row in rows], width=24)


def inspection_sheets(report: InspectionReport, context: Context) -> list[SheetData]:
    names = Names(context)
    units: list[list[Cell]] = [
        [
            u.unit,
            names.unit(u.unit),
            u.cases_received,
            u.cases_held,
            u.consultations,
            *(u.counts.get(check, 0) for check in CHECKS),
        ]
        for u in report.units
    ]
    staff: list[list[Cell]] = [
        [
            s.staff_id,
            s.name,
            s.unit,
            names.unit(s.unit),
            s.cases_received,
            s.cases_held,
            s.consultations,
            *(s.counts.get(check, 0) for check in CHECKS),
        ]
        for s in report.staff
    ]
    findings: list[list[Cell]] = []
    for s in report.staff:
        findings += [_finding(f, s.unit, s.staff_id, s.name, names) for f in s.findings]
    for u in report.units:
        findings += [_finding(f, u.unit, None, None, names) for f in u.findings]
    return [
        SheetData("单位", ["单位代码", "单位名称", *COUNT_HEADERS, *CHECK_HEADERS], units),
        SheetData(
            "人员", ["工号", "姓名", "单位代码", "单位名称", *COUNT_HEADERS, *CHECK_HEADERS], staff
        ),
        SheetData("问题清单", FINDING_HEADERS, findings),
        _report_sheet(
            [
                ("期间起", report.period_from),
                ("期间止", report.period_to),
                ("单位", names.unit(report.unit) if report.unit else "全部"),
                ("截至", local(report.as_of)),
                ("日志位置", report.position),
                ("预测", yes_no(report.forecast)),
            ]
        ),
    ]


FINDING_HEADERS = [
    "检查项",
    "检查内容",
    "责任单位代码",
    "责任单位",
    "责任人工号",
    "责任人",
    "案件标识",
    "证明事件位置",
    "暂定",
]


def _finding(
    finding: Any, unit: str, staff_id: str | None, name: str | None, names: Names
) -> list[Cell]:
    return [
        finding.check.value,
        finding.check.label,
        unit,
        names.unit(unit),
        staff_id,
        name,
        str(finding.case_id),
        ",".join(map(str, finding.positions)),
        yes_no(finding.provisional),
    ]


# -- the statistics -----------------------------------------------------------------------------

MEASURES: tuple[tuple[str, str], ...] = (
    ("received", "受理件数"),
    ("held", "在办件数"),
    ("closed", "办结件数"),
    ("closed_on_time", "按期办结件数"),
    ("closed_on_time_percent", "按期办结率(%)"),
    ("overdue", "超期件数"),
    ("median_handling_working_days", "办理时长中位数(工作日)"),
    ("feedback_given", "反馈件数"),
    ("satisfaction_percent", "满意率(%)"),
    ("unsatisfied", "不满意件数"),
    ("repeat_trips", "重复跑件数"),
    ("returned_transfers", "退单件数"),
    ("escalations", "提请领导小组件数"),
    ("follow_ups", "回访件数"),
    ("follow_up_flags", "待处理不满意回访"),
)
MEASURE_HEADERS = [header for _, header in MEASURES]


def _measures(m: Measures) -> list[Cell]:
    return [getattr(m, name) for name, _ in MEASURES]


def _department(code: str) -> str:
    try:
        return Department(code).label
    except ValueError:
        return code


def statistics_sheets(report: StatisticsReport, context: Context) -> list[SheetData]:
    names = Names(context)
    return [
        SheetData(
            "单位",
            ["单位代码", "单位名称", "部门", *MEASURE_HEADERS],
            [
                [u.unit, names.unit(u.unit), _department(u.department), *_measures(u)]
                for u in report.units
            ],
        ),
        SheetData(
            "部门",
            ["部门代码", "部门", *MEASURE_HEADERS],
            [[d.department, _department(d.department), *_measures(d)] for d in report.departments],
        ),
        SheetData(
            "单位月度",
            ["单位代码", "单位名称", "月份", *MEASURE_HEADERS],
            [
                [u.unit, names.unit(u.unit), m.month, *_measures(m)]
                for u in report.units
                for m in u.months
            ],
        ),
        SheetData(
            "部门月度",
            ["部门代码", "部门", "月份", *MEASURE_HEADERS],
            [
                [d.department, _department(d.department), m.month, *_measures(m)]
                for d in report.departments
                for m in d.months
            ],
        ),
        _report_sheet(
            [
                ("期间起", report.period_from),
                ("期间止", report.period_to),
                ("截至", local(report.as_of)),
                ("日志位置", report.position),
            ]
        ),
    ]


# -- recording and sending ----------------------------------------------------------------------


async def _record(
    read_models: ReadModels,
    actor: Actor,
    export: str,
    filters: dict[str, str],
    rows: int,
    as_of: datetime,
    position: int,
) -> AppendResult:
    return await record_export(
        read_models.store,
        actor,
        export,
        filters,
        rows=rows,
        as_of=as_of,
        position=position,
        request_id=current_request_id(),
    )


def _sent(
    export: str,
    body: AsyncIterator[bytes],
    record: AppendResult,
    rows: int,
    background: BackgroundTask | None = None,
) -> Stream:
    return Stream(
        body,
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": disposition(FILE_NAMES[export], export),
            "X-Export-Record": str(record.case_id),
            "X-Export-Position": str(record.last_position),
            "X-Export-Rows": str(rows),
            "Cache-Control": "no-store",
        },
        background=background,
    )


async def _sheets_file(sheets: list[SheetData]) -> AsyncIterator[bytes]:
    book = await asyncio.to_thread(Book.of, sheets)
    async for chunk in book.chunks():
        yield chunk


RECORDED = (
    "The export is recorded in the ledger (`ledger.ExportRecorded`: who, the filter, the rows) "
    "before it is sent; the headers X-Export-Record, X-Export-Position and X-Export-Rows name "
    "the record. "
)


class ExportController(Controller):
    path = "/v1/exports"
    tags = ("exports",)

    @get(
        "/cases.xlsx",
        guards=[allow(READ_CASES)],
        operation_id="export_cases",
        dependencies=CASE_QUERY,
        media_type=MEDIA_TYPE,
        summary="The 台账: every case of a listing as a spreadsheet",
        description="One row per case, the filters of `GET /v1/cases` (all pages, in its "
        "order), payer identifiers masked as there. "
        + CASE_FILTERS_NOTE
        + " "
        + RECORDED
        + roles_note(READ_CASES),
        responses=problem_responses(400, 403),
    )
    async def cases(
        self,
        request: Request[Any, Any, Any],
        read_models: NamedDependency[ReadModels],
        listing: NamedDependency[CaseQuery],
    ) -> Stream:
        return await export_cases(read_models, actor_of(request), listing.filters, listing.given)

    @get(
        "/inspection.xlsx",
        guards=[allow(READ_INSPECTIONS)],
        operation_id="export_inspection",
        media_type=MEDIA_TYPE,
        summary="The first-responder inspection as a spreadsheet",
        description="The report of `GET /v1/inspections/first-responders` with the same "
        "parameters: sheets 单位 and 人员 (cases received and held, joint consultations, "
        "findings per check), 问题清单 (one row per finding, with its proving positions), 报告. "
        + RECORDED
        + roles_note(READ_INSPECTIONS),
        responses=problem_responses(400, 403),
    )
    async def inspection(
        self,
        request: Request[Any, Any, Any],
        read_models: NamedDependency[ReadModels],
        period_from: PeriodFrom,
        period_to: PeriodTo,
        unit: CodeFilter = None,
        as_of: Moment = None,
    ) -> Stream:
        check_period(period_from, period_to)
        return await export_inspection(
            read_models, actor_of(request), period_from, period_to, unit, as_of
        )

    @get(
        "/statistics.xlsx",
        guards=[allow(READ_STATISTICS)],
        operation_id="export_statistics",
        media_type=MEDIA_TYPE,
        summary="The department statistics (考核) as a spreadsheet",
        description="The report of `GET /v1/statistics/units` with the same parameters: "
        "sheets 单位, 部门, 单位月度, 部门月度, 报告. " + RECORDED + roles_note(READ_STATISTICS),
        responses=problem_responses(400, 403),
    )
    async def statistics(
        self,
        request: Request[Any, Any, Any],
        read_models: NamedDependency[ReadModels],
        period_from: PeriodFrom,
        period_to: PeriodTo,
        as_of: Moment = None,
    ) -> Stream:
        check_period(period_from, period_to)
        return await export_statistics(
            read_models, actor_of(request), period_from, period_to, as_of
        )


# -- the exports, whoever asks (the API's routes, the console's links) -----------------------------


async def export_cases(
    read_models: ReadModels, actor: Actor, filters: CaseFilters, recorded: dict[str, str]
) -> Stream:
    """The 台账 of ``filters`` for ``actor``, recorded (with ``recorded``, the filter as the
    asker gave it) before a byte is sent; counted and read in one snapshot."""
    snapshot = contextlib.AsyncExitStack()
    try:
        export = await snapshot.enter_async_context(read_models.case_export(filters, PAGE))
        record = await _record(
            read_models, actor, CASES, recorded, export.count, export.as_of, export.position
        )
    except BaseException:
        await snapshot.aclose()
        raise
    body = _case_file(export, actor, read_models.context, snapshot)
    # Closed by the body as soon as the rows are read; after the response as well, for a
    # response that never started its body.
    return _sent(CASES, body, record, export.count, BackgroundTask(snapshot.aclose))


async def export_inspection(
    read_models: ReadModels,
    actor: Actor,
    period_from: date,
    period_to: date,
    unit: str | None,
    as_of: datetime | None,
) -> Stream:
    """The first-responder inspection of a checked period, recorded before it is sent."""
    report = await read_models.inspection(period_from, period_to, unit, as_of)
    filters = given(**{"from": period_from, "to": period_to, "unit": unit, "as_of": as_of})
    sheets = inspection_sheets(report, read_models.context)
    return await _report_file(read_models, actor, INSPECTION, filters, sheets, report)


async def export_statistics(
    read_models: ReadModels,
    actor: Actor,
    period_from: date,
    period_to: date,
    as_of: datetime | None,
) -> Stream:
    """The department statistics of a checked period, recorded before they are sent."""
    report = await read_models.statistics(period_from, period_to, as_of)
    filters = given(**{"from": period_from, "to": period_to, "as_of": as_of})
    sheets = statistics_sheets(report, read_models.context)
    return await _report_file(read_models, actor, STATISTICS, filters, sheets, report)


async def _report_file(
    read_models: ReadModels,
    actor: Actor,
    export: str,
    filters: dict[str, str],
    sheets: list[SheetData],
    report: InspectionReport | StatisticsReport,
) -> Stream:
    """A report's sheets, recorded (the rows of every sheet, the report's moment and log
    position) before they are sent."""
    rows = sum(len(sheet.rows) for sheet in sheets)
    record = await _record(read_models, actor, export, filters, rows, report.as_of, report.position)
    return _sent(export, _sheets_file(sheets), record, rows)
