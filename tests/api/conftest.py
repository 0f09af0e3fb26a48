"""Fixtures of the API tests: an app on a fresh SQLite file, served in-process.

Every test here runs with warnings as errors, so a deprecated (implicit) parameter declaration or
any other Litestar deprecation fails the suite instead of scrolling past.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.audit.keys import init_keys
from ledger.config import Settings
from tests.api.processes import (
    create_database,
    drop_database,
    free_port,
    served,
    server_env,
    wait_until_healthy,
)
from tests.api.support import SECRET, Api

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.filterwarnings("error"))


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    path = tmp_path / "keys"
    init_keys(path)
    return path


def settings_for(url: str, key_dir: Path, **changes: object) -> Settings:
    return Settings(database_url=url, key_dir=str(key_dir), jwt_secret=SECRET, **changes)  # type: ignore[arg-type]


@pytest.fixture
def app(sqlite_url: str, key_dir: Path) -> Litestar:
    return create_app(settings_for(sqlite_url, key_dir, checkpoint_seconds=0.2))


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as client:
        yield client


@pytest.fixture
def api(client: AsyncTestClient[Litestar]) -> Api:
    return Api(client)


@pytest.fixture
async def head(client: AsyncTestClient[Litestar]) -> Callable[[], Awaitable[int]]:
    """Reads the log's head: a refused request must leave it where it was."""

    async def read() -> int:
        value: int = (await client.get("/ready")).json()["head"]
        return value

    return read


@pytest.fixture(scope="session")
def live_server(
    postgres_available: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``ledger serve`` as a real process on a free port, over a fresh PostgreSQL database."""
    database = create_database("ledger_t_api_live")
    key_dir = tmp_path_factory.mktemp("live") / "keys"
    init_keys(key_dir)
    env = server_env(database, key_dir)
    port = free_port()
    with served(["serve", "--host", "127.0.0.1", "--port", str(port)], env) as process:
        wait_until_healthy(f"http://127.0.0.1:{port}", process)
        yield f"http://127.0.0.1:{port}"
    drop_database(database)
