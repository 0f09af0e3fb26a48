"""The runner on both databases: incremental equals rebuilt, exactly once, woken by new events."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import commands as c
from ledger.domain.codes import Classification
from ledger.domain.context import Context
from ledger.domain.policy import DeadlinePolicy
from ledger.projections import ProjectionRunner
from ledger.projections.caseview import case_view
from ledger.projections.projection import Write
from ledger.projections.registry import PROJECTIONS
from ledger.projections.runner import settle_pause
from ledger.projections.views import CaseFilters
from tests.contract.support import new_events
from tests.domain.cases import FIRST_RESPONDER, OFFICE
from tests.projections.dbsupport import dump, ledger, wipe
from tests.projections.support import fold
from tests.projections.workload import Workload


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32), steps=st.integers(20, 70), every=st.integers(1, 15))
def test_incremental_read_models_equal_a_rebuild_row_for_row(
    database_url: str, seed: int, steps: int, every: int
) -> None:
    async def scenario() -> None:
        await wipe(database_url)
        async with ledger(database_url) as it:
            runner = it.read_models.runner(batch_size=7)  # batches end mid-case, mid-transfer
            await runner.prepare()
            count = 0

            async def now_and_then() -> None:
                nonlocal count
                count += 1
                if count % every == 0:
                    await runner.catch_up()

            await Workload(it.desk, random.Random(seed)).run(steps, now_and_then)
            await runner.catch_up()
            incremental = await dump(database_url)
            await runner.rebuild()
            assert await dump(database_url) == incremental
            head = await it.store.head()
            assert incremental[2] == sorted((p.name, head) for p in PROJECTIONS)
            # And both equal the pure fold of the whole log, case by case.
            memory = fold(await it.desk.records(), it.desk.service.context)
            for state in memory.states.values():
                assert await it.read_models.case_view(state.case_id) == case_view(
                    state, it.read_models.clock()
                )

    asyncio.run(scenario())


async def test_two_runners_on_one_database_apply_each_event_once(database_url: str) -> None:
    async with ledger(database_url) as it:
        first = it.read_models.runner(batch_size=5)
        second = ProjectionRunner(
            it.read_models.db, it.store, it.desk.service.context, batch_size=3
        )
        await first.prepare()
        await second.prepare()
        workload = Workload(it.desk, random.Random(7))
        first.rebuild_batch_size = first.commit_every = 4  # bulk replays, commits every page
        for round_ in range(6):
            await workload.run(10)
            bulk = first.replay() if round_ % 2 else first.catch_up()
            await asyncio.gather(bulk, second.catch_up())
        together = await dump(database_url)
        await first.rebuild()
        assert await dump(database_url) == together


async def test_the_runner_wakes_on_new_events_and_wait_for_reads_your_writes(
    database_url: str,
) -> None:
    async with ledger(database_url) as it:
        # On PostgreSQL the store's NOTIFY must wake the runner: polling alone would take 30 s.
        poll = 0.05 if database_url.startswith("sqlite") else 30.0
        runner = it.read_models.runner(poll_interval=poll)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            await asyncio.sleep(0.2)  # let it settle into waiting
            case = await it.desk.register(FIRST_RESPONDER)
            result = await it.desk.do(
                case,
                FIRST_RESPONDER,
                c.Classify(classification=Classification.GENERAL, route=2, reason="分类"),
            )
            assert await it.read_models.wait_for(result.last_position, timeout=5.0)
            view = await it.read_models.case_view(case)
            assert view is not None
            assert view.classification is Classification.GENERAL
        finally:
            stop.set()
            await asyncio.wait_for(task, 5.0)


def test_batches_start_settle_seconds_apart_and_a_quiet_spell_costs_no_wait() -> None:
    assert settle_pause(last_start=10.0, now=10.0, settle=0.1) == pytest.approx(0.1)
    assert settle_pause(last_start=10.0, now=10.04, settle=0.1) == pytest.approx(0.06)
    assert settle_pause(last_start=10.0, now=10.1, settle=0.1) == 0.0
    assert settle_pause(last_start=10.0, now=99.0, settle=0.1) == 0.0
    assert settle_pause(last_start=10.0, now=9.0, settle=0.1) == pytest.approx(0.1)  # clock skew
    assert settle_pause(last_start=10.0, now=10.0, settle=0.0) == 0.0


async def test_a_stream_of_commits_is_applied_in_few_batches(database_url: str) -> None:
    async with ledger(database_url) as it:
        settle = 0.3
        runner = it.read_models.runner(poll_interval=0.05, settle=settle)
        real_commit, batches = it.read_models.db.commit, []

        async def counted(*args: object, **kwargs: object) -> bool:
            batches.append(args)
            return await real_commit(*args, **kwargs)  # type: ignore[arg-type]

        it.read_models.db.commit = counted  # type: ignore[method-assign]
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            await asyncio.sleep(0.2)  # caught up, waiting for news
            loop = asyncio.get_running_loop()
            started, writes = loop.time(), 24
            for _ in range(writes):  # each its own commit, each announced
                await it.desk.register(FIRST_RESPONDER)
            elapsed = loop.time() - started
            assert await it.read_models.wait_for(await it.store.head(), timeout=10.0)
        finally:
            stop.set()
            await asyncio.wait_for(task, 5.0)
        # One batch at once for the first commit, then one per settle interval at most.
        assert len(batches) <= 2 + elapsed / settle
        assert len(batches) < writes
        page = await it.read_models.list_cases(CaseFilters(), limit=100)
        assert len(page.items) == writes


async def test_findings_are_rewritten_only_when_they_change(database_url: str) -> None:
    async with ledger(database_url) as it:
        await Workload(it.desk, random.Random(11)).run(25)
        runner = it.read_models.runner()
        await runner.prepare()
        await runner.catch_up()
        real_commit = it.read_models.db.commit
        rewritten_by_commit: list[set[UUID]] = []

        async def recorded(moves: Any, writes: Sequence[Write]) -> bool:
            # The cases whose findings the commit deletes or writes.
            rewritten_by_commit.append(
                {
                    case_id
                    for w in writes
                    if w.table.name == "proj_findings"
                    for case_id in [*w.delete, *(row[0] for row in w.insert)]
                }
            )
            return await real_commit(moves, writes)

        it.read_models.db.commit = recorded  # type: ignore[method-assign]
        case = await it.desk.register(FIRST_RESPONDER)
        await runner.catch_up()
        assert rewritten_by_commit[-1] == {case}  # new: its findings are written
        # A reminder changes no finding of the case: the stored ones stay, untouched.
        await it.desk.do(case, OFFICE, c.Urge(reason="请加快办理"))
        await runner.catch_up()
        assert rewritten_by_commit[-1] == set()
        # Classifying does (the classification duty is met): rewritten.
        await it.desk.do(
            case,
            FIRST_RESPONDER,
            c.Classify(classification=Classification.GENERAL, route=2, reason="分类"),
        )
        await runner.catch_up()
        assert rewritten_by_commit[-1] == {case}
        # A runner that forgot (another runner moved on, a restart) rewrites everything.
        runner._forget()
        await it.desk.do(case, OFFICE, c.Urge(reason="再次催办"))
        await runner.catch_up()
        assert rewritten_by_commit[-1] == {case}
        incremental = await dump(database_url)
        await runner.rebuild()
        assert await dump(database_url) == incremental


async def test_read_models_from_other_settings_are_rebuilt(database_url: str) -> None:
    async with ledger(database_url) as it:
        await Workload(it.desk, random.Random(3)).run(30)
        await it.read_models.runner().rebuild()
        stricter = Context(policy=DeadlinePolicy(classification_days=0))
        runner = ProjectionRunner(it.read_models.db, it.store, stricter)
        await runner.prepare()  # a different policy: the stored findings are stale
        assert runner.position == await it.store.head()
        tracked = await it.read_models.db.tracking()
        assert {name: fingerprint for name, (_, fingerprint) in tracked.items()} == (
            runner.fingerprints
        )


async def test_wait_for_without_a_runner_in_this_process_polls_and_times_out(
    database_url: str,
) -> None:
    async with ledger(database_url) as it:
        await it.desk.register(FIRST_RESPONDER)
        assert not await it.read_models.wait_for(1, timeout=0.1)
        page = await it.read_models.list_cases(CaseFilters())
        assert page.items == []


@pytest.mark.parametrize("batch", [1, 1000])
async def test_unknown_topics_are_tracked_but_change_nothing(sqlite_url: str, batch: int) -> None:
    async with ledger(sqlite_url) as it:
        case = await it.desk.register(FIRST_RESPONDER)
        await it.store.append(UUID(int=1), 0, new_events(UUID(int=1), 0, 3))
        runner = it.read_models.runner(batch_size=batch)
        await runner.prepare()
        assert await runner.catch_up() == 4
        assert [v.case_id for v in (await it.read_models.list_cases()).items] == [case]


async def test_a_failed_batch_is_retried_and_nothing_is_lost(sqlite_url: str) -> None:
    async with ledger(sqlite_url) as it:
        await Workload(it.desk, random.Random(9)).run(40)
        runner = it.read_models.runner(poll_interval=0.05)
        real_commit, failures = it.read_models.db.commit, [1]

        async def flaky(*args: object, **kwargs: object) -> bool:
            if failures:
                failures.pop()
                raise OSError("the database went away")
            return await real_commit(*args, **kwargs)  # type: ignore[arg-type]

        it.read_models.db.commit = flaky  # type: ignore[method-assign]
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            assert await it.read_models.wait_for(await it.store.head(), timeout=10.0)
        finally:
            stop.set()
            await asyncio.wait_for(task, 5.0)
        assert not failures
        caught_up = await dump(sqlite_url)
        await runner.rebuild()
        assert await dump(sqlite_url) == caught_up


async def test_a_stored_time_with_no_utc_equivalent_does_not_stop_the_runner(
    database_url: str,
) -> None:
    """Such a time (year 1 at +14:00) could be stored before commands were held to
    ``guards.EARLIEST``: the fold takes the nearest UTC time and the runner goes on."""
    async with ledger(database_url) as it:
        good = await it.desk.register(FIRST_RESPONDER)
        registered = (await it.store.read_case(good))[0]
        state = msgspec.json.decode(registered.state)
        state["received_at"] = "0001-01-01T00:00:00+14:00"
        legacy = UUID(int=7)
        event = msgspec.structs.replace(
            new_events(legacy, 0)[0], topic=registered.topic, state=msgspec.json.encode(state)
        )
        await it.store.append(legacy, 0, [event])
        after = await it.desk.register(FIRST_RESPONDER)
        runner = it.read_models.runner()
        await runner.prepare()
        assert await runner.catch_up() == await it.store.head()
        view = await it.read_models.case_view(legacy)
        assert view is not None
        assert view.received_at == datetime.min.replace(tzinfo=UTC)
        assert await it.read_models.case_view(after) is not None  # the log went on past it
