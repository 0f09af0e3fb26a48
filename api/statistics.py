"""GET /v1/statistics/units: department statistics (考核) per unit and per department.

The leading group's 督导、检查、考核 (clause 四): for a period, what each unit and department
received, held, closed on time or late, fed back, and how often payers came again, transfers
came back and matters went up to the leading group, with a monthly series of each for charts.
``as_of`` makes a report reproducible later: it is computed from the events recorded up to then.
"""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from api.access import allow, roles_note
from api.cases.reads import Moment
from api.params import PeriodFrom, PeriodTo, check_period
from api.problems import problem_responses
from ledger.domain.codes import Role
from ledger.projections import ReadModels
from ledger.projections.statistics import StatisticsReport

READ_STATISTICS = frozenset({Role.OFFICE, Role.INSPECTOR, Role.AUDITOR})


class StatisticsController(Controller):
    path = "/v1/statistics"
    tags = ("statistics",)

    @get(
        "/units",
        guards=[allow(READ_STATISTICS)],
        operation_id="unit_statistics",
        summary="Department statistics per unit and department (考核)",
        description="From `from` to `to` (Asia/Shanghai dates, inclusive), as of `as_of` "
        "(default now): cases received, repeat trips, closures (on time, handling time), "
        "feedback and satisfaction, returned transfers and escalations of the period; cases "
        "held and overdue at `as_of` (in the monthly series: at each month's end). "
        + roles_note(READ_STATISTICS),
        responses=problem_responses(400, 403),
    )
    async def units(
        self,
        read_models: NamedDependency[ReadModels],
        period_from: PeriodFrom,
        period_to: PeriodTo,
        as_of: Moment = None,
    ) -> StatisticsReport:
        check_period(period_from, period_to)
        return await read_models.statistics(period_from, period_to, as_of)
