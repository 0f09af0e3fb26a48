"""The event store's bounds on a database that stops answering (the test's own cluster, frozen
with SIGSTOP): the group commit fails its waiting callers within the append timeout, and the same
store appends again, without being reopened, once the database answers."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from ledger.store.port import NewEvent, StoreError
from ledger.store.postgres import AppendTimeout, PostgresStore
from ledger.store.timeouts import DatabaseTimeouts
from tests.contract.support import new_events
from tests.ops.cluster import Cluster

pytestmark = pytest.mark.slow

BOUNDS = DatabaseTimeouts(connect=1.0, acquire=1.0, command=2.0, append=1.5)


async def test_the_group_commit_fails_its_callers_in_time_and_recovers(
    cluster: Cluster, cluster_database: str
) -> None:
    store = PostgresStore(cluster_database, timeouts=BOUNDS)
    await store.open()
    try:
        before = await store.append(*new_case())
        await asyncio.to_thread(cluster.freeze)
        try:
            started = time.monotonic()
            outcomes = await asyncio.gather(
                *(store.append(*new_case()) for _ in range(8)),
                return_exceptions=True,
            )
            elapsed = time.monotonic() - started
            read_started = time.monotonic()
            with pytest.raises(TimeoutError):
                await store.head()
            read_elapsed = time.monotonic() - read_started
        finally:
            await asyncio.to_thread(cluster.thaw)
        # Every caller hears of the failure, as a store error, once the append timeout passed.
        assert all(isinstance(o, AppendTimeout | StoreError) for o in outcomes), outcomes
        assert any(isinstance(o, AppendTimeout) for o in outcomes), outcomes
        assert elapsed < BOUNDS.append + 1.0, elapsed
        # A read: the statement's bound, then the release's wait for the cancel to be heard.
        assert read_elapsed < BOUNDS.command + BOUNDS.acquire + 0.5, read_elapsed
        # The same store writes again as soon as the database answers.
        thawed = time.monotonic()
        while True:
            try:
                after = await store.append(*new_case())
                break
            except StoreError:
                assert time.monotonic() - thawed < 5, "the writer did not recover"
                await asyncio.sleep(0.1)
        assert after.first_position == before.last_position + 1, "nothing failed was recorded"
        assert await store.head() == after.last_position
    finally:
        await store.close()


def new_case() -> tuple[uuid.UUID, int, list[NewEvent]]:
    case_id = uuid.uuid4()
    return case_id, 0, new_events(case_id, 0)
