"""Every contract test runs on both adapters (``database_url`` is parametrized in tests/)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest

from ledger.store import open_store
from ledger.store.port import AppendHook, EventStore

StoreFactory = Callable[..., Awaitable[EventStore]]


@pytest.fixture
async def make_store(database_url: str) -> AsyncIterator[StoreFactory]:
    """Opens stores on the test's database (several may share it); closes them afterwards."""
    opened: list[EventStore] = []

    async def make(hooks: Sequence[AppendHook] = ()) -> EventStore:
        store = open_store(database_url, hooks)
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in reversed(opened):
        await store.close()


@pytest.fixture
async def store(make_store: StoreFactory) -> EventStore:
    return await make_store()
