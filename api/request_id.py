"""The id of the request being handled (set by ``api.observability.RequestObserver``)."""

from __future__ import annotations

import contextvars
import uuid

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ledger_request_id", default=None
)


def current_request_id() -> str:
    """The id of the request being handled (a new one outside any observed request)."""
    return REQUEST_ID.get() or uuid.uuid4().hex
