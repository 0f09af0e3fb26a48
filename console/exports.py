"""The exports behind the console's pages: the 台账 of 案件查询's filters, the inspection of
首问责任检查's question and the statistics of 督办's period, each as the API gives it
(``api.exports``) — for the signed-in staff member, with the same roles, the same masking and
the same access record (``ledger.ExportRecorded``) before a byte is sent.

A page's question that the page itself would refuse is refused here too, as the console's 400
page with what is wrong, and nothing is recorded.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.response import Stream

from api.cases.reads import READ_CASES
from api.exports import export_cases, export_inspection, export_statistics
from api.inspections import READ_INSPECTIONS
from api.statistics import READ_STATISTICS
from console.app import _filters, _ledger, _now, signed_in
from console.inspections import _asked
from console.oversight import _period
from ledger.domain.context import local_date


class Refused(HTTPException):
    status_code = 400


def _query(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if v.strip()}


def _refuse(errors: list[str]) -> None:
    if errors:
        raise Refused(detail="；".join(errors))


@get("/exports/cases.xlsx", name="console:export-cases")
async def cases_xlsx(request: Request[Any, Any, Any]) -> Stream:
    staff = await signed_in(request)
    if not staff.reads(READ_CASES):
        raise PermissionDeniedException("你的角色不能导出案件台账")
    opened = _ledger(request)
    query = _query(request)
    filters, errors = _filters(query, opened.context.reference)
    _refuse(errors)
    return await export_cases(opened.read_models, staff.actor, filters, query)


@get("/exports/inspection.xlsx", name="console:export-inspection")
async def inspection_xlsx(request: Request[Any, Any, Any]) -> Stream:
    staff = await signed_in(request)
    if not staff.reads(READ_INSPECTIONS):
        raise PermissionDeniedException("你的角色不能导出首问责任检查")
    opened = _ledger(request)
    asked, errors = _asked(_query(request), local_date(_now()))
    if asked.unit is not None and asked.unit not in {
        u.code for u in opened.context.reference.units
    }:
        errors.append(f"单位 {asked.unit} 不存在")
    _refuse(errors)
    return await export_inspection(
        opened.read_models, staff.actor, asked.period_from, asked.period_to, asked.unit, asked.as_of
    )


@get("/exports/statistics.xlsx", name="console:export-statistics")
async def statistics_xlsx(request: Request[Any, Any, Any]) -> Stream:
    staff = await signed_in(request)
    if not staff.reads(READ_STATISTICS):
        raise PermissionDeniedException("你的角色不能导出部门考核统计")
    opened = _ledger(request)
    period, errors = _period(_query(request), local_date(_now()))
    _refuse(errors)
    return await export_statistics(opened.read_models, staff.actor, *period, None)


ROUTES = [cases_xlsx, inspection_xlsx, statistics_xlsx]
