"""督办 without a browser, on SQLite and PostgreSQL: every number on the page is the API's
(``GET /v1/statistics/units`` for the same period, ``GET /v1/cases`` with the filters of its
link), and each link's 案件查询 finds exactly that many cases. Only the roles that read the
statistics see the page."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from console.oversight import COLUMNS
from ledger.audit.service import audit_hooks
from ledger.domain.codes import Department, Role
from ledger.domain.context import local_date
from ledger.domain.reference import DEFAULT_REFERENCE
from ledger.staff import StaffDirectory
from ledger.store import open_store
from tests.api.conftest import settings_for
from tests.api.support import Api, now
from tests.api.test_exports import caught_up
from tests.api.test_meetings import convene, escalated, minutes, post_minutes
from tests.api.test_statistic_filters import listed, populate, report

PASSWORD = "oversight-test-password"
LINK = re.compile(r'<a href="([^"]+)" data-count="(\d+)"')


# Accounts of each kind of reader (added before the app starts, in the test's own loop).
ACCOUNTS = {
    "O9001": (Role.OFFICE,),
    "I9001": (Role.INSPECTOR,),
    "A9001": (Role.AUDITOR,),
    "H9001": (Role.INTAKE, Role.HANDLER, Role.ENFORCEMENT),
}


@pytest.fixture
async def client(database_url: str, key_dir: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    store = open_store(database_url, hooks=audit_hooks())
    await store.open()
    directory = StaffDirectory(store, database_url, DEFAULT_REFERENCE)
    await directory.open()
    try:
        for staff_id, roles in ACCOUNTS.items():
            await directory.add(
                staff_id=staff_id,
                name="测试人员",
                unit="tax.sif",
                department=Department.TAX,
                roles=roles,
                jurisdiction=None,
                password=PASSWORD,
                by="test",
            )
    finally:
        await directory.close()
        await store.close()
    app = create_app(settings_for(database_url, key_dir), checkpoints=False)
    # https: on PostgreSQL the console's cookies are Secure.
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        yield client


async def sign_in(client: AsyncTestClient[Litestar], staff_id: str) -> None:
    form = await client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    signed = await client.post(
        "/login",
        data={"username": staff_id, "password": PASSWORD, "_csrf_token": token[1]},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def links(page: str, table: str) -> list[tuple[str, int]]:
    part = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [(html.unescape(href), int(n)) for href, n in LINK.findall(part)]


async def test_every_number_is_the_apis_and_its_list_finds_that_many_cases(
    client: AsyncTestClient[Litestar],
) -> None:
    api = Api(client)
    await populate(api)
    received_c = local_date(now() - timedelta(days=40))
    params = {
        "from": (received_c - timedelta(days=1)).isoformat(),
        "to": local_date(now()).isoformat(),
    }
    body = await report(api, **params)
    await sign_in(client, "O9001")

    page = await client.get("/oversight", params=params)
    assert page.status_code == 200, page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "/static/vendor/echarts/6.1.0/echarts.min.js" in page.text

    # The statistics table: each number is the report's, for its unit or department.
    by_unit = {u["unit"]: u for u in body["units"]}
    by_department = {d["department"]: d for d in body["departments"]}
    names = {measure.value: name for name, measure, _ in COLUMNS}
    numbers = links(page.text, "statistics-table")
    assert len(numbers) >= len(COLUMNS) * 3  # three departments at least, and their units
    for href, count in numbers:
        query = {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}
        entry: dict[str, Any] = (
            by_unit[query["statistic_unit"]]
            if "statistic_unit" in query
            else by_department[query["statistic_department"]]
        )
        assert count == entry[names[query["statistic"]]], href

    # The open cases: each count is the length of its list in GET /v1/cases.
    opened = links(page.text, "open-cases")
    assert opened
    assert sum(n for href, n in opened if "overdue=true" in href) == 2  # C, in the hall
    for href, count in [*opened, *numbers]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}
        assert len(await listed(api, **query)) == count, href
        # ... and 案件查询 at that link says so.
        found = await client.get(href)
        assert found.status_code == 200, href
        total = re.search(r'<p id="total">共 <strong>(\d+)</strong> 件', found.text)
        assert total is not None, href
        assert int(total[1]) == count, href


async def test_oversight_is_for_the_office_inspectors_and_auditors(
    client: AsyncTestClient[Litestar],
) -> None:
    anonymous = await client.get("/oversight", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2Foversight"
    await sign_in(client, "H9001")
    refused = await client.get("/oversight")
    assert refused.status_code == 403
    assert "督办页面供领导小组办公室、检查和审计人员查看" in refused.text
    home = await client.get("/")
    assert 'href="/oversight"' not in home.text
    for staff_id in ("I9001", "A9001"):
        await sign_in(client, staff_id)
        shown = await client.get("/oversight")
        assert shown.status_code == 200
        assert 'href="/oversight" aria-current="page"' in shown.text


async def test_the_meetings_tasks_not_done_are_counted_per_unit_and_list_their_cases(
    client: AsyncTestClient[Litestar],
) -> None:
    api = Api(client)
    overdue_case, open_case = await escalated(api), await escalated(api)
    yesterday = (local_date(now()) - timedelta(days=1)).isoformat()
    later = (local_date(now()) + timedelta(days=10)).isoformat()
    for case, due in ((overdue_case, yesterday), (open_case, later)):
        meeting = await convene(api, case, scheduled_at=(now() - timedelta(days=3)).isoformat())
        assert (await post_minutes(api, meeting, minutes(case, due))).status_code == 200
    await caught_up(api)
    await sign_in(client, "O9001")

    page = await client.get("/oversight")
    assert page.status_code == 200, page.text
    row = page.text.split('id="open-tasks"', 1)[1].split("</table>", 1)[0]
    assert "市人社局社会保险科" in row
    cells = re.findall(r'<td class="num">(.*?)</td>', row)
    assert cells[0] == "2"  # two tasks not done …
    assert ">1<" in cells[1]  # … one of them past its due date
    (href, count), *_ = links(page.text, "open-tasks")
    assert count == 2
    assert "task_unit=hrss.social_insurance" in href
    query = {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}
    assert set(await listed(api, **query)) == {overdue_case.id, open_case.id}
    assert "联席会议 2 次" in page.text
