"""Every rule R1–R14 of DOMAIN.md the aggregate enforces, allowed and refused (no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import msgspec
import pytest

from ledger.domain.actor import Actor
from ledger.domain.codes import (
    CaseStatus,
    Category,
    Channel,
    Classification,
    DecisionOutcome,
    Department,
    LinkRelation,
    PayerKind,
    Role,
    Satisfaction,
)
from ledger.domain.context import Facts
from ledger.domain.dispute import Dispute
from ledger.domain.errors import InvalidCommand, InvalidTransition, RuleViolation
from ledger.domain.guards import checked_payer
from ledger.domain.identifiers import make_credit_code
from ledger.domain.payer import Party
from tests.domain.cases import (
    CENTRE_HANDLER,
    COLLEAGUE,
    CONTEXT,
    ENFORCEMENT,
    FIRST_RESPONDER,
    HRSS_ENFORCER,
    HRSS_HANDLER,
    MEDICAL_HANDLER,
    MONDAY,
    NOTICE,
    OFFICE,
    classified,
    closed,
    decided,
    employer,
    fed_back,
    held_by_hrss,
    person,
    ready_for_court,
    registered,
)

POSITIONS = Facts(positions=frozenset({1, 2, 3}))  # the log positions of the case's events


def refused(rule: str) -> pytest.RaisesExc[RuleViolation]:
    return pytest.raises(RuleViolation, match=f"^{rule}:")


# -- R1 registration -----------------------------------------------------------------------------


def test_registration_records_every_item_of_clause_three_one() -> None:
    case = registered()
    event = case.collect_events()[0]
    assert type(event).TOPIC == "ledger.Registered"  # type: ignore[attr-defined]
    assert case.first_responder.staff_id == FIRST_RESPONDER.staff_id
    assert case.holder == "tax.hall"
    assert case.status is CaseStatus.REGISTERED
    assert event.payer.identifier == employer().identifier  # type: ignore[attr-defined]


def test_registration_with_a_wrong_credit_code_check_character_is_refused() -> None:
    code = make_credit_code(org="MA4900001")
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    with refused("R1"):
        checked_payer(PayerKind.EMPLOYER, "潜江市某公司", wrong, "13872001234")


def test_registration_with_a_wrong_citizen_id_check_digit_is_refused() -> None:
    with refused("R1"):
        checked_payer(PayerKind.PERSON, "陈静", "429005198506010011", "13872001234")


@pytest.mark.parametrize(
    ("field", "value"),
    [("summary", "  "), ("preliminary_opinion", ""), ("jurisdiction", "qj.atlantis")],
)
def test_registration_missing_an_item_is_refused(field: str, value: str) -> None:
    kwargs = dict(
        case_id=uuid4(),
        actor=FIRST_RESPONDER,
        channel=Channel.HOTLINE_12345,
        received_at=MONDAY,
        payer=employer(),
        jurisdiction="qj.yuanlin",
        category=Category.PAYMENT,
        summary="反映滞纳金计算有误",
        preliminary_opinion="核实后答复",
        now=MONDAY,
        context=CONTEXT,
    )
    kwargs[field] = value
    with refused("R1"):
        Dispute.register(**kwargs)  # type: ignore[arg-type]


def test_registration_of_a_contact_in_the_future_is_refused() -> None:
    with refused("R1"):
        registered(MONDAY, received_at=MONDAY + timedelta(hours=2))


# -- R2 first responder --------------------------------------------------------------------------


def test_first_responder_classifies_and_gets_the_class_deadline() -> None:
    case = classified(Classification.GENERAL)
    assert case.classification is Classification.GENERAL
    # 10 working days after Monday 2025-03-10 is Monday 2025-03-24.
    assert case.due == date(2025, 3, 24)
    assert case.due_provisional is False


def test_a_colleague_of_the_same_unit_may_not_classify() -> None:
    case = registered()
    with refused("R2"):
        case.classify(COLLEAGUE, Classification.SIMPLE, 2, "可当场办结", MONDAY, CONTEXT)


def test_the_first_responder_stays_after_transfer_and_acceptance() -> None:
    case = held_by_hrss()
    assert case.first_responder.staff_id == FIRST_RESPONDER.staff_id
    with refused("R2"):
        case.classify(HRSS_HANDLER, Classification.MAJOR, 3, "重大", MONDAY, CONTEXT)


# -- R3 closed cases -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["decide", "transfer", "refer"])
def test_a_closed_case_takes_no_more_decisions_transfers_or_referrals(command: str) -> None:
    case = closed()
    later = MONDAY + timedelta(days=30)
    with refused("R3"):
        if command == "decide":
            case.decide(FIRST_RESPONDER, DecisionOutcome.UPHELD, "再次处理", None, later, CONTEXT)
        elif command == "transfer":
            case.transfer(FIRST_RESPONDER, "hrss.social_insurance", None, "转办", later, CONTEXT)
        else:
            case.refer_to_court(ENFORCEMENT, "潜江市人民法院", "强制执行", later, CONTEXT)


def test_a_reopened_case_takes_decisions_again() -> None:
    case = closed()
    later = MONDAY + timedelta(days=3)
    case.reopen(OFFICE, "回访不满意", later, CONTEXT)
    case.decide(FIRST_RESPONDER, DecisionOutcome.UPHELD, "重新核实", None, later, CONTEXT)
    assert case.status is CaseStatus.DECIDED


def test_only_the_office_reopens_with_a_reason() -> None:
    case = closed()
    with pytest.raises(InvalidTransition):
        case.reopen(FIRST_RESPONDER, "想重新办理", MONDAY + timedelta(days=1), CONTEXT)
    with pytest.raises(InvalidCommand):
        case.reopen(OFFICE, " ", MONDAY + timedelta(days=1), CONTEXT)


# -- R4 holding unit -----------------------------------------------------------------------------


def test_the_holding_unit_decides_after_acceptance() -> None:
    case = held_by_hrss()
    case.decide(HRSS_HANDLER, DecisionOutcome.UPHELD, "核实属实", None, MONDAY, CONTEXT)
    assert case.decided


def test_the_sending_unit_may_not_decide_after_the_case_was_accepted_elsewhere() -> None:
    case = held_by_hrss()
    with refused("R4"):
        case.decide(FIRST_RESPONDER, DecisionOutcome.UPHELD, "越权处理", None, MONDAY, CONTEXT)


def test_nobody_decides_while_a_transfer_awaits_acceptance() -> None:
    case = classified()
    case.transfer(FIRST_RESPONDER, "hrss.social_insurance", None, "属人社职责", MONDAY, CONTEXT)
    with pytest.raises(InvalidTransition, match="awaits acceptance"):
        case.decide(HRSS_HANDLER, DecisionOutcome.UPHELD, "未签收先处理", None, MONDAY, CONTEXT)


def test_only_the_unit_transferred_to_accepts() -> None:
    case = classified()
    case.transfer(FIRST_RESPONDER, "hrss.social_insurance", None, "属人社职责", MONDAY, CONTEXT)
    with refused("R4"):
        case.accept(MEDICAL_HANDLER, "签收", MONDAY, CONTEXT)


def test_a_jurisdiction_transfer_is_accepted_by_staff_of_that_jurisdiction() -> None:
    case = classified()
    case.transfer(FIRST_RESPONDER, None, "qj.guanghua", "非本辖区", MONDAY, CONTEXT)
    with refused("R11"):
        case.accept(HRSS_HANDLER, "签收", MONDAY, CONTEXT)
    case.accept(CENTRE_HANDLER, "签收", MONDAY, CONTEXT)
    assert (case.jurisdiction, case.holder) == ("qj.guanghua", "gov.centre.guanghua")


def test_the_office_may_act_on_major_cases_but_not_on_general_ones() -> None:
    general = held_by_hrss()
    with refused("R4"):
        general.decide(OFFICE, DecisionOutcome.UPHELD, "领导小组处理", None, MONDAY, CONTEXT)
    major = classified(Classification.MAJOR, route=3)
    major.escalate(FIRST_RESPONDER, "跨部门重大疑难", MONDAY, CONTEXT)
    major.decide(OFFICE, DecisionOutcome.PARTIALLY_UPHELD, "会商结论", None, MONDAY, CONTEXT)
    assert major.decided


# -- R5 court enforcement ------------------------------------------------------------------------


def test_court_referral_allowed_ten_days_after_the_demand_notice() -> None:
    served = MONDAY
    case = ready_for_court(served)
    case.refer_to_court(
        ENFORCEMENT, "潜江市人民法院", "催告期满未履行", served + timedelta(days=10), CONTEXT
    )
    assert case.referred_to_court


def test_court_referral_refused_until_ten_days_after_demand_notice() -> None:
    served = MONDAY
    case = ready_for_court(served)
    with refused("R5"):
        case.refer_to_court(
            ENFORCEMENT,
            "潜江市人民法院",
            "催告未满十日",
            served + timedelta(days=9, hours=23),
            CONTEXT,
        )


def test_court_referral_refused_without_confirmed_arrears_or_established_facts() -> None:
    served = MONDAY
    case = classified(route=5, now=served - timedelta(days=1))
    case.serve_demand_notice(ENFORCEMENT, served, Decimal("1000.00"), NOTICE, served, CONTEXT)
    with refused("R5") as excinfo:
        case.refer_to_court(
            ENFORCEMENT, "潜江市人民法院", "强制执行", served + timedelta(days=11), CONTEXT
        )
    assert "facts" in str(excinfo.value)
    assert "arrears" in str(excinfo.value)


def test_court_referral_is_made_only_by_the_city_tax_bureau() -> None:
    served = MONDAY
    case = ready_for_court(served)
    with refused("R11"):
        case.refer_to_court(
            HRSS_ENFORCER, "潜江市人民法院", "强制执行", served + timedelta(days=11), CONTEXT
        )


def test_a_rejected_claim_establishes_no_facts_for_enforcement() -> None:
    served = MONDAY
    case = decided(served - timedelta(days=1), DecisionOutcome.REJECTED, route=5)
    case.serve_demand_notice(ENFORCEMENT, served, Decimal("100.00"), NOTICE, served, CONTEXT)
    case.confirm_arrears(
        ENFORCEMENT, Decimal("100.00"), date(2024, 1, 1), date(2024, 3, 31), served, CONTEXT
    )
    with refused("R5"):
        case.refer_to_court(
            ENFORCEMENT, "潜江市人民法院", "强制执行", served + timedelta(days=11), CONTEXT
        )


# -- R6 closure ----------------------------------------------------------------------------------


def test_closure_after_decision_and_feedback() -> None:
    case = closed()
    assert case.status is CaseStatus.CLOSED


def test_closure_refused_without_a_decision() -> None:
    case = classified()
    with refused("R6"):
        case.close(FIRST_RESPONDER, "办结", MONDAY, CONTEXT)


def test_closure_refused_without_feedback_to_the_payer() -> None:
    case = decided()
    with refused("R6"):
        case.close(FIRST_RESPONDER, "办结", MONDAY + timedelta(hours=2), CONTEXT)


def test_a_new_decision_needs_new_feedback_before_closure() -> None:
    case = fed_back()
    case.decide(
        FIRST_RESPONDER, DecisionOutcome.PARTIALLY_UPHELD, "补充处理", None, MONDAY, CONTEXT
    )
    with refused("R6"):
        case.close(FIRST_RESPONDER, "办结", MONDAY + timedelta(hours=4), CONTEXT)


def test_a_simple_matter_is_resolved_on_the_spot_by_the_first_responder() -> None:
    case = classified(Classification.SIMPLE, route=1)
    assert case.due == MONDAY.date()  # simple: same working day
    case.decide(FIRST_RESPONDER, DecisionOutcome.RESOLVED, "当场解决", None, MONDAY, CONTEXT)
    case.give_feedback(
        FIRST_RESPONDER, Channel.SERVICE_WINDOW, "已解决", Satisfaction.SATISFIED, MONDAY, CONTEXT
    )
    case.close(FIRST_RESPONDER, "当场办结", MONDAY, CONTEXT)
    assert case.closed


# -- R7 corrections ------------------------------------------------------------------------------


def test_a_correction_is_a_new_event_referencing_the_corrected_position() -> None:
    case = decided()
    case.collect_events()
    case.correct(FIRST_RESPONDER, 3, "处理意见笔误：应为部分支持", "笔误更正", MONDAY, POSITIONS)
    (event,) = case.collect_events()
    assert type(event).TOPIC == "ledger.Corrected"  # type: ignore[attr-defined]
    assert event.position == 3  # type: ignore[attr-defined]
    assert case.decided  # the decision itself is untouched


def test_a_correction_must_name_a_position() -> None:
    case = decided()
    with refused("R7"):
        case.correct(FIRST_RESPONDER, 0, "更正", "笔误", MONDAY, POSITIONS)


def test_a_correction_names_an_event_of_this_case() -> None:
    case = decided()
    with pytest.raises(InvalidCommand, match="position 4 is not an event of case"):
        case.correct(FIRST_RESPONDER, 4, "更正", "笔误", MONDAY, POSITIONS)
    assert case.version == 3


def test_a_link_names_a_case_that_exists_and_is_not_itself() -> None:
    case, other = decided(), uuid4()
    with pytest.raises(InvalidCommand, match="there is no case"):
        case.link(FIRST_RESPONDER, other, LinkRelation.RELATED, MONDAY, Facts())
    with pytest.raises(InvalidTransition, match="cannot be linked to itself"):
        case.link(FIRST_RESPONDER, case.id, LinkRelation.RELATED, MONDAY, Facts())
    known = Facts(existing_cases=frozenset({other}))
    case.link(FIRST_RESPONDER, other, LinkRelation.RELATED, MONDAY, known)
    with pytest.raises(InvalidTransition, match="already linked"):
        case.link(FIRST_RESPONDER, other, LinkRelation.DUPLICATE, MONDAY, known)
    assert case.links == {other: LinkRelation.RELATED}


def test_the_aggregate_has_no_way_to_edit_or_delete_an_event() -> None:
    names = {n for n in dir(Dispute) if not n.startswith("_")}
    assert not {n for n in names if n.startswith(("edit", "delete", "update", "remove"))}


# -- R8 money and time ---------------------------------------------------------------------------


def test_money_is_kept_exact_to_the_fen() -> None:
    case = decided()
    case.serve_demand_notice(ENFORCEMENT, MONDAY, Decimal("1234.50"), NOTICE, MONDAY, CONTEXT)
    (event,) = case.collect_events()[-1:]
    assert event.amount == Decimal("1234.50")  # type: ignore[attr-defined]


def test_a_float_amount_is_refused() -> None:
    case = decided()
    with refused("R8"):
        case.serve_demand_notice(ENFORCEMENT, MONDAY, 1234.5, NOTICE, MONDAY, CONTEXT)  # type: ignore[arg-type]


def test_a_naive_time_is_refused() -> None:
    case = decided()
    with refused("R8"):
        case.serve_demand_notice(
            ENFORCEMENT, datetime(2025, 3, 10, 9), Decimal("10.00"), NOTICE, MONDAY, CONTEXT
        )


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1989, 12, 31, 23, 59, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),  # no UTC equivalent at all
        datetime(1970, 1, 1, tzinfo=UTC),  # what a JSON number 0 becomes as a time
    ],
)
def test_a_time_before_1990_is_refused_before_anything_is_recorded(moment: datetime) -> None:
    case = decided()
    version = case.version
    with pytest.raises(InvalidCommand, match="before 1990-01-01"):
        case.serve_demand_notice(ENFORCEMENT, moment, Decimal("10.00"), NOTICE, MONDAY, CONTEXT)
    assert case.version == version
    with pytest.raises(InvalidCommand, match=r"received_at .* before 1990-01-01"):
        registered(MONDAY, received_at=moment)


def test_the_earliest_accepted_time_is_1990_in_any_offset() -> None:
    first_moment = datetime(1990, 1, 1, 8, tzinfo=timezone(timedelta(hours=8)))
    case = registered(MONDAY, received_at=first_moment)
    assert case.collect_events()[-1].received_at == first_moment  # type: ignore[attr-defined]


def test_business_times_are_stored_in_utc_whatever_offset_they_came_with() -> None:
    """R8: "UTC stored". The instant is kept; the offset the client wrote is not."""
    beijing = timezone(timedelta(hours=8))
    received = datetime(2025, 3, 10, 8, 40, tzinfo=beijing)
    case = registered(MONDAY, received_at=received)
    case.classify(FIRST_RESPONDER, Classification.GENERAL, 5, "一般事项", MONDAY, CONTEXT)
    case.decide(FIRST_RESPONDER, DecisionOutcome.UPHELD, "欠费事实清楚", None, MONDAY, CONTEXT)
    served = datetime(2025, 3, 10, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    case.serve_demand_notice(
        ENFORCEMENT, served, Decimal("10.00"), NOTICE, served + timedelta(hours=1), CONTEXT
    )
    events = case.collect_events()
    stored = (events[0].received_at, events[-1].served_at)  # type: ignore[attr-defined]
    assert stored == (received, served)
    assert [t.utcoffset() for t in stored] == [timedelta(0), timedelta(0)]
    assert events[-1].occurred_at.utcoffset() == timedelta(0)  # type: ignore[attr-defined]


def test_a_demand_notice_may_predate_the_case_but_not_its_own_recording() -> None:
    """R14: 催缴 often comes before the dispute, so a notice served before the case was received
    is recorded as served then; one served after it is recorded (beyond the clock skew) is not."""
    case = decided()
    earlier = case.received_at - timedelta(days=40)
    case.serve_demand_notice(ENFORCEMENT, earlier, Decimal("10.00"), NOTICE, MONDAY, CONTEXT)
    (event,) = case.collect_events()[-1:]
    assert (event.served_at, event.occurred_at) == (earlier, earlier)  # type: ignore[attr-defined]
    assert case.demand_notice_served_at == earlier
    version = case.version
    with pytest.raises(InvalidCommand, match=r"served_at .* is in the future"):
        case.serve_demand_notice(
            ENFORCEMENT, MONDAY + timedelta(minutes=6), Decimal("10.00"), NOTICE, MONDAY, CONTEXT
        )
    assert case.version == version


def test_a_notice_served_long_before_the_case_lets_the_referral_follow_at_once() -> None:
    """R5 counts the ten days from the notice's service, whenever that was."""
    served = MONDAY - timedelta(days=30)
    case = decided(route=5)
    case.serve_demand_notice(ENFORCEMENT, served, Decimal("100.00"), NOTICE, MONDAY, CONTEXT)
    case.confirm_arrears(
        ENFORCEMENT, Decimal("100.00"), date(2024, 1, 1), date(2024, 12, 31), MONDAY, CONTEXT
    )
    case.refer_to_court(ENFORCEMENT, "潜江市人民法院", "催告期满未履行", MONDAY, CONTEXT)
    assert case.referred_to_court


@pytest.mark.parametrize("number", ["", "  ", "\u200b", "催\x00告"])
def test_a_demand_notice_carries_its_document_number(number: str) -> None:
    case = decided()
    version = case.version
    with pytest.raises(InvalidCommand, match="document_number"):
        case.serve_demand_notice(ENFORCEMENT, MONDAY, Decimal("10.00"), number, MONDAY, CONTEXT)
    assert case.version == version
    case.serve_demand_notice(ENFORCEMENT, MONDAY, Decimal("10.00"), f"  {NOTICE} ", MONDAY, CONTEXT)
    (event,) = case.collect_events()[-1:]
    assert event.document_number == NOTICE  # type: ignore[attr-defined]


# -- R9 extensions -------------------------------------------------------------------------------


def test_an_extension_requested_before_the_deadline_and_approved_by_the_office() -> None:
    case = held_by_hrss()
    assert case.due == date(2025, 3, 24)
    case.request_extension(
        HRSS_HANDLER, date(2025, 4, 15), "需调取工资台账", MONDAY + timedelta(days=7), CONTEXT
    )
    case.decide_extension(OFFICE, True, "同意", MONDAY + timedelta(days=8), CONTEXT)
    assert case.due == date(2025, 4, 15)


def test_an_extension_requested_after_the_deadline_is_refused() -> None:
    case = held_by_hrss()
    with refused("R9"):
        case.request_extension(
            HRSS_HANDLER, date(2025, 4, 15), "已超期", MONDAY + timedelta(days=15), CONTEXT
        )


def test_only_the_leading_group_office_approves_an_extension() -> None:
    case = held_by_hrss()
    case.request_extension(HRSS_HANDLER, date(2025, 4, 15), "需调取工资台账", MONDAY, CONTEXT)
    with refused("R9"):
        case.decide_extension(HRSS_HANDLER, True, "自行批准", MONDAY, CONTEXT)


def test_a_refused_extension_keeps_the_deadline() -> None:
    case = held_by_hrss()
    case.request_extension(HRSS_HANDLER, date(2025, 4, 15), "需调取工资台账", MONDAY, CONTEXT)
    case.decide_extension(OFFICE, False, "理由不充分", MONDAY, CONTEXT)
    assert case.due == date(2025, 3, 24)
    assert case.extension_requested_until is None


# -- values a command may carry ------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a\x00b", "\x1b[31mred\x07", "half \ud800 a pair"])
def test_text_with_control_characters_is_refused_and_nothing_recorded(bad: str) -> None:
    case = decided()
    version = case.version
    with pytest.raises(InvalidCommand, match="control character U\\+"):
        case.give_feedback(
            FIRST_RESPONDER,
            Channel.DEPARTMENT_HOTLINE,
            bad,
            Satisfaction.SATISFIED,
            MONDAY,
            CONTEXT,
        )
    with pytest.raises(InvalidCommand, match="control character"):
        case.correct(FIRST_RESPONDER, 1, "更正", bad, MONDAY, POSITIONS)
    assert case.version == version
    with pytest.raises(InvalidCommand, match="summary contains the control character U\\+"):
        registered(summary=bad)


def test_line_breaks_and_tabs_are_text() -> None:
    case = decided()
    case.give_feedback(
        FIRST_RESPONDER,
        Channel.DEPARTMENT_HOTLINE,
        "一、已补缴\r\n二、\t已回访",
        Satisfaction.SATISFIED,
        MONDAY,
        CONTEXT,
    )
    assert case.feedback_given


@pytest.mark.parametrize("invisible", ["\u200b", "\u200b\u200c\u2060", " \u3000\ufeff "])
def test_text_of_only_invisible_characters_is_empty(invisible: str) -> None:
    with pytest.raises(InvalidCommand, match="reason must not be empty"):
        classified().urge(OFFICE, invisible, MONDAY, CONTEXT)
    with refused("R1"):
        registered(summary=invisible)
    with refused("R1"):
        checked_payer(PayerKind.EMPLOYER, invisible, make_credit_code(), "13872001234")


def test_optional_notes_may_be_empty_but_not_control_characters() -> None:
    case = held_by_hrss()  # accepted with an empty note on the way
    assert case.holder == HRSS_HANDLER.unit
    case = decided(route=5)
    case.serve_demand_notice(ENFORCEMENT, MONDAY, Decimal("100.00"), NOTICE, MONDAY, CONTEXT)
    case.confirm_arrears(
        ENFORCEMENT, Decimal("100.00"), date(2024, 1, 1), date(2024, 3, 31), MONDAY, CONTEXT
    )
    case.refer_to_court(
        ENFORCEMENT, "潜江市人民法院", "强制执行", MONDAY + timedelta(days=11), CONTEXT
    )
    with pytest.raises(InvalidCommand, match="detail contains the control character U\\+0000"):
        case.record_court_outcome(
            ENFORCEMENT, "准予执行", "\x00", MONDAY + timedelta(days=30), CONTEXT
        )
    case.record_court_outcome(ENFORCEMENT, "准予执行", "", MONDAY + timedelta(days=30), CONTEXT)


@pytest.mark.parametrize(
    ("period_from", "period_to", "why"),
    [
        (date(1989, 12, 1), date(1989, 12, 31), "period_from 1989-12-01 is before 1990-01-01"),
        (date(2025, 1, 1), date(2025, 4, 1), "period_to 2025-04-01 is after this month"),
        (date(2090, 1, 1), date(2099, 12, 31), "is after this month"),
        (date(2024, 3, 1), date(2024, 1, 31), "period_from is after period_to"),
    ],
)
def test_an_arrears_period_lies_between_1990_and_the_end_of_this_month(
    period_from: date, period_to: date, why: str
) -> None:
    case = decided()
    version = case.version
    with pytest.raises(InvalidCommand, match=why):
        case.confirm_arrears(
            ENFORCEMENT, Decimal("100.00"), period_from, period_to, MONDAY, CONTEXT
        )
    assert case.version == version
    # MONDAY is 2025-03-10: March is this month, and arrears may be confirmed up to its end.
    case.confirm_arrears(
        ENFORCEMENT, Decimal("100.00"), date(1990, 1, 1), date(2025, 3, 31), MONDAY, CONTEXT
    )


def test_an_extension_beyond_a_year_is_a_keying_error() -> None:
    case = held_by_hrss()
    assert case.due == date(2025, 3, 24)
    with pytest.raises(InvalidCommand, match="more than a year after the current one"):
        case.request_extension(HRSS_HANDLER, date(9999, 12, 31), "需调取工资台账", MONDAY, CONTEXT)
    case.request_extension(HRSS_HANDLER, date(2026, 3, 24), "需调取工资台账", MONDAY, CONTEXT)


def test_a_consultation_lists_each_unit_once() -> None:
    case = held_by_hrss()
    units = ("tax.hall", "hrss.social_insurance")
    with pytest.raises(InvalidCommand, match=r"'tax\.hall' is listed twice"):
        case.consult(HRSS_HANDLER, (*units, "tax.hall"), "会商", MONDAY, CONTEXT)
    case.consult(HRSS_HANDLER, units, "会商", MONDAY, CONTEXT)


# -- returned transfers (退单) -------------------------------------------------------------------


def _sent_to_hrss(now: datetime = MONDAY) -> Dispute:
    case = classified(now=now)
    case.transfer(FIRST_RESPONDER, "hrss.social_insurance", None, "属人社职责", now, CONTEXT)
    return case


def test_the_receiving_unit_returns_a_misrouted_transfer_and_the_sender_keeps_the_case() -> None:
    case = _sent_to_hrss()
    case.return_transfer(
        HRSS_HANDLER, "不属本单位职责，请转医保", MONDAY + timedelta(hours=2), CONTEXT
    )
    assert (case.status, case.holder, case.pending_unit) == (CaseStatus.RETURNED, "tax.hall", None)
    # The sender routes it anew; the same transfer can be neither accepted nor returned again.
    with pytest.raises(InvalidTransition, match="no transfer awaiting"):
        case.accept(HRSS_HANDLER, "签收", MONDAY + timedelta(hours=3), CONTEXT)
    case.transfer(FIRST_RESPONDER, "medical.agency", None, "属医保职责", MONDAY, CONTEXT)
    case.accept(MEDICAL_HANDLER, "签收", MONDAY + timedelta(hours=4), CONTEXT)
    assert case.holder == "medical.agency"


def test_only_the_unit_a_transfer_awaits_returns_it() -> None:
    case = _sent_to_hrss()
    with refused("R4"):
        case.return_transfer(MEDICAL_HANDLER, "不属本单位职责", MONDAY, CONTEXT)
    with pytest.raises(InvalidTransition, match="no transfer awaiting"):
        classified().return_transfer(HRSS_HANDLER, "不属本单位职责", MONDAY, CONTEXT)


def test_a_transfer_is_returned_within_its_acceptance_window_only() -> None:
    case = _sent_to_hrss()  # Monday; the window (1 working day) ends on Tuesday
    with pytest.raises(InvalidTransition, match="acceptance window ended 2025-03-11"):
        case.return_transfer(HRSS_HANDLER, "不属本单位职责", MONDAY + timedelta(days=2), CONTEXT)
    case.return_transfer(HRSS_HANDLER, "不属本单位职责", MONDAY + timedelta(days=1), CONTEXT)
    assert case.status is CaseStatus.RETURNED


# -- authority from the reference data (R11) --------------------------------------------------

TOWNSHIP_ENFORCER = Actor(
    staff_id="T5001",
    name="钱进",
    unit="tax.station.guanghua",
    department=Department.TAX,
    roles=(Role.ENFORCEMENT,),
    jurisdiction="qj.guanghua",
)


def test_a_township_tax_station_neither_serves_notices_nor_refers_to_court() -> None:
    case = decided(route=5)
    with refused("R11"):
        case.serve_demand_notice(
            TOWNSHIP_ENFORCER, MONDAY, Decimal("100.00"), NOTICE, MONDAY, CONTEXT
        )
    served = MONDAY - timedelta(days=20)
    ready = ready_for_court(served)
    with refused("R11"):
        ready.refer_to_court(TOWNSHIP_ENFORCER, "潜江市人民法院", "强制执行", MONDAY, CONTEXT)
    ready.refer_to_court(ENFORCEMENT, "潜江市人民法院", "强制执行", MONDAY, CONTEXT)


def test_only_a_case_routed_to_enforcement_is_referred_to_court() -> None:
    served = MONDAY - timedelta(days=20)
    case = decided(served - timedelta(days=1), route=2)
    case.serve_demand_notice(ENFORCEMENT, served, Decimal("100.00"), NOTICE, served, CONTEXT)
    case.confirm_arrears(
        ENFORCEMENT, Decimal("100.00"), date(2024, 1, 1), date(2024, 3, 31), served, CONTEXT
    )
    with refused("R11") as refusal:
        case.refer_to_court(ENFORCEMENT, "潜江市人民法院", "强制执行", MONDAY, CONTEXT)
    assert "三(三)2, not to 三(三)5" in str(refusal.value)


def test_a_jurisdiction_transfer_is_accepted_by_a_unit_serving_it_whatever_a_token_claims() -> None:
    case = classified()
    case.transfer(FIRST_RESPONDER, None, "qj.guanghua", "属广华辖区", MONDAY, CONTEXT)
    claims_it = msgspec.structs.replace(COLLEAGUE, jurisdiction="qj.guanghua")  # tax.hall
    with refused("R11"):
        case.accept(claims_it, "签收", MONDAY, CONTEXT)
    case.accept(CENTRE_HANDLER, "签收", MONDAY, CONTEXT)
    assert (case.holder, case.jurisdiction) == ("gov.centre.guanghua", "qj.guanghua")


# -- R12 court outcomes --------------------------------------------------------------------------


def _referred(now: datetime = MONDAY) -> Dispute:
    case = ready_for_court(now)
    case.refer_to_court(
        ENFORCEMENT, "潜江市人民法院", "催告期满未履行", now + timedelta(days=10), CONTEXT
    )
    return case


def test_one_court_outcome_per_referral_and_the_same_again_is_a_duplicate() -> None:
    case = _referred()
    later = MONDAY + timedelta(days=40)
    case.record_court_outcome(
        ENFORCEMENT, "准予执行", "裁定书（2025）鄂0991执审12号", later, CONTEXT
    )
    first = case.version
    assert (case.court_outcome, case.court_outcome_version) == ("准予执行", first)
    with refused("R12") as excinfo:
        case.record_court_outcome(
            ENFORCEMENT, "准予执行", "裁定书（2025）鄂0991执审12号", later, CONTEXT
        )
    assert f"already recorded (version {first})" in str(excinfo.value)
    assert case.version == first


def test_a_different_later_outcome_is_a_correction_naming_the_first() -> None:
    case = _referred()
    later = MONDAY + timedelta(days=40)
    case.record_court_outcome(ENFORCEMENT, "准予执行", "", later, CONTEXT)
    first = case.version
    with refused("R12") as excinfo:  # not silently replacing the first
        case.record_court_outcome(ENFORCEMENT, "不予执行", "", later + timedelta(days=1), CONTEXT)
    assert f"send corrects {first}" in str(excinfo.value)
    with refused("R12"):
        case.record_court_outcome(ENFORCEMENT, "不予执行", "", later, CONTEXT, corrects=first - 1)
    case.record_court_outcome(ENFORCEMENT, "不予执行", "复议后改判", later, CONTEXT, corrects=first)
    (event,) = case.collect_events()[-1:]
    assert (event.outcome, event.corrects) == ("不予执行", first)  # type: ignore[attr-defined]
    assert (case.court_outcome, case.court_outcome_version) == ("不予执行", first + 1)
    # A further correction names the outcome now in force, not the first.
    with refused("R12"):
        case.record_court_outcome(ENFORCEMENT, "准予执行", "", later, CONTEXT, corrects=first)
    case.record_court_outcome(ENFORCEMENT, "准予执行", "再审", later, CONTEXT, corrects=first + 1)


def test_a_first_outcome_corrects_nothing() -> None:
    case = _referred()
    with refused("R12"):
        case.record_court_outcome(ENFORCEMENT, "准予执行", "", MONDAY, CONTEXT, corrects=3)
    with pytest.raises(InvalidTransition, match="no court-enforcement referral"):
        decided().record_court_outcome(ENFORCEMENT, "准予执行", "", MONDAY, CONTEXT)


def test_an_outcome_after_closure_is_recorded_as_late_and_the_case_stays_closed() -> None:
    case = _referred()
    case.give_feedback(
        FIRST_RESPONDER,
        Channel.SERVICE_WINDOW,
        "已申请法院强制执行",
        Satisfaction.SATISFIED,
        MONDAY + timedelta(days=11),
        CONTEXT,
    )
    case.close(FIRST_RESPONDER, "已申请强制执行，办结", MONDAY + timedelta(days=11), CONTEXT)
    case.record_court_outcome(ENFORCEMENT, "准予执行", "", MONDAY + timedelta(days=60), CONTEXT)
    (event,) = case.collect_events()[-1:]
    assert event.after_closure is True  # type: ignore[attr-defined]
    assert (case.closed, case.status) == (True, CaseStatus.CLOSED)
    assert case.court_outcome == "准予执行"


def test_an_outcome_before_closure_is_not_late() -> None:
    case = _referred()
    case.record_court_outcome(ENFORCEMENT, "准予执行", "", MONDAY + timedelta(days=30), CONTEXT)
    (event,) = case.collect_events()[-1:]
    assert (event.after_closure, event.corrects) == (False, None)  # type: ignore[attr-defined]


# -- employers as a party (R1, R11) --------------------------------------------------------------

EMPLOYER = Party(name="潜江市兴达建筑工程有限公司", credit_code=make_credit_code(org="MA4900001"))
OTHER_EMPLOYER = Party(name="潜江市盛源化工有限公司", credit_code=make_credit_code(org="MA4900002"))


def _by_person(category: Category = Category.EMPLOYEE_EMPLOYER, **changes: object) -> Dispute:
    kwargs: dict[str, object] = dict(
        case_id=uuid4(),
        actor=FIRST_RESPONDER,
        channel=Channel.HOTLINE_12345,
        received_at=MONDAY - timedelta(minutes=20),
        payer=person(),
        jurisdiction="qj.yuanlin",
        category=category,
        summary="职工反映单位未按实际工资申报缴费基数",
        preliminary_opinion="核实后依法处理",
        now=MONDAY,
        context=CONTEXT,
    )
    kwargs.update(changes)
    return Dispute.register(**kwargs)  # type: ignore[arg-type]


def test_an_employee_employer_dispute_of_a_person_names_the_employer() -> None:
    with refused("R1") as excinfo:
        _by_person()
    assert "employer" in str(excinfo.value)
    lower = Party(name=f" {EMPLOYER.name} ", credit_code=EMPLOYER.credit_code.lower())
    case = _by_person(employer=lower)
    assert case.employer == EMPLOYER  # trimmed, the code in upper case
    assert case.collect_events()[0].employer == EMPLOYER  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "code", "why"),
    [
        ("潜江市兴达建筑工程有限公司", "wrong", "employer.credit_code: credit code: must be 18"),
        ("\u3000", None, "employer.name is missing"),
        ("潜江市兴达建筑工程有限公司", "check", "wrong check character"),
    ],
)
def test_the_employer_s_credit_code_passes_its_check_character(
    name: str, code: str | None, why: str
) -> None:
    good = EMPLOYER.credit_code
    given = {
        None: good,
        "wrong": "91429005",
        "check": good[:-1] + ("0" if good[-1] != "0" else "1"),
    }
    with refused("R1") as excinfo:
        _by_person(employer=Party(name=name, credit_code=given[code]))
    assert why in str(excinfo.value)


def test_when_the_payer_is_the_employer_it_is_the_party() -> None:
    case = registered()  # an employee_employer dispute raised by the employer itself
    assert case.employer == Party(name=case.payer.name, credit_code=case.payer.identifier)
    assert case.collect_events()[0].employer is None  # type: ignore[attr-defined]
    with refused("R1"):
        Dispute.register(
            case_id=uuid4(),
            actor=FIRST_RESPONDER,
            channel=Channel.VISIT,
            received_at=MONDAY - timedelta(minutes=5),
            payer=employer(),  # type: ignore[arg-type]
            jurisdiction="qj.yuanlin",
            category=Category.EMPLOYEE_EMPLOYER,
            summary="单位反映职工缴费基数争议",
            preliminary_opinion="核实",
            now=MONDAY,
            context=CONTEXT,
            employer=OTHER_EMPLOYER,
        )


def test_a_notice_and_a_referral_name_the_employer_when_the_case_does_not() -> None:
    case = _by_person(Category.PAYMENT)  # a person's payment dispute names no employer
    assert case.employer is None
    case.classify(FIRST_RESPONDER, Classification.GENERAL, 5, "欠费", MONDAY, CONTEXT)
    case.decide(FIRST_RESPONDER, DecisionOutcome.UPHELD, "欠费属实", None, MONDAY, CONTEXT)
    version = case.version
    with pytest.raises(InvalidCommand, match=r"employer \(name and credit_code\) is required"):
        case.serve_demand_notice(ENFORCEMENT, MONDAY, Decimal("10.00"), NOTICE, MONDAY, CONTEXT)
    assert case.version == version
    case.serve_demand_notice(
        ENFORCEMENT, MONDAY, Decimal("10.00"), NOTICE, MONDAY, CONTEXT, EMPLOYER
    )
    assert case.employer == EMPLOYER
    case.confirm_arrears(
        ENFORCEMENT, Decimal("10.00"), date(2024, 1, 1), date(2024, 12, 31), MONDAY, CONTEXT
    )
    later = MONDAY + timedelta(days=11)
    with pytest.raises(InvalidCommand, match="belongs to a case of its own"):
        case.refer_to_court(
            ENFORCEMENT, "潜江市人民法院", "强制执行", later, CONTEXT, OTHER_EMPLOYER
        )
    case.refer_to_court(ENFORCEMENT, "潜江市人民法院", "强制执行", later, CONTEXT)
    (event,) = case.collect_events()[-1:]
    assert event.employer == EMPLOYER  # type: ignore[attr-defined]


def test_a_notice_on_an_employer_payer_is_served_on_the_payer() -> None:
    case = decided()
    case.serve_demand_notice(ENFORCEMENT, MONDAY, Decimal("10.00"), NOTICE, MONDAY, CONTEXT)
    (event,) = case.collect_events()[-1:]
    assert event.employer == case.employer  # type: ignore[attr-defined]
    assert event.employer.credit_code == case.payer.identifier  # type: ignore[attr-defined]
    with pytest.raises(InvalidCommand, match="belongs to a case of its own"):
        case.serve_demand_notice(
            ENFORCEMENT, MONDAY, Decimal("10.00"), NOTICE, MONDAY, CONTEXT, OTHER_EMPLOYER
        )
    bad = Party(name=EMPLOYER.name, credit_code=EMPLOYER.credit_code[:-1])
    with pytest.raises(InvalidCommand, match=r"employer\.credit_code"):
        case.serve_demand_notice(
            ENFORCEMENT, MONDAY, Decimal("10.00"), NOTICE, MONDAY, CONTEXT, bad
        )


# -- R13 and R2: classification and transfer ----------------------------------------------------


def test_a_case_is_classified_before_it_is_transferred_to_a_unit() -> None:
    case = registered()
    with refused("R13"):
        case.transfer(FIRST_RESPONDER, "hrss.social_insurance", None, "属人社职责", MONDAY, CONTEXT)
    assert case.pending_unit is None
    case.classify(FIRST_RESPONDER, Classification.GENERAL, 2, "一般事项", MONDAY, CONTEXT)
    case.transfer(FIRST_RESPONDER, "hrss.social_insurance", None, "属人社职责", MONDAY, CONTEXT)
    assert case.pending_unit == "hrss.social_insurance"


def test_after_an_out_of_jurisdiction_transfer_the_accepting_unit_classifies_and_decides() -> None:
    case = registered()
    case.transfer(FIRST_RESPONDER, None, "qj.guanghua", "非本辖区", MONDAY, CONTEXT)
    case.accept(CENTRE_HANDLER, "签收", MONDAY + timedelta(hours=1), CONTEXT)
    assert case.classifier_unit == CENTRE_HANDLER.unit
    with refused("R2"):  # the first responder no longer classifies it
        case.classify(FIRST_RESPONDER, Classification.GENERAL, 2, "一般", MONDAY, CONTEXT)
    with refused("R2"):
        case.classify(HRSS_HANDLER, Classification.GENERAL, 2, "一般", MONDAY, CONTEXT)
    case.classify(CENTRE_HANDLER, Classification.GENERAL, 2, "辖区分类", MONDAY, CONTEXT)
    assert case.classification is Classification.GENERAL
    case.decide(CENTRE_HANDLER, DecisionOutcome.UPHELD, "辖区核实", None, MONDAY, CONTEXT)
    assert case.decided


def test_a_returned_jurisdiction_transfer_leaves_classification_to_the_first_responder() -> None:
    case = registered()
    case.transfer(FIRST_RESPONDER, None, "qj.guanghua", "非本辖区", MONDAY, CONTEXT)
    case.return_transfer(CENTRE_HANDLER, "属本辖区以外", MONDAY + timedelta(hours=1), CONTEXT)
    assert case.classifier_unit is None
    case.classify(FIRST_RESPONDER, Classification.GENERAL, 2, "一般", MONDAY, CONTEXT)


def test_a_case_accepted_unclassified_before_this_rule_is_classified_by_the_accepting_unit() -> (
    None
):
    """Recorded before R13: a unit transfer of an unclassified case (no guard refuses it on
    replay). The unit that accepted it classifies it, so it is not stranded."""
    case = registered()
    case.trigger_event(
        case.Transferred,
        actor=FIRST_RESPONDER,
        to_unit="hrss.social_insurance",
        to_jurisdiction=None,
        reason="转办",
        occurred_at=MONDAY,
    )
    case.accept(HRSS_HANDLER, "签收", MONDAY + timedelta(hours=1), CONTEXT)
    case.classify(HRSS_HANDLER, Classification.GENERAL, 2, "承办单位分类", MONDAY, CONTEXT)
    case.decide(HRSS_HANDLER, DecisionOutcome.UPHELD, "核实", None, MONDAY, CONTEXT)
    assert (case.classification, case.decided) == (Classification.GENERAL, True)


# -- R10 reclassification ------------------------------------------------------------------------


def test_a_classified_case_is_not_classified_again() -> None:
    case = classified()
    with refused("R10"):
        case.classify(FIRST_RESPONDER, Classification.MAJOR, 3, "改为重大", MONDAY, CONTEXT)
    assert case.classification is Classification.GENERAL


def test_a_reclassification_approved_by_the_office_sets_the_new_class_deadline() -> None:
    case = classified()
    assert case.due == date(2025, 3, 24)  # general: 10 working days
    later = MONDAY + timedelta(days=2)
    case.reclassify(FIRST_RESPONDER, Classification.MAJOR, 3, "跨部门", None, later, CONTEXT)
    assert (case.classification, case.reclassification_requested) == (
        Classification.GENERAL,
        Classification.MAJOR,
    )
    case.reclassify(OFFICE, None, None, "同意", True, later, CONTEXT)
    assert (case.classification, case.route) == (Classification.MAJOR, 3)
    assert case.due == date(2025, 4, 22)  # major: 30 working days from receipt (清明 4 April off)
    (event,) = case.collect_events()[-1:]
    assert (event.previous_due, event.due) == (date(2025, 3, 24), date(2025, 4, 22))  # type: ignore[attr-defined]
    assert case.reclassification_requested is None


def test_a_refused_reclassification_keeps_the_class_and_the_deadline() -> None:
    case = classified()
    case.request_reclassification(
        FIRST_RESPONDER, Classification.SIMPLE, 1, "简易", MONDAY, CONTEXT
    )
    case.decide_reclassification(OFFICE, False, "理由不充分", MONDAY, CONTEXT)
    assert (case.classification, case.due) == (Classification.GENERAL, date(2025, 3, 24))
    (event,) = case.collect_events()[-1:]
    assert (event.approved, event.due, event.previous_due) == (False, None, date(2025, 3, 24))  # type: ignore[attr-defined]


def test_a_deadline_missed_before_the_reclassification_stays_on_record() -> None:
    case = classified()
    past_due = MONDAY + timedelta(days=20)  # after 2025-03-24
    case.request_reclassification(
        FIRST_RESPONDER, Classification.MAJOR, 3, "实为重大", past_due, CONTEXT
    )
    case.decide_reclassification(OFFICE, True, "同意", past_due, CONTEXT)
    events = case.collect_events()
    assert events[1].due == date(2025, 3, 24)  # type: ignore[attr-defined]  # Classified
    assert events[-1].previous_due == date(2025, 3, 24)  # type: ignore[attr-defined]
    assert case.due == date(2025, 4, 22)


def test_only_the_office_decides_a_reclassification_and_only_a_pending_one() -> None:
    case = classified()
    with pytest.raises(InvalidTransition, match="no reclassification request"):
        case.decide_reclassification(OFFICE, True, "同意", MONDAY, CONTEXT)
    case.request_reclassification(FIRST_RESPONDER, Classification.MAJOR, 3, "重大", MONDAY, CONTEXT)
    with refused("R10"):
        case.decide_reclassification(FIRST_RESPONDER, True, "自行批准", MONDAY, CONTEXT)
    with refused("R10"):  # one request at a time
        case.request_reclassification(
            FIRST_RESPONDER, Classification.SIMPLE, 1, "简易", MONDAY, CONTEXT
        )


def test_who_requests_a_reclassification() -> None:
    case = held_by_hrss()
    with refused("R4"):
        case.request_reclassification(
            MEDICAL_HANDLER, Classification.MAJOR, 3, "重大", MONDAY, CONTEXT
        )
    case.request_reclassification(HRSS_HANDLER, Classification.MAJOR, 3, "重大", MONDAY, CONTEXT)
    other = held_by_hrss()
    other.request_reclassification(
        FIRST_RESPONDER, Classification.MAJOR, 3, "重大", MONDAY, CONTEXT
    )
    with pytest.raises(InvalidTransition, match="classify the case first"):
        registered().request_reclassification(
            FIRST_RESPONDER, Classification.MAJOR, 3, "重大", MONDAY, CONTEXT
        )


@pytest.mark.parametrize(
    ("classification", "route", "approve", "why"),
    [
        (None, None, None, "give classification, route and reason"),
        (Classification.MAJOR, None, None, "give classification, route and reason"),
        (Classification.MAJOR, 3, True, "carries approve"),
        (Classification.GENERAL, 2, None, "already classified general, route 2"),
        (Classification.MAJOR, 9, None, "route must be one of"),
    ],
)
def test_a_reclassify_command_is_a_request_or_a_decision(
    classification: Classification | None, route: int | None, approve: bool | None, why: str
) -> None:
    case = classified()
    with pytest.raises(InvalidCommand, match=why):
        case.reclassify(FIRST_RESPONDER, classification, route, "理由", approve, MONDAY, CONTEXT)
    assert case.reclassification_requested is None
