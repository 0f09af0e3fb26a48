"""Quick HTTP measurement: the decide route beside GET /health, 32 concurrent clients, PostgreSQL.

    .venv/bin/python bench/http_quick.py [--admin-url postgresql://postgres@127.0.0.1/postgres]
                                         [--clients 32] [--seconds 10]

``ledger serve`` runs in its own process (one uvicorn worker, projection runner and checkpoint
scheduler in the background) on a fresh database, dropped afterwards. In the same run,
``bench.loadgen`` (a lean HTTP/1.1 client in its own process: httpx would measure itself) drives
``clients`` keep-alive connections in a closed loop, first on ``GET /health`` (no token, no
database: the cost of the HTTP stack itself), then on ``POST /v1/cases/{id}/decide`` with a bearer
token and ``If-Match`` — token check, case read and fold, rules, append (group commit, hash chain,
Merkle hook), case view for the response. Each client cycles over its own cases, prepared over
HTTP beforehand. Not a test: the numbers depend on the machine; client and server share its CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.auth import issue_token  # noqa: E402
from ledger.audit.keys import init_keys  # noqa: E402
from ledger.domain.actor import Actor  # noqa: E402
from ledger.domain.codes import Department, Role  # noqa: E402
from ledger.domain.identifiers import make_credit_code  # noqa: E402

SECRET = "http-quick-bench-secret-not-for-production"
CASES_PER_CLIENT = 4
STAFF = Actor(
    staff_id="T1001",
    name="王丽",
    unit="tax.hall",
    department=Department.TAX,
    roles=(Role.INTAKE, Role.HANDLER),
)
DECIDE = {"outcome": "upheld", "finding": "经核实，单位少报缴费基数，已责令补缴差额"}
CLASSIFY = {"classification": "general", "route": 2, "reason": "一般事项，按职责办理"}


def registration(n: int) -> dict[str, object]:
    return {
        "channel": "service_window",
        "received_at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
        "payer": {
            "kind": "employer",
            "name": f"潜江市测试企业{n}有限公司",
            "identifier": make_credit_code(org=f"MA49{n:05d}"),
            "phone": "0728-6201234",
        },
        "jurisdiction": "qj.yuanlin",
        "category": "employee_employer",
        "summary": "职工反映单位少报缴费基数",
        "preliminary_opinion": "建议核实缴费基数后依法处理",
    }


async def prepare(client: httpx.AsyncClient, n: int) -> tuple[str, int]:
    """A case held by the staff member's unit, classified: ready for decisions."""
    created = await client.post("/v1/cases", json=registration(n))
    created.raise_for_status()
    case_id = created.json()["case_id"]
    classified = await client.post(
        f"/v1/cases/{case_id}/classify", json=CLASSIFY, headers={"If-Match": '"1"'}
    )
    classified.raise_for_status()
    return case_id, 2


async def prepare_all(base: str, clients: int, token: str) -> list[list[list[object]]]:
    """Each client's cases as ``[case_id, version]`` pairs, the shape bench.loadgen takes."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        cases = await asyncio.gather(
            *(prepare(client, n) for n in range(clients * CASES_PER_CLIENT))
        )
    return [[list(case) for case in cases[i::clients]] for i in range(clients)]


def load(base_port: int, clients: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """One closed-loop run of bench.loadgen (its own process: the client must not share this
    interpreter's CPU time with the measurement's bookkeeping)."""
    spec = {
        "host": "127.0.0.1",
        "port": base_port,
        "seconds": seconds,
        "warmup": 1.0,
        "clients": clients,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f, ensure_ascii=False)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", f.name],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(f.name)
    result: dict[str, Any] = json.loads(out)
    return result


def line(name: str, result: dict[str, Any]) -> str:
    codes = ", ".join(f"{k}: {v}" for k, v in sorted(result["statuses"].items()))
    errors = f"; errors {result['errors']}" if result["errors"] else ""
    return (
        f"{name:<16} {result['requests_per_s']:8.0f} req/s   p50 {result['p50_ms']:6.1f} ms"
        f"   p99 {result['p99_ms']:6.1f} ms   ({result['requests']} requests; {codes}{errors})"
    )


def measure(port: int, clients: int, seconds: float) -> None:
    token = issue_token(SECRET, STAFF)
    cases = asyncio.run(prepare_all(f"http://127.0.0.1:{port}", clients, token))
    health = load(port, [{"kind": "get", "path": "/health"}] * clients, seconds)
    decide = load(
        port,
        [{"kind": "decide", "token": token, "cases": own, "body": DECIDE} for own in cases],
        seconds,
    )
    print(f"{clients} keep-alive clients, closed loop, {seconds:.0f} s each after 1 s warm-up;")
    print("one uvicorn worker with the projection runner and checkpoint scheduler, PostgreSQL:")
    print(line("GET /health", health))
    print(line("POST …/decide", decide))


async def admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not come up within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    name = f"ledger_http_quick_{os.getpid()}"
    asyncio.run(admin(args.admin_url, f'CREATE DATABASE "{name}"'))
    url = urlunsplit(urlsplit(args.admin_url)._replace(path="/" + name))
    port = free_port()
    with tempfile.TemporaryDirectory() as keys:
        init_keys(Path(keys))
        env = {
            **os.environ,
            "LEDGER_DATABASE_URL": url,
            "LEDGER_JWT_SECRET": SECRET,
            "LEDGER_KEY_DIR": keys,
            "PYTHONPATH": str(ROOT),
        }
        command = [sys.executable, "-m", "ledger.cli", "serve", "--port", str(port)]
        server = subprocess.Popen([*command, "--log-level", "warning"], env=env, cwd=ROOT)
        try:
            wait_for(f"http://127.0.0.1:{port}", server)
            measure(port, args.clients, args.seconds)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=15)
            asyncio.run(admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
