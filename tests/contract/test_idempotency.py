"""Idempotency keys: a retry returns the original result; a reused key is refused."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import msgspec
import pytest

from ledger.store.port import (
    EventStore,
    Idempotency,
    IdempotencyKeyReused,
    IdempotencyRecord,
    VersionConflict,
)

from .support import check_log, new_events


async def test_retry_with_same_fingerprint_returns_original(store: EventStore) -> None:
    case = uuid4()
    key = Idempotency("req-1", "fp-a")
    original = await store.append(case, 0, new_events(case, 0, 2), key)
    assert not original.replayed

    # The retry carries the version it was made at (now stale): the key answers first.
    retry = await store.append(case, 0, new_events(case, 0, 2), key)
    # A replay answers with the original summary; the events are not stored with the key.
    assert len(original.records) == 2
    summary = msgspec.structs.replace(original, records=())
    assert retry == msgspec.structs.replace(summary, replayed=True)
    assert await store.head() == 2
    assert list(original.records) == await store.read_case(case)
    assert await store.idempotency_record(case, "req-1") == IdempotencyRecord("fp-a", summary)


async def test_reused_key_with_other_fingerprint_is_refused(store: EventStore) -> None:
    case = uuid4()
    await store.append(case, 0, new_events(case, 0), Idempotency("req-1", "fp-a"))
    with pytest.raises(IdempotencyKeyReused) as refused:
        await store.append(case, 1, new_events(case, 1), Idempotency("req-1", "fp-b"))
    assert (refused.value.case_id, refused.value.key) == (case, "req-1")
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert await store.head() == 1
    # A fresh key at the same version goes through and takes the next position.
    result = await store.append(case, 1, new_events(case, 1), Idempotency("req-2", "fp-b"))
    assert result.first_position == 2


async def test_keys_are_per_case(store: EventStore) -> None:
    a, b = uuid4(), uuid4()
    first = await store.append(a, 0, new_events(a, 0), Idempotency("same", "fp-a"))
    second = await store.append(b, 0, new_events(b, 0), Idempotency("same", "fp-b"))
    assert not second.replayed
    assert (first.first_position, second.first_position) == (1, 2)


async def test_refused_append_does_not_consume_its_key(store: EventStore) -> None:
    case = uuid4()
    await store.append(case, 0, new_events(case, 0))
    with pytest.raises(VersionConflict):
        await store.append(case, 0, new_events(case, 0), Idempotency("req-1", "fp-a"))
    assert await store.idempotency_record(case, "req-1") is None
    result = await store.append(case, 1, new_events(case, 1), Idempotency("req-1", "fp-b"))
    assert (result.first_position, result.replayed) == (2, False)


async def test_concurrent_retries_record_once(store: EventStore) -> None:
    case = uuid4()
    key = Idempotency("req-1", "fp-a")
    results = await asyncio.gather(
        *(store.append(case, 0, new_events(case, 0, 2), key) for _ in range(10))
    )
    assert sum(not r.replayed for r in results) == 1
    assert {(r.first_position, r.last_position, r.recorded_at) for r in results} == {
        (1, 2, results[0].recorded_at)
    }
    assert len(await check_log(store)) == 2
