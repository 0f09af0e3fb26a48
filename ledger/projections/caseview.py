"""The case view and the accountability trail, built from a case state (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import msgspec

from ledger.domain.context import Context, local_date
from ledger.projections.custody import holdings
from ledger.projections.duties import duties
from ledger.projections.fold import CaseFolder
from ledger.projections.state import CaseState, ConsultStep, TaskStep
from ledger.projections.views import (
    AssignmentView,
    CaseView,
    ConsultationView,
    CustodyEnd,
    CustodyPeriod,
    DeadlineView,
    DutyView,
    LinkDirection,
    LinkView,
    PendingTransfer,
    StaffView,
    TaskStatus,
    TaskView,
    Trail,
)
from ledger.store.port import RecordedEvent


def case_view(s: CaseState, now: datetime) -> CaseView:
    """The view of a case; ``overdue`` is judged on ``now``'s Asia/Shanghai date."""
    pending = s.pending_transfer
    return CaseView(
        case_id=s.case_id,
        status=s.status,
        category=s.category,
        classification=s.classification,
        route=s.route,
        channel=s.channel,
        jurisdiction=s.jurisdiction,
        first_responder=s.first_responder,
        receiving_unit=s.receiving_unit,
        holding_unit=s.holder,
        pending_transfer=None
        if pending is None
        else PendingTransfer(
            to_unit=pending.to_unit,
            to_jurisdiction=pending.to_jurisdiction,
            since=pending.at,
            position=pending.position,
        ),
        received_at=s.received_at,
        registered_at=s.registered_at,
        closed_at=s.closures[-1].at if s.closed else None,
        deadline=None
        if s.due is None
        else DeadlineView(due=s.due, provisional=s.due_provisional, extended=s.due_extended),
        overdue=is_overdue(s, now),
        extension=s.extension,
        reclassification=s.reclassification,
        enforcement=s.enforcement,
        escalated=bool(s.escalations),
        links=[
            LinkView(
                case_id=k.case_id,
                relation=k.relation,
                direction=LinkDirection.OUTGOING if k.outgoing else LinkDirection.INCOMING,
                position=k.position,
            )
            for k in s.links
        ],
        satisfaction=s.satisfaction,
        transfer_count=len(s.transfers),
        return_count=len(s.returns),
        urge_count=s.urge_count,
        corrected_positions=list(s.corrected_positions),
        payer=s.payer,
        version=s.version,
        last_position=s.last_position,
        case_number=s.case_number,
        follow_up_count=len(s.follow_ups),
        follow_up_flag=s.follow_up_flag,
        consultations=consultations(s.consultations),
        tasks=[task_view(t, local_date(now)) for t in s.tasks],
        assignment=assignment(s, now),
    )


def assignment(s: CaseState, now: datetime) -> AssignmentView | None:
    """Who assigned the matter (交办/转办) and the reply owed; the first reply answers it."""
    a = s.assignment
    if a is None:
        return None
    reply = s.assignment_replies[0] if s.assignment_replies else None
    if reply is None:
        return msgspec.structs.replace(a, reply_overdue=local_date(now) > a.reply_due)
    return msgspec.structs.replace(
        a,
        replied_at=reply.at,
        reply_position=reply.position,
        replied_late=local_date(reply.at) > a.reply_due,
    )


def consultations(steps: Iterable[ConsultStep]) -> list[ConsultationView]:
    return [
        ConsultationView(
            at=k.at,
            position=k.position,
            recorded_by=StaffView(staff_id=k.staff_id, name=k.name, unit=k.unit),
            units=list(k.units),
            outcome=k.outcome,
        )
        for k in steps
    ]


def task_view(t: TaskStep, today: date, position: int | None = None) -> TaskView:
    """A task as of ``today`` (and log ``position``: a completion after it is not yet)."""
    done = t.done_position is not None and (position is None or t.done_position <= position)
    if done:
        assert t.done_at is not None
        status = TaskStatus.DONE if local_date(t.done_at) <= t.due else TaskStatus.DONE_LATE
    else:
        status = TaskStatus.OVERDUE if today > t.due else TaskStatus.OPEN
    return TaskView(
        meeting_id=t.meeting_id,
        decision_no=t.decision_no,
        decision=t.decision,
        assigned_unit=t.assigned_unit,
        due=t.due,
        status=status,
        position=t.position,
        done_at=t.done_at if done else None,
        done_position=t.done_position if done else None,
        result=t.result if done else "",
    )


def is_overdue(s: CaseState, now: datetime) -> bool:
    return not s.closed and s.due is not None and local_date(now) > s.due


def fold_case(
    records: Iterable[RecordedEvent], context: Context, state: CaseState | None = None
) -> CaseState:
    """One case's state after ``records`` (its own events, in version order), starting from
    ``state`` — the state before the first of them, changed in place — or from nothing."""
    folder = CaseFolder(context, {} if state is None else {state.case_id: state})
    case_id = None
    for record in records:
        folder.apply(record)
        case_id = record.case_id
    folded = folder.states.get(case_id) if case_id is not None else None
    if folded is None:
        raise ValueError("the events hold no registration of a case")
    return folded


def case_view_from_events(
    records: Iterable[RecordedEvent], now: datetime, context: Context | None = None
) -> CaseView:
    """The view of one case from its events (e.g. as of a version or a moment, for the API).

    Links are shown as recorded on this case; links recorded on other cases need their events.
    """
    return case_view(fold_case(records, context or Context()), now)


def trail(s: CaseState, ctx: Context, position: int, moment: datetime) -> Trail | None:
    """Custody periods and FR1–FR5 duties as of log ``position`` and ``moment`` (None if the
    case was not registered yet at ``position``)."""
    if s.registered_position > position:
        return None
    today = local_date(moment)
    shown = []
    for duty in duties(s, ctx):
        status = duty.status(position, today)
        if status is None:
            continue
        done = duty.done is not None and duty.done <= position
        shown.append(
            DutyView(
                check=duty.check,
                label=duty.check.label,
                status=status,
                due=duty.due,
                due_provisional=duty.provisional,
                done_at=duty.done_at if done else None,
                positions=list(duty.positions if done else duty.basis),
            )
        )
    return Trail(
        case_id=s.case_id,
        as_of=moment,
        position=position,
        first_responder=s.first_responder,
        custody=custody(s, ctx, position, today),
        duties=shown,
        consultations=consultations(k for k in s.consultations if k.position <= position),
    )


def custody(s: CaseState, ctx: Context, position: int, today: date) -> list[CustodyPeriod]:
    """Who held the case when (``ledger.projections.custody``), as the log stood at
    ``position``, each period with the working days it lasted (until ``today`` if it still does
    then)."""
    closures = {k.position for k in s.closures}
    shown = []
    for h in holdings(s):
        if h.from_position > position:
            break
        ended = h.to_position is not None and h.to_position <= position
        until = local_date(h.to_at) if ended and h.to_at is not None else today
        days, provisional = ctx.calendar.working_days_between(local_date(h.from_at), until)
        shown.append(
            CustodyPeriod(
                unit=h.unit,
                from_at=h.from_at,
                from_position=h.from_position,
                to_at=h.to_at if ended else None,
                to_position=h.to_position if ended else None,
                dwell_working_days=max(days, 0),
                dwell_provisional=provisional,
                ended=CustodyEnd.OPEN
                if not ended
                else CustodyEnd.CLOSED
                if h.to_position in closures
                else CustodyEnd.TRANSFERRED,
            )
        )
    return shown
