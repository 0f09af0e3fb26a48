"""The cases behind a number of the department statistics, through HTTP on SQLite and
PostgreSQL: ``GET /v1/cases?statistic=…`` lists exactly the cases ``GET /v1/statistics/units``
counts, per unit, per department, per month; bad combinations are refused with 400."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.domain.context import local_date
from tests.api.conftest import settings_for
from tests.api.support import DECIDE, FEEDBACK, HANDLER, INTAKE, OFFICE, TRANSFER, Api, Case, now
from tests.api.test_exports import data_rows, recorded, workbook
from tests.api.test_statistics import CLOSE, GENERAL, UNSATISFIED, register, report


@pytest.fixture
async def api(database_url: str, key_dir: Path) -> AsyncIterator[Api]:
    app = create_app(settings_for(database_url, key_dir), checkpoints=False)
    async with AsyncTestClient(app) as client:
        yield Api(client)


# The report's numbers a case counts at most once in (the others count events: see below).
ONCE = {
    "received": "received",
    "repeat_trips": "repeat_trips",
    "closed": "closed",
    "closed_on_time": "closed_on_time",
    "held": "held",
    "overdue": "overdue",
}
# Each case here has at most one event of each kind, so these match the number too.
EVENTS = {
    "feedback_given": "feedback_given",
    "unsatisfied": "unsatisfied",
    "returned_transfers": "returned_transfers",
    "escalations": "escalations",
    "follow_ups": "follow_ups",
}


async def populate(api: Api) -> dict[str, Case]:
    """The cases of tests/api/test_statistics.py: A closed on time at the hall (its follow-up
    unsatisfied), B returned once then closed by HRSS, C overdue and escalated, D a repeat
    trip of C."""
    a = await register(api, "MA4900791", now() - timedelta(seconds=5))
    for verb, body in (("classify", GENERAL), ("decide", DECIDE), ("feedback", FEEDBACK)):
        await api.do(INTAKE, a, verb, body)
    await api.do(INTAKE, a, "close", CLOSE)
    b = await register(api, "MA4900792", now() - timedelta(seconds=5))
    await api.do(INTAKE, b, "classify", GENERAL)
    await api.do(INTAKE, b, "transfer", TRANSFER)
    await api.do(HANDLER, b, "return", {"reason": "不属本单位"})
    await api.do(INTAKE, b, "transfer", TRANSFER)
    await api.do(HANDLER, b, "accept", {"note": "签收"})
    for verb, body in (("decide", DECIDE), ("feedback", UNSATISFIED), ("close", CLOSE)):
        await api.do(HANDLER, b, verb, body)
    c = await register(api, "MA4900793", now() - timedelta(days=40))
    await api.do(INTAKE, c, "classify", GENERAL)
    await api.do(INTAKE, c, "escalate", {"reason": "重大疑难"})
    d = await register(api, "MA4900793", now() - timedelta(seconds=5))
    await api.do(INTAKE, d, "link", {"case_id": c.id, "relation": "duplicate"})
    await api.do(INTAKE, a, "follow-up", {**UNSATISFIED, "content": "回访：仍有异议"})
    await api.do(HANDLER, b, "follow-up", {**FEEDBACK, "content": "回访：满意"})
    return {"A": a, "B": b, "C": c, "D": d}


async def listed(api: Api, **params: Any) -> list[str]:
    """The ids of every case the listing finds, over all its pages."""
    found: list[str] = []
    cursor = None
    while True:
        query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        response = await api.get(OFFICE, "/v1/cases", **query)
        assert response.status_code == 200, response.text
        body = response.json()
        found += [item["case_id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def period(received_c: date) -> dict[str, str]:
    return {
        "from": (received_c - timedelta(days=1)).isoformat(),
        "to": local_date(now()).isoformat(),
    }


async def test_every_number_lists_the_cases_it_counts(api: Api) -> None:
    cases = await populate(api)
    ids = {name: case.id for name, case in cases.items()}
    received_c = local_date(now() - timedelta(days=40))
    params = period(received_c)
    body = await report(api, **params)
    window = {"statistic_from": params["from"], "statistic_to": params["to"]}
    await _caught_up(api, body["position"])

    for entry in body["units"]:
        for number, measure in {**ONCE, **EVENTS}.items():
            stock = measure in ("held", "overdue")
            found = await listed(
                api,
                statistic=measure,
                statistic_unit=entry["unit"],
                **({} if stock else window),
            )
            assert len(found) == len(set(found)) == entry[number], (entry["unit"], measure)
    for entry in body["departments"]:
        if not entry["department"]:
            continue
        for number, measure in ONCE.items():
            stock = measure in ("held", "overdue")
            found = await listed(
                api,
                statistic=measure,
                statistic_department=entry["department"],
                **({} if stock else window),
            )
            assert len(found) == entry[number], (entry["department"], measure)

    # The cases themselves, as counted by hand in tests/api/test_statistics.py.
    def of(measure: str, unit: str = "tax.hall") -> Any:
        stock = measure in ("held", "overdue")
        return listed(api, statistic=measure, statistic_unit=unit, **({} if stock else window))

    assert sorted(await of("received")) == sorted(ids.values())
    assert await of("closed_on_time") == [ids["A"]]
    assert await of("closed_on_time", "hrss.social_insurance") == [ids["B"]]
    assert await of("closed_late") == []
    assert await of("returned_transfers") == [ids["B"]]  # the hall's transfer came back
    assert await of("escalations") == [ids["C"]]
    assert await of("repeat_trips") == [ids["D"]]
    assert sorted(await of("held")) == sorted([ids["C"], ids["D"]])
    assert await of("overdue") == [ids["C"]]
    assert await of("satisfied") == [ids["A"]]  # its feedback
    assert await of("unsatisfied") == [ids["A"]]  # its follow-up visit
    assert await of("satisfied", "hrss.social_insurance") == [ids["B"]]  # its follow-up

    # Every unit at once; with another filter of the list; one month of the series.
    assert sorted(await listed(api, statistic="closed", **window)) == sorted([ids["A"], ids["B"]])
    assert await listed(api, statistic="closed", status="registered", **window) == []
    month = received_c.replace(day=1)
    only_c = await listed(
        api,
        statistic="received",
        statistic_from=month.isoformat(),
        statistic_to=(month + timedelta(days=40)).replace(day=1).isoformat(),
    )
    assert ids["C"] in only_c
    assert ids["A"] not in only_c or local_date(now()).replace(day=1) == month


async def test_the_ledger_export_of_a_number_holds_the_cases_it_counts(api: Api) -> None:
    """督办's drill-down exported: the 台账 with a ``statistic`` filter has the rows the list
    has, and its access record keeps the filter."""
    cases = await populate(api)
    params = period(local_date(now() - timedelta(days=40)))
    body = await report(api, **params)
    await _caught_up(api, body["position"])
    query = {
        "statistic": "received",
        "statistic_unit": "tax.hall",
        "statistic_from": params["from"],
        "statistic_to": params["to"],
    }
    response = await api.get(OFFICE, "/v1/exports/cases.xlsx", **query)
    assert response.status_code == 200, response.text
    sheet = workbook(response).active
    ids = [row[1] for row in data_rows(sheet)]
    assert ids == await listed(api, **query)
    assert sorted(ids) == sorted(case.id for case in cases.values())
    data, _ = await recorded(api, response)
    assert data["filters"] == query
    assert data["rows"] == len(ids)

    escalated = {**query, "statistic": "escalations"}
    rows = data_rows(workbook(await api.get(OFFICE, "/v1/exports/cases.xlsx", **escalated)).active)
    assert [row[1] for row in rows] == [cases["C"].id]

    refused = await api.get(OFFICE, "/v1/exports/cases.xlsx", statistic="closed")
    assert refused.status_code == 400, refused.text
    assert {e["field"] for e in refused.json()["errors"]} == {"statistic_from", "statistic_to"}


async def _caught_up(api: Api, position: int) -> None:
    """Until the case list reflects the report's position (one read model, one runner)."""
    for _ in range(100):
        head = (await api.client.get("/ready")).json()["head"]
        if head <= position:
            return
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"statistic_unit": "tax.hall"}, {"statistic_unit"}),
        ({"statistic": "closed", "statistic_from": "2026-01-01"}, {"statistic_to"}),
        ({"statistic": "closed"}, {"statistic_from", "statistic_to"}),
        (
            {"statistic": "closed", "statistic_from": "2026-02-01", "statistic_to": "2026-01-01"},
            {"statistic_from", "statistic_to"},
        ),
        (
            {"statistic": "held", "statistic_from": "2026-01-01", "statistic_to": "2026-01-31"},
            {"statistic_from"},
        ),
        (
            {
                "statistic": "held",
                "statistic_unit": "tax.hall",
                "statistic_department": "tax",
            },
            {"statistic_unit", "statistic_department"},
        ),
        ({"statistic": "nonsense"}, {"statistic"}),
    ],
)
async def test_a_statistic_filter_that_asks_no_one_question_is_refused(
    api: Api, params: dict[str, str], fields: set[str]
) -> None:
    response = await api.get(OFFICE, "/v1/cases", **params)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert {e["field"] for e in problem["errors"]} == fields
