"""The operations tests' own PostgreSQL cluster, shared by the tests of a session: they freeze
and stop it, which the shared server must never be."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import asyncpg
import pytest

from tests.ops.cluster import Cluster, own_cluster

_names = itertools.count()


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    with own_cluster() as started:
        yield started


@pytest.fixture
def cluster_database(cluster: Cluster) -> str:
    """A new database in the test's own cluster; its URL."""
    name = f"ops_{next(_names)}"

    async def create() -> None:
        conn = await asyncpg.connect(cluster.url, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return cluster.url.rsplit("/", 1)[0] + "/" + name
