"""Database helpers for the read-model tests: fresh databases per example, raw row dumps."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from ledger.domain.context import Context
from ledger.projections import Projection, ReadModels, open_read_models
from ledger.store import open_store, sqlite_path
from ledger.store.port import EventStore
from tests.projections.support import Desk

Rows = list[tuple[object, ...]]


@dataclass
class Ledger:
    """A store, the write path over it and the read models of the same database."""

    url: str
    store: EventStore
    desk: Desk
    read_models: ReadModels


@asynccontextmanager
async def ledger(
    url: str, context: Context | None = None, projections: Sequence[Projection] | None = None
) -> AsyncIterator[Ledger]:
    """``projections``: the read models kept (default: the registered ones)."""
    store = open_store(url)
    await store.open()
    desk = Desk(store, context)
    read_models = await open_read_models(url, desk.service.context, store, projections)
    try:
        yield Ledger(url, store, desk, read_models)
    finally:
        await read_models.close()
        await store.close()


async def wipe(url: str) -> None:
    """Empty the database behind ``url`` completely (log and read models)."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)

        def drop() -> None:
            conn = sqlite3.connect(path)
            try:
                tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                for (name,) in tables.fetchall():
                    conn.execute(f'DROP TABLE IF EXISTS "{name}"')
                conn.commit()
            finally:
                conn.close()

        await asyncio.to_thread(drop)
        return
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def dump(url: str) -> tuple[Rows, Rows, Rows]:
    """Every read-model row, in key order, and the tracked positions."""
    queries = (
        "SELECT * FROM proj_cases ORDER BY case_id",
        "SELECT * FROM proj_findings ORDER BY case_id, seq",
        "SELECT name, position FROM proj_tracking ORDER BY name",
    )
    if url.startswith("sqlite"):
        path = sqlite_path(url)

        def read() -> list[Rows]:
            conn = sqlite3.connect(path)
            try:
                return [conn.execute(q).fetchall() for q in queries]
            finally:
                conn.close()

        cases, findings, tracking = await asyncio.to_thread(read)
    else:
        conn = await asyncpg.connect(url)
        try:
            cases, findings, tracking = [[tuple(r) for r in await conn.fetch(q)] for q in queries]
        finally:
            await conn.close()
    return cases, findings, tracking
