"""The read models' PostgreSQL schema: made safely by processes starting together, and laid out
for in-place updates.

Processes starting together on a fresh PostgreSQL database do not race on the catalog.
The API and ``ledger projections run`` both create the read models' tables and indexes when they
open, and a runner that finds no read models rebuilds them, building the indexes at the end. Two
``CREATE INDEX IF NOT EXISTS`` of one name at the same moment collide in PostgreSQL's catalog
(a unique violation), so both take the schema lock: exclusive to create, shared to build.
"""

from __future__ import annotations

import asyncio

import asyncpg

from ledger.projections.db_postgres import PostgresReadStore
from ledger.projections.registry import PROJECTIONS

_LOCK = "hashtext('ledger.projections')"
FINGERPRINTS = {p.name: "fingerprint" for p in PROJECTIONS}


async def test_index_builds_wait_for_a_process_creating_the_schema(postgres_url: str) -> None:
    store = PostgresReadStore(postgres_url)
    await store.open()
    try:
        await store.reset(FINGERPRINTS)  # the tables without their indexes, as a rebuild starts
        other = await asyncpg.connect(postgres_url)
        try:
            creating = other.transaction()
            await creating.start()
            await other.execute(f"SELECT pg_advisory_xact_lock({_LOCK})")
            building = asyncio.create_task(store.create_indexes())
            await asyncio.sleep(0.5)
            assert not building.done()  # it waits for the lock, not for the catalog
            await creating.rollback()
            await asyncio.wait_for(building, 30)
        finally:
            await other.close()
        indexes = await store.pool.fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'proj_cases'"
        )
        assert "proj_cases_responder" in {row[0] for row in indexes}
    finally:
        await store.close()


async def test_opening_while_another_process_builds_the_indexes_never_fails(
    postgres_url: str,
) -> None:
    rebuilding = PostgresReadStore(postgres_url)
    await rebuilding.open()
    try:
        for _ in range(8):
            await rebuilding.reset(FINGERPRINTS)
            starting = PostgresReadStore(postgres_url)
            try:
                await asyncio.gather(rebuilding.create_indexes(), starting.open())
            finally:
                await starting.close()
    finally:
        await rebuilding.close()


async def _case_table_options(store: PostgresReadStore) -> list[str]:
    options = await store.pool.fetchval(
        "SELECT reloptions FROM pg_class WHERE relname = 'proj_cases'"
    )
    return list(options or [])


async def test_case_rows_leave_room_for_updates_in_place(postgres_url: str) -> None:
    """Most events change no indexed column of their case: with room on the page, PostgreSQL
    updates the row without touching its eleven indexes (measured: 76 % of the runner's updates
    under the decide load, 12 % with full pages)."""
    store = PostgresReadStore(postgres_url)
    await store.open()
    try:
        assert "fillfactor=75" in await _case_table_options(store)
        await store.reset(FINGERPRINTS)  # a rebuild makes the table again: same layout
        assert "fillfactor=75" in await _case_table_options(store)
    finally:
        await store.close()


async def test_a_case_table_made_before_gets_the_layout_at_the_next_start(
    postgres_url: str,
) -> None:
    store = PostgresReadStore(postgres_url)
    await store.open()
    try:
        await store.pool.execute("ALTER TABLE proj_cases RESET (fillfactor)")  # as made before
        restarted = PostgresReadStore(postgres_url)
        await restarted.open()
        await restarted.close()
        assert "fillfactor=75" in await _case_table_options(store)
    finally:
        await store.close()
