"""The write flow shared by every write route: headers → service → the case as it now stands."""

from __future__ import annotations

from uuid import UUID

from litestar import Request, Response
from litestar.datastructures import ResponseHeader, State
from litestar.security.jwt import Token

from api.access import actor_of
from api.cases.preconditions import etag, expected_version, request_meta
from api.cases.views import CaseView, case_body
from ledger import commands as c
from ledger.domain.actor import Actor
from ledger.domain.context import Context
from ledger.projections.caseview import case_view
from ledger.service import LedgerService
from ledger.store.port import AppendResult

ActorRequest = Request[Actor, Token, State]

ETAG_HEADER = ResponseHeader(
    name="ETag", documentation_only=True, description='The case version: `"<version>"`.'
)


async def execute(
    request: ActorRequest,
    service: LedgerService,
    case_id: UUID,
    command: c.Command,
    if_match: str | None,
    idempotency_key: str | None,
) -> tuple[Actor, AppendResult, CaseView]:
    """Run ``command`` on an existing case; the view is the case at the version it produced."""
    actor = actor_of(request)
    version = expected_version(if_match, len(request.headers.getall("if-match", ())))
    meta = request_meta(idempotency_key)
    result = await service.execute(case_id, actor, command, version, meta)
    return actor, result, await view_after(service, result)


async def view_after(service: LedgerService, result: AppendResult) -> CaseView:
    """The case as the append that produced ``result`` left it."""
    return case_view(await service.state_after(result), service.clock())


def write_headers(result: AppendResult) -> dict[str, str]:
    headers = {"ETag": etag(result.version)}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return headers


def written(
    result: AppendResult, view: CaseView, actor: Actor, context: Context, status: int = 200
) -> Response[CaseView]:
    headers = write_headers(result)
    if status == 201:
        headers["Location"] = f"/v1/cases/{result.case_id}"
    return Response(case_body(view, actor, context), status_code=status, headers=headers)
