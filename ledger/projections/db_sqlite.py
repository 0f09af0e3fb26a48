"""Read models in the embedded SQLite file, next to the event log.

The runner's batch is one ``BEGIN IMMEDIATE`` transaction: rows and the tracked position commit
together or not at all. It shares SQLite's single write lock with the store's appends, so
batches stay small enough (see ``ProjectionRunner``) not to hold appends up noticeably.
Read-model connections use ``synchronous = NORMAL``: a power cut may lose the last batches, but
never half of one, and the runner simply applies them again from the tracked position.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from ledger.projections import tables as t
from ledger.projections.fold import PayerKey
from ledger.projections.inspection import FindingFact, Received
from ledger.projections.views import CaseFilters

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TABLES = """
CREATE TABLE IF NOT EXISTS proj_tracking (
    name        TEXT    PRIMARY KEY,
    position    INTEGER NOT NULL,
    fingerprint TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS proj_cases (
    case_id              TEXT    PRIMARY KEY,
    status               TEXT    NOT NULL,
    classification       TEXT,
    category             TEXT    NOT NULL,
    holding_unit         TEXT    NOT NULL,
    jurisdiction         TEXT    NOT NULL,
    first_responder      TEXT    NOT NULL,
    first_responder_name TEXT    NOT NULL,
    receiving_unit       TEXT    NOT NULL,
    received_at          INTEGER NOT NULL,
    due                  TEXT,
    closed               INTEGER NOT NULL,
    payer_identifier     TEXT    NOT NULL,
    registered_position  INTEGER NOT NULL,
    last_position        INTEGER NOT NULL,
    case_number          TEXT,
    state                BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS proj_cases_number ON proj_cases (case_number);
CREATE TABLE IF NOT EXISTS proj_findings (
    case_id             TEXT    NOT NULL,
    seq                 INTEGER NOT NULL,
    check_id            TEXT    NOT NULL,
    first_responder     TEXT    NOT NULL,
    receiving_unit      TEXT    NOT NULL,
    received_at         INTEGER NOT NULL,
    registered_position INTEGER NOT NULL,
    from_position       INTEGER NOT NULL,
    to_position         INTEGER,
    after_date          TEXT,
    provisional         INTEGER NOT NULL,
    proof               TEXT    NOT NULL,  -- positions, comma-separated
    PRIMARY KEY (case_id, seq)
);
-- FR7 looks up the open cases of a payer and category for every registration, rebuilds too.
CREATE INDEX IF NOT EXISTS proj_cases_payer ON proj_cases (payer_identifier, category)
    WHERE NOT closed;
"""

# Built after a rebuild's bulk load (cheaper than maintaining them row by row).
INDEXES = """
CREATE INDEX IF NOT EXISTS proj_cases_received ON proj_cases (received_at DESC, case_id DESC);
CREATE INDEX IF NOT EXISTS proj_cases_status ON proj_cases (status, received_at DESC);
CREATE INDEX IF NOT EXISTS proj_cases_class ON proj_cases (classification, received_at DESC);
CREATE INDEX IF NOT EXISTS proj_cases_category ON proj_cases (category, received_at DESC);
CREATE INDEX IF NOT EXISTS proj_cases_holder ON proj_cases (holding_unit, received_at DESC);
CREATE INDEX IF NOT EXISTS proj_cases_place ON proj_cases (jurisdiction, received_at DESC);
CREATE INDEX IF NOT EXISTS proj_cases_responder ON proj_cases (first_responder, received_at DESC);
CREATE INDEX IF NOT EXISTS proj_cases_receiving ON proj_cases (receiving_unit, received_at,
    first_responder, first_responder_name, registered_position);
CREATE INDEX IF NOT EXISTS proj_cases_due ON proj_cases (due) WHERE NOT closed;
CREATE INDEX IF NOT EXISTS proj_findings_receiving ON proj_findings (receiving_unit, received_at);
CREATE INDEX IF NOT EXISTS proj_findings_received ON proj_findings (received_at);
"""

DROP = "DROP TABLE IF EXISTS proj_findings; DROP TABLE IF EXISTS proj_cases;"

_UPSERT_CASE = (
    f"INSERT INTO proj_cases ({', '.join(t.CASE_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(t.CASE_COLUMNS))}) ON CONFLICT (case_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in t.CASE_COLUMNS[1:])
)
_INSERT_FINDING = (
    f"INSERT INTO proj_findings ({', '.join(t.FINDING_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(t.FINDING_COLUMNS))})"
)


def _value(value: Any) -> Any:
    """Python → SQLite: UUIDs as text, times as UTC microseconds, dates as ISO text, proofs as
    comma-separated positions."""
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return (value - _EPOCH) // timedelta(microseconds=1)  # exact, and sorts
    if isinstance(value, date):
        return value.isoformat()
    return value


def _binder(params: list[Any]) -> Callable[[Any], str]:
    def param(value: Any) -> str:
        params.append(_value(value))
        return "?"

    return param


class SQLiteReadStore:
    def __init__(self, path: str, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                conn = self._connect()
            try:
                return work(conn)
            finally:
                self._pool.put(conn)

        return await asyncio.to_thread(run)

    async def open(self) -> None:
        def create(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(TABLES + INDEXES)

        await self._run(create)

    async def close(self) -> None:
        while not self._pool.empty():
            self._pool.get_nowait().close()

    async def tracking(self) -> tuple[int, str | None]:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT position, fingerprint FROM proj_tracking WHERE name = ?", (t.TRACKING_NAME,)
            ).fetchone()
        )
        return (0, None) if row is None else (int(row[0]), str(row[1]))

    async def reset(self, fingerprint: str) -> None:
        """Empty read models at position 0, without the secondary indexes (see INDEXES)."""

        def reset(conn: sqlite3.Connection) -> None:
            # One transaction: a reader sees the old read models or the empty new ones.
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in (DROP + TABLES).split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO proj_tracking (name, position, fingerprint) VALUES (?, 0, ?)"
                    " ON CONFLICT (name) DO UPDATE SET position = 0,"
                    " fingerprint = excluded.fingerprint",
                    (t.TRACKING_NAME, fingerprint),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        await self._run(reset)

    async def create_indexes(self) -> None:
        await self._run(lambda conn: conn.executescript(INDEXES + "ANALYZE;"))

    async def load_states(self, case_ids: Collection[UUID]) -> dict[UUID, bytes]:
        ids = [str(c) for c in case_ids]

        def load(conn: sqlite3.Connection) -> dict[UUID, bytes]:
            found: dict[UUID, bytes] = {}
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                sql = f"SELECT case_id, state FROM proj_cases WHERE case_id IN ({_marks(chunk)})"
                found.update((UUID(c), s) for c, s in conn.execute(sql, chunk))
            return found

        return await self._run(load) if ids else {}

    async def open_cases_of(self, keys: Collection[PayerKey]) -> dict[UUID, bytes]:
        def load(conn: sqlite3.Connection) -> dict[UUID, bytes]:
            found: dict[UUID, bytes] = {}
            sql = (
                "SELECT case_id, state FROM proj_cases"
                " WHERE payer_identifier = ? AND category = ? AND NOT closed"
            )
            for identifier, category in keys:
                found.update((UUID(c), s) for c, s in conn.execute(sql, (identifier, category)))
            return found

        return await self._run(load) if keys else {}

    async def commit(
        self,
        expected: int,
        position: int,
        cases: Sequence[t.CaseRow],
        findings: Sequence[t.FindingRow],
        kept: Collection[UUID] = (),
    ) -> bool:
        """Write the batch and move the tracked position from ``expected`` to ``position``, in
        one transaction; False (nothing written) if another runner moved it first."""
        unchanged = set(kept)

        def commit(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            try:
                moved = conn.execute(
                    "UPDATE proj_tracking SET position = ? WHERE name = ? AND position = ?",
                    (position, t.TRACKING_NAME, expected),
                ).rowcount
                if moved != 1:
                    conn.execute("ROLLBACK")
                    return False
                conn.executemany(_UPSERT_CASE, ([_value(v) for v in row] for row in cases))
                conn.executemany(
                    "DELETE FROM proj_findings WHERE case_id = ?",
                    ((str(r.case_id),) for r in cases if r.case_id not in unchanged),
                )
                conn.executemany(_INSERT_FINDING, ([_value(v) for v in row] for row in findings))
                conn.execute("COMMIT")
                return True
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        return await self._run(commit)

    async def case_state(self, case_id: UUID) -> bytes | None:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT state FROM proj_cases WHERE case_id = ?", (str(case_id),)
            ).fetchone()
        )
        return None if row is None else bytes(row[0])

    async def list_states(
        self, filters: CaseFilters, cursor: t.Cursor | None, limit: int, today: date
    ) -> list[bytes]:
        params: list[Any] = []
        where = t.case_conditions(filters, cursor, today, _binder(params))
        sql = (
            f"SELECT state FROM proj_cases WHERE {where}"
            " ORDER BY received_at DESC, case_id DESC LIMIT ?"
        )
        rows = await self._run(lambda conn: conn.execute(sql, (*params, limit)).fetchall())
        return [bytes(r[0]) for r in rows]

    async def received(self, period: t.Period) -> Sequence[Received]:
        params: list[Any] = []
        sql = t.RECEIVED_SQL.format(where=t.received_conditions(period, _binder(params)))
        return await self._run(lambda conn: conn.execute(sql, params).fetchall())

    async def findings(self, period: t.Period, today: date) -> Sequence[FindingFact]:
        params: list[Any] = []
        param = _binder(params)
        where = t.received_conditions(period, param)
        where += " AND " + t.holding_conditions(period.position, today, param)
        rows = await self._run(
            lambda conn: conn.execute(t.FINDINGS_SQL.format(where=where), params).fetchall()
        )
        return [
            (UUID(c), k, s, u, [int(x) for x in p.split(",")], bool(v)) for c, k, s, u, p, v in rows
        ]

    async def listen(self) -> None:
        pass  # SQLite has no notifications

    async def wait_for_change(self, seconds: float) -> None:
        await asyncio.sleep(seconds)  # SQLite has no notifications: the runner polls


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))
