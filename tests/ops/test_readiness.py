"""``/ready`` tells the truth: it answers 200 only when the ledger can write, reports how far the
read models lag, and names the cause of a 503 (read-only, disk full, timeout, unreachable)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.audit.keys import init_keys
from ledger.config import Settings
from ledger.store import failures
from tests.api.support import INTAKE, SECRET, Api, bearer, registration

READY_WITHIN = 2.0


def _settings(url: str, key_dir: Path) -> Settings:
    return Settings(database_url=url, key_dir=str(key_dir), jwt_secret=SECRET)


@contextlib.asynccontextmanager
async def _client(url: str, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    key_dir = tmp_path / "keys"
    if not key_dir.exists():
        init_keys(key_dir)
    async with AsyncTestClient(create_app(_settings(url, key_dir))) as client:
        yield client


async def test_ready_writes_a_probe_and_reports_the_lag(database_url: str, tmp_path: Path) -> None:
    async with _client(database_url, tmp_path) as client:
        await Api(client).register()
        for _ in range(50):  # until the runner has projected the registration
            body = (await client.get("/ready")).json()
            if body["lag"] == 0:
                break
            await asyncio.sleep(0.1)
        response = await client.get("/ready")
        body = response.json()
        assert response.status_code == 200, body
        assert body["status"] == "ready"
        assert body["database"] == "ok"
        assert body["head"] >= 1
        assert body["lag"] == body["head"] - body["projected"] == 0


async def _set_read_only(url: str, on: bool) -> None:
    name = urlsplit(url).path.lstrip("/")
    # A session of its own that may write, whatever the database's default.
    writable = {"default_transaction_read_only": "off"}
    conn = await asyncpg.connect(url, timeout=5, server_settings=writable)
    try:
        value = "on" if on else "off"
        await conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {value}')
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()


async def _poll_ready(client: AsyncTestClient[Litestar], until: str) -> dict[str, object]:
    body: dict[str, object] = {}
    for _ in range(30):
        body = (await client.get("/ready")).json()
        if str(body["database"]).startswith(until):
            break
        await asyncio.sleep(0.1)
    return body


async def test_a_postgresql_turned_read_only_is_not_ready_and_says_so(
    postgres_url: str, tmp_path: Path
) -> None:
    async with _client(postgres_url, tmp_path) as client:
        assert (await client.get("/ready")).status_code == 200
        # Every new session of the database is read-only from now on (a replica, a database
        # locked down by its operator), and the app's sessions are cut off.
        await _set_read_only(postgres_url, True)
        try:
            body = await _poll_ready(client, "read-only")
            response = await client.get("/ready")
            assert response.status_code == 503, response.json()
            assert body["database"] == response.json()["database"]
            assert str(body["database"]).startswith("read-only: "), body
            assert "read-only transaction" in str(body["database"]), body
            assert body["head"] is not None  # the reads still work, and say so
            # A write meets the same refusal, named the same way.
            refused = await client.post("/v1/cases", json=registration(), headers=bearer(INTAKE))
            if "cannot be reached" in refused.text:  # the writer's own session was cut off
                refused = await client.post(
                    "/v1/cases", json=registration(), headers=bearer(INTAKE)
                )
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"]
            assert refused.json()["detail"].startswith("the database accepts no writes")
        finally:
            await _set_read_only(postgres_url, False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs of its own (the test runs as root in CI's container and here)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


async def test_a_full_disk_is_not_ready_and_is_named(small_disk: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{small_disk / 'ledger.db'}"
    async with _client(url, tmp_path) as client:
        assert (await client.get("/ready")).status_code == 200
        filler = _fill(small_disk)
        full = await client.get("/ready")
        assert full.status_code == 503, full.json()
        assert full.json()["database"].startswith("disk full: "), full.json()
        filler.unlink()
        assert (await client.get("/ready")).status_code == 200


def test_the_causes_of_real_database_errors(tmp_path: Path) -> None:
    path = tmp_path / "tiny.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA max_page_count = 2")
    conn.execute("CREATE TABLE t (x BLOB)")
    with pytest.raises(sqlite3.OperationalError) as full:
        conn.execute("INSERT INTO t VALUES (zeroblob(100000))")
    conn.close()
    assert failures.cause(full.value) == failures.DISK_FULL
    assert failures.cause(asyncpg.DiskFullError("could not extend file")) == failures.DISK_FULL
    assert failures.cause(TimeoutError()) == failures.TIMEOUT
    assert failures.cause(ConnectionRefusedError(111, "refused")) == failures.UNREACHABLE
    assert failures.cause(ValueError("a bug")) is None
    assert failures.explain(TimeoutError()) == "the database did not answer in time (TimeoutError)"
