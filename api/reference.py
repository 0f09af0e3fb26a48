"""GET /v1/reference: units, jurisdictions and the code lists of DOMAIN.md with Chinese labels.

Clients render labels from here instead of hard-coding them, so a deployment's own reference file
(LEDGER_REFERENCE_FILE) reaches every screen.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency

from api.access import ANY_ROLE, allow
from api.problems import problem_responses
from ledger.domain import codes
from ledger.domain.context import Context
from ledger.domain.reference import UnitKind


class CodeLabel(msgspec.Struct, frozen=True):
    code: str
    label: str


class RouteLabel(msgspec.Struct, frozen=True):
    code: int
    label: str


class UnitOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    department: codes.Department
    kind: UnitKind
    jurisdiction: str | None  # None: the unit serves the whole city
    acts_for_city_tax_bureau: bool  # R5: serves demand notices, refers cases to the court


class JurisdictionOut(msgspec.Struct, frozen=True):
    code: str
    name: str


class CodeLists(msgspec.Struct, frozen=True, kw_only=True):
    channel: list[CodeLabel]
    category: list[CodeLabel]
    classification: list[CodeLabel]
    route: list[RouteLabel]
    department: list[CodeLabel]
    payer_kind: list[CodeLabel]
    satisfaction: list[CodeLabel]
    decision_outcome: list[CodeLabel]
    link_relation: list[CodeLabel]
    role: list[CodeLabel]
    case_status: list[CodeLabel]
    assigning_body: list[CodeLabel] = msgspec.field(default_factory=list)  # 交办/转办


class ReferenceOut(msgspec.Struct, frozen=True, kw_only=True):
    units: list[UnitOut]
    jurisdictions: list[JurisdictionOut]
    leading_group_office: str
    mediation_venue: str | None
    codes: CodeLists


def _labels(enum: type[StrEnum]) -> list[CodeLabel]:
    return [CodeLabel(member.value, member.label) for member in enum]  # type: ignore[attr-defined]


def reference_out(context: Context) -> ReferenceOut:
    ref = context.reference
    return ReferenceOut(
        units=[
            UnitOut(
                code=u.code,
                name=u.name,
                department=u.department,
                kind=u.kind,
                jurisdiction=u.jurisdiction,
                acts_for_city_tax_bureau=u.acts_for_city_tax_bureau,
            )
            for u in ref.units
        ],
        jurisdictions=[JurisdictionOut(j.code, j.name) for j in ref.jurisdictions],
        leading_group_office=ref.leading_group_office,
        mediation_venue=ref.mediation_venue,
        codes=CodeLists(
            channel=_labels(codes.Channel),
            category=_labels(codes.Category),
            classification=_labels(codes.Classification),
            route=[RouteLabel(n, label) for n, label in sorted(codes.ROUTES.items())],
            department=_labels(codes.Department),
            payer_kind=_labels(codes.PayerKind),
            satisfaction=_labels(codes.Satisfaction),
            decision_outcome=_labels(codes.DecisionOutcome),
            link_relation=_labels(codes.LinkRelation),
            role=_labels(codes.Role),
            case_status=_labels(codes.CaseStatus),
            assigning_body=_labels(codes.AssigningBody),
        ),
    )


class ReferenceController(Controller):
    path = "/v1/reference"
    tags = ("reference",)

    @get(
        "/",
        guards=[allow(ANY_ROLE)],
        operation_id="reference",
        summary="Units, jurisdictions and code lists",
        description="Any authenticated member of staff.",
        responses=problem_responses(403),
    )
    async def reference(self, context: NamedDependency[Context]) -> ReferenceOut:
        return reference_out(context)
