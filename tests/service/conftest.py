"""The store each service test runs on: SQLite and PostgreSQL (``database_url``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ledger.store import open_store
from ledger.store.port import EventStore


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    store = open_store(database_url)
    await store.open()
    yield store
    await store.close()
