"""Several ``ledger serve`` processes on one database, with no flags: exactly one runs the
projection runner and one the checkpoint signer (advisory locks), every process's writes are
projected, and when the holder dies another process takes over."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from api.election import lock_key
from ledger.audit.keys import init_keys
from tests.api.processes import (
    create_database,
    drop_database,
    free_port,
    output_of,
    served,
    server_env,
    wait_until_healthy,
)
from tests.api.support import INSPECTOR, INTAKE, bearer, registration

pytestmark = pytest.mark.slow

ROLES = ("projection-runner", "checkpoint-scheduler")


@pytest.fixture
def database(postgres_available: None) -> Iterator[str]:
    url = create_database("ledger_t_election")
    yield url
    drop_database(url)


def holders(url: str) -> dict[str, set[int]]:
    """The client ports of the sessions holding each role's advisory lock in this database
    (other databases' servers, such as other tests', hold their own)."""

    async def query() -> dict[str, set[int]]:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            found: dict[str, set[int]] = {}
            for role in ROLES:
                key = lock_key(role)
                rows = await conn.fetch(
                    "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                    " WHERE l.locktype = 'advisory' AND l.granted"  # locks of this database:
                    " AND l.database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                    " AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1",
                    key >> 32,
                    key & 0xFFFFFFFF,
                )
                found[role] = {int(row[0]) for row in rows}
            return found
        finally:
            await conn.close()

    return asyncio.run(query())


def owner_pid(port: int) -> int | None:
    """The local process that has the TCP connection from ``port``."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.pid:
            return int(conn.pid)
    return None


def _projected(base: str, case_id: str, seconds: float = 10) -> float:
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=5) as http:
        while time.monotonic() - started < seconds:
            listed = http.get("/v1/cases", headers=bearer(INSPECTOR)).json()
            if any(item["case_id"] == case_id for item in listed["items"]):
                return time.monotonic() - started
            time.sleep(0.1)
    raise AssertionError(f"case {case_id} not projected within {seconds} s")


def _register(base: str) -> str:
    with httpx.Client(base_url=base, timeout=5) as http:
        response = http.post("/v1/cases", json=registration(), headers=bearer(INTAKE))
        assert response.status_code == 201, response.text
        return str(response.json()["case_id"])


def _wait_for_single_holders(url: str, seconds: float = 10) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    while True:
        found = holders(url)
        if all(len(found[role]) == 1 for role in ROLES):
            return {role: next(iter(ports)) for role, ports in found.items()}
        assert time.monotonic() < deadline, found
        time.sleep(0.2)


def test_two_servers_elect_one_runner_and_one_signer_and_take_over(
    database: str, tmp_path: Path
) -> None:
    key_dir = tmp_path / "keys"
    init_keys(key_dir)
    env = {**server_env(database, key_dir), "LEDGER_CHECKPOINT_SECONDS": "1"}
    ports = [free_port(), free_port()]
    with ExitStack() as stack:
        processes = [
            stack.enter_context(served(["serve", "--port", str(port)], env)) for port in ports
        ]
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, process in zip(bases, processes, strict=True):
            wait_until_healthy(base, process)
        held = _wait_for_single_holders(database)
        leaders = {role: owner_pid(port) for role, port in held.items()}
        assert set(leaders.values()) <= {p.pid for p in processes}, leaders
        # Whichever process takes the write, the one runner projects it for both.
        for base in bases:
            case_id = _register(base)
            for reader in bases:
                _projected(reader, case_id)
        # The runner's holder dies: the other process takes over.
        leader = next(p for p in processes if p.pid == leaders["projection-runner"])
        survivor_base = bases[1 - processes.index(leader)]
        leader.send_signal(signal.SIGKILL)
        leader.wait()
        killed = time.monotonic()
        held = _wait_for_single_holders(database)
        taken_over = time.monotonic() - killed
        assert owner_pid(held["projection-runner"]) != leader.pid
        case_id = _register(survivor_base)
        projected = _projected(survivor_base, case_id)
        survivor = processes[1 - processes.index(leader)]
        log = output_of(survivor)
    print(f"took over {taken_over:.2f} s after the holder died; projected in {projected:.2f} s")
    assert taken_over < 5
    assert "projection-runner: this process runs it" in log


def test_workers_share_a_port_with_one_runner(database: str, tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    init_keys(key_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["serve", "--port", str(port), "--workers", "2"]
    with served(args, server_env(database, key_dir)) as p:
        wait_until_healthy(base, p, seconds=60)
        workers = psutil.Process(p.pid).children()
        assert len([w for w in workers if "spawn" in " ".join(w.cmdline())]) == 2, [
            w.cmdline() for w in workers
        ]
        held = _wait_for_single_holders(database)
        assert {owner_pid(port) for port in held.values()} <= {w.pid for w in workers}
        case_id = _register(base)
        _projected(base, case_id)
