"""Folding events into case states: the pure core of every projection (no I/O).

The caller hands the folder every state an event can touch: the event's own case, the other case
of a link, and for a registration every case of the same payer that it may repeat, open or
recently closed (FR7 is the one check that needs other cases). The runner prefetches those from
the database per batch; ``case_view_from_events`` folds a single case with nothing else, which is
all a view needs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from ledger.domain.codes import CaseStatus
from ledger.domain.context import Context, local_date
from ledger.projections import events as ev
from ledger.projections.events import ProjectionError
from ledger.projections.repeats import repeats
from ledger.projections.state import (
    AcceptStep,
    CaseState,
    ClassifiedStep,
    ConsultStep,
    EarlierCase,
    ExtensionStep,
    FollowUpStep,
    LinkStep,
    Step,
    TaskStep,
    TransferStep,
)
from ledger.projections.views import (
    AssignmentView,
    EnforcementView,
    ExtensionState,
    ExtensionView,
    PayerView,
    ReclassificationView,
    StaffView,
)
from ledger.store.port import RecordedEvent

PayerKey = str  # the payer's identifier (FR7: 重复跑, through any channel, in any category)


# Unit codes, staff ids and names recur in every step of every case: one string object each
# instead of one per decoded event (a rebuild holds tens of thousands of states at once).
_i = sys.intern


def _opt(text: str | None) -> str | None:
    return None if text is None else sys.intern(text)


def utc(moment: datetime) -> datetime:
    # States are compared and re-encoded; one offset keeps equal moments equal byte for byte.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # A time at the edge of the calendar with no UTC equivalent (year 1 at +14:00), stored
        # before commands were held to ``guards.EARLIEST``: folded as the nearest UTC time, so
        # that one stored event can never stop the projections.
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


class CaseFolder:
    """Applies events in log order to ``states``; returns which states each event changed."""

    def __init__(
        self,
        context: Context,
        states: MutableMapping[UUID, CaseState] | None = None,
        payers: dict[PayerKey, set[UUID]] | None = None,
    ) -> None:
        self.context = context  # the settings: FR7's repeat window and its working days
        self.states: MutableMapping[UUID, CaseState] = {} if states is None else states
        # Cases per payer that may be repeated (open or recently closed); each is checked when
        # it matters (``repeats.repeats``).
        self.payers: dict[PayerKey, set[UUID]] = {} if payers is None else payers
        # When the log recorded the event being applied.
        self.recorded_at = datetime.min.replace(tzinfo=UTC)

    def apply(self, record: RecordedEvent, event: ev.Event | None = None) -> tuple[UUID, ...]:
        if event is None:
            event = ev.decode(record)
        if isinstance(event, ev.Registered):
            self._register(record, event)
            return (record.case_id,)
        state = self.states.get(record.case_id)
        if state is None:
            if event is None:
                return ()  # not a case event (or not one of a case we know)
            raise ProjectionError(
                f"event at position {record.position} ({record.topic}) for case "
                f"{record.case_id}, which has no registration before it"
            )
        state.version, state.last_position = record.version, record.position
        self.recorded_at = record.recorded_at  # (the few handlers that keep it read it here)
        if event is None:
            return (state.case_id,)
        handler = _HANDLERS.get(type(event))
        other = handler(self, state, record.position, event) if handler is not None else None
        return (state.case_id,) if other is None else (state.case_id, other)

    def _register(self, record: RecordedEvent, e: Any) -> None:
        key = e.payer.identifier
        came_back_on = local_date(utc(e.received_at))
        earlier = [
            EarlierCase(s.case_id, s.registered_position)
            for s in (self.states.get(case_id) for case_id in self.payers.get(key, ()))
            if s is not None and repeats(s, came_back_on, self.context)
        ]
        earlier.sort(key=lambda c: c.registered_position)
        actor = e.actor
        self.states[record.case_id] = CaseState(
            case_id=record.case_id,
            version=record.version,
            last_position=record.position,
            registered_position=record.position,
            received_at=utc(e.received_at),
            registered_at=utc(e.occurred_at),
            channel=e.channel,
            category=e.category,
            jurisdiction=_i(e.jurisdiction),
            registered_jurisdiction=_i(e.jurisdiction),
            payer=PayerView(
                kind=e.payer.kind,
                name=e.payer.name,
                identifier=e.payer.identifier,
                phone=e.payer.phone,
            ),
            first_responder=StaffView(
                staff_id=_i(actor.staff_id), name=_i(actor.name), unit=_i(actor.unit)
            ),
            receiving_unit=_i(e.receiving_unit),
            holder=_i(e.receiving_unit),
            earlier_open_cases=earlier,
            case_number=e.case_number,
            assignment=_assignment(e.assignment, record.position, e.occurred_at),
        )
        self.payers.setdefault(key, set()).add(record.case_id)

    # -- one method per event type; each returns the id of another case it changed, if any ------

    def _classified(self, s: CaseState, position: int, e: Any) -> None:
        at = utc(e.occurred_at)
        # The deadline the aggregate set, carried by the event (R9): the view, the findings
        # and the rule read the same one, whatever the policy says today.
        s.classifications.append(
            ClassifiedStep(
                position, at, _i(e.actor.staff_id), e.classification, e.due, e.due_provisional
            )
        )
        s.classification, s.route = e.classification, e.route
        # As on the aggregate: a (re)classification sets the class deadline afresh.
        s.due, s.due_provisional, s.due_extended = e.due, e.due_provisional, False
        if s.status in (CaseStatus.REGISTERED, CaseStatus.REOPENED):
            s.status = CaseStatus.CLASSIFIED

    def _reclassification_requested(self, s: CaseState, position: int, e: Any) -> None:
        s.reclassification = ReclassificationView(
            state=ExtensionState.REQUESTED,
            classification=e.classification,
            route=e.route,
            requested_at=utc(e.occurred_at),
        )

    def _reclassification_decided(self, s: CaseState, position: int, e: Any) -> None:
        at = utc(e.occurred_at)
        asked = s.reclassification
        s.reclassification = ReclassificationView(
            state=ExtensionState.APPROVED if e.approved else ExtensionState.REFUSED,
            classification=e.classification,
            route=e.route,
            requested_at=asked.requested_at if asked is not None else at,
            decided_at=at,
        )
        if e.approved and e.due is not None:
            # A new class, its deadline from now on; the earlier ones stay in the steps (FR9).
            s.classifications.append(
                ClassifiedStep(
                    position, at, _i(e.actor.staff_id), e.classification, e.due, e.due_provisional
                )
            )
            s.classification, s.route = e.classification, e.route
            s.due, s.due_provisional, s.due_extended = e.due, e.due_provisional, False

    def _transferred(self, s: CaseState, position: int, e: Any) -> None:
        s.transfers.append(
            TransferStep(
                position,
                utc(e.occurred_at),
                _i(e.actor.staff_id),
                s.holder,
                _opt(e.to_unit),
                _opt(e.to_jurisdiction),
                _i(e.actor.name),
            )
        )
        s.status = CaseStatus.TRANSFERRED

    def _accepted(self, s: CaseState, position: int, e: Any) -> None:
        pending = s.pending_transfer
        jurisdiction = pending.to_jurisdiction if pending is not None else None
        if jurisdiction is not None:
            s.jurisdiction = jurisdiction
        s.acceptances.append(
            AcceptStep(
                position,
                utc(e.occurred_at),
                _i(e.actor.staff_id),
                _i(e.actor.unit),
                jurisdiction,
                _i(e.actor.name),
            )
        )
        s.holder = _i(e.actor.unit)
        s.status = CaseStatus.ACCEPTED

    def _transfer_returned(self, s: CaseState, position: int, e: Any) -> None:
        s.returns.append(self._step(position, e))  # custody never passed: the holder stays
        s.status = CaseStatus.RETURNED

    def _step(self, position: int, e: Any) -> Step:
        return Step(position, utc(e.occurred_at), _i(e.actor.staff_id), _i(e.actor.unit))

    def _escalated(self, s: CaseState, position: int, e: Any) -> None:
        s.escalations.append(self._step(position, e))
        s.status = CaseStatus.ESCALATED

    def _decided(self, s: CaseState, position: int, e: Any) -> None:
        s.decisions.append(self._step(position, e))
        s.status = CaseStatus.DECIDED

    def _urged(self, s: CaseState, position: int, e: Any) -> None:
        s.urge_count += 1

    def _extension_requested(self, s: CaseState, position: int, e: Any) -> None:
        s.extension = ExtensionView(
            state=ExtensionState.REQUESTED, until=e.until, requested_at=utc(e.occurred_at)
        )

    def _extension_decided(self, s: CaseState, position: int, e: Any) -> None:
        at = utc(e.occurred_at)
        s.extensions.append(ExtensionStep(position, at, e.approved, e.until))
        requested_at = s.extension.requested_at if s.extension is not None else at
        s.extension = ExtensionView(
            state=ExtensionState.APPROVED if e.approved else ExtensionState.REFUSED,
            until=e.until,
            requested_at=requested_at,
            decided_at=at,
        )
        if e.approved:
            s.due, s.due_provisional, s.due_extended = e.until, False, True

    def _enforce(self, s: CaseState, **changes: Any) -> None:
        s.enforcement = msgspec.structs.replace(s.enforcement or EnforcementView(), **changes)

    def _demand_notice(self, s: CaseState, position: int, e: Any) -> None:
        self._enforce(s, demand_notice_served_at=utc(e.served_at), demand_amount=e.amount)

    def _arrears(self, s: CaseState, position: int, e: Any) -> None:
        self._enforce(
            s,
            arrears_amount=e.amount,
            arrears_period_from=e.period_from,
            arrears_period_to=e.period_to,
        )

    def _referred(self, s: CaseState, position: int, e: Any) -> None:
        self._enforce(s, referred_at=utc(e.occurred_at), court=e.court)
        s.status = CaseStatus.REFERRED_TO_COURT

    def _court_outcome(self, s: CaseState, position: int, e: Any) -> None:
        self._enforce(s, court_outcome=e.outcome, court_outcome_at=utc(e.occurred_at))

    def _feedback(self, s: CaseState, position: int, e: Any) -> None:
        s.feedbacks.append(self._step(position, e))
        s.feedback_satisfactions.append(e.satisfaction)
        s.satisfaction = e.satisfaction
        s.status = CaseStatus.FEEDBACK_GIVEN

    def _closed(self, s: CaseState, position: int, e: Any) -> None:
        s.closures.append(self._step(position, e))
        s.status = CaseStatus.CLOSED

    def _reopened(self, s: CaseState, position: int, e: Any) -> None:
        s.reopenings.append(self._step(position, e))
        s.status = CaseStatus.REOPENED
        # Open again: a later registration of the same payer is a repeat trip.
        self.payers.setdefault(s.payer.identifier, set()).add(s.case_id)

    def _follow_up(self, s: CaseState, position: int, e: Any) -> None:
        actor = e.actor
        s.follow_ups.append(
            FollowUpStep(
                position, utc(e.occurred_at), _i(actor.staff_id), _i(actor.unit), e.satisfaction
            )
        )  # the case stays closed: no change of status

    def _follow_up_resolved(self, s: CaseState, position: int, e: Any) -> None:
        s.follow_up_resolutions.append(self._step(position, e))

    def link_back(self, record: RecordedEvent, e: Any) -> tuple[UUID, ...]:
        """Only the other side of a link recorded on a case folded elsewhere (a partitioned
        replay folds each case in one process, a link can join cases of two); the cases
        changed: the linked one, if it is here."""
        other = self.states.get(e.case_id)
        if other is None:
            return ()
        other.links.append(LinkStep(record.position, record.case_id, e.relation, False))
        return (other.case_id,)

    def _linked(self, s: CaseState, position: int, e: Any) -> UUID | None:
        s.links.append(LinkStep(position, e.case_id, e.relation, True))
        other = self.states.get(e.case_id)
        if other is None:
            return None  # folding one case alone (or its partition): the other side is elsewhere
        other.links.append(LinkStep(position, s.case_id, e.relation, False))
        return other.case_id

    def _corrected(self, s: CaseState, position: int, e: Any) -> None:
        s.corrected_positions.append(e.position)

    def _consulted(self, s: CaseState, position: int, e: Any) -> None:
        actor = e.actor
        units = tuple(_i(u) for u in e.units)
        s.consultations.append(
            ConsultStep(
                position,
                utc(e.occurred_at),
                _i(actor.staff_id),
                _i(actor.unit),
                units,
                e.outcome,
                _i(actor.name),
                utc(self.recorded_at),
            )
        )

    def _meeting_decision(self, s: CaseState, position: int, e: Any) -> None:
        s.tasks.append(
            TaskStep(
                position,
                utc(e.occurred_at),
                e.meeting_id,
                e.decision_no,
                e.decision,
                _i(e.assigned_unit),
                e.due,
            )
        )

    def _task_completed(self, s: CaseState, position: int, e: Any) -> None:
        for n, task in enumerate(s.tasks):
            if task.meeting_id == e.meeting_id and task.decision_no == e.decision_no:
                s.tasks[n] = msgspec.structs.replace(
                    task, done_position=position, done_at=utc(e.occurred_at), result=e.result
                )

    def _assignment_recorded(self, s: CaseState, position: int, e: Any) -> None:
        s.assignment = _assignment(e.assignment, position, e.occurred_at)

    def _assignment_replied(self, s: CaseState, position: int, e: Any) -> None:
        s.assignment_replies.append(self._step(position, e))


def _assignment(a: Any, position: int, at: datetime) -> AssignmentView | None:
    """An assignment (交办/转办) as the state keeps it: from the registration or a later
    ``AssignmentRecorded``, with the position and time of the event that recorded it."""
    if a is None:
        return None
    return AssignmentView(
        body=a.body,
        body_name=a.body_name,
        reference=a.reference,
        reply_due=a.reply_due,
        position=position,
        recorded_at=utc(at),
    )


_HANDLERS: dict[type[ev.Event], Callable[[CaseFolder, CaseState, int, Any], UUID | None]] = {
    ev.Classified: CaseFolder._classified,
    ev.Transferred: CaseFolder._transferred,
    ev.ReclassificationRequested: CaseFolder._reclassification_requested,
    ev.ReclassificationDecided: CaseFolder._reclassification_decided,
    ev.Accepted: CaseFolder._accepted,
    ev.TransferReturned: CaseFolder._transfer_returned,
    ev.Escalated: CaseFolder._escalated,
    ev.Decided: CaseFolder._decided,
    ev.Urged: CaseFolder._urged,
    ev.ExtensionRequested: CaseFolder._extension_requested,
    ev.ExtensionDecided: CaseFolder._extension_decided,
    ev.DemandNoticeServed: CaseFolder._demand_notice,
    ev.ArrearsConfirmed: CaseFolder._arrears,
    ev.ReferredToCourt: CaseFolder._referred,
    ev.CourtOutcomeRecorded: CaseFolder._court_outcome,
    ev.FeedbackGiven: CaseFolder._feedback,
    ev.Closed: CaseFolder._closed,
    ev.Reopened: CaseFolder._reopened,
    ev.FollowUpVisited: CaseFolder._follow_up,
    ev.FollowUpResolved: CaseFolder._follow_up_resolved,
    ev.Linked: CaseFolder._linked,
    ev.Corrected: CaseFolder._corrected,
    ev.Consulted: CaseFolder._consulted,
    ev.MeetingDecisionRecorded: CaseFolder._meeting_decision,
    ev.TaskCompleted: CaseFolder._task_completed,
    ev.AssignmentRecorded: CaseFolder._assignment_recorded,
    ev.AssignmentReplied: CaseFolder._assignment_replied,
}
