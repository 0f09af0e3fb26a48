"""The accountability trail: custody periods with working-day dwell times, and FR1–FR5 duties."""

from __future__ import annotations

from datetime import date, datetime

from ledger import commands as c
from ledger.domain.codes import Channel, Classification, DecisionOutcome
from ledger.domain.context import SHANGHAI, Context
from ledger.projections.caseview import trail
from ledger.projections.views import Check, CustodyEnd, DutyStatus
from tests.domain.cases import FIRST_RESPONDER, HRSS_HANDLER, OFFICE
from tests.projections.support import Desk, fold

CONTEXT = Context()


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2025, month, day, hour, 0, tzinfo=SHANGHAI)


async def national_day_case() -> tuple[Desk, list[int]]:
    """Sent on 2025-09-30, the eve of the National Day week; accepted on 10-09, closed 10-13."""
    desk = Desk().at(at(9, 30))
    case = await desk.register(FIRST_RESPONDER)
    general = c.Classify(classification=Classification.GENERAL, route=2, reason="按职责分类")
    await desk.later(minutes=10).do(case, FIRST_RESPONDER, general)
    sent = await desk.later(minutes=10).do(
        case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.social_insurance", reason="属人社职责")
    )
    taken = await desk.at(at(10, 9)).do(case, HRSS_HANDLER, c.Accept(note="签收"))
    await desk.at(at(10, 13)).do(
        case, HRSS_HANDLER, c.Decide(outcome=DecisionOutcome.UPHELD, finding="经核实")
    )
    await desk.later(hours=1).do(
        case, HRSS_HANDLER, c.GiveFeedback(channel=Channel.VISIT, content="告知")
    )
    closed = await desk.later(hours=1).do(case, HRSS_HANDLER, c.Close(summary="办结"))
    return desk, [sent.last_position, taken.last_position, closed.last_position]


async def test_dwell_times_count_working_days_across_the_national_day_holiday() -> None:
    desk, (_, taken, closed) = await national_day_case()
    [state] = fold(await desk.records()).states.values()
    shown = trail(state, CONTEXT, closed, at(10, 20))
    assert shown is not None
    hall, hrss = shown.custody
    # 10-01..10-08 are off: the hall held it for one working day (10-09) over nine days.
    assert (hall.unit, hall.dwell_working_days, hall.ended) == (
        "tax.hall",
        1,
        CustodyEnd.TRANSFERRED,
    )
    assert hall.to_position == taken
    # 10-10, Saturday 10-11 (a working day, 调休) and 10-13.
    assert (hrss.unit, hrss.dwell_working_days, hrss.ended) == (
        "hrss.social_insurance",
        3,
        CustodyEnd.CLOSED,
    )


async def test_acceptance_the_first_working_day_after_the_holiday_is_in_time() -> None:
    desk, (sent, taken, closed) = await national_day_case()
    [state] = fold(await desk.records()).states.values()
    shown = trail(state, CONTEXT, closed, at(10, 20))
    assert shown is not None
    fr5 = next(d for d in shown.duties if d.check is Check.FR5)
    assert (fr5.status, fr5.due, fr5.positions) == (
        DutyStatus.MET,
        date(2025, 10, 9),
        [sent, taken],
    )


async def test_the_trail_as_of_an_earlier_moment_shows_what_was_owed_then() -> None:
    desk, (sent, _, _) = await national_day_case()
    [state] = fold(await desk.records()).states.values()
    on_the_day = trail(state, CONTEXT, sent, at(10, 9, 8))
    the_day_after = trail(state, CONTEXT, sent, at(10, 10, 8))
    assert on_the_day is not None
    assert the_day_after is not None
    assert [p.ended for p in on_the_day.custody] == [CustodyEnd.OPEN]
    assert on_the_day.custody[0].dwell_working_days == 1
    statuses = {d.check: d.status for d in on_the_day.duties}
    assert statuses == {
        Check.FR1: DutyStatus.MET,
        Check.FR2: DutyStatus.MET,
        Check.FR3: DutyStatus.MET,  # tax.hall is itself a service window (三(二))
        Check.FR5: DutyStatus.PENDING,
    }
    assert {d.check: d.status for d in the_day_after.duties}[Check.FR5] is DutyStatus.MISSED
    assert trail(state, CONTEXT, 0, at(9, 29)) is None  # not registered yet


async def test_a_reopening_starts_a_new_custody_period() -> None:
    desk, _ = await national_day_case()
    [case] = desk.versions
    reopened = await desk.at(at(10, 15)).do(case, OFFICE, c.Reopen(reason="回访不满意"))
    [state] = fold(await desk.records()).states.values()
    shown = trail(state, CONTEXT, reopened.last_position, at(10, 16))
    assert shown is not None
    assert [(p.unit, p.ended) for p in shown.custody] == [
        ("tax.hall", CustodyEnd.TRANSFERRED),
        ("hrss.social_insurance", CustodyEnd.CLOSED),
        ("hrss.social_insurance", CustodyEnd.OPEN),
    ]
    assert shown.custody[-1].from_position == reopened.last_position
