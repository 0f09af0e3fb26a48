"""Decoding stored events for projections: one typed msgspec decode per topic, no domain objects.

The write path rebuilds full domain events (``TypedMapper``); projections replay millions of
events and need a handful of fields each, so they decode the stored JSON straight into small
Structs holding only those fields. msgspec ignores fields a Struct does not declare, so an event
that later gains fields (with defaults, ARCHITECTURE.md decision 1) still decodes here; a field a
projection starts to need on old events must get a default in its Struct.

Topics are the stable ``ledger.<Event>`` names; a topic no projection uses decodes to ``None``
and is skipped (its position is still tracked).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
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
from ledger.store.port import RecordedEvent


class ProjectionError(Exception):
    """A stored event the projections cannot read: a bug to fix, never to skip silently."""


class ActorRef(msgspec.Struct, frozen=True):
    staff_id: str
    name: str
    unit: str
    jurisdiction: str | None = None


class PayerRef(msgspec.Struct, frozen=True):
    kind: PayerKind
    name: str
    identifier: str
    phone: str


class Event(msgspec.Struct, frozen=True, kw_only=True):
    actor: ActorRef
    occurred_at: datetime  # business time (R8: aware)


class Registered(Event, frozen=True, kw_only=True):
    channel: Channel
    received_at: datetime
    payer: PayerRef
    jurisdiction: str
    receiving_unit: str
    category: Category
    case_number: str | None = None


class Classified(Event, frozen=True, kw_only=True):
    classification: Classification
    route: int


class Transferred(Event, frozen=True, kw_only=True):
    to_unit: str | None = None
    to_jurisdiction: str | None = None


class Accepted(Event, frozen=True, kw_only=True):
    pass


class Escalated(Event, frozen=True, kw_only=True):
    pass


class Decided(Event, frozen=True, kw_only=True):
    outcome: DecisionOutcome


class Urged(Event, frozen=True, kw_only=True):
    pass


class ExtensionRequested(Event, frozen=True, kw_only=True):
    until: date


class ExtensionDecided(Event, frozen=True, kw_only=True):
    approved: bool
    until: date


class DemandNoticeServed(Event, frozen=True, kw_only=True):
    served_at: datetime
    amount: Decimal


class ArrearsConfirmed(Event, frozen=True, kw_only=True):
    amount: Decimal
    period_from: date
    period_to: date


class ReferredToCourt(Event, frozen=True, kw_only=True):
    court: str


class CourtOutcomeRecorded(Event, frozen=True, kw_only=True):
    outcome: str


class FeedbackGiven(Event, frozen=True, kw_only=True):
    satisfaction: Satisfaction = Satisfaction.UNKNOWN


class Closed(Event, frozen=True, kw_only=True):
    pass


class Reopened(Event, frozen=True, kw_only=True):
    pass


class Linked(Event, frozen=True, kw_only=True):
    case_id: UUID
    relation: LinkRelation


class Corrected(Event, frozen=True, kw_only=True):
    position: int


_TYPES: tuple[type[Event], ...] = (
    Registered,
    Classified,
    Transferred,
    Accepted,
    Escalated,
    Decided,
    Urged,
    ExtensionRequested,
    ExtensionDecided,
    DemandNoticeServed,
    ArrearsConfirmed,
    ReferredToCourt,
    CourtOutcomeRecorded,
    FeedbackGiven,
    Closed,
    Reopened,
    Linked,
    Corrected,
)
# Consulted and IdentifiersRevealed change nothing any read model shows.
_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    f"ledger.{cls.__name__}": msgspec.json.Decoder(cls) for cls in _TYPES
}


def decode(record: RecordedEvent) -> Event | None:
    """The projection event of ``record``, or None for a topic no projection uses."""
    decoder = _DECODERS.get(record.topic)
    if decoder is None:
        return None
    try:
        event: Event = decoder.decode(record.state)
    except msgspec.DecodeError as exc:
        raise ProjectionError(
            f"cannot decode event at position {record.position} ({record.topic}): {exc}"
        ) from exc
    if event.occurred_at.tzinfo is None:
        raise ProjectionError(f"event at position {record.position} has a naive occurred_at")
    return event
