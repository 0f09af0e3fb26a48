"""The read-model database port: what the runner and the queries need, on either database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable
from uuid import UUID

from ledger.projections.inspection import Consulted, FindingFact, Held, Received
from ledger.projections.projection import Projection, Reader, Write
from ledger.projections.tables import Cursor, Period
from ledger.projections.views import CaseFilters
from ledger.store import sqlite_path
from ledger.store.port import RecordedEvent


@dataclass(frozen=True)
class CaseRows:
    """A case listing as one read snapshot holds it: how many rows match, the log position the
    case rows reflect, and the rows themselves (case states), in the list's order, page by
    page — all three from the same snapshot, whatever the runner commits meanwhile."""

    count: int
    position: int
    pages: AsyncIterator[list[bytes]]


class ReadStore(Reader, Protocol):
    """The tables of ``projections``, their tracked positions, and the queries of the API."""

    projections: tuple[Projection, ...]

    async def open(self) -> None:
        """Connect and create the tables if they do not exist."""

    async def close(self) -> None: ...

    async def tracking(self) -> dict[str, tuple[int, str]]:
        """The tracked position and fingerprint of each projection that has rows."""

    async def reset(self, fingerprints: Mapping[str, str]) -> None:
        """Drop the named projections' tables; recreate them empty, tracked at position 0 with
        the given fingerprints (secondary indexes later: :meth:`create_indexes`)."""

    async def create_indexes(self, names: Collection[str] | None = None) -> None:
        """The secondary indexes of the named projections (all by default)."""

    async def commit(self, moves: Mapping[str, tuple[int, int]], writes: Sequence[Write]) -> bool:
        """Move each named projection's position from ``expected`` to ``position`` (``moves``:
        name → (expected, position)) and apply ``writes``, in one transaction; False if a
        position was not the one expected (another runner got there first), and then
        nothing is written."""

    def snapshot(self) -> AbstractAsyncContextManager[Reader]:
        """A reader whose statements all see the read models as one commit left them (a
        report that reads several tables, or a table and what changed after it)."""

    async def case_state(self, case_id: UUID) -> bytes | None: ...

    async def list_states(
        self, filters: CaseFilters, cursor: Cursor | None, limit: int, today: date
    ) -> list[bytes]: ...

    def case_rows(
        self, filters: CaseFilters, today: date, page: int
    ) -> AbstractAsyncContextManager[CaseRows]:
        """Every case ``list_states`` would list under ``filters``, from one read snapshot
        (its count and position first), ``page`` states at a time; the snapshot is held until
        the context exits."""

    async def count_states(self, filters: CaseFilters, today: date) -> int:
        """How many cases ``list_states`` lists under ``filters``, over all its pages."""

    async def held_by_deadline(self, unit: str, limit: int) -> list[bytes]:
        """The open cases ``unit`` holds (not awaiting another unit's acceptance), the nearest
        deadline first, those without one last."""

    async def received(self, period: Period) -> Sequence[Received]:
        """(unit, staff id, staff name, case, registered position) of each case received in
        the period."""

    async def held(self, period: Period) -> Sequence[Held]:
        """(unit, staff id, staff name, case, from position, to position) of each custody
        period that overlaps the period (of its unit, if it names one)."""

    async def consulted(self, period: Period) -> Sequence[Consulted]:
        """(recorder's unit, staff id, staff name, case, position, units consulted) of each
        joint consultation held in the period and recorded by its position (of its unit, if it
        names one: recorded by it or consulting it)."""

    async def findings(self, period: Period, today: date) -> Sequence[FindingFact]:
        """(case, check, charged staff id, charged unit, staff name, proof positions,
        provisional) of every finding interval of the period's cases that holds at its
        position on ``today`` (charged to its unit, if it names one)."""

    async def listen(self) -> None: ...

    async def wait_for_change(self, seconds: float) -> None:
        """Until new events may have been appended, or at most ``seconds``."""


@runtime_checkable
class PartitionedReadStore(ReadStore, Protocol):
    """A database that several processes can rebuild the read models into at once
    (PostgreSQL; ``ledger.projections.partition``)."""

    url: str

    async def open(self, *, create: bool = True) -> None: ...

    async def claim_rebuild(self, fingerprints: Mapping[str, str], marker: str) -> bool:
        """The named projections, empty at position 0 with these fingerprints, are marked as
        being rebuilt under ``marker`` by this process; False if they were not in that state."""

    async def write_partition(self, marker: str, writes: Sequence[Write]) -> bool:
        """A worker's rows; False if ``marker`` is gone from any projection it was on."""

    async def finish_rebuild(
        self, marker: str, position: int, fingerprints: Mapping[str, str]
    ) -> bool:
        """The rebuild under ``marker`` is complete: track ``position`` and the
        fingerprints."""

    async def release_rebuild(self) -> None: ...

    async def read_events(self, after: int, until: int) -> list[RecordedEvent]:
        """The log after ``after`` up to ``until``: position, case, version, topic, state."""

    async def rebuilding_elsewhere(self) -> bool:
        """Whether a live process is leading a partitioned rebuild."""


def open_read_store(url: str, projections: Sequence[Projection] | None = None) -> ReadStore:
    """The read-model database behind a ``LEDGER_DATABASE_URL`` (not yet opened), holding
    ``projections`` (by default the registered ones, ``ledger.projections.registry``)."""
    if url.startswith("sqlite:"):
        from ledger.projections.db_sqlite import SQLiteReadStore

        return SQLiteReadStore(sqlite_path(url), projections)
    if url.startswith(("postgresql://", "postgres://")):
        from ledger.projections.db_postgres import PostgresReadStore

        return PostgresReadStore(url, projections)
    raise ValueError(f"unsupported database URL for read models: {url!r}")
