"""A rebuild split over worker processes (PostgreSQL) writes exactly the serial rebuild's rows,
and a crash in the middle of one leaves read models that the next runner rebuilds."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from uuid import UUID

import asyncpg
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.projections import ProjectionRunner
from ledger.projections import events as ev
from ledger.projections.partition import partition_of
from ledger.projections.state import decode_state
from ledger.store.port import NewEvent, RecordedEvent
from tests.contract.support import new_events
from tests.projections.dbsupport import Ledger, Rows, dump, ledger, wipe
from tests.projections.support import Desk
from tests.projections.test_crash import ROOT, SCRIPT, copy, tracked
from tests.projections.workload import Workload

pytestmark = pytest.mark.slow

_logs: dict[tuple[int, int, int], list[RecordedEvent]] = {}


async def a_log(seed: int, steps: int, payers: int) -> list[RecordedEvent]:
    """A log from the real write path in which payers come back (FR7) and cases get linked."""
    key = (seed, steps, payers)
    if key not in _logs:
        desk = Desk()
        await Workload(desk, random.Random(seed), payers=payers).run(steps)
        _logs[key] = await desk.records()
    return _logs[key]


def runner(it: Ledger, workers: int, **options: int) -> ProjectionRunner:
    return ProjectionRunner(
        it.read_models.db,
        it.store,
        it.desk.service.context,
        workers=workers,
        partition_min_events=0,
        **options,
    )


async def serial_and_partitioned(
    it: Ledger, workers: int, **options: int
) -> tuple[tuple[Rows, Rows, Rows, Rows], tuple[Rows, Rows, Rows, Rows]]:
    serial = runner(it, 1)
    assert await serial.rebuild() == await it.store.head()
    expected = await dump(it.url)
    partitioned = runner(it, workers, **options)
    assert await partitioned.rebuild() == await it.store.head()
    assert partitioned.replay_processes == workers
    head = await it.store.head()
    assert await it.read_models.db.tracking() == {
        name: (head, fingerprint) for name, fingerprint in partitioned.fingerprints.items()
    }
    return expected, await dump(it.url)


def cross_partition_links(records: list[RecordedEvent], workers: int) -> int:
    payer: dict[UUID, str] = {}
    crossing = 0
    for record in records:
        event = ev.decode(record)
        if isinstance(event, ev.Registered):
            payer[record.case_id] = event.payer.identifier
        elif isinstance(event, ev.Linked):
            here = partition_of(payer[record.case_id], workers)
            crossing += here != partition_of(payer[event.case_id], workers)
    return crossing


async def test_a_partitioned_rebuild_equals_the_serial_one_row_for_row(postgres_url: str) -> None:
    records = await a_log(11, 1200, 6)
    # The log exercises what crosses cases: links between partitions and repeat trips.
    assert cross_partition_links(records, 2) >= 3
    async with ledger(postgres_url) as it:
        await copy(records, it.store)
        # Small pages, commits and caches: cases are written, evicted, reloaded and upserted.
        expected, partitioned = await serial_and_partitioned(
            it, 2, rebuild_batch_size=37, commit_every=150, cache_size=20
        )
        assert partitioned == expected
        checks = {row[2] for row in expected[1]}
        assert "FR7" in checks
        assert any(decode_state(row[-1]).links for row in expected[0])  # type: ignore[arg-type]


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**32),
    workers=st.integers(2, 3),
    page=st.integers(5, 400),
    commits=st.integers(1, 6),
)
def test_partitioned_rebuilds_equal_serial_ones(
    postgres_url: str, seed: int, workers: int, page: int, commits: int
) -> None:
    async def scenario() -> None:
        records = await a_log(seed, 400, 5)
        await wipe(postgres_url)
        async with ledger(postgres_url) as it:
            await copy(records, it.store)
            expected, partitioned = await serial_and_partitioned(
                it, workers, rebuild_batch_size=page, commit_every=page * commits, cache_size=30
            )
            assert partitioned == expected

    asyncio.run(scenario())


async def test_events_without_a_registration_fail_it_as_they_fail_a_serial_rebuild(
    postgres_url: str,
) -> None:
    records = await a_log(11, 300, 6)
    closed = next(r for r in records if r.topic == "ledger.Closed")
    async with ledger(postgres_url) as it:
        await copy(records, it.store)
        await it.store.append(UUID(int=5), 0, new_events(UUID(int=5), 0, 2))  # skipped
        partitioned = runner(it, 2)
        head = await partitioned.rebuild()
        assert await it.read_models.db.tracking() == {
            name: (head, fingerprint) for name, fingerprint in partitioned.fingerprints.items()
        }
        await it.store.append(
            UUID(int=7), 0, [NewEvent(UUID(int=7), 1, "ledger.Closed", closed.state)]
        )
        with pytest.raises(ev.ProjectionError, match="no registration"):
            await partitioned.rebuild()
        # Not tracked as built: whoever prepares next rebuilds (and fails the same way).
        tracking = await it.read_models.db.tracking()
        assert {position for position, _ in tracking.values()} == {-1}
        for name, (_, fingerprint) in tracking.items():
            assert fingerprint != partitioned.fingerprints[name]
        with pytest.raises(ev.ProjectionError, match="no registration"):
            await runner(it, 1).prepare()


async def test_a_rebuild_killed_mid_way_is_rebuilt_by_the_next_runner(postgres_url: str) -> None:
    records = await a_log(5, 1500, 40)
    async with ledger(postgres_url) as it:
        await copy(records, it.store)
        head = await it.store.head()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            postgres_url,
            "--batch",
            "10",
            "--workers",
            "2",
            "--partition-min",
            "0",
            env=env,
            cwd=ROOT,
        )
        conn = await asyncpg.connect(postgres_url)
        try:
            for _ in range(4000):  # until the workers have written rows of their own
                if await tracked(it) == -1 and await conn.fetchval(
                    "SELECT to_regclass('proj_cases') IS NOT NULL"
                    " AND EXISTS (SELECT FROM proj_cases)"
                ):
                    break
                await asyncio.sleep(0.005)
            workers = psutil.Process(process.pid).children(recursive=True)
            assert workers, "no worker processes"
            process.send_signal(signal.SIGKILL)
            await process.wait()
            # The workers die with their leader.
            _, alive = psutil.wait_procs(workers, timeout=10)
            assert not alive
            written = await conn.fetchval("SELECT count(*) FROM proj_cases")
        finally:
            await conn.close()
        tracking = await it.read_models.db.tracking()
        assert {position for position, _ in tracking.values()} == {-1}, (
            "the rebuild finished before it was killed: make the log longer"
        )
        assert written
        assert not await it.read_models.db.rebuilding_elsewhere()
        after_crash = runner(it, 2)
        for name, (_, fingerprint) in tracking.items():
            assert fingerprint != after_crash.fingerprints[name]
        await after_crash.prepare()  # finds the marker of a dead rebuild: rebuilds
        assert after_crash.position == head
        rebuilt = await dump(postgres_url)
        await runner(it, 1).rebuild()
        assert await dump(postgres_url) == rebuilt
        registered = {r.case_id for r in records if r.topic == "ledger.Registered"}
        assert len(rebuilt[0]) == len(registered)
