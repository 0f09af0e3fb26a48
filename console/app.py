"""工作台: the console's routes, registered into the API's app by ``api.app.create_app``.

Pages call the same service layer as the API (``LedgerService`` for writes, ``ReadModels`` and
the service's history for reads), never the API over HTTP: the same rules, the same audit trail.
Staff sign in with their account (``ledger.staff``); the signed-in member of staff is the same
``Actor`` a token would give. Every form carries a CSRF token (Litestar's CSRF middleware, on
this router only: the JSON API's bearer-token routes are untouched).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID, uuid4

import msgspec
from litestar import Litestar, Request, Response, Router, get, post
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.params import FromPath
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from api.cases.counted import counted_in_query
from api.cases.reads import READ_CASES, READ_HISTORY
from api.cases.views import case_body, view_of
from api.inspections import READ_INSPECTIONS
from api.problems import ApiProblem
from api.statistics import READ_STATISTICS
from console.charts import custody_chart
from console.forms import (
    COMMAND_FORMS,
    DECISIONS,
    EXTEND_DECISION,
    FORMS,
    RECLASSIFY_DECISION,
    REGISTER,
    Form,
    FormError,
)
from console.forms import command_from_form as _command_from_form
from console.labels import (
    EVENT_LABELS,
    FIELD_LABELS,
    MEASURE_LABELS,
    RULES,
    Labels,
    assignment_text,
)
from console.session import COOKIE, IDLE_SECONDS, Sessions, session_key
from ledger import commands as c
from ledger.bootstrap import Ledger
from ledger.commands import CATALOGUE
from ledger.config import Settings
from ledger.domain.actor import Actor
from ledger.domain.codes import CaseStatus, Category, Classification, Department, Role
from ledger.domain.context import SHANGHAI, local_date
from ledger.domain.errors import DomainError, RuleViolation
from ledger.domain.reference import ReferenceData
from ledger.projections.views import CaseFilters, CaseView, Counted
from ledger.service import CaseNotFound, RequestMeta
from ledger.staff import SignInRefused, StaffDirectory
from ledger.store.port import RecordedEvent, VersionConflict

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"
CSRF_COOKIE = "ledger_csrf"
PAGE_SIZE = 20
# Event fields the timeline shows (never the payer: identifiers stay masked there).
_SHOWN = (
    "classification",
    "route",
    "to_unit",
    "to_jurisdiction",
    "outcome",
    "finding",
    "amount",
    "units",
    "until",
    "approve",
    "court",
    "channel",
    "content",
    "satisfaction",
    "relation",
    "correction",
    "position",
    "summary",
    "note",
    "reason",
    "assignment",
)


class SignInNeeded(Exception):
    pass


@dataclass
class ConsoleState:
    directory: StaffDirectory
    sessions: Sessions
    labels: Labels
    secure: bool


@dataclass(frozen=True)
class Staff:
    actor: Actor
    signed_in: int

    def may(self, verb: str) -> bool:
        return any(self.actor.has(role) for role in CATALOGUE[verb].roles)

    def reads(self, roles: frozenset[Role]) -> bool:
        return any(self.actor.has(role) for role in roles)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=TEMPLATE_DIR, engine=JinjaTemplateEngine)


def lifespan(
    settings: Settings,
) -> Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]:
    """Opens the staff directory beside the ledger the app's own lifespan opened (run after it)."""

    @contextlib.asynccontextmanager
    async def run(app: Litestar) -> AsyncIterator[None]:
        opened: Ledger = app.state.ledger
        directory = StaffDirectory(opened.store, settings.database_url, opened.context.reference)
        await directory.open()
        labels = Labels(opened.context)
        engine = app.template_engine
        if isinstance(engine, JinjaTemplateEngine):
            engine.engine.filters.update(labels.filters())
            engine.engine.globals.update(
                custody_chart=custody_chart, read_inspections=READ_INSPECTIONS
            )
        app.state.console = ConsoleState(
            directory, Sessions(session_key(settings.jwt_secret)), labels, _secure(settings)
        )
        try:
            yield
        finally:
            await directory.close()

    return run


def _secure(settings: Settings) -> bool:
    # The embedded default serves http://127.0.0.1; a PostgreSQL deployment sits behind TLS.
    return not settings.is_sqlite


def _state(request: Request[Any, Any, Any]) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


def _ledger(request: Request[Any, Any, Any]) -> Ledger:
    opened: Ledger = request.app.state.ledger
    return opened


def _now() -> datetime:
    return datetime.now(UTC)


async def signed_in(request: Request[Any, Any, Any]) -> Staff:
    state = _state(request)
    session = state.sessions.read(request.cookies.get(COOKIE))
    if session is None:
        raise SignInNeeded
    actor = await state.directory.actor(session.staff_id)
    if actor is None:  # disabled since
        raise SignInNeeded
    return Staff(actor, session.signed_in)


def _session_cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=value,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_state(request).secure or request.url.scheme == "https",
        max_age=max_age,
    )


def page(
    request: Request[Any, Any, Any],
    staff: Staff | None,
    name: str,
    status: int = 200,
    **context: Any,
) -> Template:
    """A page; a signed-in member of staff's session is renewed (30 minutes from now)."""
    cookies = []
    if staff is not None:
        value = _state(request).sessions.issue(staff.actor.staff_id, staff.signed_in)
        cookies.append(_session_cookie(request, value, IDLE_SECONDS))
    today = local_date(_now())
    return Template(
        template_name=name,
        context={
            "staff": staff,
            "today": today,
            "days_left": lambda due: _state(request).labels.working_days_left(due, today),
            "path": request.url.path,
            "field_labels": FIELD_LABELS,
            "oversight_roles": READ_STATISTICS,  # 督办 in the navigation
            # A retried submission (a double click, a reload) is recorded once.
            "new_key": lambda: uuid4().hex,
            **context,
        },
        status_code=status,
        cookies=cookies,
        headers={"Cache-Control": "no-store"},
    )


# -- sign-in ----------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    # Only a path of this site: never an open redirect to another origin.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@get("/login", name="console:login")
async def login_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, None, "login.html", next=_safe_next(request.query_params.get("next")))


@post("/login", status_code=200)
async def login(request: Request[Any, Any, Any]) -> Template | Redirect:
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    state = _state(request)
    try:
        actor = await state.directory.sign_in(username, password)
    except SignInRefused as exc:
        return page(
            request, None, "login.html", status=401, error=str(exc), username=username, next=target
        )
    cookie = _session_cookie(request, state.sessions.issue(actor.staff_id), IDLE_SECONDS)
    return Redirect(target, status_code=303, cookies=[cookie])


@post("/logout", status_code=303)
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    return Redirect("/login", status_code=303, cookies=[_session_cookie(request, "", 0)])


# -- 我的待办 -------------------------------------------------------------------------------------


async def _all(
    request: Request[Any, Any, Any], filters: CaseFilters, limit: int = 200
) -> list[Any]:
    result = await _ledger(request).read_models.list_cases(filters, None, limit)
    return list(result.items)


# Each list of the page shows this many; a unit holding more finds the rest in 案件查询.
TODO_ROWS = 50


@get("/")
async def todo(request: Request[Any, Any, Any]) -> Template:
    staff = await signed_in(request)
    actor = staff.actor
    read_models = _ledger(request).read_models
    held = await read_models.held_by_deadline(actor.unit, TODO_ROWS)
    incoming = await _all(request, CaseFilters(awaiting=actor.unit), TODO_ROWS)
    # The replies the unit owes assigning bodies (交办/转办), nearest reply date first.
    owed = sorted(
        await _all(request, CaseFilters(unit=actor.unit, reply_owed=True), TODO_ROWS),
        key=lambda v: (v.assignment.reply_due if v.assignment else date.max, v.received_at),
    )
    mine = await _all(
        request,
        CaseFilters(first_responder=actor.staff_id, status=CaseStatus.REGISTERED),
        TODO_ROWS,
    )
    # The leading-group office: the matters escalated to it, wherever they are held.
    escalated = (
        await _all(request, CaseFilters(status=CaseStatus.ESCALATED), TODO_ROWS)
        if actor.has(Role.OFFICE)
        else []
    )
    context = _ledger(request).context
    return page(
        request,
        staff,
        "todo.html",
        rows=TODO_ROWS,
        held=[case_body(v, actor, context) for v in held],
        incoming=[case_body(v, actor, context) for v in incoming],
        owed=[case_body(v, actor, context) for v in owed],
        mine=[case_body(v, actor, context) for v in mine],
        escalated=[case_body(v, actor, context) for v in escalated],
        links={
            "held": f"/cases?{urlencode({'unit': actor.unit})}",
            "overdue": f"/cases?{urlencode({'unit': actor.unit, 'overdue': 'true'})}",
            "due_soon": f"/cases?{urlencode({'unit': actor.unit, 'due_within': 3})}",
            "incoming": f"/cases?{urlencode({'awaiting': actor.unit})}",
            "owed": f"/cases?{urlencode({'unit': actor.unit, 'reply_owed': 'true'})}",
            "mine": "/cases?"
            + urlencode({"first_responder": actor.staff_id, "status": "registered"}),
            "escalated": "/cases?status=escalated",
        },
    )


# -- 案件查询 -------------------------------------------------------------------------------------

_LIST_FILTERS = (
    "status",
    "class",
    "category",
    "unit",
    "jurisdiction",
    "first_responder",
    "task_unit",
    "awaiting",
)


def _filters(query: dict[str, str], reference: ReferenceData) -> tuple[CaseFilters, list[str]]:
    errors: list[str] = []
    values: dict[str, Any] = {}
    due_within = query.get("due_within", "").strip()
    if due_within:
        if due_within.isdigit() and int(due_within) <= 250:
            values["due_within"] = int(due_within)
        else:
            errors.append(f"到期工作日数 {due_within} 应为 0 至 250 的整数")
    try:
        values["counted"] = counted_in_query(reference, query)
    except (ValueError, ApiProblem) as exc:
        errors.append(f"统计口径参数无效：{getattr(exc, 'detail', None) or exc}")
    enums: dict[str, Any] = {"status": CaseStatus, "class": Classification, "category": Category}
    for name in _LIST_FILTERS:
        text = query.get(name, "").strip()
        if not text:
            continue
        if name in enums:
            try:
                values["classification" if name == "class" else name] = enums[name](text)
            except ValueError:
                errors.append(f"“{name}”的值 {text} 不存在")
        else:
            values[name] = text
    for name in ("overdue", "reply_owed"):
        flag = query.get(name, "")
        if flag in {"true", "false"}:
            values[name] = flag == "true"
    for name in ("received_from", "received_to"):
        text = query.get(name, "").strip()
        if text:
            try:
                day = date.fromisoformat(text)
            except ValueError:
                errors.append(f"日期 {text} 的格式应为 YYYY-MM-DD")
                continue
            values[name] = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    number = query.get("case_number", "").strip()
    if number:
        values["case_number"] = number
    identifier = query.get("payer.identifier", "").strip()
    if identifier:
        values["payer_identifier"] = identifier.upper()
    return CaseFilters(**values), errors


@get("/cases")
async def search(request: Request[Any, Any, Any]) -> Template:
    staff = await signed_in(request)
    query = {k: v for k, v in request.query_params.items()}
    context = _ledger(request).context
    filters, errors = _filters(query, context.reference)
    cursor = query.get("cursor") or None
    items: list[CaseView] = []
    next_cursor = None
    total = None
    if staff.reads(READ_CASES) and not errors:
        read_models = _ledger(request).read_models
        try:
            result = await read_models.list_cases(filters, cursor, PAGE_SIZE)
        except ValueError:
            errors.append("翻页参数无效，请从第一页重新查询")
        else:
            items = [case_body(v, staff.actor, context) for v in result.items]
            next_cursor = result.next_cursor
            if filters != CaseFilters():  # how many the filters find, over every page
                total = await read_models.count_cases(filters)
    name = query.get("payer.name", "").strip()
    if name:
        items = [v for v in items if name in v.payer.name]
        total = None  # (the name narrows this page only)
    kept = {k: v for k, v in query.items() if k != "cursor" and v}
    return page(
        request,
        staff,
        "cases.html",
        items=items,
        total=total,
        counted=_counted_text(
            filters.counted, query.get("statistic_department"), _state(request).labels
        ),
        errors=errors,
        query=query,
        next_url=f"/cases?{urlencode({**kept, 'cursor': next_cursor})}" if next_cursor else None,
        first_url=f"/cases?{urlencode(kept)}" if cursor else None,
        # The 台账 of these filters (a name search narrows one page only: not exported).
        export_url=None if name or errors else f"/exports/cases.xlsx?{urlencode(kept)}",
        statuses=list(CaseStatus),
        classes=list(Classification),
        categories=list(Category),
        units=context.reference.units,
        jurisdictions=context.reference.jurisdictions,
    )


def _counted_text(counted: Counted | None, department: str | None, labels: Labels) -> str | None:
    """What a ``statistic`` filter asks, in words (the list it narrows is a number of 督办)."""
    if counted is None:
        return None
    if department:
        whose = f"{Department(department).label}各单位"
    elif counted.units is None:
        whose = "全市"
    elif len(counted.units) == 1:
        whose = labels.unit(counted.units[0])
    else:
        whose = "、".join(labels.unit(u) for u in counted.units)
    what = MEASURE_LABELS.get(counted.measure.value, counted.measure.value)
    when = (
        f"{counted.period_from} 至 {counted.period_to}"
        if counted.period_from and counted.period_to
        else "当前"
    )
    return f"部门考核口径：{whose} · {when} · {what}"


# -- 受理登记 -------------------------------------------------------------------------------------


async def _payer_cases(request: Request[Any, Any, Any], identifier: str) -> list[CaseView]:
    identifier = identifier.strip().upper()
    if not identifier:
        return []
    return await _all(request, CaseFilters(payer_identifier=identifier), limit=20)


def _register_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    status: int = 200,
    **context: Any,
) -> Template:
    ctx = _ledger(request).context
    return page(
        request,
        staff,
        "new.html",
        status=status,
        form=REGISTER,
        units=ctx.reference.units,
        jurisdictions=ctx.reference.jurisdictions,
        values=context.pop("values", {}),
        **context,
    )


@get("/cases/new")
async def new_case(request: Request[Any, Any, Any]) -> Template:
    staff = await signed_in(request)
    return _register_page(request, staff, allowed=staff.may("register"))


@get("/cases/payer")
async def payer_cases(request: Request[Any, Any, Any]) -> Template:
    """The payer's cases, as a fragment (htmx asks for it while the clerk types)."""
    staff = await signed_in(request)
    identifier = request.query_params.get("payer.identifier", "")
    cases = await _payer_cases(request, identifier)
    context = _ledger(request).context
    return page(
        request,
        staff,
        "payer_cases.html",
        cases=[case_body(v, staff.actor, context) for v in cases],
        identifier=identifier,
    )


def _form_values(data: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in data.items() if v and k != "_csrf_token"}


@post("/cases/new", status_code=200)
async def register(request: Request[Any, Any, Any]) -> Template | Redirect:
    staff = await signed_in(request)
    data = _multi(await request.form())
    values = _form_values(data)
    if not staff.may("register"):
        return _register_page(request, staff, 403, allowed=False, values=values)
    try:
        command = _command_from_form(REGISTER, data)
    except FormError as exc:
        return _register_page(
            request, staff, 422, allowed=True, values=values, error=str(exc), field=exc.field
        )
    assert isinstance(command, c.Register)
    if values.get("confirmed") != "yes":
        earlier = [
            v
            for v in await _payer_cases(request, command.payer.identifier)
            if v.status is not CaseStatus.CLOSED
        ]
        if earlier:
            context = _ledger(request).context
            return _register_page(
                request,
                staff,
                409,
                allowed=True,
                values=values,
                earlier=[case_body(v, staff.actor, context) for v in earlier],
            )
    key = values.get("idempotency_key") or None
    try:
        result = await _ledger(request).service.register(
            staff.actor, command, RequestMeta(idempotency_key=key)
        )
    except DomainError as exc:
        return _register_page(
            request, staff, _status(exc), allowed=True, values=values, **_refusal(exc)
        )
    return Redirect(f"/cases/{result.case_id}?registered=1", status_code=303)


def _multi(form: Any) -> dict[str, list[str]]:
    return {key: [str(v) for v in form.getall(key)] for key in form}


def _status(exc: DomainError) -> int:
    return 409 if isinstance(exc, RuleViolation) else 422


def _refusal(exc: DomainError) -> dict[str, Any]:
    """What the page says of a refused command: the rule by its Chinese name, and the detail."""
    if isinstance(exc, RuleViolation):
        rule = RULES.get(exc.rule or "", exc.rule or "")
        return {"refused": f"未执行：不符合规则 {rule}。", "detail": str(exc), "rule": exc.rule}
    return {"refused": "未执行：该操作与案件当前状态或填写内容不符。", "detail": str(exc)}


# -- 案件详情 -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    record: RecordedEvent
    label: str
    who: str
    unit: str
    occurred_at: datetime | None
    details: list[tuple[str, str]]


def _timeline(opened: Ledger, records: list[RecordedEvent], labels: Labels) -> list[TimelineEntry]:
    entries = []
    for record in records:
        event = opened.service.decode(record)
        actor = getattr(event, "actor", None)
        details = []
        for name in _SHOWN:
            value = getattr(event, name, None)
            if value is None or value == "":
                continue
            if name == "to_unit":
                value = labels.unit(value)
            elif name == "to_jurisdiction":
                value = labels.jurisdiction(value)
            elif name == "units":
                value = "、".join(labels.unit(u) for u in value)
            elif name == "assignment":
                value = assignment_text(
                    value.body, value.body_name, value.reference, value.reply_due
                )
            elif isinstance(value, datetime):
                value = value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            elif hasattr(value, "label"):
                value = value.label
            details.append((name, str(value)))
        entries.append(
            TimelineEntry(
                record=record,
                label=EVENT_LABELS.get(record.topic, record.topic.removeprefix("ledger.")),
                who=f"{actor.name}（{actor.staff_id}）" if actor else "—",
                unit=labels.unit(actor.unit) if actor else "—",
                occurred_at=getattr(event, "occurred_at", None),
                details=details,
            )
        )
    return entries


_AFTER_CLOSURE = frozenset({"reopen", "follow-up", "follow-up-resolved"})


def _offered(staff: Staff, view: CaseView) -> list[Form]:
    """The commands offered on this case to this member of staff (the rules still decide)."""
    actor = staff.actor
    closed = view.status is CaseStatus.CLOSED
    offered = []
    for form in COMMAND_FORMS:
        if not staff.may(form.verb):
            continue
        if form.verb in _AFTER_CLOSURE and not closed:
            continue
        if closed and form.verb not in {*_AFTER_CLOSURE, "correct", "link", "reply-to-assignment"}:
            continue
        if form.verb == "follow-up-resolved" and not view.follow_up_flag:
            continue
        if form.verb == "reply-to-assignment" and view.assignment is None:
            continue
        if form.verb == "record-assignment" and view.assignment is not None:
            continue  # one assignment per case, from its registration or recorded since
        # R10: classify once, then a change of class is requested.
        if form.verb == "reclassify" and view.classification is None:
            continue
        if form.verb == "classify" and view.classification is not None:
            continue
        if form.verb in ("accept", "return"):
            pending = view.pending_transfer
            if pending is None or pending.to_unit not in (actor.unit, None):
                continue
        offered.append(form)
    if staff.actor.has(Role.OFFICE) and view.extension is not None:
        offered.append(EXTEND_DECISION)
    asked = view.reclassification
    if staff.actor.has(Role.OFFICE) and asked is not None and asked.decided_at is None:
        offered.append(RECLASSIFY_DECISION)
    return offered


async def _case_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    case_id: UUID,
    status: int = 200,
    **extra: Any,
) -> Template:
    opened = _ledger(request)
    labels = _state(request).labels
    query = request.query_params
    to_version: int | None = None
    as_of: datetime | None = None
    version_text, date_text = query.get("version", ""), query.get("as_of", "")
    if re.fullmatch(r"[1-9][0-9]{0,8}", version_text or ""):
        to_version = int(version_text)
    elif date_text:
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(date_text)
            # The case as it stood at the end of that day, Beijing time.
            as_of = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=SHANGHAI)
    if not staff.reads(READ_CASES):
        raise PermissionDeniedException("你的角色不能查看案件")
    now = _now()
    current = await opened.service.history(case_id)
    if not current or current[0].topic != "ledger.Registered":  # (a staff account's id)
        raise NotFoundException(f"案件 {case_id} 不存在")
    records = current
    if to_version is not None or as_of is not None:
        records = await opened.service.history(case_id, to_version=to_version, as_of=as_of)
        if not records:
            extra.setdefault("notice", "该时间点案件尚未登记，显示当前状态。")
            records = current
    view = case_body(view_of(records, now, opened.context), staff.actor, opened.context)
    latest = view_of(current, now, opened.context)
    if extra.get("revealed"):  # just recorded, with a reason: the identifiers, unmasked
        view = msgspec.structs.replace(view, payer=latest.payer)
    historic = records is not current and len(records) != len(current)
    trail = await opened.read_models.trail(case_id)
    timeline = _timeline(opened, current, labels) if staff.reads(READ_HISTORY) else []
    return page(
        request,
        staff,
        "case.html",
        status=status,
        view=view,
        latest_version=latest.version,
        historic=historic,
        timeline=timeline,
        trail=trail,
        forms=[] if historic else _offered(staff, latest),
        reveal=staff.may("reveal") and not historic,
        units=opened.context.reference.units,
        jurisdictions=opened.context.reference.jurisdictions,
        values=extra.pop("values", {}),
        **extra,
    )


@get("/cases/{case_id:uuid}")
async def case_page(request: Request[Any, Any, Any], case_id: FromPath[UUID]) -> Template:
    staff = await signed_in(request)
    notice = "案件已登记。" if request.query_params.get("registered") else None
    return await _case_page(request, staff, case_id, notice=notice)


@post("/cases/{case_id:uuid}/{verb:str}", status_code=200)
async def command(
    request: Request[Any, Any, Any], case_id: FromPath[UUID], verb: FromPath[str]
) -> Template | Redirect:
    staff = await signed_in(request)
    form = FORMS.get(verb)
    if form is None:
        raise NotFoundException(f"没有“{verb}”这项操作")
    data = _multi(await request.form())
    values = _form_values(data)
    api_verb = DECISIONS.get(verb, verb)
    if not staff.may(api_verb):
        return await _case_page(
            request,
            staff,
            case_id,
            403,
            failed=verb,
            values=values,
            refused=f"未执行：你的角色不能进行“{form.title}”。",
        )
    version_text = values.get("version", "")
    if not version_text.isdigit():
        return await _case_page(
            request, staff, case_id, 428, failed=verb, values=values, refused="缺少案件版本号。"
        )
    expected = int(version_text)
    try:
        cmd = _command_from_form(form, data)
        opened = _ledger(request)
        key = values.get("idempotency_key") or None
        result = await opened.service.execute(
            case_id, staff.actor, cmd, expected, RequestMeta(idempotency_key=key)
        )
    except FormError as exc:
        return await _case_page(
            request, staff, case_id, 422, failed=verb, values=values, refused=str(exc)
        )
    except VersionConflict:
        changes = await opened.service.history(case_id)
        newer = _timeline(opened, changes[expected:], _state(request).labels)
        return await _case_page(
            request,
            staff,
            case_id,
            412,
            failed=verb,
            values=values,
            stale=newer,
            refused="未执行：在你填写期间，其他人已修改了此案件。请查看下方的最新变化，"
            "确认后重新提交。",
        )
    except CaseNotFound:
        raise NotFoundException(f"案件 {case_id} 不存在") from None
    except DomainError as exc:
        return await _case_page(
            request, staff, case_id, _status(exc), failed=verb, values=values, **_refusal(exc)
        )
    if verb == "reveal":
        return await _case_page(
            request,
            staff,
            case_id,
            notice="已记录你的查看理由，证件号码如下。",
            revealed=result.last_position,
        )
    return Redirect(f"/cases/{case_id}?done={quote(verb)}#timeline", status_code=303)


# -- errors ---------------------------------------------------------------------------------------


def _to_login(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET":
        target = "/"
    return Redirect(f"/login?{urlencode({'next': target})}", status_code=303)


def _error_page(status: int, title: str) -> Callable[[Request[Any, Any, Any], Exception], Any]:
    def handler(request: Request[Any, Any, Any], exc: Exception) -> Template:
        detail = getattr(exc, "detail", "") or str(exc)
        if isinstance(exc, PermissionDeniedException) and "CSRF" in detail:
            detail = (
                "表单校验失败（CSRF）：页面可能已过期，或请求并非来自本系统。请刷新页面后重试。"
            )
        return Template(
            template_name="error.html",
            context={"staff": None, "title": title, "detail": detail, "path": ""},
            status_code=status,
        )

    return handler


def console_router(settings: Settings) -> Router:
    # Pages built on this module's helpers and sign-in (they import it).
    from console import exports, inspections, printing
    from console.audit import AUDIT_ROUTES
    from console.oversight import ROUTES as OVERSIGHT

    csrf = CSRFConfig(
        secret=session_key(settings.jwt_secret).hex(),
        cookie_name=CSRF_COOKIE,
        cookie_secure=_secure(settings),
        cookie_samesite="lax",
        cookie_httponly=False,
    )
    return Router(
        path="/",
        route_handlers=[
            *OVERSIGHT,
            login_page,
            login,
            logout,
            todo,
            search,
            new_case,
            payer_cases,
            register,
            case_page,
            command,
            *AUDIT_ROUTES,
            *inspections.ROUTES,
            *printing.ROUTES,
            *exports.ROUTES,
        ],
        middleware=[DefineMiddleware(CSRFMiddleware, config=csrf)],
        # The console signs in with its own session, not the API's bearer token.
        opt={"exclude_from_auth": True},
        include_in_schema=False,
        exception_handlers={
            SignInNeeded: _to_login,
            PermissionDeniedException: _error_page(403, "无权操作"),
            NotFoundException: _error_page(404, "未找到"),
            exports.Refused: _error_page(400, "无法导出"),
        },
    )
