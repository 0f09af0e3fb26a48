"""The cases behind a number of the department statistics: the ``statistic`` filters of
``GET /v1/cases`` (and of the console's 案件查询, which 督办 links every number to).

``statistic=closed_on_time&statistic_unit=tax.hall&statistic_from=2026-01-01&statistic_to=2026-06-30``
lists the cases that ``GET /v1/statistics/units?from=2026-01-01&to=2026-06-30`` counts as closed on
time for ``tax.hall`` (as of now); ``statistic_department`` instead of ``statistic_unit`` takes a
department's units. ``held`` and ``overdue`` are the stocks now and take no period.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated

from litestar.params import QueryParameter

from api.params import DATE_RANGE, MAX_PERIOD_DAYS, invalid_parameters, inverted
from api.problems import FieldError
from ledger.domain.codes import Department
from ledger.domain.reference import ReferenceData
from ledger.projections.views import Counted, Measure

StatisticFilter = Annotated[
    Measure | None,
    QueryParameter(description="the cases a number of GET /v1/statistics/units counts"),
]
StatisticDepartment = Annotated[Department | None, QueryParameter()]
StatisticDay = Annotated[date | None, QueryParameter(description=f"YYYY-MM-DD, {DATE_RANGE}")]
STOCKS = frozenset({Measure.HELD, Measure.OVERDUE})
NAMES = (
    "statistic",
    "statistic_unit",
    "statistic_department",
    "statistic_from",
    "statistic_to",
)


def _field(name: str, message: str) -> FieldError:
    return FieldError(field=name, message=message, source="query")


def counted(
    reference: ReferenceData,
    measure: Measure | None,
    unit: str | None,
    department: Department | None,
    period_from: date | None,
    period_to: date | None,
) -> Counted | None:
    """The ``statistic`` filters as a ``Counted``; 400 when they do not make one question."""
    if measure is None:
        given = [
            name
            for name, value in (
                ("statistic_unit", unit),
                ("statistic_department", department),
                ("statistic_from", period_from),
                ("statistic_to", period_to),
            )
            if value is not None
        ]
        if given:
            raise invalid_parameters(*(_field(n, "needs statistic") for n in given))
        return None
    if unit is not None and department is not None:
        both = "give statistic_unit or statistic_department, not both"
        raise invalid_parameters(
            _field("statistic_unit", both), _field("statistic_department", both)
        )
    if measure in STOCKS:
        if period_from is not None or period_to is not None:
            raise invalid_parameters(
                _field("statistic_from", f"{measure} is counted now, not over a period")
            )
    elif period_from is None or period_to is None:
        period = (("statistic_from", period_from), ("statistic_to", period_to))
        missing = [n for n, v in period if v is None]
        raise invalid_parameters(*(_field(n, f"{measure} needs a period") for n in missing))
    elif period_from > period_to:
        raise inverted("statistic_from", "statistic_to", period_from, period_to)
    elif (period_to - period_from).days > MAX_PERIOD_DAYS:
        longest = f"a period spans at most {MAX_PERIOD_DAYS} days"
        raise invalid_parameters(_field("statistic_from", longest), _field("statistic_to", longest))
    units: tuple[str, ...] | None = None
    if unit is not None:
        units = (unit,)
    elif department is not None:
        units = tuple(u.code for u in reference.units if u.department is department)
    return Counted(measure=measure, units=units, period_from=period_from, period_to=period_to)


def counted_in_query(reference: ReferenceData, query: Mapping[str, str]) -> Counted | None:
    """The same from a page's query string (the console's 案件查询): ``ValueError`` or the
    400 problem when the values do not make one question."""
    text = {k: query.get(k, "").strip() for k in NAMES}
    days = [date.fromisoformat(text[k]) if text[k] else None for k in NAMES[3:]]
    return counted(
        reference,
        Measure(text["statistic"]) if text["statistic"] else None,
        text["statistic_unit"] or None,
        Department(text["statistic_department"]) if text["statistic_department"] else None,
        days[0],
        days[1],
    )
