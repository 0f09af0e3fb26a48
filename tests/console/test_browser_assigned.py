"""An assigned matter (交办/转办) in the console, in the system's Chromium: registered with the
body that assigned it and the date it is owed a reply, shown on the case page, answered with
the reply form. Every page is photographed into the artifacts directory."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from playwright.sync_api import BrowserContext, expect

from ledger.domain.context import SHANGHAI
from ledger.domain.identifiers import make_credit_code
from tests.api.support import INTAKE, bearer, registration
from tests.console.conftest import screenshot
from tests.console.test_browser import CLERK, contexts, open_command, sign_in, submit

__all__ = ["contexts"]  # the fixture, shared with the other browser tests


def test_an_assigned_matter_is_registered_shown_and_replied_to(
    contexts: list[BrowserContext],
) -> None:
    clerk = sign_in(contexts.new(), CLERK)  # type: ignore[attr-defined]
    clerk.get_by_role("link", name="受理登记").click()
    received = datetime.now(SHANGHAI) - timedelta(minutes=20)
    clerk.get_by_label("受理渠道").select_option("assigned")
    clerk.get_by_label("接诉时间").fill(received.strftime("%Y-%m-%dT%H:%M"))
    clerk.get_by_label("缴费人类型").select_option("employer")
    clerk.get_by_label("缴费人名称").fill("潜江市交办测试建材有限公司")
    clerk.get_by_label("证件号码").fill(make_credit_code(org="MA49B0201"))
    clerk.get_by_label("联系电话").fill("13872005679")
    clerk.get_by_label("属地").select_option("qj.yuanlin")
    clerk.get_by_label("争议事项类别").select_option("payment")
    clerk.get_by_label("争议事项摘要").fill("市政府交办：企业反映多缴社保费逾期未退")
    clerk.get_by_label("初步意见").fill("核实后按职责办理并回复交办机关")
    due = (received + timedelta(days=7)).date()
    clerk.get_by_label("交办机关", exact=True).select_option("government")
    clerk.get_by_label("交办机关名称").fill("潜江市人民政府办公室")
    clerk.get_by_label("交办文号").fill("潜政交〔2026〕12号")
    clerk.get_by_label("回复期限").fill(due.isoformat())
    screenshot(clerk, "new-assigned-case")
    clerk.get_by_role("button", name="登记").click()
    expect(clerk.get_by_text("案件已登记。")).to_be_visible()
    view = clerk.locator(".view")
    expect(view).to_contain_text("人民政府及其办公室 · 潜江市人民政府办公室（潜政交〔2026〕12号）")
    expect(view).to_contain_text("待回复")
    screenshot(clerk, "case-assigned")

    open_command(clerk, "reply-to-assignment")
    clerk.locator("#cmd-reply-to-assignment").get_by_label("回复内容").fill(
        "已核实并退费，特此回复"
    )
    submit(clerk, "reply-to-assignment")
    expect(clerk.locator("#timeline")).to_contain_text("回复交办机关")
    expect(view).to_contain_text("已回复")
    expect(view).not_to_contain_text("逾期")
    screenshot(clerk, "case-assignment-replied")


def test_a_matter_handed_down_after_registration_is_recorded_with_the_form(
    contexts: list[BrowserContext], console_server: str
) -> None:
    # Registered by the clerk's unit through the API, without an assignment.
    response = httpx.post(
        f"{console_server}/v1/cases",
        json=registration(channel="hotline_12345"),
        headers=bearer(INTAKE),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    clerk = sign_in(contexts.new(), CLERK)  # type: ignore[attr-defined]
    clerk.goto(f"/cases/{case_id}")
    expect(clerk.locator("#cmd-reply-to-assignment")).to_have_count(0)  # no body owed a reply
    open_command(clerk, "record-assignment")
    form = clerk.locator("#cmd-record-assignment")
    due = (datetime.now(SHANGHAI) + timedelta(days=5)).date()
    # (its label is 交办机关 and a required mark; 交办机关名称 also starts so)
    form.locator("#record-assignment-assignment-body").select_option("leading_group")
    form.get_by_label("交办机关名称").fill("领导小组办公室")
    form.get_by_label("交办文号").fill("潜征争办交〔2026〕2号")
    form.get_by_label("回复期限").fill(due.isoformat())
    submit(clerk, "record-assignment")
    expect(clerk.locator("#timeline")).to_contain_text("登记交办")
    expect(clerk.locator("#timeline")).to_contain_text(f"回复期限 {due.isoformat()}")
    view = clerk.locator(".view")
    expect(view).to_contain_text("领导小组 · 领导小组办公室（潜征争办交〔2026〕2号）")
    expect(view).to_contain_text("待回复")
    # One assignment per case: the form is gone, the reply is offered.
    expect(clerk.locator("#cmd-record-assignment")).to_have_count(0)
    expect(clerk.locator("#cmd-reply-to-assignment")).to_have_count(1)
    screenshot(clerk, "case-assignment-recorded")
