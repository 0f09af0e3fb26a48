"""The console's exports: the 台账 of 案件查询's filters, the inspection and the statistics, the
same files as the API's for the same question, recorded the same way; refused (and nothing
recorded) for a role that may not read them or for a question the page itself refuses."""

from __future__ import annotations

import re
from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient

from ledger.domain.context import local_date
from tests.api.support import OFFICE, Api, now
from tests.api.test_exports import caught_up, data_rows, head, workbook
from tests.api.test_statistic_filters import populate
from tests.console.test_oversight import client, sign_in

__all__ = ["client"]  # the fixture, shared with the 督办 page's tests


async def test_the_console_exports_are_the_apis_files_and_are_recorded(
    client: AsyncTestClient[Litestar],
) -> None:
    api = Api(client)
    await populate(api)
    await caught_up(api)
    period = {"from": (local_date(now()) - timedelta(days=60)).isoformat()}
    period["to"] = local_date(now()).isoformat()
    await sign_in(client, "O9001")

    listing = await client.get("/cases", params={"status": "registered"})
    link = re.search(r'<a href="([^"]+)" id="export-cases"', listing.text)
    assert link is not None
    before = await head(api)
    console_book = workbook(await client.get(link[1].replace("&amp;", "&")))
    assert await head(api) == before + 1  # the export's record
    api_book = workbook(await api.get(OFFICE, "/v1/exports/cases.xlsx", status="registered"))
    mine, theirs = data_rows(console_book.worksheets[0]), data_rows(api_book.worksheets[0])
    assert len(mine) == len(theirs) > 0
    assert [row[0] for row in mine] == [row[0] for row in theirs]  # the same cases, in order

    oversight = await client.get("/oversight", params=period)
    assert 'id="export-statistics"' in oversight.text
    stats = workbook(await client.get("/exports/statistics.xlsx", params=period))
    assert stats.sheetnames == ["单位", "部门", "单位月度", "部门月度", "报告"]
    inspection = workbook(await client.get("/exports/inspection.xlsx", params=period))
    assert inspection.sheetnames == ["单位", "人员", "问题清单", "报告"]
    assert await head(api) == before + 4


async def test_a_console_export_refused_records_nothing(
    client: AsyncTestClient[Litestar],
) -> None:
    api = Api(client)
    await populate(api)
    await caught_up(api)
    before = await head(api)
    await sign_in(client, "H9001")  # case work: the 台账 yes, the reports no
    for path in ("/exports/statistics.xlsx", "/exports/inspection.xlsx"):
        refused = await client.get(path)
        assert refused.status_code == 403, path
    await sign_in(client, "O9001")
    bad = await client.get("/exports/statistics.xlsx", params={"from": "2026-13-01"})
    assert bad.status_code == 400
    assert "YYYY-MM-DD" in bad.text
    inverted = await client.get(
        "/exports/inspection.xlsx", params={"from": "2026-06-01", "to": "2026-05-01"}
    )
    assert inverted.status_code == 400
    assert "结束日期早于开始日期" in inverted.text
    assert await head(api) == before
