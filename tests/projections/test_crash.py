"""A runner killed with SIGKILL mid-batch and restarted loses nothing and applies nothing twice."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import defaultdict
from pathlib import Path
from uuid import UUID

import pytest

from ledger.store.port import EventStore, NewEvent, RecordedEvent
from tests.projections.dbsupport import Ledger, dump, ledger
from tests.projections.support import Desk
from tests.projections.workload import Workload

SCRIPT = Path(__file__).with_name("crash_runner.py")
ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.slow


async def a_long_log(steps: int) -> list[RecordedEvent]:
    desk = Desk()
    await Workload(desk, random.Random(5), payers=40).run(steps)
    return await desk.records()


async def copy(records: list[RecordedEvent], store: EventStore) -> None:
    """Append the log case by case in waves of concurrent appends (group-committed): the n-th
    event of every case in wave n, so a link never precedes the registration it points to."""
    cases: dict[UUID, list[RecordedEvent]] = defaultdict(list)
    for record in records:
        cases[record.case_id].append(record)
    for wave in range(max(len(events) for events in cases.values())):
        await asyncio.gather(
            *(
                store.append(
                    case_id,
                    wave,
                    [NewEvent(case_id, r.version, r.topic, r.state, r.metadata)],
                )
                for case_id, events in cases.items()
                for r in events[wave : wave + 1]
            )
        )


async def tracked(it: Ledger) -> int:
    tracking = await it.read_models.db.tracking()
    return min((position for position, _ in tracking.values()), default=0)


async def test_a_killed_runner_resumes_without_duplicates_or_gaps(database_url: str) -> None:
    records = await a_long_log(1500)
    async with ledger(database_url) as it:
        await copy(records, it.store)
        head = await it.store.head()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        kills = 0
        for _ in range(3):
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(SCRIPT), database_url, "--batch", "25", env=env, cwd=ROOT
            )
            start = await tracked(it)
            for _ in range(2000):  # until it has committed a batch of its own
                if await tracked(it) > start:
                    break
                await asyncio.sleep(0.005)
            await asyncio.sleep(random.uniform(0.0, 0.05))
            process.send_signal(signal.SIGKILL)
            await process.wait()
            kills += await tracked(it) < head
        assert kills, "the runner always finished before it was killed: make the log longer"
        runner = it.read_models.runner(batch_size=25)
        await runner.prepare()
        assert await runner.catch_up() == head
        resumed = await dump(database_url)
        await runner.rebuild()
        assert await dump(database_url) == resumed
        registered = {r.case_id for r in records if r.topic == "ledger.Registered"}
        assert len(resumed[0]) == len(registered)
