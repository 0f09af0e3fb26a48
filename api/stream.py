"""GET /v1/events/stream: newly appended events as Server-Sent Events, resumable.

Each message's ``id`` is the event's global position, so a client that reconnects with
``Last-Event-ID`` (browsers do it by themselves) continues exactly after the last event it saw:
positions are gap-free and never reused (ARCHITECTURE.md decision 3). The server polls the store's
log; every connection is bounded — by ``max_events`` and ``timeout`` — so a forgotten client
cannot hold a worker for ever, and clients simply reconnect. Payer data is always masked here: the
stream spans all cases and has no single holding unit to decide for.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from api.access import allow, roles_note
from api.cases.event_records import event_out
from api.cases.reads import READ_HISTORY
from api.problems import ApiProblem, problem_responses
from ledger.service import LedgerService
from ledger.store import failures
from ledger.store.port import EventStore

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
BATCH = 500
KEEPALIVE_SECONDS = 15.0
RETRY_MILLISECONDS = 2000
OUTAGE_RETRY_MILLISECONDS = 1000


# A log position as the stream sends it. Not ``str.isdigit``: "²" is a digit to it (header bytes
# are latin-1), and no integer to ``int``.
_POSITION = re.compile(r"[0-9]{1,18}", re.ASCII)


def _last_event_id(header: str | None, after: int | None) -> int:
    if after is not None:
        return after
    if header is None or not header.strip():
        return 0
    if not _POSITION.fullmatch(header.strip()):
        raise ApiProblem(
            400, "INVALID_LAST_EVENT_ID", f"Last-Event-ID must be a log position, got {header!r}"
        )
    return int(header)


async def _events(
    store: EventStore, after: int, max_events: int, seconds: float
) -> AsyncIterator[ServerSentEventMessage]:
    deadline = time.monotonic() + seconds
    sent = 0
    quiet_since = time.monotonic()
    yield ServerSentEventMessage(data=None, comment=f"after {after}", retry=RETRY_MILLISECONDS)
    while sent < max_events and time.monotonic() < deadline:
        try:
            records = await store.read_log(after, limit=min(BATCH, max_events - sent))
        except Exception as exc:
            if failures.cause(exc) is None:
                raise
            # An outage ends the stream cleanly, with when to come back: the client resumes
            # from its Last-Event-ID once the database answers.
            log.warning("event stream ended: %s", failures.explain(exc))
            yield ServerSentEventMessage(
                data=None,
                comment="database unavailable; reconnect",
                retry=OUTAGE_RETRY_MILLISECONDS,
            )
            return
        for record in records:
            data = msgspec.json.encode(event_out(record, masked=True)).decode()
            yield ServerSentEventMessage(data=data, event=record.topic, id=record.position)
            after = record.position
        sent += len(records)
        if records:
            quiet_since = time.monotonic()
            continue
        if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            yield ServerSentEventMessage(
                data=None, comment="keep-alive"
            )  # keeps proxies from closing
            quiet_since = time.monotonic()
        await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


class StreamController(Controller):
    path = "/v1/events/stream"
    tags = ("events",)

    @get(
        "/",
        guards=[allow(READ_HISTORY)],
        operation_id="event_stream",
        media_type="text/event-stream",
        responses=problem_responses(400, 403),
        summary="Server-Sent Events of newly appended events",
        description="Each message: `id` = log position, `event` = topic, `data` = the event "
        "record (payer data masked). Resume with `Last-Event-ID` (or `after`). The stream ends "
        "after `max_events` events or `timeout` seconds; reconnect to continue. "
        + roles_note(READ_HISTORY),
    )
    async def stream(
        self,
        service: NamedDependency[LedgerService],
        last_event_id: Annotated[
            str | None, HeaderParameter(name="Last-Event-ID", max_length=32)
        ] = None,
        after: Annotated[
            int | None,
            QueryParameter(ge=0, le=2**62, description="start after this position"),
        ] = None,
        max_events: Annotated[int, QueryParameter(ge=1, le=100_000)] = 10_000,
        lifetime: Annotated[float, QueryParameter(name="timeout", gt=0, le=3600)] = 300.0,
    ) -> ServerSentEvent:
        start = _last_event_id(last_event_id, after)
        return ServerSentEvent(_events(service.store, start, max_events, lifetime))
