"""A deadline on every request: an answer within ``LEDGER_REQUEST_TIMEOUT`` seconds, whatever the
database does.

The store bounds each wait (``ledger.store.timeouts``), but a request may wait several times
(a pool slot, a statement, the group commit), and a database that stopped answering without
closing its connections must not hold a client for longer than a load balancer's patience. A
handler still running at the deadline is cancelled (a write queued for the group commit is then
dropped from the queue; one already in a transaction may still commit, which the problem says)
and the client gets ``503 DATABASE_TIMEOUT`` with ``Retry-After``. A response that has started
(an event stream) is no longer bounded: it ends by its own rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import ApiProblem

DEFAULT_REQUEST_TIMEOUT = 4.0
RETRY_AFTER_SECONDS = 2
REQUEST_TIMEOUT_OPT = "request_timeout"
T = TypeVar("T")


class RequestDeadline:
    """Litestar middleware (``DefineMiddleware(RequestDeadline, seconds=…)``).

    The handler runs as a task of its own: at the deadline the client is answered at once,
    and the task, cancelled, is left to unwind in the background (asyncpg may turn a
    cancellation into a wait for the server to acknowledge it; the client does not wait
    for that). Whatever the abandoned task still tries to send is dropped."""

    def __init__(self, app: ASGIApp, seconds: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seconds = _own_timeout(scope, self.seconds)
        if scope["type"] != "http" or seconds is None:
            await self.app(scope, receive, send)
            return
        started = abandoned = False

        async def guarded(message: Message) -> None:
            nonlocal started
            if abandoned:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded))
        try:
            await asyncio.wait({task}, timeout=seconds)
            if not task.done() and started:  # streaming: the response bounds itself
                await task
        except BaseException:  # the server cancels the request (shutdown, disconnect)
            task.cancel()
            raise
        if task.done():
            task.result()  # re-raised for the app's exception handler
            return
        abandoned = True
        abandon(task)
        raise timed_out(seconds)


def _own_timeout(scope: Scope, default: float) -> float | None:
    """A route may set its own bound in its ``opt`` (``request_timeout``: seconds, or None for
    none — a whole-ledger verification reads for seconds per million events, by design)."""
    opt = getattr(scope.get("route_handler"), "opt", None) or {}
    if REQUEST_TIMEOUT_OPT in opt:
        value = opt[REQUEST_TIMEOUT_OPT]
        return None if value is None else float(value)
    return default


_ABANDONED: set[asyncio.Task[object]] = set()


def abandon(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and let it finish in the background, its outcome discarded."""
    task.cancel()
    _ABANDONED.add(task)

    def forget(done: asyncio.Task[Any]) -> None:
        _ABANDONED.discard(done)
        if not done.cancelled():
            done.exception()  # retrieved: not reported as "never retrieved"

    task.add_done_callback(forget)


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """``awaitable``'s result, or ``TimeoutError`` after ``seconds`` without waiting for it to
    unwind (see ``RequestDeadline``)."""
    task = asyncio.ensure_future(awaitable)
    try:
        await asyncio.wait({task}, timeout=seconds)
    except BaseException:
        task.cancel()
        raise
    if task.done():
        return task.result()
    abandon(task)
    raise TimeoutError(f"no answer within {seconds:g} s")


def timed_out(seconds: float) -> ApiProblem:
    return ApiProblem(
        503,
        "DATABASE_TIMEOUT",
        f"the database did not answer within {seconds:g} s; retry later (a write may have"
        " been recorded: retry it with the same Idempotency-Key)",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
