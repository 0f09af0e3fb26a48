"""Fixtures of the console's browser tests: ``ledger serve`` as a real process on the embedded
database (with its demo data and demo accounts), and the system's Chromium driven by Playwright.

Chromium comes from the operating system's packages (``chromium``, with ``fonts-noto-cjk`` so
Chinese renders), never from Playwright's own download; ``.ci/run`` installs them when missing.
Screenshots go to ``$LEDGER_ARTIFACTS`` (default ``tmp/artifacts`` of the checkout, not committed).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, sync_playwright

from ledger.audit.keys import init_keys
from tests.api.conftest import api, app, client, head, key_dir  # noqa: F401 - fixtures, reused
from tests.api.processes import ROOT, free_port, served, server_env, wait_until_healthy

ARTIFACTS = Path(os.environ.get("LEDGER_ARTIFACTS") or ROOT / "tmp" / "artifacts")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def system_chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError(
        "no Chromium on this system: apt-get install -y chromium fonts-noto-cjk (as .ci/run does)"
    )


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ledger serve`` on a fresh embedded database, which it fills with demo data first."""
    home = tmp_path_factory.mktemp("console")
    init_keys(home / "keys")
    env = server_env(f"sqlite:///{home / 'ledger.db'}", home / "keys")
    port = free_port()
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--demo-cases", "12"]
    with served(args, env) as process:
        wait_until_healthy(f"http://127.0.0.1:{port}", process, seconds=120)
        yield f"http://127.0.0.1:{port}"


# Module scope: Playwright's synchronous API runs an event loop of its own while it is started,
# which must be stopped before the asynchronous tests of another module run theirs.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=system_chromium(), headless=True, args=["--lang=zh-CN"]
        )
        yield chromium
        chromium.close()


class OriginWatch:
    """Every request a page makes; those that left the server's origin."""

    def __init__(self, base_url: str) -> None:
        self.origin = urlsplit(base_url).netloc
        self.requests: list[str] = []

    def __call__(self, request: Request) -> None:
        self.requests.append(request.url)

    @property
    def elsewhere(self) -> list[str]:
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in {"data", "blob", "about"}
            and urlsplit(url).netloc != self.origin
        ]


@pytest.fixture
def page(browser: Browser, console_server: str) -> Iterator[Page]:
    context = browser.new_context(
        base_url=console_server, viewport={"width": 1366, "height": 768}, locale="zh-CN"
    )
    page = context.new_page()
    watch = OriginWatch(console_server)
    context.on("request", watch)
    page.origin_watch = watch  # type: ignore[attr-defined]
    yield page
    context.close()
    assert watch.elsewhere == [], f"requests left the server's origin: {watch.elsewhere}"


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
