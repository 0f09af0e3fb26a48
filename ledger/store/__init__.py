"""The event store: one async port (``port.py``), two adapters, and the codec.

``open_store`` picks the adapter for a ``Database`` (``LEDGER_DATABASE_URL`` parsed once); the store
it returns still has to be opened (``await store.open()``, or ``async with store:``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.store.database import DEFAULT_URL, Database, Dialect, database, sqlite_path
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
    "Database",
    "Dialect",
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


def open_store(
    url: Database | str | None,
    hooks: Sequence[AppendHook] = (),
    *,
    timeouts: DatabaseTimeouts | None = None,
) -> EventStore:
    """The store of a database (or its URL; None or '' means ``sqlite:///./ledger.db``), not
    yet opened; ``timeouts`` bound PostgreSQL's waits (by default as the environment says)."""
    db = database(url)
    if db.dialect is Dialect.SQLITE:
        from ledger.store.sqlite import SQLiteStore

        return SQLiteStore(db, hooks)
    from ledger.store.postgres import PostgresStore

    return PostgresStore(db, hooks, timeouts=timeouts)
