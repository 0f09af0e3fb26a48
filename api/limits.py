"""Bounded requests at the HTTP parser: a request's head (request line and headers) has a size,
a header count and a time limit, checked as the bytes arrive — before they are kept.

uvicorn's httptools parser has no limit of its own (llhttp hands a header over only once it is
complete, so one 300 MB header is first buffered whole), and uvicorn bounds only the idle time
between requests. ``bounded_protocol`` is uvicorn's httptools protocol with these checks:

| variable | bounds | default |
|---|---|---|
| LEDGER_MAX_HEADER_BYTES | request line and headers of one request | 32768 |
| LEDGER_MAX_HEADERS | header fields of one request | 100 |
| LEDGER_HEADER_TIMEOUT | from a connection's or request's first byte to its headers' end | 10 s |
| LEDGER_MAX_CONNECTIONS | open connections and running requests; more get 503 | 1000 |

A head too large or with too many fields gets ``431 Request Header Fields Too Large`` and the
connection is closed; a head that does not arrive in time (a slow client holding a connection
open, "slowloris") gets ``408 Request Timeout``. Bodies are bounded by the application
(``request_max_body_size``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Mapping
from typing import Any, ClassVar

import httptools
import msgspec
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ledger.config import ConfigError
from ledger.store.timeouts import seconds

log = logging.getLogger("api.limits")


class RequestLimits(msgspec.Struct, frozen=True, kw_only=True):
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    max_connections: int = 1000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RequestLimits:
        env = os.environ if env is None else env
        given: dict[str, Any] = {}
        try:
            for field, variable in (
                ("max_header_bytes", "LEDGER_MAX_HEADER_BYTES"),
                ("max_headers", "LEDGER_MAX_HEADERS"),
                ("max_connections", "LEDGER_MAX_CONNECTIONS"),
            ):
                text = env.get(variable, "").strip()
                if text:
                    given[field] = _count(variable, text)
            text = env.get("LEDGER_HEADER_TIMEOUT", "").strip()
            if text:
                given["header_timeout"] = seconds("LEDGER_HEADER_TIMEOUT", text)
        except ValueError as exc:
            raise ConfigError(f"bad configuration: {exc}") from None
        return cls(**given)

    def uvicorn_options(self, *, importable: bool = False) -> dict[str, Any]:
        """Keyword arguments of ``uvicorn.run`` that apply these limits. ``importable``: a
        protocol class worker processes can import (it reads the limits from the environment,
        as these were)."""
        http = BoundedHttpToolsProtocol if importable else bounded_protocol(self)
        return {"http": http, "limit_concurrency": self.max_connections}


def _count(variable: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{variable}={text!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"{variable}={text!r} must be at least 1")
    return value


LINGER_SECONDS = 1.0


class _HeadTooLarge(Exception):
    """Raised in a parser callback: httptools ends the parse, uvicorn answers 400 through
    ``send_400_response``, which this protocol turns into the 431 it stands for."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the head of each request bounded (see the module)."""

    configured: ClassVar[RequestLimits | None] = None  # None: as the environment says

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = type(self).configured or _environment_limits()
        self._head_bytes = 0
        self._head_fields = 0
        self._in_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._too_large: str | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped until the lingering close (see ``_refuse``)
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes + len(data):
                # Headers still incomplete after the limit, plus this chunk (whose end may be
                # the body): refuse before the parser buffers any more of it.
                self._refuse(431, "the request's headers are too large")
                return
        super().data_received(data)
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, "the request's headers are too large")

    # httptools callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_head:  # a pipelined request: its own budget and time
            self._in_head, self._head_bytes, self._head_fields = True, 0, 0
            self._arm_head_timer()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        if self._head_fields > self.limits.max_headers:
            self._too_large = f"more than {self.limits.max_headers} header fields"
            raise _HeadTooLarge(self._too_large)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes, self._head_fields = 0, 0
        self._in_head = True  # counts from the next request's first byte; the idle time between
        # requests is uvicorn's keep-alive timeout

    # refusals

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(408, "the request's headers did not arrive in time")

    def send_400_response(self, msg: str) -> None:
        if self._too_large is not None:
            self._refuse(431, self._too_large)
        else:
            super().send_400_response(msg)

    def _refuse(self, status: int, message: str) -> None:
        self._disarm_head_timer()
        if self.transport.is_closing() or self._refused:
            return
        log.warning("refused a request (%d): %s", status, message)
        body = msgspec.json.encode(
            {
                "status": status,
                "title": STATUS_LINE[status].decode().split(" ", 2)[2].strip(),
                "detail": message,
                "code": "REQUEST_HEAD_REFUSED",
            }
        )
        self.transport.write(
            b"".join(
                [
                    STATUS_LINE[status],
                    b"content-type: application/problem+json\r\n",
                    b"content-length: " + str(len(body)).encode() + b"\r\n",
                    b"connection: close\r\n\r\n",
                    body,
                ]
            )
        )
        # Closing a socket with unread input resets the connection, and the client may lose
        # the answer: read and drop what still comes for a moment (as servers do at a "lingering
        # close"), then close.
        self._refused = True
        self.parser = httptools.HttpRequestParser(self)  # drop whatever it buffered
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


@functools.cache
def _environment_limits() -> RequestLimits:
    return RequestLimits.from_env()


def bounded_protocol(limits: RequestLimits) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for uvicorn's ``http`` option, with ``limits``."""
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,), {"configured": limits})
