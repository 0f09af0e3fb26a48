"""The department statistics counted straight from the facts (``proj_unit_facts``): every fact
of the period standing at the position asked about, every custody segment standing at each
cutoff. The reference the read model's totals are compared against (the report counted this way
before it kept totals); pass :func:`scan` as ``count`` to ``statistics.report``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from ledger.projections.projection import TYPES, Dialect, Reader
from ledger.projections.statistics import (
    FLOWS,
    STOCKS,
    Cutoff,
    FlowRow,
    LogMonths,
    StockRow,
    placeholders,
)


def month_sql(dialect: Dialect) -> str:
    """The YYYY-MM of the column ``day``."""
    return "substr(day, 1, 7)" if dialect is Dialect.SQLITE else "to_char(day, 'YYYY-MM')"


async def _flows(
    reader: Reader, period_from: date, period_to: date, position: int
) -> list[Sequence[Any]]:
    params, p = placeholders(reader.dialect)  # bound in the order they appear
    kinds = ", ".join(p(kind) for kind in FLOWS)
    month = month_sql(reader.dialect)
    sql = (
        f"SELECT unit, kind, outcome, {month} AS month, days, count(*)"
        f" FROM proj_unit_facts WHERE kind IN ({kinds})"
        f" AND day >= {p(period_from)} AND day <= {p(period_to)}"
        f" AND position <= {p(position)}"
        f" AND (until_position IS NULL OR until_position > {p(position)})"
        f" GROUP BY unit, kind, outcome, {month}, days"
    )
    return await reader.fetch(sql, params)


async def _stocks(reader: Reader, cutoffs: Sequence[Cutoff]) -> list[Sequence[Any]]:
    params, p = placeholders(reader.dialect)  # bound in the order they appear
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
        " GROUP BY m.label, f.unit, f.kind"
    )
    return await reader.fetch(sql, params)


async def scan(
    reader: Reader,
    period_from: date,
    period_to: date,
    position: int,
    cutoffs: Sequence[Cutoff],
    log: LogMonths,
) -> tuple[list[FlowRow], list[StockRow]]:
    flows = [
        (unit, kind, outcome, month, None if days is None else int(days), int(n))
        for unit, kind, outcome, month, days, n in await _flows(
            reader, period_from, period_to, position
        )
    ]
    stocks = [
        (label, unit, kind, int(n), int(overdue or 0))
        for label, unit, kind, n, overdue in await _stocks(reader, cutoffs)
    ]
    return flows, stocks
