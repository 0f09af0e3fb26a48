"""Real server processes for the API tests: a database of their own, a free port, a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from tests.api.support import SECRET
from tests.conftest import ADMIN_URL

LEDGER = [sys.executable, "-m", "ledger.cli"]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(prefix: str) -> str:
    """A new, empty PostgreSQL database; its URL."""
    name = f"{prefix}_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path="/" + name))


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def server_env(database_url: str, key_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LEDGER_DATABASE_URL": database_url,
        "LEDGER_JWT_SECRET": SECRET,
        "LEDGER_KEY_DIR": str(key_dir),
        "PYTHONPATH": str(ROOT),
    }


@contextlib.contextmanager
def served(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``ledger <args>`` as a child process, stopped with SIGTERM (SIGKILL after 10 s).

    Its output goes to a file, not a pipe: a server's access log would fill a pipe nobody reads
    and stall the server."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([*LEDGER, *args], env=env, cwd=ROOT, stdout=log, stderr=log)
        process.log = log  # type: ignore[attr-defined]
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def output_of(process: subprocess.Popen[bytes]) -> str:
    log = process.log  # type: ignore[attr-defined]
    log.seek(0)
    return str(log.read().decode(errors="replace"))


def wait_until_healthy(
    base_url: str, process: subprocess.Popen[bytes], seconds: float = 30
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n{output_of(process)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"the server at {base_url} did not answer /health within {seconds} s")
