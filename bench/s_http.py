"""Scenario 3 (and the API part of 9): the decide route over HTTP, against GET /health.

The API runs as docker-compose.yml deploys it: ``ledger serve --no-projector`` in its own
process (one uvicorn worker, with httptools and uvloop, signing checkpoints in the background), on
PostgreSQL, and ``ledger projections run`` as a second process keeping the read models current
while the load runs. The load comes from ``bench.loadgen`` in a third process: 32 keep-alive
connections in a closed loop.

- baseline: ``GET /health`` (no token, no database) — the cost of the HTTP stack itself on this
  machine, with the same server, client and concurrency;
- ours: ``POST /v1/cases/{id}/decide`` with a bearer token and ``If-Match``: the token is checked,
  the case read and folded, the rule checked, the event appended (group commit, hash chain, Merkle
  hook) and the case view computed for the response. Each client owns cases prepared beforehand
  (registered and classified through ``LedgerService``) and cycles through them, so cases stay
  short, as real ones are.
- memory: the server process's RSS is sampled all along; its peak under load vs its RSS when
  ready and idle.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.framework import (
    RESULTS,
    ROOT,
    Context,
    Row,
    RssSampler,
    ratio_row,
    skipped_row,
    stamp,
)
from ledger import commands as c
from ledger.demo_people import Cast, Payers
from ledger.domain.codes import Category, Channel, Classification
from ledger.domain.context import Context as DomainContext
from ledger.service import LedgerService

CLIENTS = 32
SECRET = "ledger-bench-secret-not-for-production"
DECIDE_BODY = {"outcome": "upheld", "finding": "经核实，单位少报缴费基数，已责令补缴差额"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare_cases(url: str, count: int) -> list[list[Any]]:
    """``count`` registered and classified cases ready for a decision: [[case_id, version], …]."""
    from ledger.audit.service import audit_hooks
    from ledger.store import open_store

    store = open_store(url, hooks=audit_hooks())
    await store.open()
    context = DomainContext()
    cast = Cast(context)
    payers = Payers(random.Random(3), context)
    clerk = cast.actor("intake_hall")
    now = datetime.now(UTC) - timedelta(hours=2)

    async def one(i: int) -> list[Any]:
        service = LedgerService(store, context, clock=lambda: now)
        registered = await service.register(
            clerk,
            c.Register(
                channel=Channel.SERVICE_WINDOW,
                received_at=now - timedelta(minutes=15),
                payer=payers.person(),
                jurisdiction="qj.yuanlin",
                category=Category.PAYMENT_RECORD,
                summary=f"职工反映部分月份养老保险缴费记录缺失（{i}）",
                preliminary_opinion="需核实缴费记录后答复",
            ),
        )
        classify = c.Classify(classification=Classification.SIMPLE, route=1, reason="当场核实")
        result = await service.execute(registered.case_id, clerk, classify, registered.version)
        return [str(result.case_id), result.version]

    try:
        out: list[list[Any]] = []
        for start in range(0, count, 64):
            out += await asyncio.gather(*(one(i) for i in range(start, min(count, start + 64))))
        return out
    finally:
        await store.close()


class Server:
    """``ledger serve --no-projector`` on a free port and ``ledger projections run`` beside it."""

    def __init__(self, url: str, key_dir: Path) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "LEDGER_DATABASE_URL": url,
            "LEDGER_JWT_SECRET": SECRET,
            "LEDGER_KEY_DIR": str(key_dir),
        }
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the server)
        ledger = [sys.executable, "-m", "ledger.cli"]
        serve = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--no-projector"]
        self.proc = subprocess.Popen(
            [*ledger, *serve, "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.projector = subprocess.Popen(
            [*ledger, "projections", "run"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in (self.proc, self.projector):
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args} exited {proc.returncode}: {self.output()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API did not answer /health within {timeout:.0f} s")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        for proc in (self.proc, self.projector):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.log.close()


def loadgen(spec: dict[str, Any]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", f.name],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _start_profile(pid: int, seconds: float, enabled: bool) -> tuple[Any, Path] | None:
    """py-spy the server during the decide load (``--profile``)."""
    if not enabled:
        return None
    from bench.profile import py_spy

    out = RESULTS / f"profile-http-{stamp()}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [py_spy(), "record", "--format", "raw", "--rate", "200", "-o", str(out)]
    command += ["--pid", str(pid), "--duration", str(round(seconds))]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def _finish_profile(spy: tuple[Any, Path] | None) -> None:
    if spy is None:
        return
    from bench.profile import summarise

    proc, out = spy
    proc.wait(timeout=120)
    if out.exists():
        print(f"   profile of the API under the decide load ({out}):")
        print("   " + summarise(out, 25).replace("\n", "\n   "))


def _init_keys(key_dir: Path) -> bool:
    """Ledger and witness keys, so the checkpoint scheduler runs as in production."""
    env = {**os.environ, "LEDGER_KEY_DIR": str(key_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "keys", "init"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    return done.returncode == 0


def measure(ctx: Context) -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        cfg = ctx.config
        url = ctx.fresh_database("http")
        per_client = 20 if cfg.quick else 100
        cases = asyncio.run(prepare_cases(url, CLIENTS * per_client))
        from api.auth import issue_token

        token = issue_token(SECRET, Cast(DomainContext()).actor("intake_hall"), hours=2)
        with tempfile.TemporaryDirectory() as keys:
            signing = _init_keys(Path(keys))
            server = Server(url, Path(keys))
            try:
                server.wait_ready()
                with RssSampler(server.proc.pid) as rss:
                    time.sleep(1.0)
                    idle = rss.sample() / 2**20
                    base = {"host": "127.0.0.1", "port": server.port, "warmup": cfg.warmup}
                    health = loadgen(
                        {
                            **base,
                            "seconds": cfg.seconds,
                            "clients": [{"kind": "get", "path": "/health"}] * CLIENTS,
                        }
                    )
                    spy = _start_profile(server.proc.pid, cfg.warmup + cfg.seconds, cfg.profile)
                    decide = loadgen(
                        {
                            **base,
                            "seconds": cfg.seconds,
                            "clients": [
                                {
                                    "kind": "decide",
                                    "token": token,
                                    "cases": cases[i::CLIENTS],
                                    "body": DECIDE_BODY,
                                }
                                for i in range(CLIENTS)
                            ],
                        }
                    )
                    peak = rss.peak_mb
                    _finish_profile(spy)
            finally:
                server.stop()
        return {
            "health": health,
            "decide": decide,
            "idle_mb": idle,
            "peak_mb": peak,
            "signing": signing,
        }

    return ctx.once("http", compute)


def _status_note(result: dict[str, Any]) -> str:
    statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(result["statuses"].items()))
    errors = f"; client errors {result['errors']}" if result["errors"] else ""
    return f"statuses {statuses}{errors}"


def scenario_http(ctx: Context) -> list[Row]:
    m = measure(ctx)
    health, decide = m["health"], m["decide"]
    ok = decide["statuses"].get("200", 0)
    if ok < 0.99 * sum(decide["statuses"].values()):
        raise RuntimeError(f"the decide route failed: {_status_note(decide)}")
    name = f"3 decide over HTTP, {CLIENTS} clients"
    return [
        ratio_row(
            name,
            "requests/s",
            "req/s",
            decide["requests_per_s"],
            health["requests_per_s"],
            "GET /health, same server",
            better="higher",
            min_ratio=0.3,
            notes=f"decide p50 {decide['p50_ms']:.1f} ms; {_status_note(decide)}; "
            f"checkpoint signing {'on' if m['signing'] else 'off (no keys)'}",
        ),
        ratio_row(
            name,
            "p99 latency",
            "ms",
            decide["p99_ms"],
            health["p99_ms"],
            "GET /health",
            better="lower",
            limit=50,
        ),
    ]


def memory_row(ctx: Context) -> Row:
    m = measure(ctx)
    return ratio_row(
        "9 memory: API under HTTP load",
        "peak RSS",
        "MB",
        m["peak_mb"],
        m["idle_mb"],
        "same server, ready and idle",
        better="lower",
        limit=300,
        notes="ratio = idle / peak",
    )


def scenario_memory(ctx: Context) -> list[Row]:
    from bench import s_audit, s_projections

    rows: list[Row] = []
    for what, make in (
        ("API", memory_row),
        ("rebuild", s_projections.memory_row),
        ("verify", s_audit.memory_row),
    ):
        try:
            rows.append(make(ctx))
        except Exception as exc:  # one missing piece must not hide the others
            rows.append(
                skipped_row(f"9 memory: {what}", "peak RSS", f"{type(exc).__name__}: {exc}")
            )
    return rows
