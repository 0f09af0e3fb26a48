"""Builders for domain tests: actors of the default 潜江市 units and cases at known steps."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from ledger.domain.actor import Actor
from ledger.domain.codes import (
    Category,
    Channel,
    Classification,
    DecisionOutcome,
    Department,
    PayerKind,
    Role,
    Satisfaction,
)
from ledger.domain.context import SHANGHAI, Context
from ledger.domain.dispute import Dispute
from ledger.domain.guards import checked_payer
from ledger.domain.identifiers import make_citizen_id, make_credit_code

CONTEXT = Context()
NOTICE = "潜税社费催〔2025〕12号"  # a demand notice's document number (文书号)
# A Monday in an ordinary working week (2025-03-10), 09:30 in 潜江.
MONDAY = datetime(2025, 3, 10, 9, 30, tzinfo=SHANGHAI)

FIRST_RESPONDER = Actor(
    staff_id="T1001",
    name="王丽",
    unit="tax.hall",
    department=Department.TAX,
    roles=(Role.INTAKE, Role.HANDLER),
)
COLLEAGUE = Actor(
    staff_id="T1002",
    name="李娜",
    unit="tax.hall",
    department=Department.TAX,
    roles=(Role.INTAKE, Role.HANDLER),
)
HRSS_HANDLER = Actor(
    staff_id="H3001",
    name="张伟",
    unit="hrss.social_insurance",
    department=Department.HRSS,
    roles=(Role.HANDLER,),
)
MEDICAL_HANDLER = Actor(
    staff_id="M2001",
    name="刘洋",
    unit="medical.agency",
    department=Department.MEDICAL,
    roles=(Role.HANDLER,),
)
OFFICE = Actor(
    staff_id="T0001",
    name="周建国",
    unit="tax.sif",
    department=Department.TAX,
    roles=(Role.OFFICE, Role.HANDLER),
)
ENFORCEMENT = Actor(
    staff_id="T4001",
    name="孙磊",
    unit="tax.legal",
    department=Department.TAX,
    roles=(Role.ENFORCEMENT,),
)
HRSS_ENFORCER = Actor(
    staff_id="H9001",
    name="赵刚",
    unit="hrss.social_insurance",
    department=Department.HRSS,
    roles=(Role.ENFORCEMENT,),
)
CENTRE_HANDLER = Actor(
    staff_id="G1001",
    name="何志明",
    unit="gov.centre.guanghua",
    department=Department.GOV,
    roles=(Role.HANDLER,),
    jurisdiction="qj.guanghua",
)


def person() -> object:
    return checked_payer(
        PayerKind.PERSON, "陈静", make_citizen_id(birth=date(1985, 6, 1)), "13872001234"
    )


def employer() -> object:
    return checked_payer(
        PayerKind.EMPLOYER,
        "潜江市兴达建筑工程有限公司",
        make_credit_code(org="MA4900001"),
        "0728-6201234",
    )


def registered(
    now: datetime = MONDAY,
    *,
    jurisdiction: str = "qj.yuanlin",
    received_at: datetime | None = None,  # default: 20 minutes before ``now``
    summary: str = "职工反映单位欠缴社会保险费",
) -> Dispute:
    return Dispute.register(
        case_id=uuid4(),
        actor=FIRST_RESPONDER,
        channel=Channel.SERVICE_WINDOW,
        received_at=now - timedelta(minutes=20) if received_at is None else received_at,
        payer=employer(),  # type: ignore[arg-type]
        jurisdiction=jurisdiction,
        category=Category.EMPLOYEE_EMPLOYER,
        summary=summary,
        preliminary_opinion="建议核实欠费后依法处理",
        now=now,
        context=CONTEXT,
    )


def classified(
    classification: Classification = Classification.GENERAL, route: int = 2, now: datetime = MONDAY
) -> Dispute:
    case = registered(now)
    case.classify(FIRST_RESPONDER, classification, route, "按职责分类", now, CONTEXT)
    return case


def held_by_hrss(now: datetime = MONDAY) -> Dispute:
    case = classified(now=now)
    case.transfer(FIRST_RESPONDER, "hrss.social_insurance", None, "属人社职责", now, CONTEXT)
    case.accept(HRSS_HANDLER, "签收", now + timedelta(hours=2), CONTEXT)
    return case


def decided(
    now: datetime = MONDAY, outcome: DecisionOutcome = DecisionOutcome.UPHELD, route: int = 2
) -> Dispute:
    case = classified(route=route, now=now)
    case.decide(FIRST_RESPONDER, outcome, "欠费事实清楚", None, now + timedelta(hours=1), CONTEXT)
    return case


def fed_back(now: datetime = MONDAY) -> Dispute:
    case = decided(now)
    case.give_feedback(
        FIRST_RESPONDER,
        Channel.SERVICE_WINDOW,
        "告知处理结果",
        Satisfaction.SATISFIED,
        now + timedelta(hours=2),
        CONTEXT,
    )
    return case


def closed(now: datetime = MONDAY) -> Dispute:
    case = fed_back(now)
    case.close(FIRST_RESPONDER, "办结", now + timedelta(hours=3), CONTEXT)
    return case


def ready_for_court(served_at: datetime) -> Dispute:
    """Routed to 三(三)5, facts established by a decision, demand notice served at ``served_at``,
    arrears confirmed."""
    case = decided(served_at - timedelta(days=1), route=5)
    case.serve_demand_notice(
        ENFORCEMENT, served_at, Decimal("52000.00"), NOTICE, served_at, CONTEXT
    )
    case.confirm_arrears(
        ENFORCEMENT, Decimal("52000.00"), date(2024, 1, 1), date(2024, 12, 31), served_at, CONTEXT
    )
    return case
