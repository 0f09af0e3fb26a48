"""The facts department statistics count, folded from real events: whose each is, when, and
from which log position to which it holds (a reopening ends a closure; an acceptance, a new
deadline or a closure ends a custody segment; an office decision ends a follow-up flag)."""

from __future__ import annotations

from datetime import date, datetime

from ledger import commands as c
from ledger.domain.codes import Channel, Classification, DecisionOutcome, Satisfaction
from ledger.domain.context import SHANGHAI
from ledger.projections.statistics import Fact, case_facts
from tests.domain.cases import FIRST_RESPONDER, HRSS_HANDLER, OFFICE
from tests.projections.support import Desk, fold

HALL, HRSS = "tax.hall", "hrss.social_insurance"


def feedback(satisfaction: Satisfaction) -> c.GiveFeedback:
    return c.GiveFeedback(channel=Channel.VISIT, content="告知", satisfaction=satisfaction)


def follow_up(satisfaction: Satisfaction) -> c.FollowUp:
    return c.FollowUp(channel=Channel.VISIT, content="回访", satisfaction=satisfaction)


def brief(facts: list[Fact]) -> list[tuple[object, ...]]:
    return [(f.kind, f.unit, f.day, f.position, f.until_position) for f in facts]


async def test_custody_closures_reopenings_and_follow_ups_as_facts() -> None:
    desk = Desk().at(datetime(2025, 3, 10, 9, 30, tzinfo=SHANGHAI))  # a Monday
    case = await desk.register(FIRST_RESPONDER)  # 1
    classify = c.Classify(classification=Classification.GENERAL, route=2, reason="按职责")
    await desk.later(minutes=10).do(case, FIRST_RESPONDER, classify)  # 2
    transfer = c.Transfer(to_unit=HRSS, reason="属人社职责")
    await desk.later(minutes=10).do(case, FIRST_RESPONDER, transfer)  # 3
    await desk.later(days=1).do(case, HRSS_HANDLER, c.Accept(note="签收"))  # 4, Tuesday
    decide = c.Decide(outcome=DecisionOutcome.UPHELD, finding="经核实")
    await desk.later(days=2).do(case, HRSS_HANDLER, decide)  # 5, Thursday
    await desk.later(hours=1).do(case, HRSS_HANDLER, feedback(Satisfaction.SATISFIED))  # 6
    await desk.later(hours=1).do(case, HRSS_HANDLER, c.Close(summary="办结"))  # 7
    await desk.later(days=4).do(case, HRSS_HANDLER, follow_up(Satisfaction.UNSATISFIED))  # 8
    await desk.later(hours=1).do(case, HRSS_HANDLER, follow_up(Satisfaction.UNSATISFIED))  # 9
    await desk.later(hours=1).do(case, OFFICE, c.Reopen(reason="回访不满意"))  # 10
    state = fold(await desk.records()).states[case]
    facts = case_facts(state, desk.service.context)
    mon, tue, thu, mon2 = date(2025, 3, 10), date(2025, 3, 11), date(2025, 3, 13), date(2025, 3, 17)
    assert brief(facts) == [
        ("received", HALL, mon, 1, None),
        # Held by the hall until the HRSS bureau accepted it (签收), not from the transfer on.
        ("held", HALL, mon, 1, 2),  # until classification set the deadline
        ("held", HALL, mon, 2, 4),
        ("held", HRSS, tue, 4, 7),
        # Closed on Thursday, three working days after receipt, until the reopening.
        ("closed", HRSS, thu, 7, 10),
        ("held", HRSS, mon2, 10, None),  # reopened: held again by the unit that closed it
        ("feedback", HRSS, thu, 6, None),
        ("follow_up", HRSS, mon2, 8, None),
        # One flag for the two unsatisfied visits, down when the office reopened the case.
        ("follow_up_flag", HRSS, mon2, 8, 10),
        ("follow_up", HRSS, mon2, 9, None),
    ]
    (closed,) = [f for f in facts if f.kind == "closed"]
    assert (closed.days, closed.outcome) == (3, "on_time")
    assert closed.due is not None
    assert closed.due > thu
    (said,) = [f.outcome for f in facts if f.kind == "feedback"]
    assert said == "satisfied"
