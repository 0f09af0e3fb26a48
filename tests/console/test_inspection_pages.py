"""首问责任检查, the custody chart and the printed 案卷 in a real browser (the system's Chromium),
on the demo ledger ``ledger serve`` loads: each page against what the API answers for the same
question, and the case file printed to PDF by Chromium and read back.

Every page is photographed into the artifacts directory (see conftest) for a person to look at.
"""

from __future__ import annotations

import io
import re
import time
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from pypdf import PdfReader

from console.labels import EVENT_LABELS
from ledger.domain.actor import Actor
from ledger.domain.context import SHANGHAI
from ledger.staff_demo import DEMO_PASSWORD
from tests.api.support import (
    AUDITOR,
    CLASSIFY,
    ENFORCEMENT,
    INSPECTOR,
    INTAKE,
    OFFICE,
    bearer,
    registration,
)
from tests.console.conftest import ARTIFACTS, OriginWatch, screenshot

INSPECTOR_ID = "I0001"  # 郑检查, 督查
OFFICE_ID = "T0001"  # 周建国, 领导小组办公室
CLERK_ID = "T1001"  # 王丽: intake and handler, no inspection role


@pytest.fixture
def contexts(browser: Browser, console_server: str) -> Iterator[list[BrowserContext]]:
    made: list[tuple[BrowserContext, OriginWatch]] = []

    class Factory(list[BrowserContext]):
        def new(self) -> BrowserContext:
            context = browser.new_context(
                base_url=console_server, viewport={"width": 1366, "height": 768}, locale="zh-CN"
            )
            watch = OriginWatch(console_server)
            context.on("request", watch)
            made.append((context, watch))
            self.append(context)
            return context

    yield Factory()
    for context, watch in made:
        context.close()
        assert watch.elsewhere == [], f"requests left the server's origin: {watch.elsewhere}"


def sign_in(contexts: Any, staff_id: str) -> Page:
    page: Page = contexts.new().new_page()
    page.goto("/login")
    page.get_by_label("工号").fill(staff_id)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()
    return page


def get_json(base: str, actor: Actor, path: str, **params: str) -> Any:
    response = httpx.get(f"{base}{path}", params=params, headers=bearer(actor), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def end_of(day: date) -> str:
    """The moment the console evaluates an as-of day other than today at: its end,
    Asia/Shanghai (today is now)."""
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=SHANGHAI).isoformat()


def period() -> tuple[date, date]:
    today = datetime.now(SHANGHAI).date()
    return today - timedelta(days=200), today


def api_findings(report: dict[str, Any]) -> set[tuple[str, str, str, str, str]]:
    """(check, case, positions, unit, staff id) of every finding of a report."""
    found = set()
    for who in [*report["staff"], *report["units"]]:
        for f in who["findings"]:
            positions = ",".join(str(p) for p in f["positions"])
            found.add((f["check"], f["case_id"], positions, who["unit"], who.get("staff_id", "")))
    return found


def page_findings(page: Page) -> set[tuple[str, str, str, str, str]]:
    rows = page.locator("#findings tbody tr[data-check]")
    found = set()
    for i in range(rows.count()):
        row = rows.nth(i)
        unit, _, staff_id = (row.get_attribute("data-who") or "").partition("/")
        found.add(
            (
                row.get_attribute("data-check") or "",
                row.get_attribute("data-case") or "",
                row.get_attribute("data-positions") or "",
                unit,
                staff_id,
            )
        )
    return found


def page_counts(page: Page, table: str) -> dict[str, dict[str, int]]:
    rows = page.locator(f"#{table} tbody tr[data-who]")
    counts: dict[str, dict[str, int]] = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        cells = row.locator("td[data-check]")
        counts[row.get_attribute("data-who") or ""] = {
            cells.nth(j).get_attribute("data-check") or "": int(cells.nth(j).inner_text())
            for j in range(cells.count())
        }
    return counts


def page_consultations(page: Page, table: str) -> dict[str, int]:
    """The 会商 count of each row of a table, by its ``data-who``."""
    rows = page.locator(f"#{table} tbody tr[data-who]")
    return {
        rows.nth(i).get_attribute("data-who") or "": int(
            rows.nth(i).locator("td[data-consultations]").inner_text()
        )
        for i in range(rows.count())
    }


def test_the_inspection_page_shows_the_findings_the_api_reports(
    contexts: list[BrowserContext], console_server: str
) -> None:
    inspector = sign_in(contexts, INSPECTOR_ID)
    inspector.get_by_role("link", name="首问责任检查").click()
    expect(inspector.get_by_role("heading", name="首问责任检查")).to_be_visible()
    start, today = period()
    inspector.get_by_label("期间起").fill(start.isoformat())
    inspector.get_by_label("期间止（含）").fill(today.isoformat())
    inspector.get_by_label("截至日期").fill(today.isoformat())
    inspector.get_by_role("button", name="检查").click()
    expect(inspector.locator("#report-meta")).to_contain_text(f"期间 {start} 至 {today}")
    expect(inspector.locator("#forecast")).to_have_count(0)  # today is no forecast

    report = get_json(
        console_server,
        INSPECTOR,
        "/v1/inspections/first-responders",
        **{"from": start.isoformat(), "to": today.isoformat()},  # today: now
    )
    expected = api_findings(report)
    assert expected, "the demo ledger has findings to inspect"
    assert page_findings(inspector) == expected
    staff_counts = page_counts(inspector, "by-staff")
    assert staff_counts == {f"{s['unit']}/{s['staff_id']}": s["counts"] for s in report["staff"]}
    unit_counts = page_counts(inspector, "by-unit")
    assert unit_counts == {u["unit"]: u["counts"] for u in report["units"]}
    # The joint consultations (会商): each recorder's, each unit's that took part.
    assert page_consultations(inspector, "by-staff") == {
        f"{s['unit']}/{s['staff_id']}": s["consultations"] for s in report["staff"]
    }
    unit_consultations = page_consultations(inspector, "by-unit")
    assert unit_consultations == {u["unit"]: u["consultations"] for u in report["units"]}
    assert any(unit_consultations.values()), "the demo ledger has consultations to count"
    listed_consultations = inspector.locator("#consultations tbody tr[data-consultation]")
    assert listed_consultations.count() == len(
        {(p["case_id"], p["positions"][0]) for u in report["units"] for p in u["consulted"]}
    )
    # The checks by their Chinese names.
    expect(inspector.locator(".legend-checks")).to_contain_text("FR9 久拖不决（超期未办结）")
    expect(inspector.locator(".legend-checks")).to_contain_text("FR1 及时登记受理")
    screenshot(inspector, "inspections")

    # A count links to the findings behind it.
    hit = inspector.locator("#by-staff td.hit a").first
    who = hit.locator("xpath=ancestor::tr").get_attribute("data-who") or ""
    check = hit.locator("xpath=ancestor::td").get_attribute("data-check") or ""
    number = int(hit.inner_text())
    hit.click()
    listed = page_findings(inspector)
    assert len(listed) == number
    assert {(c, f"{u}/{s}") for c, _, _, u, s in listed} == {(check, who)}

    # One member of staff, one unit.
    unit, _, staff_id = who.partition("/")
    inspector.goto(f"/inspections?from={start}&to={today}&as_of={today}&staff={staff_id}")
    person = next(s for s in report["staff"] if s["staff_id"] == staff_id)
    assert page_counts(inspector, "by-staff") == {who: person["counts"]}
    inspector.goto(f"/inspections?from={start}&to={today}&as_of={today}&unit={unit}")
    only = get_json(
        console_server,
        INSPECTOR,
        "/v1/inspections/first-responders",
        **{"from": start.isoformat(), "to": today.isoformat()},  # today: now
        unit=unit,
    )
    assert page_findings(inspector) == api_findings(only)
    screenshot(inspector, "inspections-unit")


def classified_case(base: str) -> str:
    """A case registered and classified now through the API (its deadline weeks ahead), once
    the read models show it."""
    headers = bearer(INTAKE)
    made = httpx.post(f"{base}/v1/cases", json=registration(), headers=headers, timeout=30)
    assert made.status_code == 201, made.text
    case_id: str = made.json()["case_id"]
    done = httpx.post(
        f"{base}/v1/cases/{case_id}/classify",
        json=CLASSIFY,
        headers={**headers, "If-Match": '"1"'},
        timeout=30,
    )
    assert done.status_code == 200, done.text
    for _ in range(200):
        items = get_json(base, AUDITOR, "/v1/cases", classification="general", limit="200")
        if any(i["case_id"] == case_id for i in items["items"]):
            return case_id
        time.sleep(0.05)
    raise AssertionError(f"case {case_id} never appeared in the list")


def test_a_future_as_of_day_is_the_forecast(
    contexts: list[BrowserContext], console_server: str
) -> None:
    case_id = classified_case(console_server)
    start, today = period()
    ahead = today + timedelta(days=90)  # past its deadline, if nothing more is done
    report = get_json(
        console_server,
        INSPECTOR,
        "/v1/inspections/first-responders",
        **{"from": start.isoformat(), "to": today.isoformat(), "as_of": end_of(ahead)},
    )
    office = sign_in(contexts, OFFICE_ID)  # the leading-group office reads inspections too
    office.goto(f"/inspections?from={start}&to={today}&as_of={ahead}")
    expect(office.locator("#forecast")).to_contain_text("预警（预测）")
    expect(office.locator("#report-meta")).to_contain_text(f"截至 {ahead} 23:59")
    assert report["forecast"] is True
    assert page_findings(office) == api_findings(report)
    expect(office.locator(f'#findings tr[data-check="FR9"][data-case="{case_id}"]')).to_have_count(
        1
    )
    screenshot(office, "inspections-forecast")
    # Today it is not overdue, and the report is no forecast.
    office.goto(f"/inspections?from={start}&to={today}")
    expect(office.locator("#forecast")).to_have_count(0)
    expect(office.locator(f'#findings tr[data-check="FR9"][data-case="{case_id}"]')).to_have_count(
        0
    )


def test_a_finding_drills_down_to_its_case_with_the_proving_events_highlighted(
    contexts: list[BrowserContext], console_server: str
) -> None:
    inspector = sign_in(contexts, INSPECTOR_ID)
    start, today = period()
    inspector.goto(f"/inspections?from={start}&to={today}&as_of={today}")
    row = inspector.locator('#findings tbody tr[data-check="FR6"]')  # sent on, and back
    if row.count() == 0:  # (the demo's seed decides which checks it trips)
        row = inspector.locator("#findings tbody tr[data-check]")
    row = row.first
    case_id = row.get_attribute("data-case") or ""
    check = row.get_attribute("data-check") or ""
    positions = [int(p) for p in (row.get_attribute("data-positions") or "").split(",")]
    row.get_by_role("link", name="证明事件").click()
    expect(inspector.locator("#finding")).to_contain_text(check)

    events = get_json(console_server, INSPECTOR, f"/v1/inspections/cases/{case_id}/events")
    ours = {e["position"] for e in events}
    rows = inspector.locator("#timeline tbody tr")
    assert rows.count() == len(events)  # the whole timeline
    highlighted = inspector.locator("#timeline tbody tr.proving")
    marked = {
        int(highlighted.nth(i).get_attribute("data-position") or 0)
        for i in range(highlighted.count())
    }
    assert marked == set(positions) & ours
    assert marked
    for position in marked:
        expect(inspector.locator(f"#event-{position}")).to_contain_text("证明事件")
    # The proving events on the custody chart too.
    markers = inspector.locator("#custody-chart g.marker")
    assert {
        int(markers.nth(i).get_attribute("data-position") or 0) for i in range(markers.count())
    } == marked
    # Payer identifiers masked, exactly as the API masks them for inspectors.
    full = get_json(console_server, ENFORCEMENT, f"/v1/cases/{case_id}/events")
    identifier = full[0]["data"]["payer"]["identifier"]
    masked = events[0]["data"]["payer"]["identifier"]
    assert masked != identifier
    html = inspector.content()
    assert identifier not in html
    assert masked in html
    screenshot(inspector, "inspection-drill-down")
    inspector.get_by_role("link", name="← 返回首问责任检查").click()
    expect(inspector.locator("#report-meta")).to_contain_text(f"期间 {start} 至 {today}")


def moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def custody_of(base: str, case_id: str) -> list[dict[str, Any]]:
    periods: list[dict[str, Any]] = get_json(base, AUDITOR, f"/v1/cases/{case_id}/trail")["custody"]
    return periods


def test_the_case_page_charts_the_custody_periods(
    contexts: list[BrowserContext], console_server: str
) -> None:
    cases = get_json(console_server, AUDITOR, "/v1/cases", limit="200")["items"]
    moved = next(c for c in cases if len(custody_of(console_server, c["case_id"])) >= 3)
    periods = custody_of(console_server, moved["case_id"])
    office = sign_in(contexts, OFFICE_ID)
    office.goto(f"/cases/{moved['case_id']}")
    chart = office.locator("#custody-chart")
    expect(chart).to_be_visible()
    bars = chart.locator("g.bar")
    assert bars.count() == len(periods)
    drawn = [
        (
            bars.nth(i).get_attribute("data-unit"),
            datetime.fromisoformat(bars.nth(i).get_attribute("data-from") or ""),
            moment(bars.nth(i).get_attribute("data-to")),
        )
        for i in range(bars.count())
    ]
    assert drawn == [
        (
            p["unit"],
            datetime.fromisoformat(p["from_at"]),
            moment(p["to_at"]),
        )
        for p in periods
    ]
    # One row per unit, in the order they first held the case; each bar's row is its unit's.
    units = list(dict.fromkeys(p["unit"] for p in periods))
    assert chart.locator("svg > g.row").count() == len(units)
    lefts = [
        float(bars.nth(i).locator("rect").get_attribute("x") or 0) for i in range(len(periods))
    ]
    assert lefts == sorted(lefts)  # later periods start further right
    chart.scroll_into_view_if_needed()
    screenshot(office, "case-custody-chart")


# A PDF's text maps each glyph back to one character; where a CJK font shares a glyph between an
# ideograph and a radical, the radical may come back (⼈ for 人, ⻅ for 见). The Kangxi radicals
# fold under NFKC; these of the CJK Radicals Supplement (their equivalent unified ideographs,
# Unicode's EquivalentUnifiedIdeograph.txt) do not.
RADICALS = str.maketrans(
    "⻁⻄⻅⻆⻈⻉⻋⻏⻐⻑⻓⻔⻖⻗⻘⻙⻚⻛⻜⻝⻢⻣⻤⻥⻦⻧⻨⻩⻪⻬⻮⻰⻳",
    "虎西见角讠贝车阝钅長长门阝雨青韦页风飞食马骨鬼鱼鸟卤麦黄黾齐齿龙龟",
)


def fold(text: str) -> str:
    """``text`` as it reads back from a PDF (see ``pdf_text``), without white space."""
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", text))


def pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return unicodedata.normalize("NFKC", text).translate(RADICALS)


def print_to_pdf(page: Page, name: str) -> str:
    page.emulate_media(media="print")
    screenshot(page, f"{name}-print-media")
    data = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.pdf").write_bytes(data)
    reader = PdfReader(io.BytesIO(data))
    box = reader.pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)
    return pdf_text(data)


def test_the_case_file_prints_to_a4_pdf_with_every_event(
    contexts: list[BrowserContext], console_server: str
) -> None:
    closed = get_json(console_server, AUDITOR, "/v1/cases", status="closed", limit="200")["items"]
    case = max(closed, key=lambda c: c["version"])  # the longest history: decisions, feedback
    case_id, number = case["case_id"], case["case_number"]
    events = get_json(console_server, AUDITOR, f"/v1/cases/{case_id}/events")
    full = get_json(console_server, ENFORCEMENT, f"/v1/cases/{case_id}/events")
    identifier = full[0]["data"]["payer"]["identifier"]

    office = sign_in(contexts, OFFICE_ID)
    office.goto(f"/cases/{case_id}")
    office.locator("#print-link").click()
    expect(office.locator("#case-number")).to_have_text(number)
    screenshot(office, "case-print")
    text = print_to_pdf(office, "case-file")

    assert number in text
    assert "社会保险费征缴争议案卷" in re.sub(r"\s", "", text)
    rows = re.findall(r"#(\d+)", text)  # each timeline row shows its event's log position
    assert sorted(int(p) for p in rows if int(p) in {e["position"] for e in events}) == sorted(
        e["position"] for e in events
    )
    flat = re.sub(r"\s", "", text)
    for event in events:
        assert EVENT_LABELS[event["topic"]] in flat
    assert fold(f"全部记录（{len(events)}项）") in flat
    assert "处理意见与审批" in flat
    assert "反馈与回访" in flat
    for event in events:  # the decisions and the feedback, in their own sections too
        for field in ("finding", "content"):
            if (
                event["topic"] in ("ledger.Decided", "ledger.FeedbackGiven")
                and field in event["data"]
            ):
                assert flat.count(fold(event["data"][field])) >= 2
    # The head of the case's hash chain, and the checkpoint covering it or that none does yet.
    assert events[-1]["hash"] in flat
    assert fold("完整：本案") in flat
    checkpoint = httpx.get(f"{console_server}/v1/ledger/checkpoint", headers=bearer(AUDITOR))
    if checkpoint.status_code == 200 and checkpoint.json()["size"] >= events[-1]["position"]:
        assert "树大小" in flat
    else:
        assert "尚无签名检查点覆盖此事件" in flat
    # The parties as the API shows this case to the office.
    shown = get_json(console_server, OFFICE, f"/v1/cases/{case_id}")["payer"]["identifier"]
    assert shown in flat
    if shown != identifier:
        assert identifier not in flat
    assert "第1页/共" in flat  # the page numbers of the A4 layout


def test_the_printed_file_masks_the_payer_as_the_api_does_for_its_reader(
    contexts: list[BrowserContext], console_server: str
) -> None:
    closed = get_json(console_server, AUDITOR, "/v1/cases", status="closed", limit="200")["items"]
    case = next(c for c in closed if c["holding_unit"] == "hrss.window")
    full = get_json(console_server, ENFORCEMENT, f"/v1/cases/{case['case_id']}/events")
    identifier = full[0]["data"]["payer"]["identifier"]
    # The holding unit's handler sees the identifier, as GET /v1/cases/{id} shows it to him.
    handler = sign_in(contexts, "H3001")
    handler.goto(f"/cases/{case['case_id']}/print")
    expect(handler.locator("#payer-identifier")).to_have_text(identifier)
    # An inspector reads the case file with the inspectors' masked events.
    inspector = sign_in(contexts, INSPECTOR_ID)
    inspector.goto(f"/cases/{case['case_id']}/print")
    text = re.sub(r"\s", "", print_to_pdf(inspector, "case-file-inspector"))
    assert identifier not in text
    assert case["case_number"] in text
    for event in full:
        assert f"#{event['position']}" in text


def test_staff_without_an_inspection_role_are_refused(
    contexts: list[BrowserContext], console_server: str
) -> None:
    clerk = sign_in(contexts, CLERK_ID)
    expect(clerk.get_by_role("link", name="首问责任检查")).to_have_count(0)
    response = clerk.goto("/inspections")
    assert response is not None
    assert response.status == 403
    expect(clerk.get_by_role("alert")).to_contain_text("你的角色不能查看首问责任检查")
    screenshot(clerk, "inspections-refused")
    case_id = get_json(console_server, AUDITOR, "/v1/cases", limit="1")["items"][0]["case_id"]
    response = clerk.goto(f"/inspections/cases/{case_id}")
    assert response is not None
    assert response.status == 403
    # The API refuses the clerk the same report.
    refused = httpx.get(
        f"{console_server}/v1/inspections/first-responders",
        params={"from": "2026-01-01", "to": "2026-01-31"},
        headers=bearer(INTAKE),
    )
    assert refused.status_code == 403
