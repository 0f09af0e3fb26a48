"""Follow-up visits (回访) after closure through HTTP, on SQLite and PostgreSQL: recorded on a
closed case without reopening it; an unsatisfied one flags the case until the office reopens
it or records why not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from tests.api.conftest import settings_for
from tests.api.support import (
    CLASSIFY,
    DECIDE,
    FEEDBACK,
    HANDLER,
    INTAKE,
    OFFICE,
    OTHER_HANDLER,
    Api,
    Case,
    problem,
)

UNSATISFIED = {
    "channel": "department_hotline",
    "content": "回访：仍不满意",
    "satisfaction": "unsatisfied",
}


@pytest.fixture
async def api(database_url: str, key_dir: Path) -> AsyncIterator[Api]:
    app = create_app(settings_for(database_url, key_dir), checkpoints=False)
    async with AsyncTestClient(app) as client:
        yield Api(client)


async def closed_case(api: Api) -> Case:
    case = await api.register()
    for verb, body in (("classify", CLASSIFY), ("decide", DECIDE), ("feedback", FEEDBACK)):
        await api.do(INTAKE, case, verb, body)
    await api.do(INTAKE, case, "close", {"summary": "已办结"})
    return case


async def test_a_follow_up_is_made_on_a_closed_case_which_stays_closed(api: Api) -> None:
    case = await api.register()
    early = await api.post(INTAKE, case, "follow-up", FEEDBACK)
    problem(early, 409, "INVALID_TRANSITION")
    case = await closed_case(api)
    other = await api.post(OTHER_HANDLER, case, "follow-up", FEEDBACK)
    problem(other, 403, "R4_NOT_HOLDING_UNIT")
    view = await api.do(INTAKE, case, "follow-up", {**FEEDBACK, "content": "回访：满意"})
    assert (view["status"], view["follow_up_count"], view["follow_up_flag"]) == (
        "closed",
        1,
        False,
    )
    # Nothing awaits the office, so there is nothing to decide.
    nothing = await api.post(OFFICE, case, "follow-up-resolved", {"reason": "无"})
    problem(nothing, 409, "INVALID_TRANSITION")
    events = (await api.get(INTAKE, f"/v1/cases/{case.id}/events")).json()
    assert events[-1]["topic"] == "ledger.FollowUpVisited"


async def test_an_unsatisfied_follow_up_is_flagged_until_the_office_decides(api: Api) -> None:
    case = await closed_case(api)
    view = await api.do(INTAKE, case, "follow-up", UNSATISFIED)
    assert (view["status"], view["follow_up_flag"]) == ("closed", True)
    # Only the office decides; a reason is required.
    handler = await api.post(HANDLER, case, "follow-up-resolved", {"reason": "已解释"})
    problem(handler, 403, "FORBIDDEN_ROLE")
    blank = await api.post(OFFICE, case, "follow-up-resolved", {"reason": ""})
    assert blank.status_code == 422
    view = await api.do(OFFICE, case, "follow-up-resolved", {"reason": "已解释政策，不予重新办理"})
    assert (view["status"], view["follow_up_flag"], view["follow_up_count"]) == (
        "closed",
        False,
        1,
    )
    # Unsatisfied again: flagged again, and this time the office reopens the case.
    view = await api.do(INTAKE, case, "follow-up", UNSATISFIED)
    assert view["follow_up_flag"] is True
    view = await api.do(OFFICE, case, "reopen", {"reason": "回访不满意，重新办理"})
    assert (view["status"], view["follow_up_flag"], view["follow_up_count"]) == (
        "reopened",
        False,
        2,
    )
    again = await api.post(INTAKE, case, "follow-up", FEEDBACK)
    problem(again, 409, "INVALID_TRANSITION")
    # The case read back (a projected row, not the write's fold) says the same.
    listed = (await api.get(OFFICE, f"/v1/cases/{case.id}")).json()
    assert (listed["follow_up_flag"], listed["follow_up_count"]) == (False, 2)
    topics = [e["topic"] for e in (await api.get(INTAKE, f"/v1/cases/{case.id}/events")).json()]
    assert topics[-4:] == [
        "ledger.FollowUpVisited",
        "ledger.FollowUpResolved",
        "ledger.FollowUpVisited",
        "ledger.Reopened",
    ]
