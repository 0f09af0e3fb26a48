"""The events of a dispute: each declared once, here, with its stable topic and its fields.

These classes are what is stored (their fields, as JSON with sorted keys) and what every reader
decodes: the aggregate triggers them (``ledger.domain.dispute``), the codec builds its decoders
from their annotations (``ledger.store.codec``), and the projections take the fields they need
from them by topic (``ledger.projections.events``). A topic, once used, is never renamed.

Stored events are forever (ARCHITECTURE.md decision 1): a field added later needs a default (or
``None`` in its type) so that older events still decode; any other change of shape needs a
``class_version`` and an upcaster. Every event says who did it (``actor``, from the verified
token) and when it happened in business terms (``occurred_at``, timezone-aware, R8); the store
adds the recorded time. State changes live in the aggregate (``Dispute.when``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.actor import Actor
from ledger.domain.codes import (
    Category,
    Channel,
    Classification,
    DecisionOutcome,
    LinkRelation,
    Satisfaction,
)
from ledger.domain.payer import Assignment, Party, Payer

if TYPE_CHECKING:
    from ledger.domain.dispute import Dispute


class CaseEvent(Aggregate.Event):
    """Something that happened to a case after its registration."""

    actor: Actor
    occurred_at: datetime  # business time (R8: aware, stored in UTC)

    def apply(self, aggregate: Any) -> None:
        dispute: Dispute = aggregate
        dispute.when(self)


# -- registration (三(一)) ----------------------------------------------------------------------


class Registered(Aggregate.Created):
    """A payer's contact registered by its first responder (R1, R2)."""

    TOPIC = "ledger.Registered"
    actor: Actor
    channel: Channel
    received_at: datetime
    payer: Payer
    jurisdiction: str
    receiving_unit: str
    category: Category
    summary: str
    preliminary_opinion: str
    occurred_at: datetime  # when it was registered; FR1 compares it with received_at
    case_number: str | None = None  # given under the append lock; None before numbering
    # The employer of a 二(一)2 dispute raised by a person (职工与用人单位); None when the payer
    # is itself the employer, or when the matter names no employer (and on events recorded
    # before employers were).
    employer: Party | None = None
    # The body that assigned the matter (交办/转办, 二(二)3) and the reply it is owed; None when
    # no body did (and on events recorded before assignments were).
    assignment: Assignment | None = None

    def apply(self, aggregate: Any) -> None:
        dispute: Dispute = aggregate
        dispute.when(self)


# -- classification and routing (三(二)) --------------------------------------------------------


class Classified(CaseEvent):
    """Classified simple / general / major and routed to one of 三(三)'s routes, with the
    resolution deadline (FR9) that classification sets, counted when it was recorded."""

    TOPIC = "ledger.Classified"
    classification: Classification
    route: int
    reason: str
    due: date
    due_provisional: bool


class ReclassificationRequested(CaseEvent):
    """After the first classification, a change of class or route is asked of the
    leading-group office (R10); until it decides, the case keeps its classification."""

    TOPIC = "ledger.ReclassificationRequested"
    classification: Classification
    route: int
    reason: str


class ReclassificationDecided(CaseEvent):
    """The office approved or refused the requested reclassification (R10). An approval sets
    the deadline of the new class (``due``, counted from receipt as classification counts it);
    the deadline it replaces (``previous_due``) stays on record here and in the events that set
    it, so a deadline missed before the reclassification remains a finding."""

    TOPIC = "ledger.ReclassificationDecided"
    approved: bool
    classification: Classification
    route: int
    reason: str
    due: date | None  # the new deadline when approved; None when refused
    due_provisional: bool
    previous_due: date | None


class Transferred(CaseEvent):
    """Sent to another unit, or to the jurisdiction it belongs to (流转); custody passes only
    when the receiving side accepts it."""

    TOPIC = "ledger.Transferred"
    to_unit: str | None
    to_jurisdiction: str | None
    reason: str


class Accepted(CaseEvent):
    """The receiving unit took custody of a transferred case (签收)."""

    TOPIC = "ledger.Accepted"
    note: str


class TransferReturned(CaseEvent):
    """The receiving side sent a misrouted transfer back (退单) within its acceptance window,
    instead of accepting it; the unit that sent it still holds the case (FR6 counts returns)."""

    TOPIC = "ledger.TransferReturned"
    reason: str


class Escalated(CaseEvent):
    """Put before the leading group (major and difficult matters, 三(二)3)."""

    TOPIC = "ledger.Escalated"
    reason: str


# -- handling (三(三)) --------------------------------------------------------------------------


class Decided(CaseEvent):
    """A decision on the dispute (处理意见)."""

    TOPIC = "ledger.Decided"
    outcome: DecisionOutcome
    finding: str
    amount: Decimal | None


class Consulted(CaseEvent):
    """A joint consultation of units (会商) and what it concluded."""

    TOPIC = "ledger.Consulted"
    units: tuple[str, ...]
    outcome: str


class Urged(CaseEvent):
    """A supervision reminder from the leading-group office (催办/督办)."""

    TOPIC = "ledger.Urged"
    reason: str


class ExtensionRequested(CaseEvent):
    """The holding unit asks for a later deadline (R9)."""

    TOPIC = "ledger.ExtensionRequested"
    until: date
    reason: str


class ExtensionDecided(CaseEvent):
    """The office approved or refused the requested deadline (R9)."""

    TOPIC = "ledger.ExtensionDecided"
    approved: bool
    until: date
    reason: str


# -- collection and court enforcement (三(三)5, 行政强制法 第五十四条) ---------------------------


class DemandNoticeServed(CaseEvent):
    """A demand notice (催告书) served on the employer; R5's wait runs from ``served_at``, which
    may come before the case was received (collection often precedes the dispute, R14) but never
    after the notice was recorded. Notices recorded before R14 have no document number ("") and
    no employer (None)."""

    TOPIC = "ledger.DemandNoticeServed"
    served_at: datetime
    amount: Decimal
    document_number: str = ""  # 文书号
    employer: Party | None = None  # whom it was served on


class ArrearsConfirmed(CaseEvent):
    """The arrears amount and the months it covers, confirmed by the city tax bureau."""

    TOPIC = "ledger.ArrearsConfirmed"
    amount: Decimal
    period_from: date
    period_to: date


class ReferredToCourt(CaseEvent):
    """An application to the People's Court for compulsory enforcement (R5)."""

    TOPIC = "ledger.ReferredToCourt"
    court: str
    reason: str
    employer: Party | None = None  # against whom (None on referrals recorded before R11)


class CourtOutcomeRecorded(CaseEvent):
    """What the court decided on the referral: one outcome per referral (R12). A different
    later outcome is a correction: ``corrects`` names the version of the outcome it replaces.
    A ruling may come after closure (``after_closure``); it does not reopen the case."""

    TOPIC = "ledger.CourtOutcomeRecorded"
    outcome: str
    detail: str
    corrects: int | None = None
    after_closure: bool = False


# -- feedback, closure, reopening (三(三)6, R6) -------------------------------------------------


class FeedbackGiven(CaseEvent):
    """The payer was told the result (反馈), and how satisfied they were."""

    TOPIC = "ledger.FeedbackGiven"
    channel: Channel
    content: str
    satisfaction: Satisfaction


class Closed(CaseEvent):
    """The case is concluded (办结, R6)."""

    TOPIC = "ledger.Closed"
    summary: str


class Reopened(CaseEvent):
    """The office reopened a closed case; it needs a new decision and feedback (R3, R6)."""

    TOPIC = "ledger.Reopened"
    reason: str


class FollowUpVisited(CaseEvent):
    """A follow-up visit (回访) after closure: how the payer now sees the result. The case stays
    closed; an unsatisfied result is flagged until the office reopens the case or records why
    not (``FollowUpResolved``)."""

    TOPIC = "ledger.FollowUpVisited"
    channel: Channel
    content: str
    satisfaction: Satisfaction


class FollowUpResolved(CaseEvent):
    """The office recorded why an unsatisfied follow-up does not reopen the case."""

    TOPIC = "ledger.FollowUpResolved"
    reason: str


class AssignmentRecorded(CaseEvent):
    """The body that assigned the matter (交办/转办) and the reply it is owed, recorded on a case
    registered before the assignment came (the office or a superior body handed it down after
    the fact): the same fields as a registration's ``assignment``. A case has one assignment,
    from its registration or from this event."""

    TOPIC = "ledger.AssignmentRecorded"
    assignment: Assignment


class AssignmentReplied(CaseEvent):
    """The reply owed to the body that assigned the matter (交办/转办) was sent: what it said.
    The first reply answers the assignment; a late one stays a finding."""

    TOPIC = "ledger.AssignmentReplied"
    content: str


# -- records about the record -------------------------------------------------------------------


class Linked(CaseEvent):
    """This case is related to, or a duplicate of, another (FR7: 重复跑)."""

    TOPIC = "ledger.Linked"
    case_id: UUID
    relation: LinkRelation


class Corrected(CaseEvent):
    """What was wrong with an earlier event, which itself stays as it was (R7)."""

    TOPIC = "ledger.Corrected"
    position: int
    correction: str
    reason: str


# -- the leading group's meetings (四) ------------------------------------------------------------


class MeetingDecisionRecorded(CaseEvent):
    """A decision of a meeting's minutes about this case (``ledger.domain.meeting``, whose
    minutes event is the source of truth): a task of ``assigned_unit``, due on ``due``."""

    TOPIC = "ledger.MeetingDecisionRecorded"
    meeting_id: UUID
    meeting_kind: str
    decision_no: int
    decision: str
    assigned_unit: str
    due: date


class TaskCompleted(CaseEvent):
    """The assigned unit recorded the result of a meeting's task on this case."""

    TOPIC = "ledger.TaskCompleted"
    meeting_id: UUID
    decision_no: int
    result: str


class IdentifiersRevealed(CaseEvent):
    """Someone looked at the case's unmasked identifiers, and why (个人信息保护法)."""

    TOPIC = "ledger.IdentifiersRevealed"
    reason: str
