"""The case view, folded from real events (LedgerService over an in-memory log)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import msgspec
import pytest

from ledger import commands as c
from ledger.domain.codes import (
    CaseStatus,
    Channel,
    Classification,
    DecisionOutcome,
    LinkRelation,
    Satisfaction,
)
from ledger.domain.context import SHANGHAI
from ledger.projections import case_view_from_events
from ledger.projections.caseview import case_view
from ledger.projections.events import ProjectionError
from ledger.projections.views import ExtensionState, LinkDirection
from tests.domain.cases import ENFORCEMENT, FIRST_RESPONDER, HRSS_HANDLER, OFFICE
from tests.projections.support import Desk, fold
from tests.projections.workload import EMPLOYER


def general(reason: str = "按职责分类") -> c.Classify:
    return c.Classify(classification=Classification.GENERAL, route=2, reason=reason)


async def test_the_view_follows_a_case_from_registration_to_closure() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.later(minutes=10).do(case, FIRST_RESPONDER, general())
    await desk.later(minutes=10).do(
        case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.social_insurance", reason="属人社职责")
    )
    view = case_view(fold(await desk.records()).states[case], desk.now)
    assert view.status is CaseStatus.TRANSFERRED
    assert view.holding_unit == "tax.hall"  # until 签收 the first responder's unit keeps it (FR5)
    assert view.pending_transfer is not None
    assert view.pending_transfer.to_unit == "hrss.social_insurance"

    await desk.later(hours=2).do(case, HRSS_HANDLER, c.Accept(note="签收"))
    await desk.later(hours=2).do(
        case, HRSS_HANDLER, c.Decide(outcome=DecisionOutcome.UPHELD, finding="经核实")
    )
    await desk.later(hours=1).do(
        case,
        HRSS_HANDLER,
        c.GiveFeedback(channel=Channel.VISIT, content="告知", satisfaction=Satisfaction.SATISFIED),
    )
    await desk.later(minutes=5).do(case, HRSS_HANDLER, c.Close(summary="办结"))
    records = await desk.records()
    view = case_view(fold(records).states[case], desk.now)
    assert view.status is CaseStatus.CLOSED
    assert view.holding_unit == "hrss.social_insurance"
    assert view.pending_transfer is None
    assert view.closed_at == desk.now
    assert view.satisfaction is Satisfaction.SATISFIED
    assert view.first_responder.staff_id == FIRST_RESPONDER.staff_id
    assert view.transfer_count == 1
    assert (view.version, view.last_position) == (7, records[-1].position)
    assert not view.overdue  # a closed case is never overdue


async def test_the_deadline_counts_working_days_across_national_day_2025() -> None:
    # 2025-09-30 (Tue) + 10 working days: 10-01..10-08 are off, Saturday 10-11 is a working day
    # (调休), so the days are 10-09, 10, 11, 13, 14, 15, 16, 17, 20, 21.
    desk = Desk().at(datetime(2025, 9, 30, 10, 0, tzinfo=SHANGHAI))
    case = await desk.register(FIRST_RESPONDER)
    await desk.later(minutes=10).do(case, FIRST_RESPONDER, general())
    state = fold(await desk.records()).states[case]
    view = case_view(state, desk.now)
    assert view.deadline is not None
    assert view.deadline.due == date(2025, 10, 21)
    assert not view.deadline.provisional
    # Overdue is judged when asked, from the same stored state.
    assert not case_view(state, datetime(2025, 10, 21, 17, 0, tzinfo=SHANGHAI)).overdue
    assert case_view(state, datetime(2025, 10, 22, 8, 0, tzinfo=SHANGHAI)).overdue


async def test_a_december_2026_deadline_in_2027_is_provisional() -> None:
    # chinesecalendar 1.11 knows 2026, not 2027: the count there is Monday–Friday less the
    # statutory holidays (元旦 on Friday 1 January), marked provisional: 29-31 December, then
    # 4-8 and 11-12 January.
    desk = Desk().at(datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI))
    case = await desk.register(FIRST_RESPONDER)
    await desk.later(minutes=10).do(case, FIRST_RESPONDER, general())
    view = case_view(fold(await desk.records()).states[case], desk.now)
    assert view.deadline is not None
    assert view.deadline.due == date(2027, 1, 12)
    assert view.deadline.provisional


@pytest.mark.parametrize("approve", [True, False])
async def test_an_approved_extension_moves_the_deadline_and_a_refused_one_does_not(
    approve: bool,
) -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.later(minutes=10).do(
        case,
        FIRST_RESPONDER,
        c.Classify(classification=Classification.MAJOR, route=7, reason="重大"),
    )
    until = date(2025, 6, 30)
    await desk.later(days=2).do(case, FIRST_RESPONDER, c.Extend(until=until, reason="需调查"))
    await desk.later(hours=1).do(case, OFFICE, c.Extend(approve=approve, reason="审批"))
    view = case_view(fold(await desk.records()).states[case], desk.now)
    assert view.deadline is not None
    assert view.extension is not None
    if approve:
        assert (view.deadline.due, view.deadline.extended) == (until, True)
        assert view.extension.state is ExtensionState.APPROVED
    else:
        assert view.deadline.due == date(2025, 4, 22)  # 30 working days after 2025-03-10
        assert view.extension.state is ExtensionState.REFUSED
    assert view.extension.decided_at == desk.now


async def test_the_view_shows_collection_and_court_enforcement() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    enforcement_route = msgspec.structs.replace(general("欠费，走强制执行"), route=5)
    await desk.later(minutes=5).do(case, FIRST_RESPONDER, enforcement_route)
    await desk.later(hours=1).do(
        case, FIRST_RESPONDER, c.Decide(outcome=DecisionOutcome.UPHELD, finding="欠费事实清楚")
    )
    served = desk.later(hours=1).now
    notice = c.ServeDemandNotice(
        served_at=served, amount="52000.5", document_number="催1号", employer=EMPLOYER
    )
    await desk.do(case, ENFORCEMENT, notice)
    await desk.do(
        case,
        ENFORCEMENT,
        c.ConfirmArrears(
            amount="52000.50", period_from=date(2024, 1, 1), period_to=date(2024, 12, 31)
        ),
    )
    await desk.later(days=11).do(
        case, ENFORCEMENT, c.ReferToCourt(court="潜江市人民法院", reason="催告期满")
    )
    view = case_view(fold(await desk.records()).states[case], desk.now)
    assert view.status is CaseStatus.REFERRED_TO_COURT
    assert view.enforcement is not None
    assert view.enforcement.demand_notice_served_at == served
    assert view.enforcement.arrears_amount == Decimal("52000.50")
    assert view.enforcement.referred_at == desk.now
    assert view.enforcement.court == "潜江市人民法院"


async def test_a_link_shows_on_both_cases() -> None:
    desk = Desk()
    first = await desk.register(FIRST_RESPONDER)
    second = await desk.later(days=1).register(FIRST_RESPONDER)
    result = await desk.do(
        second, FIRST_RESPONDER, c.Link(case_id=first, relation=LinkRelation.DUPLICATE)
    )
    folder = fold(await desk.records())
    [outgoing] = case_view(folder.states[second], desk.now).links
    [incoming] = case_view(folder.states[first], desk.now).links
    assert (outgoing.case_id, outgoing.direction) == (first, LinkDirection.OUTGOING)
    assert (incoming.case_id, incoming.direction) == (second, LinkDirection.INCOMING)
    assert incoming.position == outgoing.position == result.last_position


async def test_case_view_from_events_is_the_view_as_of_any_version() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.later(minutes=10).do(case, FIRST_RESPONDER, general())
    await desk.later(minutes=10).do(
        case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.window", reason="转")
    )
    records = await desk.records()
    assert case_view_from_events(records, desk.now) == case_view(
        fold(records).states[case], desk.now
    )
    as_registered = case_view_from_events(records[:1], desk.now)
    assert (as_registered.status, as_registered.version, as_registered.deadline) == (
        CaseStatus.REGISTERED,
        1,
        None,
    )


def test_case_view_from_events_needs_a_registration() -> None:
    with pytest.raises(ValueError, match="no registration"):
        case_view_from_events([], datetime(2025, 3, 10, tzinfo=SHANGHAI))


async def test_a_later_event_of_an_unknown_case_is_an_error_not_a_silent_skip() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, general())
    with pytest.raises(ProjectionError, match="no registration"):
        fold((await desk.records())[1:])
