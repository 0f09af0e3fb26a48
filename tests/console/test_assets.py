"""Nothing a page needs comes from another origin: the /schema page runs on a closed network."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from api.assets import SCALAR_VERSION, STATIC_DIR
from tests.console.conftest import screenshot


def test_the_api_page_loads_its_pinned_assets_from_this_server(page: Page) -> None:
    page.goto("/schema")
    # Scalar has rendered the document: the API's title and one of its operations are on the page.
    page.get_by_text("/v1/cases", exact=False).first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)  # whatever it fetches after drawing, it has asked for by now
    screenshot(page, "schema", full_page=False)
    requested = page.origin_watch.requests  # type: ignore[attr-defined]
    assert any(f"/static/vendor/scalar/{SCALAR_VERSION}/standalone.js" in u for u in requested)
    assert any(u.endswith("/schema/openapi.json") for u in requested)
    # (the fixture asserts that not one request left the server's origin)


def test_every_vendored_package_carries_its_licence() -> None:
    vendored = [p for p in Path(STATIC_DIR, "vendor").glob("*/*") if p.is_dir()]
    assert vendored
    for directory in vendored:
        assert (directory / "LICENSE").read_text().strip(), directory
        assert (directory / "package.json").exists(), directory
