"""PostgreSQL-specific: contention through one writer queue and through 50 separate stores (50
connections competing for the head-row lock, as separate processes would), a lost connection,
and the commit notification."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from uuid import uuid4

import asyncpg
import pytest

from ledger.store.port import AppendResult, RecordedEvent, VersionConflict
from ledger.store.postgres import PostgresStore
from ledger.store.sql import NOTIFY_CHANNEL
from tests.contract.support import check_log, new_events

N = 50


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    async with PostgresStore(postgres_url) as opened:
        yield opened


@pytest.fixture
async def stores(postgres_url: str) -> AsyncIterator[list[PostgresStore]]:
    """50 independent stores (a writer connection each), opened at once, racing on the schema."""
    many = [PostgresStore(postgres_url, min_pool=0, max_pool=1) for _ in range(N)]
    await asyncio.gather(*(s.open() for s in many))
    yield many
    await asyncio.gather(*(s.close() for s in many))


def _split(outcomes: Sequence[object]) -> tuple[list[AppendResult], list[object]]:
    wins = [o for o in outcomes if isinstance(o, AppendResult)]
    return wins, [o for o in outcomes if not isinstance(o, AppendResult)]


async def _same_version_race(targets: Sequence[PostgresStore]) -> None:
    case = uuid4()
    outcomes = await asyncio.gather(
        *(s.append(case, 0, new_events(case, 0, note=str(i))) for i, s in enumerate(targets)),
        return_exceptions=True,
    )
    wins, refused = _split(outcomes)
    assert len(wins) == 1
    assert len(refused) == N - 1
    assert all(isinstance(r, VersionConflict) and r.actual == 1 for r in refused)
    assert wins[0].first_position == 1
    records = await check_log(targets[0])
    assert [r.position for r in records] == [1]


async def _many_cases(targets: Sequence[PostgresStore]) -> None:
    cases = [uuid4() for _ in range(N)]
    results = await asyncio.gather(
        *(s.append(c, 0, new_events(c, 0)) for s, c in zip(targets, cases, strict=True))
    )
    assert sorted(r.first_position for r in results) == list(range(1, N + 1))
    records = await check_log(targets[-1])
    assert {r.case_id for r in records} == set(cases)


async def test_same_version_race_through_one_store(store: PostgresStore) -> None:
    await _same_version_race([store] * N)


async def test_same_version_race_across_50_stores(stores: list[PostgresStore]) -> None:
    await _same_version_race(stores)


async def test_fifty_cases_through_one_store(store: PostgresStore) -> None:
    await _many_cases([store] * N)


async def test_fifty_cases_across_50_stores(stores: list[PostgresStore]) -> None:
    await _many_cases(stores)
    # Each store committed its own transactions, yet the positions interleave without gaps.
    assert sum(s.committed_batches for s in stores) == N


class KillConnection:
    """Terminates its own backend inside the append transaction: the connection is lost."""

    def postgres_schema(self) -> str:
        return "SELECT 1"

    def sqlite_schema(self) -> str:
        return ""

    def __init__(self) -> None:
        self.armed = True

    async def on_append_postgres(self, conn: object, records: Sequence[RecordedEvent]) -> None:
        if self.armed:
            self.armed = False
            assert isinstance(conn, asyncpg.Connection)
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    def on_append_sqlite(self, conn: object, records: Sequence[RecordedEvent]) -> None:
        raise AssertionError("not used")


async def test_lost_connection_fails_every_request_of_the_batch(postgres_url: str) -> None:
    async with PostgresStore(postgres_url, hooks=[KillConnection()]) as store:
        cases = [uuid4() for _ in range(10)]
        outcomes = await asyncio.gather(
            *(store.append(c, 0, new_events(c, 0)) for c in cases), return_exceptions=True
        )
        assert not any(isinstance(o, AppendResult) for o in outcomes)  # no false success
        assert all(isinstance(o, Exception) for o in outcomes)
        assert await store.head() == 0
        # The pool replaces the connection; the store goes on, and nothing was burned.
        result = await store.append(cases[0], 0, new_events(cases[0], 0))
        assert result.first_position == 1
        await check_log(store)


async def test_commit_is_notified_with_the_new_head(
    store: PostgresStore, postgres_url: str
) -> None:
    listener = await asyncpg.connect(postgres_url)
    heads: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: heads.put_nowait(args[3]))
    try:
        case = uuid4()
        await store.append(case, 0, new_events(case, 0, 3))
        assert await asyncio.wait_for(heads.get(), timeout=5) == "3"
    finally:
        await listener.close()
