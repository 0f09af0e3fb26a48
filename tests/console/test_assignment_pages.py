"""An assignment (交办/转办) recorded on a registered case through the console's form, then
shown on the case page, in its timeline (登记交办) and in the printed case file: through HTTP on
SQLite and PostgreSQL, no browser."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.domain.context import local_date
from tests.api.conftest import settings_for
from tests.api.support import HANDLER, INSPECTOR, OTHER_HANDLER, Api, held_by_hrss, listed, now
from tests.console.test_inspection_access import add_accounts, sign_in


@pytest.fixture
def app(database_url: str, key_dir: Path) -> Litestar:
    return create_app(settings_for(database_url, key_dir), checkpoints=False)


def csrf(html: str) -> str:
    token = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert token is not None
    return token[1]


def offered(html: str, verb: str) -> bool:
    return f'id="cmd-{verb}"' in html


async def test_an_assignment_is_recorded_in_the_console_and_shown_and_printed(
    app: Litestar, database_url: str
) -> None:
    await add_accounts(database_url, HANDLER, OTHER_HANDLER)
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        api = Api(client)
        case = await held_by_hrss(api)
        due = local_date(now()) + timedelta(days=7)

        await sign_in(client, HANDLER)
        page = await client.get(f"/cases/{case.id}")
        assert page.status_code == 200
        assert offered(page.text, "record-assignment")
        assert not offered(page.text, "reply-to-assignment")  # no body is owed a reply yet
        form = {
            "_csrf_token": csrf(page.text),
            "version": str(case.version),
            "idempotency_key": str(uuid4()),
            "assignment.body": "petition_office",
            "assignment.body_name": "潜江市信访局",
            "assignment.reference": "潜信交〔2026〕3号",
            "assignment.reply_due": due.isoformat(),
        }
        recorded = await client.post(f"/cases/{case.id}/record-assignment", data=form)
        assert recorded.status_code in (200, 303), recorded.text
        page = await client.get(f"/cases/{case.id}")
        events = (await api.get(HANDLER, f"/v1/cases/{case.id}/events")).json()
        assert events[-1]["topic"] == "ledger.AssignmentRecorded"
        assert events[-1]["data"]["assignment"]["reply_due"] == due.isoformat()
        assert events[-1]["data"]["actor"]["staff_id"] == HANDLER.staff_id

        # The view: the body, its document, the date owed, and when it was handed down.
        assert "信访部门 · 潜江市信访局（潜信交〔2026〕3号），" in page.text
        assert "登记交办" in page.text
        assert "（待回复）" in page.text
        # The timeline labels the event and says what was assigned.
        timeline = page.text[page.text.index('id="timeline"') :]
        assert "<td>登记交办</td>" in timeline
        shown = f"信访部门 · 潜江市信访局（潜信交〔2026〕3号），回复期限 {due.isoformat()}"
        assert shown in timeline
        # One assignment per case: no form to record another; the reply is offered now.
        assert not offered(page.text, "record-assignment")
        assert offered(page.text, "reply-to-assignment")

        # Another unit's handler may not record one (R4): the page says so, nothing recorded.
        other = await held_by_hrss(api)
        await sign_in(client, OTHER_HANDLER)
        page = await client.get(f"/cases/{other.id}")
        refused = await client.post(
            f"/cases/{other.id}/record-assignment",
            data={
                **form,
                "_csrf_token": csrf(page.text),
                "version": str(other.version),
                "idempotency_key": str(uuid4()),
            },
        )
        assert refused.status_code == 409  # the console answers a rule's refusal so
        assert "R4 只有签收持有案件的单位" in refused.text
        assert len((await api.get(HANDLER, f"/v1/cases/{other.id}/events")).json()) == 4

        # The printed case file: the assignment on the cover, the event in the record.
        await sign_in(client, HANDLER)
        await listed(api, INSPECTOR, case.id)
        printed = await client.get(f"/cases/{case.id}/print")
        assert printed.status_code == 200
        cover = printed.text[: printed.text.index('id="h-custody"')]
        assert "信访部门 · 潜江市信访局（潜信交〔2026〕3号）" in cover
        assert due.isoformat() in cover
        assert "登记交办" in printed.text[printed.text.index('id="timeline"') :]
