"""The Dispute aggregate: one social-insurance fee dispute, from first contact to closure.

Each public method is a command: it checks the rules that guard it (R1–R9 of DOMAIN.md, all in
``ledger.domain.guards``) and only then triggers its event, declared in ``ledger.domain.events``.
The state change an event makes is one small method here, registered with ``@applies``: the
fold of a case is those methods applied in order, and nothing else changes a case. Commands take
their parameters by the names of the command's fields (``ledger.commands`` calls them by name).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from ledger.domain import events as ev
from ledger.domain import guards
from ledger.domain.actor import Actor, StaffRef
from ledger.domain.codes import (
    CaseStatus,
    Category,
    Channel,
    Classification,
    DecisionOutcome,
    LinkRelation,
    Satisfaction,
)
from ledger.domain.context import Context, Facts, local_date
from ledger.domain.payer import Assignment, Party, Payer

E = TypeVar("E")


class Task(msgspec.Struct, frozen=True, kw_only=True):
    """A meeting's decision about the case, to be carried out by ``assigned_unit``."""

    assigned_unit: str
    due: date
    done: bool = False


def task_key(meeting_id: UUID, number: int) -> str:
    return f"{meeting_id}/{number}"


_APPLY: dict[str, Callable[[Any, Any], None]] = {}


def applies(event_class: type[E]) -> Callable[[Callable[[Any, E], None]], Callable[[Any, E], None]]:
    """Registers the decorated method as the state change of ``event_class``."""

    def register(method: Callable[[Any, E], None]) -> Callable[[Any, E], None]:
        _APPLY[getattr(event_class, "TOPIC")] = method  # noqa: B009 - a ClassVar of every event
        return method

    return register


class Dispute(Aggregate):
    TOPIC = "ledger.Dispute"

    class Event(Aggregate.Event):
        TOPIC = "ledger.Dispute.Event"

    class Created(Aggregate.Created):
        TOPIC = "ledger.Dispute.Created"

    # The events a dispute records (their topics are registered with the aggregate's).
    Registered = ev.Registered
    Classified = ev.Classified
    ReclassificationRequested = ev.ReclassificationRequested
    ReclassificationDecided = ev.ReclassificationDecided
    Transferred = ev.Transferred
    Accepted = ev.Accepted
    TransferReturned = ev.TransferReturned
    Escalated = ev.Escalated
    Decided = ev.Decided
    Consulted = ev.Consulted
    Urged = ev.Urged
    ExtensionRequested = ev.ExtensionRequested
    ExtensionDecided = ev.ExtensionDecided
    DemandNoticeServed = ev.DemandNoticeServed
    ArrearsConfirmed = ev.ArrearsConfirmed
    ReferredToCourt = ev.ReferredToCourt
    CourtOutcomeRecorded = ev.CourtOutcomeRecorded
    FeedbackGiven = ev.FeedbackGiven
    Closed = ev.Closed
    Reopened = ev.Reopened
    FollowUpVisited = ev.FollowUpVisited
    FollowUpResolved = ev.FollowUpResolved
    Linked = ev.Linked
    Corrected = ev.Corrected
    IdentifiersRevealed = ev.IdentifiersRevealed
    MeetingDecisionRecorded = ev.MeetingDecisionRecorded
    TaskCompleted = ev.TaskCompleted

    AssignmentRecorded = ev.AssignmentRecorded
    AssignmentReplied = ev.AssignmentReplied

    # The state the rules decide on: every attribute a fold sets, with its type (snapshots are
    # made and checked from these declarations, ``ledger.snapshots``).
    case_number: str | None  # 潜社争〔2026〕0001号; None on cases registered before numbering
    first_responder: StaffRef
    channel: Channel
    received_at: datetime
    payer: Payer
    employer: Party | None  # the payer when it is an employer, else as named (R1, R11)
    jurisdiction: str
    receiving_unit: str
    category: Category
    summary: str
    status: CaseStatus
    classification: Classification | None
    route: int | None
    classifier_unit: str | None  # None: the first responder classifies (R2)
    reclassification_requested: Classification | None
    reclassification_route: int | None
    holder: str
    pending_unit: str | None
    pending_jurisdiction: str | None
    pending_since: datetime | None
    units_held: list[str]
    transfers: int
    escalated: bool
    decided: bool
    facts_established: bool
    feedback_given: bool
    satisfaction: Satisfaction | None
    due: date | None
    due_provisional: bool
    extension_requested_until: date | None
    demand_notice_served_at: datetime | None
    arrears: Decimal | None
    referred_to_court: bool
    court_outcome: str | None
    court_outcome_detail: str
    court_outcome_version: int | None
    closed: bool
    follow_up_flag: bool  # an unsatisfied follow-up awaits the office (reopen, or why not)
    links: dict[UUID, LinkRelation]
    tasks: dict[str, Task]  # a meeting's decisions on the case, by "<meeting id>/<number>"

    assignment: Assignment | None  # who assigned the matter (交办/转办) and the reply it is owed
    assignment_replied: bool
    accepted_on: date | None  # the first classification's date: a 信访 matter's acceptance

    def __init__(self) -> None:
        pass  # the state is set by the registration (``_registered``)

    def when(self, event: Any) -> None:
        """Applies ``event`` to this case: the fold's one step."""
        _APPLY[event.TOPIC](self, event)

    # -- registration (三(一)) ------------------------------------------------------------------

    @classmethod
    def register(
        cls,
        *,
        case_id: UUID,
        actor: Actor,
        channel: Channel,
        received_at: datetime,
        payer: Payer,
        jurisdiction: str,
        category: Category,
        summary: str,
        preliminary_opinion: str,
        now: datetime,
        context: Context,
        employer: Party | None = None,
        case_number: str | None = None,
        assignment: Assignment | None = None,
    ) -> Dispute:
        """``case_number``: given by the ledger when it records the registration (the store
        numbers registrations under its append lock); None while the rules are checked."""
        received_at = guards.registration(
            actor, received_at, jurisdiction, summary, preliminary_opinion, now, context
        )
        payer = guards.payer(payer)
        return cls._create(
            cls.Registered,
            id=case_id,
            actor=actor,
            channel=channel,
            received_at=received_at,
            payer=payer,
            employer=guards.registration_employer(payer, category, employer),
            jurisdiction=jurisdiction,
            receiving_unit=actor.unit,
            category=category,
            summary=summary.strip(),
            preliminary_opinion=preliminary_opinion.strip(),
            occurred_at=now,
            case_number=case_number,
            assignment=guards.assignment(assignment, received_at),
        )

    @applies(ev.Registered)
    def _registered(self, e: ev.Registered) -> None:
        # R2: whoever registers is the first responder, for good.
        actor = e.actor
        self.case_number = e.case_number
        self.first_responder = StaffRef(staff_id=actor.staff_id, name=actor.name, unit=actor.unit)
        self.channel = e.channel
        self.received_at = e.received_at
        self.payer = e.payer
        self.employer = e.employer or guards.payer_as_party(e.payer)
        self.jurisdiction = e.jurisdiction
        self.receiving_unit = e.receiving_unit
        self.category = e.category
        self.summary = e.summary
        self.status = CaseStatus.REGISTERED
        self.classification = None
        self.route = None
        self.classifier_unit = None
        self.reclassification_requested = None
        self.reclassification_route = None
        self.holder = e.receiving_unit
        self.pending_unit = None
        self.pending_jurisdiction = None
        self.pending_since = None
        self.units_held = [e.receiving_unit]
        self.transfers = 0
        self.escalated = False
        self.decided = False
        self.facts_established = False
        self.feedback_given = False
        self.satisfaction = None
        self.due = None
        self.due_provisional = False
        self.extension_requested_until = None
        self.demand_notice_served_at = None
        self.arrears = None
        self.referred_to_court = False
        self.court_outcome = None
        self.court_outcome_detail = ""
        self.court_outcome_version = None
        self.closed = False
        self.follow_up_flag = False
        self.links = {}
        self.tasks = {}

        self.assignment = e.assignment
        self.assignment_replied = False
        self.accepted_on = None

    # -- classification and routing (三(二)) --------------------------------------------------

    def classify(
        self,
        actor: Actor,
        classification: Classification,
        route: int,
        reason: str,
        now: datetime,
        context: Context,
    ) -> None:
        guards.open_case(self)
        guards.classifier(self, actor)
        guards.first_classification(self)
        guards.route(route)
        received_on = local_date(self.received_at)
        deadline = context.case_deadline(self.channel, received_on, local_date(now), classification)
        self.trigger_event(
            self.Classified,
            actor=actor,
            classification=classification,
            route=route,
            reason=guards.text("reason", reason),
            due=deadline.due,
            due_provisional=deadline.provisional,
            occurred_at=now,
        )

    @applies(ev.Classified)
    def _classified(self, e: ev.Classified) -> None:
        self.classification = e.classification
        self.route = e.route
        self.due, self.due_provisional = e.due, e.due_provisional
        if self.accepted_on is None:
            self.accepted_on = local_date(e.occurred_at)
        if self.status in (CaseStatus.REGISTERED, CaseStatus.REOPENED):
            self.status = CaseStatus.CLASSIFIED

    def reclassify(
        self,
        actor: Actor,
        classification: Classification | None,
        route: int | None,
        reason: str,
        approve: bool | None,
        now: datetime,
        context: Context,
    ) -> None:
        """Request a reclassification (``classification``, ``route``, ``reason``), or decide
        one (``approve``, the office) — R10."""
        if guards.reclassification_form(classification, route, approve) == "decide":
            assert approve is not None
            self.decide_reclassification(actor, approve, reason, now, context)
        else:
            assert classification is not None
            assert route is not None
            self.request_reclassification(actor, classification, route, reason, now, context)

    def request_reclassification(
        self,
        actor: Actor,
        classification: Classification,
        route: int,
        reason: str,
        now: datetime,
        context: Context,
    ) -> None:
        guards.open_case(self)
        guards.reclassification_request(self, actor, classification, route, context)
        self.trigger_event(
            self.ReclassificationRequested,
            actor=actor,
            classification=classification,
            route=route,
            reason=guards.text("reason", reason),
            occurred_at=now,
        )

    @applies(ev.ReclassificationRequested)
    def _reclassification_requested(self, e: ev.ReclassificationRequested) -> None:
        self.reclassification_requested = e.classification
        self.reclassification_route = e.route

    def decide_reclassification(
        self, actor: Actor, approve: bool, reason: str, now: datetime, context: Context
    ) -> None:
        guards.open_case(self)
        classification, route = guards.reclassification_decision(self, actor, context)
        received_on = local_date(self.received_at)
        accepted_on = self.accepted_on or received_on
        deadline = context.case_deadline(self.channel, received_on, accepted_on, classification)
        self.trigger_event(
            self.ReclassificationDecided,
            actor=actor,
            approved=approve,
            classification=classification,
            route=route,
            reason=guards.optional_text("reason", reason),
            due=deadline.due if approve else None,
            due_provisional=deadline.provisional if approve else False,
            previous_due=self.due,
            occurred_at=now,
        )

    @applies(ev.ReclassificationDecided)
    def _reclassification_decided(self, e: ev.ReclassificationDecided) -> None:
        # R10: the approved class sets the deadline; the one it replaces stays in the events.
        if e.approved:
            self.classification, self.route = e.classification, e.route
            self.due, self.due_provisional = e.due, e.due_provisional
        self.reclassification_requested = self.reclassification_route = None

    def transfer(
        self,
        actor: Actor,
        to_unit: str | None,
        to_jurisdiction: str | None,
        reason: str,
        now: datetime,
        context: Context,
    ) -> None:
        guards.open_case(self)
        guards.not_awaiting_acceptance(self)
        guards.may_handle(self, actor, context)
        guards.transfer_target(self, to_unit, to_jurisdiction, context)
        self.trigger_event(
            self.Transferred,
            actor=actor,
            to_unit=to_unit,
            to_jurisdiction=to_jurisdiction,
            reason=guards.text("reason", reason),
            occurred_at=now,
        )

    @applies(ev.Transferred)
    def _transferred(self, e: ev.Transferred) -> None:
        self.pending_unit, self.pending_jurisdiction = e.to_unit, e.to_jurisdiction
        self.pending_since = e.occurred_at
        self.transfers += 1
        self.status = CaseStatus.TRANSFERRED

    def accept(self, actor: Actor, note: str, now: datetime, context: Context) -> None:
        guards.open_case(self)
        guards.acceptor(self, actor, context)
        self.trigger_event(
            self.Accepted, actor=actor, note=guards.optional_text("note", note), occurred_at=now
        )

    @applies(ev.Accepted)
    def _accepted(self, e: ev.Accepted) -> None:
        if self.pending_jurisdiction is not None:
            self.jurisdiction = self.pending_jurisdiction
        if self.classification is None:  # R2, R13: the accepting unit classifies
            self.classifier_unit = e.actor.unit
        self.holder = e.actor.unit
        self.units_held.append(e.actor.unit)
        self.pending_unit = self.pending_jurisdiction = self.pending_since = None
        self.status = CaseStatus.ACCEPTED

    def return_transfer(self, actor: Actor, reason: str, now: datetime, context: Context) -> None:
        guards.open_case(self)
        guards.transfer_return(self, actor, now, context)
        self.trigger_event(
            self.TransferReturned,
            actor=actor,
            reason=guards.text("reason", reason),
            occurred_at=now,
        )

    @applies(ev.TransferReturned)
    def _transfer_returned(self, e: ev.TransferReturned) -> None:
        self.pending_unit = self.pending_jurisdiction = self.pending_since = None
        self.status = CaseStatus.RETURNED

    def escalate(self, actor: Actor, reason: str, now: datetime, context: Context) -> None:
        guards.open_case(self)
        guards.classified(self)
        guards.not_escalated(self)
        guards.may_escalate(self, actor, context)
        self.trigger_event(
            self.Escalated, actor=actor, reason=guards.text("reason", reason), occurred_at=now
        )

    @applies(ev.Escalated)
    def _escalated(self, e: ev.Escalated) -> None:
        self.escalated = True
        self.status = CaseStatus.ESCALATED

    # -- handling (三(三)) ------------------------------------------------------------------------

    def decide(
        self,
        actor: Actor,
        outcome: DecisionOutcome,
        finding: str,
        amount: Decimal | str | None,
        now: datetime,
        context: Context,
    ) -> None:
        guards.open_case(self)
        guards.classified(self)
        guards.not_awaiting_acceptance(self)
        guards.may_handle(self, actor, context)
        self.trigger_event(
            self.Decided,
            actor=actor,
            outcome=outcome,
            finding=guards.text("finding", finding),
            amount=guards.optional_money(amount),
            occurred_at=now,
        )

    @applies(ev.Decided)
    def _decided(self, e: ev.Decided) -> None:
        self.decided = True
        self.feedback_given = False  # the payer must now be told this decision (R6)
        if e.outcome in (DecisionOutcome.UPHELD, DecisionOutcome.PARTIALLY_UPHELD):
            self.facts_established = True
        self.status = CaseStatus.DECIDED

    def consult(
        self, actor: Actor, units: tuple[str, ...], outcome: str, now: datetime, context: Context
    ) -> None:
        guards.open_case(self)
        guards.not_awaiting_acceptance(self)
        guards.may_handle(self, actor, context)
        guards.known_units(units, context)
        self.trigger_event(
            self.Consulted,
            actor=actor,
            units=tuple(units),
            outcome=guards.text("outcome", outcome),
            occurred_at=now,
        )

    @applies(ev.Consulted)
    def _consulted(self, e: ev.Consulted) -> None:
        pass  # a joint consultation (会商) is a fact on record; it changes no custody

    def urge(self, actor: Actor, reason: str, now: datetime, context: Context) -> None:
        guards.open_case(self)
        guards.office(actor, context, "urge (催办)")
        self.trigger_event(
            self.Urged, actor=actor, reason=guards.text("reason", reason), occurred_at=now
        )

    @applies(ev.Urged)
    def _urged(self, e: ev.Urged) -> None:
        pass  # a supervision reminder; inspections count them

    def extend(
        self,
        actor: Actor,
        until: date | None,
        reason: str,
        approve: bool | None,
        now: datetime,
        context: Context,
    ) -> None:
        """Request an extension (``until`` and ``reason``), or decide one (``approve``)."""
        if guards.extension_form(until, approve) == "decide":
            assert approve is not None
            self.decide_extension(actor, approve, reason, now, context)
        else:
            assert until is not None
            self.request_extension(actor, until, reason, now, context)

    def request_extension(
        self, actor: Actor, until: date, reason: str, now: datetime, context: Context
    ) -> None:
        guards.open_case(self)
        guards.may_handle(self, actor, context)
        guards.extension_request(self, until, now)
        guards.petition_extension(self, until, context)
        self.trigger_event(
            self.ExtensionRequested,
            actor=actor,
            until=until,
            reason=guards.text("reason", reason),
            occurred_at=now,
        )

    @applies(ev.ExtensionRequested)
    def _extension_requested(self, e: ev.ExtensionRequested) -> None:
        self.extension_requested_until = e.until

    def decide_extension(
        self, actor: Actor, approve: bool, reason: str, now: datetime, context: Context
    ) -> None:
        guards.open_case(self)
        until = guards.extension_decision(self, actor, context)
        self.trigger_event(
            self.ExtensionDecided,
            actor=actor,
            approved=approve,
            until=until,
            reason=guards.optional_text("reason", reason),
            occurred_at=now,
        )

    @applies(ev.ExtensionDecided)
    def _extension_decided(self, e: ev.ExtensionDecided) -> None:
        if e.approved:
            self.due, self.due_provisional = e.until, False
        self.extension_requested_until = None

    # -- collection and court enforcement (三(三)5, 行政强制法 第五十四条) -------------------------

    def serve_demand_notice(
        self,
        actor: Actor,
        served_at: datetime,
        amount: Decimal | str,
        document_number: str,
        now: datetime,
        context: Context,
        employer: Party | None = None,
    ) -> None:
        guards.open_case(self)
        guards.city_tax_bureau(actor, context, "serve a demand notice (催告书)")
        served_at = guards.served_at(served_at, now)
        self.trigger_event(
            self.DemandNoticeServed,
            actor=actor,
            served_at=served_at,
            amount=guards.money(amount),
            document_number=guards.document_number(document_number),
            employer=guards.collection_employer(self, employer, "a demand notice"),
            occurred_at=served_at,
        )

    @applies(ev.DemandNoticeServed)
    def _demand_notice_served(self, e: ev.DemandNoticeServed) -> None:
        self.demand_notice_served_at = e.served_at
        if self.employer is None:
            self.employer = e.employer

    def confirm_arrears(
        self,
        actor: Actor,
        amount: Decimal | str,
        period_from: date,
        period_to: date,
        now: datetime,
        context: Context,
    ) -> None:
        guards.open_case(self)
        guards.city_tax_bureau(actor, context, "confirm arrears")
        guards.period(period_from, period_to, now)
        self.trigger_event(
            self.ArrearsConfirmed,
            actor=actor,
            amount=guards.money(amount),
            period_from=period_from,
            period_to=period_to,
            occurred_at=now,
        )

    @applies(ev.ArrearsConfirmed)
    def _arrears_confirmed(self, e: ev.ArrearsConfirmed) -> None:
        self.arrears = e.amount

    def refer_to_court(
        self,
        actor: Actor,
        court: str,
        reason: str,
        now: datetime,
        context: Context,
        employer: Party | None = None,
    ) -> None:
        guards.open_case(self)
        guards.court_referral(self, actor, now, context)
        self.trigger_event(
            self.ReferredToCourt,
            actor=actor,
            court=guards.text("court", court),
            reason=guards.text("reason", reason),
            employer=guards.collection_employer(self, employer, "a court referral"),
            occurred_at=now,
        )

    @applies(ev.ReferredToCourt)
    def _referred_to_court(self, e: ev.ReferredToCourt) -> None:
        self.referred_to_court = True
        if self.employer is None:
            self.employer = e.employer
        self.status = CaseStatus.REFERRED_TO_COURT

    def record_court_outcome(
        self,
        actor: Actor,
        outcome: str,
        detail: str,
        now: datetime,
        context: Context,
        corrects: int | None = None,
    ) -> None:
        guards.city_tax_bureau(actor, context, "record a court outcome")
        guards.referred(self)
        outcome = guards.text("outcome", outcome)
        detail = guards.optional_text("detail", detail)
        guards.court_outcome(self, outcome, detail, corrects)
        self.trigger_event(
            self.CourtOutcomeRecorded,
            actor=actor,
            outcome=outcome,
            detail=detail,
            corrects=corrects,
            after_closure=self.closed,  # R12: recorded as late, the case stays closed
            occurred_at=now,
        )

    @applies(ev.CourtOutcomeRecorded)
    def _court_outcome_recorded(self, e: ev.CourtOutcomeRecorded) -> None:
        # R12: the outcome in force is the latest; the one it corrects stays in the events.
        # Closure still follows R6, and a late ruling leaves a closed case closed.
        self.court_outcome, self.court_outcome_detail = e.outcome, e.detail
        self.court_outcome_version = e.originator_version

    # -- feedback, closure, reopening (三(三)6, R6) -----------------------------------------------

    def give_feedback(
        self,
        actor: Actor,
        channel: Channel,
        content: str,
        satisfaction: Satisfaction,
        now: datetime,
        context: Context,
    ) -> None:
        guards.open_case(self)
        guards.may_handle(self, actor, context)
        guards.decision_to_feed_back(self)
        self.trigger_event(
            self.FeedbackGiven,
            actor=actor,
            channel=channel,
            content=guards.text("content", content),
            satisfaction=satisfaction,
            occurred_at=now,
        )

    @applies(ev.FeedbackGiven)
    def _feedback_given(self, e: ev.FeedbackGiven) -> None:
        self.feedback_given = True
        self.satisfaction = e.satisfaction
        self.status = CaseStatus.FEEDBACK_GIVEN

    def close(self, actor: Actor, summary: str, now: datetime, context: Context) -> None:
        guards.open_case(self)
        guards.may_handle(self, actor, context)
        guards.closure(self)
        self.trigger_event(
            self.Closed, actor=actor, summary=guards.text("summary", summary), occurred_at=now
        )

    @applies(ev.Closed)
    def _closed(self, e: ev.Closed) -> None:
        self.closed = True
        self.status = CaseStatus.CLOSED

    def reopen(self, actor: Actor, reason: str, now: datetime, context: Context) -> None:
        guards.closed_case(self)
        guards.office(actor, context, "reopen a case")
        self.trigger_event(
            self.Reopened, actor=actor, reason=guards.text("reason", reason), occurred_at=now
        )

    @applies(ev.Reopened)
    def _reopened(self, e: ev.Reopened) -> None:
        # R3: a reopening is its own event; the matter needs a new decision and feedback (R6).
        self.closed = False
        self.decided = self.feedback_given = False
        self.follow_up_flag = False
        self.status = CaseStatus.REOPENED

    def follow_up(
        self,
        actor: Actor,
        channel: Channel,
        content: str,
        satisfaction: Satisfaction,
        now: datetime,
        context: Context,
    ) -> None:
        """A follow-up visit (回访) on a closed case, which stays closed."""
        guards.followed_up_case(self)
        guards.may_follow_up(self, actor, context)
        self.trigger_event(
            self.FollowUpVisited,
            actor=actor,
            channel=channel,
            content=guards.text("content", content),
            satisfaction=satisfaction,
            occurred_at=now,
        )

    @applies(ev.FollowUpVisited)
    def _follow_up_visited(self, e: ev.FollowUpVisited) -> None:
        if e.satisfaction is Satisfaction.UNSATISFIED:
            self.follow_up_flag = True

    def resolve_follow_up(self, actor: Actor, reason: str, now: datetime, context: Context) -> None:
        """The office records why an unsatisfied follow-up does not reopen the case."""
        guards.office(actor, context, "decide on an unsatisfied follow-up visit")
        guards.unsatisfied_follow_up(self)
        self.trigger_event(
            self.FollowUpResolved,
            actor=actor,
            reason=guards.text("reason", reason),
            occurred_at=now,
        )

    @applies(ev.FollowUpResolved)
    def _follow_up_resolved(self, e: ev.FollowUpResolved) -> None:
        self.follow_up_flag = False

    # -- records about the record ---------------------------------------------------------------

    def link(
        self, actor: Actor, case_id: UUID, relation: LinkRelation, now: datetime, facts: Facts
    ) -> None:
        guards.link(self, case_id, facts)
        self.trigger_event(
            self.Linked, actor=actor, case_id=case_id, relation=relation, occurred_at=now
        )

    @applies(ev.Linked)
    def _linked(self, e: ev.Linked) -> None:
        self.links[e.case_id] = e.relation

    def correct(
        self,
        actor: Actor,
        position: int,
        correction: str,
        reason: str,
        now: datetime,
        facts: Facts,
    ) -> None:
        guards.correction(self, position, facts)
        self.trigger_event(
            self.Corrected,
            actor=actor,
            position=position,
            correction=guards.text("correction", correction),
            reason=guards.text("reason", reason),
            occurred_at=now,
        )

    @applies(ev.Corrected)
    def _corrected(self, e: ev.Corrected) -> None:
        pass  # R7: the corrected event stays as it was; this one says what was wrong with it

    def reveal_identifiers(self, actor: Actor, reason: str, now: datetime) -> None:
        self.trigger_event(
            self.IdentifiersRevealed,
            actor=actor,
            reason=guards.text("reason", reason),
            occurred_at=now,
        )

    @applies(ev.IdentifiersRevealed)
    def _identifiers_revealed(self, e: ev.IdentifiersRevealed) -> None:
        pass  # 个人信息保护法: who looked at the unmasked identifiers, when and why

    # -- the leading group's meetings (四) --------------------------------------------------------

    def record_meeting_decision(
        self,
        actor: Actor,
        meeting_id: UUID,
        meeting_kind: str,
        decision_no: int,
        decision: str,
        assigned_unit: str,
        due: date,
        occurred_at: datetime,
    ) -> None:
        """A decision the meeting's minutes recorded (checked there), on this case: once per
        meeting and number, whatever the case's state (the minutes are the source of truth)."""
        if task_key(meeting_id, decision_no) in self.tasks:
            return
        self.trigger_event(
            self.MeetingDecisionRecorded,
            actor=actor,
            meeting_id=meeting_id,
            meeting_kind=meeting_kind,
            decision_no=decision_no,
            decision=decision,
            assigned_unit=assigned_unit,
            due=due,
            occurred_at=occurred_at,
        )

    @applies(ev.MeetingDecisionRecorded)
    def _meeting_decision_recorded(self, e: ev.MeetingDecisionRecorded) -> None:
        self.tasks[task_key(e.meeting_id, e.decision_no)] = Task(
            assigned_unit=e.assigned_unit, due=e.due
        )

    def complete_task(
        self,
        actor: Actor,
        meeting_id: UUID,
        decision_no: int,
        result: str,
        now: datetime,
        context: Context,
    ) -> None:
        """The assigned unit records the result of its task (a meeting's decision)."""
        key = task_key(meeting_id, decision_no)
        guards.task_to_complete(self.tasks.get(key), key, actor)
        self.trigger_event(
            self.TaskCompleted,
            actor=actor,
            meeting_id=meeting_id,
            decision_no=decision_no,
            result=guards.text("result", result),
            occurred_at=now,
        )

    @applies(ev.TaskCompleted)
    def _task_completed(self, e: ev.TaskCompleted) -> None:
        key = task_key(e.meeting_id, e.decision_no)
        self.tasks[key] = msgspec.structs.replace(self.tasks[key], done=True)

    # -- assigned matters (交办/转办, 二(二)3) ---------------------------------------------------

    def record_assignment(
        self, actor: Actor, assignment: Assignment, now: datetime, context: Context
    ) -> None:
        """The body that assigned the matter and the reply it is owed, on a case registered
        before the assignment came; one per case (``guards.later_assignment``)."""
        guards.open_case(self)
        recorded = guards.later_assignment(self, actor, assignment, now, context)
        self.trigger_event(
            self.AssignmentRecorded, actor=actor, assignment=recorded, occurred_at=now
        )

    @applies(ev.AssignmentRecorded)
    def _assignment_recorded(self, e: ev.AssignmentRecorded) -> None:
        self.assignment = e.assignment
        self.assignment_replied = False

    def reply_to_assignment(
        self, actor: Actor, content: str, now: datetime, context: Context
    ) -> None:
        """The reply owed to the body that assigned the matter; open or closed case alike."""
        guards.assignment_reply(self, actor, context)
        self.trigger_event(
            self.AssignmentReplied,
            actor=actor,
            content=guards.text("content", content),
            occurred_at=now,
        )

    @applies(ev.AssignmentReplied)
    def _assignment_replied(self, e: ev.AssignmentReplied) -> None:
        self.assignment_replied = True
