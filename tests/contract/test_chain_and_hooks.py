"""The hash chain catches tampering done behind the store's back; hooks run inside the append."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from uuid import UUID, uuid4

import asyncpg
import pytest

from ledger.store.chain import verify_case_chain
from ledger.store.port import EventStore, RecordedEvent

from .conftest import StoreFactory
from .support import check_log, new_events, raw_execute


async def _three_events_two_cases(store: EventStore) -> tuple[UUID, UUID]:
    case, other = uuid4(), uuid4()
    await store.append(case, 0, new_events(case, 0, 2))  # positions 1, 2
    await store.append(other, 0, new_events(other, 0))  # position 3
    await store.append(case, 2, new_events(case, 2, 2))  # positions 4, 5
    await check_log(store)
    return case, other


async def test_altered_row_is_named_by_the_chain(store: EventStore, database_url: str) -> None:
    case, other = await _three_events_two_cases(store)
    forge = "UPDATE ledger_events SET topic = 'test.Forged' WHERE position = 4"
    await raw_execute(database_url, forge)
    fault = verify_case_chain(await store.read_case(case))
    assert fault is not None
    assert (fault.position, fault.version) == (4, 3)
    assert "content" in fault.problem
    assert verify_case_chain(await store.read_case(other)) is None


async def test_removed_row_is_named_by_the_chain(store: EventStore, database_url: str) -> None:
    case, _ = await _three_events_two_cases(store)
    await raw_execute(database_url, "DELETE FROM ledger_events WHERE position = 2")
    fault = verify_case_chain(await store.read_case(case))
    assert fault is not None
    assert fault.position == 4  # the first event after the hole
    assert "missing" in fault.problem


class CountingHook:
    """Writes a row per event into its own table from inside the append transaction."""

    TABLE = "CREATE TABLE IF NOT EXISTS hook_seen (position BIGINT PRIMARY KEY, visible BIGINT)"

    def __init__(self) -> None:
        self.fail = False
        self.calls: list[list[int]] = []

    def postgres_schema(self) -> str:
        return self.TABLE

    def sqlite_schema(self) -> str:
        return self.TABLE + ";"

    async def on_append_postgres(self, conn: object, records: Sequence[RecordedEvent]) -> None:
        assert isinstance(conn, asyncpg.Connection)
        # The batch's own rows are already visible to the hook's connection.
        visible = await conn.fetchval("SELECT count(*) FROM ledger_events")
        await conn.executemany(
            "INSERT INTO hook_seen VALUES ($1, $2)", [(r.position, visible) for r in records]
        )
        self._after(records)

    def on_append_sqlite(self, conn: object, records: Sequence[RecordedEvent]) -> None:
        assert isinstance(conn, sqlite3.Connection)
        visible = conn.execute("SELECT count(*) FROM ledger_events").fetchone()[0]
        conn.executemany(
            "INSERT INTO hook_seen VALUES (?, ?)", [(r.position, visible) for r in records]
        )
        self._after(records)

    def _after(self, records: Sequence[RecordedEvent]) -> None:
        self.calls.append([r.position for r in records])
        if self.fail:
            raise RuntimeError("hook refused the batch")


async def _hook_rows(store: EventStore, database_url: str) -> list[tuple[int, int]]:
    if database_url.startswith("sqlite"):
        from ledger.store import sqlite_path

        with sqlite3.connect(sqlite_path(database_url)) as conn:
            rows = conn.execute("SELECT * FROM hook_seen ORDER BY position").fetchall()
        return [tuple(r) for r in rows]
    conn = await asyncpg.connect(database_url)
    try:
        return [tuple(r) for r in await conn.fetch("SELECT * FROM hook_seen ORDER BY position")]
    finally:
        await conn.close()


async def test_hook_runs_inside_the_transaction(
    make_store: StoreFactory, database_url: str
) -> None:
    hook = CountingHook()
    store = await make_store([hook])
    case = uuid4()
    await store.append(case, 0, new_events(case, 0, 2))
    assert hook.calls == [[1, 2]]
    assert await _hook_rows(store, database_url) == [(1, 2), (2, 2)]


async def test_failing_hook_aborts_the_batch(make_store: StoreFactory, database_url: str) -> None:
    hook = CountingHook()
    store = await make_store([hook])
    case = uuid4()
    hook.fail = True
    with pytest.raises(RuntimeError, match="hook refused"):
        await store.append(case, 0, new_events(case, 0, 2))
    assert hook.calls == [[1, 2]]
    # Nothing recorded, not even the hook's own rows: it ran inside the rolled-back transaction.
    assert await store.head() == 0
    assert await store.read_case(case) == []
    assert await _hook_rows(store, database_url) == []

    hook.fail = False
    result = await store.append(case, 0, new_events(case, 0))
    assert result.first_position == 1  # the aborted batch burned no positions
    assert await _hook_rows(store, database_url) == [(1, 1)]
    await check_log(store)
