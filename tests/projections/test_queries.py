"""The API's queries on both databases: case lists, trails and inspections, now and as of T."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from ledger import commands as c
from ledger.domain.codes import CaseStatus, Category, Classification
from ledger.domain.context import SHANGHAI
from ledger.projections import InvalidCursor, ProjectionsBehind
from ledger.projections.views import CaseFilters, Check, DutyStatus
from tests.domain.cases import FIRST_RESPONDER, HRSS_HANDLER
from tests.projections.dbsupport import Ledger, ledger
from tests.projections.test_findings import BRANCH_INTAKE, WINDOW_HANDLER, resolve_on_the_spot
from tests.projections.workload import Workload

GENERAL = c.Classify(classification=Classification.GENERAL, route=2, reason="按职责分类")
SIMPLE = c.Classify(classification=Classification.SIMPLE, route=1, reason="当场可办")


async def caught_up(it: Ledger) -> None:
    runner = it.read_models.runner()
    await runner.prepare()
    await runner.catch_up()


async def three_cases(it: Ledger) -> tuple[UUID, UUID, UUID]:
    """held: a general case at the hall, sent to and held by hrss; closed: a simple case of the
    branch, closed on the spot; fresh: unclassified, another place and category."""
    desk = it.desk
    held = await desk.register(FIRST_RESPONDER)
    await desk.do(held, FIRST_RESPONDER, GENERAL)
    await desk.do(held, FIRST_RESPONDER, c.Transfer(to_unit="hrss.social_insurance", reason="转"))
    await desk.later(hours=1).do(held, HRSS_HANDLER, c.Accept())
    closed = await desk.later(hours=1).register(BRANCH_INTAKE)
    await desk.do(closed, BRANCH_INTAKE, SIMPLE)
    await resolve_on_the_spot(desk, closed, BRANCH_INTAKE)
    fresh = await desk.later(hours=1).register(
        FIRST_RESPONDER, jurisdiction="qj.guanghua", category=Category.SERVICE
    )
    await caught_up(it)
    return held, closed, fresh


async def listed(it: Ledger, **filters: object) -> list[UUID]:
    page = await it.read_models.list_cases(CaseFilters(**filters), limit=200)  # type: ignore[arg-type]
    return [v.case_id for v in page.items]


async def test_cases_are_filtered_by_every_field_of_the_api(database_url: str) -> None:
    async with ledger(database_url) as it:
        held, closed, fresh = await three_cases(it)
        assert await listed(it) == [fresh, closed, held]  # newest first
        assert await listed(it, status=CaseStatus.CLOSED) == [closed]
        assert await listed(it, classification=Classification.GENERAL) == [held]
        assert await listed(it, category=Category.SERVICE) == [fresh]
        assert await listed(it, unit="hrss.social_insurance") == [held]
        assert await listed(it, jurisdiction="qj.guanghua") == [fresh]
        assert await listed(it, first_responder=BRANCH_INTAKE.staff_id) == [closed]
        received = it.desk.now - timedelta(hours=1, minutes=30)
        assert await listed(it, received_from=received) == [fresh]
        assert await listed(it, received_to=received) == [closed, held]


async def test_overdue_is_judged_on_the_day_of_the_query(database_url: str) -> None:
    async with ledger(database_url) as it:
        held, closed, fresh = await three_cases(it)
        # The general case is due 2025-03-24; the simple one was closed; the fresh one has no
        # deadline yet.
        it.read_models.clock = lambda: datetime(2025, 3, 24, 18, 0, tzinfo=SHANGHAI)
        assert await listed(it, overdue=True) == []
        it.read_models.clock = lambda: datetime(2025, 3, 25, 8, 0, tzinfo=SHANGHAI)
        assert await listed(it, overdue=True) == [held]
        assert await listed(it, overdue=False) == [fresh, closed]
        view = await it.read_models.case_view(held)
        assert view is not None
        assert view.overdue


async def test_pages_follow_each_other_without_gaps_or_repeats(database_url: str) -> None:
    async with ledger(database_url) as it:
        cases = []
        for n in range(7):
            if n % 3:
                it.desk.later(minutes=1)  # others share their received time: ties on case id
            cases.append(await it.desk.register(FIRST_RESPONDER))
        await caught_up(it)
        seen, cursor = [], None
        while True:
            page = await it.read_models.list_cases(cursor=cursor, limit=2)
            seen += [v.case_id for v in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(seen, key=str) == sorted(cases, key=str)
        assert seen == await listed(it)
        with pytest.raises(InvalidCursor):
            await it.read_models.list_cases(cursor="not-a-cursor")


async def test_the_trail_as_of_a_moment_uses_only_the_events_recorded_by_then(
    database_url: str,
) -> None:
    async with ledger(database_url) as it:
        desk = it.desk
        case = await desk.register(FIRST_RESPONDER)
        await desk.do(case, FIRST_RESPONDER, GENERAL)
        sent = await desk.do(case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.window", reason="转"))
        await asyncio.sleep(0.01)
        moment = datetime.now(UTC)
        await asyncio.sleep(0.01)
        await desk.later(hours=1).do(case, WINDOW_HANDLER, c.Accept())
        await caught_up(it)
        then = await it.read_models.trail(case, as_of=moment)
        now = await it.read_models.trail(case)
        assert then is not None
        assert now is not None
        assert then.position == sent.last_position
        assert [p.unit for p in then.custody] == ["tax.hall"]
        assert [p.unit for p in now.custody] == ["tax.hall", "hrss.window"]
        fr5 = {d.check: d.status for d in then.duties}[Check.FR5]
        assert fr5 is DutyStatus.MISSED  # asked on today's date, the 2025 transfer is long due
        assert await it.read_models.trail(case, as_of=moment - timedelta(days=1)) is None


async def test_an_inspection_lists_findings_per_first_responder_and_unit(database_url: str) -> None:
    async with ledger(database_url) as it:
        desk = it.desk
        late = await desk.register(FIRST_RESPONDER, received_before=timedelta(days=4))  # FR1
        await desk.later(days=2).do(late, FIRST_RESPONDER, GENERAL)  # FR2: Wednesday
        on_the_spot = await desk.register(FIRST_RESPONDER)
        await desk.do(on_the_spot, FIRST_RESPONDER, SIMPLE)
        await resolve_on_the_spot(desk, on_the_spot, FIRST_RESPONDER)
        misrouted = await desk.register(BRANCH_INTAKE)
        await desk.do(misrouted, BRANCH_INTAKE, GENERAL)
        await desk.do(
            misrouted, BRANCH_INTAKE, c.Transfer(to_unit="hrss.social_insurance", reason="转")
        )
        await desk.later(days=2).do(misrouted, HRSS_HANDLER, c.Accept())  # FR5: two days late
        await desk.at(datetime(2025, 4, 7, 10, tzinfo=SHANGHAI)).register(FIRST_RESPONDER)
        await caught_up(it)
        it.read_models.clock = lambda: datetime(2025, 3, 14, 18, tzinfo=SHANGHAI)

        report = await it.read_models.inspection(date(2025, 3, 1), date(2025, 3, 31))
        handler, branch, hall = report.staff  # by unit, then staff id
        assert (hall.staff_id, hall.unit, hall.cases_received) == ("T1001", "tax.hall", 2)
        assert {k for k, n in hall.counts.items() if n} == {Check.FR1, Check.FR2}
        assert {f.case_id for f in hall.findings} == {late}
        assert (branch.staff_id, branch.unit, branch.cases_received) == ("T2003", "tax.branch1", 1)
        # FR3 is the first responder's; FR5 (accepted two days late) the receiving unit's.
        assert {f.check for f in branch.findings} == {Check.FR3}
        assert (handler.unit, handler.cases_received, handler.cases_held) == (
            "hrss.social_insurance",
            0,
            1,
        )
        assert handler.findings == []
        hrss, branch_unit, _ = report.units
        fr5 = next(f for f in hrss.findings if f.check is Check.FR5)
        assert fr5.case_id == misrouted
        assert len(fr5.positions) == 2  # the transfer and the late acceptance
        assert [(u.unit, u.cases_received, u.cases_held) for u in report.units] == [
            ("hrss.social_insurance", 0, 1),
            ("tax.branch1", 1, 1),
            ("tax.hall", 2, 2),
        ]
        assert (hrss.counts[Check.FR5], branch_unit.counts[Check.FR5]) == (1, 0)
        only_branch = await it.read_models.inspection(
            date(2025, 3, 1), date(2025, 3, 31), unit="tax.branch1"
        )
        assert only_branch.staff == [branch]
        only_hrss = await it.read_models.inspection(
            date(2025, 3, 1), date(2025, 3, 31), unit="hrss.social_insurance"
        )
        assert only_hrss.staff == [handler]
        assert only_hrss.units == [hrss]


async def test_an_inspection_as_of_t_is_the_same_after_later_events(database_url: str) -> None:
    async with ledger(database_url) as it:
        workload = Workload(it.desk, random.Random(11))
        await workload.run(60)
        await caught_up(it)
        await asyncio.sleep(0.01)
        moment = datetime.now(UTC)
        await asyncio.sleep(0.01)
        period = (date(2025, 1, 1), date(2026, 12, 31))
        before = await it.read_models.inspection(*period, as_of=moment)
        await workload.run(60)
        await caught_up(it)
        after = await it.read_models.inspection(*period, as_of=moment)
        assert after == before
        assert sum(s.cases_received for s in before.staff) > 0
        assert any(s.findings for s in before.staff)
        current = await it.read_models.inspection(*period)
        assert current.position > before.position


async def test_asking_as_of_a_moment_the_read_models_have_not_reached_fails_clearly(
    database_url: str,
) -> None:
    async with ledger(database_url) as it:
        await caught_up(it)
        await it.desk.register(FIRST_RESPONDER)
        it.read_models.catch_up_timeout = 0.1
        with pytest.raises(ProjectionsBehind):
            await it.read_models.inspection(
                date(2025, 1, 1), date(2025, 12, 31), as_of=datetime.now(UTC)
            )


async def test_a_units_work_list_is_its_open_cases_nearest_deadline_first(
    database_url: str,
) -> None:
    """Whatever it received long ago: the list is ordered by deadline, not by receipt."""
    async with ledger(database_url) as it:
        desk = it.desk
        major = c.Classify(classification=Classification.MAJOR, route=3, reason="重大")
        late = await desk.register(FIRST_RESPONDER)  # received first, due last (major)
        await desk.do(late, FIRST_RESPONDER, major)
        soon = await desk.later(days=1).register(FIRST_RESPONDER)  # general: due in 10 days
        await desk.do(soon, FIRST_RESPONDER, GENERAL)
        unclassified = await desk.later(days=1).register(FIRST_RESPONDER)  # no deadline yet
        leaving = await desk.register(FIRST_RESPONDER)  # in transit to hrss: not on the list
        await desk.do(leaving, FIRST_RESPONDER, GENERAL)
        await desk.do(leaving, FIRST_RESPONDER, c.Transfer(to_unit="hrss.window", reason="转"))
        done = await desk.register(FIRST_RESPONDER)  # closed: not on the list
        await desk.do(done, FIRST_RESPONDER, SIMPLE)
        await resolve_on_the_spot(desk, done, FIRST_RESPONDER)
        await caught_up(it)
        work = await it.read_models.held_by_deadline(FIRST_RESPONDER.unit)
        assert [v.case_id for v in work] == [soon, late, unclassified]
        assert [v.case_id for v in await it.read_models.held_by_deadline("tax.hall", 1)] == [soon]
        assert await it.read_models.held_by_deadline("hrss.window") == []
