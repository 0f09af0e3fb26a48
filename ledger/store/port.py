"""The event store port: what the write path, projections and audit need from storage.

Two adapters implement it (``sqlite.py``, ``postgres.py``) and pass one contract suite
(``tests/contract``). Guarantees every adapter gives:

- optimistic concurrency: an append at a stale ``expected_version`` is refused, nothing recorded;
- one global log, positions 1..N in commit order, never skipped or reused (a refused append
  burns nothing);
- idempotency: a repeated ``idempotency_key`` for the same case with the same fingerprint returns
  the original result and records nothing; with another fingerprint it is refused;
- each event row carries ``hash = SHA-256(prev_hash ‖ canonical bytes)`` of its case chain
  (``ledger.store.chain``); ``recorded_at`` is stamped by the store under the append lock and never
  decreases along positions;
- concurrent appends are group-committed: many appends share one transaction.

Snapshots (``save_snapshot``, ``latest_snapshot``) are a cache of folded case states kept beside
the log, never part of it: the log alone is the record. A snapshot is only ever handed back bound
to the log — its ``event_hash`` equal to the hash of the case's stored event at its version — and
intact (its stored digest matches its content); anything else is skipped as if it were absent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

import msgspec

from ledger.store.database import Database


class NewEvent(msgspec.Struct, frozen=True):
    """An event ready to be appended: the Mapper's output plus request metadata."""

    case_id: UUID
    version: int  # the case version this event creates (1 for the registration)
    topic: str
    state: bytes  # the transcoded event state (msgspec JSON, see ledger.store.codec)
    metadata: bytes = b"{}"  # canonical JSON: request id, idempotency key, actor summary


class RecordedEvent(msgspec.Struct, frozen=True):
    """An event as stored: immutable, positioned, chained."""

    position: int
    case_id: UUID
    version: int
    topic: str
    state: bytes
    metadata: bytes
    recorded_at: datetime  # UTC, stamped by the store; non-decreasing along positions
    prev_hash: bytes  # 32 bytes; 32 zero bytes for a case's first event
    hash: bytes  # 32 bytes


class Idempotency(msgspec.Struct, frozen=True):
    """An idempotency key and the fingerprint of the request it was used for."""

    key: str
    fingerprint: str  # e.g. hex SHA-256 of the canonical command body


class AppendResult(msgspec.Struct, frozen=True):
    case_id: UUID
    version: int  # the case version after the append
    first_position: int
    last_position: int
    recorded_at: datetime
    replayed: bool = False  # True when an idempotent retry returned the original result
    # The events this append stored, as read back they would be. Empty for a replay: it is the
    # answer to a request stored earlier, and only its summary above is kept.
    records: tuple[RecordedEvent, ...] = ()


@dataclass(frozen=True)
class Numbering:
    """A registration's case number, given out under the append lock.

    ``events(n)`` are the request's events carrying the ``n``-th number of ``year`` (1, 2, …):
    the store calls it only for a request it accepts, with the year's last number + 1, and
    records the new last number in the same transaction — no gaps, no repeats, on any store.
    """

    year: int
    events: Callable[[int], Sequence[NewEvent]]


class Snapshot(msgspec.Struct, frozen=True):
    """A case's state folded up to ``version``: a cache derived from the events, never a source.

    ``topic`` says what ``state`` is and which code made it (the aggregate, its state schema and
    code fingerprint, see ``ledger.snapshots``); a reader ignores every topic but its own.
    """

    case_id: UUID
    version: int  # the state after the case's event of this version
    topic: str
    state: bytes
    event_hash: bytes  # the hash of the case's event at ``version`` (32 bytes)


class StoreError(Exception):
    code = "STORE_ERROR"


class VersionConflict(StoreError):
    """The case moved on since the caller read it (optimistic concurrency)."""

    code = "VERSION_MISMATCH"

    def __init__(self, case_id: UUID, expected: int, actual: int) -> None:
        super().__init__(f"case {case_id} is at version {actual}, not {expected}")
        self.case_id, self.expected, self.actual = case_id, expected, actual


class CaseNotFound(LookupError):
    """No event of this case is stored (at all, or up to the version or moment asked)."""

    code = "CASE_NOT_FOUND"

    def __init__(self, case_id: UUID, detail: str = "") -> None:
        super().__init__(f"no case {case_id}{detail}")
        self.case_id = case_id


class IdempotencyKeyReused(StoreError):
    """The idempotency key was already used for this case with a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self, case_id: UUID, key: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used on case {case_id} for a different request"
        )
        self.case_id, self.key = case_id, key


@runtime_checkable
class EventStore(Protocol):
    """The async event store port."""

    database: Database  # where it keeps the log (the audit tables and read models live there too)

    async def open(self) -> None:
        """Connect and create the schema if it does not exist."""

    async def close(self) -> None: ...

    async def append(
        self,
        case_id: UUID,
        expected_version: int,
        events: Sequence[NewEvent],
        idempotency: Idempotency | None = None,
        numbering: Numbering | None = None,
    ) -> AppendResult:
        """Append ``events`` (versions expected_version+1 …) to one case, atomically; with
        ``numbering``, the events ``numbering.events(n)`` make for the year's next number."""

    async def read_case(
        self,
        case_id: UUID,
        *,
        to_version: int | None = None,
        as_of: datetime | None = None,
        after_version: int = 0,
    ) -> list[RecordedEvent]:
        """A case's events in version order, optionally only up to a version or recorded time,
        and only those after ``after_version`` (the events to fold onto a snapshot)."""

    async def read_log(self, after: int, limit: int = 1000) -> list[RecordedEvent]:
        """Events with position > ``after``, in position order, at most ``limit``."""

    def iter_log(self, after: int = 0, batch: int = 5000) -> AsyncIterator[RecordedEvent]:
        """Stream the whole log from ``after`` in batches, never all in memory."""

    async def head(self) -> int:
        """The last position (0 for an empty log)."""

    async def case_version(self, case_id: UUID) -> int:
        """A case's current version (0 if it has no events)."""

    async def position_at(self, as_of: datetime) -> int:
        """The last position recorded at or before ``as_of`` (0 if none)."""

    async def idempotency_record(self, case_id: UUID, key: str) -> IdempotencyRecord | None:
        """What ``key`` was first used for on this case, if it was (for retries before replay)."""

    async def save_snapshot(
        self, case_id: UUID, version: int, topic: str, state: bytes, event_hash: bytes
    ) -> None:
        """Keep a snapshot of a case at ``version`` (replacing one kept at that version).

        Stored with a digest of its content; nothing about it is checked against the log here,
        ``latest_snapshot`` does that on every read.
        """

    async def latest_snapshot(
        self, case_id: UUID, topic: str, at_most_version: int | None = None
    ) -> Snapshot | None:
        """The case's newest snapshot of ``topic`` at or below ``at_most_version`` that is bound
        to the log (its ``event_hash`` equals the stored event's hash at its version) and intact
        (its digest matches); None if there is none."""


class AppendHook(Protocol):
    """Work done inside every append transaction, after the batch's rows are inserted.

    The audit layer uses it to extend the Merkle log in the same transaction as the events, so
    that the log and its tree can never disagree. Each adapter calls the method for its dialect
    with the batch's records in position order; raising aborts the whole transaction.
    """

    def postgres_schema(self) -> str:
        """DDL (idempotent: CREATE … IF NOT EXISTS) run when the PostgreSQL store opens."""

    async def on_append_postgres(self, conn: object, records: Sequence[RecordedEvent]) -> None:
        """Called with the asyncpg connection inside the append transaction."""

    def sqlite_schema(self) -> str:
        """DDL (idempotent) run when the SQLite store opens."""

    def on_append_sqlite(self, conn: object, records: Sequence[RecordedEvent]) -> None:
        """Called with the sqlite3 connection inside the append transaction (writer thread)."""


class IdempotencyRecord(msgspec.Struct, frozen=True):
    """What an idempotency key was first used for, and what that append returned."""

    fingerprint: str
    result: AppendResult
