"""Assembling an inspection report from database rows (pure)."""

from __future__ import annotations

from uuid import UUID

from ledger.projections.inspection import assemble
from ledger.projections.views import Check

A, B = UUID(int=1), UUID(int=2)


def test_intervals_of_one_finding_merge_and_each_staff_member_gets_their_own() -> None:
    received = [("tax.hall", "T1", "王丽", 3), ("tax.branch1", "T2", "李强", 1)]
    facts = [  # ordered by check, then case, as the database returns them
        (A, "FR5", "T1", "tax.hall", [3, 4], False),
        (A, "FR5", "T1", "tax.hall", [5, 9], True),  # a second transfer of the same case
        (B, "FR5", "T2", "tax.branch1", [7], False),
        (A, "FR9", "T1", "tax.hall", [1, 2], False),
    ]
    staff, units = assemble(received, facts)
    branch, hall = staff  # by unit, then staff id
    assert [(f.check, f.case_id, f.positions, f.provisional) for f in hall.findings] == [
        (Check.FR5, A, [3, 4, 5, 9], True),
        (Check.FR9, A, [1, 2], False),
    ]
    assert (hall.cases_received, hall.counts[Check.FR5], hall.counts[Check.FR1]) == (3, 1, 0)
    assert [f.case_id for f in branch.findings] == [B]
    assert [(u.unit, u.cases_received, u.counts[Check.FR5]) for u in units] == [
        ("tax.branch1", 1, 1),
        ("tax.hall", 3, 1),
    ]


def test_staff_without_findings_are_reported_with_zero_counts() -> None:
    staff, units = assemble([("tax.hall", "T1", "王丽", 2)], [])
    assert staff[0].findings == []
    assert set(staff[0].counts.values()) == {0}
    assert units[0].cases_received == 2
