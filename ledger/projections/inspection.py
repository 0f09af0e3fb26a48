"""Assembling an inspection report from the rows the database returns (pure, no I/O).

A report over a busy unit's year holds tens of thousands of findings, so this is written for
speed: one pass over the rows, no per-row objects beyond the findings and cases themselves (which
the cyclic garbage collector does not track, see ``views.Finding``).

Each finding is listed under whom it is charged to (``ledger.projections.custody``): a staff
member of a unit, or the unit alone when nobody there had taken the case (FR5). A joint
consultation (会商) is counted for the staff member who recorded it, and for each unit that took
part: the recorder's, and every unit consulted.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from ledger.projections.views import (
    CaseProof,
    Check,
    Finding,
    StaffInspection,
    UnitInspection,
)

_CHECKS = {check.value: check for check in Check}

# (unit, staff id, staff name, case, registered position): a case received as first responder
Received = tuple[str, str, str, UUID, int]
# (unit, staff id, staff name, case, from position, to position): a custody period
Held = tuple[str, str, str, UUID, int, int | None]
# (case, check, charged staff id, charged unit, staff name, proof positions, provisional): one
# holding finding interval
FindingFact = tuple[UUID, str, str, str, str, list[int], bool]
# (recorder's unit, staff id, staff name, case, position, units consulted): a joint consultation
Consulted = tuple[str, str, str, UUID, int, list[str]]

Key = tuple[str, str]  # (unit, staff id)


class _Person:
    __slots__ = ("consulted", "findings", "held", "name", "received")

    def __init__(self, name: str) -> None:
        self.name = name
        self.received: list[CaseProof] = []
        self.held: dict[UUID, list[int]] = {}
        self.findings: list[Finding] = []
        self.consulted: list[CaseProof] = []


def assemble(
    received: Iterable[Received],
    facts: Iterable[FindingFact],
    held: Iterable[Held] = (),
    position: int | None = None,
    consulted: Iterable[Consulted] = (),
    report_unit: str | None = None,
) -> tuple[list[StaffInspection], list[UnitInspection]]:
    """Per staff member (by unit, then staff id) and per unit: cases received, cases held,
    findings, one finding per case and check (FR5 per transfer, FR9 per stretch of the log, …
    merge), and joint consultations. ``position`` is the report's: a custody period ended after
    it is still open. ``report_unit``: the report's unit, the only one a consultation is
    counted for (it names others, and their staff).

    ``facts`` come ordered by check, case and whom they are charged to (the database sorts
    faster than Python), so the intervals of one finding are adjacent.
    """
    people: dict[Key, _Person] = {}

    def person(key: Key, name: str) -> _Person:
        found = people.get(key)
        if found is None:
            found = people[key] = _Person(name)
        elif not found.name:
            found.name = name
        return found

    for unit, staff_id, name, case_id, registered in received:
        person((unit, staff_id), name).received.append(
            CaseProof(case_id=case_id, positions=[registered])
        )
    for unit, staff_id, name, case_id, start, end in held:
        proof = person((unit, staff_id), name).held.setdefault(case_id, [])
        proof.append(start)
        if end is not None and (position is None or end <= position):
            proof.append(end)
    unit_consulted: dict[str, list[CaseProof]] = {}
    for recorder_unit, staff_id, name, case_id, event, units in sorted(
        consulted, key=lambda k: k[4]
    ):
        consultation = CaseProof(case_id=case_id, positions=[event])
        if report_unit is None or recorder_unit == report_unit:
            person((recorder_unit, staff_id), name).consulted.append(consultation)
        for present in dict.fromkeys((recorder_unit, *units)):
            if report_unit is None or present == report_unit:
                unit_consulted.setdefault(present, []).append(consultation)
    last: tuple[str, UUID, str, str] | None = None
    findings: list[Finding] = []
    for case_id, check, staff_id, unit, name, proof, provisional in facts:
        if last == (check, case_id, unit, staff_id):  # one more interval of that finding
            previous = findings[-1]
            findings[-1] = Finding(
                check=previous.check,
                case_id=case_id,
                positions=sorted({*previous.positions, *proof}),
                provisional=previous.provisional or provisional,
            )
            continue
        findings = person((unit, staff_id), name).findings
        # The proof list is taken over as it is: one interval's proof is in position order.
        findings.append(
            Finding(check=_CHECKS[check], case_id=case_id, positions=proof, provisional=provisional)
        )
        last = (check, case_id, unit, staff_id)
    staff = []
    unit_only: dict[str, list[Finding]] = {}
    for (unit, staff_id), p in sorted(people.items()):
        if not staff_id:
            unit_only[unit] = p.findings
            continue
        staff.append(
            StaffInspection(
                staff_id=staff_id,
                name=p.name,
                unit=unit,
                cases_received=len(p.received),
                cases_held=len(p.held),
                counts=_counts(p.findings),
                findings=p.findings,
                received=sorted(p.received, key=lambda c: c.positions),
                held=[
                    CaseProof(case_id=case_id, positions=sorted(positions))
                    for case_id, positions in sorted(p.held.items(), key=lambda h: min(h[1]))
                ],
                consultations=len(p.consulted),
                consulted=p.consulted,
            )
        )
    return staff, _units(staff, unit_only, unit_consulted)


def _counts(findings: list[Finding]) -> dict[Check, int]:
    counts = dict.fromkeys(Check, 0)
    for finding in findings:
        counts[finding.check] += 1
    return counts


def _units(
    staff: list[StaffInspection],
    unit_only: dict[str, list[Finding]],
    consulted: dict[str, list[CaseProof]],
) -> list[UnitInspection]:
    totals: dict[str, tuple[int, set[UUID], dict[Check, int]]] = {}
    for unit, findings in unit_only.items():
        totals[unit] = (0, set(), _counts(findings))
    for unit in consulted:
        totals.setdefault(unit, (0, set(), dict.fromkeys(Check, 0)))
    for s in staff:
        cases, held, counts = totals.get(s.unit, (0, set(), dict.fromkeys(Check, 0)))
        for check, n in s.counts.items():
            counts[check] += n
        held.update(h.case_id for h in s.held)
        totals[s.unit] = (cases + s.cases_received, held, counts)
    return [
        UnitInspection(
            unit=unit,
            cases_received=cases,
            cases_held=len(held),
            counts=counts,
            findings=unit_only.get(unit, []),
            consultations=len(consulted.get(unit, ())),
            consulted=consulted.get(unit, []),
        )
        for unit, (cases, held, counts) in sorted(totals.items())
    ]
