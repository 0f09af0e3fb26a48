"""Shared fixtures: real SQLite files and real PostgreSQL databases, one fresh per test.

PostgreSQL is found at ``LEDGER_TEST_POSTGRES_URL`` (default: the local server). When it cannot be
reached the PostgreSQL tests fail if ``CI`` or ``LEDGER_REQUIRE_POSTGRES`` is set, and are skipped
with a loud warning otherwise.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

ADMIN_URL = os.environ.get(
    "LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_REQUIRED = bool(os.environ.get("CI") or os.environ.get("LEDGER_REQUIRE_POSTGRES"))
_counter = itertools.count()


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(ADMIN_URL, timeout=5)


def _postgres_reachable() -> str | None:
    async def probe() -> None:
        conn = await _admin()
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:  # any failure to connect means "not reachable"
        return f"{type(exc).__name__}: {exc}"
    return None


_PG_PROBLEM: str | None = None
_PG_PROBED = False


@pytest.fixture(scope="session")
def postgres_available() -> None:
    global _PG_PROBLEM, _PG_PROBED
    if not _PG_PROBED:
        _PG_PROBLEM, _PG_PROBED = _postgres_reachable(), True
    if _PG_PROBLEM is None:
        return
    message = f"PostgreSQL at {ADMIN_URL} is unreachable ({_PG_PROBLEM})"
    if POSTGRES_REQUIRED:
        pytest.fail(message + "; CI requires the PostgreSQL tests to run", pytrace=False)
    warnings.warn(f"!!! SKIPPING POSTGRESQL TESTS: {message} !!!", stacklevel=1)
    pytest.skip(message)


@pytest.fixture
def postgres_url(postgres_available: None) -> Iterator[str]:
    """A URL of a brand-new, empty PostgreSQL database, dropped after the test."""
    name = f"ledger_t_{os.getpid()}_{next(_counter)}"

    async def admin(sql: str) -> None:
        conn = await _admin()
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield _with_database(ADMIN_URL, name)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL of a new SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))
