"""FR1–FR9: for each check a scenario that produces the finding and one that does not.

The cases are driven through LedgerService (so every event passed the rules) on an in-memory log
starting Monday 2025-03-10 09:30 in 潜江; a week without holidays.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

from ledger import commands as c
from ledger.domain.actor import Actor
from ledger.domain.codes import (
    Category,
    Channel,
    Classification,
    DecisionOutcome,
    Department,
    LinkRelation,
    Role,
)
from ledger.domain.context import SHANGHAI
from ledger.projections.views import Check, ExtensionState
from tests.domain.cases import (
    CENTRE_HANDLER,
    FIRST_RESPONDER,
    HRSS_HANDLER,
    MEDICAL_HANDLER,
    OFFICE,
)
from tests.projections.support import Desk, fold, found, new_identifier

BRANCH_INTAKE = Actor(
    staff_id="T2003",
    name="李强",
    unit="tax.branch1",
    department=Department.TAX,
    roles=(Role.INTAKE, Role.HANDLER),
)
WINDOW_HANDLER = Actor(
    staff_id="H3002", name="吴敏", unit="hrss.window", department=Department.HRSS
)


def classify(kind: Classification) -> c.Classify:
    return c.Classify(classification=kind, route=2, reason="按职责分类")


def day(d: int, hour: int = 10) -> datetime:
    return datetime(2025, 3, d, hour, 0, tzinfo=SHANGHAI)


async def checks(desk: Desk, case: UUID, **as_of: object) -> dict[Check, set[int]]:
    return found(fold(await desk.records()), case, **as_of)  # type: ignore[arg-type]


async def resolve_on_the_spot(desk: Desk, case: UUID, actor: Actor) -> None:
    await desk.later(minutes=5).do(
        case, actor, c.Decide(outcome=DecisionOutcome.RESOLVED, finding="已解决")
    )
    await desk.later(minutes=5).do(
        case, actor, c.GiveFeedback(channel=Channel.VISIT, content="告知")
    )
    await desk.later(minutes=5).do(case, actor, c.Close(summary="办结"))


# -- FR1 registered the same working day as the contact -------------------------------------------


async def test_fr1_a_contact_registered_days_later_is_found() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER, received_before=timedelta(days=4))
    assert await checks(desk, case) == {Check.FR1: {1}, Check.FR2: {1}}


async def test_fr1_a_contact_registered_the_same_day_is_not() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    assert Check.FR1 not in await checks(desk, case)


# -- FR2 classified by the first responder within one working day ---------------------------------


async def test_fr2_classifying_two_working_days_late_is_found() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    result = await desk.at(day(12)).do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    assert (await checks(desk, case))[Check.FR2] == {1, result.last_position}


async def test_fr2_an_unclassified_case_is_pending_until_the_day_after_its_due_date() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    assert Check.FR2 not in await checks(desk, case, on=date(2025, 3, 11))
    assert (await checks(desk, case, on=date(2025, 3, 12)))[Check.FR2] == {1}


async def test_fr2_classifying_the_same_day_is_not_found() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.later(minutes=10).do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    assert Check.FR2 not in await checks(desk, case)


# -- FR3 routed as classified ---------------------------------------------------------------------


async def test_fr3_a_simple_matter_closed_on_the_spot_by_the_first_responder_is_not_found() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.SIMPLE))
    await resolve_on_the_spot(desk, case, FIRST_RESPONDER)
    assert await checks(desk, case) == {}


async def test_fr3_a_simple_matter_sent_elsewhere_is_found() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    classified = await desk.do(case, FIRST_RESPONDER, classify(Classification.SIMPLE))
    sent = await desk.do(case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.window", reason="转"))
    assert (await checks(desk, case))[Check.FR3] == {classified.last_position, sent.last_position}


async def test_fr3_a_general_matter_goes_to_a_service_window_not_to_a_section() -> None:
    desk = Desk()
    to_section = await desk.register(BRANCH_INTAKE)
    await desk.do(to_section, BRANCH_INTAKE, classify(Classification.GENERAL))
    await desk.do(
        to_section, BRANCH_INTAKE, c.Transfer(to_unit="hrss.social_insurance", reason="转")
    )
    to_window = await desk.register(BRANCH_INTAKE)
    await desk.do(to_window, BRANCH_INTAKE, classify(Classification.GENERAL))
    await desk.do(to_window, BRANCH_INTAKE, c.Transfer(to_unit="hrss.window", reason="转"))
    assert Check.FR3 in await checks(desk, to_section)
    assert Check.FR3 not in await checks(desk, to_window)


async def test_fr3_a_major_matter_goes_to_the_leading_group() -> None:
    desk = Desk()
    escalated = await desk.register(FIRST_RESPONDER)
    await desk.do(escalated, FIRST_RESPONDER, classify(Classification.MAJOR))
    await desk.do(escalated, FIRST_RESPONDER, c.Escalate(reason="跨部门"))
    kept_low = await desk.register(FIRST_RESPONDER)
    await desk.do(kept_low, FIRST_RESPONDER, classify(Classification.MAJOR))
    await desk.do(
        kept_low, FIRST_RESPONDER, c.Transfer(to_unit="hrss.social_insurance", reason="转")
    )
    assert Check.FR3 not in await checks(desk, escalated)
    assert Check.FR3 in await checks(desk, kept_low)


# -- FR4 out-of-jurisdiction matters handed over within one working day ---------------------------


async def test_fr4_a_jurisdiction_transfer_two_working_days_after_registration_is_found() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    sent = await desk.at(day(12)).do(
        case, FIRST_RESPONDER, c.Transfer(to_jurisdiction="qj.guanghua", reason="非本辖区")
    )
    assert (await checks(desk, case))[Check.FR4] == {1, sent.last_position}


async def test_fr4_a_jurisdiction_transfer_the_next_working_day_is_not() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    await desk.at(day(11)).do(
        case, FIRST_RESPONDER, c.Transfer(to_jurisdiction="qj.guanghua", reason="非本辖区")
    )
    await desk.later(hours=1).do(case, CENTRE_HANDLER, c.Accept())
    assert Check.FR4 not in await checks(desk, case)


# -- FR5 a transferred case is accepted within one working day ------------------------------------


async def test_fr5_acceptance_two_working_days_later_is_found() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    sent = await desk.do(
        case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.social_insurance", reason="转")
    )
    taken = await desk.at(day(12)).do(case, HRSS_HANDLER, c.Accept())
    assert (await checks(desk, case))[Check.FR5] == {sent.last_position, taken.last_position}


async def test_fr5_an_orphan_is_found_once_its_acceptance_is_overdue() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    sent = await desk.do(
        case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.social_insurance", reason="转")
    )
    assert Check.FR5 not in await checks(desk, case, on=date(2025, 3, 11))
    assert (await checks(desk, case, on=date(2025, 3, 12)))[Check.FR5] == {sent.last_position}


async def test_fr5_acceptance_the_same_day_is_not_found() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    await desk.do(case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.social_insurance", reason="转"))
    await desk.later(hours=2).do(case, HRSS_HANDLER, c.Accept())
    assert Check.FR5 not in await checks(desk, case)


# -- FR6 no ping-pong (推诿) ----------------------------------------------------------------------


async def test_fr6_sending_a_case_back_to_a_unit_that_held_it_is_found() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    await desk.do(case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.social_insurance", reason="转"))
    await desk.do(case, HRSS_HANDLER, c.Accept())
    back = await desk.do(case, HRSS_HANDLER, c.Transfer(to_unit="tax.hall", reason="非本单位职责"))
    assert (await checks(desk, case))[Check.FR6] == {1, back.last_position}


async def test_fr6_more_than_three_transfers_are_found_and_three_are_not() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    hops = [
        (FIRST_RESPONDER, HRSS_HANDLER),
        (HRSS_HANDLER, MEDICAL_HANDLER),
        (MEDICAL_HANDLER, CENTRE_HANDLER),
        (CENTRE_HANDLER, WINDOW_HANDLER),
    ]
    sent = []
    for giver, taker in hops:
        sent.append(await desk.do(case, giver, c.Transfer(to_unit=taker.unit, reason="转")))
        await desk.do(case, taker, c.Accept())
        if len(sent) == 3:
            assert Check.FR6 not in await checks(desk, case)
    assert (await checks(desk, case))[Check.FR6] == {s.last_position for s in sent}


# -- FR7 no repeat trip (重复跑) ------------------------------------------------------------------


async def test_fr7_the_same_matter_registered_again_while_open_is_found_until_linked() -> None:
    desk = Desk()
    payer = new_identifier()
    first = await desk.register(FIRST_RESPONDER, identifier=payer)
    again = await desk.later(days=2).register(FIRST_RESPONDER, identifier=payer)
    assert (await checks(desk, again))[Check.FR7] == {1, 2}
    assert Check.FR7 not in await checks(desk, first)
    linked = await desk.do(
        again, FIRST_RESPONDER, c.Link(case_id=first, relation=LinkRelation.DUPLICATE)
    )
    assert Check.FR7 not in await checks(desk, again)
    # As of any position before the link, the finding stands: it is not erased from history.
    assert Check.FR7 in await checks(desk, again, position=linked.last_position - 1)


async def test_fr7_another_matter_while_open_or_soon_after_closure_is_found() -> None:
    # 多头跑/重复跑: the same payer, another category, while the first is open; and the same
    # payer again within the repeat window (20 working days) after the closure.
    desk = Desk()
    payer = new_identifier()
    first = await desk.register(FIRST_RESPONDER, identifier=payer)
    other_matter = await desk.register(FIRST_RESPONDER, identifier=payer, category=Category.SERVICE)
    assert Check.FR7 in await checks(desk, other_matter)
    await desk.do(first, FIRST_RESPONDER, classify(Classification.SIMPLE))
    await resolve_on_the_spot(desk, first, FIRST_RESPONDER)
    after_closure = await desk.later(days=1).register(FIRST_RESPONDER, identifier=payer)
    assert Check.FR7 in await checks(desk, after_closure)


async def test_fr7_coming_back_after_the_repeat_window_is_not_found() -> None:
    desk = Desk()
    payer = new_identifier()
    first = await desk.register(FIRST_RESPONDER, identifier=payer)
    await desk.do(first, FIRST_RESPONDER, classify(Classification.SIMPLE))
    await resolve_on_the_spot(desk, first, FIRST_RESPONDER)
    # Six weeks on: more than 20 working days after the closure, whatever the holidays.
    much_later = await desk.later(days=42).register(FIRST_RESPONDER, identifier=payer)
    assert Check.FR7 not in await checks(desk, much_later)


# -- FR8 feedback before closure ------------------------------------------------------------------


async def close_without_feedback(desk: Desk, case_id: UUID, actor: Actor) -> int:
    """What imported or corrected data can hold although R6 refuses it on the write path."""
    case = await desk.service.load(case_id)
    loaded = case.version
    case.feedback_given = True  # the flag R6 checks; the ledger holds no FeedbackGiven event
    case.close(actor, "办结", desk.now, desk.service.context)
    events = [desk.service.mapper.to_new_event(e) for e in case.collect_events()]
    return (await desk.store.append(case_id, loaded, events)).last_position


async def test_fr8_a_closure_without_feedback_is_found() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.SIMPLE))
    decided = await desk.do(
        case, FIRST_RESPONDER, c.Decide(outcome=DecisionOutcome.RESOLVED, finding="已解决")
    )
    closed = await close_without_feedback(desk, case, FIRST_RESPONDER)
    assert (await checks(desk, case))[Check.FR8] == {decided.last_position, closed}


async def test_fr8_a_closure_after_feedback_is_not_found() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.SIMPLE))
    await resolve_on_the_spot(desk, case, FIRST_RESPONDER)
    assert Check.FR8 not in await checks(desk, case)


# -- FR9 not left hanging (久拖不决) --------------------------------------------------------------


async def test_fr9_a_general_matter_open_past_ten_working_days_is_found() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    classified = await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    assert Check.FR9 not in await checks(desk, case, on=date(2025, 3, 24))  # the due date
    hanging = await checks(desk, case, on=date(2025, 3, 25))
    assert hanging[Check.FR9] == {1, classified.last_position}


async def test_fr9_closed_after_the_deadline_is_found_and_within_it_is_not() -> None:
    desk = Desk()
    late, in_time = await desk.register(FIRST_RESPONDER), await desk.register(FIRST_RESPONDER)
    for case in (late, in_time):
        await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    await resolve_on_the_spot(desk.at(day(21)), in_time, FIRST_RESPONDER)
    await resolve_on_the_spot(desk.at(day(26)), late, FIRST_RESPONDER)
    assert Check.FR9 not in await checks(desk, in_time)
    assert Check.FR9 in await checks(desk, late)


async def test_fr9_an_approved_extension_moves_the_deadline() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    await desk.at(day(20)).do(
        case, FIRST_RESPONDER, c.Extend(until=date(2025, 4, 30), reason="需调查")
    )
    await desk.later(hours=1).do(case, OFFICE, c.Extend(approve=True, reason="同意"))
    assert Check.FR9 not in await checks(desk, case, on=date(2025, 4, 30))
    assert Check.FR9 in await checks(desk, case, on=date(2025, 5, 6))


async def test_fr9_a_deadline_missed_before_a_reclassification_stays_a_finding() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))  # due 2025-03-24
    wrong = c.Reclassify(classification=Classification.MAJOR, route=3, reason="涉及多部门")
    await desk.at(day(27)).do(case, FIRST_RESPONDER, wrong)
    approved = await desk.later(hours=1).do(case, OFFICE, c.Reclassify(approve=True, reason="同意"))
    state = fold(await desk.records()).states[case]
    assert state.reclassification is not None
    assert state.reclassification.state is ExtensionState.APPROVED
    assert state.classification is Classification.MAJOR
    assert state.due is not None
    assert state.due > date(2025, 3, 24)  # a major matter's 30 working days
    # On a day before the new deadline, the general deadline missed on 03-24 is still found,
    # proven by the reclassification that came after it.
    missed = await checks(desk, case, on=date(2025, 3, 31))
    assert approved.last_position in missed[Check.FR9]


async def test_fr9_a_reclassification_before_the_deadline_leaves_no_finding() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, classify(Classification.GENERAL))
    major = c.Reclassify(classification=Classification.MAJOR, route=3, reason="涉及多部门")
    await desk.at(day(12)).do(case, FIRST_RESPONDER, major)
    await desk.later(hours=1).do(case, OFFICE, c.Reclassify(approve=True, reason="同意"))
    assert Check.FR9 not in await checks(desk, case, on=date(2025, 3, 31))
