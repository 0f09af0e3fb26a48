"""GET /v1/inspections/first-responders: FR1–FR9 findings per staff member and unit.

The leading group's 督导、检查、考核 (clause 四): for the cases received in a period, what each
first responder did and failed to do, each finding with the event positions that prove it.
``as_of`` makes a report reproducible later: it is computed from the events recorded up to then.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from api.access import allow, roles_note
from api.cases.reads import CodeFilter, Moment
from api.params import DATE_RANGE, invalid_parameters, inverted
from api.problems import FieldError, problem_responses
from ledger.domain.codes import Role
from ledger.projections import ReadModels
from ledger.projections.views import InspectionReport

# One inspection covers at most this many days: a report over decades would read the whole
# ledger in one request.
MAX_PERIOD_DAYS = 3660

# Inspection reports: inspectors, auditors and the leading group's office (四: 督导、检查、考核).
READ_INSPECTIONS = frozenset({Role.INSPECTOR, Role.AUDITOR, Role.OFFICE})


class InspectionController(Controller):
    path = "/v1/inspections"
    tags = ("inspections",)

    @get(
        "/first-responders",
        guards=[allow(READ_INSPECTIONS)],
        operation_id="first_responder_inspection",
        summary="First-responder accountability report (FR1–FR9)",
        description="Cases received from `from` to `to` (Asia/Shanghai dates, inclusive), "
        "optionally of one receiving `unit`, evaluated as of `as_of` (default now). "
        + roles_note(READ_INSPECTIONS),
        responses=problem_responses(400, 403),
    )
    async def first_responders(
        self,
        read_models: NamedDependency[ReadModels],
        period_from: Annotated[
            date, QueryParameter(name="from", description=f"YYYY-MM-DD, {DATE_RANGE}")
        ],
        period_to: Annotated[
            date, QueryParameter(name="to", description=f"YYYY-MM-DD, {DATE_RANGE}")
        ],
        unit: CodeFilter = None,
        as_of: Moment = None,
    ) -> InspectionReport:
        if period_from > period_to:
            raise inverted("from", "to", period_from, period_to)
        if (period_to - period_from).days > MAX_PERIOD_DAYS:
            longest = f"a period spans at most {MAX_PERIOD_DAYS} days"
            raise invalid_parameters(
                FieldError(field="from", message=longest, source="query"),
                FieldError(field="to", message=longest, source="query"),
                detail=f"from and to: {longest}",
            )
        return await read_models.inspection(period_from, period_to, unit, as_of)
