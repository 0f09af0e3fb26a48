"""The case view projection: one row per case (``proj_cases``) with the columns lists filter
on, and the case state (``ledger.projections.state``) that views and trails are built from.

Its applier keeps the states of recently changed cases in a bounded cache (loaded from
``proj_cases`` on a miss) and, per payer, the cases not yet committed (FR7: the one check that
reads other cases, open or recently closed; ``ledger.projections.fold``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Mapping
from typing import Any
from uuid import UUID

import msgspec

from ledger.domain.context import Context
from ledger.projections import events as ev
from ledger.projections.fold import CaseFolder, PayerKey
from ledger.projections.projection import (
    Applier,
    Batch,
    Dialect,
    Projection,
    Reader,
    Table,
    Write,
)
from ledger.projections.state import CaseState, decode_state
from ledger.projections.tables import CASE_COLUMNS, case_row

# Room left on each page (PostgreSQL): an event that changes no indexed column of its case (an
# urge, a consultation, a further decision …) then updates the row in place, without touching
# its sixteen indexes (a HOT update).
CASES = Table(
    name="proj_cases",
    columns="""
    case_id              {uuid}   PRIMARY KEY,
    status               TEXT     NOT NULL,
    classification       TEXT,
    category             TEXT     NOT NULL,
    holding_unit         TEXT     NOT NULL,
    jurisdiction         TEXT     NOT NULL,
    first_responder      TEXT     NOT NULL,
    first_responder_name TEXT     NOT NULL,
    receiving_unit       TEXT     NOT NULL,
    received_at          {time}   NOT NULL,
    due                  {date},
    closed               {bool}   NOT NULL,
    payer_identifier     TEXT     NOT NULL,
    registered_position  {bigint} NOT NULL,
    last_position        {bigint} NOT NULL,
    case_number          TEXT,
    awaiting_unit        TEXT,
    awaiting_jurisdiction TEXT,
    reply_due            {date},
    state                {bytes}  NOT NULL
    """,
    names=CASE_COLUMNS,
    key=("case_id",),
    storage="fillfactor=75",  # spelled as pg_class.reloptions spells it
    # FR7 looks up the cases of a payer for every registration, rebuilds too (and a
    # registration is answered with the payer's open and recent cases).
    eager_indexes=(
        "CREATE INDEX IF NOT EXISTS proj_cases_payer_all ON proj_cases (payer_identifier)",
    ),
    indexes=(
        "CREATE INDEX IF NOT EXISTS proj_cases_number ON proj_cases (case_number)",
        "CREATE INDEX IF NOT EXISTS proj_cases_status ON proj_cases (status, received_at DESC)",
        "CREATE INDEX IF NOT EXISTS proj_cases_class"
        " ON proj_cases (classification, received_at DESC)",
        "CREATE INDEX IF NOT EXISTS proj_cases_category ON proj_cases (category, received_at DESC)",
        "CREATE INDEX IF NOT EXISTS proj_cases_holder"
        " ON proj_cases (holding_unit, received_at DESC)",
        "CREATE INDEX IF NOT EXISTS proj_cases_place"
        " ON proj_cases (jurisdiction, received_at DESC)",
        "CREATE INDEX IF NOT EXISTS proj_cases_responder"
        " ON proj_cases (first_responder, received_at DESC)",
        "CREATE INDEX IF NOT EXISTS proj_cases_due ON proj_cases (due) WHERE NOT closed",
        # A unit's work list (我的待办, ``HELD_BY_DEADLINE_SQL``): its open cases in the list's
        # order, so the first page is read straight off the index, however many it holds.
        "CREATE INDEX IF NOT EXISTS proj_cases_held ON proj_cases"
        " (holding_unit, (due IS NULL), due, received_at)"
        " WHERE NOT closed AND status <> 'transferred'",
        # 督办's open cases per holding unit and status (``OPEN_CASES_SQL``): an index-only scan
        # of the open cases instead of a walk through rows that hold kilobytes of state each.
        "CREATE INDEX IF NOT EXISTS proj_cases_open ON proj_cases (holding_unit, status, due)"
        " WHERE NOT closed",
        # A unit's incoming transfers (我的待办): the few cases in transit.
        "CREATE INDEX IF NOT EXISTS proj_cases_awaiting_unit ON proj_cases (awaiting_unit)"
        " WHERE awaiting_unit IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS proj_cases_awaiting_place"
        " ON proj_cases (awaiting_jurisdiction) WHERE awaiting_jurisdiction IS NOT NULL",
        # The replies owed to assigning bodies (我的待办): the few matters assigned.
        "CREATE INDEX IF NOT EXISTS proj_cases_reply_owed"
        " ON proj_cases (holding_unit, reply_due) WHERE reply_due IS NOT NULL",
    ),
    # The two on received_at carry the columns an inspection counts: on PostgreSQL an
    # index-only scan instead of a walk through rows that hold kilobytes of state each.
    dialect_indexes={
        Dialect.SQLITE: (
            "CREATE INDEX IF NOT EXISTS proj_cases_received"
            " ON proj_cases (received_at DESC, case_id DESC)",
            "CREATE INDEX IF NOT EXISTS proj_cases_receiving ON proj_cases (receiving_unit,"
            " received_at, first_responder, first_responder_name, registered_position)",
        ),
        Dialect.POSTGRES: (
            "CREATE INDEX IF NOT EXISTS proj_cases_received"
            " ON proj_cases (received_at DESC, case_id DESC) INCLUDE (receiving_unit,"
            " first_responder, first_responder_name, registered_position)",
            "CREATE INDEX IF NOT EXISTS proj_cases_receiving"
            " ON proj_cases (receiving_unit, received_at)"
            " INCLUDE (first_responder, first_responder_name, registered_position)",
        ),
    },
)

_LOAD = {
    Dialect.SQLITE: "SELECT case_id, state FROM proj_cases WHERE case_id = ?",
    Dialect.POSTGRES: "SELECT case_id, state FROM proj_cases WHERE case_id = ANY($1::uuid[])",
}
# The payer's cases: FR7 keeps those a registration repeats (``ledger.projections.repeats``).
_CASES_OF = {
    Dialect.SQLITE: "SELECT case_id, state FROM proj_cases WHERE payer_identifier = ?",
    Dialect.POSTGRES: "SELECT c.case_id, c.state FROM unnest($1::text[]) AS k(payer)"
    " JOIN proj_cases c ON c.payer_identifier = k.payer",
}


async def _states(reader: Reader, sql: Mapping[Dialect, str], each: list[Any]) -> list[Any]:
    """Rows of a lookup: one statement per parameter set (SQLite, in one call), or one
    statement over arrays (PostgreSQL)."""
    if reader.dialect is Dialect.SQLITE:
        return await reader.fetch_each(sql[reader.dialect], each)
    columns = [list(column) for column in zip(*each, strict=True)]
    return await reader.fetch(sql[reader.dialect], columns)


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


class CaseViews(Projection):
    name = "cases"
    # Bump when the state or the rows change meaning: the stored ones are then rebuilt.
    # 3: the deadline is the one the Classified event carries. 4: case numbers.
    # 5: the staff member's name on transfers and acceptances (custody, charged findings), and
    # the satisfaction of every feedback (department statistics).
    # 6: joint consultations and meetings' tasks in the state.
    # 7: FR7 repeats a case of the payer in any channel and category, open or recently closed;
    # assignments (交办/转办).
    # 8: an assignment recorded after registration (``ledger.AssignmentRecorded``), and the
    # position and time of the event that recorded each assignment.
    # 9: the side a pending transfer awaits (awaiting_unit, awaiting_jurisdiction).
    # 10: the recorder's name and the recorded time of each joint consultation (its inspection
    # rows, ``proj_consultations``).
    # 11: the reply owed to an assigning body (reply_due).
    version = 11
    partitionable = True

    def tables(self) -> tuple[Table, ...]:
        return (CASES,)

    def fingerprint(self, context: Context) -> str:
        # FR7's earlier cases depend on the repeat window (its working days on the calendar,
        # which the findings fingerprint, rebuilt together with this one).
        digest = hashlib.sha256(super().fingerprint(context).encode())
        digest.update(msgspec.json.encode(context.repeat_window, order="sorted"))
        return digest.hexdigest()

    def start(
        self, context: Context, upstream: Mapping[str, Applier], cache_size: int = 20_000
    ) -> CaseStates:
        return CaseStates(context, cache_size)


class CaseStates(Applier):
    """Folds events into case states; :attr:`changed` are those to write at the next commit."""

    def __init__(self, context: Context, cache_size: int) -> None:
        self.context, self.cache_size = context, cache_size
        self.cache: dict[UUID, CaseState] = {}
        # Cases per payer not yet committed (FR7); the database has the rest.
        self._payers: dict[PayerKey, set[UUID]] = {}
        self._touched: dict[UUID, None] = {}
        self.evicted: list[UUID] = []  # the cases the last commit dropped from the cache

    @property
    def changed(self) -> list[CaseState]:
        """The states changed since the last commit, in the order first changed."""
        return [self.cache[case_id] for case_id in self._touched]

    async def fold(
        self, batch: Batch, reader: Reader, owned: Container[UUID] | None = None
    ) -> None:
        decode = ev.decode
        events = [(record, decode(record), back) for record, back in batch]
        registered: set[UUID] = set()
        wanted: set[UUID] = set()
        keys: set[PayerKey] = set()
        for record, event, back in events:
            if isinstance(event, ev.Registered):
                registered.add(record.case_id)
                keys.add(event.payer.identifier)
                continue
            if not back:
                wanted.add(record.case_id)
            if isinstance(event, ev.Linked):
                wanted.add(event.case_id)
        # Every case changed since the last commit is in the cache (evicted only at commits),
        # so what the database holds for the others is their latest state.
        missing = wanted - registered - self.cache.keys()
        if owned is not None:
            missing = {case_id for case_id in missing if case_id in owned}
        if missing:
            for case_id, data in await _states(reader, _LOAD, [(c,) for c in missing]):
                self.cache[_uuid(case_id)] = decode_state(data)
        if keys:
            each = [(identifier,) for identifier in keys]
            for case_id, data in await _states(reader, _CASES_OF, each):
                uuid = _uuid(case_id)
                state = self.cache.get(uuid)
                if state is None:
                    state = self.cache[uuid] = decode_state(data)
                self._payers.setdefault(state.payer.identifier, set()).add(state.case_id)
        folder = CaseFolder(self.context, self.cache, self._payers)
        touched = self._touched
        for record, event, back in events:
            changed = folder.link_back(record, event) if back else folder.apply(record, event)
            for case_id in changed:
                touched[case_id] = None

    def writes(self, expected: int) -> list[Write]:
        rows = [case_row(s) for s in self.changed]
        # A case registered after the position this batch starts from has never been
        # written: it is inserted straight (bulk-copied), with no upsert. (In a rebuild that
        # is most of them.)
        return [
            Write(
                CASES,
                insert=[r for r in rows if r.registered_position > expected],
                upsert=[r for r in rows if r.registered_position <= expected],
            )
        ]

    def committed(self) -> None:
        self._payers.clear()  # the database now knows every case
        cache = self.cache
        for case_id in self._touched:  # most recently used last
            cache[case_id] = cache.pop(case_id)
        self._touched = {}
        excess = len(cache) - self.cache_size
        self.evicted = list(cache)[:excess] if excess > 0 else []
        for case_id in self.evicted:
            del cache[case_id]

    def forget(self) -> None:
        self.cache.clear()
        self._payers.clear()
        self._touched = {}
        self.evicted = []


class RowsOfCases(Applier):
    """The rows a projection derives from each case state the case view projection changed, one
    tuple of rows per table of ``targets``: a case's rows are rewritten only when they differ
    from those last committed (most events leave them as they were)."""

    targets: tuple[Table, ...] = ()

    def __init__(self, context: Context, cases: CaseStates) -> None:
        self.context, self.cases = context, cases
        self._committed: dict[UUID, tuple[tuple[Any, ...], ...]] = {}
        self._pending: dict[UUID, tuple[tuple[Any, ...], ...]] = {}

    def rows(self, state: CaseState) -> tuple[tuple[Any, ...], ...]:
        """The case's rows, a tuple of them per table of ``targets``."""
        raise NotImplementedError

    async def fold(
        self, batch: Batch, reader: Reader, owned: Container[UUID] | None = None
    ) -> None:
        pass  # the case states are folded by the case view projection

    def writes(self, expected: int) -> list[Write]:
        committed = self._committed
        changed: dict[UUID, tuple[tuple[Any, ...], ...]] = {}
        stale: list[UUID] = []  # cases with stored rows to replace
        per_table: list[list[Any]] = [[] for _ in self.targets]
        for state in self.cases.changed:
            found = self.rows(state)
            case_id = state.case_id
            if committed.get(case_id) == found:
                continue
            changed[case_id] = found
            for out, rows in zip(per_table, found, strict=True):
                out.extend(rows)
            if state.registered_position <= expected:  # else never written
                stale.append(case_id)
        self._pending = changed
        return [
            Write(table, insert=rows, delete=stale, key_column="case_id")
            for table, rows in zip(self.targets, per_table, strict=True)
        ]

    def committed(self) -> None:
        self._committed.update(self._pending)
        self._pending = {}
        for case_id in self.cases.evicted:
            self._committed.pop(case_id, None)

    def forget(self) -> None:
        self._committed.clear()
        self._pending = {}
