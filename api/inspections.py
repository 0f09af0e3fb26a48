"""GET /v1/inspections/first-responders: per staff member and unit, cases received, cases held,
the findings FR1–FR9 charged to them and the joint consultations (会商) they took part in;
GET /v1/inspections/cases/{id}/events: the proving events, payer identifiers masked.

The leading group's 督导、检查、考核 (clause 四): for the cases received in a period, what each
unit and staff member did and failed to do, each finding charged to whoever owed the duty when
it fell due, with the event positions that prove it. ``as_of`` makes a report reproducible
later: it is computed from the events recorded up to then; an ``as_of`` still to come is a
forecast (预警): what will be overdue by then if nothing more is recorded.
"""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from api.access import allow, roles_note
from api.cases.event_records import EventOut, event_out
from api.cases.reads import CodeFilter, Moment
from api.params import PeriodFrom, PeriodTo, check_period
from api.problems import ApiProblem, problem_responses
from ledger.domain.codes import Role
from ledger.projections import ReadModels
from ledger.projections.views import InspectionReport
from ledger.service import LedgerService

# Inspection reports: inspectors, auditors and the leading group's office (四: 督导、检查、考核).
READ_INSPECTIONS = frozenset({Role.INSPECTOR, Role.AUDITOR, Role.OFFICE})


class InspectionController(Controller):
    path = "/v1/inspections"
    tags = ("inspections",)

    @get(
        "/first-responders",
        guards=[allow(READ_INSPECTIONS)],
        operation_id="first_responder_inspection",
        summary="Accountability report: cases received, cases held, findings (FR1–FR9), "
        "joint consultations",
        description="Per unit and staff member: the cases received (as first responder) from "
        "`from` to `to` (Asia/Shanghai dates, inclusive), the cases held (custody periods "
        "overlapping the period) and the findings of the cases received, each charged to "
        "whoever owed the duty when it fell due (FR1–FR4, FR7, FR8: the first responder; FR5: "
        "the unit the case was sent to; FR6: the unit that sent it on; FR9: the unit and staff "
        "member holding it when its deadline passed). Joint consultations (会商) held in the "
        "period: `consultations` and their proofs `consulted` (the case and the position of "
        "its Consulted event), for the staff member who recorded each and for every unit "
        "that took part (the recorder's and each consulted, once). `unit` keeps one unit: its "
        "cases received, held, findings charged and consultations. Evaluated as of `as_of` "
        "(default now); a later `as_of` is a forecast (`forecast: true`): what will hold by "
        "then if nothing more is recorded. " + roles_note(READ_INSPECTIONS),
        responses=problem_responses(400, 403),
    )
    async def first_responders(
        self,
        read_models: NamedDependency[ReadModels],
        period_from: PeriodFrom,
        period_to: PeriodTo,
        unit: CodeFilter = None,
        as_of: Moment = None,
    ) -> InspectionReport:
        check_period(period_from, period_to)
        return await read_models.inspection(period_from, period_to, unit, as_of)

    @get(
        "/cases/{case_id:uuid}/events",
        guards=[allow(READ_INSPECTIONS)],
        operation_id="inspection_case_events",
        summary="The events that prove a finding, identifiers masked",
        description="The case's complete, ordered history as `GET /v1/cases/{id}/events` "
        "gives it, with every payer identifier masked, for those who inspect: the positions a "
        "report cites are events here. " + roles_note(READ_INSPECTIONS),
        responses=problem_responses(403, 404),
    )
    async def case_events(
        self, case_id: FromPath[UUID], service: NamedDependency[LedgerService]
    ) -> list[EventOut]:
        events = await inspection_events(service, case_id)
        if not events:
            raise ApiProblem(404, "CASE_NOT_FOUND", f"case {case_id} does not exist")
        return events


async def inspection_events(service: LedgerService, case_id: UUID) -> list[EventOut]:
    """The case's history as inspectors read it: every payer identifier masked (empty: no such
    case). The console's inspection pages and printed case files read it here too."""
    return [event_out(record, masked=True) for record in await service.history(case_id)]
