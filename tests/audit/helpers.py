"""Filling a real store with events, and reading the audit tables back raw."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import uuid
from typing import Any

import asyncpg
import msgspec

from ledger.audit.log_hook import MerkleHook
from ledger.store import EventStore, NewEvent, open_store

TOPICS = (
    "ledger.Registered",
    "ledger.Classified",
    "ledger.Transferred",
    "ledger.Accepted",
    "ledger.Decided",
    "ledger.FeedbackGiven",
    "ledger.Closed",
)


def new_event(case_id: uuid.UUID, version: int, rng: random.Random) -> NewEvent:
    state = msgspec.json.encode(
        {
            "n": version,
            "note": "缴费争议" * rng.randint(1, 20),
            "amount": f"{rng.randint(0, 10**6)}.{rng.randint(0, 99):02d}",
        }
    )
    meta = msgspec.json.encode(
        {
            "request_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "staff": f"s{rng.randint(1, 50)}",
            "unit": "tax-01",
        }
    )
    return NewEvent(case_id, version, TOPICS[(version - 1) % len(TOPICS)], state, meta)


async def fill(
    store: EventStore, cases: int, per_case: int, seed: int = 1, batch: int = 1
) -> list[uuid.UUID]:
    """``cases`` cases of ``per_case`` events, appended concurrently (so group commit batches)."""
    rng = random.Random(seed)
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(cases)]

    async def one_case(case_id: uuid.UUID) -> None:
        version = 0
        while version < per_case:
            n = min(batch, per_case - version)
            events = [new_event(case_id, version + i + 1, rng) for i in range(n)]
            await store.append(case_id, version, events)
            version += n

    await asyncio.gather(*(one_case(c) for c in ids))
    return ids


async def opened(url: str) -> EventStore:
    store = open_store(url, hooks=[MerkleHook()])
    await store.open()
    return store


async def raw_sql(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run SQL straight against the database, as an intruder with database access would."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            return [tuple(r) for r in conn.execute(sql.replace("$", "?"), args).fetchall()]
        finally:
            conn.close()
    pg = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await pg.fetch(sql, *args)]
    finally:
        await pg.close()


async def raw_script(url: str, sql: str) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            conn.executescript(sql)
        finally:
            conn.close()
        return
    pg = await asyncpg.connect(url)
    try:
        await pg.execute(sql)
    finally:
        await pg.close()


def local_transport(service: Any) -> tuple[Any, Any, Any]:
    """The witness transport functions, calling an AuditService in-process."""

    async def fetch_latest() -> str:
        latest = await service.latest_checkpoint()
        assert latest is not None
        return str(latest.full_note())

    async def fetch_consistency(first: int, second: int) -> list[bytes]:
        return list((await service.consistency_proof(first, second)).path)

    async def submit(size: int, line: str) -> None:
        await service.add_cosignature(size, line)

    return fetch_latest, fetch_consistency, submit


async def raw_many(url: str, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """One statement for many rows, on one connection."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            conn.execute("BEGIN")
            conn.executemany(sql.replace("$", "?"), rows)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    pg = await asyncpg.connect(url)
    try:
        await pg.executemany(sql, rows)
    finally:
        await pg.close()
