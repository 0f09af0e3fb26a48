"""Findings charged by custody, forecasts and due-soon lists, through HTTP on SQLite and
PostgreSQL (DOMAIN.md, custody and early warning).

The end-to-end case: a general case registered by a tax intake clerk (tax.hall), transferred to
an hrss unit and accepted there by an hrss handler. An inspection as of a day past its deadline
charges its FR9 finding to the hrss unit and that handler, not to the clerk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.domain.context import SHANGHAI, Context, local_date
from tests.api.conftest import settings_for
from tests.api.support import (
    HANDLER,
    IDENTIFIER,
    INSPECTOR,
    INTAKE,
    OFFICE,
    Api,
    Case,
    held_by_hrss,
    listed,
    now,
)


@pytest.fixture
async def api(database_url: str, key_dir: Path) -> AsyncIterator[Api]:
    app = create_app(settings_for(database_url, key_dir), checkpoints=False)
    async with AsyncTestClient(app) as client:
        yield Api(client)


async def deadline_of(api: Api, case: Case) -> date:
    view = (await api.get(INSPECTOR, f"/v1/cases/{case.id}")).json()
    return date.fromisoformat(view["deadline"]["due"])


async def inspection(api: Api, **params: Any) -> dict[str, Any]:
    today = local_date(now())
    query = {"from": str(today - timedelta(days=1)), "to": str(today), **params}
    response = await api.get(INSPECTOR, "/v1/inspections/first-responders", **query)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def person(report: dict[str, Any], unit: str, staff_id: str) -> dict[str, Any] | None:
    return next(
        (s for s in report["staff"] if (s["unit"], s["staff_id"]) == (unit, staff_id)), None
    )


def checks_of(entry: dict[str, Any] | None, case: Case) -> set[str]:
    if entry is None:
        return set()
    return {f["check"] for f in entry["findings"] if f["case_id"] == case.id}


async def test_fr9_is_charged_to_the_hrss_unit_and_handler_holding_the_case(api: Api) -> None:
    case = await held_by_hrss(api)
    await listed(api, INSPECTOR, case.id, unit="hrss.social_insurance")  # read models caught up
    due = await deadline_of(api, case)
    past_due = datetime.combine(due + timedelta(days=2), time(10), SHANGHAI).isoformat()

    report = await inspection(api, as_of=past_due)
    assert report["forecast"] is True  # the day lies ahead: what will be overdue by then
    handler = person(report, "hrss.social_insurance", HANDLER.staff_id)
    clerk = person(report, "tax.hall", INTAKE.staff_id)
    assert handler is not None
    assert clerk is not None
    assert "FR9" in checks_of(handler, case)
    assert "FR9" not in checks_of(clerk, case)
    assert handler["name"] == HANDLER.name
    assert [c["case_id"] for c in clerk["received"]] == [case.id]
    assert case.id in {c["case_id"] for c in handler["held"]}
    assert case.id in {c["case_id"] for c in clerk["held"]}
    hrss = next(u for u in report["units"] if u["unit"] == "hrss.social_insurance")
    assert hrss["counts"]["FR9"] == 1
    assert hrss["cases_held"] == 1
    hall = next(u for u in report["units"] if u["unit"] == "tax.hall")
    assert hall["counts"]["FR9"] == 0

    # unit= keeps the unit the findings are charged to and the cases it held.
    only_hrss = await inspection(api, as_of=past_due, unit="hrss.social_insurance")
    assert [(s["unit"], s["staff_id"]) for s in only_hrss["staff"]] == [
        ("hrss.social_insurance", HANDLER.staff_id)
    ]
    assert "FR9" in checks_of(only_hrss["staff"][0], case)
    only_hall = await inspection(api, as_of=past_due, unit="tax.hall")
    assert all("FR9" not in checks_of(s, case) for s in only_hall["staff"])

    # Today nothing is overdue yet, and the report is no forecast.
    today = await inspection(api)
    assert today["forecast"] is False
    assert "FR9" not in checks_of(person(today, "hrss.social_insurance", HANDLER.staff_id), case)

    # The inspector reads the events the finding cites, payer identifiers masked; the full
    # history stays closed to inspectors.
    fr9 = next(f for f in handler["findings"] if f["check"] == "FR9")
    proving = await api.get(INSPECTOR, f"/v1/inspections/cases/{case.id}/events")
    assert proving.status_code == 200, proving.text
    events = proving.json()
    assert set(fr9["positions"]) <= {e["position"] for e in events}
    assert IDENTIFIER not in proving.text
    assert (await api.get(INSPECTOR, f"/v1/cases/{case.id}/events")).status_code == 403
    assert (await api.get(INTAKE, f"/v1/inspections/cases/{case.id}/events")).status_code == 403
    nowhere = f"/v1/inspections/cases/{uuid4()}/events"
    missing = await api.get(INSPECTOR, nowhere)
    assert missing.status_code == 404


async def test_due_within_lists_open_cases_falling_due_soon_per_holding_unit(api: Api) -> None:
    case = await held_by_hrss(api)
    due = await deadline_of(api, case)
    today = local_date(now())
    days, _ = Context().calendar.working_days_between(today, due)
    item = await listed(api, OFFICE, case.id, due_within=days)
    assert item["deadline"]["due"] == str(due)
    await listed(api, OFFICE, case.id, due_within=days, holding_unit="hrss.social_insurance")

    async def ids(**filters: Any) -> set[str]:
        page = (await api.get(OFFICE, "/v1/cases", limit=200, **filters)).json()
        return {i["case_id"] for i in page["items"]}

    assert case.id not in await ids(due_within=days - 1)
    assert case.id not in await ids(due_within=days, holding_unit="tax.hall")
    clash = await api.get(OFFICE, "/v1/cases", unit="tax.hall", holding_unit="hrss.window")
    assert clash.status_code == 400
    negative = await api.get(OFFICE, "/v1/cases", due_within=-1)
    assert negative.status_code == 400


CONSULT = {"units": ["tax.sif", "medical.agency"], "outcome": "会商确认缴费基数"}


async def test_a_joint_consultation_counts_for_its_recorder_and_every_unit_consulted(
    api: Api,
) -> None:
    case = await held_by_hrss(api)
    await asyncio.sleep(0.05)
    before = now()  # the log as it stood before the consultation
    await asyncio.sleep(0.05)
    view = await api.do(HANDLER, case, "consult", CONSULT)
    (consultation,) = view["consultations"]
    proof = [{"case_id": case.id, "positions": [consultation["position"]]}]
    at = now().isoformat()  # (waits for the read models to reach the consultation)

    report = await inspection(api, as_of=at)
    handler = person(report, "hrss.social_insurance", HANDLER.staff_id)
    assert handler is not None
    assert (handler["consultations"], handler["consulted"]) == (1, proof)
    clerk = person(report, "tax.hall", INTAKE.staff_id)  # received the case, did not consult
    assert clerk is not None
    assert (clerk["consultations"], clerk["consulted"]) == (0, [])
    units = {u["unit"]: u for u in report["units"]}
    for unit in ("hrss.social_insurance", "tax.sif", "medical.agency"):
        assert (units[unit]["consultations"], units[unit]["consulted"]) == (1, proof), unit
    assert units["tax.hall"]["consultations"] == 0

    # A consulted unit's report: the consultation is its; the recorder's unit is not reported.
    sif = await inspection(api, as_of=at, unit="tax.sif")
    assert [(u["unit"], u["consultations"], u["consulted"]) for u in sif["units"]] == [
        ("tax.sif", 1, proof)
    ]
    assert all(s["unit"] == "tax.sif" for s in sif["staff"])
    only_hrss = await inspection(api, as_of=at, unit="hrss.social_insurance")
    recorder = person(only_hrss, "hrss.social_insurance", HANDLER.staff_id)
    assert recorder is not None
    assert (recorder["consultations"], recorder["consulted"]) == (1, proof)

    # As of before it was recorded, nobody had consulted.
    earlier = await inspection(api, as_of=before.isoformat())
    assert all(s["consultations"] == 0 for s in earlier["staff"])
    assert all(u["consultations"] == 0 for u in earlier["units"])
    assert person(earlier, "hrss.social_insurance", HANDLER.staff_id) is not None  # it held it

    # A period that ends before the day it was held counts none.
    today = local_date(now())
    past = await inspection(
        api, **{"from": str(today - timedelta(days=9)), "to": str(today - timedelta(days=1))}
    )
    assert all(s["consultations"] == 0 for s in past["staff"])
    assert all(u["consultations"] == 0 for u in past["units"])
