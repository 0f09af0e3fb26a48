"""A case from registration to closure through a real server process on PostgreSQL, over HTTP.

Each step is taken by a token of the unit and role that may take it; court referral is refused
on a case whose demand notice was served 2 days ago and accepted on one served 11 days ago
(R5, 行政强制法 第五十四条). Then the auditor reads the history, the case as it stood at an
earlier version, and the accountability trail.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.api.support import (
    AUDITOR,
    CLASSIFY,
    CONFIRM,
    DECIDE,
    ENFORCEMENT,
    FEEDBACK,
    HANDLER,
    INSPECTOR,
    INTAKE,
    REFER,
    TRANSFER,
    Api,
    Case,
    bearer,
    demand_notice,
    held_by_hrss,
    received_days_ago,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
async def api(live_server: str) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        yield Api(client)


async def ready_for_court(api: Api, served_days_ago: float) -> Case:
    case = await held_by_hrss(api, received_at=received_days_ago(served_days_ago + 1))
    await api.do(HANDLER, case, "decide", DECIDE)  # upheld: the facts are established
    await api.do(ENFORCEMENT, case, "demand-notice", demand_notice(served_days_ago))
    await api.do(ENFORCEMENT, case, "confirm-arrears", CONFIRM)
    return case


async def test_a_case_goes_from_registration_to_closure_by_the_right_hands(api: Api) -> None:
    case = await api.register(INTAKE, received_at=received_days_ago(12))
    assert (await api.do(INTAKE, case, "classify", CLASSIFY))["status"] == "classified"
    assert (await api.do(INTAKE, case, "transfer", TRANSFER))["pending_transfer"]["to_unit"] == (
        HANDLER.unit
    )
    assert (await api.do(HANDLER, case, "accept", {"note": "签收"}))["holding_unit"] == HANDLER.unit
    assert (await api.do(HANDLER, case, "decide", DECIDE))["status"] == "decided"
    await api.do(ENFORCEMENT, case, "demand-notice", demand_notice(days_ago=11))
    confirmed = await api.do(ENFORCEMENT, case, "confirm-arrears", CONFIRM)
    assert confirmed["enforcement"]["arrears_amount"] == "52000.00"
    referred = await api.do(ENFORCEMENT, case, "refer-to-court", REFER)
    assert referred["status"] == "referred_to_court"
    assert referred["enforcement"]["court"] == REFER["court"]
    assert (await api.do(HANDLER, case, "feedback", FEEDBACK))["satisfaction"] == "satisfied"
    closed = await api.do(HANDLER, case, "close", {"summary": "已申请法院强制执行，办结"})
    assert closed["status"] == "closed"
    assert closed["version"] == 10

    # The auditor: the complete history, chained, in order.
    events = (await api.get(AUDITOR, f"/v1/cases/{case.id}/events")).json()
    assert [e["topic"].removeprefix("ledger.") for e in events] == [
        "Registered",
        "Classified",
        "Transferred",
        "Accepted",
        "Decided",
        "DemandNoticeServed",
        "ArrearsConfirmed",
        "ReferredToCourt",
        "FeedbackGiven",
        "Closed",
    ]
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(events))
    assert events[7]["data"]["actor"]["unit"] == ENFORCEMENT.unit
    # … the case as it stood when it was decided …
    decided = await api.get(AUDITOR, f"/v1/cases/{case.id}", version=5)
    assert decided.headers["etag"] == '"5"'
    assert decided.json()["status"] == "decided"
    assert decided.json()["enforcement"] is None
    # … and the trail, once the projector has applied the closure.
    trail = await _trail_when(api, case.id, lambda t: t["custody"][-1]["ended"] == "closed")
    assert [(p["unit"], p["ended"]) for p in trail["custody"]] == [
        (INTAKE.unit, "transferred"),
        (HANDLER.unit, "closed"),
    ]


async def test_court_referral_refused_until_ten_days_after_demand_notice(api: Api) -> None:
    early = await ready_for_court(api, served_days_ago=2)
    refused = await api.post(ENFORCEMENT, early, "refer-to-court", REFER)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["code"] == "R5_COURT_REFERRAL_PRECONDITIONS"
    assert problem["rule"] == "R5"
    assert "10 days" in problem["detail"]
    events = (await api.get(AUDITOR, f"/v1/cases/{early.id}/events")).json()
    assert len(events) == early.version  # nothing recorded

    late = await ready_for_court(api, served_days_ago=11)
    assert (await api.do(ENFORCEMENT, late, "refer-to-court", REFER))["status"] == (
        "referred_to_court"
    )


async def _trail_when(
    api: Api, case_id: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    for _ in range(100):
        response = await api.get(INSPECTOR, f"/v1/cases/{case_id}/trail")
        if response.status_code == 200 and done(response.json()):
            trail: dict[str, Any] = response.json()
            return trail
        await asyncio.sleep(0.1)
    raise AssertionError("the trail never showed the closure")


async def test_two_if_match_headers_are_400_even_when_the_first_is_current(api: Api) -> None:
    """Through the real server: uvicorn hands both headers on, and a header parameter would
    see only the first, so a client that sent two must be told."""
    case = await api.register()
    headers = [*bearer(INTAKE).items(), ("If-Match", '"1"'), ("If-Match", '"99"')]
    response = await api.client.post(
        f"/v1/cases/{case.id}/classify", json=CLASSIFY, headers=headers
    )
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_IF_MATCH")
    current = await api.client.get(f"/v1/cases/{case.id}", headers=bearer(INTAKE))
    assert current.json()["version"] == 1
