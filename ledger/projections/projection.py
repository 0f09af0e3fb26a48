"""What a read model is to the runner: a :class:`Projection`.

A projection declares

- its ``name`` (its row in ``proj_tracking``) and ``version``: a projection whose version (or
  whatever else :meth:`Projection.fingerprint` covers) differs from the one its rows were built
  with is dropped and rebuilt from position 1 when a runner starts;
- its tables (:class:`Table`): column definitions written once for both databases, the few
  types that truly differ named by placeholder (``{uuid}``, ``{time}``, …, see :data:`TYPES`);
- how it applies a batch of events: :meth:`Projection.start` gives the runner an
  :class:`Applier` that folds events in memory and hands back the rows to write
  (:class:`Write`), which the runner commits in the transaction that moves the projection's
  tracked position (exactly once, as for every projection).

Projections are registered in ``ledger.projections.registry.PROJECTIONS``; the runner, the
partitioned rebuild and both databases work from that list alone.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol
from uuid import UUID

from ledger.domain.context import Context
from ledger.store.port import RecordedEvent


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgresql"


# The column types the two databases spell differently (SQLite: times as UTC microseconds,
# dates as ISO text, position and unit code lists as comma-separated text; see
# db_sqlite._value).
TYPES: Mapping[Dialect, Mapping[str, str]] = {
    Dialect.SQLITE: {
        "uuid": "TEXT",
        "time": "INTEGER",
        "date": "TEXT",
        "bool": "INTEGER",
        "bigint": "INTEGER",
        "smallint": "INTEGER",
        "bytes": "BLOB",
        "positions": "TEXT",
        "codes": "TEXT",
    },
    Dialect.POSTGRES: {
        "uuid": "UUID",
        "time": "TIMESTAMPTZ",
        "date": "DATE",
        "bool": "BOOLEAN",
        "bigint": "BIGINT",
        "smallint": "SMALLINT",
        "bytes": "BYTEA",
        "positions": "BIGINT[]",
        "codes": "TEXT[]",
    },
}


@dataclass(frozen=True)
class Table:
    """A read-model table. ``columns`` are the column definitions (``{type}`` placeholders for
    :data:`TYPES`); ``names`` the columns rows are written in, in order; ``key`` the primary
    key (upserts); ``storage`` PostgreSQL storage parameters (``fillfactor=75``);
    ``indexes`` the secondary indexes, built after a rebuild's bulk load (``eager_indexes``:
    the ones the fold itself reads through, created with the table). An index written for one
    dialect only goes into ``dialect_indexes``. ``adds``: the count columns of a table of
    totals, which :attr:`Write.add` adds to (the other columns are its key)."""

    name: str
    columns: str
    names: tuple[str, ...]
    key: tuple[str, ...]
    storage: str | None = None
    adds: tuple[str, ...] = ()
    eager_indexes: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()
    dialect_indexes: Mapping[Dialect, tuple[str, ...]] = field(default_factory=dict)

    def create(self, dialect: Dialect) -> str:
        options = f" WITH ({self.storage})" if self.storage and dialect is Dialect.POSTGRES else ""
        body = self.columns.format_map(TYPES[dialect])
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({body}){options}"

    def all_indexes(self, dialect: Dialect) -> tuple[str, ...]:
        return self.indexes + tuple(self.dialect_indexes.get(dialect, ()))


@dataclass(frozen=True)
class Write:
    """Changes to one table in a commit, applied in this order: rows whose ``key_column`` is
    among ``delete`` are deleted, ``upsert`` rows inserted or updated (by the table's key),
    ``insert`` rows inserted (known to be new: bulk-copied on PostgreSQL), ``add`` rows added
    to a table of totals: each row's ``table.adds`` columns are added to the stored row of the
    same key (a new key is inserted), and a row whose counts all become 0 is deleted. Adding
    commutes, so processes of a partitioned rebuild may add to the same rows."""

    table: Table
    insert: Sequence[Sequence[Any]] = ()
    upsert: Sequence[Sequence[Any]] = ()
    delete: Collection[Any] = ()
    key_column: str = ""
    add: Sequence[Sequence[Any]] = ()

    def __bool__(self) -> bool:
        return bool(self.insert or self.upsert or self.delete or self.add)


class Reader(Protocol):
    """Reads an applier makes of its own tables while it folds (committed rows only)."""

    dialect: Dialect

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """Rows of one statement (placeholders: ``?`` on SQLite, ``$1`` … on PostgreSQL)."""

    async def fetch_each(self, sql: str, params: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
        """The rows of one statement run once per parameter set, concatenated."""


# A page of the log for an applier: each record, and whether only the other side of a link is
# to be applied (a partitioned replay folds the link's own case in another process).
Batch = Sequence[tuple[RecordedEvent, bool]]


class Applier(ABC):
    """A projection's working state inside one runner: events in, rows out."""

    @abstractmethod
    async def fold(
        self, batch: Batch, reader: Reader, owned: Container[UUID] | None = None
    ) -> None:
        """Apply ``batch`` in log order to the in-memory state (reading what is missing).
        ``owned``: in a partitioned replay, the cases this process folds (it must not load
        any other case's rows: they are being written by another process)."""

    @abstractmethod
    def writes(self, expected: int) -> list[Write]:
        """The rows changed since the last commit, folded from after position ``expected``."""

    def committed(self) -> None:  # noqa: B027 - most appliers keep nothing to settle
        """The writes were committed."""

    def forget(self) -> None:  # noqa: B027
        """Drop what is held in memory (a commit failed, or other rows became the truth)."""


class Projection(ABC):
    name: ClassVar[str]
    version: ClassVar[int]
    # Another projection whose applier this one reads (it must be registered before this one);
    # the two are always rebuilt together.
    requires: ClassVar[tuple[str, ...]] = ()
    # Whether a partitioned rebuild (ledger.projections.partition) may fold it: its rows of a
    # case depend only on that case's events, those of its payer's other cases, and links.
    partitionable: ClassVar[bool] = False

    @abstractmethod
    def tables(self) -> tuple[Table, ...]: ...

    @abstractmethod
    def start(
        self, context: Context, upstream: Mapping[str, Applier], cache_size: int = 20_000
    ) -> Applier:
        """A fresh applier; ``upstream`` holds the appliers of the projections it requires;
        ``cache_size`` bounds what it keeps in memory between commits (items of its choice)."""

    def fingerprint(self, context: Context) -> str:
        """What the stored rows were computed with; a change rebuilds them. The name and
        version, plus whatever settings the rows depend on (override and extend)."""
        text = f"ledger.projections.{self.name} v{self.version}"
        return hashlib.sha256(text.encode()).hexdigest()


def groups(projections: Sequence[Projection]) -> list[set[str]]:
    """The projections that are rebuilt together: joined by ``requires``, either way."""
    found: list[set[str]] = []
    for p in projections:
        joined = {p.name, *p.requires}
        for group in [g for g in found if g & joined]:
            found.remove(group)
            joined |= group
        found.append(joined)
    return found


def check(projections: Sequence[Projection]) -> None:
    names = [p.name for p in projections]
    if len(set(names)) != len(names):
        raise ValueError(f"projection names must be unique: {names}")
    for i, p in enumerate(projections):
        for needed in p.requires:
            if needed not in names[:i]:
                raise ValueError(f"projection {p.name} requires {needed}, registered before it")
