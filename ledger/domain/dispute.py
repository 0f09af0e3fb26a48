"""The Dispute aggregate: one social-insurance fee dispute, from first contact to closure.

Each public method is a command: it checks the rule that guards it (R1–R9 of DOMAIN.md, checked in
``ledger.domain.guards``) and only then triggers its event through a private ``@event`` method whose
body is the whole state change. Event topics are explicit and stable (``ledger.<Event>``): stored
events outlive module names.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

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
from ledger.domain.context import Context, local_date
from ledger.domain.errors import InvalidTransition
from ledger.domain.payer import Payer


class Dispute(Aggregate):
    TOPIC = "ledger.Dispute"

    class Event(Aggregate.Event):
        TOPIC = "ledger.Dispute.Event"

    class Created(Aggregate.Created):
        TOPIC = "ledger.Dispute.Created"

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
        case_number: str | None = None,
    ) -> Dispute:
        received_at = guards.registration(
            actor, received_at, jurisdiction, summary, preliminary_opinion, now, context
        )
        return cls(
            id=case_id,
            actor=actor,
            channel=channel,
            received_at=received_at,
            payer=payer,
            jurisdiction=jurisdiction,
            receiving_unit=actor.unit,
            category=category,
            summary=summary.strip(),
            preliminary_opinion=preliminary_opinion.strip(),
            occurred_at=now,  # when it was registered; FR1 compares it with received_at
            case_number=case_number,
        )

    @event("Registered", topic="ledger.Registered")
    def __init__(
        self,
        id: UUID,
        actor: Actor,
        channel: Channel,
        received_at: datetime,
        payer: Payer,
        jurisdiction: str,
        receiving_unit: str,
        category: Category,
        summary: str,
        preliminary_opinion: str,
        occurred_at: datetime,
        case_number: str | None = None,  # None in events recorded before case numbers
    ) -> None:
        # R2: whoever registers is the first responder, for good.
        self.case_number = case_number
        self.first_responder = StaffRef(staff_id=actor.staff_id, name=actor.name, unit=actor.unit)
        self.channel = channel
        self.received_at = received_at
        self.payer = payer
        self.jurisdiction = jurisdiction
        self.receiving_unit = receiving_unit
        self.category = category
        self.summary = summary
        self.status = CaseStatus.REGISTERED
        self.classification: Classification | None = None
        self.route: int | None = None
        self.holder = receiving_unit
        self.pending_unit: str | None = None
        self.pending_jurisdiction: str | None = None
        self.units_held: list[str] = [receiving_unit]
        self.transfers = 0
        self.escalated = False
        self.decided = False
        self.facts_established = False
        self.feedback_given = False
        self.satisfaction: Satisfaction | None = None
        self.due: date | None = None
        self.due_provisional = False
        self.extension_requested_until: date | None = None
        self.demand_notice_served_at: datetime | None = None
        self.arrears: Decimal | None = None
        self.referred_to_court = False
        self.closed = False
        self.links: dict[UUID, LinkRelation] = {}

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
        guards.first_responder(self, actor)
        guards.route(route)
        registered_on = local_date(self.received_at)
        deadline = context.policy_deadline(registered_on, classification)
        self._classified(
            actor=actor,
            classification=classification,
            route=route,
            reason=guards.text("reason", reason),
            due=deadline.due,
            due_provisional=deadline.provisional,
            occurred_at=now,
        )

    @event("Classified", topic="ledger.Classified")
    def _classified(
        self,
        actor: Actor,
        classification: Classification,
        route: int,
        reason: str,
        due: date,
        due_provisional: bool,
        occurred_at: datetime,
    ) -> None:
        self.classification = classification
        self.route = route
        self.due, self.due_provisional = due, due_provisional
        if self.status in (CaseStatus.REGISTERED, CaseStatus.REOPENED):
            self.status = CaseStatus.CLASSIFIED

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
        self._transferred(
            actor=actor,
            to_unit=to_unit,
            to_jurisdiction=to_jurisdiction,
            reason=guards.text("reason", reason),
            occurred_at=now,
        )

    @event("Transferred", topic="ledger.Transferred")
    def _transferred(
        self,
        actor: Actor,
        to_unit: str | None,
        to_jurisdiction: str | None,
        reason: str,
        occurred_at: datetime,
    ) -> None:
        self.pending_unit, self.pending_jurisdiction = to_unit, to_jurisdiction
        self.transfers += 1
        self.status = CaseStatus.TRANSFERRED

    def accept(self, actor: Actor, note: str, now: datetime) -> None:
        guards.open_case(self)
        guards.acceptor(self, actor)
        self._accepted(actor=actor, note=guards.optional_text("note", note), occurred_at=now)

    @event("Accepted", topic="ledger.Accepted")
    def _accepted(self, actor: Actor, note: str, occurred_at: datetime) -> None:
        if self.pending_jurisdiction is not None:
            self.jurisdiction = self.pending_jurisdiction
        self.holder = actor.unit
        self.units_held.append(actor.unit)
        self.pending_unit = self.pending_jurisdiction = None
        self.status = CaseStatus.ACCEPTED

    def escalate(self, actor: Actor, reason: str, now: datetime, context: Context) -> None:
        guards.open_case(self)
        guards.classified(self)
        if self.escalated:
            raise InvalidTransition("the case is already with the leading group")
        guards.may_escalate(self, actor, context)
        self._escalated(actor=actor, reason=guards.text("reason", reason), occurred_at=now)

    @event("Escalated", topic="ledger.Escalated")
    def _escalated(self, actor: Actor, reason: str, occurred_at: datetime) -> None:
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
        self._decided(
            actor=actor,
            outcome=outcome,
            finding=guards.text("finding", finding),
            amount=guards.optional_money(amount),
            occurred_at=now,
        )

    @event("Decided", topic="ledger.Decided")
    def _decided(
        self,
        actor: Actor,
        outcome: DecisionOutcome,
        finding: str,
        amount: Decimal | None,
        occurred_at: datetime,
    ) -> None:
        self.decided = True
        self.feedback_given = False  # the payer must now be told this decision (R6)
        if outcome in (DecisionOutcome.UPHELD, DecisionOutcome.PARTIALLY_UPHELD):
            self.facts_established = True
        self.status = CaseStatus.DECIDED

    def consult(
        self, actor: Actor, units: tuple[str, ...], outcome: str, now: datetime, context: Context
    ) -> None:
        guards.open_case(self)
        guards.not_awaiting_acceptance(self)
        guards.may_handle(self, actor, context)
        guards.known_units(units, context)
        self._consulted(
            actor=actor, units=units, outcome=guards.text("outcome", outcome), occurred_at=now
        )

    @event("Consulted", topic="ledger.Consulted")
    def _consulted(
        self, actor: Actor, units: tuple[str, ...], outcome: str, occurred_at: datetime
    ) -> None:
        pass  # a joint consultation (会商) is a fact on record; it changes no custody

    def urge(self, actor: Actor, reason: str, now: datetime, context: Context) -> None:
        guards.open_case(self)
        guards.office(actor, context, "urge (催办)")
        self._urged(actor=actor, reason=guards.text("reason", reason), occurred_at=now)

    @event("Urged", topic="ledger.Urged")
    def _urged(self, actor: Actor, reason: str, occurred_at: datetime) -> None:
        pass  # a supervision reminder; inspections count them

    def request_extension(
        self, actor: Actor, until: date, reason: str, now: datetime, context: Context
    ) -> None:
        guards.open_case(self)
        guards.may_handle(self, actor, context)
        guards.extension_request(self, until, now)
        self._extension_requested(
            actor=actor, until=until, reason=guards.text("reason", reason), occurred_at=now
        )

    @event("ExtensionRequested", topic="ledger.ExtensionRequested")
    def _extension_requested(
        self, actor: Actor, until: date, reason: str, occurred_at: datetime
    ) -> None:
        self.extension_requested_until = until

    def decide_extension(
        self, actor: Actor, approve: bool, reason: str, now: datetime, context: Context
    ) -> None:
        guards.open_case(self)
        guards.extension_decision(self, actor, context)
        assert self.extension_requested_until is not None  # checked by the guard
        self._extension_decided(
            actor=actor,
            approved=approve,
            until=self.extension_requested_until,
            reason=guards.optional_text("reason", reason),
            occurred_at=now,
        )

    @event("ExtensionDecided", topic="ledger.ExtensionDecided")
    def _extension_decided(
        self, actor: Actor, approved: bool, until: date, reason: str, occurred_at: datetime
    ) -> None:
        if approved:
            self.due, self.due_provisional = until, False
        self.extension_requested_until = None

    # -- collection and court enforcement (三(三)5, 行政强制法 第五十四条) -------------------------

    def serve_demand_notice(
        self, actor: Actor, served_at: datetime, amount: Decimal | str, now: datetime
    ) -> None:
        guards.open_case(self)
        guards.city_tax_bureau(actor, "serve a demand notice (催告书)")
        served_at = guards.not_in_future("served_at", served_at, now)
        guards.since_receipt("served_at", served_at, self)
        self._demand_notice_served(
            actor=actor, served_at=served_at, amount=guards.money(amount), occurred_at=served_at
        )

    @event("DemandNoticeServed", topic="ledger.DemandNoticeServed")
    def _demand_notice_served(
        self, actor: Actor, served_at: datetime, amount: Decimal, occurred_at: datetime
    ) -> None:
        self.demand_notice_served_at = served_at

    def confirm_arrears(
        self, actor: Actor, amount: Decimal | str, period_from: date, period_to: date, now: datetime
    ) -> None:
        guards.open_case(self)
        guards.city_tax_bureau(actor, "confirm arrears")
        guards.period(period_from, period_to, now)
        self._arrears_confirmed(
            actor=actor,
            amount=guards.money(amount),
            period_from=period_from,
            period_to=period_to,
            occurred_at=now,
        )

    @event("ArrearsConfirmed", topic="ledger.ArrearsConfirmed")
    def _arrears_confirmed(
        self,
        actor: Actor,
        amount: Decimal,
        period_from: date,
        period_to: date,
        occurred_at: datetime,
    ) -> None:
        self.arrears = amount

    def refer_to_court(
        self, actor: Actor, court: str, reason: str, now: datetime, context: Context
    ) -> None:
        guards.open_case(self)
        guards.court_referral(self, actor, now, context)
        self._referred_to_court(
            actor=actor,
            court=guards.text("court", court),
            reason=guards.text("reason", reason),
            occurred_at=now,
        )

    @event("ReferredToCourt", topic="ledger.ReferredToCourt")
    def _referred_to_court(
        self, actor: Actor, court: str, reason: str, occurred_at: datetime
    ) -> None:
        self.referred_to_court = True
        self.status = CaseStatus.REFERRED_TO_COURT

    def record_court_outcome(self, actor: Actor, outcome: str, detail: str, now: datetime) -> None:
        guards.city_tax_bureau(actor, "record a court outcome")
        if not self.referred_to_court:
            raise InvalidTransition("no court-enforcement referral was made on this case")
        self._court_outcome_recorded(
            actor=actor,
            outcome=guards.text("outcome", outcome),
            detail=guards.optional_text("detail", detail),
            occurred_at=now,
        )

    @event("CourtOutcomeRecorded", topic="ledger.CourtOutcomeRecorded")
    def _court_outcome_recorded(
        self, actor: Actor, outcome: str, detail: str, occurred_at: datetime
    ) -> None:
        pass  # the court's decision is on record; closure still follows R6

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
        if not self.decided:
            raise InvalidTransition("there is no decision to feed back to the payer yet")
        self._feedback_given(
            actor=actor,
            channel=channel,
            content=guards.text("content", content),
            satisfaction=satisfaction,
            occurred_at=now,
        )

    @event("FeedbackGiven", topic="ledger.FeedbackGiven")
    def _feedback_given(
        self,
        actor: Actor,
        channel: Channel,
        content: str,
        satisfaction: Satisfaction,
        occurred_at: datetime,
    ) -> None:
        self.feedback_given = True
        self.satisfaction = satisfaction
        self.status = CaseStatus.FEEDBACK_GIVEN

    def close(self, actor: Actor, summary: str, now: datetime, context: Context) -> None:
        guards.open_case(self)
        guards.may_handle(self, actor, context)
        guards.closure(self)
        self._closed(actor=actor, summary=guards.text("summary", summary), occurred_at=now)

    @event("Closed", topic="ledger.Closed")
    def _closed(self, actor: Actor, summary: str, occurred_at: datetime) -> None:
        self.closed = True
        self.status = CaseStatus.CLOSED

    def reopen(self, actor: Actor, reason: str, now: datetime, context: Context) -> None:
        if not self.closed:
            raise InvalidTransition("only a closed case can be reopened")
        guards.office(actor, context, "reopen a case")
        self._reopened(actor=actor, reason=guards.text("reason", reason), occurred_at=now)

    @event("Reopened", topic="ledger.Reopened")
    def _reopened(self, actor: Actor, reason: str, occurred_at: datetime) -> None:
        # R3: a reopening is its own event; the matter needs a new decision and feedback (R6).
        self.closed = False
        self.decided = self.feedback_given = False
        self.status = CaseStatus.REOPENED

    # -- records about the record ---------------------------------------------------------------

    def link(self, actor: Actor, other: UUID, relation: LinkRelation, now: datetime) -> None:
        if other == self.id:
            raise InvalidTransition("a case cannot be linked to itself")
        if other in self.links:
            raise InvalidTransition(f"the case is already linked to {other}")
        self._linked(actor=actor, case_id=other, relation=relation, occurred_at=now)

    @event("Linked", topic="ledger.Linked")
    def _linked(
        self, actor: Actor, case_id: UUID, relation: LinkRelation, occurred_at: datetime
    ) -> None:
        self.links[case_id] = relation

    def correct(
        self, actor: Actor, position: int, correction: str, reason: str, now: datetime
    ) -> None:
        guards.correction(position)
        self._corrected(
            actor=actor,
            position=position,
            correction=guards.text("correction", correction),
            reason=guards.text("reason", reason),
            occurred_at=now,
        )

    @event("Corrected", topic="ledger.Corrected")
    def _corrected(
        self, actor: Actor, position: int, correction: str, reason: str, occurred_at: datetime
    ) -> None:
        pass  # R7: the corrected event stays as it was; this one says what was wrong with it

    def reveal_identifiers(self, actor: Actor, reason: str, now: datetime) -> None:
        self._identifiers_revealed(
            actor=actor, reason=guards.text("reason", reason), occurred_at=now
        )

    @event("IdentifiersRevealed", topic="ledger.IdentifiersRevealed")
    def _identifiers_revealed(self, actor: Actor, reason: str, occurred_at: datetime) -> None:
        pass  # 个人信息保护法: who looked at the unmasked identifiers, when and why
