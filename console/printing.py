"""案卷: a case's file laid out for A4, for the browser to print (or save as PDF).

The cover (case number, parties, category, class, first responder), the custody chart, every
event of the timeline, the decisions, the feedback, and what ties the file to the ledger: the
hash of its last event (the head of the case's hash chain, checked here) and the signed
checkpoint whose tree includes it, or that none does yet. The roles are the case read's
(``READ_CASES``); the parties and the events are masked exactly as the API masks them for the
reader: the case view by ``case_body``, the events by ``GET /v1/cases/{id}/events`` for those
who read histories and by the inspectors' masked read for the others.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, get
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Template

from api.cases.event_records import EventOut
from api.cases.reads import READ_CASES, READ_HISTORY, case_events
from api.cases.views import case_body, view_of
from api.inspections import inspection_events
from console.app import Staff, _ledger, _now, _state, page, signed_in
from console.charts import custody_chart
from console.timeline import DECISIONS, FEEDBACK, entries
from ledger.audit.views import CheckpointView
from ledger.bootstrap import Ledger
from ledger.store.chain import verify_case_chain

PAPER_WIDTH = 680  # the custody chart's drawing on A4: larger text than on screen


async def _events(opened: Ledger, staff: Staff, case_id: UUID) -> list[EventOut]:
    """The events as the API gives them to this reader."""
    if staff.reads(READ_HISTORY):
        return await case_events(opened.service, case_id, staff.actor)
    return await inspection_events(opened.service, case_id)


@get("/cases/{case_id:uuid}/print")
async def print_case(request: Request[Any, Any, Any], case_id: FromPath[UUID]) -> Template:
    staff = await signed_in(request)
    if not staff.reads(READ_CASES):
        raise PermissionDeniedException("你的角色不能查看案件")
    opened = _ledger(request)
    records = await opened.service.history(case_id)
    if not records or records[0].topic != "ledger.Registered":  # (a staff account's id)
        raise NotFoundException(f"案件 {case_id} 不存在")
    now = _now()
    view = case_body(view_of(records, now, opened.context), staff.actor, opened.context)
    events = await _events(opened, staff, case_id)
    timeline = entries(events, _state(request).labels)
    employer = events[0].data.get("employer") if events else None
    last = records[-1]
    audit = opened.audit
    covering = await audit.db.covering_checkpoint(last.position)
    latest = await audit.latest_checkpoint() if covering is None else covering
    trail = await opened.read_models.trail(case_id)
    return page(
        request,
        staff,
        "print.html",
        view=view,
        employer=employer if isinstance(employer, dict) else None,
        timeline=timeline,
        decisions=[e for e in timeline if e.topic in DECISIONS],
        feedback=[e for e in timeline if e.topic in FEEDBACK],
        chart=custody_chart(trail, width=PAPER_WIDTH),
        trail=trail,
        last=last,
        chain_fault=verify_case_chain(records),
        checkpoint=CheckpointView.of(covering) if covering is not None else None,
        latest=CheckpointView.of(latest) if latest is not None else None,
        printed_at=now,
    )


ROUTES = [print_case]
