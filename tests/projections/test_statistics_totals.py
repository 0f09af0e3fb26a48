"""Department statistics from the totals equal the count of the facts themselves, on SQLite and
PostgreSQL: over the demo's cases and random work recorded across several months, for random
periods, positions and days asked about, while the read models follow the log batch by batch
(cases dropped from memory and read back), and after a rebuild.

The reference is the report as it was counted before totals were kept
(``tests/projections/statistics_scan.py``): every fact of the period standing at the position.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from ledger.demo import load_demo
from ledger.domain.context import SHANGHAI, Context, local_date
from ledger.projections import ProjectionRunner
from ledger.projections.db import ReadStore, open_read_store
from ledger.projections.statistics import (
    COUNTS,
    FLOWS,
    LATE,
    NO_DAYS,
    NO_DUE,
    NO_OUTCOME,
    ON_TIME,
    STOCK_MOVES,
    STOCK_NOW,
    STOCKS,
    TASK_DONE,
    FlowRow,
    LogMonths,
    StockRow,
    report,
)
from ledger.store.port import RecordedEvent
from tests.projections.statistics_scan import scan
from tests.projections.support import Desk, MemoryStore
from tests.projections.workload import Workload

CONTEXT = Context()
START = datetime(2026, 5, 25, 9, 0, tzinfo=SHANGHAI)
TODAY = datetime(2026, 6, 1, 10, 0, tzinfo=SHANGHAI)  # the demo's and the work's business time


async def recorded_over_months(seed: int) -> MemoryStore:
    """The demo's cases, then random work, recorded from late May over several months."""
    rng = random.Random(seed)
    desk = Desk().at(TODAY)
    store = desk.store
    assert isinstance(store, MemoryStore)
    moment = [START]

    def clock() -> datetime:  # each append a little later: hours to two days
        moment[0] += timedelta(hours=rng.choice((1, 3, 9, 26, 49)))
        return moment[0]

    store.clock = clock
    await load_demo(desk.service, cases=24, seed=seed)
    await Workload(desk, rng, payers=3).run(120)
    return store


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _value(column: str, value: Any) -> Any:
    if column in ("day", "due"):
        return _date(value)
    return int(value) if column in ("n", "month", "position", "days") else value


async def rows(db: ReadStore, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    found = await db.fetch(f"SELECT {', '.join(columns)} FROM {table}")
    return sorted(tuple(_value(c, v) for c, v in zip(columns, row, strict=True)) for row in found)


async def facts_added_up(db: ReadStore) -> dict[str, list[tuple[Any, ...]]]:
    """What the totals must hold, added up from the facts (and the log's months)."""
    facts = await db.fetch(
        "SELECT kind, unit, outcome, day, days, due, position, until_position FROM proj_unit_facts"
    )
    months = await LogMonths.read(db)
    counts: dict[tuple[Any, ...], int] = {}
    stocks: dict[tuple[Any, ...], int] = {}
    moves: dict[tuple[Any, ...], int] = {}

    def add(into: dict[tuple[Any, ...], int], key: tuple[Any, ...], n: int) -> None:
        into[key] = into.get(key, 0) + n

    for kind, unit, outcome, day, days, due, position, until in facts:
        due = NO_DUE if due is None else _date(due)
        if kind in STOCKS:
            if until is not None and until <= position:
                continue
            add(moves, (months.month_of(position), unit, kind, due), 1)
            if until is None:
                add(stocks, (unit, kind, due), 1)
            else:
                add(moves, (months.month_of(until), unit, kind, due), -1)
        elif until is None:
            assert kind in FLOWS
            key = (
                unit,
                kind,
                NO_OUTCOME if outcome is None else outcome,
                _date(day),
                NO_DAYS if days is None else days,
            )
            add(counts, key, 1)

    def listed(added: dict[tuple[Any, ...], int]) -> list[tuple[Any, ...]]:
        return sorted((*key, n) for key, n in added.items() if n)

    return {"counts": listed(counts), "stocks": listed(stocks), "moves": listed(moves)}


async def totals_of(db: ReadStore) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "counts": await rows(db, COUNTS.name, COUNTS.names),
        "stocks": await rows(db, STOCK_NOW.name, STOCK_NOW.names),
        "moves": await rows(db, STOCK_MOVES.name, STOCK_MOVES.names),
    }


async def check_totals(db: ReadStore, log: list[RecordedEvent], position: int) -> None:
    """The totals are the facts added up, and the log's months are the log's."""
    assert await totals_of(db) == await facts_added_up(db)
    firsts: dict[int, int] = {}
    for record in log[:position]:
        local = record.recorded_at.astimezone(SHANGHAI)
        firsts.setdefault(local.year * 100 + local.month, record.position)
    months = await LogMonths.read(db)
    assert months.firsts == firsts


async def check_reports(
    db: ReadStore, store: MemoryStore, position: int, rng: random.Random, queries: int
) -> None:
    """Random reports at positions up to ``position``: the totals' answer is the facts'."""
    log = store.log
    first_day = local_date(log[0].recorded_at) - timedelta(days=70)
    last_day = local_date(log[-1].recorded_at) + timedelta(days=20)
    span = (last_day - first_day).days
    for _ in range(queries):
        at = rng.choice((position, position, rng.randint(0, position)))
        period_from = first_day + timedelta(days=rng.randint(0, span))
        period_to = period_from + timedelta(days=rng.choice((0, 6, 30, 45, 100, 400)))
        if at and rng.random() < 0.7:  # the moment the position was recorded
            moment = log[at - 1].recorded_at + timedelta(seconds=1)
        else:  # or any day (a forecast, or a moment before the position)
            moment = datetime.combine(
                first_day + timedelta(days=rng.randint(0, span)), datetime.min.time(), SHANGHAI
            )
        async with db.snapshot() as reader:
            ours = await report(reader, CONTEXT, period_from, period_to, moment, at)
            reference = await report(reader, CONTEXT, period_from, period_to, moment, at, scan)
        assert ours == reference, (period_from, period_to, moment, at)


async def test_month_ends_are_the_positions_recorded_by_then() -> None:
    store = await recorded_over_months(7)
    months = LogMonths()
    months.see([(record, False) for record in store.log])
    assert len(months.firsts) >= 3
    for month in sorted(months.firsts)[:-1]:
        year, number = divmod(month, 100)
        start = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=SHANGHAI)
        assert months.last_of(month) == await store.position_at(start - timedelta(microseconds=1))


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_totals_answer_as_the_facts_do(database_url: str, seed: int) -> None:
    store = await recorded_over_months(seed)
    rng = random.Random(seed)
    head = len(store.log)
    db = open_read_store(database_url)
    await db.open()
    try:
        # The read models follow the log in batches of a few events, committing each, with
        # room for only a few cases in memory: most changes are to cases read back.
        follow = ProjectionRunner(db, store, CONTEXT, cache_size=3, workers=1)
        head_then = store.log[:]
        store.log = []
        await follow.prepare()  # an empty ledger: empty read models
        store.log = head_then
        while follow.position < head:
            await follow.step(rng.choice((1, 2, 5, 17, 40)))
            if rng.random() < 0.1 or follow.position == head:
                await check_totals(db, store.log, follow.position)
                await check_reports(db, store, follow.position, rng, 6)
        followed = await totals_of(db)
        await check_reports(db, store, head, rng, 40)

        # Rebuilt from scratch, committing every few pages.
        rebuilt = ProjectionRunner(db, store, CONTEXT, rebuild_batch_size=37, commit_every=80)
        await rebuilt.rebuild()
        assert await totals_of(db) == followed
        await check_totals(db, store.log, head)
        await check_reports(db, store, head, rng, 10)
    finally:
        await db.close()


async def test_tasks_done_count_as_done_and_done_on_time(sqlite_url: str) -> None:
    """The measures of ``task_done`` facts (once case states carry tasks: ``task_facts``)."""

    async def counted(*_: object) -> tuple[list[FlowRow], list[StockRow]]:
        return [
            ("hrss.window", TASK_DONE, ON_TIME, "2026-05", None, 3),
            ("hrss.window", TASK_DONE, LATE, "2026-06", None, 2),
        ], []

    db = open_read_store(sqlite_url)
    await db.open()
    try:
        async with db.snapshot() as reader:
            moment = datetime(2026, 7, 1, tzinfo=SHANGHAI)
            found = await report(
                reader, CONTEXT, date(2026, 5, 1), date(2026, 6, 30), moment, 0, counted
            )
    finally:
        await db.close()
    (unit,) = [u for u in found.units if u.unit == "hrss.window"]
    assert (unit.tasks_done, unit.tasks_done_on_time) == (5, 3)
    assert [(m.tasks_done, m.tasks_done_on_time) for m in unit.months] == [(3, 3), (2, 0)]
    (department,) = [d for d in found.departments if d.department == "hrss"]
    assert (department.tasks_done, department.tasks_done_on_time) == (5, 3)
