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


async def dump(url: str) -> tuple[Rows, Rows, Rows, Rows, Rows]:
    """Every read-model row, in key order, and the tracked positions: cases, findings,
    positions, the statistics' facts and totals (and the first position of each month of
    the log, which processes of a partitioned rebuild each write as they saw it), and the
    joint consultations."""
    queries = (
        "SELECT * FROM proj_cases ORDER BY case_id",
        "SELECT * FROM proj_findings ORDER BY case_id, seq",
        "SELECT name, position FROM proj_tracking ORDER BY name",
        "SELECT 'fact', case_id, seq, kind, unit, day, position, until_position, days, due,"
        " outcome, 0 FROM proj_unit_facts"
        " UNION ALL SELECT 'count', NULL, NULL, kind, unit, day, NULL, NULL, days, NULL,"
        " outcome, n FROM proj_unit_counts"
        " UNION ALL SELECT 'stock', NULL, NULL, kind, unit, NULL, NULL, NULL, NULL, due, NULL, n"
        " FROM proj_unit_stocks"
        " UNION ALL SELECT 'moved', NULL, NULL, kind, unit, NULL, month, NULL, NULL, due, NULL, n"
        " FROM proj_unit_stock_moves"
        " UNION ALL SELECT 'month', NULL, NULL, NULL, NULL, NULL, month, NULL, NULL, NULL, NULL,"
        " min(position) FROM proj_unit_log_months GROUP BY month"
        " ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11",
        "SELECT * FROM proj_consultations ORDER BY case_id, position",
    )
    if url.startswith("sqlite"):
        path = sqlite_path(url)

        def read() -> list[Rows]:
            conn = sqlite3.connect(path)
            try:
                return [conn.execute(q).fetchall() for q in queries]
            finally:
                conn.close()

        cases, findings, tracking, statistics, consultations = await asyncio.to_thread(read)
    else:
        conn = await asyncpg.connect(url)
        try:
            found = [[tuple(r) for r in await conn.fetch(q)] for q in queries]
        finally:
            await conn.close()
        cases, findings, tracking, statistics, consultations = found
    return cases, findings, tracking, statistics, consultations
