"""Browser assets served by the app itself, pinned: nothing a page needs comes from elsewhere.

Government networks are often closed, and ``@latest`` from a CDN would let a page change under
the project. The interactive API page (``/schema``) loads Scalar from ``api/static/vendor``; other
packages (the console) add their own directories to the same ``/static`` route.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"
SCALAR_VERSION = "1.76.4"  # npm @scalar/api-reference, vendored (see api/static/README.md)


def scalar_plugin() -> ScalarRenderPlugin:
    """The /schema page with Scalar from this server, without its web fonts (another origin)."""
    return ScalarRenderPlugin(
        path=["/", "/scalar"],
        js_url=f"{STATIC_PATH}/vendor/scalar/{SCALAR_VERSION}/standalone.js",
        css_url=f"{STATIC_PATH}/schema.css",
        favicon="",  # the default is an image on a CDN
        options={"withDefaultFonts": False},
    )


def static_router(extra: Sequence[Path] = ()) -> Router:
    """``/static/…`` from the API's directory and ``extra`` ones, public (no token, no session).

    Vendored files are named by version, so a browser may keep them for a day without risk of a
    stale page after an upgrade."""
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIR, *extra],
        cache_control=CacheControlHeader(max_age=86400),
        opt={"exclude_from_auth": True},
        include_in_schema=False,
    )
