"""Exports through HTTP, on SQLite and PostgreSQL: each spreadsheet opened with openpyxl and
compared row by row with the API's JSON for the same parameters; a frozen header, real dates,
masking per role; every export recorded in the ledger (who, which, the filter, the rows) before
it is sent, and nothing recorded for a refused one."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl.worksheet.worksheet import Worksheet

from api.app import create_app
from ledger.domain.context import local_date
from ledger.projections import ReadModels, open_read_models
from ledger.projections.views import CaseFilters, Check
from tests.api.conftest import settings_for
from tests.api.support import (
    AUDITOR,
    CLASSIFY,
    DECIDE,
    ENFORCEMENT,
    FEEDBACK,
    HANDLER,
    IDENTIFIER,
    INSPECTOR,
    INTAKE,
    OFFICE,
    PHONE,
    WITNESS,
    Api,
    held_by_hrss,
    now,
    problem,
)

MASKED_ID = IDENTIFIER[:4] + "*" * 10 + IDENTIFIER[-4:]
MASKED_PHONE = PHONE[:3] + "****" + PHONE[-4:]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def client(database_url: str, key_dir: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(settings_for(database_url, key_dir), checkpoints=False)
    async with AsyncTestClient(app) as client:
        yield client


@pytest.fixture
def api(client: AsyncTestClient[Litestar]) -> Api:
    return Api(client)


async def head(api: Api) -> int:
    value: int = (await api.client.get("/ready")).json()["head"]
    return value


async def caught_up(api: Api) -> None:
    """Until the read models hold every event recorded so far (``GET /ready``)."""
    for _ in range(400):
        ready = (await api.client.get("/ready")).json()
        if ready["lag"] == 0:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the read models did not catch up")


async def cases(api: Api) -> dict[str, Any]:
    """Cases along different paths: held by hrss (and consulted on there), major, closed,
    registered only."""
    held = await held_by_hrss(api)
    await api.do(HANDLER, held, "consult", {"units": ["tax.sif"], "outcome": "会商"})
    major = await api.register(summary="重大疑难")
    await api.do(INTAKE, major, "classify", {**CLASSIFY, "classification": "major"})
    closed = await api.register(summary="当场办结")
    await api.do(INTAKE, closed, "classify", {**CLASSIFY, "classification": "simple"})
    for verb, body in (("decide", DECIDE), ("feedback", FEEDBACK), ("close", {"summary": "办结"})):
        await api.do(INTAKE, closed, verb, body)
    fresh = await api.register(summary="刚登记", category="payment")
    await caught_up(api)
    return {"held": held.id, "major": major.id, "closed": closed.id, "fresh": fresh.id}


def workbook(response: httpx.Response) -> openpyxl.Workbook:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(XLSX)
    assert "attachment" in response.headers["content-disposition"]
    return openpyxl.load_workbook(io.BytesIO(response.content))


def data_rows(sheet: Worksheet) -> list[list[Any]]:
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return rows[1:]


def header(sheet: Worksheet) -> list[Any]:
    return [cell.value for cell in next(sheet.iter_rows(max_row=1))]


async def listing(api: Api, actor: Any, **filters: Any) -> list[dict[str, Any]]:
    """Every page of ``GET /v1/cases`` (two cases a page, to cross pages)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {**filters, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(actor, "/v1/cases", **params)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


class Labels:
    """The Chinese labels and names of ``GET /v1/reference``: the export's words for codes."""

    def __init__(self, reference: dict[str, Any]) -> None:
        codes = reference["codes"]
        self.codes = {
            name: {entry["code"]: entry["label"] for entry in entries}
            for name, entries in codes.items()
        }
        self.units = {u["code"]: u["name"] for u in reference["units"]}
        self.jurisdictions = {j["code"]: j["name"] for j in reference["jurisdictions"]}

    def of(self, kind: str, code: Any) -> Any:
        return None if code is None else self.codes[kind][code]


def moment(text: str | None) -> datetime | None:
    """A JSON time (Asia/Shanghai offset) as the spreadsheet shows it: wall time, seconds."""
    if text is None:
        return None
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() == timedelta(hours=8)
    return parsed.replace(tzinfo=None, microsecond=0)


def expected_case_row(item: dict[str, Any], labels: Labels) -> list[Any]:
    deadline = item["deadline"]
    return [
        item["case_number"],
        item["case_id"],
        moment(item["received_at"]),
        moment(item["registered_at"]),
        labels.of("channel", item["channel"]),
        labels.of("category", item["category"]),
        labels.of("classification", item["classification"]),
        item["route"],
        labels.jurisdictions[item["jurisdiction"]],
        labels.units[item["receiving_unit"]],
        item["first_responder"]["name"],
        item["first_responder"]["staff_id"],
        labels.units[item["holding_unit"]],
        labels.of("case_status", item["status"]),
        datetime.fromisoformat(deadline["due"]) if deadline else None,
        "是" if item["overdue"] else "否",
        moment(item["closed_at"]),
        labels.of("payer_kind", item["payer"]["kind"]),
        item["payer"]["name"],
        item["payer"]["identifier"],
        item["payer"]["phone"],
        item["transfer_count"],
        item["return_count"],
        item["urge_count"],
        "是" if item["escalated"] else "否",
        labels.of("satisfaction", item["satisfaction"]),
        item["follow_up_count"],
        item["version"],
    ]


async def labels_of(api: Api) -> Labels:
    return Labels((await api.get(INTAKE, "/v1/reference")).json())


async def recorded(api: Api, response: httpx.Response) -> tuple[dict[str, Any], dict[str, Any]]:
    """The access event the export's headers name, as the log gives it to an auditor
    (``GET /v1/events/stream``): its data and metadata."""
    position = int(response.headers["x-export-position"])
    stream = await api.get(AUDITOR, "/v1/events/stream", after=position - 1, max_events=1)
    assert stream.status_code == 200, stream.text
    (line,) = [line for line in stream.text.splitlines() if line.startswith("data:")]
    event = json.loads(line.removeprefix("data:"))
    assert event["position"] == position
    assert event["case_id"] == response.headers["x-export-record"]
    assert event["topic"] == "ledger.ExportRecorded"
    assert event["version"] == 1
    return event["data"], event["metadata"]


# -- the 台账 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [{}, {"category": "employee_employer"}, {"holding_unit": "tax.hall", "class": "simple"}],
)
async def test_the_ledger_export_holds_the_list_row_by_row(
    api: Api, filters: dict[str, str]
) -> None:
    ids = await cases(api)
    labels = await labels_of(api)
    for actor in (AUDITOR, HANDLER, OFFICE, ENFORCEMENT):
        items = await listing(api, actor, **filters)
        assert items, filters
        response = await api.get(actor, "/v1/exports/cases.xlsx", **filters)
        book = workbook(response)
        sheet = book.active
        assert sheet.title == "台账"
        assert sheet.freeze_panes == "A2"
        assert header(sheet)[:4] == ["案件编号", "案件标识", "收件时间", "登记时间"]
        rows = data_rows(sheet)
        assert rows == [expected_case_row(item, labels) for item in items]
        assert response.headers["x-export-rows"] == str(len(rows))
    if not filters:
        assert {r[1] for r in rows} == set(ids.values())


async def test_dates_are_excel_dates_and_the_payer_is_masked_per_role(api: Api) -> None:
    ids = await cases(api)
    columns: dict[str, int] = {}

    async def row_of(actor: Any, case_id: str) -> list[Any]:
        sheet = workbook(await api.get(actor, "/v1/exports/cases.xlsx")).active
        columns.update({name: i for i, name in enumerate(header(sheet))})
        (found,) = [
            [cell for cell in row]
            for row in sheet.iter_rows(min_row=2)
            if row[columns["案件标识"]].value == case_id
        ]
        return found

    row = await row_of(AUDITOR, ids["closed"])
    for name in ("收件时间", "登记时间", "办结时间", "办结期限"):
        cell = row[columns[name]]
        assert cell.is_date, name
        assert isinstance(cell.value, datetime), name
    assert row[columns["办结期限"]].number_format == "yyyy-mm-dd"
    assert row[columns["收件时间"]].number_format.startswith("yyyy-mm-dd h")
    # Received some 20 minutes ago (tests.api.support.registration), shown on Beijing's clock.
    shown = row[columns["收件时间"]].value
    assert abs(shown - (now() + timedelta(hours=8)).replace(tzinfo=None)) < timedelta(hours=1)

    def payer(row: list[Any]) -> tuple[str, str]:
        return row[columns["缴费人识别号"]].value, row[columns["联系电话"]].value

    # Held by hrss.social_insurance: its handler and enforcement see the payer, no one else.
    assert payer(await row_of(HANDLER, ids["held"])) == (IDENTIFIER, PHONE)
    assert payer(await row_of(ENFORCEMENT, ids["held"])) == (IDENTIFIER, PHONE)
    for reader in (INTAKE, OFFICE, AUDITOR, INSPECTOR):
        assert payer(await row_of(reader, ids["held"])) == (MASKED_ID, MASKED_PHONE), reader
    # A major case: the office sees it; the hall's intake holds it and sees it.
    assert payer(await row_of(OFFICE, ids["major"])) == (IDENTIFIER, PHONE)
    assert payer(await row_of(INTAKE, ids["major"])) == (IDENTIFIER, PHONE)
    assert payer(await row_of(HANDLER, ids["major"])) == (MASKED_ID, MASKED_PHONE)


async def test_each_export_is_recorded_with_who_the_filter_and_the_rows(api: Api) -> None:
    await cases(api)
    before = await head(api)
    params = {"category": "employee_employer", "class": "general", "overdue": "false"}
    response = await api.get(AUDITOR, "/v1/exports/cases.xlsx", **params)
    rows = data_rows(workbook(response).active)
    assert len(rows) == 1  # the case held by hrss
    assert await head(api) == before + 1  # the record, and nothing else
    data, metadata = await recorded(api, response)
    assert data["actor"]["staff_id"] == AUDITOR.staff_id
    assert data["actor"]["unit"] == AUDITOR.unit
    assert data["actor"]["roles"] == ["auditor"]
    assert data["export"] == "cases.xlsx"
    assert data["filters"] == params
    assert data["rows"] == len(rows) == int(response.headers["x-export-rows"])
    assert data["position"] == before  # the read models held every event
    assert metadata["request_id"] == response.headers["x-request-id"]

    report = {"from": (local_date(now()) - timedelta(days=30)).isoformat(), "to": "2030-12-31"}
    for path in ("inspection", "statistics"):
        response = await api.get(INSPECTOR, f"/v1/exports/{path}.xlsx", **report)
        book = workbook(response)
        data, _ = await recorded(api, response)
        assert data["actor"]["staff_id"] == INSPECTOR.staff_id
        assert data["export"] == f"{path}.xlsx"
        assert data["filters"] == report
        assert data["rows"] == sum(len(data_rows(sheet)) for sheet in book.worksheets)


async def test_the_count_and_the_rows_come_from_one_snapshot(api: Api, database_url: str) -> None:
    """Cases projected while an export reads are not in it: it holds the rows it counted."""
    await cases(api)
    # The read models as the export route opens them (here in the test's own event loop).
    read_models = await open_read_models(database_url)
    try:
        await snapshot_holds(api, read_models)
    finally:
        await read_models.close()


async def snapshot_holds(api: Api, read_models: ReadModels) -> None:
    async with read_models.case_export(CaseFilters(), page=2) as export:
        assert export.count == 4
        for _ in range(3):
            await api.register(summary="导出期间登记")
        await caught_up(api)
        assert len(await listing(api, AUDITOR)) == 7  # the list sees them…
        views = [view async for page in export.pages for view in page]
    assert len(views) == export.count == 4  # …the export, as counted, does not
    async with read_models.case_export(CaseFilters(), page=2) as export:
        assert export.count == 7


# -- the reports ----------------------------------------------------------------------------------


async def test_the_inspection_export_holds_the_report_row_by_row(api: Api) -> None:
    await cases(api)
    labels = await labels_of(api)
    params = {
        "from": (local_date(now()) - timedelta(days=7)).isoformat(),
        "to": local_date(now()).isoformat(),
        "as_of": (now() + timedelta(days=60)).isoformat(),  # a forecast: findings to show
    }
    report = (await api.get(INSPECTOR, "/v1/inspections/first-responders", **params)).json()
    book = workbook(await api.get(INSPECTOR, "/v1/exports/inspection.xlsx", **params))
    assert book.sheetnames == ["单位", "人员", "问题清单", "报告"]
    assert all(sheet.freeze_panes == "A2" for sheet in book.worksheets)
    checks = [check.value for check in Check]  # FR1–FR9 and the later checks, in order
    assert data_rows(book["单位"]) == [
        [
            u["unit"],
            labels.units[u["unit"]],
            u["cases_received"],
            u["cases_held"],
            u["consultations"],
            *(u["counts"].get(c, 0) for c in checks),
        ]
        for u in report["units"]
    ]
    assert data_rows(book["人员"]) == [
        [
            s["staff_id"],
            s["name"],
            s["unit"],
            labels.units[s["unit"]],
            s["cases_received"],
            s["cases_held"],
            s["consultations"],
            *(s["counts"].get(c, 0) for c in checks),
        ]
        for s in report["staff"]
    ]
    assert (
        header(book["单位"])[2:5]
        == header(book["人员"])[4:7]
        == ["受理件数", "经手件数", "会商次数"]
    )
    # The consultation at hrss: its recorder's and the two units' (hrss and the one consulted).
    assert sum(s["consultations"] for s in report["staff"]) == 1
    assert sum(u["consultations"] for u in report["units"]) == 2
    findings = [
        (f, s["unit"], s["staff_id"], s["name"]) for s in report["staff"] for f in s["findings"]
    ] + [(f, u["unit"], None, None) for u in report["units"] for f in u["findings"]]
    assert findings  # the forecast sees deadlines pass
    assert [row[:3] + row[4:] for row in data_rows(book["问题清单"])] == [
        [
            f["check"],
            header_label(book, f["check"]),
            unit,
            staff_id,
            name,
            f["case_id"],
            ",".join(map(str, f["positions"])),
            "是" if f["provisional"] else "否",
        ]
        for f, unit, staff_id, name in findings
    ]
    about = dict(data_rows(book["报告"]))
    assert about["期间起"] == datetime.fromisoformat(params["from"])
    assert about["截至"] == moment(report["as_of"])
    assert about["日志位置"] == report["position"]
    assert about["预测"] == "是"


def header_label(book: openpyxl.Workbook, check: str) -> str:
    """A check's label as the 单位 sheet's header gives it ("FR9 久拖不决…")."""
    (found,) = [h for h in header(book["单位"]) if str(h).startswith(check + " ")]
    return str(found).split(" ", 1)[1]


MEASURES = (
    "received",
    "held",
    "closed",
    "closed_on_time",
    "closed_on_time_percent",
    "overdue",
    "median_handling_working_days",
    "feedback_given",
    "satisfaction_percent",
    "unsatisfied",
    "repeat_trips",
    "returned_transfers",
    "escalations",
    "follow_ups",
    "follow_up_flags",
)


async def test_the_statistics_export_holds_the_report_row_by_row(api: Api) -> None:
    await cases(api)
    labels = await labels_of(api)
    today = local_date(now())
    params = {
        "from": date(today.year - 1, 11, 1).isoformat(),
        "to": today.isoformat(),
        "as_of": now().isoformat(),
    }
    report = (await api.get(OFFICE, "/v1/statistics/units", **params)).json()
    book = workbook(await api.get(OFFICE, "/v1/exports/statistics.xlsx", **params))
    assert book.sheetnames == ["单位", "部门", "单位月度", "部门月度", "报告"]
    assert all(sheet.freeze_panes == "A2" for sheet in book.worksheets)
    department = labels.codes["department"]

    def measures(m: dict[str, Any]) -> list[Any]:
        return [m[name] for name in MEASURES]

    assert data_rows(book["单位"]) == [
        [u["unit"], labels.units[u["unit"]], department[u["department"]], *measures(u)]
        for u in report["units"]
    ]
    assert data_rows(book["部门"]) == [
        [d["department"], department[d["department"]], *measures(d)] for d in report["departments"]
    ]
    assert data_rows(book["单位月度"]) == [
        [u["unit"], labels.units[u["unit"]], m["month"], *measures(m)]
        for u in report["units"]
        for m in u["months"]
    ]
    assert data_rows(book["部门月度"]) == [
        [d["department"], department[d["department"]], m["month"], *measures(m)]
        for d in report["departments"]
        for m in d["months"]
    ]
    received = sum(row[3] for row in data_rows(book["单位"]))
    assert received == 4


# -- refusals -------------------------------------------------------------------------------------

BAD = [
    ("cases", {"received_from": "yesterday"}, "INVALID_PARAMETER"),
    ("cases", {"class": "urgent"}, None),
    ("cases", {"due_within": "999"}, None),
    ("cases", {"unit": "tax.hall", "holding_unit": "hrss.window"}, "INVALID_PARAMETER"),
    (
        "cases",
        {"received_from": "2026-02-01T00:00:00+08:00", "received_to": "2026-01-01T00:00:00+08:00"},
        "INVALID_PARAMETER",
    ),
    ("cases", {"unit": "TAX HALL"}, None),
    ("inspection", {"from": "2026-02-01", "to": "2026-01-01"}, "INVALID_PARAMETER"),
    ("inspection", {"from": "2026-01-01"}, None),
    ("inspection", {"from": "2000-01-01", "to": "2026-01-01"}, "INVALID_PARAMETER"),
    ("statistics", {"from": "2026-01-01", "to": "2026-13-01"}, "INVALID_PARAMETER"),
    ("statistics", {"from": "2026-01-01", "to": "2026-02-01", "as_of": "now"}, None),
]


async def test_bad_parameters_are_refused_and_nothing_is_recorded(api: Api) -> None:
    await api.register()
    before = await head(api)
    for path, params, code in BAD:
        response = await api.get(OFFICE, f"/v1/exports/{path}.xlsx", **params)
        assert 400 <= response.status_code < 500, (path, params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if code is not None:
            problem(response, 400, code)
    assert await head(api) == before


async def test_a_role_the_read_does_not_admit_is_refused_and_nothing_is_recorded(
    api: Api,
) -> None:
    await api.register()
    before = await head(api)
    period = {"from": "2026-01-01", "to": "2026-12-31"}
    for actor, path, params in (
        (WITNESS, "cases", {}),
        (INTAKE, "inspection", period),
        (HANDLER, "statistics", period),
        (ENFORCEMENT, "inspection", period),
    ):
        response = await api.get(actor, f"/v1/exports/{path}.xlsx", **params)
        problem(response, 403, "FORBIDDEN_ROLE")
    response = await api.client.get("/v1/exports/cases.xlsx")
    assert response.status_code == 401
    assert await head(api) == before


async def test_an_export_of_no_rows_is_a_header_and_a_record(api: Api) -> None:
    await api.register()
    await caught_up(api)
    response = await api.get(AUDITOR, "/v1/exports/cases.xlsx", status="closed")
    sheet = workbook(response).active
    assert data_rows(sheet) == []
    assert header(sheet)[0] == "案件编号"
    data, _ = await recorded(api, response)
    assert data["rows"] == 0
    assert data["filters"] == {"status": "closed"}


async def test_an_export_record_is_not_a_case(api: Api) -> None:
    response = await api.get(AUDITOR, "/v1/exports/cases.xlsx")
    record = response.headers["x-export-record"]
    for path in ("", "/events", "/trail", "/evidence"):
        problem(await api.get(AUDITOR, f"/v1/cases/{record}{path}"), 404, "CASE_NOT_FOUND")
