"""Helpers shared by the store tests: events to append, raw SQL, and whole-log checks."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import defaultdict
from uuid import UUID

import asyncpg
import msgspec

from ledger.store import sqlite_path
from ledger.store.chain import verify_case_chain
from ledger.store.port import EventStore, NewEvent, RecordedEvent


def new_events(case_id: UUID, after: int, count: int = 1, note: str = "") -> list[NewEvent]:
    """``count`` events for ``case_id`` with versions after+1 … after+count."""
    return [
        NewEvent(
            case_id=case_id,
            version=version,
            topic="test.Noted",
            state=msgspec.json.encode({"note": note, "n": version}),
            metadata=msgspec.json.encode({"request_id": f"r{version}"}),
        )
        for version in range(after + 1, after + count + 1)
    ]


async def raw_execute(url: str, sql: str) -> None:
    """Run SQL on the database behind ``url`` directly, bypassing the store (to tamper)."""
    if url.startswith("sqlite"):

        def run() -> None:
            conn = sqlite3.connect(sqlite_path(url))
            try:
                conn.execute(sql)
                conn.commit()
            finally:
                conn.close()

        await asyncio.to_thread(run)
    else:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


async def check_log(store: EventStore) -> list[RecordedEvent]:
    """The whole log, after asserting the store's invariants on it.

    Positions are exactly 1..head, recorded_at never decreases along positions, every case's
    versions run 1..n and its hash chain verifies.
    """
    records = [record async for record in store.iter_log(batch=64)]
    head = await store.head()
    assert [r.position for r in records] == list(range(1, head + 1))
    stamps = [r.recorded_at for r in records]
    assert stamps == sorted(stamps)
    cases: dict[UUID, list[RecordedEvent]] = defaultdict(list)
    for record in records:
        cases[record.case_id].append(record)
    for case_id, chain in cases.items():
        assert verify_case_chain(chain) is None, case_id
        assert await store.case_version(case_id) == len(chain)
    return records
