"""The read-model database port: what the runner and the queries need, on either database."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Protocol, runtime_checkable
from uuid import UUID

from ledger.projections.fold import PayerKey
from ledger.projections.inspection import FindingFact, Received
from ledger.projections.tables import CaseRow, Cursor, FindingRow, Period
from ledger.projections.views import CaseFilters
from ledger.store import sqlite_path
from ledger.store.port import RecordedEvent


class ReadStore(Protocol):
    async def open(self) -> None:
        """Connect and create the tables if they do not exist."""

    async def close(self) -> None: ...

    async def tracking(self) -> tuple[int, str | None]:
        """The tracked position and fingerprint ((0, None) before the first run)."""

    async def reset(self, fingerprint: str) -> None:
        """Drop the read models; recreate them empty at position 0 (secondary indexes later)."""

    async def create_indexes(self) -> None: ...

    async def load_states(self, case_ids: Collection[UUID]) -> dict[UUID, bytes]: ...

    async def open_cases_of(self, keys: Collection[PayerKey]) -> dict[UUID, bytes]:
        """States of the open cases of these payers and categories (FR7)."""

    async def commit(
        self,
        expected: int,
        position: int,
        cases: Sequence[CaseRow],
        findings: Sequence[FindingRow],
        kept: Collection[UUID] = (),
    ) -> bool:
        """Rows and the new position in one transaction; False if the position was not
        ``expected`` (another runner got there first), and then nothing is written. The
        findings of each case of ``cases`` are replaced by its rows in ``findings``, except
        for the cases in ``kept``, whose stored findings are unchanged (no rows given)."""

    async def case_state(self, case_id: UUID) -> bytes | None: ...

    async def list_states(
        self, filters: CaseFilters, cursor: Cursor | None, limit: int, today: date
    ) -> list[bytes]: ...

    async def received(self, period: Period) -> Sequence[Received]:
        """(unit, staff id, staff name, cases received) for the period."""

    async def findings(self, period: Period, today: date) -> Sequence[FindingFact]:
        """(case, check, staff id, unit, proof positions, provisional) of every finding
        interval of the period's cases that holds at its position on ``today``."""

    async def listen(self) -> None: ...

    async def wait_for_change(self, seconds: float) -> None:
        """Until new events may have been appended, or at most ``seconds``."""


@runtime_checkable
class PartitionedReadStore(ReadStore, Protocol):
    """A database that several processes can rebuild the read models into at once
    (PostgreSQL; ``ledger.projections.partition``)."""

    url: str

    async def open(self, *, create: bool = True) -> None: ...

    async def claim_rebuild(self, fingerprint: str, marker: str) -> bool:
        """Read models empty at position 0 with ``fingerprint`` are marked as being rebuilt
        under ``marker`` by this process; False if they were not in that state."""

    async def write_partition(
        self, marker: str, expected: int, cases: Sequence[CaseRow], findings: Sequence[FindingRow]
    ) -> bool:
        """A worker's rows (folded from after ``expected``); False if ``marker`` is gone."""

    async def finish_rebuild(self, marker: str, position: int, fingerprint: str) -> bool:
        """The rebuild under ``marker`` is complete: track ``position`` and ``fingerprint``."""

    async def release_rebuild(self) -> None: ...

    async def read_events(self, after: int, until: int) -> list[RecordedEvent]:
        """The log after ``after`` up to ``until``: position, case, version, topic, state."""

    async def rebuilding_elsewhere(self) -> bool:
        """Whether a live process is leading a partitioned rebuild."""


def open_read_store(url: str) -> ReadStore:
    """The read-model database behind a ``LEDGER_DATABASE_URL`` (not yet opened)."""
    if url.startswith("sqlite:"):
        from ledger.projections.db_sqlite import SQLiteReadStore

        return SQLiteReadStore(sqlite_path(url))
    if url.startswith(("postgresql://", "postgres://")):
        from ledger.projections.db_postgres import PostgresReadStore

        return PostgresReadStore(url)
    raise ValueError(f"unsupported database URL for read models: {url!r}")
