"""Appending and reading back: round trips, version and time travel, the log in batches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from ledger.store.chain import GENESIS
from ledger.store.port import EventStore

from .support import check_log, new_events


async def test_empty_store(store: EventStore) -> None:
    case = uuid4()
    assert await store.head() == 0
    assert await store.case_version(case) == 0
    assert await store.read_case(case) == []
    assert await store.read_log(0) == []
    assert [r async for r in store.iter_log()] == []
    assert await store.position_at(datetime.now(UTC)) == 0
    assert await store.idempotency_record(case, "k") is None


async def test_append_and_read_round_trip(store: EventStore) -> None:
    case = uuid4()
    sent = new_events(case, 0, 2, note="登记 ✓")
    before = datetime.now(UTC)
    result = await store.append(case, 0, sent)
    after = datetime.now(UTC)

    assert (result.case_id, result.version) == (case, 2)
    assert (result.first_position, result.last_position) == (1, 2)
    assert not result.replayed
    assert result.recorded_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=5) <= result.recorded_at <= after + timedelta(seconds=5)

    stored = await store.read_case(case)
    assert [(r.position, r.version) for r in stored] == [(1, 1), (2, 2)]
    for record, new in zip(stored, sent, strict=True):
        assert (record.case_id, record.topic) == (case, new.topic)
        assert (record.state, record.metadata) == (new.state, new.metadata)
        assert record.recorded_at == result.recorded_at
    assert stored[0].prev_hash == GENESIS
    assert stored[1].prev_hash == stored[0].hash
    assert list(result.records) == stored  # the append hands back exactly what it stored
    assert await store.read_log(0) == stored
    assert await store.head() == 2
    assert await store.case_version(case) == 2


async def test_appends_continue_a_case_and_interleave_with_others(store: EventStore) -> None:
    a, b = uuid4(), uuid4()
    await store.append(a, 0, new_events(a, 0, 3))
    await store.append(b, 0, new_events(b, 0))
    result = await store.append(a, 3, new_events(a, 3))
    assert (result.version, result.first_position, result.last_position) == (4, 5, 5)
    assert [(r.version, r.position) for r in await store.read_case(a)] == [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 5),
    ]
    assert [r.position for r in await store.read_case(b)] == [4]
    await check_log(store)


async def test_read_case_to_version_and_as_of(store: EventStore) -> None:
    case = uuid4()
    first = await store.append(case, 0, new_events(case, 0, 2))
    await asyncio.sleep(0.01)  # a later batch gets a later stamp (µs resolution)
    second = await store.append(case, 2, new_events(case, 2))
    assert second.recorded_at > first.recorded_at

    assert [r.version for r in await store.read_case(case, to_version=1)] == [1]
    assert [r.version for r in await store.read_case(case, to_version=9)] == [1, 2, 3]
    assert [r.version for r in await store.read_case(case, as_of=first.recorded_at)] == [1, 2]
    between = first.recorded_at + (second.recorded_at - first.recorded_at) / 2
    assert [r.version for r in await store.read_case(case, as_of=between)] == [1, 2]
    assert [r.version for r in await store.read_case(case, as_of=second.recorded_at)] == [1, 2, 3]
    earlier = first.recorded_at - timedelta(microseconds=1)
    assert await store.read_case(case, as_of=earlier) == []
    assert [r.version for r in await store.read_case(case, to_version=1, as_of=between)] == [1]

    assert await store.position_at(earlier) == 0
    assert await store.position_at(between) == 2
    assert await store.position_at(second.recorded_at) == 3
    # Any timezone names the same instant.
    shanghai = between.astimezone(timezone(timedelta(hours=8)))
    assert await store.position_at(shanghai) == 2


async def test_naive_times_are_refused(store: EventStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.read_case(uuid4(), as_of=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.position_at(datetime(2025, 1, 1))


async def test_read_log_in_batches(store: EventStore) -> None:
    cases = [uuid4() for _ in range(5)]
    for case in cases:
        await store.append(case, 0, new_events(case, 0, 5))
    assert [r.position for r in await store.read_log(0, 10)] == list(range(1, 11))
    assert [r.position for r in await store.read_log(20, 10)] == [21, 22, 23, 24, 25]
    assert await store.read_log(25) == []
    streamed = [r.position async for r in store.iter_log(after=3, batch=7)]
    assert streamed == list(range(4, 26))
    log = await check_log(store)
    assert [r.case_id for r in log[:5]] == [cases[0]] * 5


async def test_malformed_appends_are_rejected_before_queueing(store: EventStore) -> None:
    case = uuid4()
    with pytest.raises(ValueError, match="at least one"):
        await store.append(case, 0, [])
    with pytest.raises(ValueError, match="version"):
        await store.append(case, 0, new_events(case, 1))
    with pytest.raises(ValueError, match="case"):
        await store.append(case, 0, new_events(uuid4(), 0))
    with pytest.raises(ValueError, match=">= 0"):
        await store.append(case, -1, new_events(case, -1))
    assert await store.head() == 0
