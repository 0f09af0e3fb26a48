"""The queries the API asks: case lists and views, trails, first-responder inspections.

"As of" questions are answered from stored facts, never by replaying histories: the case state
keeps each step's log position, and finding intervals say for which positions they hold, so
"as of T" is "as of position P(T) = store.position_at(T), on T's date". Because every interval
depends only on events at or before the positions it covers, the answer for a T in the past does
not change when events are appended later.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import msgspec

from ledger.domain.codes import CaseStatus
from ledger.domain.context import SHANGHAI, Context, local_date
from ledger.domain.reference import UnknownUnit
from ledger.projections import statistics
from ledger.projections.caseview import case_view, trail
from ledger.projections.db import ReadStore
from ledger.projections.inspection import assemble
from ledger.projections.projection import Dialect
from ledger.projections.repeats import repeats
from ledger.projections.runner import SETTLE_SECONDS, ProjectionRunner
from ledger.projections.state import decode_state
from ledger.projections.statistics import StatisticsReport
from ledger.projections.tables import (
    MEETINGS_SQL,
    OPEN_CASES_SQL,
    OPEN_TASKS_SQL,
    Cursor,
    Period,
    decode_cursor,
    encode_cursor,
)
from ledger.projections.views import (
    CaseFilters,
    CasePage,
    CaseView,
    InspectionReport,
    OpenCases,
    OpenTasks,
    PayerCase,
    Trail,
)
from ledger.store.port import EventStore

MAX_PAGE = 200


@dataclass(frozen=True)
class CaseExport:
    """Every case of a listing, from one read snapshot: ``count`` of them, as the read models
    stood at log position ``position``, shown as at ``as_of`` (overdue flags), in the list's
    order, a page of views at a time."""

    count: int
    position: int
    as_of: datetime
    pages: AsyncIterator[list[CaseView]]


class ProjectionsBehind(Exception):
    """The read models have not yet applied the events a question is about."""

    code = "PROJECTIONS_BEHIND"


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """A busy unit's year is tens of thousands of rows and findings, allocated in one go: the
    cyclic garbage collector would walk the whole heap several times meanwhile, for nothing
    (none of it forms cycles). Reference counting still frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ReadModels:
    def __init__(
        self,
        db: ReadStore,
        store: EventStore,
        context: Context,
        *,
        clock: Callable[[], datetime] = _utc_now,
        catch_up_timeout: float = 5.0,
        owns_store: bool = False,
    ) -> None:
        self.db, self.store, self.context, self.clock = db, store, context, clock
        self.catch_up_timeout = catch_up_timeout
        self._owns_store = owns_store
        self._runner: ProjectionRunner | None = None

    def runner(
        self,
        *,
        batch_size: int = 500,
        rebuild_batch_size: int = 10_000,
        commit_every: int = 200_000,
        poll_interval: float = 2.0,
        settle: float = SETTLE_SECONDS,
    ) -> ProjectionRunner:
        """The runner keeping these read models current, created on first call (run it with
        ``await runner.run(stop_event)``); ``wait_for`` then waits on it without polling."""
        if self._runner is None:
            self._runner = ProjectionRunner(
                self.db,
                self.store,
                self.context,
                batch_size=batch_size,
                rebuild_batch_size=rebuild_batch_size,
                commit_every=commit_every,
                poll_interval=poll_interval,
                settle=settle,
            )
        return self._runner

    async def close(self) -> None:
        await self.db.close()
        if self._owns_store:
            await self.store.close()

    async def position(self) -> int:
        """The last log position every read model reflects."""
        tracked = await self.db.tracking()
        return min((tracked.get(p.name, (0, ""))[0] for p in self.db.projections), default=0)

    async def wait_for(self, position: int, timeout: float = 5.0) -> bool:  # noqa: ASYNC109
        """Until the read models reflect ``position`` (read your own writes); False on timeout."""
        if self._runner is not None and self._runner.running:
            return await self._runner.wait_for(position, timeout)
        # The runner is elsewhere (another process): poll the tracked position.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await self.position() < position:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    # -- cases ------------------------------------------------------------------------------

    async def list_cases(
        self, filters: CaseFilters | None = None, cursor: str | None = None, limit: int = 50
    ) -> CasePage:
        """Newest first (by received time). ``cursor`` is a page's ``next_cursor``; a bad one
        raises ``InvalidCursor``."""
        limit = max(1, min(limit, MAX_PAGE))
        now = self.clock()
        after = decode_cursor(cursor) if cursor else None
        filters = self._resolved(filters or CaseFilters(), now)
        rows = await self.db.list_states(filters, after, limit + 1, local_date(now))
        states = [decode_state(row) for row in rows[:limit]]
        last = states[-1] if len(rows) > limit else None
        return CasePage(
            items=[case_view(s, now) for s in states],
            next_cursor=encode_cursor(Cursor(last.received_at, last.case_id)) if last else None,
        )

    def _resolved(self, filters: CaseFilters, now: datetime) -> CaseFilters:
        if filters.due_within is not None:
            # Due within n working days of today, on the working calendar (a provisional
            # year is counted as the calendar counts it).
            due_by = self.context.calendar.add_working_days(local_date(now), filters.due_within)
            filters = msgspec.structs.replace(filters, due_by=due_by.due)
        if filters.awaiting is not None:
            # A transfer to a jurisdiction awaits every unit serving it (R11).
            try:
                jurisdiction = self.context.reference.unit(filters.awaiting).jurisdiction
            except UnknownUnit:
                jurisdiction = None
            filters = msgspec.structs.replace(filters, awaiting_jurisdiction=jurisdiction)
        return filters

    @contextlib.asynccontextmanager
    async def case_export(
        self, filters: CaseFilters | None = None, page: int = 500
    ) -> AsyncIterator[CaseExport]:
        """Every case ``list_cases`` would list under ``filters`` (all its pages), counted and
        read in one snapshot of the read models, at one moment: the count is the number of
        views the pages then give. The snapshot is held until the context exits."""
        now = self.clock()
        filters = self._resolved(filters or CaseFilters(), now)
        async with self.db.case_rows(filters, local_date(now), page) as rows:

            async def views() -> AsyncIterator[list[CaseView]]:
                async for states in rows.pages:
                    yield [case_view(decode_state(state), now) for state in states]

            yield CaseExport(count=rows.count, position=rows.position, as_of=now, pages=views())

    async def count_cases(self, filters: CaseFilters) -> int:
        """How many cases ``list_cases`` lists under ``filters``, over all its pages."""
        now = self.clock()
        return await self.db.count_states(self._resolved(filters, now), local_date(now))

    async def open_cases_by_unit(self, due_within: int) -> list[OpenCases]:
        """Per holding unit and status, the open cases, those overdue, and those due from
        today to ``due_within`` working days from today — counted with the conditions of the
        ``overdue`` and ``due_within`` filters of :meth:`list_cases`, so each count is the
        length of that list."""
        now = self.clock()
        today = local_date(now)
        due_by = self.context.calendar.add_working_days(today, due_within).due
        param = "?" if self.db.dialect is Dialect.SQLITE else "${}"
        sql = OPEN_CASES_SQL.format(*(param.format(n) for n in (1, 2, 3)))
        rows = await self.db.fetch(sql, [today, today, due_by])
        return [
            OpenCases(
                unit=str(unit),
                status=CaseStatus(status),
                open=int(count),
                overdue=int(overdue or 0),
                due_soon=int(soon or 0),
            )
            for unit, status, count, overdue, soon in rows
        ]

    async def open_tasks_by_unit(self) -> list[OpenTasks]:
        """Per assigned unit, the meetings' tasks not done yet, those past their due date, and
        the cases they are on: the length of the list ``task_unit`` filters."""
        today = local_date(self.clock())
        param = "?" if self.db.dialect is Dialect.SQLITE else "$1"
        rows = await self.db.fetch(OPEN_TASKS_SQL.format(param), [today])
        return [
            OpenTasks(unit=str(unit), open=int(n), overdue=int(late or 0), cases=int(cases))
            for unit, n, late, cases in rows
        ]

    async def meetings_held(self, period_from: date, period_to: date) -> dict[str, int]:
        """How many meetings of each kind were scheduled in the period (Asia/Shanghai dates,
        both inclusive)."""
        start = datetime.combine(period_from, time(), SHANGHAI)
        end = datetime.combine(period_to + timedelta(days=1), time(), SHANGHAI)
        sqlite = self.db.dialect is Dialect.SQLITE
        sql = MEETINGS_SQL.format(*(("?", "?") if sqlite else ("$1", "$2")))
        return {str(kind): int(n) for kind, n in await self.db.fetch(sql, [start, end])}

    async def held_by_deadline(self, unit: str, limit: int = 50) -> list[CaseView]:
        """The open cases ``unit`` holds (not in transit to another), nearest deadline first:
        a unit's work list, whatever it received long ago."""
        now = self.clock()
        rows = await self.db.held_by_deadline(unit, max(1, min(limit, MAX_PAGE)))
        return [case_view(decode_state(row), now) for row in rows]

    async def case_view(self, case_id: UUID) -> CaseView | None:
        data = await self.db.case_state(case_id)
        return None if data is None else case_view(decode_state(data), self.clock())

    async def trail(self, case_id: UUID, as_of: datetime | None = None) -> Trail | None:
        """Custody and FR1–FR5 duties now, or as they stood at ``as_of``; None if the case did
        not exist (then)."""
        position, moment = await self._as_of(as_of)
        data = await self.db.case_state(case_id)
        if data is None:
            return None
        return trail(decode_state(data), self.context, position, moment)

    async def payer_cases(
        self,
        identifier: str,
        exclude: UUID | None = None,
        limit: int = 20,
        came_back_at: datetime | None = None,
    ) -> list[PayerCase]:
        """The payer's cases that a registration received at ``came_back_at`` (default now)
        repeats — open, or closed within the repeat window (FR7, ``repeats.repeats``) — newest
        first: the ones to link instead of opening a duplicate."""
        param = "?" if self.db.dialect is Dialect.SQLITE else "$1"
        rows = await self.db.fetch(
            f"SELECT state FROM proj_cases WHERE payer_identifier = {param}"
            " ORDER BY received_at DESC",
            [identifier],
        )
        came_back_on = local_date(came_back_at or self.clock())
        found: list[PayerCase] = []
        for (data,) in rows:
            s = decode_state(bytes(data))
            closed_at = s.closures[-1].at if s.closed else None
            if s.case_id == exclude or not repeats(s, came_back_on, self.context):
                continue
            found.append(
                PayerCase(
                    case_id=s.case_id,
                    case_number=s.case_number,
                    status=s.status,
                    category=s.category,
                    channel=s.channel,
                    holding_unit=s.holder,
                    received_at=s.received_at,
                    closed_at=closed_at,
                )
            )
            if len(found) == limit:
                break
        return found

    # -- inspections --------------------------------------------------------------------------

    async def inspection(
        self,
        period_from: date,
        period_to: date,
        unit: str | None = None,
        as_of: datetime | None = None,
    ) -> InspectionReport:
        """Per staff member and unit: the cases received from ``period_from`` to
        ``period_to`` (Asia/Shanghai dates, inclusive), the cases held in that period, the
        findings FR1–FR9 of the cases received, each charged to whoever owed the duty, and the
        joint consultations (会商) held in the period (the recorder's, each unit present's); as of
        ``as_of``. An ``as_of`` later than now is a forecast: the events recorded so far,
        evaluated on that day (what will be overdue if nothing more happens)."""
        if period_to < period_from:
            raise ValueError("the period ends before it starts")
        position, moment = await self._as_of(as_of)
        period = Period(
            start=datetime.combine(period_from, time(), SHANGHAI),
            end=datetime.combine(period_to + timedelta(days=1), time(), SHANGHAI),
            unit=unit,
            position=position,
        )
        with _collector_paused():
            received, facts, held, consulted = await asyncio.gather(
                self.db.received(period),
                self.db.findings(period, local_date(moment)),
                self.db.held(period),
                self.db.consulted(period),
            )
            staff, units = assemble(received, facts, held, position, consulted, unit)
        return InspectionReport(
            period_from=period_from,
            period_to=period_to,
            unit=unit,
            as_of=moment,
            position=position,
            forecast=as_of is not None and as_of > self.clock(),
            staff=staff,
            units=units,
        )

    async def statistics(
        self, period_from: date, period_to: date, as_of: datetime | None = None
    ) -> StatisticsReport:
        """Department statistics (考核) of ``period_from``–``period_to`` as of ``as_of``."""
        if period_to < period_from:
            raise ValueError("the period ends before it starts")
        position, moment = await self._as_of(as_of)
        async with self.db.snapshot() as reader:
            return await statistics.report(
                reader,
                self.context,
                period_from,
                period_to,
                moment,
                position,
            )

    async def _as_of(self, as_of: datetime | None) -> tuple[int, datetime]:
        """The log position and the moment a question is asked at."""
        if as_of is None:
            return await self.position(), self.clock()
        if as_of.tzinfo is None:
            raise ValueError("as_of must carry a timezone offset")
        position = await self.store.position_at(as_of)
        if await self.position() < position and not await self.wait_for(
            position, self.catch_up_timeout
        ):
            raise ProjectionsBehind(
                f"the read models have not reached position {position} (as of {as_of}) yet"
            )
        return position, as_of
