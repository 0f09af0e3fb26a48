"""POST /v1/cases/{id}/reveal: an auditor sees one case's payer identifiers, on the record.

个人信息保护法: identifiers are masked for the auditor (``api.masking``); when one case needs them,
the auditor states why, the reveal is recorded as an event (who, when, why — it is in the case's
history for everyone to see) and only then is the unmasked payer returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import msgspec
from litestar import Response, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody

from api.access import actor_of, allow, roles_note
from api.cases.preconditions import IdempotencyKey, IfMatch
from api.cases.recording import ETAG_HEADER, ActorRequest, execute, write_headers
from api.cases.views import shows_payer, view_of
from api.dependencies import opened
from api.problems import ApiProblem, problem_responses
from ledger import commands as c
from ledger.projections.views import PayerView
from ledger.repository import REGISTERED
from ledger.service import LedgerService
from ledger.store.port import RecordedEvent

REVEALED_TOPIC = "ledger.IdentifiersRevealed"


class _Revealer(msgspec.Struct):
    staff_id: str


class _Reveal(msgspec.Struct):
    actor: _Revealer


_REVEAL = msgspec.json.Decoder(_Reveal)


def revealed_by(records: Sequence[RecordedEvent], staff_id: str) -> bool:
    """Whether ``staff_id`` has revealed this case's identifiers (recorded, with a reason)."""
    return any(
        r.topic == REVEALED_TOPIC and _REVEAL.decode(r.state).actor.staff_id == staff_id
        for r in records
    )


async def require_reveal(request: ActorRequest, events: Sequence[RecordedEvent]) -> None:
    """Let a case's events leave as stored (in an evidence bundle) only to staff who see its
    payer unmasked anyway, or who revealed its identifiers themselves, on the record (403)."""
    actor = actor_of(request)
    if events[0].topic != REGISTERED:  # another stream of the log (an account, an export)
        raise ApiProblem(404, "CASE_NOT_FOUND", f"no case {events[0].case_id}")
    service = opened(request.app.state).service
    view = view_of(list(events), service.clock(), service.context)
    if shows_payer(view, actor, service.context) or revealed_by(events, actor.staff_id):
        return
    raise ApiProblem(
        403,
        "REVEAL_REQUIRED",
        "an evidence bundle holds the payer's identifiers unmasked (the event hashes cover "
        f"them): record why you need them first with POST /v1/cases/{view.case_id}/reveal",
    )


class Revealed(msgspec.Struct, frozen=True, kw_only=True):
    case_id: UUID
    version: int  # the case version the reveal event created
    position: int  # the reveal event's position in the log
    payer: PayerView
    revealed_by: str
    reason: str
    recorded_at: datetime


def reveal_handler(spec: c.CommandSpec) -> HTTPRouteHandler:
    """POST /v1/cases/{id}/reveal: the reveal command, answered with the unmasked payer."""

    @post(
        f"/{{case_id:uuid}}/{spec.name}",
        status_code=200,
        guards=[allow(spec.roles)],
        summary=spec.summary,
        description="Records an IdentifiersRevealed event with the reason, then returns the "
        "unmasked payer. Needs `If-Match`. " + roles_note(spec.roles),
        operation_id=f"case_{spec.operation}",
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
        actor, result, view = await execute(
            request, service, case_id, data, if_match, idempotency_key
        )
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

    return reveal
