"""Read models in PostgreSQL (asyncpg), in the event store's database.

A batch is one transaction: the tracked position is moved first (``UPDATE … WHERE position =
expected``, which also row-locks it against a second runner), then the case rows are upserted
and their finding rows replaced, both via binary COPY. The runner's connections
use ``synchronous_commit = off``: read models are derived, and a crash can only lose whole
batches together with their position, which the runner then applies again.

A partitioned rebuild (``ledger.projections.partition``) writes from several processes at once,
each its own cases, under a marker in the tracking row (``claim_rebuild`` … ``finish_rebuild``).

The store NOTIFYs ``ledger_events`` on every commit; :meth:`wait_for_change` listens on a
dedicated connection and falls back to the timeout (polling) while that connection is down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any, cast
from uuid import UUID

import asyncpg

from ledger.projections import tables as t
from ledger.projections.fold import PayerKey
from ledger.projections.inspection import FindingFact, Received
from ledger.projections.views import CaseFilters
from ledger.store.port import RecordedEvent
from ledger.store.sql import NOTIFY_CHANNEL
from ledger.store.timeouts import DatabaseTimeouts, create_pool

_FILLFACTOR = "fillfactor=75"  # spelled as pg_class.reloptions spells it
TABLES = f"""
CREATE TABLE IF NOT EXISTS proj_tracking (
    name        TEXT   PRIMARY KEY,
    position    BIGINT NOT NULL,
    fingerprint TEXT   NOT NULL
);
-- Room left on each page: an event that changes no indexed column of its case (an urge, a
-- consultation, a further decision …) then updates the row in place, without touching the
-- eleven indexes below (a HOT update).
CREATE TABLE IF NOT EXISTS proj_cases (
    case_id              UUID        PRIMARY KEY,
    status               TEXT        NOT NULL,
    classification       TEXT,
    category             TEXT        NOT NULL,
    holding_unit         TEXT        NOT NULL,
    jurisdiction         TEXT        NOT NULL,
    first_responder      TEXT        NOT NULL,
    first_responder_name TEXT        NOT NULL,
    receiving_unit       TEXT        NOT NULL,
    received_at          TIMESTAMPTZ NOT NULL,
    due                  DATE,
    closed               BOOLEAN     NOT NULL,
    payer_identifier     TEXT        NOT NULL,
    registered_position  BIGINT      NOT NULL,
    last_position        BIGINT      NOT NULL,
    state                BYTEA       NOT NULL
) WITH ({_FILLFACTOR});
CREATE TABLE IF NOT EXISTS proj_findings (
    case_id             UUID        NOT NULL,
    seq                 SMALLINT    NOT NULL,
    check_id            TEXT        NOT NULL,
    first_responder     TEXT        NOT NULL,
    receiving_unit      TEXT        NOT NULL,
    received_at         TIMESTAMPTZ NOT NULL,
    registered_position BIGINT      NOT NULL,
    from_position       BIGINT      NOT NULL,
    to_position         BIGINT,
    after_date          DATE,
    provisional         BOOLEAN     NOT NULL,
    proof               BIGINT[]    NOT NULL,
    PRIMARY KEY (case_id, seq)
);
-- FR7 looks up the open cases of a payer and category for every registration, rebuilds too.
CREATE INDEX IF NOT EXISTS proj_cases_payer ON proj_cases (payer_identifier, category)
    WHERE NOT closed;
"""

# Built after a rebuild's bulk load (cheaper than maintaining them row by row). The two on
# received_at carry the columns an inspection counts, so counting cases is an index-only scan
# instead of a walk through rows that hold kilobytes of state each.
INDEXES = """
CREATE INDEX IF NOT EXISTS proj_cases_received ON proj_cases (received_at DESC, case_id DESC)
    INCLUDE (receiving_unit, first_responder, first_responder_name, registered_position);
CREATE INDEX IF NOT EXISTS proj_cases_receiving ON proj_cases (receiving_unit, received_at)
    INCLUDE (first_responder, first_responder_name, registered_position);
CREATE INDEX IF NOT EXISTS proj_cases_status ON proj_cases (status, received_at DESC);
CREATE INDEX IF NOT EXISTS proj_cases_class ON proj_cases (classification, received_at DESC);
CREATE INDEX IF NOT EXISTS proj_cases_category ON proj_cases (category, received_at DESC);
CREATE INDEX IF NOT EXISTS proj_cases_holder ON proj_cases (holding_unit, received_at DESC);
CREATE INDEX IF NOT EXISTS proj_cases_place ON proj_cases (jurisdiction, received_at DESC);
CREATE INDEX IF NOT EXISTS proj_cases_responder ON proj_cases (first_responder, received_at DESC);
CREATE INDEX IF NOT EXISTS proj_cases_due ON proj_cases (due) WHERE NOT closed;
CREATE INDEX IF NOT EXISTS proj_findings_receiving ON proj_findings (receiving_unit, received_at);
CREATE INDEX IF NOT EXISTS proj_findings_received ON proj_findings (received_at);
"""

DROP = "DROP TABLE IF EXISTS proj_findings; DROP TABLE IF EXISTS proj_cases;"
# Held (exclusive) while tables and indexes are created or dropped, shared while a rebuild
# builds its indexes: processes starting together must not race on the catalog.
_SCHEMA_LOCK = "hashtext('ledger.projections')"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Held (session level) by the process leading a partitioned rebuild.
_REBUILD_LOCK = 0x6C65_6467_6572_7062  # "ledgerpb"

# Case rows go through a per-session staging table: binary COPY is several times faster than
# binding arrays, and only an INSERT … SELECT can turn the copied rows into an upsert.
_STAGE = "CREATE TEMP TABLE IF NOT EXISTS proj_stage_cases (LIKE proj_cases) ON COMMIT DELETE ROWS"
_UPSERT_STAGED = (
    f"INSERT INTO proj_cases ({', '.join(t.CASE_COLUMNS)})"
    f" SELECT {', '.join(t.CASE_COLUMNS)} FROM proj_stage_cases"
    " ON CONFLICT (case_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in t.CASE_COLUMNS[1:])
)
_DROP_STAGED_FINDINGS = (
    "DELETE FROM proj_findings f USING proj_stage_cases s WHERE f.case_id = s.case_id"
    " AND s.case_id <> ALL($1::uuid[])"
)


def _binder(params: list[Any]) -> Any:
    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    return param


class PostgresReadStore:
    def __init__(
        self, url: str, *, max_pool: int = 4, timeouts: DatabaseTimeouts | None = None
    ) -> None:
        self.url = url
        self.timeouts = timeouts or DatabaseTimeouts.from_env()
        self.max_pool = max_pool
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._changed = asyncio.Event()
        self._rebuild_lock: asyncpg.Connection | None = None  # see claim_rebuild

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the read models are not open")
        return self._pool

    async def open(self, *, create: bool = True) -> None:
        """Connect; with ``create``, also create the tables and indexes that are missing (a
        partition worker of a rebuild must not: the indexes are built after the bulk load)."""
        self._pool = await create_pool(
            self.url,
            self.timeouts,
            command=False,
            min_size=1,
            max_size=self.max_pool,
            init=_session,
        )
        if not create:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            # Processes starting together (API, runner) must not race on the catalog.
            await conn.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            await conn.execute(TABLES + INDEXES)
            await _upgrade_layout(conn)

    async def close(self) -> None:
        await self.release_rebuild()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def tracking(self) -> tuple[int, str | None]:
        row = await self.pool.fetchrow(
            "SELECT position, fingerprint FROM proj_tracking WHERE name = $1", t.TRACKING_NAME
        )
        return (0, None) if row is None else (int(row[0]), str(row[1]))

    async def reset(self, fingerprint: str) -> None:
        """Empty read models at position 0, without the secondary indexes (see INDEXES)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            await conn.execute(DROP + TABLES)
            await conn.execute(
                "INSERT INTO proj_tracking (name, position, fingerprint) VALUES ($1, 0, $2)"
                " ON CONFLICT (name) DO UPDATE SET position = 0, fingerprint = $2",
                t.TRACKING_NAME,
                fingerprint,
            )

    async def create_indexes(self) -> None:
        # Two at a time: each build is one backend's sort, and the server has cores to spare
        # once the bulk load is done.
        statements = [sql.strip() for sql in INDEXES.split(";") if sql.strip()]
        lanes = max(1, min(2, self.max_pool))

        async def build(lane: int) -> None:
            async with self.pool.acquire() as conn, conn.transaction():
                # Shared: the lanes build side by side, but never while another process's
                # ``open`` creates the same indexes (concurrent CREATE INDEX IF NOT EXISTS of
                # one name collide in the catalog: seen when the API and ``projections run``
                # start together on a fresh database).
                await conn.execute(f"SELECT pg_advisory_xact_lock_shared({_SCHEMA_LOCK})")
                for sql in statements[lane::lanes]:
                    await conn.execute(sql)

        await asyncio.gather(*(build(lane) for lane in range(lanes)))
        # Fresh statistics for the planner, and a visibility map for index-only scans.
        await asyncio.gather(
            *(
                self.pool.execute(f"VACUUM (ANALYZE) {table}")
                for table in ("proj_cases", "proj_findings")
            )
        )

    async def load_states(self, case_ids: Collection[UUID]) -> dict[UUID, bytes]:
        if not case_ids:
            return {}
        rows = await self.pool.fetch(
            "SELECT case_id, state FROM proj_cases WHERE case_id = ANY($1::uuid[])", list(case_ids)
        )
        return {row[0]: row[1] for row in rows}

    async def open_cases_of(self, keys: Collection[PayerKey]) -> dict[UUID, bytes]:
        if not keys:
            return {}
        rows = await self.pool.fetch(
            "SELECT c.case_id, c.state FROM unnest($1::text[], $2::text[]) AS k(payer, category)"
            " JOIN proj_cases c ON c.payer_identifier = k.payer AND c.category = k.category"
            " AND NOT c.closed",
            [identifier for identifier, _ in keys],
            [str(category) for _, category in keys],
        )
        return {row[0]: row[1] for row in rows}

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
        async with self.pool.acquire() as conn, conn.transaction():
            moved = await conn.execute(
                "UPDATE proj_tracking SET position = $1 WHERE name = $2 AND position = $3",
                position,
                t.TRACKING_NAME,
                expected,
            )
            if moved != "UPDATE 1":
                return False
            await _write(conn, expected, cases, findings, kept)
        return True

    # -- partitioned rebuilds (ledger.projections.partition) ----------------------------------
    #
    # While worker processes load the rows of a rebuild, the tracking row holds position -1
    # (no runner can commit from there) and a marker instead of the fingerprint: a crash at
    # any point leaves the marker, and the next runner rebuilds. The process that leads the
    # rebuild holds a session advisory lock meanwhile, so that other runners can tell a
    # rebuild in progress (wait for it) from an abandoned one (rebuild again).

    async def claim_rebuild(self, fingerprint: str, marker: str) -> bool:
        """Take the read models, empty at position 0 with ``fingerprint``, for a partitioned
        rebuild under ``marker``; False (nothing changed) if they are not in that state or
        another partitioned rebuild runs."""
        await self.release_rebuild()
        conn: asyncpg.Connection = await asyncpg.connect(self.url, timeout=self.timeouts.connect)
        try:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", _REBUILD_LOCK):
                claimed = await conn.execute(
                    "UPDATE proj_tracking SET position = -1, fingerprint = $1"
                    " WHERE name = $2 AND position = 0 AND fingerprint = $3",
                    marker,
                    t.TRACKING_NAME,
                    fingerprint,
                )
                if claimed == "UPDATE 1":
                    self._rebuild_lock = conn
                    return True
        except BaseException:
            await conn.close()
            raise
        await conn.close()  # closing the session releases its advisory lock
        return False

    async def write_partition(
        self,
        marker: str,
        expected: int,
        cases: Sequence[t.CaseRow],
        findings: Sequence[t.FindingRow],
    ) -> bool:
        """One partition worker's rows, folded from the log up to after ``expected`` (cases
        registered after it were never written); False (nothing written) if the rebuild under
        ``marker`` was abandoned or taken over. The share lock on the tracking row keeps a
        reset from slipping between the check and the commit."""
        async with self.pool.acquire() as conn, conn.transaction():
            ours = await conn.fetchval(
                "SELECT true FROM proj_tracking WHERE name = $1 AND fingerprint = $2 FOR SHARE",
                t.TRACKING_NAME,
                marker,
            )
            if not ours:
                return False
            await _write(conn, expected, cases, findings)
        return True

    async def finish_rebuild(self, marker: str, position: int, fingerprint: str) -> bool:
        """Every partition is written: the read models stand at ``position`` with
        ``fingerprint``. False if the rebuild under ``marker`` was taken over meanwhile."""
        conn = self._rebuild_lock
        if conn is None:
            raise RuntimeError("finish_rebuild without claim_rebuild")
        done = await conn.execute(
            "UPDATE proj_tracking SET position = $1, fingerprint = $2"
            " WHERE name = $3 AND fingerprint = $4",
            position,
            fingerprint,
            t.TRACKING_NAME,
            marker,
        )
        await self.release_rebuild()
        return bool(done == "UPDATE 1")

    async def release_rebuild(self) -> None:
        """Let go of a claimed rebuild (finished or not: an unfinished one keeps its marker)."""
        conn, self._rebuild_lock = self._rebuild_lock, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def read_events(self, after: int, until: int) -> list[RecordedEvent]:
        """The log's events after ``after`` up to ``until``, with only what projections read:
        position, case, version, topic and state (the rest is left empty). A partitioned
        rebuild reads the whole log in every worker; the full rows (metadata, times, hashes)
        would triple what each worker decodes."""
        rows = await self.pool.fetch(
            "SELECT position, case_id, version, topic, state FROM ledger_events"
            " WHERE position > $1 AND position <= $2 ORDER BY position",
            after,
            until,
        )
        return [RecordedEvent(p, c, v, t, s, b"", _EPOCH, b"", b"") for p, c, v, t, s in rows]

    async def rebuilding_elsewhere(self) -> bool:
        """Whether a partitioned rebuild is in progress in a live process."""
        async with self.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _REBUILD_LOCK):
                return True
            await conn.fetchval("SELECT pg_advisory_unlock($1)", _REBUILD_LOCK)
        return False

    async def case_state(self, case_id: UUID) -> bytes | None:
        state: bytes | None = await self.pool.fetchval(
            "SELECT state FROM proj_cases WHERE case_id = $1", case_id
        )
        return state

    async def list_states(
        self, filters: CaseFilters, cursor: t.Cursor | None, limit: int, today: date
    ) -> list[bytes]:
        params: list[Any] = []
        param = _binder(params)
        where = t.case_conditions(filters, cursor, today, param)
        sql = (
            f"SELECT state FROM proj_cases WHERE {where}"
            f" ORDER BY received_at DESC, case_id DESC LIMIT {param(limit)}"
        )
        return [row[0] for row in await self.pool.fetch(sql, *params)]

    # asyncpg's records unpack like the tuples the port promises: no copy of ten thousands rows.

    async def received(self, period: t.Period) -> Sequence[Received]:
        params: list[Any] = []
        sql = t.RECEIVED_SQL.format(where=t.received_conditions(period, _binder(params)))
        return cast(list[Received], await self.pool.fetch(sql, *params))

    async def findings(self, period: t.Period, today: date) -> Sequence[FindingFact]:
        params: list[Any] = []
        param = _binder(params)
        where = t.received_conditions(period, param)
        where += " AND " + t.holding_conditions(period.position, today, param)
        rows = await self.pool.fetch(t.FINDINGS_SQL.format(where=where), *params)
        return cast(list[FindingFact], rows)

    async def listen(self) -> None:
        """Start (or restart) listening for the store's commit notifications."""
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = None
        try:
            self._listener = await asyncpg.connect(self.url, timeout=self.timeouts.connect)
            await self._listener.add_listener(NOTIFY_CHANNEL, self._notified)
            # A lost connection wakes the runner at once: notifications may have been missed.
            self._listener.add_termination_listener(self._notified)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            self._listener = None  # poll meanwhile; the next wait tries to listen again

    async def wait_for_change(self, seconds: float) -> None:
        """Until the store announces a commit, or ``seconds`` (the polling fallback)."""
        await self.listen()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)
        self._changed.clear()

    def _notified(self, *args: object) -> None:
        self._changed.set()


async def _upgrade_layout(conn: asyncpg.Connection) -> None:
    """Give a ``proj_cases`` made before it had one the page layout of ``TABLES`` (new pages
    only; a rebuild rewrites them all). Its lock conflicts only with vacuum and schema changes,
    not with reads and writes, like the ``CREATE INDEX IF NOT EXISTS`` before it."""
    options = await conn.fetchval(
        "SELECT reloptions FROM pg_catalog.pg_class WHERE oid = 'proj_cases'::regclass"
    )
    if _FILLFACTOR not in (options or []):
        await conn.execute(f"ALTER TABLE proj_cases SET ({_FILLFACTOR})")


async def _write(
    conn: asyncpg.Connection,
    expected: int,
    cases: Sequence[t.CaseRow],
    findings: Sequence[t.FindingRow],
    kept: Collection[UUID] = (),
) -> None:
    """The rows of cases folded from the log after position ``expected``, in ``conn``'s
    transaction (the findings of the cases in ``kept`` are left as they are)."""
    # A case registered after the position this batch starts from has never been
    # written: it is copied straight in, with no upsert and no old findings to drop.
    # (In a rebuild that is most of them.)
    fresh = [r for r in cases if r.registered_position > expected]
    if fresh:
        await conn.copy_records_to_table("proj_cases", records=fresh, columns=t.CASE_COLUMNS)
    if len(fresh) < len(cases):
        known = [r for r in cases if r.registered_position <= expected]
        await conn.execute(_STAGE)
        await conn.copy_records_to_table("proj_stage_cases", records=known, columns=t.CASE_COLUMNS)
        await conn.execute(_UPSERT_STAGED)
        await conn.execute(_DROP_STAGED_FINDINGS, list(kept))
    if findings:
        await conn.copy_records_to_table(
            "proj_findings", records=findings, columns=t.FINDING_COLUMNS
        )


async def _session(conn: asyncpg.Connection) -> None:
    await conn.execute("SET synchronous_commit = off")
