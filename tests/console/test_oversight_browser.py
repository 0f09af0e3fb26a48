"""督办 in a real browser (the system's Chromium), on ``ledger serve`` with its demo data: the
charts are drawn (canvases with pixels) under the page's Content-Security-Policy, nothing comes
from another origin, and a number's link leads to the list of exactly the cases it counts."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.console.conftest import OriginWatch, screenshot
from tests.console.test_browser import sign_in

OFFICE = "T0001"  # 周建国, 领导小组办公室 (office, handler)
INSPECTOR = "I0001"
CLERK = "T1001"  # intake and handler: no 督办

# Whether a canvas holds anything but transparent pixels.
DRAWN = """(id) => {
  const canvas = document.querySelector('#' + id + ' canvas');
  if (!canvas || !canvas.width || !canvas.height) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
  return painted;
}"""
# Content-Security-Policy refusals, as the page sees them.
WATCH_CSP = """() => {
  window.__refused = [];
  document.addEventListener('securitypolicyviolation',
    (e) => window.__refused.push(e.violatedDirective + ' ' + e.blockedURI));
}"""


@pytest.fixture
def context(browser: Browser, console_server: str) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=console_server, viewport={"width": 1366, "height": 768}, locale="zh-CN"
    )
    watch = OriginWatch(console_server)
    context.on("request", watch)
    context.add_init_script(f"({WATCH_CSP})()")
    yield context
    context.close()
    assert watch.elsewhere == [], f"requests left the server's origin: {watch.elsewhere}"


def count_of(page: Page) -> int:
    text = page.locator("#total strong").inner_text()
    return int(text)


def test_oversight_draws_its_charts_and_every_number_leads_to_its_cases(
    context: BrowserContext,
) -> None:
    page = sign_in(context, OFFICE)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.get_by_role("link", name="督办").click()
    expect(page.get_by_role("heading", name="督办", exact=True)).to_be_visible()
    assert "default-src 'self'" in _csp(page)
    for chart in ("chart-departments", "chart-rates", "chart-months"):
        page.wait_for_function(f"() => document.querySelector('#{chart} canvas') !== null")
        assert page.evaluate(DRAWN, chart) > 1000, f"{chart} is blank"
    assert errors == []
    assert page.evaluate("() => window.__refused") == []
    screenshot(page, "oversight-office")
    screenshot(page, "oversight-office-top", full_page=False)

    # A count of the open cases: the overdue ones of the busiest unit.
    link = page.locator("#open-cases tbody a[href*='overdue=true']").first
    expected = int(link.get_attribute("data-count") or "")
    assert expected > 0  # the demo leaves cases hanging past their deadline
    link.click()
    expect(page).to_have_url(re.compile(r"/cases\?unit=.+&overdue=true"))
    assert count_of(page) == expected
    assert page.locator("table tbody tr.overdue").count() == min(expected, 20)
    screenshot(page, "oversight-drill-overdue")

    # A number of the statistics table: the cases received by a department in the period.
    page.go_back()
    link = page.locator("#statistics-table tr.department a[href*='statistic=received']").first
    expected = int(link.get_attribute("data-count") or "")
    assert expected > 0
    link.click()
    expect(page.locator("#counted")).to_contain_text("受理")
    assert count_of(page) == expected
    screenshot(page, "oversight-drill-received")

    # A bar of the departments' chart opens the list behind it, as the table's link does.
    page.go_back()
    page.wait_for_function("() => document.querySelector('#chart-departments canvas') !== null")
    # The first department's first bar (受理), where ECharts laid it out.
    bar = page.evaluate(
        """() => {
          const c = echarts.getInstanceByDom(document.getElementById('chart-departments'));
          const series = c.getModel().getSeriesByIndex(0);
          const at = series.getData().getItemLayout(0);
          const first = c.getOption().series[0].data[0];
          return {url: first.url, value: first.value,
                  x: at.x + at.width / 2, y: at.y + at.height / 2};
        }"""
    )
    first_url = bar["url"]
    page.locator("#chart-departments").scroll_into_view_if_needed()
    box = page.locator("#chart-departments").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + bar["x"], box["y"] + bar["y"])
    expect(page).to_have_url(re.compile(re.escape(first_url.split("?", 1)[1])))
    assert count_of(page) == bar["value"]


def _csp(page: Page) -> str:
    response = page.request.get("/oversight")
    return response.headers.get("content-security-policy", "")


def test_oversight_is_read_by_the_inspector_and_refused_to_a_clerk(
    context: BrowserContext, browser: Browser, console_server: str
) -> None:
    inspector = sign_in(context, INSPECTOR)
    inspector.get_by_role("link", name="督办").click()
    expect(inspector.get_by_role("heading", name="部门考核")).to_be_visible()
    other = browser.new_context(base_url=console_server, viewport={"width": 1366, "height": 768})
    try:
        clerk = sign_in(other, CLERK)
        expect(clerk.get_by_role("link", name="督办")).to_have_count(0)
        response = clerk.goto("/oversight")
        assert response is not None
        assert response.status == 403
        expect(clerk.get_by_role("heading", name="无权操作")).to_be_visible()
        screenshot(clerk, "oversight-refused")
    finally:
        other.close()
