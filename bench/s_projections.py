"""Scenarios 6, 8 and 10 (and the rebuild part of 9): the read models over the shared dataset.

6. Rebuild from scratch: ``ProjectionRunner.rebuild`` (drop, replay the whole log in large
   batches, bulk-write rows, build the indexes) in a child process, timed inside it, its peak RSS
   sampled. Baseline: the same projection (our ``CaseFolder`` and row functions) driven by
   eventsourcing's ``ProjectionRunner`` over the same events copied into the library's own table
   (``bench.es_projection``). The library writes one transaction per event, so its rate does not
   depend on the log's length: it is measured over the first ``ES_EVENTS`` events (a full 1M
   would take most of an hour) and reported as events/s.
8. The inspection report of one unit over one year, on the rebuilt read models.
10. The department statistics of every unit over one year, on the rebuilt read models.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime, timedelta
from typing import Any

from bench import es_projection
from bench.data import dataset, load_es_rows, read_rows
from bench.framework import DB_PREFIX, Context, Row, admin, median, ratio_row, run_child

ES_EVENTS = 50_000
ES_EVENTS_QUICK = 10_000
MEMORY_LIMIT_MB = 500


def _child(mode: str, url: str) -> tuple[dict[str, float], float]:
    out, peak = run_child([sys.executable, "-m", "bench.child", mode, url])
    return json.loads(out.strip().splitlines()[-1]), peak


def measure_rebuild(ctx: Context) -> dict[str, tuple[dict[str, float], float]]:
    def compute() -> dict[str, tuple[dict[str, float], float]]:
        data = dataset(ctx)
        return {mode: _child(mode, data.url) for mode in ("idle", "rebuild")}

    return ctx.once("rebuild", compute)


def measure_es_rebuild(ctx: Context) -> tuple[int, float]:
    def compute() -> tuple[int, float]:
        data = dataset(ctx)
        count = min(data.events, ES_EVENTS_QUICK if ctx.config.quick else ES_EVENTS)
        url = ctx.fresh_database("esproj")
        database = DB_PREFIX + "esproj"
        asyncio.run(admin(f'ALTER DATABASE "{database}" SET synchronous_commit = off'))
        es_projection.create_app_table(database)
        asyncio.run(load_es_rows(url, es_projection.events_table(), read_rows(data.url, count)))
        return count, es_projection.run(database, count)

    return ctx.once("rebuild.es", compute)


def scenario_rebuild(ctx: Context) -> list[Row]:
    ours = measure_rebuild(ctx)["rebuild"][0]
    es_count, es_seconds = measure_es_rebuild(ctx)
    return [
        ratio_row(
            f"6 projection rebuild, {ours['events']:,.0f} events",
            "events/s",
            "ev/s",
            ours["events"] / ours["seconds"],
            es_count / es_seconds,
            "eventsourcing ProjectionRunner, same projection",
            better="higher",
            min_ratio=25,
            notes=f"rebuild took {ours['seconds']:.1f} s"
            f" ({ours.get('processes', 1):.0f} replay processes); the library's runner "
            f"{es_seconds:.1f} s for the first {es_count:,} events (one transaction per event)",
        )
    ]


def memory_row(ctx: Context) -> Row:
    m = measure_rebuild(ctx)
    return ratio_row(
        "9 memory: rebuild",
        "peak RSS",
        "MB",
        m["rebuild"][1],
        m["idle"][1],
        "same interpreter, modules imported, idle",
        better="lower",
        limit=MEMORY_LIMIT_MB,
        notes="ratio = idle / peak",
    )


async def _inspect(url: str, runs: int) -> dict[str, Any]:
    """Median seconds of ``ReadModels.inspection`` and of the plain read of its findings."""
    import asyncpg

    from ledger.domain.context import SHANGHAI
    from ledger.domain.context import Context as DomainContext
    from ledger.projections import open_read_models

    read_models = await open_read_models(url, DomainContext())
    conn = await asyncpg.connect(url)
    try:
        unit = await conn.fetchval(
            "SELECT receiving_unit FROM proj_cases GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        last = await conn.fetchval("SELECT max(received_at) FROM proj_cases")
        period_to = last.astimezone(SHANGHAI).date()
        period_from = period_to - timedelta(days=364)
        start = datetime.combine(period_from, datetime.min.time(), SHANGHAI)
        end = datetime.combine(period_to + timedelta(days=1), datetime.min.time(), SHANGHAI)
        cases = await conn.fetchval(
            "SELECT count(*) FROM proj_cases WHERE receiving_unit = $1"
            " AND received_at >= $2 AND received_at < $3",
            unit,
            start,
            end,
        )

        async def report() -> Any:
            return await read_models.inspection(period_from, period_to, unit)

        async def plain() -> Any:
            return await conn.fetch(
                "SELECT case_id, check_id, charged_staff, charged_unit, charged_name, proof,"
                " provisional FROM proj_findings WHERE charged_unit = $1"
                " AND received_at >= $2 AND received_at < $3",
                unit,
                start,
                end,
            )

        findings = len(await plain())
        await report()
        ours: list[float] = []
        base: list[float] = []
        for _ in range(runs):
            t0 = time.perf_counter()
            await report()
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await plain()
            base.append(time.perf_counter() - t0)
    finally:
        await conn.close()
        await read_models.close()
    return {
        "ours": median(ours),
        "plain": median(base),
        "unit": unit,
        "cases": cases,
        "findings": findings,
        "period": f"{period_from}..{period_to}",
    }


def measure_inspection(ctx: Context) -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        measure_rebuild(ctx)  # the read models must be built
        return asyncio.run(_inspect(dataset(ctx).url, 5 if ctx.config.quick else 15))

    return ctx.once("inspection", compute)


def scenario_inspection(ctx: Context) -> list[Row]:
    m = measure_inspection(ctx)
    data = dataset(ctx)
    return [
        ratio_row(
            f"8 inspection, {data.cases:,} cases / {data.events:,} events",
            "one unit, one year",
            "ms",
            m["ours"] * 1000,
            m["plain"] * 1000,
            "plain SELECT of the same findings rows",
            better="lower",
            limit=500,
            notes=f"unit {m['unit']}, {m['period']}: {m['cases']:,} cases received, "
            f"{m['findings']:,} finding rows; median of runs; ratio = plain read / report",
        )
    ]


async def _statistics(url: str, runs: int) -> dict[str, Any]:
    """Median seconds of ``ReadModels.statistics`` (all units, one year) and of a plain count
    of the same facts per unit and kind."""
    import asyncpg

    from ledger.domain.context import SHANGHAI
    from ledger.domain.context import Context as DomainContext
    from ledger.projections import open_read_models

    read_models = await open_read_models(url, DomainContext())
    conn = await asyncpg.connect(url)
    try:
        last = await conn.fetchval("SELECT max(received_at) FROM proj_cases")
        period_to = last.astimezone(SHANGHAI).date()
        period_from = period_to - timedelta(days=364)
        facts = await conn.fetchval(
            "SELECT count(*) FROM proj_unit_facts WHERE day >= $1 AND day <= $2",
            period_from,
            period_to,
        )

        # The same report as the log stood 30 days before its end: the totals less what
        # was recorded since (a month of facts read), for the notes.
        recorded = await conn.fetchval("SELECT max(recorded_at) FROM ledger_events")
        month_ago = recorded - timedelta(days=30)

        async def report() -> Any:
            return await read_models.statistics(period_from, period_to)

        async def past() -> Any:
            return await read_models.statistics(period_from, period_to, month_ago)

        async def plain() -> Any:
            return await conn.fetch(
                "SELECT unit, kind, count(*) FROM proj_unit_facts"
                " WHERE day >= $1 AND day <= $2 GROUP BY unit, kind",
                period_from,
                period_to,
            )

        await report()
        await past()
        ours: list[float] = []
        base: list[float] = []
        earlier: list[float] = []
        for _ in range(runs):
            t0 = time.perf_counter()
            await report()
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await plain()
            base.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await past()
            earlier.append(time.perf_counter() - t0)
    finally:
        await conn.close()
        await read_models.close()
    return {
        "ours": median(ours),
        "plain": median(base),
        "month_ago": median(earlier),
        "facts": facts,
        "period": f"{period_from}..{period_to}",
    }


def measure_statistics(ctx: Context) -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        measure_rebuild(ctx)  # the read models must be built
        return asyncio.run(_statistics(dataset(ctx).url, 5 if ctx.config.quick else 15))

    return ctx.once("statistics", compute)


def scenario_statistics(ctx: Context) -> list[Row]:
    m = measure_statistics(ctx)
    data = dataset(ctx)
    return [
        ratio_row(
            f"10 statistics, {data.cases:,} cases / {data.events:,} events",
            "all units, one year",
            "ms",
            m["ours"] * 1000,
            m["plain"] * 1000,
            "plain count of the period's facts per unit and kind",
            better="lower",
            limit=300,
            notes=f"{m['period']}: {m['facts']:,} facts; per unit and department, monthly "
            "series with month-end stocks; median of runs; ratio = plain count / report; "
            f"the same report as of 30 days before the log's end {m['month_ago'] * 1000:.0f} ms",
        )
    ]
