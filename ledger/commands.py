"""Commands: what a member of staff asks the ledger to record, and the catalogue of them.

Each command is declared once, with ``@command``: its name (the path segment of its HTTP route,
``POST /v1/cases/{id}/<name>``; ``register`` is ``POST /v1/cases``), the roles that may send it,
its summary, and the ``Dispute`` method it calls. Its fields are the request body (API.md), unknown
fields refused, and are handed to that method by name. The HTTP routes, their role guards, their
OpenAPI text and the service's dispatch are all derived from this one catalogue (``CATALOGUE``).
Who asks is never part of a command: the actor comes from the verified token.

Whether *this* member of staff may act on *this* case (R2 first responder, R4 holding unit, R5
city tax bureau, R9 office) is the domain's to decide; the roles here only say which kind of
staff may send the command at all. How API.md's prose reads as roles (where it is silent, the
choice and its reason):

- intake registers, classifies, routes (transfer; escalate a major matter — FR3), resolves simple
  matters on the spot (decide, feedback, close) and links duplicates.
- handler accepts, classifies a case its unit accepted unclassified from another jurisdiction
  (R2, R13), decides, consults, transfers onward, requests extensions, gives feedback,
  closes, escalates a case its unit holds (R4 lets the holding unit do it) and links related cases
  it finds while handling.
- reclassify: whoever may classify the case, or its holding unit, requests it (intake, handler);
  the office decides it (R10), as with extensions.
- office may do everything a handler may (the domain limits it to major cases, R4) plus urge,
  decide extensions and reopen.
- enforcement serves demand notices, confirms arrears, refers to court, records the outcome.
- correct: anyone who records events on cases may record a correction — it never edits anything
  (R7) and names its author.
- follow-up (回访): whoever may give feedback, on a closed case (the unit that closed it, or the
  office); deciding on an unsatisfied one without reopening (follow-up-resolved): the office.
- complete-task: staff of the unit a meeting assigned the task to, whatever their case role
  (enforcement included: a task may be a collection step); the domain checks the unit.

- record-assignment: case-work staff of the holding unit, or the office (which hands matters
  down, 四): the body that assigned an already registered matter (交办/转办) and the reply it is
  owed, on an open case that has no assignment yet — the same people who owe that reply.
- reply-to-assignment: case-work staff of the holding unit (or of the unit that closed it), or
  the office: the reply owed to the body that assigned the matter (交办/转办).
- reveal: the auditor only (个人信息保护法: a recorded, reasoned look at one case's identifiers).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from uuid import UUID

import msgspec

from ledger.domain.codes import (
    Category,
    Channel,
    Classification,
    DecisionOutcome,
    LinkRelation,
    Role,
    Satisfaction,
)
from ledger.domain.dispute import Dispute
from ledger.domain.money import PLAIN_YUAN
from ledger.domain.payer import Assignment, Party, Payer, ShortText

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
OptionalText = Annotated[str, msgspec.Meta(max_length=4000)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_.\-]+$")]
Route = Annotated[int, msgspec.Meta(ge=1, le=7)]
Position = Annotated[int, msgspec.Meta(ge=1)]
# Money as API.md has it: a decimal string of yuan in plain notation (R8). As a Decimal type, a
# body's JSON number, exponent ("1e3") or full-width digits would all be read as amounts; as text
# they reach ``guards.money``, which also refuses fractions of a fen and absurd sums.
Yuan = Annotated[
    str,
    msgspec.Meta(
        max_length=32,
        pattern=f"^{PLAIN_YUAN}$",
        description='yuan as a decimal string, at most 2 places, e.g. "1234.50"',
        examples=["1234.50"],
    ),
]

INTAKE, HANDLER, OFFICE, ENFORCEMENT = Role.INTAKE, Role.HANDLER, Role.OFFICE, Role.ENFORCEMENT
AUDITOR = Role.AUDITOR
CASEWORK = (INTAKE, HANDLER, OFFICE)


class Lookup(StrEnum):
    """What the service looks up in the ledger before a command runs (``Facts``)."""

    LINKED_CASE = "linked_case"  # whether the case named by the command's ``case_id`` exists
    OWN_POSITIONS = "own_positions"  # the log positions of the case's own events


# The values a command method may take besides the command's fields: supplied by the service.
SUPPLIED = frozenset({"actor", "now", "context", "facts", "case_id", "case_number"})


@dataclass(frozen=True)
class CommandSpec:
    """One command of the catalogue."""

    name: str
    body: type[Command]
    roles: frozenset[Role]
    summary: str
    method: Callable[..., Any]  # the Dispute method (or classmethod, for ``creates``) it calls
    creates: bool = False  # it makes a new case (registration)
    lookups: frozenset[Lookup] = frozenset()
    fields: tuple[str, ...] = ()  # the body's fields, passed to ``method`` by name
    supplied: frozenset[str] = frozenset()  # what else ``method`` takes, of ``SUPPLIED``

    @property
    def operation(self) -> str:
        """The name as a Python identifier (``demand-notice`` → ``demand_notice``)."""
        return self.name.replace("-", "_")

    def arguments(self, command: Command) -> dict[str, Any]:
        """The command's fields as the keyword arguments of ``method``."""
        return {name: getattr(command, name) for name in self.fields}


CATALOGUE: dict[str, CommandSpec] = {}
_BY_BODY: dict[type, CommandSpec] = {}
C = TypeVar("C", bound="type[Command]")


def command(
    name: str,
    method: Callable[..., Any],
    *,
    roles: Iterable[Role],
    summary: str,
    creates: bool = False,
    lookups: Iterable[Lookup] = (),
) -> Callable[[C], C]:
    """Declares the decorated Struct a command of the catalogue (see the module)."""

    def declare(body: C) -> C:
        fields = body.__struct_fields__
        params = set(inspect.signature(method).parameters) - {"self", "cls"}
        missing = set(fields) - params
        unknown = params - set(fields) - SUPPLIED
        if missing or unknown:  # a programming error: fail at import, not on a request
            raise TypeError(
                f"{method.__qualname__} does not fit command {name!r}: "
                f"fields it does not take {sorted(missing)}, parameters no one supplies "
                f"{sorted(unknown)}"
            )
        spec = CommandSpec(
            name=name,
            body=body,
            roles=frozenset(roles),
            summary=summary,
            method=method,
            creates=creates,
            lookups=frozenset(lookups),
            fields=tuple(fields),
            supplied=frozenset(params - set(fields)),
        )
        if name in CATALOGUE:
            raise TypeError(f"command {name!r} declared twice")
        CATALOGUE[name] = _BY_BODY[body] = spec
        return body

    return declare


def spec_of(command: Command) -> CommandSpec | None:
    """The catalogue's entry for a command, None if it is not one."""
    return _BY_BODY.get(type(command))


class Command(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of all commands."""


@command(
    "register",
    Dispute.register,
    roles=(INTAKE,),
    summary="Register a dispute (登记受理, 三(一))",
    creates=True,
)
class Register(Command):
    channel: Channel
    received_at: datetime
    payer: Payer
    jurisdiction: Code
    category: Category
    summary: Text
    preliminary_opinion: Text
    # The employer of an employee_employer dispute raised by a person (required then, R1).
    employer: Party | None = None
    # The body that assigned the matter (交办/转办) and the date it is owed a reply by.
    assignment: Assignment | None = None


@command(
    "classify",
    Dispute.classify,
    roles=(INTAKE, HANDLER),
    summary="Classify (三(二)): simple/general/major, route 1–7",
)
class Classify(Command):
    classification: Classification
    route: Route
    reason: Text


@command(
    "reclassify",
    Dispute.reclassify,
    roles=CASEWORK,
    summary="Request a reclassification, or decide one (office, R10)",
)
class Reclassify(Command):
    """Request a reclassification (``classification``, ``route`` and ``reason``), or decide
    one (``approve``, the office)."""

    classification: Classification | None = None
    route: Route | None = None
    reason: OptionalText = ""
    approve: bool | None = None


@command(
    "transfer",
    Dispute.transfer,
    roles=CASEWORK,
    summary="Transfer to a unit or another jurisdiction (流转)",
)
class Transfer(Command):
    reason: Text
    to_unit: Code | None = None
    to_jurisdiction: Code | None = None


@command(
    "accept",
    Dispute.accept,
    roles=(HANDLER, OFFICE),
    summary="Accept custody of a transferred case (签收)",
)
class Accept(Command):
    note: OptionalText = ""


@command(
    "return",
    Dispute.return_transfer,
    roles=(HANDLER, OFFICE),
    summary="Return a misrouted transfer (退单) instead of accepting it",
)
class ReturnTransfer(Command):
    reason: Text


@command("decide", Dispute.decide, roles=CASEWORK, summary="Record a decision (处理意见)")
class Decide(Command):
    outcome: DecisionOutcome
    finding: Text
    amount: Yuan | None = None


@command(
    "consult",
    Dispute.consult,
    roles=(HANDLER, OFFICE),
    summary="Record a joint consultation (会商)",
)
class Consult(Command):
    units: Annotated[tuple[Code, ...], msgspec.Meta(min_length=1, max_length=20)]
    outcome: Text


@command("escalate", Dispute.escalate, roles=CASEWORK, summary="Escalate to the leading group")
class Escalate(Command):
    reason: Text


@command("urge", Dispute.urge, roles=(OFFICE,), summary="Record a supervision reminder (催办/督办)")
class Urge(Command):
    reason: Text


@command(
    "extend",
    Dispute.extend,
    roles=(HANDLER, OFFICE),
    summary="Request a deadline extension, or decide one (office)",
)
class Extend(Command):
    """Request an extension (``until`` and ``reason``), or decide one (``approve``, the office)."""

    until: date | None = None
    reason: OptionalText = ""
    approve: bool | None = None


@command(
    "demand-notice",
    Dispute.serve_demand_notice,
    roles=(ENFORCEMENT,),
    summary="Record a demand notice served (催告书)",
)
class ServeDemandNotice(Command):
    served_at: datetime
    amount: Yuan
    document_number: ShortText  # 文书号
    employer: Party | None = None  # required when the case names no employer (R11)


@command(
    "confirm-arrears",
    Dispute.confirm_arrears,
    roles=(ENFORCEMENT,),
    summary="Confirm the arrears amount",
)
class ConfirmArrears(Command):
    amount: Yuan
    period_from: date
    period_to: date


@command(
    "refer-to-court",
    Dispute.refer_to_court,
    roles=(ENFORCEMENT,),
    summary="Refer to the People's Court (R5)",
)
class ReferToCourt(Command):
    court: ShortText
    reason: Text
    employer: Party | None = None  # required when the case names no employer (R11)


@command(
    "court-outcome",
    Dispute.record_court_outcome,
    roles=(ENFORCEMENT,),
    summary="Record the court's outcome",
)
class RecordCourtOutcome(Command):
    outcome: ShortText
    detail: OptionalText = ""
    corrects: Position | None = None  # the version of the outcome a different one corrects (R12)


@command(
    "feedback",
    Dispute.give_feedback,
    roles=CASEWORK,
    summary="Record feedback to the payer (反馈/回访)",
)
class GiveFeedback(Command):
    channel: Channel
    content: Text
    satisfaction: Satisfaction = Satisfaction.UNKNOWN


@command("close", Dispute.close, roles=CASEWORK, summary="Close the case (办结, R6)")
class Close(Command):
    summary: Text


@command(
    "follow-up",
    Dispute.follow_up,
    roles=CASEWORK,
    summary="Record a follow-up visit (回访) on a closed case, which stays closed",
)
class FollowUp(Command):
    channel: Channel
    content: Text
    satisfaction: Satisfaction = Satisfaction.UNKNOWN


@command(
    "follow-up-resolved",
    Dispute.resolve_follow_up,
    roles=(OFFICE,),
    summary="Record why an unsatisfied follow-up does not reopen the case (office)",
)
class ResolveFollowUp(Command):
    reason: Text


@command(
    "record-assignment",
    Dispute.record_assignment,
    roles=CASEWORK,
    summary="Record the body that assigned a registered matter and the reply it is owed "
    "(交办/转办)",
)
class RecordAssignment(Command):
    # The same as a registration's ``assignment``: the body, the date it is owed a reply by,
    # and optionally the body's name and its document number.
    assignment: Assignment


@command(
    "reply-to-assignment",
    Dispute.reply_to_assignment,
    roles=CASEWORK,
    summary="Record the reply to the body that assigned the matter (交办/转办)",
)
class ReplyToAssignment(Command):
    content: Text


@command("reopen", Dispute.reopen, roles=(OFFICE,), summary="Reopen a closed case")
class Reopen(Command):
    reason: Text


@command(
    "link",
    Dispute.link,
    roles=CASEWORK,
    summary="Link to a related or duplicate case",
    lookups=(Lookup.LINKED_CASE,),
)
class Link(Command):
    case_id: UUID
    relation: LinkRelation


@command(
    "correct",
    Dispute.correct,
    roles=(*CASEWORK, ENFORCEMENT),
    summary="Record a correction of an earlier event (R7)",
    lookups=(Lookup.OWN_POSITIONS,),
)
class Correct(Command):
    position: Position
    correction: Text
    reason: Text


@command(
    "complete-task",
    Dispute.complete_task,
    roles=(*CASEWORK, ENFORCEMENT),
    summary="Record the result of a meeting's task (the assigned unit)",
)
class CompleteTask(Command):
    meeting_id: UUID
    decision_no: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    result: Text


@command(
    "reveal",
    Dispute.reveal_identifiers,
    roles=(AUDITOR,),
    summary="Reveal a case's payer identifiers (recorded)",
)
class RevealIdentifiers(Command):
    reason: Text
