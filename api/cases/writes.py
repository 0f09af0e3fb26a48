"""The write routes, derived from the command catalogue (``ledger.commands.CATALOGUE``).

Each command of the catalogue is one POST route — ``POST /v1/cases`` for the command that creates
a case, ``POST /v1/cases/{id}/<name>`` for the others — with the command's Struct as its body
(unknown fields refused), the catalogue's roles as its guard and its summary in the OpenAPI
document. Each route is the same three steps: check the headers, run the command through the
service (the only write path), answer with the case as its events now make it.

Successful writes answer with the case view computed from the case's events up to the version the
write produced, not from the read model: the client sees its own write at once, and an idempotent
retry gets the view exactly as the first response showed it. The reveal route answers with the
unmasked payer instead (``api.cases.reveal``).
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

import msgspec
from litestar import Response, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody

from api.access import actor_of, allow, roles_note
from api.cases.preconditions import IdempotencyKey, IfMatch, request_meta
from api.cases.recording import ETAG_HEADER, ActorRequest, execute, view_after, written
from api.cases.reveal import reveal_handler
from api.cases.views import CaseView
from api.problems import problem_responses
from ledger import commands as c
from ledger.projections import ReadModels
from ledger.projections.views import RegisteredCase
from ledger.service import LedgerService

_WRITE_ERRORS = problem_responses(400, 403, 404, 409, 412, 415, 422, 428)


def register_handler(spec: c.CommandSpec) -> HTTPRouteHandler:
    """POST /v1/cases: the command that creates a case."""

    async def handler(
        request: ActorRequest,
        data: JSONBody[Any],
        service: NamedDependency[LedgerService],
        read_models: NamedDependency[ReadModels],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RegisteredCase]:
        actor = actor_of(request)
        result = await service.register(actor, data, request_meta(idempotency_key))
        view = await view_after(service, result)
        others = await read_models.payer_cases(
            view.payer.identifier, exclude=view.case_id, came_back_at=view.received_at
        )
        registered = RegisteredCase(**msgspec.structs.asdict(view), payer_cases=others)
        return cast(
            Response[RegisteredCase],
            written(result, registered, actor, service.context, 201),
        )

    _name(handler, spec)
    return post(
        "/",
        status_code=201,
        guards=[allow(spec.roles)],
        summary=spec.summary,
        description="The receiving unit and the first responder come from the token (R2). "
        "The answer lists the payer's cases it repeats, open or closed within the repeat window, "
        "in any channel and category (`payer_cases`), to link the new one to (重复跑, FR7). "
        + roles_note(spec.roles),
        operation_id=f"{spec.operation}_case",
        responses=problem_responses(400, 403, 409, 415, 422),
        response_headers=[
            ETAG_HEADER,
            ResponseHeader(name="Location", documentation_only=True, description="The new case."),
        ],
        tags=["cases"],
    )(handler)


def command_handler(spec: c.CommandSpec) -> HTTPRouteHandler:
    """The POST route of one command on a case."""

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

    _name(handler, spec)
    return post(
        f"/{{case_id:uuid}}/{spec.name}",
        status_code=200,
        guards=[allow(spec.roles)],
        summary=spec.summary,
        description=f"Needs `If-Match`. {roles_note(spec.roles)}",
        operation_id=f"case_{spec.operation}",
        responses=_WRITE_ERRORS,
        response_headers=[ETAG_HEADER],
        tags=["cases"],
    )(handler)


def _name(handler: Any, spec: c.CommandSpec) -> None:
    # The body type is the spec's command; set after definition so one function serves all.
    handler.__annotations__["data"] = cast(Any, JSONBody)[spec.body]
    handler.__name__ = handler.__qualname__ = spec.operation


# Routes whose response is not the case view.
_SPECIAL = {"reveal": reveal_handler}


def write_handlers() -> list[HTTPRouteHandler]:
    """The write routes, relative to /v1/cases: one per command of the catalogue."""
    handlers = []
    for spec in c.CATALOGUE.values():
        if spec.creates:
            handlers.append(register_handler(spec))
        else:
            handlers.append(_SPECIAL.get(spec.name, command_handler)(spec))
    return handlers
