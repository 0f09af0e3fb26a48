"""What the read side answers: case views, accountability trails and inspection reports.

Every type here is a msgspec Struct the API serialises as is. Times are timezone-aware (UTC, as
stored; the API shows them in Asia/Shanghai), deadlines are Asia/Shanghai calendar dates, money is
exact ``Decimal`` (R8). Payer identifiers are unmasked here: masking depends on the reader's role,
which only the API knows (个人信息保护法).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

import msgspec

from ledger.domain.codes import (
    AssigningBody,
    CaseStatus,
    Category,
    Channel,
    Classification,
    LinkRelation,
    PayerKind,
    Satisfaction,
)


class Check(StrEnum):
    """The first-responder accountability checks of DOMAIN.md (首问责任制, 三(一); 五(二))."""

    FR1 = "FR1"
    FR2 = "FR2"
    FR3 = "FR3"
    FR4 = "FR4"
    FR5 = "FR5"
    FR6 = "FR6"
    FR7 = "FR7"
    FR8 = "FR8"
    FR9 = "FR9"
    TASK = "TASK"  # a meeting's task not done by its due date (四), charged to the assigned unit

    # Time limits other rules set (DOMAIN.md): a petition-platform matter's decision whether to
    # accept it (信访工作条例: 15 days), and the reply owed to the body that assigned a matter.
    PA = "PA"
    AR = "AR"

    @property
    def label(self) -> str:
        return CHECK_LABELS[self]


CHECK_LABELS: dict[Check, str] = {
    Check.FR1: "及时登记受理",
    Check.FR2: "首问责任人及时分类",
    Check.FR3: "按分类流转办理",
    Check.FR4: "非本辖区事项及时转办",
    Check.FR5: "转办事项及时签收（不空转）",
    Check.FR6: "推诿（来回转办）",
    Check.FR7: "重复跑（同一事项再次登记未关联）",
    Check.FR8: "办结前反馈缴费人",
    Check.FR9: "久拖不决（超期未办结）",
    Check.TASK: "会议交办任务逾期未完成",
    Check.PA: "信访事项按期决定是否受理",
    Check.AR: "交办事项按期回复",
}


class DutyStatus(StrEnum):
    MET = "met"
    MISSED = "missed"
    PENDING = "pending"


class CustodyEnd(StrEnum):
    """How a custody period ended."""

    TRANSFERRED = "transferred"  # the next unit accepted (签收) the case
    CLOSED = "closed"
    OPEN = "open"  # the unit still holds the case


class ExtensionState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"


class LinkDirection(StrEnum):
    OUTGOING = "outgoing"  # recorded on this case
    INCOMING = "incoming"  # recorded on the other case


# -- the case view ------------------------------------------------------------------------------


class StaffView(msgspec.Struct, frozen=True, kw_only=True):
    staff_id: str
    name: str
    unit: str


class PayerView(msgspec.Struct, frozen=True, kw_only=True):
    kind: PayerKind
    name: str
    identifier: str
    phone: str


class PendingTransfer(msgspec.Struct, frozen=True, kw_only=True):
    """A transfer awaiting acceptance (签收); until then the holder keeps the case (FR5)."""

    to_unit: str | None
    to_jurisdiction: str | None
    since: datetime
    position: int


class DeadlineView(msgspec.Struct, frozen=True, kw_only=True):
    """The date by which the case must be closed (FR9), in working days per the policy."""

    due: date
    provisional: bool  # a year without an official holiday arrangement was counted
    extended: bool  # an approved extension set it


class ExtensionView(msgspec.Struct, frozen=True, kw_only=True):
    state: ExtensionState
    until: date
    requested_at: datetime
    decided_at: datetime | None = None


class ReclassificationView(msgspec.Struct, frozen=True, kw_only=True):
    """A change of class or route asked of the leading-group office after the first
    classification (R10), and what the office decided."""

    state: ExtensionState  # requested, approved or refused, as for an extension
    classification: Classification
    route: int
    requested_at: datetime
    decided_at: datetime | None = None


class EnforcementView(msgspec.Struct, frozen=True, kw_only=True):
    """Collection and court enforcement (三(三)5, 行政强制法 第五十四条)."""

    demand_notice_served_at: datetime | None = None
    demand_amount: Decimal | None = None
    arrears_amount: Decimal | None = None
    arrears_period_from: date | None = None
    arrears_period_to: date | None = None
    referred_at: datetime | None = None
    court: str | None = None
    court_outcome: str | None = None
    court_outcome_at: datetime | None = None


class AssignmentView(msgspec.Struct, frozen=True, kw_only=True):
    """Who assigned the matter (交办/转办) and the reply it is owed; the first reply answers it."""

    body: AssigningBody
    body_name: str
    reference: str
    reply_due: date
    # The event that recorded the assignment: the registration, or a later
    # ``ledger.AssignmentRecorded`` (a matter handed down after it was registered); when.
    position: int | None = None
    recorded_at: datetime | None = None
    replied_at: datetime | None = None
    reply_position: int | None = None
    # Judged when asked: no reply and the due date passed; or the reply came after it.
    reply_overdue: bool = False
    replied_late: bool = False


class LinkView(msgspec.Struct, frozen=True, kw_only=True):
    case_id: UUID
    relation: LinkRelation
    direction: LinkDirection
    position: int


class CaseView(msgspec.Struct, frozen=True, kw_only=True):
    case_id: UUID
    status: CaseStatus
    category: Category
    classification: Classification | None
    route: int | None
    channel: Channel
    jurisdiction: str
    first_responder: StaffView
    receiving_unit: str
    holding_unit: str
    pending_transfer: PendingTransfer | None
    received_at: datetime
    registered_at: datetime
    closed_at: datetime | None
    deadline: DeadlineView | None
    overdue: bool  # computed when asked, from the deadline: never a stale stored flag
    extension: ExtensionView | None
    reclassification: ReclassificationView | None
    enforcement: EnforcementView | None
    escalated: bool
    links: list[LinkView]
    satisfaction: Satisfaction | None
    transfer_count: int
    return_count: int  # transfers sent back as misrouted (退单)
    urge_count: int
    corrected_positions: list[int]  # R7: events that later corrections refer to
    payer: PayerView
    version: int
    last_position: int
    case_number: str | None = None
    follow_up_count: int = 0  # follow-up visits (回访) after closure
    # An unsatisfied follow-up awaits the office: reopen the case, or record why not.
    follow_up_flag: bool = False
    consultations: list[ConsultationView] = msgspec.field(default_factory=list)
    tasks: list[TaskView] = msgspec.field(default_factory=list)  # meetings' decisions (四)
    assignment: AssignmentView | None = None  # 交办/转办: the body and the reply owed


class TaskStatus(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"  # not done, and its due date has passed
    DONE = "done"
    DONE_LATE = "done_late"


class TaskView(msgspec.Struct, frozen=True, kw_only=True):
    """A meeting's decision on the case, as a task of the assigned unit (四)."""

    meeting_id: UUID
    decision_no: int
    decision: str
    assigned_unit: str
    due: date
    status: TaskStatus
    position: int  # the case event that recorded the decision
    done_at: datetime | None = None
    done_position: int | None = None
    result: str = ""


class ConsultationView(msgspec.Struct, frozen=True, kw_only=True):
    """A joint consultation (会商, 三(三)3) on the case."""

    at: datetime
    position: int
    recorded_by: StaffView
    units: list[str]
    outcome: str


class PayerCase(msgspec.Struct, frozen=True, kw_only=True):
    """Another case of the same payer: open, or closed recently (FR7: link, not duplicate)."""

    case_id: UUID
    case_number: str | None
    status: CaseStatus
    category: Category
    channel: Channel
    holding_unit: str
    received_at: datetime
    closed_at: datetime | None


class RegisteredCase(CaseView, frozen=True, kw_only=True):
    """A registration's answer: the new case, and the payer's open and recently closed cases,
    so that the clerk links the new one to them (重复跑) instead of opening a duplicate."""

    payer_cases: list[PayerCase] = msgspec.field(default_factory=list)


class Measure(StrEnum):
    """A number of the department statistics (``GET /v1/statistics/units``) whose cases a
    listing can be narrowed to: the report's own names, and the parts of its rates
    (``closed_late``; ``satisfied`` and ``unsatisfied`` of the feedback and follow-up visits)."""

    RECEIVED = "received"
    REPEAT_TRIPS = "repeat_trips"
    CLOSED = "closed"
    CLOSED_ON_TIME = "closed_on_time"
    CLOSED_LATE = "closed_late"
    FEEDBACK_GIVEN = "feedback_given"
    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"
    RETURNED_TRANSFERS = "returned_transfers"
    ESCALATIONS = "escalations"
    FOLLOW_UPS = "follow_ups"
    HELD = "held"  # now, whatever the period
    OVERDUE = "overdue"  # now, whatever the period


class Counted(msgspec.Struct, frozen=True, kw_only=True):
    """The cases a statistic counts: ``measure`` of ``units`` (None: every unit) from
    ``period_from`` to ``period_to`` (Asia/Shanghai dates, inclusive; held and overdue: now).
    A case counts once, even where the statistic counts its events (two escalations of one
    case)."""

    measure: Measure
    units: tuple[str, ...] | None = None
    period_from: date | None = None  # None for held and overdue
    period_to: date | None = None


class CaseFilters(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Filters of ``GET /v1/cases``; ``received_from`` inclusive, ``received_to`` exclusive."""

    status: CaseStatus | None = None
    classification: Classification | None = None
    category: Category | None = None
    unit: str | None = None  # the holding unit
    jurisdiction: str | None = None
    first_responder: str | None = None  # staff id
    overdue: bool | None = None  # as of the moment of the query
    # Open cases due from today up to this many working days from today (预警); the list
    # turns it into ``due_by``, the last day, on the working calendar.
    due_within: int | None = None
    due_by: date | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    payer_identifier: str | None = None
    case_number: str | None = None
    task_unit: str | None = None  # cases where this unit has a meeting's task open (四)
    # The transfers awaiting this unit's acceptance (签收): sent to it, or to a jurisdiction it
    # serves (the list resolves ``awaiting_jurisdiction`` from the reference data).
    awaiting: str | None = None
    awaiting_jurisdiction: str | None = None
    # Whether an assigning body (交办/转办) is still owed its reply; with ``unit``, by that unit.
    reply_owed: bool | None = None

    # The cases behind a number of the department statistics (a drill-down from 督办).
    counted: Counted | None = None


class OpenTasks(msgspec.Struct, frozen=True, kw_only=True):
    """The meetings' tasks (四) a unit has not done yet: how many, past their due date, and
    the cases they are on."""

    unit: str
    open: int
    overdue: int
    cases: int


class OpenCases(msgspec.Struct, frozen=True, kw_only=True):
    """The open cases a unit holds in one status: how many, past their deadline, due soon."""

    unit: str
    status: CaseStatus
    open: int
    overdue: int
    due_soon: int


class CasePage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[CaseView]
    next_cursor: str | None  # opaque; None on the last page


# -- the accountability trail ---------------------------------------------------------------------


class CustodyPeriod(msgspec.Struct, frozen=True, kw_only=True):
    unit: str
    from_at: datetime
    from_position: int
    to_at: datetime | None
    to_position: int | None
    dwell_working_days: int  # up to ``to_at``, or up to the trail's moment while open
    dwell_provisional: bool
    ended: CustodyEnd


class DutyView(msgspec.Struct, frozen=True, kw_only=True):
    check: Check
    label: str
    status: DutyStatus
    due: date | None  # None: the policy sets no time limit for this duty
    due_provisional: bool
    done_at: datetime | None
    positions: list[int]  # the events the status rests on


class Trail(msgspec.Struct, frozen=True, kw_only=True):
    case_id: UUID
    as_of: datetime  # the moment the statuses are evaluated at
    position: int  # the last log position taken into account
    first_responder: StaffView
    custody: list[CustodyPeriod]
    duties: list[DutyView]  # FR1–FR5, and meetings' tasks (TASK)
    consultations: list[ConsultationView] = msgspec.field(default_factory=list)


# -- inspections ----------------------------------------------------------------------------------


# gc=False: a report can hold tens of thousands of findings, and none can be part of a reference
# cycle (an enum, a UUID, a list of ints, a bool); untracked, they do not trigger and slow down
# the cyclic garbage collector while a report is assembled.
class Finding(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    check: Check
    case_id: UUID
    positions: list[int]  # the events that prove it (other cases' events for FR7)
    provisional: bool  # rests on a deadline counted on a provisional calendar year


class CaseProof(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A case counted for someone: received (its registration), held (the acceptance,
    registration or reopening that began the custody and, once ended, the event that ended it),
    or consulted on (the joint consultation's event, one proof per consultation)."""

    case_id: UUID
    positions: list[int]


class StaffInspection(msgspec.Struct, frozen=True, kw_only=True):
    """One staff member of one unit: the cases received as first responder, the cases held
    (custody periods overlapping the period), the findings charged to them and the joint
    consultations (会商) they recorded in the period."""

    staff_id: str
    name: str
    unit: str
    cases_received: int
    cases_held: int
    counts: dict[Check, int]  # cases with each finding charged to them
    findings: list[Finding]
    received: list[CaseProof]
    held: list[CaseProof]
    consultations: int = 0
    consulted: list[CaseProof] = msgspec.field(default_factory=list)  # in log order


class UnitInspection(msgspec.Struct, frozen=True, kw_only=True):
    """A unit: totals over its staff, plus the findings charged to the unit as a whole (FR5:
    a transfer nobody there accepted in time), which are counted in ``counts`` too; and the
    joint consultations (会商) of the period it took part in: recorded by one of its staff, or
    with the unit among those consulted (each once)."""

    unit: str
    cases_received: int
    cases_held: int
    counts: dict[Check, int]
    findings: list[Finding]  # charged to the unit, to no staff member of it
    consultations: int = 0
    consulted: list[CaseProof] = msgspec.field(default_factory=list)  # in log order


class InspectionReport(msgspec.Struct, frozen=True, kw_only=True):
    """Findings for cases received in ``period_from``–``period_to`` (Asia/Shanghai dates, both
    inclusive), computed from the events up to ``position``, each charged to whoever owed the
    duty; with ``forecast`` (``as_of`` after the moment asked) what will hold by ``as_of`` if
    nothing more is recorded."""

    period_from: date
    period_to: date
    unit: str | None
    as_of: datetime
    position: int
    forecast: bool
    staff: list[StaffInspection]
    units: list[UnitInspection]
