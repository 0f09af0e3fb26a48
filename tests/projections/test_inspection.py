"""Assembling an inspection report from database rows (pure)."""

from __future__ import annotations

from uuid import UUID

from ledger.projections.inspection import assemble
from ledger.projections.views import Check

A, B, C = UUID(int=1), UUID(int=2), UUID(int=3)


def test_intervals_of_one_finding_merge_and_each_staff_member_gets_their_own() -> None:
    received = [
        ("tax.hall", "T1", "王丽", A, 1),
        ("tax.hall", "T1", "王丽", C, 2),
        ("tax.branch1", "T2", "李强", B, 6),
    ]
    facts = [  # ordered by check, case and charge, as the database returns them
        (A, "FR6", "T1", "tax.hall", "王丽", [3, 4], False),
        (A, "FR6", "T1", "tax.hall", "王丽", [5, 9], True),  # a second move of the same case
        (B, "FR6", "T2", "tax.branch1", "李强", [7], False),
        (A, "FR9", "T1", "tax.hall", "王丽", [1, 2], False),
    ]
    staff, units = assemble(received, facts)
    branch, hall = staff  # by unit, then staff id
    assert [(f.check, f.case_id, f.positions, f.provisional) for f in hall.findings] == [
        (Check.FR6, A, [3, 4, 5, 9], True),
        (Check.FR9, A, [1, 2], False),
    ]
    assert (hall.cases_received, hall.counts[Check.FR6], hall.counts[Check.FR1]) == (2, 1, 0)
    assert [(c.case_id, c.positions) for c in hall.received] == [(A, [1]), (C, [2])]
    assert [f.case_id for f in branch.findings] == [B]
    assert [(u.unit, u.cases_received, u.counts[Check.FR6]) for u in units] == [
        ("tax.branch1", 1, 1),
        ("tax.hall", 2, 1),
    ]


def test_findings_go_to_whom_they_are_charged_and_unit_only_ones_to_the_unit() -> None:
    received = [("tax.hall", "T1", "王丽", A, 1)]
    held = [
        ("tax.hall", "T1", "王丽", A, 1, 4),
        ("hrss.window", "H1", "赵敏", A, 4, None),
        ("hrss.window", "H1", "赵敏", B, 8, 12),  # ended after the report's position: open
    ]
    facts = [
        (A, "FR5", "", "hrss.window", "", [3], False),
        (A, "FR9", "H1", "hrss.window", "赵敏", [1, 2], False),
    ]
    staff, units = assemble(received, facts, held, position=10)
    handler, clerk = staff
    assert (handler.unit, handler.staff_id, handler.name) == ("hrss.window", "H1", "赵敏")
    assert (handler.cases_received, handler.cases_held) == (0, 2)
    assert [(c.case_id, c.positions) for c in handler.held] == [(A, [4]), (B, [8])]
    assert [(f.check, f.case_id) for f in handler.findings] == [(Check.FR9, A)]
    assert (clerk.cases_received, clerk.cases_held, clerk.findings) == (1, 1, [])
    assert [(c.case_id, c.positions) for c in clerk.held] == [(A, [1, 4])]
    hrss, hall = units
    assert (hrss.unit, hrss.cases_received, hrss.cases_held) == ("hrss.window", 0, 2)
    assert (hrss.counts[Check.FR5], hrss.counts[Check.FR9]) == (1, 1)
    assert [(f.check, f.case_id) for f in hrss.findings] == [(Check.FR5, A)]
    assert (hall.cases_held, sum(hall.counts.values())) == (1, 0)


def test_staff_without_findings_are_reported_with_zero_counts() -> None:
    staff, units = assemble(
        [("tax.hall", "T1", "王丽", A, 1), ("tax.hall", "T1", "王丽", B, 2)], []
    )
    assert staff[0].findings == []
    assert set(staff[0].counts.values()) == {0}
    assert units[0].cases_received == 2


def test_a_consultation_counts_for_its_recorder_and_every_unit_present_once() -> None:
    consulted = [  # as the database returns them: in no particular order
        ("hrss.window", "H1", "赵敏", B, 9, ["tax.hall", "hrss.window"]),
        ("hrss.window", "H1", "赵敏", A, 5, ["tax.hall", "medical.agency"]),
    ]
    staff, units = assemble([("tax.hall", "T1", "王丽", A, 1)], [], consulted=consulted)
    handler, clerk = staff
    assert (handler.staff_id, handler.consultations) == ("H1", 2)
    assert [(c.case_id, c.positions) for c in handler.consulted] == [(A, [5]), (B, [9])]
    assert (clerk.consultations, clerk.consulted) == (0, [])  # consulted as a unit, not in person
    by_unit = {u.unit: u for u in units}
    assert {u: (by_unit[u].consultations, by_unit[u].cases_received) for u in by_unit} == {
        "hrss.window": (2, 0),  # recorded both; listed among the units present once, counted once
        "medical.agency": (1, 0),
        "tax.hall": (2, 1),
    }
    assert [(c.case_id, c.positions) for c in by_unit["medical.agency"].consulted] == [(A, [5])]

    # A report of one unit counts the consultations it took part in for it alone.
    staff, units = assemble([], [], consulted=consulted, report_unit="medical.agency")
    assert staff == []
    assert [(u.unit, u.consultations) for u in units] == [("medical.agency", 1)]
