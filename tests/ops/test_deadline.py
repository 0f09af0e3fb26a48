"""The deadline on every request: a handler still waiting at it is answered for with 503 and
``Retry-After`` at once (and cancelled behind the client's back); a started stream is not cut; a
route may lift the deadline for itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

from litestar import Litestar, get
from litestar.middleware import DefineMiddleware
from litestar.response import Stream
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.deadline import RequestDeadline
from api.problems import problem_response
from ledger.config import Settings
from tests.api.support import SECRET

DEADLINE = 0.3
cancelled = asyncio.Event()


@get("/slow")
async def slow() -> str:
    try:
        await asyncio.sleep(5)
    except asyncio.CancelledError:
        cancelled.set()
        raise
    return "late"


@get("/long", opt={"request_timeout": None})
async def long() -> str:
    await asyncio.sleep(DEADLINE * 2)
    return "done"


@get("/stream")
async def stream() -> Stream:
    async def chunks() -> AsyncIterator[bytes]:
        for n in range(4):
            yield f"{n}\n".encode()
            await asyncio.sleep(DEADLINE / 2)

    return Stream(chunks())


def app() -> Litestar:
    return Litestar(
        route_handlers=[slow, long, stream],
        exception_handlers={Exception: problem_response},
        middleware=[DefineMiddleware(RequestDeadline, seconds=DEADLINE)],
    )


async def test_a_request_past_its_deadline_is_answered_at_once() -> None:
    cancelled.clear()
    async with AsyncTestClient(app()) as client:
        started = time.monotonic()
        response = await client.get("/slow")
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "2"
        assert response.json()["code"] == "DATABASE_TIMEOUT"
        assert DEADLINE <= elapsed < DEADLINE + 0.5
        await asyncio.wait_for(cancelled.wait(), 1)  # the handler was cancelled behind it


async def test_a_started_stream_and_an_exempt_route_are_not_cut() -> None:
    async with AsyncTestClient(app()) as client:
        streamed = await client.get("/stream")
        assert streamed.status_code == 200
        assert streamed.text == "0\n1\n2\n3\n"
        assert (await client.get("/long")).text == "done"


def test_the_whole_ledger_verification_route_has_no_deadline(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}", jwt_secret=SECRET)
    handlers = [
        handler
        for route in create_app(settings).routes
        if route.path == "/v1/ledger/verify"
        for handler in route.route_handlers  # type: ignore[union-attr]
        if "GET" in handler.http_methods
    ]
    assert handlers
    assert all(handler.opt["request_timeout"] is None for handler in handlers)
