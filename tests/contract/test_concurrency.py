"""Optimistic concurrency, gap-free positions and group commit, under real concurrency."""

from __future__ import annotations

import asyncio
import random
from uuid import UUID, uuid4

import pytest

from ledger.store.port import AppendResult, EventStore, StoreError, VersionConflict

from .conftest import StoreFactory
from .support import check_log, new_events


async def test_stale_version_is_refused_and_burns_nothing(store: EventStore) -> None:
    case, other = uuid4(), uuid4()
    await store.append(case, 0, new_events(case, 0))
    with pytest.raises(VersionConflict) as refused:
        await store.append(case, 0, new_events(case, 0, 3))
    assert (refused.value.case_id, refused.value.expected, refused.value.actual) == (case, 0, 1)
    assert refused.value.code == "VERSION_MISMATCH"
    with pytest.raises(VersionConflict):  # ahead of the case is refused too
        await store.append(case, 5, new_events(case, 5))
    assert await store.head() == 1
    assert await store.case_version(case) == 1

    result = await store.append(other, 0, new_events(other, 0))
    assert result.first_position == 2  # the refused appends took no positions
    await check_log(store)


async def test_one_winner_per_version_among_concurrent_appends(store: EventStore) -> None:
    case = uuid4()
    outcomes = await asyncio.gather(
        *(store.append(case, 0, new_events(case, 0, note=str(i))) for i in range(20)),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if isinstance(o, AppendResult)]
    assert len(winners) == 1
    assert all(isinstance(o, VersionConflict) for o in outcomes if o not in winners)
    assert [r.position for r in await store.read_case(case)] == [1]


async def test_positions_stay_contiguous_with_refusals_interleaved(
    make_store: StoreFactory,
) -> None:
    # Two store instances on the same database: two writers competing for the append lock.
    stores = [await make_store(), await make_store()]
    cases = [uuid4() for _ in range(12)]
    rng = random.Random(7)
    accepted = 0

    async def attempt(case: UUID, expected: int, count: int) -> AppendResult | Exception:
        store = rng.choice(stores)
        try:
            return await store.append(case, expected, new_events(case, expected, count))
        except VersionConflict as exc:
            return exc

    for _round in range(4):
        # Per case, several contenders at the case's current version, and one from the past.
        versions = {case: await stores[0].case_version(case) for case in cases}
        attempts = []
        for case in cases:
            at = versions[case]
            attempts += [attempt(case, at, rng.randint(1, 3)) for _ in range(3)]
            if at > 0:
                attempts.append(attempt(case, at - 1, 1))
        rng.shuffle(attempts)
        outcomes = await asyncio.gather(*attempts)
        wins = [o for o in outcomes if isinstance(o, AppendResult)]
        assert len(wins) == len(cases)  # exactly one winner per case per round
        accepted += sum(w.last_position - w.first_position + 1 for w in wins)

    records = await check_log(stores[1])
    assert len(records) == accepted == await stores[0].head()


async def test_concurrent_appends_are_group_committed(store: EventStore) -> None:
    appends = 200
    cases = [uuid4() for _ in range(appends)]
    results = await asyncio.gather(*(store.append(c, 0, new_events(c, 0)) for c in cases))
    batches = store.committed_batches  # type: ignore[attr-defined]
    # One transaction per append would be 200; group commit shares them. The bound leaves wide
    # room for scheduling noise on a busy 2-core machine.
    assert 1 <= batches <= appends // 4, batches
    assert sorted(r.first_position for r in results) == list(range(1, appends + 1))
    log = {r.position: r for r in await check_log(store)}
    # Each caller gets its own events back, even though they were committed together.
    for case, result in zip(cases, results, strict=True):
        assert [r.case_id for r in result.records] == [case]
        assert result.records[0] == log[result.first_position]


async def test_each_store_sees_the_others_appends(make_store: StoreFactory) -> None:
    # Two instances on one database stand for two processes: neither may trust what it last saw.
    first, second = await make_store(), await make_store()
    case = uuid4()
    await first.append(case, 0, new_events(case, 0))
    await second.append(case, 1, new_events(case, 1))
    with pytest.raises(VersionConflict):
        await first.append(case, 1, new_events(case, 1))
    result = await first.append(case, 2, new_events(case, 2))
    assert (result.version, result.first_position) == (3, 3)
    assert await second.head() == 3
    await check_log(second)


async def test_a_closed_store_refuses_appends(make_store: StoreFactory) -> None:
    store = await make_store()
    await store.close()
    case = uuid4()
    with pytest.raises(StoreError, match="not open"):
        await store.append(case, 0, new_events(case, 0))
