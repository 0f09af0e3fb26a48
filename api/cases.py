"""The write routes: POST /v1/cases (registration) and one POST per command on a case.

Each route is the same three steps — check the headers, run the command through the service (the
only write path), answer with the case as its events now make it — so the routes are made from a
table instead of being written out eighteen times. The command Structs of ``ledger.commands`` are
the request bodies, unknown fields refused.

Successful writes answer with the case view computed from the case's events up to the version the
write produced, not from the read model: the client sees its own write at once, and an idempotent
retry gets the view exactly as the first response showed it.
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast
from uuid import UUID

from litestar import Response, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody

from api.case_views import CaseView
from api.preconditions import IdempotencyKey, IfMatch, request_meta
from api.problems import problem_responses
from api.recording import ETAG_HEADER, ActorRequest, execute, view_after, written
from api.reveal import reveal
from api.roles import WRITE_ROLES, actor_of, allow, roles_note
from ledger import commands as c
from ledger.service import LedgerService

_WRITE_ERRORS = problem_responses(400, 403, 404, 409, 412, 415, 422, 428)


class CommandRoute(NamedTuple):
    verb: str  # the path segment, also the key of WRITE_ROLES
    command: type[c.Command]
    summary: str


COMMAND_ROUTES = (
    CommandRoute("classify", c.Classify, "Classify (三(二)): simple/general/major, route 1–7"),
    CommandRoute("transfer", c.Transfer, "Transfer to a unit or another jurisdiction (流转)"),
    CommandRoute("accept", c.Accept, "Accept custody of a transferred case (签收)"),
    CommandRoute("decide", c.Decide, "Record a decision (处理意见)"),
    CommandRoute("consult", c.Consult, "Record a joint consultation (会商)"),
    CommandRoute("escalate", c.Escalate, "Escalate to the leading group"),
    CommandRoute("urge", c.Urge, "Record a supervision reminder (催办/督办)"),
    CommandRoute("extend", c.Extend, "Request a deadline extension, or decide one (office)"),
    CommandRoute("demand-notice", c.ServeDemandNotice, "Record a demand notice served (催告书)"),
    CommandRoute("confirm-arrears", c.ConfirmArrears, "Confirm the arrears amount"),
    CommandRoute("refer-to-court", c.ReferToCourt, "Refer to the People's Court (R5)"),
    CommandRoute("court-outcome", c.RecordCourtOutcome, "Record the court's outcome"),
    CommandRoute("feedback", c.GiveFeedback, "Record feedback to the payer (反馈/回访)"),
    CommandRoute("close", c.Close, "Close the case (办结, R6)"),
    CommandRoute("reopen", c.Reopen, "Reopen a closed case"),
    CommandRoute("link", c.Link, "Link to a related or duplicate case"),
    CommandRoute("correct", c.Correct, "Record a correction of an earlier event (R7)"),
)


@post(
    "/",
    status_code=201,
    guards=[allow(WRITE_ROLES["register"])],
    summary="Register a dispute (登记受理, 三(一))",
    description="The receiving unit and the first responder come from the token (R2). "
    + roles_note(WRITE_ROLES["register"]),
    operation_id="register_case",
    responses=problem_responses(400, 403, 409, 415, 422),
    response_headers=[
        ETAG_HEADER,
        ResponseHeader(name="Location", documentation_only=True, description="The new case."),
    ],
    tags=["cases"],
)
async def register(
    request: ActorRequest,
    data: JSONBody[c.Register],
    service: NamedDependency[LedgerService],
    idempotency_key: IdempotencyKey = None,
) -> Response[CaseView]:
    actor = actor_of(request)
    result = await service.register(actor, data, request_meta(idempotency_key))
    return written(result, await view_after(request, result), actor, service.context, 201)


def command_handler(route: CommandRoute) -> HTTPRouteHandler:
    """The POST route of one case command."""

    async def handler(
        request: ActorRequest,
        case_id: FromPath[UUID],
        data: JSONBody[Any],
        service: NamedDependency[LedgerService],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CaseView]:
        actor, result, view = await execute(
            request, service, case_id, data, if_match, idempotency_key
        )
        return written(result, view, actor, service.context)

    # The body type is the route's command; set after definition so one function serves all.
    handler.__annotations__["data"] = cast(Any, JSONBody)[route.command]
    name = route.verb.replace("-", "_")
    handler.__name__ = handler.__qualname__ = name
    roles = WRITE_ROLES[route.verb]
    return post(
        f"/{{case_id:uuid}}/{route.verb}",
        status_code=200,
        guards=[allow(roles)],
        summary=route.summary,
        description=f"Needs `If-Match`. {roles_note(roles)}",
        operation_id=f"case_{name}",
        responses=_WRITE_ERRORS,
        response_headers=[ETAG_HEADER],
        tags=["cases"],
    )(handler)


def write_handlers() -> list[HTTPRouteHandler]:
    """The write routes, relative to /v1/cases."""
    return [register, reveal, *(command_handler(r) for r in COMMAND_ROUTES)]
