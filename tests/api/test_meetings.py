"""Meetings of the leading group (四) through HTTP, on SQLite and PostgreSQL: a major case
escalated, put on a joint meeting's agenda, minutes with a decision recorded — in the case's
history with the meeting's id, a task of the assigned unit, overdue as a finding in an
inspection as of after its due date; refusals recorded nothing; a retry completes decisions
not yet on their cases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.bootstrap import open_ledger
from ledger.domain.context import local_date
from ledger.meetings import Meetings, RecordMinutes
from tests.api.conftest import settings_for
from tests.api.support import (
    HANDLER,
    INSPECTOR,
    INTAKE,
    OFFICE,
    Api,
    Case,
    bearer,
    listed,
    now,
    problem,
)

MAJOR = {"classification": "major", "route": 3, "reason": "跨部门重大疑难"}


@pytest.fixture
def settings(database_url: str, key_dir: Path) -> Any:
    return settings_for(database_url, key_dir)


@pytest.fixture
async def client(settings: Any) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(settings, checkpoints=False)) as client:
        yield client


@pytest.fixture
def api(client: AsyncTestClient[Any]) -> Api:
    return Api(client)


async def head(api: Api) -> int:
    value: int = (await api.client.get("/ready")).json()["head"]
    return value


async def escalated(api: Api) -> Case:
    case = await api.register()
    await api.do(INTAKE, case, "classify", MAJOR)
    await api.do(INTAKE, case, "escalate", {"reason": "提请领导小组研究"})
    return case


async def convene(api: Api, case: Case, **changes: Any) -> dict[str, Any]:
    body = {
        "kind": "joint_meeting",
        "scheduled_at": (now() - timedelta(hours=2)).isoformat(),
        "units": ["tax.sif", "hrss.social_insurance"],
        "agenda": [case.id],
    } | changes
    response = await api.client.post("/v1/meetings", json=body, headers=bearer(OFFICE))
    assert response.status_code == 201, response.text
    meeting: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/meetings/{meeting['meeting_id']}"
    assert response.headers["etag"] == f'"{meeting["version"]}"'
    return meeting


def minutes(case: Case, due: str, unit: str = "hrss.social_insurance") -> dict[str, Any]:
    return {
        "attendees": ["tax.sif", "hrss.social_insurance"],
        "attendee_names": ["周建国", "张伟"],
        "minutes": "会议研究了单位按最低基数申报问题",
        "decisions": [
            {
                "case_id": case.id,
                "decision": "人社局核定缴费基数",
                "assigned_unit": unit,
                "due": due,
            }
        ],
    }


async def post_minutes(
    api: Api, meeting: dict[str, Any], body: dict[str, Any], version: int | None = None
) -> Any:
    headers = {**bearer(OFFICE), "If-Match": f'"{version or meeting["version"]}"'}
    return await api.client.post(
        f"/v1/meetings/{meeting['meeting_id']}/minutes", json=body, headers=headers
    )


async def test_a_decision_lands_in_its_case_as_a_task_and_an_overdue_one_is_a_finding(
    api: Api,
) -> None:
    case = await escalated(api)
    meeting = await convene(api, case)
    assert meeting["venue"] == "市民之家办税服务厅（争议调解中心）"  # the mediation venue
    due = local_date(now() + timedelta(days=3))
    response = await post_minutes(api, meeting, minutes(case, due.isoformat()))
    assert response.status_code == 200, response.text
    recorded = response.json()
    assert response.headers["etag"] == '"2"'
    [decision] = recorded["minutes"]["decisions"]
    assert decision["task"]["status"] == "open"
    # In the case's history, referencing the meeting.
    events = (await api.get(INTAKE, f"/v1/cases/{case.id}/events")).json()
    last = events[-1]
    assert last["topic"] == "ledger.MeetingDecisionRecorded"
    assert last["data"]["meeting_id"] == meeting["meeting_id"]
    assert (last["data"]["decision_no"], last["data"]["assigned_unit"]) == (
        1,
        "hrss.social_insurance",
    )
    # A task in the case view.
    view = (await api.get(HANDLER, f"/v1/cases/{case.id}")).json()
    [task] = view["tasks"]
    assert (task["assigned_unit"], task["due"], task["status"]) == (
        "hrss.social_insurance",
        due.isoformat(),
        "open",
    )
    # In the assigned unit's list, and in the holding unit's list with the task.
    assigned = await listed(api, HANDLER, case.id, task_unit="hrss.social_insurance")
    assert assigned["tasks"][0]["decision_no"] == 1
    held = await listed(api, OFFICE, case.id, unit="tax.hall")
    assert held["tasks"][0]["assigned_unit"] == "hrss.social_insurance"
    # The meeting reads back with it; an inspector may read it.
    read = await api.get(INSPECTOR, f"/v1/meetings/{meeting['meeting_id']}")
    assert read.status_code == 200
    assert read.json()["minutes"]["decisions"][0]["task"]["status"] == "open"
    # Overdue after its due date: a TASK finding charged to the assigned unit.
    today = local_date(now())
    as_of = (now() + timedelta(days=6)).isoformat()
    report = await inspection(api, today.isoformat(), as_of)
    hrss = next(u for u in report["units"] if u["unit"] == "hrss.social_insurance")
    assert hrss["counts"]["TASK"] == 1
    assert [(f["check"], f["case_id"]) for f in hrss["findings"]] == [("TASK", case.id)]
    # Listed.
    shown = (await api.get(OFFICE, "/v1/meetings", kind="joint_meeting")).json()
    assert [m["meeting_id"] for m in shown] == [meeting["meeting_id"]]
    # Reported up.
    report_up = await api.client.post(
        f"/v1/meetings/{meeting['meeting_id']}/report",
        json={"content": "向领导小组报告会议议定事项"},
        headers={**bearer(OFFICE), "If-Match": '"2"'},
    )
    assert report_up.status_code == 200, report_up.text
    assert report_up.json()["reports"][0]["content"] == "向领导小组报告会议议定事项"


async def inspection(api: Api, day: str, as_of: str) -> dict[str, Any]:
    for _ in range(100):
        response = await api.get(
            INSPECTOR, "/v1/inspections/first-responders", **{"from": day, "to": day}, as_of=as_of
        )
        body: dict[str, Any] = response.json()
        if response.status_code == 200 and any(u["counts"].get("TASK") for u in body["units"]):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"no TASK finding: {body}")


async def test_the_assigned_unit_completes_its_task_once(api: Api) -> None:
    case = await escalated(api)
    meeting = await convene(api, case)
    due = local_date(now() + timedelta(days=3)).isoformat()
    assert (await post_minutes(api, meeting, minutes(case, due))).status_code == 200
    case.version += 1
    body = {"meeting_id": meeting["meeting_id"], "decision_no": 1, "result": "已核定基数"}
    problem(await api.post(INTAKE, case, "complete-task", body), 403, "NOT_ASSIGNED_UNIT")
    wrong = await api.post(HANDLER, case, "complete-task", {**body, "decision_no": 2})
    problem(wrong, 422, "INVALID_COMMAND")
    view = await api.do(HANDLER, case, "complete-task", body)
    assert view["tasks"][0]["status"] == "done"
    again = await api.post(HANDLER, case, "complete-task", body)
    problem(again, 409, "INVALID_TRANSITION")


async def test_refusals_record_nothing(api: Api) -> None:
    case = await escalated(api)
    meeting = await convene(api, case)
    before = await head(api)
    base = {
        "kind": "joint_meeting",
        "scheduled_at": now().isoformat(),
        "units": ["tax.sif"],
        "agenda": [case.id],
    }
    bad_unit = await api.client.post(
        "/v1/meetings", json={**base, "units": ["tax.nowhere"]}, headers=bearer(OFFICE)
    )
    problem(bad_unit, 422, "INVALID_COMMAND")
    unknown = await api.client.post(
        "/v1/meetings",
        json={**base, "agenda": [str(UUID(int=7))]},
        headers=bearer(OFFICE),
    )
    problem(unknown, 422, "UNKNOWN_CASE")
    role = await api.client.post("/v1/meetings", json=base, headers=bearer(HANDLER))
    problem(role, 403, "FORBIDDEN_ROLE")
    due = local_date(now() + timedelta(days=3)).isoformat()
    stale = await post_minutes(api, meeting, minutes(case, due), version=7)
    problem(stale, 412, "VERSION_MISMATCH")
    missing = await api.client.post(
        f"/v1/meetings/{meeting['meeting_id']}/minutes",
        json=minutes(case, due),
        headers=bearer(OFFICE),
    )
    problem(missing, 428, "PRECONDITION_REQUIRED")
    other = await api.register(summary="另一件事项")
    off_agenda = await post_minutes(api, meeting, minutes(other, due))
    problem(off_agenda, 422, "NOT_ON_AGENDA")
    bad_assignee = await post_minutes(api, meeting, minutes(case, due, unit="hrss.nowhere"))
    problem(bad_assignee, 422, "INVALID_COMMAND")
    report_first = await api.client.post(
        f"/v1/meetings/{meeting['meeting_id']}/report",
        json={"content": "报告"},
        headers={**bearer(OFFICE), "If-Match": '"1"'},
    )
    problem(report_first, 409, "INVALID_TRANSITION")
    nowhere = await api.get(OFFICE, f"/v1/meetings/{UUID(int=9)}")
    problem(nowhere, 404, "MEETING_NOT_FOUND")
    not_invited = await api.get(INTAKE, f"/v1/meetings/{meeting['meeting_id']}")
    problem(not_invited, 403, "NOT_INVITED")
    assert await head(api) == before + 1  # only the other case's registration


async def test_a_retry_completes_a_decision_not_yet_on_its_case(api: Api, settings: Any) -> None:
    case = await escalated(api)
    meeting = await convene(api, case)
    due = local_date(now() + timedelta(days=3)).isoformat()
    body = minutes(case, due)
    # The minutes recorded on the meeting, and then the process stopped before the case append.
    async with open_ledger(settings) as ledger:
        meetings = Meetings(ledger.service)
        await meetings.append_minutes(
            UUID(meeting["meeting_id"]), OFFICE, RecordMinutes(**_decoded(body)), 1
        )
    events = (await api.get(INTAKE, f"/v1/cases/{case.id}/events")).json()
    assert events[-1]["topic"] == "ledger.Escalated"
    shown = (await api.get(OFFICE, f"/v1/meetings/{meeting['meeting_id']}")).json()
    assert shown["minutes"]["decisions"][0]["task"] is None
    # The client retries the same request (its If-Match is now stale): the decision is completed.
    retried = await post_minutes(api, meeting, body)
    assert retried.status_code == 200, retried.text
    assert retried.json()["minutes"]["decisions"][0]["task"]["status"] == "open"
    events = (await api.get(INTAKE, f"/v1/cases/{case.id}/events")).json()
    assert events[-1]["topic"] == "ledger.MeetingDecisionRecorded"
    # Once: another retry, or the catch-up over all meetings, appends nothing.
    before = await head(api)
    assert (await post_minutes(api, meeting, body)).status_code == 200
    async with open_ledger(settings) as ledger:
        assert await Meetings(ledger.service).complete_all() == 0
    assert await head(api) == before
    # Other minutes than those recorded are refused.
    changed = {**body, "minutes": "另一份纪要"}
    problem(await post_minutes(api, meeting, changed, version=2), 409, "INVALID_TRANSITION")


def _decoded(body: dict[str, Any]) -> dict[str, Any]:
    import msgspec

    from ledger.meetings import Decision

    return {
        **body,
        "attendees": tuple(body["attendees"]),
        "attendee_names": tuple(body["attendee_names"]),
        "decisions": tuple(msgspec.convert(d, Decision, strict=False) for d in body["decisions"]),
    }
