"""Assembling an inspection report from the rows the database returns (pure, no I/O).

A report over a busy unit's year holds tens of thousands of findings, so this is written for
speed: one pass over the rows, no per-row objects beyond the findings themselves (which the
cyclic garbage collector does not track, see ``views.Finding``).
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from ledger.projections.views import Check, Finding, StaffInspection, UnitInspection

_CHECKS = {check.value: check for check in Check}

# (unit, staff id, staff name, cases received)
Received = tuple[str, str, str, int]
# (case, check, staff id, unit, proof positions, provisional): one holding finding interval
FindingFact = tuple[UUID, str, str, str, list[int], bool]


def assemble(
    received: Iterable[Received], facts: Iterable[FindingFact]
) -> tuple[list[StaffInspection], list[UnitInspection]]:
    """Per staff member (by unit, then staff id) and per unit: cases received and findings,
    one finding per case and check (FR5 per transfer, FR9 per stretch of the log, … merge).

    ``facts`` come ordered by check and case (the database sorts faster than Python), so the
    intervals of one finding are adjacent, and a staff member's findings come in report order.
    """
    found: dict[tuple[str, str], list[Finding]] = {}
    findings: list[Finding] = []
    last_unit = last_staff = last_check = None
    last_case: UUID | None = None
    for case_id, check, staff_id, unit, proof, provisional in facts:
        if check == last_check and case_id == last_case:  # one more interval of that finding
            previous = findings[-1]
            findings[-1] = Finding(
                check=previous.check,
                case_id=case_id,
                positions=sorted({*previous.positions, *proof}),
                provisional=previous.provisional or provisional,
            )
            continue
        if staff_id != last_staff or unit != last_unit:
            findings = found.setdefault((unit, staff_id), [])
            last_unit, last_staff = unit, staff_id
        # The proof list is taken over as it is: one interval's proof is in position order.
        findings.append(
            Finding(check=_CHECKS[check], case_id=case_id, positions=proof, provisional=provisional)
        )
        last_check, last_case = check, case_id
    staff = []
    for unit, staff_id, name, count in sorted(received):
        mine = found.get((unit, staff_id), [])
        counts = dict.fromkeys(Check, 0)
        for finding in mine:
            counts[finding.check] += 1
        staff.append(
            StaffInspection(
                staff_id=staff_id,
                name=name,
                unit=unit,
                cases_received=count,
                counts=counts,
                findings=mine,
            )
        )
    return staff, _units(staff)


def _units(staff: list[StaffInspection]) -> list[UnitInspection]:
    totals: dict[str, tuple[int, dict[Check, int]]] = {}
    for s in staff:
        cases, counts = totals.get(s.unit, (0, dict.fromkeys(Check, 0)))
        for check, n in s.counts.items():
            counts[check] += n
        totals[s.unit] = (cases + s.cases_received, counts)
    return [
        UnitInspection(unit=unit, cases_received=cases, counts=counts)
        for unit, (cases, counts) in sorted(totals.items())
    ]
