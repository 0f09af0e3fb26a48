"""An assignment (交办/转办) recorded on a case after its registration: the rules of
``guards.later_assignment`` (no I/O)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.domain.codes import AssigningBody, Channel
from ledger.domain.context import local_date
from ledger.domain.dispute import Dispute
from ledger.domain.errors import InvalidCommand, InvalidTransition, RuleViolation
from ledger.domain.payer import Assignment
from tests.domain.cases import (
    CONTEXT,
    FIRST_RESPONDER,
    HRSS_HANDLER,
    MEDICAL_HANDLER,
    MONDAY,
    OFFICE,
    closed,
    held_by_hrss,
    registered,
)

LATER = MONDAY + timedelta(days=2)


def handed_down(reply_due: date, **changes: str) -> Assignment:
    return Assignment(
        body=AssigningBody.PETITION_OFFICE,
        reply_due=reply_due,
        body_name=changes.get("body_name", "潜江市信访局"),
        reference=changes.get("reference", "潜信交〔2025〕3号"),
    )


def refused(rule: str) -> pytest.RaisesExc[RuleViolation]:
    return pytest.raises(RuleViolation, match=f"^{rule}:")


def test_an_assignment_handed_down_after_registration_is_recorded_and_owed_a_reply() -> None:
    case = registered()
    assert case.assignment is None
    due = local_date(MONDAY) + timedelta(days=10)
    case.record_assignment(OFFICE, handed_down(due, body_name=" 潜江市信访局 "), LATER, CONTEXT)
    [event] = case.collect_events()[1:]
    assert isinstance(event, Dispute.AssignmentRecorded)
    assert event.TOPIC == "ledger.AssignmentRecorded"
    assert event.assignment == handed_down(due)  # trimmed, as at registration
    assert (event.actor, event.occurred_at) == (OFFICE, LATER)
    assert case.assignment == handed_down(due)
    assert case.assignment_replied is False
    # The reply it is owed may now be sent, and the case still has one assignment only.
    case.reply_to_assignment(FIRST_RESPONDER, "已办理，特此回复", LATER, CONTEXT)
    assert case.assignment_replied is True


def test_the_holding_unit_records_it_and_nobody_else_but_the_office() -> None:
    case = held_by_hrss()
    due = local_date(MONDAY) + timedelta(days=10)
    with refused("R4"):
        case.record_assignment(FIRST_RESPONDER, handed_down(due), LATER, CONTEXT)
    with refused("R4"):
        case.record_assignment(MEDICAL_HANDLER, handed_down(due), LATER, CONTEXT)
    case.record_assignment(HRSS_HANDLER, handed_down(due), LATER, CONTEXT)
    assert case.assignment == handed_down(due)


def test_a_closed_case_takes_no_assignment() -> None:
    case = closed()
    before = case.version
    with refused("R3"):
        case.record_assignment(
            OFFICE, handed_down(local_date(MONDAY) + timedelta(days=5)), LATER, CONTEXT
        )
    assert case.version == before
    assert case.assignment is None


def test_a_case_has_one_assignment_from_its_registration_or_an_earlier_record() -> None:
    due = local_date(MONDAY) + timedelta(days=10)
    case = registered()
    case.record_assignment(OFFICE, handed_down(due), LATER, CONTEXT)
    with pytest.raises(InvalidTransition, match="already has its assignment"):
        case.record_assignment(OFFICE, handed_down(due + timedelta(days=3)), LATER, CONTEXT)
    assert case.assignment == handed_down(due)

    at_registration = Dispute.register(
        case_id=case.id,
        actor=FIRST_RESPONDER,
        channel=Channel.ASSIGNED,
        received_at=MONDAY - timedelta(minutes=20),
        payer=case.payer,
        jurisdiction="qj.yuanlin",
        category=case.category,
        summary="市政府交办：职工反映单位欠缴社会保险费",
        preliminary_opinion="核实后按职责办理并回复交办机关",
        now=MONDAY,
        context=CONTEXT,
        assignment=handed_down(due),
    )
    with pytest.raises(InvalidTransition, match="already has its assignment"):
        at_registration.record_assignment(OFFICE, handed_down(due), LATER, CONTEXT)


def test_the_reply_date_is_checked_as_at_registration() -> None:
    case = registered()
    received = local_date(case.received_at)
    # Before the matter was received: a malformed value (not R1, no registration is refused).
    with pytest.raises(InvalidCommand, match="before the matter was received"):
        case.record_assignment(OFFICE, handed_down(received - timedelta(days=1)), LATER, CONTEXT)
    # More than a year after it was assigned: a keying error.
    with pytest.raises(InvalidCommand, match="more than a year"):
        case.record_assignment(
            OFFICE, handed_down(local_date(LATER) + timedelta(days=367)), LATER, CONTEXT
        )
    # Text as anywhere: no control characters.
    with pytest.raises(InvalidCommand, match="control character"):
        case.record_assignment(
            OFFICE,
            handed_down(received + timedelta(days=5), reference="潜信\x00交"),
            LATER,
            CONTEXT,
        )
    assert case.assignment is None
    assert len(case.collect_events()) == 1  # the registration only
    # A date already passed when it is recorded is the body's, and is kept: the reply is late.
    case.record_assignment(OFFICE, handed_down(received), LATER, CONTEXT)
    assert case.assignment is not None
    assert case.assignment.reply_due == received


def test_a_year_is_counted_from_the_day_it_was_assigned_not_received() -> None:
    case = registered()
    later = MONDAY + timedelta(days=200)
    due = local_date(later) + timedelta(days=300)  # more than a year after receipt
    case.record_assignment(OFFICE, handed_down(due), later, CONTEXT)
    assert case.assignment is not None
    assert case.assignment.reply_due == due
