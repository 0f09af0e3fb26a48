"""Custody, and whom each finding is charged to (DOMAIN.md, custody), and FR4 from registration
(item 8): cases driven through LedgerService on an in-memory log, findings as the findings
projection stores them (``tables.finding_rows``)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ledger import commands as c
from ledger.domain.actor import Actor
from ledger.domain.codes import Classification, Department, Role
from ledger.domain.context import SHANGHAI, Context
from ledger.projections.custody import holdings
from ledger.projections.tables import custody_rows, finding_rows
from ledger.projections.views import Check
from tests.domain.cases import CENTRE_HANDLER, FIRST_RESPONDER, HRSS_HANDLER
from tests.projections.support import Desk, fold, found

WINDOW_HANDLER = Actor(
    staff_id="H3002",
    name="吴敏",
    unit="hrss.window",
    department=Department.HRSS,
    roles=(Role.HANDLER,),
)
CENTRE_INTAKE = Actor(
    staff_id="G1002",
    name="钱芳",
    unit="gov.centre.guanghua",
    department=Department.GOV,
    roles=(Role.INTAKE, Role.HANDLER),
    jurisdiction="qj.guanghua",
)
GENERAL = c.Classify(classification=Classification.GENERAL, route=2, reason="按职责分类")


def day(d: int, hour: int = 10) -> datetime:
    return datetime(2025, 3, d, hour, 0, tzinfo=SHANGHAI)


async def charges(desk: Desk, case: UUID) -> dict[str, set[tuple[str, str]]]:
    """Each check found on the case, with the (unit, staff id) it is charged to."""
    state = fold(await desk.records()).states[case]
    result: dict[str, set[tuple[str, str]]] = {}
    for row in finding_rows(state, Context()):
        result.setdefault(row.check_id, set()).add((row.charged_unit, row.charged_staff))
    return result


async def test_fr9_goes_to_the_unit_and_handler_holding_the_case_when_its_deadline_passed() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, GENERAL)
    await desk.do(case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.window", reason="人社事项"))
    await desk.later(hours=1).do(case, WINDOW_HANDLER, c.Accept())
    found = await charges(desk, case)
    assert found["FR9"] == {("hrss.window", "H3002")}
    assert ("tax.hall", "T1001") not in found["FR9"]
    state = fold(await desk.records()).states[case]
    assert [(h.unit, h.staff_id, h.name, h.to_position) for h in holdings(state)] == [
        ("tax.hall", "T1001", "王丽", 4),
        ("hrss.window", "H3002", "吴敏", None),
    ]
    assert [(r.seq, r.unit) for r in custody_rows(state)] == [(0, "tax.hall"), (1, "hrss.window")]


async def test_fr9_stays_with_the_holder_at_the_deadline_when_the_case_moves_on_later() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, GENERAL)  # due 2025-03-24
    await desk.at(day(26)).do(
        case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.window", reason="人社事项")
    )
    await desk.later(hours=1).do(case, WINDOW_HANDLER, c.Accept())
    assert (await charges(desk, case))["FR9"] == {("tax.hall", "T1001")}


async def test_fr5_goes_to_the_unit_sent_to_and_fr6_to_the_unit_that_sent_it_on() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, GENERAL)
    await desk.do(case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.social_insurance", reason="转"))
    await desk.at(day(12)).do(case, HRSS_HANDLER, c.Accept())  # two working days late: FR5
    await desk.later(hours=1).do(
        case, HRSS_HANDLER, c.Transfer(to_unit="tax.hall", reason="非本单位职责")
    )  # back to where it came from: FR6
    found = await charges(desk, case)
    # the late acceptance; and the transfer back, not yet accepted, once it is overdue
    assert found["FR5"] == {("hrss.social_insurance", ""), ("tax.hall", "")}
    assert found["FR6"] == {("hrss.social_insurance", "H3001")}
    assert found["FR2"] == {("tax.hall", "T1001")}  # FR1–FR4: the first responder's


async def test_a_returned_transfer_counts_against_the_sender_that_misrouted_it() -> None:
    desk = Desk()
    case = await desk.register(FIRST_RESPONDER)
    await desk.do(case, FIRST_RESPONDER, GENERAL)
    await desk.do(case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.social_insurance", reason="转"))
    await desk.do(case, HRSS_HANDLER, c.Accept())
    await desk.do(case, HRSS_HANDLER, c.Transfer(to_unit="hrss.window", reason="转"))
    await desk.do(case, WINDOW_HANDLER, c.Accept())
    # Three transfers so far; the window sends it on, and the unit it was sent to returns it.
    await desk.do(case, WINDOW_HANDLER, c.Transfer(to_unit="medical.agency", reason="转"))
    returner = Actor(
        staff_id="M2001",
        name="刘洋",
        unit="medical.agency",
        department=Department.MEDICAL,
        roles=(Role.HANDLER,),
    )
    await desk.do(case, returner, c.ReturnTransfer(reason="非本单位事项"))
    found = await charges(desk, case)
    # the fourth move (the return) takes the count past three: the window's misrouting
    assert ("hrss.window", "H3002") in found["FR6"]
    assert all(unit != "medical.agency" for unit, _ in found["FR6"])


async def test_fr4_runs_from_registration_when_registered_outside_the_units_jurisdiction() -> None:
    desk = Desk()
    case = await desk.register(CENTRE_INTAKE, jurisdiction="qj.yuanlin")
    await desk.do(case, CENTRE_INTAKE, GENERAL)
    records = await desk.records()
    assert found(fold(records), case, on=day(11).date()).get("FR4") is None  # due the next day
    overdue = found(fold(records), case, on=day(12).date())
    assert overdue[Check.FR4] == {1}
    assert (await charges(desk, case))["FR4"] == {("gov.centre.guanghua", "G1002")}


async def test_fr4_a_registration_in_the_units_own_jurisdiction_owes_nothing() -> None:
    desk = Desk()
    own = await desk.register(CENTRE_INTAKE, jurisdiction="qj.guanghua")
    city_wide = await desk.register(FIRST_RESPONDER, jurisdiction="qj.guanghua")
    for case in (own, city_wide):
        assert "FR4" not in await charges(desk, case)
    assert CENTRE_HANDLER.unit == CENTRE_INTAKE.unit
