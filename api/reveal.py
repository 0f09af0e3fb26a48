"""POST /v1/cases/{id}/reveal: an auditor sees one case's payer identifiers, on the record.

个人信息保护法: identifiers are masked for the auditor (``api.masking``); when one case needs them,
the auditor states why, the reveal is recorded as an event (who, when, why — it is in the case's
history for everyone to see) and only then is the unmasked payer returned.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from litestar import Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.preconditions import IdempotencyKey, IfMatch
from api.problems import problem_responses
from api.recording import ETAG_HEADER, ActorRequest, execute, write_headers
from api.roles import WRITE_ROLES, allow, roles_note
from ledger import commands as c
from ledger.projections.views import PayerView
from ledger.service import LedgerService


class Revealed(msgspec.Struct, frozen=True, kw_only=True):
    case_id: UUID
    version: int  # the case version the reveal event created
    position: int  # the reveal event's position in the log
    payer: PayerView
    revealed_by: str
    reason: str
    recorded_at: datetime


@post(
    "/{case_id:uuid}/reveal",
    status_code=200,
    guards=[allow(WRITE_ROLES["reveal"])],
    summary="Reveal a case's payer identifiers (recorded)",
    description="Records an IdentifiersRevealed event with the reason, then returns the unmasked "
    "payer. Needs `If-Match`. " + roles_note(WRITE_ROLES["reveal"]),
    operation_id="case_reveal",
    responses=problem_responses(400, 403, 404, 409, 412, 415, 422, 428),
    response_headers=[ETAG_HEADER],
    tags=["cases"],
)
async def reveal(
    request: ActorRequest,
    case_id: FromPath[UUID],
    data: JSONBody[c.RevealIdentifiers],
    service: NamedDependency[LedgerService],
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[Revealed]:
    actor, result, view = await execute(request, service, case_id, data, if_match, idempotency_key)
    body = Revealed(
        case_id=result.case_id,
        version=result.version,
        position=result.last_position,
        payer=view.payer,
        revealed_by=actor.staff_id,
        reason=data.reason,
        recorded_at=result.recorded_at,
    )
    return Response(body, status_code=200, headers=write_headers(result))
