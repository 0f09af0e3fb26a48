"""The console in a real browser (the system's Chromium): staff take a case from registration to
closure, and the console holds to the ledger's rules, its audit trail and its sign-in rules.

Every page is photographed into the artifacts directory (see conftest) for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from ledger.domain.context import SHANGHAI
from ledger.domain.identifiers import make_credit_code
from ledger.staff_demo import DEMO_PASSWORD
from tests.console.conftest import OriginWatch, screenshot

CLERK = "T1001"  # 王丽, 市民之家办税服务厅: intake and handler
HANDLER = "H3001"  # 张伟, 市民之家人社服务窗口: handler
AUDITOR = "A0001"


@pytest.fixture
def contexts(browser: Browser, console_server: str) -> Iterator[list[BrowserContext]]:
    """Browser contexts (one per member of staff: own cookies), every request watched."""
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


def sign_in(context: BrowserContext, staff_id: str, password: str = DEMO_PASSWORD) -> Page:
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    page.get_by_label("工号").fill(staff_id)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()
    return page


def open_command(page: Page, verb: str) -> None:
    page.locator(f"#cmd-{verb} summary").click()


def submit(page: Page, verb: str) -> None:
    page.locator(f"#cmd-{verb} button[type=submit]").click()


def test_two_staff_take_a_case_from_registration_to_closure(
    contexts: list[BrowserContext],
) -> None:
    clerk = sign_in(contexts.new(), CLERK)  # type: ignore[attr-defined]
    screenshot(clerk, "todo-clerk")

    # 受理登记: the identifier is checked as typed, in the browser.
    clerk.get_by_role("link", name="受理登记").click()
    received = datetime.now(SHANGHAI) - timedelta(minutes=20)
    clerk.get_by_label("受理渠道").select_option("service_window")
    clerk.get_by_label("接诉时间").fill(received.strftime("%Y-%m-%dT%H:%M"))
    clerk.get_by_label("缴费人类型").select_option("employer")
    clerk.get_by_label("缴费人名称").fill("潜江市浏览器测试建材有限公司")
    identifier = make_credit_code(org="MA49B0001")
    wrong = identifier[:-1] + ("0" if identifier[-1] != "0" else "1")
    clerk.get_by_label("证件号码").fill(wrong)
    expect(clerk.locator("#payer-identifier-check")).to_have_text(re.compile("校验位不正确"))
    clerk.get_by_label("证件号码").fill(identifier)
    expect(clerk.locator("#payer-identifier-check")).to_have_text("校验通过")
    clerk.get_by_label("联系电话").fill("13872005678")
    clerk.get_by_label("属地").select_option("qj.yuanlin")
    clerk.get_by_label("争议事项类别").select_option("payment_record")
    clerk.get_by_label("争议事项摘要").fill("职工反映2025年度部分月份缴费记录缺失")
    clerk.get_by_label("初步意见").fill("核实缴费记录后转人社部门办理")
    screenshot(clerk, "new-case")
    clerk.get_by_role("button", name="登记").click()
    expect(clerk.get_by_text("案件已登记。")).to_be_visible()
    heading = clerk.get_by_role("heading", level=1).inner_text()
    number = re.search(r"潜社争〔\d{4}〕\d{4}号", heading)
    assert number is not None, heading
    case_url = clerk.url.split("?")[0]
    screenshot(clerk, "case-registered")

    # 分类 and 流转 by the first responder.
    open_command(clerk, "classify")
    clerk.locator("#cmd-classify").get_by_label("分类").select_option("general")
    clerk.locator("#cmd-classify").get_by_label("处理路径（1–7）").fill("2")
    clerk.locator("#cmd-classify").get_by_label("理由").fill("一般事项，转人社部门")
    submit(clerk, "classify")
    expect(clerk.locator("#timeline")).to_contain_text("分类")
    open_command(clerk, "transfer")
    clerk.locator("#cmd-transfer").get_by_label("接收单位").select_option("hrss.window")
    clerk.locator("#cmd-transfer").get_by_label("理由").fill("缴费记录核实属人社部门职责")
    submit(clerk, "transfer")
    expect(clerk.locator("#timeline")).to_contain_text("流转")

    # The handler finds it by its number, waiting for his unit, and accepts it.
    handler = sign_in(contexts.new(), HANDLER)  # type: ignore[attr-defined]
    expect(handler.locator("table").first).to_contain_text(number.group(0))
    screenshot(handler, "todo-handler")
    handler.get_by_role("link", name="案件查询").click()
    handler.get_by_label("案件号").fill(number.group(0))
    handler.get_by_role("button", name="查询").click()
    handler.get_by_role("link", name=number.group(0)).click()
    open_command(handler, "accept")
    submit(handler, "accept")
    expect(handler.locator("#timeline")).to_contain_text("签收")

    # Two tabs of the handler: the second, stale one is told someone changed the case (412).
    stale = handler.context.new_page()
    stale.goto(case_url)
    open_command(handler, "decide")
    handler.locator("#cmd-decide").get_by_label("处理结果").select_option("upheld")
    handler.locator("#cmd-decide").get_by_label("认定事实与意见").fill("经核实，单位漏报3个月")
    submit(handler, "decide")
    expect(handler.locator("#timeline")).to_contain_text("处理意见")
    open_command(stale, "decide")
    stale.locator("#cmd-decide").get_by_label("处理结果").select_option("rejected")
    stale.locator("#cmd-decide").get_by_label("认定事实与意见").fill("重复提交")
    submit(stale, "decide")
    refusal = stale.locator("#refusal")
    expect(refusal).to_contain_text("其他人已修改了此案件")
    expect(refusal).to_contain_text("处理意见")  # what changed: the decision just recorded
    screenshot(stale, "case-412")

    # The clerk's unit no longer holds the case: the rule is named, in Chinese.
    clerk.goto(case_url)
    open_command(clerk, "decide")
    clerk.locator("#cmd-decide").get_by_label("处理结果").select_option("upheld")
    clerk.locator("#cmd-decide").get_by_label("认定事实与意见").fill("我来处理")
    submit(clerk, "decide")
    expect(clerk.locator("#refusal")).to_contain_text("不符合规则 R4 只有签收持有案件的单位")
    screenshot(clerk, "case-refused-r4")

    # Feedback and closure by the handler.
    handler.goto(case_url)
    open_command(handler, "feedback")
    handler.locator("#cmd-feedback").get_by_label("反馈渠道").select_option("department_hotline")
    handler.locator("#cmd-feedback").get_by_label("反馈内容").fill("电话告知核实结果")
    handler.locator("#cmd-feedback").get_by_label("满意度").select_option("satisfied")
    submit(handler, "feedback")
    expect(handler.locator("#timeline")).to_contain_text("反馈回访")
    open_command(handler, "close")
    handler.locator("#cmd-close").get_by_label("办结摘要").fill("已督促单位补报")
    submit(handler, "close")
    expect(handler.locator("dl")).to_contain_text("已办结")
    timeline = handler.locator("#timeline tbody tr")
    expect(timeline).to_have_count(7)
    labels = [timeline.nth(i).locator("td").nth(1).inner_text() for i in range(7)]
    assert labels == ["受理登记", "分类", "流转", "签收", "处理意见", "反馈回访", "办结"]
    screenshot(handler, "case-closed")

    # The case as it stood at version 3 (transferred), read-only.
    handler.get_by_role("link", name="v3", exact=True).click()
    expect(handler.get_by_text("正在查看第 3 版")).to_be_visible()
    expect(handler.locator("dl")).to_contain_text("已流转")
    screenshot(handler, "case-version-3")

    # An auditor sees the identifier masked, and reveals it with a recorded reason.
    auditor = sign_in(contexts.new(), AUDITOR)  # type: ignore[attr-defined]
    auditor.goto(case_url)
    masked = auditor.locator("#payer-identifier").inner_text()
    assert masked != identifier
    assert "*" in masked
    auditor.get_by_text("查看完整证件号码（将被记录）").click()
    auditor.get_by_label("查看理由").fill("审计抽查第12号")
    auditor.get_by_role("button", name="记录理由并查看").click()
    expect(auditor.locator("#payer-identifier")).to_have_text(identifier)
    expect(auditor.locator("#timeline")).to_contain_text("审计抽查第12号")
    expect(auditor.locator("#timeline")).to_contain_text("查看证件号码")
    screenshot(auditor, "case-revealed")

    # 案件查询 by payer identifier finds it.
    handler.goto(f"/cases?payer.identifier={identifier}")
    expect(handler.locator("table")).to_contain_text(number.group(0))
    screenshot(handler, "cases-by-identifier")


def test_five_failed_sign_ins_lock_the_account(contexts: list[BrowserContext]) -> None:
    page = contexts.new().new_page()  # type: ignore[attr-defined]
    page.goto("/login")
    for _ in range(4):
        page.get_by_label("工号").fill("M2001")
        page.get_by_label("密码").fill("not the password")
        page.get_by_role("button", name="登录").click()
        expect(page.locator("#login-error")).to_have_text("用户名或密码不正确。")
    page.get_by_label("工号").fill("M2001")
    page.get_by_label("密码").fill("not the password")
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#login-error")).to_contain_text("连续 5 次登录失败，账户已锁定 15 分钟")
    page.get_by_label("工号").fill("M2001")
    page.get_by_label("密码").fill(DEMO_PASSWORD)  # right, but locked
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#login-error")).to_contain_text("账户已锁定")
    screenshot(page, "login-locked")


def test_a_form_without_its_csrf_token_is_refused(contexts: list[BrowserContext]) -> None:
    page = sign_in(contexts.new(), CLERK)  # type: ignore[attr-defined]
    page.goto("/cases/new")
    # Another site's page posting to the console with the staff member's cookie: no token.
    response = page.request.post(
        "/cases/new", form={"channel": "visit", "summary": "forged"}, max_redirects=0
    )
    assert response.status == 403
    assert "表单校验失败（CSRF）" in response.text()
    # The same form, tampered token.
    page.locator("#register-form input[name=_csrf_token]").evaluate("e => e.value = 'forged'")
    page.evaluate("document.getElementById('register-form').submit()")  # past required fields
    expect(page.get_by_text("表单校验失败（CSRF）")).to_be_visible()
    screenshot(page, "csrf-refused")


def test_pages_need_a_session_and_reading_works_without_javascript(
    browser: Browser, console_server: str
) -> None:
    context = browser.new_context(
        base_url=console_server,
        viewport={"width": 1366, "height": 768},
        locale="zh-CN",
        java_script_enabled=False,
    )
    page = context.new_page()
    page.goto("/cases")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fcases$"))
    screenshot(page, "login")
    page.get_by_label("工号").fill("T0001")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/cases$"))
    page.goto("/")
    expect(page.locator("caption", has_text="提请领导小组的案件")).to_be_visible()
    screenshot(page, "todo-office")
    page.goto("/cases")
    rows = page.locator("table tbody tr")
    assert rows.count() >= 10
    screenshot(page, "cases")
    page.locator("table tbody a").first.click()
    expect(page.get_by_role("heading", name="全部记录")).to_be_visible()
    screenshot(page, "case-no-js")
    cookie = next(c for c in context.cookies() if c["name"] == "ledger_console")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    context.close()
