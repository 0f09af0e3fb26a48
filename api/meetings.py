"""/v1/meetings: the leading group's meetings (四) — convened, minuted, reported up (上报).

Writes (the leading group's office) go through ``ledger.meetings``: the meeting's own events,
and each decision of the minutes appended to its case as well, where it is a task of the
assigned unit. Writes to an existing meeting need ``If-Match`` (its version), as case writes do;
the same minutes sent again (a retry) record nothing new on the meeting and complete the
decisions missing on cases.

Reads: the office, inspectors and auditors read every meeting; other staff read the meetings
their unit was invited to, attended or was assigned a task by (the list shows only those). A
meeting is read from its own events (exact, like a case view), each decision with its task's
status as its case's events now make it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader, State
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.security.jwt import Token

from api.access import actor_of, allow, roles_note
from api.cases.preconditions import IdempotencyKey, IfMatch, etag, expected_version, request_meta
from api.cases.reads import READ_CASES
from api.dependencies import opened
from api.problems import ApiProblem, problem_responses
from ledger.domain.actor import Actor
from ledger.domain.codes import Role
from ledger.domain.context import SHANGHAI, local_date
from ledger.domain.meeting import Meeting, MeetingKind
from ledger.meetings import Convene, MeetingNotFound, Meetings, RecordMinutes, ReportUp, Written
from ledger.projections.caseview import fold_case, task_view
from ledger.projections.projection import Dialect
from ledger.projections.views import StaffView, TaskView

WRITE = frozenset({Role.OFFICE})
READ_ALL = frozenset({Role.OFFICE, Role.INSPECTOR, Role.AUDITOR})
ActorRequest = Request[Actor, Token, State]


class DecisionView(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    case_id: UUID
    decision: str
    assigned_unit: str
    due: date
    task: TaskView | None  # None: not on its case yet (the meeting's retry completes it)


class MinutesView(msgspec.Struct, frozen=True, kw_only=True):
    recorded_at: datetime
    recorded_by: StaffView
    attendees: list[str]
    attendee_names: list[str]
    minutes: str
    decisions: list[DecisionView]


class ReportView(msgspec.Struct, frozen=True, kw_only=True):
    content: str
    occurred_at: datetime
    reported_by: StaffView


class MeetingView(msgspec.Struct, frozen=True, kw_only=True):
    meeting_id: UUID
    kind: MeetingKind
    kind_label: str
    scheduled_at: datetime
    venue: str
    units: list[str]
    agenda: list[UUID]
    convened_by: StaffView
    minutes: MinutesView | None
    reports: list[ReportView]
    version: int


def _staff(actor: Actor) -> StaffView:
    return StaffView(staff_id=actor.staff_id, name=actor.name, unit=actor.unit)


def _meetings(request: ActorRequest) -> Meetings:
    return Meetings(opened(request.app.state).service)


async def meeting_view(meetings: Meetings, meeting: Meeting) -> MeetingView:
    """The meeting, each decision with its task as its case's events now make it."""
    minutes = None
    if meeting.minutes is not None and meeting.minutes_by is not None:
        assert meeting.minutes_at is not None
        service = meetings.service
        now = service.clock()
        states = {}
        for case_id in {d.case_id for d in meeting.decisions}:
            states[case_id] = fold_case(await service.history(case_id), service.context)
        decisions = []
        for d in meeting.decisions:
            step = next(
                (
                    t
                    for t in states[d.case_id].tasks
                    if t.meeting_id == meeting.id and t.decision_no == d.number
                ),
                None,
            )
            decisions.append(
                DecisionView(
                    number=d.number,
                    case_id=d.case_id,
                    decision=d.decision,
                    assigned_unit=d.assigned_unit,
                    due=d.due,
                    task=None if step is None else task_view(step, local_date(now)),
                )
            )
        minutes = MinutesView(
            recorded_at=meeting.minutes_at,
            recorded_by=_staff(meeting.minutes_by),
            attendees=list(meeting.attendees),
            attendee_names=list(meeting.attendee_names),
            minutes=meeting.minutes,
            decisions=decisions,
        )
    return MeetingView(
        meeting_id=meeting.id,
        kind=meeting.kind,
        kind_label=meeting.kind.label,
        scheduled_at=meeting.scheduled_at,
        venue=meeting.venue,
        units=list(meeting.units),
        agenda=list(meeting.agenda),
        convened_by=_staff(meeting.convened_by),
        minutes=minutes,
        reports=[
            ReportView(content=c, occurred_at=at, reported_by=_staff(by))
            for c, at, by in meeting.reports
        ],
        version=meeting.version,
    )


def may_read(actor: Actor, meeting: Meeting) -> bool:
    if not READ_ALL.isdisjoint(actor.roles):
        return True
    units = {*meeting.units, *meeting.attendees, *(d.assigned_unit for d in meeting.decisions)}
    return actor.unit in units


async def _answer(meetings: Meetings, written: Written, status: int = 200) -> Response[MeetingView]:
    meeting = written.meeting
    if written.result is not None or written.replayed:
        meeting = await meetings.load(meeting.id)
    headers = {"ETag": etag(meeting.version)}
    if written.replayed:
        headers["Idempotent-Replayed"] = "true"
    if status == 201:
        headers["Location"] = f"/v1/meetings/{meeting.id}"
    return Response(await meeting_view(meetings, meeting), status_code=status, headers=headers)


_ETAG = ResponseHeader(
    name="ETag", documentation_only=True, description='The meeting version: `"<version>"`.'
)


def _version(request: ActorRequest, if_match: str | None) -> int:
    return expected_version(if_match, len(request.headers.getall("if-match", ())))


class MeetingController(Controller):
    path = "/v1/meetings"
    tags = ("meetings",)

    @post(
        "/",
        status_code=201,
        guards=[allow(WRITE)],
        operation_id="convene_meeting",
        summary="Convene a joint meeting (联席会议) or a leading-group meeting (四)",
        description="`units` invited (unit codes of the reference data), `agenda` (case ids, "
        "each an existing case), `venue` (default: the reference data's mediation venue). "
        "Only the leading-group office (R11). " + roles_note(WRITE),
        responses=problem_responses(400, 403, 415, 422),
        response_headers=[_ETAG],
    )
    async def convene(
        self,
        request: ActorRequest,
        data: JSONBody[Convene],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[MeetingView]:
        meetings = _meetings(request)
        written = await meetings.convene(actor_of(request), data, request_meta(idempotency_key))
        return await _answer(meetings, written, 201)

    @post(
        "/{meeting_id:uuid}/minutes",
        status_code=200,
        guards=[allow(WRITE)],
        operation_id="record_minutes",
        summary="Record a meeting's minutes and decisions; each decision becomes a case task",
        description="Needs `If-Match`. `attendees` (units present), `attendee_names`, `minutes`, "
        "`decisions` [{case_id (on the agenda), decision, assigned_unit, due}]. Each decision "
        "is appended to its case (`ledger.MeetingDecisionRecorded`) as a task of the assigned "
        "unit. Sending the same minutes again records nothing new on the meeting and completes "
        "any decision not yet on its case. " + roles_note(WRITE),
        responses=problem_responses(400, 403, 404, 409, 412, 415, 422, 428),
        response_headers=[_ETAG],
    )
    async def minutes(
        self,
        request: ActorRequest,
        meeting_id: FromPath[UUID],
        data: JSONBody[RecordMinutes],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[MeetingView]:
        meetings = _meetings(request)
        version = _version(request, if_match)
        written = await meetings.record_minutes(
            meeting_id, actor_of(request), data, version, request_meta(idempotency_key)
        )
        return await _answer(meetings, written)

    @post(
        "/{meeting_id:uuid}/report",
        status_code=200,
        guards=[allow(WRITE)],
        operation_id="report_meeting",
        summary="Record what was reported to the leading group (上报), and when",
        description="Needs `If-Match`. `content`, `occurred_at` (default now). After the "
        "minutes. " + roles_note(WRITE),
        responses=problem_responses(400, 403, 404, 409, 412, 415, 422, 428),
        response_headers=[_ETAG],
    )
    async def report(
        self,
        request: ActorRequest,
        meeting_id: FromPath[UUID],
        data: JSONBody[ReportUp],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[MeetingView]:
        meetings = _meetings(request)
        version = _version(request, if_match)
        written = await meetings.report(
            meeting_id, actor_of(request), data, version, request_meta(idempotency_key)
        )
        return await _answer(meetings, written)

    @get(
        "/{meeting_id:uuid}",
        guards=[allow(READ_CASES)],
        operation_id="get_meeting",
        summary="One meeting: minutes, decisions and each task's status",
        description="From the meeting's events, and each task from its case's events. Office, "
        "inspectors and auditors read every meeting; other staff those their unit was invited "
        "to, attended or got a task from. " + roles_note(READ_CASES),
        responses=problem_responses(403, 404),
        response_headers=[_ETAG],
    )
    async def get_meeting(
        self, request: ActorRequest, meeting_id: FromPath[UUID]
    ) -> Response[MeetingView]:
        meetings = _meetings(request)
        meeting = await meetings.load(meeting_id)
        if not may_read(actor_of(request), meeting):
            raise ApiProblem(
                403, "NOT_INVITED", f"{actor_of(request).unit} has no part in meeting {meeting_id}"
            )
        view = await meeting_view(meetings, meeting)
        return Response(view, headers={"ETag": etag(meeting.version)})

    @get(
        "/",
        guards=[allow(READ_CASES)],
        operation_id="list_meetings",
        summary="Meetings, latest first (filters: kind, from, to)",
        description="From the read model (`proj_meetings`): meetings scheduled from `from` to "
        "`to` (Asia/Shanghai dates, inclusive), of `kind`; staff other than the office, "
        "inspectors and auditors see those of their unit. " + roles_note(READ_CASES),
        responses=problem_responses(400, 403),
    )
    async def list_meetings(
        self,
        request: ActorRequest,
        kind: Annotated[MeetingKind | None, QueryParameter()] = None,
        period_from: Annotated[date | None, QueryParameter(name="from")] = None,
        period_to: Annotated[date | None, QueryParameter(name="to")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> list[MeetingView]:
        ledger = opened(request.app.state)
        db = ledger.read_models.db
        sqlite = db.dialect is Dialect.SQLITE
        where, params = [], []

        def bind(value: Any) -> str:
            params.append(value)
            return "?" if sqlite else f"${len(params)}"

        if kind is not None:
            where.append(f"kind = {bind(kind.value)}")
        if period_from is not None:
            start = datetime.combine(period_from, time(), SHANGHAI)
            where.append(f"scheduled_at >= {bind(start)}")
        if period_to is not None:
            end = datetime.combine(period_to + timedelta(days=1), time(), SHANGHAI)
            where.append(f"scheduled_at < {bind(end)}")
        rows = await db.fetch(
            "SELECT meeting_id FROM proj_meetings"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY scheduled_at DESC, position DESC",
            params,
        )
        meetings = Meetings(ledger.service)
        actor = actor_of(request)
        found = []
        for (meeting_id,) in rows:
            meeting_id = meeting_id if isinstance(meeting_id, UUID) else UUID(meeting_id)
            try:
                meeting = await meetings.load(meeting_id)
            except MeetingNotFound:
                continue
            if may_read(actor, meeting):
                found.append(await meeting_view(meetings, meeting))
            if len(found) == limit:
                break
        return found
