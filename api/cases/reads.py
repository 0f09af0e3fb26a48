"""Case reads: the list (read model), one case now or as it stood (events), its history, its trail.

- ``GET /v1/cases`` pages through the projected case views (eventually consistent: a write shows
  up once the projection runner has applied it; ``GET /ready`` reports the lag).
- ``GET /v1/cases/{id}`` folds the case's own events, now or up to ``version`` / ``as_of``, so it
  is exact for that moment and its ETag is the version the body shows. ``as_of`` is the ledger's
  recorded time: the case as the ledger knew it then; the view's clock (overdue flags) is that
  moment too.
- ``GET /v1/cases/{id}/events`` is the complete, ordered history with hashes.
- ``GET /v1/cases/{id}/trail`` is the accountability trail from the read model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, NamedTuple, get_args
from uuid import UUID

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter

from api.access import actor_of, allow, roles_note
from api.auth import STAFF_ID_PATTERN
from api.cases.counted import StatisticDay, StatisticDepartment, StatisticFilter, counted
from api.cases.event_records import EventOut, event_out
from api.cases.preconditions import etag
from api.cases.recording import ETAG_HEADER, ActorRequest
from api.cases.views import case_body, is_major, view_of
from api.masking import sees_identifiers
from api.params import TIME_FORMAT, TIME_RANGE, given, invalid_parameters, inverted, within
from api.problems import ApiProblem, FieldError, problem_responses
from ledger.commands import Code
from ledger.domain.actor import Actor
from ledger.domain.codes import CaseStatus, Category, Classification, Role
from ledger.projections import InvalidCursor, ProjectionsBehind, ReadModels
from ledger.projections.tables import decode_cursor
from ledger.projections.views import CaseFilters, CasePage, CaseView, Trail
from ledger.service import LedgerService

PROJECTION_WAIT_SECONDS = 2.0

# A unit or jurisdiction filter has the shape of the commands' codes, a staff id that of a token's
# ``sub``: anything else matches no case, and is refused (400) rather than sent to the database,
# where PostgreSQL refuses a NUL in text outright. (Control characters are refused for every text
# parameter, by api.params.)
CODE_PATTERN: str = get_args(Code)[1].pattern
CodeFilter = Annotated[
    str | None,
    QueryParameter(
        min_length=1, max_length=64, pattern=CODE_PATTERN, description="a code, e.g. tax.hall"
    ),
]
StaffFilter = Annotated[
    str | None,
    QueryParameter(min_length=1, max_length=64, pattern=STAFF_ID_PATTERN, description="staff id"),
]
# A time parameter: api.params holds it to the form and the range this describes.
Moment = Annotated[datetime | None, QueryParameter(description=f"{TIME_FORMAT}, {TIME_RANGE}")]

# The filters of a case listing (``GET /v1/cases``, and its export ``GET
# /v1/exports/cases.xlsx``): declared once, checked once (``provide_case_query``).
StatusFilter = Annotated[CaseStatus | None, QueryParameter()]
ClassFilter = Annotated[Classification | None, QueryParameter(name="class")]
CategoryFilter = Annotated[Category | None, QueryParameter()]
OverdueFilter = Annotated[bool | None, QueryParameter()]
ReplyOwedFilter = Annotated[
    bool | None, QueryParameter(description="an assigning body (交办/转办) still awaits its reply")
]
DueWithinFilter = Annotated[
    int | None,
    QueryParameter(
        ge=0, le=250, description="open cases due from today to this many working days from today"
    ),
]
CaseNumberFilter = Annotated[
    str | None, QueryParameter(min_length=1, max_length=64, description="case number")
]
CASE_FILTERS_NOTE = (
    "`unit` (or `holding_unit`) is the holding unit; `received_from` is inclusive, "
    "`received_to` exclusive; `due_within` (预警) keeps the open cases whose deadline falls from "
    "today to that many working days from today; `task_unit` the cases where that unit has a "
    "meeting's task open; `awaiting` the transfers awaiting that unit's acceptance (签收: sent "
    "to it, or to a jurisdiction it serves); `reply_owed` the matters whose assigning body (交办/"
    "转办) still awaits its reply; `statistic` (with `statistic_unit` or "
    "`statistic_department`, and `statistic_from`, `statistic_to`) keeps the cases a number "
    "of `GET /v1/statistics/units` counts."
)


class CaseQuery(NamedTuple):
    """The question of a case listing: its filters, and the parameters given, by their names in
    the URL, as text (what an export's access record keeps)."""

    filters: CaseFilters
    given: dict[str, str]


def provide_case_query(
    read_models: NamedDependency[ReadModels],
    status: StatusFilter = None,
    classification: ClassFilter = None,
    category: CategoryFilter = None,
    unit: CodeFilter = None,
    jurisdiction: CodeFilter = None,
    first_responder: StaffFilter = None,
    overdue: OverdueFilter = None,
    due_within: DueWithinFilter = None,
    holding_unit: CodeFilter = None,
    received_from: Moment = None,
    received_to: Moment = None,
    case_number: CaseNumberFilter = None,
    task_unit: CodeFilter = None,
    awaiting: CodeFilter = None,
    reply_owed: ReplyOwedFilter = None,
    statistic: StatisticFilter = None,
    statistic_unit: CodeFilter = None,
    statistic_department: StatisticDepartment = None,
    statistic_from: StatisticDay = None,
    statistic_to: StatisticDay = None,
) -> CaseQuery:
    """The filters of a case listing, declared once for every route that lists cases (``GET
    /v1/cases`` and its 台账 export, each taking this dependency as ``listing``): 400 for a
    contradiction (an inverted period, two different holding units) or ``statistic`` filters
    that ask no one question."""
    if received_from is not None and received_to is not None and received_to < received_from:
        raise inverted("received_from", "received_to", received_from, received_to)
    if unit is not None and holding_unit is not None and unit != holding_unit:
        both = "unit and holding_unit both name the holding unit: give one"
        raise invalid_parameters(
            FieldError(field="unit", message=both, source="query"),
            FieldError(field="holding_unit", message=both, source="query"),
        )
    filters = CaseFilters(
        status=status,
        classification=classification,
        category=category,
        unit=unit or holding_unit,
        jurisdiction=jurisdiction,
        first_responder=first_responder,
        overdue=overdue,
        due_within=due_within,
        received_from=received_from,
        received_to=received_to,
        case_number=case_number,
        task_unit=task_unit,
        awaiting=awaiting,
        reply_owed=reply_owed,
        counted=counted(
            read_models.context.reference,
            statistic,
            statistic_unit,
            statistic_department,
            statistic_from,
            statistic_to,
        ),
    )
    return CaseQuery(
        filters,
        given(
            status=status,
            **{"class": classification},
            category=category,
            unit=unit,
            jurisdiction=jurisdiction,
            first_responder=first_responder,
            overdue=overdue,
            due_within=due_within,
            holding_unit=holding_unit,
            received_from=received_from,
            received_to=received_to,
            case_number=case_number,
            task_unit=task_unit,
            awaiting=awaiting,
            reply_owed=reply_owed,
            statistic=statistic,
            statistic_unit=statistic_unit,
            statistic_department=statistic_department,
            statistic_from=statistic_from,
            statistic_to=statistic_to,
        ),
    )


# The dependency of the routes that list cases: ``listing: NamedDependency[CaseQuery]``.
CASE_QUERY = {"listing": Provide(provide_case_query, sync_to_thread=False)}


_STAFF = (Role.INTAKE, Role.HANDLER, Role.OFFICE, Role.ENFORCEMENT)
# Case views and trails: everyone who works cases, audits or inspects them.
READ_CASES = frozenset({*_STAFF, Role.AUDITOR, Role.INSPECTOR})
# Full event history (and the live event stream): API.md gives it to the auditor; staff who
# record events see what they and others recorded. Inspectors work from views and trails.
READ_HISTORY = frozenset({*_STAFF, Role.AUDITOR})


def checked_cursor(cursor: str | None) -> str | None:
    """``cursor``, if it is one this API could have issued (else ``InvalidCursor``, 400): the
    time in it must be one a case can have been received at, which a forged one need not be."""
    if cursor and not within(decode_cursor(cursor).received_at):
        raise InvalidCursor("the cursor is not one this API issued")
    return cursor


async def case_events(service: LedgerService, case_id: UUID, actor: Actor) -> list[EventOut]:
    """The case's complete history as ``actor`` reads it: payer identifiers masked unless the
    actor needs them on this case (``api.masking``). The console's printed case file reads it
    here too."""
    records = await service.history(case_id)
    context = service.context
    view = view_of(records, service.clock(), context)
    shown = sees_identifiers(actor, view.holding_unit, is_major(view), context)
    return [event_out(record, masked=not shown) for record in records]


class CaseReadController(Controller):
    """Mounted with the write routes under /v1/cases (api.app): Litestar merges one path's
    methods only within one router."""

    path = "/"
    tags = ("cases",)

    @get(
        "/",
        guards=[allow(READ_CASES)],
        operation_id="list_cases",
        dependencies=CASE_QUERY,
        summary="List case views (filters, cursor pagination)",
        description="From the read model. " + CASE_FILTERS_NOTE + " " + roles_note(READ_CASES),
        responses=problem_responses(400, 403),
    )
    async def list_cases(
        self,
        request: ActorRequest,
        read_models: NamedDependency[ReadModels],
        listing: NamedDependency[CaseQuery],
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> CasePage:
        actor = actor_of(request)
        page = await read_models.list_cases(listing.filters, checked_cursor(cursor), limit)
        items = [case_body(view, actor, read_models.context) for view in page.items]
        return msgspec.structs.replace(page, items=items)

    @get(
        "/{case_id:uuid}",
        guards=[allow(READ_CASES)],
        operation_id="get_case",
        summary="One case view, now or as it stood at a version or a moment",
        description="Rebuilt from the case's events. Give at most one of `version` and `as_of`. "
        + roles_note(READ_CASES),
        responses=problem_responses(400, 403, 404),
        response_headers=[ETAG_HEADER],
    )
    async def get_case(
        self,
        request: ActorRequest,
        case_id: FromPath[UUID],
        service: NamedDependency[LedgerService],
        version: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        as_of: Moment = None,
    ) -> Response[CaseView]:
        if version is not None and as_of is not None:
            both = "give version or as_of, not both"
            raise invalid_parameters(
                FieldError(field="version", message=both, source="query"),
                FieldError(field="as_of", message=both, source="query"),
            )
        records = await service.history(case_id, to_version=version, as_of=as_of)
        if not records:
            raise ApiProblem(404, "CASE_NOT_FOUND_AS_OF", f"case {case_id} was not yet recorded")
        if version is not None and records[-1].version != version:
            raise ApiProblem(
                404,
                "VERSION_NOT_FOUND",
                f"case {case_id} has no version {version} (it is at {records[-1].version})",
            )
        now = as_of or (records[-1].recorded_at if version is not None else service.clock())
        view = view_of(records, now, service.context)
        body = case_body(view, actor_of(request), service.context)
        return Response(body, headers={"ETag": etag(view.version)})

    @get(
        "/{case_id:uuid}/events",
        guards=[allow(READ_HISTORY)],
        operation_id="case_events",
        summary="The complete, ordered event history of a case",
        description="Each event with position, version, topic, data, metadata, times, hash and "
        "prev_hash (hex). " + roles_note(READ_HISTORY),
        responses=problem_responses(403, 404),
    )
    async def events(
        self,
        request: ActorRequest,
        case_id: FromPath[UUID],
        service: NamedDependency[LedgerService],
    ) -> list[EventOut]:
        return await case_events(service, case_id, actor_of(request))

    @get(
        "/{case_id:uuid}/trail",
        guards=[allow(READ_CASES)],
        operation_id="case_trail",
        summary="Accountability trail: custody periods, dwell times, first-responder duties",
        description="From the read model; `as_of` evaluates the duties at that moment. "
        + roles_note(READ_CASES),
        responses=problem_responses(400, 403, 404),
    )
    async def trail(
        self,
        case_id: FromPath[UUID],
        service: NamedDependency[LedgerService],
        read_models: NamedDependency[ReadModels],
        as_of: Moment = None,
    ) -> Trail:
        trail = await read_models.trail(case_id, as_of)
        if trail is not None:
            return trail
        # No row: no such case (404), not yet at ``as_of`` (404), or not yet projected — then
        # wait briefly for the runner rather than deny a case the ledger holds.
        registration = (await service.history(case_id, to_version=1))[0]
        if as_of is not None and registration.recorded_at > as_of:
            raise ApiProblem(404, "CASE_NOT_FOUND_AS_OF", f"case {case_id} was not yet recorded")
        if await read_models.wait_for(registration.position, PROJECTION_WAIT_SECONDS):
            trail = await read_models.trail(case_id, as_of)
        if trail is None:
            raise ProjectionsBehind(f"case {case_id} is not projected yet; retry shortly")
        return trail
