"""A PostgreSQL that stops answering without closing its connections (SIGSTOP of the whole
cluster: a frozen host) while clients write and read: every request is answered within 5 s,
``/ready`` within 2 s, nothing acknowledged is lost, and the same server process recovers."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from ledger.audit.keys import init_keys
from tests.api.processes import free_port, output_of, served, server_env, wait_until_healthy
from tests.api.support import INTAKE, bearer, registration
from tests.ops.cluster import Cluster

pytestmark = pytest.mark.slow

FREEZE_SECONDS = 10.0
ANSWER_WITHIN = 5.0
READY_WITHIN = 2.0


@dataclass
class Seen:
    started: float  # seconds since the load began
    route: str
    status: int
    elapsed: float
    retry_after: str | None = None
    media_type: str = ""


@dataclass
class Load:
    seen: list[Seen] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)  # case ids answered 201
    begun: float = field(default_factory=time.monotonic)

    async def call(
        self, client: httpx.AsyncClient, route: str, method: str, url: str, **kw: object
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await client.request(method, url, **kw)  # type: ignore[arg-type]
        except httpx.TimeoutException:
            # Longer than the client's own patience: recorded as a 0 answer, fails below.
            self.seen.append(Seen(started - self.begun, route, 0, time.monotonic() - started))
            return None
        self.seen.append(
            Seen(
                started - self.begun,
                route,
                response.status_code,
                time.monotonic() - started,
                response.headers.get("retry-after"),
                response.headers.get("content-type", ""),
            )
        )
        return response


async def _writer(load: Load, client: httpx.AsyncClient, until: float) -> None:
    while time.monotonic() < until:
        key = str(uuid.uuid4())
        headers = {**bearer(INTAKE), "Idempotency-Key": key}
        response = await load.call(
            client, "register", "POST", "/v1/cases", json=registration(), headers=headers
        )
        if response is not None and response.status_code == 201:
            load.acknowledged.append(response.json()["case_id"])
        await asyncio.sleep(0.05)


async def _reader(load: Load, client: httpx.AsyncClient, until: float) -> None:
    while time.monotonic() < until:
        await load.call(client, "ready", "GET", "/ready")
        if load.acknowledged:
            case_id = load.acknowledged[-1]
            await load.call(
                client, "case", "GET", f"/v1/cases/{case_id}/events", headers=bearer(INTAKE)
            )
        await load.call(client, "list", "GET", "/v1/cases", headers=bearer(INTAKE))
        await asyncio.sleep(0.1)


async def _run(base_url: str, cluster: Cluster) -> tuple[Load, float, float]:
    load = Load()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        end = time.monotonic() + 3 + FREEZE_SECONDS + 10
        workers = [
            *(asyncio.create_task(_writer(load, client, end)) for _ in range(3)),
            *(asyncio.create_task(_reader(load, client, end)) for _ in range(2)),
        ]
        await asyncio.sleep(3)
        frozen_at = time.monotonic() - load.begun
        stopped = await asyncio.to_thread(cluster.freeze)
        assert stopped >= 3, "the postmaster and its backends are stopped"
        await asyncio.sleep(FREEZE_SECONDS)
        await asyncio.to_thread(cluster.thaw)
        thawed_at = time.monotonic() - load.begun
        await asyncio.gather(*workers)
    return load, frozen_at, thawed_at


async def _recorded_cases(url: str) -> set[str]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        rows = await conn.fetch("SELECT DISTINCT case_id FROM ledger_events")
    finally:
        await conn.close()
    return {str(row[0]) for row in rows}


def test_a_frozen_database_gives_timely_503s_loses_nothing_and_recovers(
    tmp_path: Path, cluster: Cluster, cluster_database: str
) -> None:
    key_dir = tmp_path / "keys"
    init_keys(key_dir)
    env = server_env(cluster_database, key_dir)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with served(["serve", "--port", str(port), "--log-level", "warning"], env) as process:
        wait_until_healthy(base_url, process)
        load, frozen_at, thawed_at = asyncio.run(_run(base_url, cluster))
        assert process.poll() is None, output_of(process)
        log = output_of(process)
    recorded = asyncio.run(_recorded_cases(cluster_database))

    during = [s for s in load.seen if frozen_at + 0.5 < s.started < thawed_at - ANSWER_WITHIN]
    after = [s for s in load.seen if s.started > thawed_at + 2]
    slowest = max(load.seen, key=lambda s: s.elapsed)
    report = (
        f"{len(load.seen)} requests, slowest {slowest.route} {slowest.elapsed:.2f} s;"
        f" {len(load.acknowledged)} acknowledged"
    )
    refused = sorted(s.elapsed for s in load.seen if s.status == 503 and s.route != "ready")
    fastest, slowest_refusal = (refused[0], refused[-1]) if refused else (math.nan, math.nan)
    ready = max(s.elapsed for s in load.seen if s.route == "ready")
    resumed = min(
        (
            s.started + s.elapsed - thawed_at
            for s in load.seen
            if s.started > thawed_at and s.route == "register" and s.status == 201
        ),
        default=math.nan,
    )
    print(
        f"{report}; 503s: {len(refused)}, answered in {fastest:.2f}–{slowest_refusal:.2f} s;"
        f" /ready at most {ready:.2f} s; first write after the thaw {resumed:.2f} s"
    )
    assert slowest.elapsed < ANSWER_WITHIN, report
    assert all(s.status in (200, 201, 503) for s in load.seen), [
        (s.route, s.status) for s in load.seen if s.status not in (200, 201, 503)
    ]
    for seen in load.seen:
        if seen.status == 503 and seen.route != "ready":
            assert seen.retry_after is not None, seen
            assert seen.media_type.startswith("application/problem+json"), seen
    assert max(s.elapsed for s in load.seen if s.route == "ready") < READY_WITHIN
    # The freeze was felt: writes and readiness failed while it lasted …
    assert any(s.route == "register" and s.status == 503 for s in during), report
    assert all(s.status == 503 for s in during if s.route in ("register", "ready")), report
    # … and the same process serves writes again after it, without a restart.
    assert any(s.route == "register" and s.status == 201 for s in after), report
    assert all(s.status in (200, 201) for s in after), [
        (s.route, s.status) for s in after if s.status not in (200, 201)
    ]
    # Nothing acknowledged is lost.
    assert set(load.acknowledged) <= recorded, report
    # Outages are warnings of one line, never internal errors.
    assert "unhandled error" not in log, log[-3000:]
    assert "checkpoint round failed" not in log, log[-3000:]
