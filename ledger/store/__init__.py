"""The event store: one async port (``port.py``), two adapters, and the codec.

``open_store`` picks the adapter from ``LEDGER_DATABASE_URL``-style URLs; the store it returns
still has to be opened (``await store.open()``, or ``async with store:``).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote

from ledger.store.port import (
    AppendHook,
    AppendResult,
    EventStore,
    Idempotency,
    IdempotencyKeyReused,
    NewEvent,
    RecordedEvent,
    StoreError,
    VersionConflict,
)
from ledger.store.timeouts import DatabaseTimeouts

__all__ = [
    "DEFAULT_URL",
    "AppendHook",
    "AppendResult",
    "EventStore",
    "Idempotency",
    "IdempotencyKeyReused",
    "NewEvent",
    "RecordedEvent",
    "StoreError",
    "VersionConflict",
    "open_store",
    "sqlite_path",
]

DEFAULT_URL = "sqlite:///./ledger.db"
_SQLITE = "sqlite:///"
_POSTGRES = ("postgresql://", "postgres://")


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///relative/path`` or ``sqlite:////absolute/path`` URL."""
    if not url.startswith(_SQLITE):
        raise ValueError(f"not a sqlite URL: {url!r} (expected sqlite:///path)")
    path = unquote(url.removeprefix(_SQLITE).split("?", 1)[0])
    if not path or path == ":memory:":
        # Readers use their own connections, which an in-memory database cannot share.
        raise ValueError(f"a sqlite URL must name a file, not {url!r}")
    return path


def open_store(
    url: str | None, hooks: Sequence[AppendHook] = (), *, timeouts: DatabaseTimeouts | None = None
) -> EventStore:
    """The store for ``url`` (not yet opened). None or '' means ``sqlite:///./ledger.db``;
    ``timeouts`` bound PostgreSQL's waits (by default as the environment says)."""
    url = url or DEFAULT_URL
    if url.startswith(_SQLITE):
        from ledger.store.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url), hooks)
    if url.startswith(_POSTGRES):
        from ledger.store.postgres import PostgresStore

        return PostgresStore(url, hooks, timeouts=timeouts)
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise ValueError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///relative/path, "
        "sqlite:////absolute/path, postgresql://… or postgres://…"
    )
