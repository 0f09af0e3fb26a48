"""Whole-ledger verification as a job, through HTTP, on SQLite and PostgreSQL.

Two apps over one database stand for two API processes: a job started through one is polled
through the other. The job's report is the one ``GET /v1/ledger/verify`` gives; a tampered ledger
gives a finished job whose report fails; a job left running by a process that died is failed by
the next process that looks; only auditors start or read jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from tests.api.conftest import settings_for
from tests.api.support import AUDITOR, INTAKE, ONE_ROLE, Api, bearer
from tests.audit.helpers import raw_sql
from tests.audit.tamper import update_event

Client = AsyncTestClient[Litestar]


@contextlib.asynccontextmanager
async def serving(url: str, key_dir: Path, *, checkpoints: bool) -> AsyncIterator[Client]:
    settings = settings_for(url, key_dir, checkpoint_seconds=0.1)
    async with AsyncTestClient(create_app(settings, checkpoints=checkpoints)) as client:
        yield client


@pytest.fixture
async def two(database_url: str, key_dir: Path) -> AsyncIterator[tuple[Client, Client]]:
    """Two API processes' apps over the same database (the first one signs checkpoints)."""
    async with (
        serving(database_url, key_dir, checkpoints=True) as a,
        serving(database_url, key_dir, checkpoints=False) as b,
    ):
        yield a, b


async def fill(client: Client, cases: int = 4) -> None:
    api = Api(client)
    for n in range(cases):
        case = await api.register(summary=f"职工反映单位欠缴社会保险费（{n}）")
        await api.do(
            INTAKE,
            case,
            "classify",
            {"classification": "general", "route": 5, "reason": "欠费争议，按职责办理"},
        )
    head = (await client.get("/ready")).json()["head"]
    for _ in range(200):  # until the signer has signed the whole log
        latest = await client.get("/v1/ledger/checkpoint", headers=bearer(AUDITOR))
        if latest.status_code == 200 and latest.json()["size"] == head:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no checkpoint of the whole log was signed")


async def poll(client: Client, location: str) -> dict[str, Any]:
    job: dict[str, Any] = {}
    for _ in range(400):
        response = await client.get(location, headers=bearer(AUDITOR))
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"the job did not finish: {job}")


async def start(client: Client) -> tuple[str, dict[str, Any]]:
    response = await client.post("/v1/ledger/verifications", headers=bearer(AUDITOR))
    assert response.status_code == 202, response.text
    location = response.headers["location"]
    body = response.json()
    assert location == f"/v1/ledger/verifications/{body['id']}"
    return location, body


def without_time(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "seconds"}


async def test_a_job_started_in_one_process_is_polled_to_its_report_in_another(
    two: tuple[Client, Client],
) -> None:
    a, b = two
    await fill(a)
    location, job = await start(a)
    assert job["status"] in ("queued", "running")
    assert (job["requested_by"], job["requested_by_name"]) == (AUDITOR.staff_id, AUDITOR.name)
    done = await poll(b, location)  # the other process answers from the database
    assert done["status"] == "done", done
    assert done["error"] is None
    started, finished = (datetime.fromisoformat(done[k]) for k in ("started_at", "finished_at"))
    requested = datetime.fromisoformat(done["requested_at"])
    assert requested <= started <= finished
    assert started.utcoffset() == timedelta(hours=8)  # shown in Asia/Shanghai
    report = done["report"]
    assert report["ok"] is True
    assert report["checkpoints_checked"] >= 1
    head = (await a.get("/ready")).json()["head"]
    assert report["events_checked"] == head
    assert done["progress"] == {"events_checked": head, "events_total": head, "fraction": 1.0}
    direct = (await b.get("/v1/ledger/verify", headers=bearer(AUDITOR))).json()
    assert without_time(report) == without_time(direct)


async def test_a_tampered_ledger_gives_a_finished_job_with_a_failing_report(
    database_url: str, two: tuple[Client, Client]
) -> None:
    a, b = two
    await fill(a)
    await update_event(database_url, 3, state=b'{"forged": true}')
    location, _ = await start(b)
    done = await poll(a, location)
    assert done["status"] == "done", done
    report = done["report"]
    assert report["ok"] is False
    assert report["first_bad_position"] == 3
    assert report["problem"].startswith("hash:")
    direct = (await a.get("/v1/ledger/verify", headers=bearer(AUDITOR))).json()
    assert without_time(report) == without_time(direct)


async def test_one_job_at_a_time_and_a_job_whose_process_died_is_failed(
    database_url: str, two: tuple[Client, Client]
) -> None:
    a, b = two
    await fill(a, cases=1)
    sqlite = database_url.startswith("sqlite")

    def at(moment: datetime) -> Any:
        return moment.isoformat(timespec="microseconds") if sqlite else moment

    # Another process runs a job: its heartbeat is fresh.
    other, now = uuid4(), datetime.now(UTC)
    await raw_sql(
        database_url,
        "INSERT INTO ledger_verifications (id, status, requested_by, requested_by_name, "
        "requested_at, started_at, heartbeat_at, owner, events_checked, events_total) "
        "VALUES ($1, 'running', 'A0002', '另一审计员', $2, $3, $4, 'elsewhere:4242:0', 7, 20)",
        str(other) if sqlite else other,
        at(now),
        at(now),
        at(now),
    )
    for client in (a, b, a):  # no second pass over the log: every request gets that job
        location, job = await start(client)
        assert (job["id"], job["status"], job["requested_by"]) == (str(other), "running", "A0002")
        assert job["progress"] == {"events_checked": 7, "events_total": 20, "fraction": 0.35}
    # Its process is killed: the heartbeat stops. The next process to look marks it failed.
    await raw_sql(
        database_url,
        "UPDATE ledger_verifications SET heartbeat_at = $1 WHERE id = $2",
        at(now - timedelta(minutes=1)),
        str(other) if sqlite else other,
    )
    left = (await b.get(location, headers=bearer(AUDITOR))).json()
    assert left["status"] == "failed"
    assert left["error"].startswith("the process running it stopped: no heartbeat since ")
    assert left["progress"]["events_checked"] == 7  # as far as it got
    assert (left["report"], left["finished_at"] is not None) == (None, True)
    # A new job may start now, and runs to its report.
    location, job = await start(a)
    assert job["id"] != str(other)
    assert job["requested_by"] == AUDITOR.staff_id
    assert (await poll(b, location))["report"]["ok"] is True
    missing = await a.get(f"/v1/ledger/verifications/{uuid4()}", headers=bearer(AUDITOR))
    assert (missing.status_code, missing.json()["code"]) == (404, "VERIFICATION_NOT_FOUND")


async def test_only_auditors_start_or_read_verifications(two: tuple[Client, Client]) -> None:
    a, _ = two
    location, _ = await start(a)
    for role, actor in ONE_ROLE.items():
        if role == "auditor":
            continue
        started = await a.post("/v1/ledger/verifications", headers=bearer(actor))
        assert (started.status_code, started.json()["code"]) == (403, "FORBIDDEN_ROLE"), role
        read = await a.get(location, headers=bearer(actor))
        assert (read.status_code, read.json()["code"]) == (403, "FORBIDDEN_ROLE"), role
    assert (await a.post("/v1/ledger/verifications")).status_code == 401
    await poll(a, location)
