"""Repeat trips (重复跑/多头跑, FR7) through HTTP on SQLite and PostgreSQL: the same payer
registered again through any channel and in any category while an earlier case is open, or
within the repeat window after it was closed (20 working days; 60 after an unsatisfied
feedback), and not linked to it. The registration's ``payer_cases`` lists the same cases the
finding names."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.domain.context import local_date
from ledger.domain.identifiers import make_credit_code
from tests.api.conftest import settings_for
from tests.api.support import (
    CLASSIFY,
    DECIDE,
    FEEDBACK,
    INSPECTOR,
    INTAKE,
    Api,
    Case,
    bearer,
    listed,
    now,
    registration,
)


@pytest.fixture
async def api(database_url: str, key_dir: Path) -> AsyncIterator[Api]:
    app = create_app(settings_for(database_url, key_dir), checkpoints=False)
    async with AsyncTestClient(app) as client:
        yield Api(client)


@contextmanager
def back_then(api: Api, moment: datetime) -> Iterator[None]:
    """The ledger's clock set to ``moment``: what is recorded meanwhile happened then."""
    service = api.client.app.state.ledger.service
    clock = service.clock
    service.clock = lambda: moment
    try:
        yield
    finally:
        service.clock = clock


def payer(org: str) -> dict[str, str]:
    return {
        "kind": "employer",
        "name": "潜江市兴达建筑工程有限公司",
        "identifier": make_credit_code(org=org),
        "phone": "13872001234",
    }


async def register(
    api: Api, org: str, at: datetime | None = None, **changes: Any
) -> dict[str, Any]:
    received = (at or now()) - timedelta(minutes=20)
    body = registration(payer=payer(org), received_at=received.isoformat(), **changes)
    response = await api.client.post("/v1/cases", json=body, headers=bearer(INTAKE))
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


async def closed_case(api: Api, org: str, days_ago: int, satisfaction: str = "satisfied") -> str:
    """A case of the payer closed ``days_ago`` calendar days ago."""
    then = now() - timedelta(days=days_ago)
    with back_then(api, then):
        body = await register(api, org, at=then)
        case = Case(body["case_id"], body["version"])
        for verb, sent in (
            ("classify", CLASSIFY),
            ("decide", DECIDE),
            ("feedback", {**FEEDBACK, "satisfaction": satisfaction}),
            ("close", {"summary": "已办结"}),
        ):
            await api.do(INTAKE, case, verb, sent)
    await listed(api, INSPECTOR, case.id, status="closed")
    return case.id


async def fr7(api: Api, case: dict[str, Any]) -> list[dict[str, Any]]:
    """The FR7 findings of ``case`` in an inspection of its day, as of now."""
    await listed(api, INSPECTOR, case["case_id"])
    day = str(local_date(datetime.fromisoformat(case["received_at"])))
    response = await api.get(
        INSPECTOR,
        "/v1/inspections/first-responders",
        **{"from": day, "to": day, "as_of": now().isoformat()},
    )
    assert response.status_code == 200, response.text
    return [
        f
        for person in response.json()["staff"]
        for f in person["findings"]
        if f["check"] == "FR7" and f["case_id"] == case["case_id"]
    ]


async def test_another_channel_and_category_while_open_is_a_repeat_trip(api: Api) -> None:
    first = await register(api, "MA4901001")  # service_window, employee_employer
    await listed(api, INSPECTOR, first["case_id"])  # the read models know it
    again = await register(api, "MA4901001", channel="wechat", category="assessment")
    assert [c["case_id"] for c in again["payer_cases"]] == [first["case_id"]]
    [finding] = await fr7(api, again)
    assert finding["positions"] == sorted([first["last_position"], again["last_position"]])
    # Linked to the earlier case, it is a repeat trip no more.
    case = Case(again["case_id"], again["version"])
    await api.do(INTAKE, case, "link", {"case_id": first["case_id"], "relation": "duplicate"})
    assert await fr7(api, again) == []  # (as of now: once the read models have the link)
    assert await fr7(api, first) == []


async def test_within_the_window_after_closure_is_a_repeat_trip_and_after_it_is_not(
    api: Api,
) -> None:
    # Closed 10 calendar days ago: at most 10 working days, within the 20 of the window.
    recent = await closed_case(api, "MA4901002", days_ago=10)
    again = await register(api, "MA4901002", channel="hotline_12345", category="payment")
    assert [c["case_id"] for c in again["payer_cases"]] == [recent]
    assert len(await fr7(api, again)) == 1
    # Closed 60 calendar days ago: more than 20 working days, whatever the holidays.
    old = await closed_case(api, "MA4901003", days_ago=60)
    later = await register(api, "MA4901003", channel="hotline_12345", category="payment")
    assert later["payer_cases"] == []
    assert await fr7(api, later) == []
    assert old


async def test_an_unsatisfied_feedback_lengthens_the_window(api: Api) -> None:
    # 60 calendar days are fewer than 60 working days, and more than 20.
    unsatisfied = await closed_case(api, "MA4901004", days_ago=60, satisfaction="unsatisfied")
    again = await register(api, "MA4901004", channel="visit", category="service")
    assert [c["case_id"] for c in again["payer_cases"]] == [unsatisfied]
    [finding] = await fr7(api, again)
    assert again["last_position"] in finding["positions"]
