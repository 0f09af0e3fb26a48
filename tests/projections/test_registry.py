"""Any registered projection is built, kept current and rebuilt by the generic runner: a read
model is one module plus one registration line (``tests.projections.topic_counts`` here)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Mapping

from ledger.projections import ProjectionRunner, open_read_models
from ledger.projections.projection import Write
from ledger.projections.registry import PROJECTIONS
from ledger.store.port import RecordedEvent
from tests.projections.dbsupport import Ledger, dump, ledger
from tests.projections.topic_counts import COUNTS, TopicCounts
from tests.projections.workload import Workload

WITH_COUNTS = (*PROJECTIONS, TopicCounts())


class TopicCountsV2(TopicCounts):
    version = 2  # an upgraded projection: its stored rows are rebuilt


async def counts(it: Ledger) -> dict[str, int]:
    rows = await it.read_models.db.fetch("SELECT topic, events FROM test_topic_counts")
    return {str(topic): int(events) for topic, events in rows}


def logged(records: list[RecordedEvent]) -> dict[str, int]:
    return dict(Counter(r.topic for r in records))


async def test_a_registered_projection_is_built_and_kept_current(database_url: str) -> None:
    async with ledger(database_url, projections=WITH_COUNTS) as it:
        await Workload(it.desk, random.Random(7)).run(30)
        runner = it.read_models.runner(poll_interval=0.05, settle=0.0)
        await runner.prepare()  # nothing tracked yet: every projection is built from position 1
        assert runner.position == await it.store.head()
        assert await counts(it) == logged(await it.desk.records())

        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            await Workload(it.desk, random.Random(8)).run(10)
            head = await it.store.head()
            assert await it.read_models.wait_for(head, timeout=10.0)
        finally:
            stop.set()
            await asyncio.wait_for(task, 5.0)
        assert await counts(it) == logged(await it.desk.records())
        tracked = await it.read_models.db.tracking()
        assert {name: position for name, (position, _) in tracked.items()} == {
            p.name: head for p in WITH_COUNTS
        }


async def _resets(it: Ledger) -> list[set[str]]:
    """Record the projections each reset of ``it``'s read-model database drops."""
    real, resets = it.read_models.db.reset, []

    async def reset(fingerprints: Mapping[str, str]) -> None:
        resets.append(set(fingerprints))
        await real(fingerprints)

    it.read_models.db.reset = reset  # type: ignore[method-assign]
    return resets


async def test_a_projection_registered_later_catches_up_alone(database_url: str) -> None:
    async with ledger(database_url) as it:  # the registered read models only
        await Workload(it.desk, random.Random(3)).run(30)
        runner = it.read_models.runner()
        await runner.prepare()
        await runner.catch_up()
        cases, findings, *_ = await dump(database_url)

    async with ledger(database_url, projections=WITH_COUNTS) as it:
        resets = await _resets(it)
        runner = it.read_models.runner()
        await runner.prepare()
        head = await it.store.head()
        assert runner.position == head
        assert resets == [{"topic_counts"}]  # the case views and findings were not touched
        assert await counts(it) == logged(await it.desk.records())
        assert (await dump(database_url))[:2] == (cases, findings)


async def test_a_new_version_of_a_projection_rebuilds_it_from_position_1(
    database_url: str,
) -> None:
    async with ledger(database_url, projections=WITH_COUNTS) as it:
        await Workload(it.desk, random.Random(5)).run(25)
        runner = it.read_models.runner()
        await runner.prepare()
        truth = logged(await it.desk.records())
        assert await counts(it) == truth
        # Rows the next version would compute otherwise (written without moving any position).
        wrong = [(topic, 0) for topic in truth]
        assert await it.read_models.db.commit({}, [Write(COUNTS, upsert=wrong)])
        assert set((await counts(it)).values()) == {0}
        cases, findings, *_ = await dump(database_url)
        head = await it.store.head()

        upgraded = await open_read_models(
            database_url, it.desk.service.context, it.store, (*PROJECTIONS, TopicCountsV2())
        )
        try:
            resets = await _resets(Ledger(database_url, it.store, it.desk, upgraded))
            runner = upgraded.runner()
            await runner.prepare()  # the upgraded projection rebuilds itself at start
            assert resets == [{"topic_counts"}]
            assert runner.position == head
        finally:
            await upgraded.close()
        assert await counts(it) == truth
        assert (await dump(database_url))[:2] == (cases, findings)


async def test_a_rebuild_with_a_projection_that_cannot_be_partitioned_runs_in_one_process(
    postgres_url: str,
) -> None:
    async with ledger(postgres_url, projections=WITH_COUNTS) as it:
        await Workload(it.desk, random.Random(9), payers=5).run(40)
        runner = ProjectionRunner(
            it.read_models.db,
            it.store,
            it.desk.service.context,
            workers=2,
            partition_min_events=0,
        )
        assert await runner.rebuild() == await it.store.head()
        assert runner.replay_processes == 1
        assert await counts(it) == logged(await it.desk.records())
        serial = await dump(postgres_url)

    async with ledger(postgres_url) as it:  # the registered ones alone: partitioned
        partitioned = ProjectionRunner(
            it.read_models.db,
            it.store,
            it.desk.service.context,
            workers=2,
            partition_min_events=0,
        )
        await partitioned.rebuild()
        assert partitioned.replay_processes == 2
        assert await dump(postgres_url) == serial
