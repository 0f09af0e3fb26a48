"""The case view and the accountability trail, built from a case state (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from ledger.domain.context import Context, local_date
from ledger.projections.duties import duties
from ledger.projections.fold import CaseFolder
from ledger.projections.state import CaseState
from ledger.projections.views import (
    CaseView,
    CustodyEnd,
    CustodyPeriod,
    DeadlineView,
    DutyView,
    LinkDirection,
    LinkView,
    PendingTransfer,
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
    )


def custody(s: CaseState, ctx: Context, position: int, today: date) -> list[CustodyPeriod]:
    """Who held the case when: from registration or acceptance (签收) to the next acceptance or
    the closure; a reopening starts a new period with the unit that closed it."""
    moves = sorted(
        [
            *((a.position, a.at, CustodyEnd.TRANSFERRED, a.unit) for a in s.acceptances),
            *((k.position, k.at, CustodyEnd.CLOSED, None) for k in s.closures),
            *((r.position, r.at, CustodyEnd.OPEN, None) for r in s.reopenings),
        ],
        key=lambda move: move[0],
    )
    periods: list[CustodyPeriod] = []
    unit, since, since_position = s.receiving_unit, s.registered_at, s.registered_position
    holding = True
    for move_position, at, kind, new_unit in moves:
        if move_position > position:
            break
        if holding and kind is not CustodyEnd.OPEN:
            periods.append(_period(ctx, unit, since, since_position, at, move_position, kind))
        if kind is CustodyEnd.CLOSED:
            holding = False
            continue
        unit = new_unit or unit
        since, since_position, holding = at, move_position, True
    if holding:
        days, provisional = ctx.calendar.working_days_between(local_date(since), today)
        periods.append(
            CustodyPeriod(
                unit=unit,
                from_at=since,
                from_position=since_position,
                to_at=None,
                to_position=None,
                dwell_working_days=max(days, 0),
                dwell_provisional=provisional,
                ended=CustodyEnd.OPEN,
            )
        )
    return periods


def _period(
    ctx: Context,
    unit: str,
    since: datetime,
    since_position: int,
    until: datetime,
    until_position: int,
    ended: CustodyEnd,
) -> CustodyPeriod:
    days, provisional = ctx.calendar.working_days_between(local_date(since), local_date(until))
    return CustodyPeriod(
        unit=unit,
        from_at=since,
        from_position=since_position,
        to_at=until,
        to_position=until_position,
        dwell_working_days=max(days, 0),
        dwell_provisional=provisional,
        ended=ended,
    )
