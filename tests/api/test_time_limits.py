"""Time limits other rules set, through HTTP on SQLite and PostgreSQL (DOMAIN.md, "Time limits
set by other rules"):

- a matter from the petition platform (信访) is decided whether to accept within 15 days of
  receipt, concluded within 60 days of acceptance and extended by at most 30 days (信访工作条例;
  calendar days, a period ending on a rest day or holiday ends on the next working day);
- a matter assigned by another body (交办/转办) owes it a reply by the date it set; a late reply,
  or none when the date has passed, is a finding charged to the unit holding the case.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.domain.calendar import WorkingCalendar
from ledger.domain.context import SHANGHAI, local_date
from tests.api.conftest import settings_for
from tests.api.support import (
    CLASSIFY,
    FEEDBACK,
    HANDLER,
    INSPECTOR,
    INTAKE,
    OFFICE,
    OTHER_HANDLER,
    Api,
    Case,
    bearer,
    held_by_hrss,
    listed,
    now,
    problem,
    received_days_ago,
    registration,
)

CALENDAR = WorkingCalendar()


@pytest.fixture
async def api(database_url: str, key_dir: Path) -> AsyncIterator[Api]:
    app = create_app(settings_for(database_url, key_dir), checkpoints=False)
    async with AsyncTestClient(app) as client:
        yield Api(client)


def days_later(start: date, days: int) -> date:
    """``days`` calendar days after ``start``, moved off rest days and holidays."""
    end = start + timedelta(days=days)
    while not CALENDAR.is_working_day(end):
        end += timedelta(days=1)
    return end


async def findings(
    api: Api, case: Case, check: str, as_of: datetime | None = None
) -> list[tuple[str, str]]:
    """(unit, staff id) charged with each ``check`` finding of ``case``, in an inspection of
    the last 40 days as of ``as_of`` (default now)."""
    await listed(api, INSPECTOR, case.id)
    today = local_date(now())
    query = {
        "from": str(today - timedelta(days=40)),
        "to": str(today),
        "as_of": (as_of or now()).isoformat(),
    }
    response = await api.get(INSPECTOR, "/v1/inspections/first-responders", **query)
    assert response.status_code == 200, response.text
    report = response.json()
    found = [
        (p["unit"], p["staff_id"])
        for p in report["staff"]
        for f in p["findings"]
        if f["check"] == check and f["case_id"] == case.id
    ]
    found += [
        (u["unit"], "")
        for u in report["units"]
        for f in u["findings"]
        if f["check"] == check and f["case_id"] == case.id
    ]
    return found


async def duty(api: Api, case: Case, check: str) -> dict[str, Any]:
    trail = (await api.get(INSPECTOR, f"/v1/cases/{case.id}/trail")).json()
    [found] = [d for d in trail["duties"] if d["check"] == check]
    return dict(found)


# -- 信访 (petition platform) --------------------------------------------------------------------


async def test_a_petition_is_accepted_within_15_days_and_concluded_within_60(api: Api) -> None:
    late = await api.register(channel="petition_platform", received_at=received_days_ago(20))
    view = await api.do(INTAKE, late, "classify", CLASSIFY)
    today = local_date(now())
    # Concluded within 60 days of acceptance (the classification), not the general class's 10
    # working days from receipt.
    assert view["deadline"]["due"] == str(days_later(today, 60))
    # Not decided within 15 days of receipt: a finding (PA), charged to the unit that held it.
    assert await findings(api, late, "PA") == [("tax.hall", INTAKE.staff_id)]
    assert (await duty(api, late, "PA"))["status"] == "missed"
    received = local_date(now() - timedelta(days=20))
    assert (await duty(api, late, "PA"))["due"] == str(days_later(received, 15))

    timely = await api.register(channel="petition_platform")
    await api.do(INTAKE, timely, "classify", CLASSIFY)
    assert await findings(api, timely, "PA") == []
    assert (await duty(api, timely, "PA"))["status"] == "met"
    # Only petition-platform matters owe it.
    other = await api.register()
    await api.do(INTAKE, other, "classify", CLASSIFY)
    trail = (await api.get(INSPECTOR, f"/v1/cases/{other.id}/trail")).json()
    assert "PA" not in {d["check"] for d in trail["duties"]}


async def test_a_petition_is_extended_by_at_most_30_days(api: Api) -> None:
    case = await held_by_hrss(api, channel="petition_platform")
    accepted = local_date(now())  # classified today
    latest = days_later(accepted, 90)  # 60 days, and 30 more
    too_long = await api.post(
        HANDLER, case, "extend", {"until": str(latest + timedelta(days=1)), "reason": "情况复杂"}
    )
    body = problem(too_long, 409, "R9_EXTENSION_NOT_ALLOWED")
    assert "30" in body["detail"]
    await api.do(HANDLER, case, "extend", {"until": str(latest), "reason": "情况复杂"})
    view = await api.do(OFFICE, case, "extend", {"approve": True, "reason": "同意延期"})
    assert view["deadline"] == {"due": str(latest), "provisional": False, "extended": True}
    # Another matter's extension is not held to 30 days.
    other = await held_by_hrss(api)
    due = date.fromisoformat(
        (await api.get(HANDLER, f"/v1/cases/{other.id}")).json()["deadline"]["due"]
    )
    await api.do(
        HANDLER, other, "extend", {"until": str(due + timedelta(days=60)), "reason": "复杂"}
    )


# -- 交办/转办 (assigned matters) ------------------------------------------------------------------


def assignment(reply_due: date) -> dict[str, Any]:
    return {
        "body": "petition_office",
        "body_name": "潜江市信访局",
        "reference": "潜信转〔2026〕8号",
        "reply_due": str(reply_due),
    }


async def test_a_late_reply_to_an_assigning_body_is_a_finding(api: Api) -> None:
    received = local_date(now() - timedelta(days=30))
    case = await api.register(
        channel="assigned",
        received_at=received_days_ago(30),
        assignment=assignment(received + timedelta(days=10)),
    )
    await api.do(INTAKE, case, "classify", CLASSIFY)
    view = (await api.get(INSPECTOR, f"/v1/cases/{case.id}")).json()
    assert view["assignment"]["reply_overdue"] is True
    # Only the holding unit (or the office) replies.
    other = await api.post(OTHER_HANDLER, case, "reply-to-assignment", {"content": "已办理"})
    problem(other, 403, "R4_NOT_HOLDING_UNIT")
    view = await api.do(INTAKE, case, "reply-to-assignment", {"content": "已核实并处理，特此回复"})
    a = view["assignment"]
    assert (a["body"], a["body_name"], a["reference"]) == (
        "petition_office",
        "潜江市信访局",
        "潜信转〔2026〕8号",
    )
    assert (a["reply_due"], a["replied_late"], a["reply_overdue"]) == (
        str(received + timedelta(days=10)),
        True,
        False,
    )
    assert await findings(api, case, "AR") == [("tax.hall", INTAKE.staff_id)]
    assert (await duty(api, case, "AR"))["status"] == "missed"
    events = (await api.get(INTAKE, f"/v1/cases/{case.id}/events")).json()
    assert events[-1]["topic"] == "ledger.AssignmentReplied"
    assert a["reply_position"] == events[-1]["position"]


async def test_a_timely_reply_is_no_finding_and_none_by_the_date_is(api: Api) -> None:
    today = local_date(now())
    timely = await api.register(
        channel="assigned", assignment=assignment(today + timedelta(days=5))
    )
    await api.do(INTAKE, timely, "reply-to-assignment", {"content": "已回复"})
    assert await findings(api, timely, "AR") == []
    assert (await duty(api, timely, "AR"))["status"] == "met"
    # No reply yet, held by hrss: no finding today; a forecast past the date charges hrss.
    waiting = await held_by_hrss(
        api, channel="hotline_12345", assignment=assignment(today + timedelta(days=3))
    )
    assert await findings(api, waiting, "AR") == []
    later = datetime.combine(today + timedelta(days=10), time(10), SHANGHAI)
    assert await findings(api, waiting, "AR", as_of=later) == [
        ("hrss.social_insurance", HANDLER.staff_id)
    ]


async def test_an_assignment_is_checked_and_a_reply_needs_one(api: Api) -> None:
    plain = await api.register()
    refused = await api.post(INTAKE, plain, "reply-to-assignment", {"content": "回复"})
    problem(refused, 409, "INVALID_TRANSITION")
    before = registration(
        channel="assigned",
        assignment=assignment(local_date(now()) - timedelta(days=3)),
    )
    response = await api.client.post("/v1/cases", json=before, headers=bearer(INTAKE))
    problem(response, 422, "R1_REGISTRATION_INVALID")
    unknown = registration(assignment={"body": "someone", "reply_due": "2026-12-31"})
    response = await api.client.post("/v1/cases", json=unknown, headers=bearer(INTAKE))
    assert response.status_code == 422
    # The assigning bodies are reference data's code lists, with their labels.
    codes = (await api.get(INTAKE, "/v1/reference")).json()["codes"]
    assert {"code": "petition_office", "label": "信访部门"} in codes["assigning_body"]


# -- 交办 after registration (record-assignment) -------------------------------------------------


async def test_an_assignment_handed_down_after_registration_owes_its_body_a_reply(api: Api) -> None:
    received = local_date(now() - timedelta(days=30))
    case = await api.register(channel="hotline_12345", received_at=received_days_ago(30))
    await api.do(INTAKE, case, "classify", CLASSIFY)
    before = now()
    # The office hands the matter down after the fact, with a date already passed.
    view = await api.do(
        OFFICE, case, "record-assignment", {"assignment": assignment(received + timedelta(days=10))}
    )
    events = (await api.get(INTAKE, f"/v1/cases/{case.id}/events")).json()
    recorded = events[-1]
    assert recorded["topic"] == "ledger.AssignmentRecorded"
    assert recorded["data"]["assignment"] == assignment(received + timedelta(days=10))
    assert recorded["data"]["actor"]["staff_id"] == OFFICE.staff_id
    a = view["assignment"]
    assert (a["body"], a["body_name"], a["reference"], a["reply_due"]) == (
        "petition_office",
        "潜江市信访局",
        "潜信转〔2026〕8号",
        str(received + timedelta(days=10)),
    )
    assert a["position"] == recorded["position"]
    assert datetime.fromisoformat(a["recorded_at"]) > datetime.fromisoformat(view["registered_at"])
    assert (a["reply_overdue"], a["replied_at"]) == (True, None)
    # The read model shows it as the write did.
    await listed(api, INSPECTOR, case.id)
    shown = (await api.get(INSPECTOR, f"/v1/cases/{case.id}")).json()["assignment"]
    assert shown == a
    # Owed from the record, not from the registration: before it, no body was owed anything.
    assert await findings(api, case, "AR", as_of=before) == []
    assert await findings(api, case, "AR") == [("tax.hall", INTAKE.staff_id)]
    owed = await duty(api, case, "AR")
    assert (owed["status"], owed["due"]) == ("missed", str(received + timedelta(days=10)))
    # The late reply stays a finding, charged to the unit that held the case when the date passed.
    view = await api.do(INTAKE, case, "reply-to-assignment", {"content": "已核实并处理，特此回复"})
    assert (view["assignment"]["replied_late"], view["assignment"]["reply_overdue"]) == (
        True,
        False,
    )
    assert await findings(api, case, "AR") == [("tax.hall", INTAKE.staff_id)]
    await listed(api, INSPECTOR, case.id)
    response = await api.get(
        INSPECTOR,
        "/v1/inspections/first-responders",
        **{"from": str(received), "to": str(local_date(now()))},
    )
    [proof] = [
        f["positions"]
        for p in response.json()["staff"]
        for f in p["findings"]
        if f["check"] == "AR" and f["case_id"] == case.id
    ]
    assert recorded["position"] in proof


async def test_a_timely_reply_to_an_assignment_recorded_later_is_no_finding(api: Api) -> None:
    case = await held_by_hrss(api)
    today = local_date(now())
    # The holding unit records it, as it would reply to it.
    await api.do(HANDLER, case, "record-assignment", {"assignment": assignment(today)})
    await api.do(HANDLER, case, "reply-to-assignment", {"content": "已回复"})
    assert await findings(api, case, "AR") == []
    assert (await duty(api, case, "AR"))["status"] == "met"


async def test_a_case_takes_one_assignment_and_a_refusal_records_nothing(api: Api) -> None:
    today = local_date(now())
    case = await api.register()
    refusals = [
        # Not the holding unit, nor the office: R4.
        (OTHER_HANDLER, {"assignment": assignment(today)}, 403, "R4_NOT_HOLDING_UNIT"),
        # A reply due before the matter was received: a malformed value.
        (OFFICE, {"assignment": assignment(today - timedelta(days=3))}, 422, "INVALID_COMMAND"),
        (OFFICE, {"assignment": assignment(today + timedelta(days=400))}, 422, "INVALID_COMMAND"),
        # Not an assigning body of the code list; the registration's shape, not a flat one.
        (
            OFFICE,
            {"assignment": {**assignment(today), "body": "someone"}},
            422,
            "VALIDATION_FAILED",
        ),
        (OFFICE, assignment(today), 422, "VALIDATION_FAILED"),
    ]
    for actor, body, status, code in refusals:
        problem(await api.post(actor, case, "record-assignment", body), status, code)
    events = (await api.get(INTAKE, f"/v1/cases/{case.id}/events")).json()
    assert [e["topic"] for e in events] == ["ledger.Registered"]

    await api.do(OFFICE, case, "record-assignment", {"assignment": assignment(today)})
    # A second one: the case already has its assignment (409), whoever sends it.
    again = {"assignment": {**assignment(today + timedelta(days=5)), "body": "government"}}
    body = problem(
        await api.post(OFFICE, case, "record-assignment", again), 409, "INVALID_TRANSITION"
    )
    assert "already has its assignment" in body["detail"]
    # A case registered with its assignment has one too.
    assigned = await api.register(channel="assigned", assignment=assignment(today))
    problem(await api.post(OFFICE, assigned, "record-assignment", again), 409, "INVALID_TRANSITION")
    # A stale If-Match is refused before anything else.
    stale = await api.post(
        OFFICE, assigned, "record-assignment", again, headers={"If-Match": '"99"'}
    )
    assert stale.status_code == 412, stale.text
    view = (await api.get(INTAKE, f"/v1/cases/{case.id}")).json()
    assert view["version"] == case.version
    assert view["assignment"]["body"] == "petition_office"
    events = (await api.get(INTAKE, f"/v1/cases/{case.id}/events")).json()
    assert [e["topic"] for e in events][-1] == "ledger.AssignmentRecorded"
    assert len(events) == 2


async def test_a_closed_case_takes_no_assignment(api: Api) -> None:
    case = await api.register()
    await api.do(INTAKE, case, "classify", {**CLASSIFY, "classification": "simple"})
    await api.do(INTAKE, case, "decide", {"outcome": "resolved", "finding": "当场解释政策"})
    await api.do(INTAKE, case, "feedback", FEEDBACK)
    await api.do(INTAKE, case, "close", {"summary": "当场办结"})
    refused = await api.post(
        OFFICE, case, "record-assignment", {"assignment": assignment(local_date(now()))}
    )
    problem(refused, 409, "R3_CASE_CLOSED")
    assert (await api.get(INTAKE, f"/v1/cases/{case.id}")).json()["assignment"] is None
