"""A registration lists the payer's open and recently closed cases, whatever their channel and
category, so that the clerk links the new case instead of opening a duplicate (重复跑, FR7);
through HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.domain.identifiers import make_credit_code
from tests.api.conftest import settings_for
from tests.api.support import (
    CLASSIFY,
    DECIDE,
    FEEDBACK,
    INTAKE,
    OFFICE,
    Api,
    Case,
    bearer,
    registration,
)


@pytest.fixture
async def api(database_url: str, key_dir: Path) -> AsyncIterator[Api]:
    app = create_app(settings_for(database_url, key_dir), checkpoints=False)
    async with AsyncTestClient(app) as client:
        yield Api(client)


def payer(org: str) -> dict[str, str]:
    return {
        "kind": "employer",
        "name": "潜江市兴达建筑工程有限公司",
        "identifier": make_credit_code(org=org),
        "phone": "13872001234",
    }


async def register(api: Api, org: str, **changes: Any) -> dict[str, Any]:
    body = registration(payer=payer(org), **changes)
    response = await api.client.post("/v1/cases", json=body, headers=bearer(INTAKE))
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


async def projected(api: Api, case_id: str, status: str) -> None:
    for _ in range(200):
        view = (await api.get(OFFICE, "/v1/cases", limit=200)).json()["items"]
        if any(v["case_id"] == case_id and v["status"] == status for v in view):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"case {case_id} never reached {status} in the read models")


async def test_a_registration_lists_the_payers_open_and_recent_cases(api: Api) -> None:
    closed = await register(api, "MA4900791")
    case = Case(closed["case_id"], closed["version"])
    for verb, body in (("classify", CLASSIFY), ("decide", DECIDE), ("feedback", FEEDBACK)):
        await api.do(INTAKE, case, verb, body)
    await api.do(INTAKE, case, "close", {"summary": "已办结"})
    still_open = await register(
        api, "MA4900791", channel="hotline_12345", category="payment_record"
    )
    other_payer = await register(api, "MA4900792")
    await projected(api, closed["case_id"], "closed")
    await projected(api, still_open["case_id"], "registered")
    await projected(api, other_payer["case_id"], "registered")
    # The same payer again, through another channel and in another category.
    again = await register(api, "MA4900791", channel="wechat", category="assessment")
    listed = {c["case_id"]: c for c in again["payer_cases"]}
    assert set(listed) == {closed["case_id"], still_open["case_id"]}
    assert listed[closed["case_id"]]["case_number"] == closed["case_number"]
    assert listed[closed["case_id"]]["status"] == "closed"
    assert listed[closed["case_id"]]["closed_at"] is not None
    assert listed[still_open["case_id"]]["case_number"] == still_open["case_number"]
    assert (listed[still_open["case_id"]]["status"], listed[still_open["case_id"]]["channel"]) == (
        "registered",
        "hotline_12345",
    )
    # The newest first; a payer with no other case gets an empty list.
    assert [c["case_id"] for c in again["payer_cases"]] == [
        still_open["case_id"],
        closed["case_id"],
    ]
    first = await register(api, "MA4900793")
    assert first["payer_cases"] == []
