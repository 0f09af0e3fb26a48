"""我的待办 without a browser, on SQLite and PostgreSQL: the transfers awaiting the unit (and
only those), the replies it owes assigning bodies, the cases it holds nearest deadline first,
each list cut at the page's length with a link to all of it in 案件查询."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

import console.app
from api.app import create_app
from ledger.audit.service import audit_hooks
from ledger.domain.codes import Department, Role
from ledger.domain.reference import DEFAULT_REFERENCE
from ledger.staff import StaffDirectory
from ledger.store import open_store
from tests.api.conftest import settings_for
from tests.api.support import CLASSIFY, HANDLER, INTAKE, TRANSFER, Api, held_by_hrss, now
from tests.api.test_exports import caught_up
from tests.api.test_time_limits import assignment
from tests.console.test_oversight import PASSWORD, sign_in

CASE_LINK = re.compile(r'<a href="/cases/([0-9a-f-]{36})">')


@pytest.fixture
async def client(database_url: str, key_dir: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    store = open_store(database_url, hooks=audit_hooks())
    await store.open()
    directory = StaffDirectory(store, database_url, DEFAULT_REFERENCE)
    await directory.open()
    try:
        await directory.add(
            staff_id="H9101",
            name="测试经办人",
            unit="hrss.social_insurance",
            department=Department.HRSS,
            roles=(Role.HANDLER,),
            jurisdiction=None,
            password=PASSWORD,
            by="test",
        )
    finally:
        await directory.close()
        await store.close()
    app = create_app(settings_for(database_url, key_dir), checkpoints=False)
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        yield client


def table(page: str, caption: str) -> list[str]:
    """The case ids a table of the page lists, in its order."""
    part = page.split(caption, 1)[1].split("</table>", 1)[0]
    return CASE_LINK.findall(part)


async def test_the_todo_lists_incoming_and_held_cases_cut_at_the_page_length(
    client: AsyncTestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = Api(client)
    held = [await held_by_hrss(api) for _ in range(3)]
    incoming = await api.register()
    await api.do(INTAKE, incoming, "classify", CLASSIFY)
    await api.do(INTAKE, incoming, "transfer", TRANSFER)
    elsewhere = await api.register()  # sent to a jurisdiction hrss does not serve
    await api.do(
        INTAKE, elsewhere, "transfer", {"to_jurisdiction": "qj.guanghua", "reason": "属广华"}
    )
    await api.do(HANDLER, held[0], "decide", {"outcome": "upheld", "finding": "事实清楚"})
    due = (now() + timedelta(days=5)).date()
    await api.do(HANDLER, held[1], "record-assignment", {"assignment": assignment(due)})
    await caught_up(api)
    await sign_in(client, "H9101")

    page = (await client.get("/")).text
    assert table(page, "待本单位签收的流转案件") == [incoming.id]
    assert sorted(table(page, "本单位持有的案件")) == sorted(c.id for c in held)
    assert table(page, "待回复的交办事项") == [held[1].id]
    assert "潜信转〔2026〕8号" in page.split("待回复的交办事项", 1)[1].split("</table>", 1)[0]
    assert "只列出前" not in page
    assert 'href="/cases?unit=hrss.social_insurance&amp;overdue=true"' in page

    monkeypatch.setattr(console.app, "TODO_ROWS", 2)
    page = (await client.get("/")).text
    assert len(table(page, "本单位持有的案件")) == 2
    assert "只列出前 2 件" in page
    assert 'href="/cases?unit=hrss.social_insurance">在案件查询中查看全部持有案件' in page

    # The link of the incoming list finds the same transfers in 案件查询.
    listing = (await client.get("/cases", params={"awaiting": "hrss.social_insurance"})).text
    assert table(listing, "查询结果") == [incoming.id]
    assert 'id="awaiting"' in listing
    listing = (
        await client.get("/cases", params={"unit": "hrss.social_insurance", "reply_owed": "true"})
    ).text
    assert table(listing, "查询结果") == [held[1].id]
