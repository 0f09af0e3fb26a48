"""The per-case projection state: the current view fields plus the dated, positioned steps the
accountability checks need.

It is stored with the case row (msgpack) so the runner folds new events into it without
replaying the case, and so a trail or an inspection can be evaluated *as of* an earlier log
position by looking only at steps up to that position. Steps hold positions and business times,
never derived verdicts: verdicts depend on the policy and on the moment asked about.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import msgspec

from ledger.domain.codes import (
    CaseStatus,
    Category,
    Channel,
    Classification,
    LinkRelation,
    Satisfaction,
)
from ledger.projections.views import (
    AssignmentView,
    EnforcementView,
    ExtensionView,
    PayerView,
    ReclassificationView,
    StaffView,
)

# Steps are array-like: a case carries a dozen of them and a state is written on every change.


class Step(msgspec.Struct, array_like=True, frozen=True):
    """A decision, feedback, escalation or reopening: who and when."""

    position: int
    at: datetime
    staff_id: str
    unit: str


class FollowUpStep(msgspec.Struct, array_like=True, frozen=True):
    """A follow-up visit (回访) after closure, and how satisfied the payer was."""

    position: int
    at: datetime
    staff_id: str
    unit: str
    satisfaction: Satisfaction


class ClassifiedStep(msgspec.Struct, array_like=True, frozen=True):
    position: int
    at: datetime
    staff_id: str
    classification: Classification
    due: date  # the resolution deadline this classification set (FR9)
    provisional: bool


class TransferStep(msgspec.Struct, array_like=True, frozen=True):
    position: int
    at: datetime
    staff_id: str
    from_unit: str
    to_unit: str | None
    to_jurisdiction: str | None
    name: str = ""  # the sender's name (states folded before it was kept have none)


class AcceptStep(msgspec.Struct, array_like=True, frozen=True):
    position: int
    at: datetime
    staff_id: str
    unit: str
    jurisdiction: str | None  # set when the transfer went to a jurisdiction
    name: str = ""  # the accepting staff member's name (none in states folded before)


class ExtensionStep(msgspec.Struct, array_like=True, frozen=True):
    position: int
    at: datetime
    approved: bool
    until: date


class LinkStep(msgspec.Struct, array_like=True, frozen=True):
    position: int
    case_id: UUID
    relation: LinkRelation
    outgoing: bool  # recorded on this case (else on the other one)


class ConsultStep(msgspec.Struct, array_like=True, frozen=True):
    """A joint consultation (会商): who recorded it (and their name), the units present, what
    it concluded, and when the log recorded it."""

    position: int
    at: datetime
    staff_id: str
    unit: str
    units: tuple[str, ...]
    outcome: str
    name: str = ""
    recorded_at: datetime | None = None


class TaskStep(msgspec.Struct, array_like=True, frozen=True):
    """A meeting's decision on the case: a task of ``assigned_unit`` due on ``due``, done when
    that unit recorded its result (``done_position``, ``done_at``)."""

    position: int
    at: datetime
    meeting_id: UUID
    decision_no: int
    decision: str
    assigned_unit: str
    due: date
    done_position: int | None = None
    done_at: datetime | None = None
    result: str = ""


class EarlierCase(msgspec.Struct, array_like=True, frozen=True):
    """FR7: a case of the same payer (any channel, any category) that this one repeated when it
    was registered: open then, or closed within the repeat window (``repeats.repeats``)."""

    case_id: UUID
    registered_position: int


class CaseState(msgspec.Struct, kw_only=True):
    case_id: UUID
    version: int
    last_position: int
    registered_position: int
    received_at: datetime
    registered_at: datetime
    channel: Channel
    category: Category
    jurisdiction: str  # the jurisdiction now responsible
    registered_jurisdiction: str
    payer: PayerView
    first_responder: StaffView
    receiving_unit: str
    status: CaseStatus = CaseStatus.REGISTERED
    classification: Classification | None = None
    route: int | None = None
    holder: str = ""
    due: date | None = None
    due_provisional: bool = False
    due_extended: bool = False
    extension: ExtensionView | None = None
    reclassification: ReclassificationView | None = None
    enforcement: EnforcementView | None = None
    satisfaction: Satisfaction | None = None
    urge_count: int = 0
    corrected_positions: list[int] = msgspec.field(default_factory=list)
    # The earlier cases the registration repeated (FR7; open or recently closed, whatever the
    # name says: ``ledger.projections.repeats``).
    earlier_open_cases: list[EarlierCase] = msgspec.field(default_factory=list)
    # The steps, each list in position order.
    classifications: list[ClassifiedStep] = msgspec.field(default_factory=list)
    transfers: list[TransferStep] = msgspec.field(default_factory=list)
    acceptances: list[AcceptStep] = msgspec.field(default_factory=list)
    escalations: list[Step] = msgspec.field(default_factory=list)
    decisions: list[Step] = msgspec.field(default_factory=list)
    feedbacks: list[Step] = msgspec.field(default_factory=list)
    # The satisfaction each feedback recorded, in the order of ``feedbacks`` (statistics).
    feedback_satisfactions: list[Satisfaction] = msgspec.field(default_factory=list)
    closures: list[Step] = msgspec.field(default_factory=list)
    reopenings: list[Step] = msgspec.field(default_factory=list)
    extensions: list[ExtensionStep] = msgspec.field(default_factory=list)
    returns: list[Step] = msgspec.field(default_factory=list)  # transfers sent back (退单)
    links: list[LinkStep] = msgspec.field(default_factory=list)
    case_number: str | None = None
    follow_ups: list[FollowUpStep] = msgspec.field(default_factory=list)
    # The office's decisions that an unsatisfied follow-up does not reopen the case.
    follow_up_resolutions: list[Step] = msgspec.field(default_factory=list)
    consultations: list[ConsultStep] = msgspec.field(default_factory=list)
    tasks: list[TaskStep] = msgspec.field(default_factory=list)  # meetings' decisions (四)

    # 交办/转办: the assigning body and due date as registered or recorded later
    # (``ledger.AssignmentRecorded``; its ``position`` says which event), reply fields unset;
    # and the replies sent to it.
    assignment: AssignmentView | None = None
    assignment_replies: list[Step] = msgspec.field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.status is CaseStatus.CLOSED

    @property
    def follow_up_flag(self) -> bool:
        """An unsatisfied follow-up since the last reopening or the office's decision on it."""
        return follow_up_flag(self, self.last_position)

    @property
    def pending_transfer(self) -> TransferStep | None:
        """The last transfer, while no acceptance or return (退单) has followed it."""
        if not self.transfers:
            return None
        last = self.transfers[-1]
        if self.acceptances and self.acceptances[-1].position > last.position:
            return None
        if self.returns and self.returns[-1].position > last.position:
            return None
        return last


def follow_up_flag(s: CaseState, position: int) -> bool:
    """Whether an unsatisfied follow-up awaits the office at log ``position``."""
    raised = [
        f.position
        for f in s.follow_ups
        if f.satisfaction is Satisfaction.UNSATISFIED and f.position <= position
    ]
    if not raised:
        return False
    lowered = [
        k.position for k in (*s.follow_up_resolutions, *s.reopenings) if k.position <= position
    ]
    return max(raised) > max(lowered, default=0)


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(CaseState)


def encode_state(state: CaseState) -> bytes:
    return _ENCODER.encode(state)


def decode_state(data: bytes) -> CaseState:
    return _DECODER.decode(data)
