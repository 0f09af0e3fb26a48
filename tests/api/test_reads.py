"""Reads: the event history with its hash chain, the case as it stood, lists, trails, the stream."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime

import msgspec

from ledger.domain.context import SHANGHAI
from tests.api.support import (
    AUDITOR,
    CLASSIFY,
    DECIDE,
    HANDLER,
    INSPECTOR,
    INTAKE,
    Api,
    bearer,
    held_by_hrss,
    listed,
)

GENESIS = "00" * 32


async def test_the_history_is_complete_ordered_and_chained(api: Api) -> None:
    case = await held_by_hrss(api)
    events = (await api.get(AUDITOR, f"/v1/cases/{case.id}/events")).json()
    assert [e["version"] for e in events] == [1, 2, 3, 4]
    assert [e["topic"] for e in events] == [
        "ledger.Registered",
        "ledger.Classified",
        "ledger.Transferred",
        "ledger.Accepted",
    ]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)
    assert events[0]["prev_hash"] == GENESIS
    for earlier, later in itertools.pairwise(events):
        assert later["prev_hash"] == earlier["hash"]
    assert events[1]["data"]["classification"] == "general"
    assert events[1]["metadata"]["command"] == "Classify"
    assert events[3]["data"]["actor"]["unit"] == HANDLER.unit
    assert all(e["occurred_at"] and e["recorded_at"] for e in events)


async def test_a_case_as_it_stood_at_a_version_and_at_a_moment(api: Api) -> None:
    case = await held_by_hrss(api)
    at_two = await api.get(AUDITOR, f"/v1/cases/{case.id}", version=2)
    assert at_two.json()["status"] == "classified"
    assert at_two.headers["etag"] == '"2"'
    assert at_two.json()["holding_unit"] == INTAKE.unit
    events = (await api.get(AUDITOR, f"/v1/cases/{case.id}/events")).json()
    as_of = events[2]["recorded_at"]
    then = (await api.get(AUDITOR, f"/v1/cases/{case.id}", as_of=as_of)).json()
    assert then["version"] == 3
    assert then["status"] == "transferred"
    missing = await api.get(AUDITOR, f"/v1/cases/{case.id}", version=99)
    assert (missing.status_code, missing.json()["code"]) == (404, "VERSION_NOT_FOUND")
    early = await api.get(AUDITOR, f"/v1/cases/{case.id}", as_of="2000-01-01T00:00:00+08:00")
    assert (early.status_code, early.json()["code"]) == (404, "CASE_NOT_FOUND_AS_OF")


async def test_lists_filter_and_page_with_a_cursor(api: Api) -> None:
    cases = [await api.register() for _ in range(3)]
    await api.do(INTAKE, cases[0], "classify", CLASSIFY)
    item = await listed(api, INSPECTOR, cases[0].id, status="classified")
    assert item["classification"] == "general"
    for case in cases:
        await listed(api, INSPECTOR, case.id)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(INSPECTOR, "/v1/cases", **params)).json()
        seen += [item["case_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(c.id for c in cases)
    bad = await api.get(INSPECTOR, "/v1/cases", cursor="not-a-cursor")
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_CURSOR")


async def test_the_trail_shows_custody_per_unit(api: Api) -> None:
    case = await held_by_hrss(api)
    await api.do(HANDLER, case, "decide", DECIDE)
    await listed(api, INSPECTOR, case.id, status="decided")  # the runner has caught up
    trail = (await api.get(INSPECTOR, f"/v1/cases/{case.id}/trail")).json()
    assert [p["unit"] for p in trail["custody"]] == [INTAKE.unit, HANDLER.unit]
    assert trail["first_responder"]["staff_id"] == INTAKE.staff_id
    assert {d["check"] for d in trail["duties"]} >= {"FR1", "FR2"}


async def test_the_inspection_report_counts_first_responder_findings(api: Api) -> None:
    case = await held_by_hrss(api)
    await listed(api, INSPECTOR, case.id, status="accepted")
    received = (await api.get(INSPECTOR, f"/v1/cases/{case.id}")).json()["received_at"]
    today = datetime.fromisoformat(received).astimezone(SHANGHAI).date().isoformat()
    report = await api.get(
        INSPECTOR, "/v1/inspections/first-responders", **{"from": today, "to": today}
    )
    assert report.status_code == 200, report.text
    staff = {s["staff_id"]: s for s in report.json()["staff"]}
    assert staff[INTAKE.staff_id]["cases_received"] >= 1
    backwards = await api.get(
        INSPECTOR, "/v1/inspections/first-responders", **{"from": today, "to": "2000-01-01"}
    )
    assert backwards.status_code == 400


async def test_the_stream_resumes_after_the_last_event_id(api: Api) -> None:
    await held_by_hrss(api)  # positions 1–4
    first = await api.client.get(
        "/v1/events/stream", params={"max_events": 2}, headers=bearer(AUDITOR)
    )
    assert first.headers["content-type"].startswith("text/event-stream")
    ids = [line.split(": ", 1)[1] for line in first.text.splitlines() if line.startswith("id:")]
    assert ids == ["1", "2"]
    rest = await api.client.get(
        "/v1/events/stream",
        params={"max_events": 2},
        headers={**bearer(AUDITOR), "Last-Event-ID": ids[-1]},
    )
    data = [
        msgspec.json.decode(line.split(": ", 1)[1])
        for line in rest.text.splitlines()
        if line.startswith("data:")
    ]
    assert [d["position"] for d in data] == [3, 4]
    assert data[0]["topic"] == "ledger.Transferred"


async def test_a_quiet_stream_ends_at_its_timeout(api: Api) -> None:
    started = asyncio.get_running_loop().time()
    quiet = await api.client.get(
        "/v1/events/stream", params={"after": 10**6, "timeout": 0.3}, headers=bearer(AUDITOR)
    )
    assert quiet.status_code == 200
    assert "data:" not in quiet.text
    assert asyncio.get_running_loop().time() - started < 5


async def test_reference_data_has_units_jurisdictions_and_labelled_codes(api: Api) -> None:
    body = (await api.get(INSPECTOR, "/v1/reference")).json()
    units = {u["code"]: u for u in body["units"]}
    assert units["tax.sif"]["name"] == "市税务局社会保险费和非税收入股"
    acting = [code for code, unit in units.items() if unit["acts_for_city_tax_bureau"]]
    assert acting == ["tax.sif", "tax.legal"]
    assert units["tax.station.haokou"]["jurisdiction"] == "qj.haokou"
    assert body["leading_group_office"] == "tax.sif"
    assert {"code": "qj.yuanlin", "name": "园林街道"} in body["jurisdictions"]
    assert {"code": "major", "label": "重大疑难事项"} in body["codes"]["classification"]
    assert len(body["codes"]["route"]) == 7
    assert {"code": "closed", "label": "已办结"} in body["codes"]["case_status"]


async def test_probes_answer_without_a_token(api: Api) -> None:
    assert (await api.client.get("/health")).json() == {"status": "ok"}
    ready = (await api.client.get("/ready")).json()
    assert ready["status"] == "ready"
    assert ready["database"] == "ok"
    assert ready["lag"] == ready["head"] - ready["projected"]


async def test_times_are_shown_in_asia_shanghai(api: Api) -> None:
    case = await held_by_hrss(api)
    view = (await api.get(AUDITOR, f"/v1/cases/{case.id}")).json()
    events = (await api.get(AUDITOR, f"/v1/cases/{case.id}/events")).json()
    listed_view = await listed(api, AUDITOR, case.id)
    shown = [view["received_at"], events[0]["recorded_at"], listed_view["registered_at"]]
    assert all(t.endswith("+08:00") for t in shown), shown
    received = datetime.fromisoformat(view["received_at"])
    assert received.utcoffset() == SHANGHAI.utcoffset(received.replace(tzinfo=None))
