"""``ledger serve`` that cannot start says why in one line, with the fix, and exits 2 — never a
traceback."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from ledger.audit.keys import init_keys
from tests.api.processes import LEDGER, ROOT, free_port, server_env

pytestmark = pytest.mark.slow


def serve(env: dict[str, str]) -> tuple[int, list[str]]:
    done = subprocess.run(
        [*LEDGER, "serve", "--port", str(free_port()), "--demo-cases", "0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return done.returncode, said


def refused(env: dict[str, str]) -> str:
    code, said = serve(env)
    assert code == 2, said
    assert len(said) == 1, said
    assert "Traceback" not in said[0]
    assert said[0].startswith("ledger: ")
    return said[0]


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    path = tmp_path / "keys"
    init_keys(path)
    return path


def test_an_unknown_url_scheme(keys: Path) -> None:
    line = refused(server_env("mysql://db/ledger", keys))
    assert "LEDGER_DATABASE_URL" in line
    assert "'mysql'" in line
    assert "postgresql://" in line


def test_the_development_secret_on_postgresql(postgres_url: str, keys: Path) -> None:
    env = server_env(postgres_url, keys)
    del env["LEDGER_JWT_SECRET"]
    line = refused(env)
    assert "LEDGER_JWT_SECRET is the development secret" in line
    assert "openssl rand" in line


def test_postgresql_without_keys(postgres_url: str, tmp_path: Path) -> None:
    line = refused(server_env(postgres_url, tmp_path / "no-keys"))
    assert "run `ledger keys init`" in line
    assert str(tmp_path / "no-keys") in line


def test_an_unreachable_database_without_its_password(keys: Path) -> None:
    line = refused(server_env("postgresql://ledger:s3cret@127.0.0.1:1/ledger", keys))
    assert "cannot use the database at postgresql://ledger:***@127.0.0.1:1/ledger" in line
    assert "s3cret" not in line


def test_a_read_only_postgresql_database(postgres_url: str, keys: Path) -> None:
    name = urlsplit(postgres_url).path.lstrip("/")

    async def read_only() -> None:
        conn = await asyncpg.connect(postgres_url, timeout=5)
        try:
            await conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        finally:
            await conn.close()

    asyncio.run(read_only())
    line = refused(server_env(postgres_url, keys))
    assert "is read-only" in line
    assert "PostgreSQL primary" in line


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory seen through a read-only bind mount (root ignores file modes)."""
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    source, view = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    conn = sqlite3.connect(source / "ledger.db")
    conn.execute("CREATE TABLE kept (x)")
    conn.commit()
    conn.close()
    subprocess.run(["mount", "--bind", str(source), str(view)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


def test_a_read_only_sqlite_file(read_only_dir: Path, keys: Path) -> None:
    line = refused(server_env(f"sqlite:///{read_only_dir / 'ledger.db'}", keys))
    assert "is read-only" in line
    assert "writable file" in line
