"""What an operator sees: Prometheus metrics per route and of the store, a request id on every
response and problem, and one JSON access-log line per request that never holds identifiers,
phone numbers, tokens or query strings."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.auth import issue_token
from ledger.audit.checkpoints import cosign, open_checkpoint
from ledger.audit.keys import KeyConfig, init_keys, load_signer
from ledger.audit.service import AuditService
from ledger.config import Settings
from ledger.domain.codes import Department, Role
from tests.api.processes import free_port, output_of, served, server_env, wait_until_healthy
from tests.api.support import (
    IDENTIFIER,
    INTAKE,
    PHONE,
    SECRET,
    Api,
    bearer,
    registration,
    staff,
)


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    key_dir = tmp_path / "keys"
    init_keys(key_dir)
    settings = Settings(
        database_url=database_url, key_dir=str(key_dir), jwt_secret=SECRET, checkpoint_seconds=0.2
    )
    async with AsyncTestClient(create_app(settings)) as client:
        yield client


def _samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of the samples of metric ``name`` in a Prometheus exposition."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            labels, _, value = line[len(name) :].rpartition(" ")
            found[labels] = float(value)
    return found


async def test_metrics_measure_routes_appends_batches_lag_and_checkpoints(
    client: AsyncTestClient[Litestar], database_url: str, tmp_path: Path
) -> None:
    case = await Api(client).register()
    assert (await client.get(f"/v1/cases/{case.id}", headers=bearer(INTAKE))).status_code == 200
    for _ in range(50):  # until a checkpoint is signed and the runner caught up
        if (await client.get("/ready")).json()["lag"] == 0:
            text = (await client.get("/metrics")).text
            if _samples(text, "ledger_last_checkpoint_size").get("", 0) >= 1:
                break
        await asyncio.sleep(0.1)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    durations = _samples(text, "ledger_http_request_duration_seconds_count")
    # Per route template and status, never per case id.
    assert any('path="/v1/cases/{case_id}"' in k and 'status_code="200"' in k for k in durations), (
        durations
    )
    assert any('path="/v1/cases"' in k and 'status_code="201"' in k for k in durations)
    assert case.id not in text
    assert _samples(text, "ledger_append_seconds_count")[""] >= 1
    assert _samples(text, "ledger_group_commit_batch_size_count")[""] >= 1
    assert _samples(text, "ledger_projection_lag_events") == {"": 0.0}
    assert _samples(text, "ledger_log_head")[""] >= 1
    age = _samples(text, "ledger_last_checkpoint_age_seconds")[""]
    assert 0 <= age < 30
    assert _samples(text, "ledger_last_checkpoint_cosignatures")[""] == 0
    # A witness co-signs the latest checkpoint: its age is measured too.
    await _cosign(database_url, tmp_path / "keys")
    text = (await client.get("/metrics")).text
    assert _samples(text, "ledger_last_checkpoint_cosignatures")[""] == 1
    assert 0 <= _samples(text, "ledger_last_cosignature_age_seconds")[""] < 30


async def test_metrics_show_the_last_verification_of_the_whole_ledger(
    client: AsyncTestClient[Litestar],
) -> None:
    await Api(client).register()
    text = (await client.get("/metrics")).text
    assert str(_samples(text, "ledger_last_verify_ok")[""]) == "nan"  # none yet
    auditor = staff("A0002", "审计员", "tax.office", Department.TAX, Role.AUDITOR)
    report = (await client.get("/v1/ledger/verify", headers=bearer(auditor))).json()
    assert report["ok"]
    text = (await client.get("/metrics")).text
    assert _samples(text, "ledger_last_verify_ok")[""] == 1.0
    assert _samples(text, "ledger_last_verify_events")[""] == report["events_checked"] >= 1
    assert 0 <= _samples(text, "ledger_last_verify_age_seconds")[""] < 30


async def _cosign(url: str, key_dir: Path) -> None:
    keys = msgspec.structs.replace(KeyConfig.from_env(), key_dir=key_dir)
    audit = await AuditService.open(url, keys, signing=False)
    try:
        latest = await audit.latest_checkpoint()
        assert latest is not None
        checkpoint, _ = open_checkpoint(latest.note, audit.trusted.ledger)
        witness = load_signer(key_dir / "witness-tax.key")
        await audit.add_cosignature(latest.size, cosign(checkpoint, witness).line())
    finally:
        await audit.close()


async def test_every_problem_carries_the_request_id_of_its_response(
    client: AsyncTestClient[Litestar],
) -> None:
    unrouted = await client.get("/no/such/route")
    refused = await client.post("/v1/cases", json={}, headers=bearer(INTAKE))
    unauthenticated = await client.get("/v1/cases")
    for response in (unrouted, refused, unauthenticated):
        assert response.headers["content-type"] == "application/problem+json"
        request_id = response.headers["x-request-id"]
        assert len(request_id) == 32
        assert response.json()["request_id"] == request_id
    assert len({r.headers["x-request-id"] for r in (unrouted, refused, unauthenticated)}) == 3
    # A client's own id is kept when it is a plain token, and replaced otherwise.
    given = await client.get("/nowhere", headers={"X-Request-ID": "lb-7f3a.01"})
    assert given.json()["request_id"] == given.headers["x-request-id"] == "lb-7f3a.01"
    odd = await client.get("/nowhere", headers={"X-Request-ID": "a b;" + "x" * 80})
    assert len(odd.headers["x-request-id"]) == 32


@pytest.mark.slow
def test_the_access_log_is_one_json_line_per_request_without_secrets(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    env = server_env(f"sqlite:///{tmp_path / 'ledger.db'}", key_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = issue_token(SECRET, INTAKE)
    args = ["serve", "--port", str(port), "--demo-cases", "0"]
    with served(args, env) as process:
        wait_until_healthy(base, process)
        with httpx.Client(base_url=base, timeout=10) as http:
            created = http.post("/v1/cases", json=registration(), headers=bearer(INTAKE))
            assert created.status_code == 201
            case_id = created.json()["case_id"]
            http.get(f"/v1/cases/{case_id}", headers=bearer(INTAKE))
            leaked = http.get("/v1/cases", params={"token": token, "payer": IDENTIFIER})
            assert leaked.status_code == 401
            http.get(f"/v1/cases/{uuid.uuid4()}", params={"phone": PHONE}, headers=bearer(INTAKE))
        log = output_of(process)
    # All of it JSON, but for the command's own words before the server starts.
    said = [line for line in log.splitlines() if line.strip()]
    assert all(line.startswith(("{", "ledger serve: ")) for line in said), said
    lines = [json.loads(line) for line in said if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "api.access"]
    assert len(access) >= 5  # /health polls, the writes and reads above
    by_status = {(a["method"], a["route"], a["status"]) for a in access}
    assert ("POST", "/v1/cases", 201) in by_status
    assert ("GET", "/v1/cases/{case_id}", 200) in by_status
    assert ("GET", "/v1/cases", 401) in by_status
    assert ("GET", "/v1/cases/{case_id}", 404) in by_status
    for line in access:
        assert set(line) >= {"request_id", "route", "status", "duration_ms", "staff_id"}, line
        assert isinstance(line["duration_ms"], float)
    assert {a["staff_id"] for a in access if a["status"] == 201} == {INTAKE.staff_id}
    for secret in (token, token.split(".")[1], IDENTIFIER, PHONE, case_id, "token="):
        assert secret not in log, secret
