"""审计 (``/audit``) in a real browser (the system's Chromium), over ``ledger serve`` with demo
data: the latest checkpoint with the witnesses that co-signed it, a whole-ledger verification
run to 100 % with its report, a case's evidence bundle taken after the recorded reveal, and the
check of an uploaded bundle — the one just taken passes, a tampered copy is refused.

Screenshots go to the artifacts directory (see conftest) for a person to look at.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import msgspec
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from api.auth import issue_token
from console.audit import age
from ledger.audit.bundle import Bundle, encode
from ledger.audit.keys import KeyConfig, init_keys, load_signer, load_trusted
from ledger.audit.witness import cosign, http_transport
from ledger.domain.codes import Role
from ledger.staff_demo import DEMO_PASSWORD
from tests.api.processes import free_port, served, server_env, wait_until_healthy
from tests.api.support import AUDITOR, SECRET, WITNESS, H, T, bearer, staff
from tests.console.conftest import OriginWatch, screenshot

TAX_WITNESS = staff("W0002", "税务见证人", "tax.office", T, Role.WITNESS)
HRSS_WITNESS = WITNESS  # 市人社局办公室
assert HRSS_WITNESS.department is H


class Served:
    def __init__(self, url: str, db: Path) -> None:
        self.url, self.db = url, db

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, headers=bearer(AUDITOR), timeout=30)

    def sql(self, statement: str, *params: object) -> None:
        """Straight into the served database, as another API process would write it."""
        with contextlib.closing(sqlite3.connect(self.db, timeout=30)) as conn, conn:
            conn.execute(statement, params)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``ledger serve`` with demo data whose first checkpoint two witnesses co-signed."""
    home = tmp_path_factory.mktemp("audit")
    init_keys(home / "keys")
    env = server_env(f"sqlite:///{home / 'ledger.db'}", home / "keys")
    env["LEDGER_CHECKPOINT_SECONDS"] = "3600"  # the first one at once, then no other by time
    port = free_port()
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--demo-cases", "12"]
    with served(args, env) as process:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process, seconds=120)
        server = Served(url, home / "ledger.db")
        head = httpx.get(url + "/ready", timeout=30).json()["head"]
        for _ in range(300):  # the signer signs the whole demo log at once
            latest = server.get("/v1/ledger/checkpoint")
            if latest.status_code == 200 and latest.json()["size"] == head:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("no checkpoint of the demo log")
        trusted = load_trusted(KeyConfig(home / "keys"))
        for who, department in ((TAX_WITNESS, "tax"), (HRSS_WITNESS, "hrss")):
            signer = load_signer(home / "keys" / f"witness-{department}.key")
            transport = http_transport(url, issue_token(SECRET, who))
            state = home / f"witness-{department}.json"
            # In a thread of its own: Playwright's loop may be running in this one.
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, cosign(signer, trusted.ledger, state, *transport)).result()
        yield server


@pytest.fixture
def context(browser: Browser, audited: Served) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=audited.url,
        viewport={"width": 1366, "height": 768},
        locale="zh-CN",
        accept_downloads=True,
    )
    watch = OriginWatch(audited.url)
    context.on("request", watch)
    yield context
    context.close()
    assert watch.elsewhere == [], f"requests left the server's origin: {watch.elsewhere}"


def sign_in(context: BrowserContext, staff_id: str) -> Page:
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("工号").fill(staff_id)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()
    return page


def tampered(good: bytes) -> bytes:
    """The bundle with one event's content changed, re-encoded canonically: only the hashes
    can tell."""
    bundle = msgspec.json.decode(good, type=Bundle)
    first = bundle.events[0]
    registered = msgspec.json.decode(first.state)
    registered["summary"] += "（已改）"  # what the payer asked about, as a forger would
    state = msgspec.json.encode(registered)
    events = [msgspec.structs.replace(first, state=state), *bundle.events[1:]]
    return encode(msgspec.structs.replace(bundle, events=events))


def test_an_auditor_checks_the_checkpoint_verifies_the_ledger_and_checks_bundles(
    context: BrowserContext, audited: Served, tmp_path: Path
) -> None:
    page = sign_in(context, AUDITOR.staff_id)
    page.get_by_role("link", name="审计").click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    expect(page.get_by_role("heading", name="最新签名检查点")).to_be_visible()

    # The latest checkpoint, signed by the ledger and co-signed by both witnesses, with ages.
    checkpoint = audited.get("/v1/ledger/checkpoint").json()
    expect(page.locator("#checkpoint-size")).to_contain_text(f"{checkpoint['size']:,} 件事件")
    expect(page.locator("#checkpoint")).to_contain_text(checkpoint["root"])
    rows = page.locator("#cosignatures tbody tr")
    expect(rows).to_have_count(2)
    assert sorted(checkpoint["cosigned_by"]) == [
        "hrss.witness.ledger.local",
        "tax.witness.ledger.local",
    ]
    for name in checkpoint["cosigned_by"]:
        row = rows.filter(has_text=name)
        expect(row).to_contain_text("人社" if name.startswith("hrss.") else "税务")
        expect(row).to_contain_text("有效")
        expect(row).to_contain_text(re.compile(r"刚刚|\d+ 分钟前"))
    expect(page.locator("#checkpoint")).to_contain_text("台账签名有效")
    screenshot(page, "audit-checkpoint")

    # Another process runs a verification: the page follows it (htmx polls the job) and offers
    # no second one. Then that process is killed: once its heartbeat is old, the next poll finds
    # the job failed, and a new one may start.
    other, beat = uuid4(), datetime.now(UTC)
    audited.sql(
        "INSERT INTO ledger_verifications (id, status, requested_by, requested_by_name, "
        "requested_at, started_at, heartbeat_at, owner, events_checked, events_total) "
        "VALUES (?, 'running', 'A0002', '郑审计', ?, ?, ?, 'elsewhere:4242:0', 7, 20)",
        str(other),
        *[beat.isoformat(timespec="microseconds")] * 3,
    )
    page.reload()
    expect(page.locator("#verify-progress-text")).to_have_text("35.0%")
    expect(page.locator("#verification")).to_contain_text("郑审计（A0002）")
    expect(page.get_by_role("button", name="核验进行中…")).to_be_disabled()
    page.locator("#verification").scroll_into_view_if_needed()
    screenshot(page, "audit-verifying", full_page=False)
    old = (beat - timedelta(minutes=1)).isoformat(timespec="microseconds")
    audited.sql("UPDATE ledger_verifications SET heartbeat_at = ? WHERE id = ?", old, str(other))
    expect(page.locator("#verification")).to_contain_text("未完成", timeout=15_000)
    expect(page.locator("#verification")).to_contain_text("no heartbeat since")
    screenshot(page, "audit-verification-abandoned", full_page=False)

    # Verification of the whole ledger, as a job: the bar runs to 100 % and the report shows.
    page.get_by_role("button", name="核验全部台账").click()
    expect(page.locator("#verify-result")).to_contain_text("核验通过", timeout=60_000)
    expect(page.locator("#verify-progress-text")).to_have_text("100.0%")
    head = httpx.get(audited.url + "/ready", timeout=30).json()["head"]
    expect(page.locator("#verification")).to_contain_text(f"已核验 {head:,} / {head:,} 件事件")
    expect(page.locator("#verification")).to_contain_text("吴审计（A0001）")
    assert page.locator("#verify-progress").get_attribute("value") == "100.0"
    page.locator("#verification").scroll_into_view_if_needed()
    screenshot(page, "audit-verified")

    # The evidence bundle of a case: only after the reveal is recorded, with a reason.
    case = audited.get("/v1/cases?limit=1").json()["items"][0]
    page.get_by_label("案件号或案件ID").fill(case["case_number"])
    page.get_by_role("button", name="查找").click()
    expect(page.locator("#evidence")).to_contain_text(case["case_number"])
    assert "*" in page.locator("#evidence-identifier").inner_text()  # masked until revealed
    expect(page.get_by_role("link", name="下载证据包")).to_have_count(0)
    denied = context.request.get(f"/audit/evidence/{case['case_id']}")
    assert denied.status == 403
    page.get_by_label("查看理由").fill("审计抽查：核对证据包")
    page.get_by_role("button", name="记录理由").click()
    expect(page.locator("#evidence")).to_contain_text("你已于")
    assert "*" not in page.locator("#evidence-identifier").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="下载证据包").click()
    good = tmp_path / download.value.suggested_filename
    download.value.save_as(good)
    assert good.name == f"evidence-{case['case_id']}.json"
    history = audited.get(f"/v1/cases/{case['case_id']}/events").json()
    assert history[-1]["topic"] == "ledger.IdentifiersRevealed"  # the reveal, on the record
    screenshot(page, "audit-evidence")

    # Upload: the bundle just taken passes, a tampered copy is refused.
    page.get_by_label("证据包文件（JSON）").set_input_files(good)
    page.get_by_role("button", name="校验", exact=True).click()
    result = page.locator("#bundle-result")
    expect(result).to_contain_text("校验通过")
    expect(result).to_contain_text(str(case["case_id"]))
    expect(result).to_contain_text(f"{len(history)}")
    result.scroll_into_view_if_needed()
    screenshot(page, "audit-bundle-ok")
    bad = tmp_path / "evidence-tampered.json"
    bad.write_bytes(tampered(good.read_bytes()))
    page.get_by_label("证据包文件（JSON）").set_input_files(bad)
    page.get_by_role("button", name="校验", exact=True).click()
    expect(result).to_contain_text("校验未通过")
    expect(result).to_contain_text("hash does not match the event's content")
    result.scroll_into_view_if_needed()
    screenshot(page, "audit-bundle-tampered")


def test_the_audit_page_is_the_auditors(context: BrowserContext) -> None:
    page = sign_in(context, "T1001")
    expect(page.get_by_role("link", name="审计")).to_have_count(0)
    page.goto("/audit")
    expect(page.get_by_role("heading", name="无权操作")).to_be_visible()
    expect(page.locator("main")).to_contain_text("审计页面仅供审计人员使用")


def test_ages_are_said_in_words() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    said = [age(now - timedelta(seconds=s), now) for s in (0, 59, 60, 3599, 3600, 5 * 3600 + 59)]
    assert said == ["刚刚", "刚刚", "1 分钟前", "59 分钟前", "1 小时前", "5 小时前"]
    assert age(now - timedelta(days=3, hours=2), now) == "3 天前"
    assert age(None, now) == "—"
