"""Department statistics (考核) through HTTP, on SQLite and PostgreSQL: a few cases whose
figures are counted by hand below, per unit, per department, per month, and as of an earlier
moment (reproducible: what was recorded later is not seen)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.domain.context import Context, local_date
from ledger.domain.identifiers import make_credit_code
from ledger.projections.statistics import months_of
from tests.api.conftest import settings_for
from tests.api.support import (
    AUDITOR,
    DECIDE,
    FEEDBACK,
    HANDLER,
    INSPECTOR,
    INTAKE,
    OFFICE,
    TRANSFER,
    Api,
    Case,
    bearer,
    now,
    registration,
)

GENERAL = {"classification": "general", "route": 2, "reason": "按职责办理"}
UNSATISFIED = {**FEEDBACK, "satisfaction": "unsatisfied"}
CLOSE = {"summary": "已办结"}
ZERO: dict[str, Any] = {
    "received": 0,
    "held": 0,
    "closed": 0,
    "closed_on_time": 0,
    "closed_on_time_percent": None,
    "overdue": 0,
    "median_handling_working_days": None,
    "feedback_given": 0,
    "satisfaction_percent": None,
    "unsatisfied": 0,
    "repeat_trips": 0,
    "returned_transfers": 0,
    "escalations": 0,
    "follow_ups": 0,
    "follow_up_flags": 0,
}


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


async def register(api: Api, org: str, received: datetime) -> Case:
    body = registration(payer=payer(org), received_at=received.isoformat())
    response = await api.client.post("/v1/cases", json=body, headers=bearer(INTAKE))
    assert response.status_code == 201, response.text
    return Case(response.json()["case_id"], response.json()["version"])


async def report(api: Api, actor: Any = OFFICE, **params: str) -> dict[str, Any]:
    """The report, once the read models hold every event recorded so far (as_of: then)."""
    head = (await api.client.get("/ready")).json()["head"]
    for _ in range(200):
        response = await api.get(actor, "/v1/statistics/units", **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if "as_of" in params or body["position"] >= head:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("the read models did not catch up")


def entry(body: dict[str, Any], unit: str) -> dict[str, Any]:
    (found,) = [u for u in body["units"] if u["unit"] == unit]
    return found


def department(body: dict[str, Any], code: str) -> dict[str, Any]:
    (found,) = [d for d in body["departments"] if d["department"] == code]
    return found


def measures(found: dict[str, Any]) -> dict[str, Any]:
    return {k: found[k] for k in ZERO}


async def test_statistics_match_the_cases_counted_by_hand(api: Api) -> None:
    today = local_date(now())
    # A: received and closed by the tax hall, fed back satisfied; on time (10 working days).
    a = await register(api, "MA4900781", now() - timedelta(seconds=5))
    for verb, body in (("classify", GENERAL), ("decide", DECIDE), ("feedback", FEEDBACK)):
        await api.do(INTAKE, a, verb, body)
    await api.do(INTAKE, a, "close", CLOSE)
    await asyncio.sleep(0.01)
    after_a = now()
    await asyncio.sleep(0.01)
    # B: sent to the HRSS bureau, returned as misrouted (退单: the hall's), sent again and
    # accepted; decided, fed back unsatisfied and closed there.
    b = await register(api, "MA4900782", now() - timedelta(seconds=5))
    await api.do(INTAKE, b, "classify", GENERAL)
    await api.do(INTAKE, b, "transfer", TRANSFER)
    await api.do(HANDLER, b, "return", {"reason": "不属本单位"})
    await api.do(INTAKE, b, "transfer", TRANSFER)
    await api.do(HANDLER, b, "accept", {"note": "签收"})
    for verb, body in (("decide", DECIDE), ("feedback", UNSATISFIED), ("close", CLOSE)):
        await api.do(HANDLER, b, verb, body)
    # C: received 40 days ago, general (10 working days): overdue, held by the hall, escalated.
    received_c = now() - timedelta(days=40)
    c = await register(api, "MA4900783", received_c)
    await api.do(INTAKE, c, "classify", GENERAL)
    await api.do(INTAKE, c, "escalate", {"reason": "重大疑难"})
    # D: the same payer and category again while C is open (重复跑), and linked to it.
    d = await register(api, "MA4900783", now() - timedelta(seconds=5))
    await api.do(INTAKE, d, "link", {"case_id": c.id, "relation": "duplicate"})
    # Follow-up visits (回访): A's payer is now unsatisfied (flagged), B's satisfied.
    await api.do(INTAKE, a, "follow-up", {**UNSATISFIED, "content": "回访：仍有异议"})
    await api.do(HANDLER, b, "follow-up", {**FEEDBACK, "content": "回访：满意"})

    period_from = local_date(received_c) - timedelta(days=1)
    params = {"from": period_from.isoformat(), "to": today.isoformat()}
    body = await report(api, **params)
    days_a = Context().calendar.working_days_between(today, local_date(now()))[0]
    hall = {
        **ZERO,
        "received": 4,
        "held": 2,  # C and D
        "closed": 1,  # A
        "closed_on_time": 1,
        "closed_on_time_percent": 100.0,
        "overdue": 1,  # C
        "median_handling_working_days": float(days_a),
        "feedback_given": 1,
        "satisfaction_percent": 50.0,  # A's feedback satisfied, its follow-up not
        "unsatisfied": 1,
        "follow_ups": 1,
        "follow_up_flags": 1,  # A
        "repeat_trips": 1,  # D
        "returned_transfers": 1,  # B's first transfer
        "escalations": 1,  # C
    }
    hrss = {
        **ZERO,
        "closed": 1,  # B
        "closed_on_time": 1,
        "closed_on_time_percent": 100.0,
        "median_handling_working_days": float(days_a),
        "feedback_given": 1,
        "satisfaction_percent": 50.0,  # B's feedback unsatisfied, its follow-up satisfied
        "unsatisfied": 1,
        "follow_ups": 1,
    }
    assert measures(entry(body, "tax.hall")) == hall
    assert entry(body, "tax.hall")["department"] == "tax"
    assert measures(entry(body, "hrss.social_insurance")) == hrss
    assert measures(entry(body, "medical.agency")) == ZERO
    assert measures(department(body, "tax")) == hall
    assert measures(department(body, "hrss")) == hrss
    assert measures(department(body, "medical")) == ZERO

    # The monthly series: C in its month; the rest in this one. Nothing was recorded before
    # today, so at the end of every earlier month nothing was held.
    months = months_of(period_from, today)
    series = {m["month"]: m for m in entry(body, "tax.hall")["months"]}
    assert list(series) == months
    month_c, this_month = local_date(received_c).strftime("%Y-%m"), today.strftime("%Y-%m")
    for month in months:
        expected = dict(ZERO)
        if month == month_c:
            expected |= {"received": 1, "repeat_trips": 0}
        if month == this_month:
            expected |= {**hall, "received": 3 if month_c != this_month else 4}
        assert measures(series[month]) == expected, month

    # As of the moment after A closed: only A, whatever was recorded since.
    earlier = await report(api, INSPECTOR, **params, as_of=after_a.isoformat())
    assert measures(entry(earlier, "tax.hall")) == {
        **ZERO,
        "received": 1,
        "closed": 1,
        "closed_on_time": 1,
        "closed_on_time_percent": 100.0,
        "median_handling_working_days": float(days_a),
        "feedback_given": 1,
        "satisfaction_percent": 100.0,
    }
    assert measures(entry(earlier, "hrss.social_insurance")) == ZERO
    again = await report(api, AUDITOR, **params, as_of=after_a.isoformat())
    assert again == earlier

    # The office records why A is not reopened: the flag is down from then on, still up before.
    await asyncio.sleep(0.01)
    before_resolution = now()
    await asyncio.sleep(0.01)
    await api.do(OFFICE, a, "follow-up-resolved", {"reason": "已解释政策，诉求无法支持"})
    body = await report(api, **params)
    assert entry(body, "tax.hall")["follow_up_flags"] == 0
    assert department(body, "tax")["follow_up_flags"] == 0
    then = await report(api, **params, as_of=before_resolution.isoformat())
    assert measures(entry(then, "tax.hall")) == hall


async def test_statistics_are_for_the_office_inspectors_and_auditors(api: Api) -> None:
    params = {"from": "2026-01-01", "to": "2026-01-31"}
    for actor in (INTAKE, HANDLER):
        response = await api.get(actor, "/v1/statistics/units", **params)
        assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN_ROLE")
    inverted = await api.get(
        OFFICE, "/v1/statistics/units", **{"from": "2026-02-01", "to": "2026-01-01"}
    )
    assert inverted.status_code == 400
