"""Scenarios 4 and 5: rebuilding one long case, in full and as of a version.

The case: 1,000 events made by the real write path (register, classify, then cycles of urge ×2,
consult, decide, feedback, close, reopen — a long-running, repeatedly reopened dispute), appended
through ``PostgresStore`` and, as the very same domain events, saved through the eventsourcing
``Application`` into its own table in the same database. The store append bypasses the service,
so the snapshots its write path keeps every 100 events are then written the service's way,
``LedgerService.snapshot(case_id)`` (fold the stored events, keep the state after every 100th);
the eventsourcing side has none (plain ``repository.get``, as the scenario is defined).

4. ours: ``LedgerService.replay`` (all 1,000 records with their hashes, and the state: the newest
   snapshot, read concurrently and checked against the records, plus the events after it)
   vs ``Application.repository.get(case_id)`` (the state only).
5. ours: ``LedgerService.load(case_id, to_version=500)`` (the newest snapshot at or below 500,
   bound to the log, plus the events after it)
   vs ``repository.get(case_id, version=500)``.

Each side is run a few times to warm up, then timed repeatedly; the median is reported (and
both sides run interleaved, so a noisy moment hits both).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from bench import es_baseline
from bench.data import CaptureStore, capture_service
from bench.framework import DB_PREFIX, SNAPSHOT_KEY, Row, median, ratio_row
from bench.framework import Context as RunContext
from ledger import demo
from ledger.domain.context import Context
from ledger.service import LedgerService
from ledger.store import open_store
from ledger.store.codec import default_mapper
from ledger.store.port import NewEvent

CASE_EVENTS = 1000
AS_OF = 500


async def long_case(events: int = CASE_EVENTS) -> list[NewEvent]:
    """One case of exactly ``events`` events, through the real service and rules (captured)."""
    store = CaptureStore()
    await demo.long_case(capture_service(store, Context()), events)
    return [e for _, _, batch in store.commands for e in batch]


async def _load(
    url: str, database: str, events: list[NewEvent]
) -> tuple[UUID, es_baseline.BenchApp]:
    store = open_store(url)
    await store.open()
    try:
        case_id = events[0].case_id
        by_version = {e.version: e for e in events}
        # Appended a command at a time as it happened (group commit is irrelevant here).
        version = 0
        while version < len(events):
            batch = [by_version[version + 1]]
            result = await store.append(case_id, version, batch)
            version = result.version
        # The snapshots the service's write path would have kept on the way.
        service = LedgerService(store, snapshot_key=SNAPSHOT_KEY)
        if await service.snapshot(case_id) != len(events) // service.snapshot_every:
            raise RuntimeError("the long case's snapshots were not all kept")
    finally:
        await store.close()
    app = es_baseline.open_app(database)
    mapper = default_mapper()
    domain_events = [
        mapper.to_domain_event(
            StoredEvent(
                originator_id=e.case_id,
                originator_version=e.version,
                topic=e.topic,
                state=e.state,
            )
        )
        for e in events
    ]
    for start in range(0, len(domain_events), 100):
        app.save(*domain_events[start : start + 100])
    return case_id, app


async def _timed(fn: Callable[[], Awaitable[Any]]) -> float:
    t = time.perf_counter()
    await fn()
    return time.perf_counter() - t


async def _compare(
    ours: Callable[[], Awaitable[Any]], theirs: Callable[[], Any], runs: int
) -> tuple[float, float]:
    """Median seconds of each, interleaved, after warming both up."""

    async def theirs_async() -> Any:
        return theirs()

    for _ in range(3):
        await ours()
        theirs()
    a: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        a.append(await _timed(ours))
        b.append(await _timed(theirs_async))
    return median(a), median(b)


def measure(ctx: RunContext) -> dict[str, tuple[float, float]]:
    def compute() -> dict[str, tuple[float, float]]:
        url = ctx.fresh_database("replay")
        runs = 7 if ctx.config.quick else 25

        async def run() -> dict[str, tuple[float, float]]:
            events = await long_case()
            case_id, app = await _load(url, DB_PREFIX + "replay", events)
            store = open_store(url)
            await store.open()
            try:
                service = LedgerService(store, snapshot_key=SNAPSHOT_KEY)

                async def full() -> Any:
                    return await service.replay(case_id)

                async def as_of() -> Any:
                    return await service.load(case_id, to_version=AS_OF)

                check = await service.load(case_id)
                if (
                    check.version != CASE_EVENTS
                    or app.repository.get(case_id).version != CASE_EVENTS
                ):
                    raise RuntimeError("the long case was not stored whole on both sides")
                # The snapshots give the state folding every event gives, on both reads.
                records, state = await service.replay(case_id)
                at = await service.load(case_id, to_version=AS_OF)
                if (
                    len(records) != CASE_EVENTS
                    or vars(state) != vars(service.fold(records))
                    or vars(at) != vars(service.fold(records[:AS_OF]))
                ):
                    raise RuntimeError("a snapshot read differs from folding the events")
                return {
                    "full": await _compare(full, lambda: app.repository.get(case_id), runs),
                    "as_of": await _compare(
                        as_of, lambda: app.repository.get(case_id, version=AS_OF), runs
                    ),
                }
            finally:
                await store.close()
                app.close()

        return asyncio.run(run())

    return ctx.once("replay", compute)


def scenario_replay(ctx: RunContext) -> list[Row]:
    ours, theirs = measure(ctx)["full"]
    return [
        ratio_row(
            f"4 replay a {CASE_EVENTS:,}-event case",
            "history + state",
            "ms",
            ours * 1000,
            theirs * 1000,
            "eventsourcing repository.get",
            better="lower",
            min_ratio=5,
            notes=(
                "median of interleaved runs; ours returns the 1,000 records too; ours from "
                "snapshots (every 100 events), eventsourcing without (plain repository.get)"
            ),
        )
    ]


def scenario_asof(ctx: RunContext) -> list[Row]:
    ours, theirs = measure(ctx)["as_of"]
    return [
        ratio_row(
            f"5 as-of version {AS_OF}",
            "state at a version",
            "ms",
            ours * 1000,
            theirs * 1000,
            "eventsourcing repository.get(version=500)",
            better="lower",
            min_ratio=5,
            notes="ours from the snapshot at 500 (every 100 events); eventsourcing without",
        )
    ]
