"""Commands: what a member of staff asks the ledger to record, as plain data.

They are also the HTTP request bodies (API.md), so they reject unknown fields. Who asks is never
part of a command: the actor comes from the verified token.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec

from ledger.domain.codes import (
    Category,
    Channel,
    Classification,
    DecisionOutcome,
    LinkRelation,
    PayerKind,
    Satisfaction,
)
from ledger.domain.money import PLAIN_YUAN

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
OptionalText = Annotated[str, msgspec.Meta(max_length=4000)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
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


class Command(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of all commands."""


class PayerInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    kind: PayerKind
    name: ShortText
    identifier: ShortText
    phone: ShortText


class Register(Command):
    channel: Channel
    received_at: datetime
    payer: PayerInput
    jurisdiction: Code
    category: Category
    summary: Text
    preliminary_opinion: Text


class Classify(Command):
    classification: Classification
    route: Route
    reason: Text


class Transfer(Command):
    reason: Text
    to_unit: Code | None = None
    to_jurisdiction: Code | None = None


class Accept(Command):
    note: OptionalText = ""


class Decide(Command):
    outcome: DecisionOutcome
    finding: Text
    amount: Yuan | None = None


class Consult(Command):
    units: Annotated[tuple[Code, ...], msgspec.Meta(min_length=1, max_length=20)]
    outcome: Text


class Escalate(Command):
    reason: Text


class Urge(Command):
    reason: Text


class Extend(Command):
    """Request an extension (``until`` and ``reason``), or decide one (``approve``, the office)."""

    until: date | None = None
    reason: OptionalText = ""
    approve: bool | None = None


class ServeDemandNotice(Command):
    served_at: datetime
    amount: Yuan


class ConfirmArrears(Command):
    amount: Yuan
    period_from: date
    period_to: date


class ReferToCourt(Command):
    court: ShortText
    reason: Text


class RecordCourtOutcome(Command):
    outcome: ShortText
    detail: OptionalText = ""


class GiveFeedback(Command):
    channel: Channel
    content: Text
    satisfaction: Satisfaction = Satisfaction.UNKNOWN


class Close(Command):
    summary: Text


class Reopen(Command):
    reason: Text


class Link(Command):
    case_id: UUID
    relation: LinkRelation


class Correct(Command):
    position: Position
    correction: Text
    reason: Text


class RevealIdentifiers(Command):
    reason: Text
