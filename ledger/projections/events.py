"""Decoding stored events for projections: one typed msgspec decode per topic, no domain objects.

The write path rebuilds full domain events (``TypedMapper``); projections replay millions of
events and need a handful of fields each, so they decode the stored JSON straight into small
frozen Structs holding only those fields. :func:`projected` builds such a Struct from the domain
event class the stored topic resolves to: the projection names the fields, the domain class
gives their types, so the two cannot drift apart. msgspec ignores fields a Struct does not
declare, so an event that later gains fields still decodes here; a field a projection starts to
need on old events that lack it gets a default (``defaults=``, or None where its type admits
None, as ``ledger.store.codec.event_schema`` does).

Topics are the stable ``ledger.<Event>`` names; a topic no projection uses decodes to ``None``
and is skipped (its position is still tracked). :data:`IGNORED` names the domain's topics that
no read model shows, so that a new event type has to be placed on one side or the other.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec
from eventsourcing.utils import resolve_topic

from ledger.domain.codes import Satisfaction
from ledger.store.codec import _admits_none
from ledger.store.port import RecordedEvent

# Importing the aggregate registers its event topics (``ledger.Classified`` …).
import ledger.domain.dispute  # noqa: F401  isort: skip


class ProjectionError(Exception):
    """A stored event the projections cannot read: a bug to fix, never to skip silently."""


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """The base of every projection event Struct; ``TOPIC`` is the stored topic it decodes."""

    TOPIC: ClassVar[str]

    if typing.TYPE_CHECKING:
        # The fields are those :func:`projected` gives each topic's Struct, at import time.
        def __getattr__(self, name: str) -> Any: ...


# Per topic, its decoder: in _TIMED if its Struct holds occurred_at (checked to be aware).
_TIMED: dict[str, msgspec.json.Decoder[Any]] = {}
_UNTIMED: dict[str, msgspec.json.Decoder[Any]] = {}
STRUCTS: dict[str, type[Event]] = {}


def domain_fields(topic: str) -> dict[str, Any]:
    """The fields of the domain event stored under ``topic``, with their types."""
    return _fields(resolve_topic(topic))


def _fields(cls: type) -> dict[str, Any]:
    return {
        name: hint
        for name, hint in typing.get_type_hints(cls).items()
        if typing.get_origin(hint) is not ClassVar and hint is not ClassVar
    }


# A field to project: its name, or for a structured value (the actor, say) its name followed by
# the names of the parts of it to keep: ("actor", "staff_id", "unit").
Field = str | tuple[str, ...]
_PARTS: dict[tuple[type, tuple[str, ...]], type[msgspec.Struct]] = {}


def part_of(struct: type) -> type | None:
    """The domain type a projected part (:func:`part`) keeps some fields of, if it is one."""
    return getattr(struct, "__part_of__", None)


def part(cls: type, *fields: str) -> type[msgspec.Struct]:
    """A frozen Struct of the ``fields`` of the domain value type ``cls`` (a Struct or a
    dataclass), typed as ``cls`` types them: a structured field projected down to what a read
    model reads of it."""
    key = (cls, fields)
    struct = _PARTS.get(key)
    if struct is None:
        spec = _spec(cls.__qualname__, _fields(cls), fields, {})
        struct = _PARTS[key] = msgspec.defstruct(
            f"{cls.__name__}Part",
            spec,
            namespace={"__part_of__": cls},
            frozen=True,
            kw_only=True,
            module=__name__,
        )
    return struct


def _spec(
    owner: str, hints: Mapping[str, Any], fields: tuple[Field, ...], defaults: Mapping[str, Any]
) -> list[tuple[str, Any] | tuple[str, Any, Any]]:
    given = dict(defaults)
    spec: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for wanted in fields:
        name, *parts = (wanted,) if isinstance(wanted, str) else wanted
        if name not in hints:
            raise TypeError(f"{owner} has no field {name!r} (it has {sorted(hints)})")
        hint = hints[name]
        if parts:
            hint = part(hint, *parts)
        if name in given:
            spec.append((name, hint, given.pop(name)))
        elif _admits_none(hint):
            spec.append((name, hint, None))
        else:
            spec.append((name, hint))
    if given:
        raise TypeError(f"defaults for fields not projected from {owner}: {sorted(given)}")
    return spec


def projected(topic: str, *fields: Field, defaults: Mapping[str, Any] | None = None) -> type[Event]:
    """A frozen Struct of the ``fields`` of the domain event stored under ``topic``, typed as
    the domain event types them, registered as that topic's projection decoder."""
    if topic in STRUCTS:
        raise ValueError(f"{topic} is projected twice")
    spec = _spec(topic, domain_fields(topic), fields, defaults or {})
    struct: type[Event] = msgspec.defstruct(  # type: ignore[assignment]
        topic.rsplit(".", 1)[-1],
        spec,
        bases=(Event,),
        namespace={"TOPIC": topic},
        frozen=True,
        kw_only=True,
        module=__name__,
    )
    STRUCTS[topic] = struct
    timed = "occurred_at" in struct.__struct_fields__
    (_TIMED if timed else _UNTIMED)[topic] = msgspec.json.Decoder(struct)
    return struct


# The fields every step of a case records: who (of the actor, the staff id, name and unit: its
# roles and department are no read model's business, and decoding them costs a fifth of the
# decode) and when.
_STEP: tuple[Field, ...] = (("actor", "staff_id", "name", "unit"), "occurred_at")

Registered = projected(
    "ledger.Registered",
    *_STEP,
    "channel",
    "received_at",
    "payer",
    "jurisdiction",
    "receiving_unit",
    "category",
    "case_number",
    "assignment",
)
# The deadline the aggregate set is carried by the event (DOMAIN.md R9): the read models show
# that one, not one recomputed from today's policy.
Classified = projected(
    "ledger.Classified", *_STEP, "classification", "route", "due", "due_provisional"
)
Transferred = projected("ledger.Transferred", *_STEP, "to_unit", "to_jurisdiction")
Accepted = projected("ledger.Accepted", *_STEP)
TransferReturned = projected("ledger.TransferReturned", *_STEP)
Escalated = projected("ledger.Escalated", *_STEP)
ReclassificationRequested = projected(
    "ledger.ReclassificationRequested", *_STEP, "classification", "route"
)
ReclassificationDecided = projected(
    "ledger.ReclassificationDecided",
    *_STEP,
    "approved",
    "classification",
    "route",
    "due",
    "due_provisional",
)
Decided = projected("ledger.Decided", *_STEP, "outcome")
Urged = projected("ledger.Urged", *_STEP)
ExtensionRequested = projected("ledger.ExtensionRequested", *_STEP, "until")
ExtensionDecided = projected("ledger.ExtensionDecided", *_STEP, "approved", "until")
DemandNoticeServed = projected("ledger.DemandNoticeServed", *_STEP, "served_at", "amount")
ArrearsConfirmed = projected(
    "ledger.ArrearsConfirmed", *_STEP, "amount", "period_from", "period_to"
)
ReferredToCourt = projected("ledger.ReferredToCourt", *_STEP, "court")
CourtOutcomeRecorded = projected("ledger.CourtOutcomeRecorded", *_STEP, "outcome")
FeedbackGiven = projected(
    "ledger.FeedbackGiven",
    *_STEP,
    "satisfaction",
    defaults={"satisfaction": Satisfaction.UNKNOWN},
)
Closed = projected("ledger.Closed", *_STEP)
Reopened = projected("ledger.Reopened", *_STEP)
FollowUpVisited = projected("ledger.FollowUpVisited", *_STEP, "satisfaction")
FollowUpResolved = projected("ledger.FollowUpResolved", *_STEP)
Linked = projected("ledger.Linked", *_STEP, "case_id", "relation")
Corrected = projected("ledger.Corrected", *_STEP, "position")
Consulted = projected("ledger.Consulted", *_STEP, "units", "outcome")
MeetingDecisionRecorded = projected(
    "ledger.MeetingDecisionRecorded",
    *_STEP,
    "meeting_id",
    "decision_no",
    "decision",
    "assigned_unit",
    "due",
)
TaskCompleted = projected("ledger.TaskCompleted", *_STEP, "meeting_id", "decision_no", "result")

AssignmentRecorded = projected("ledger.AssignmentRecorded", *_STEP, "assignment")
AssignmentReplied = projected("ledger.AssignmentReplied", *_STEP)

# Stored by the domain, shown by no read model: a reveal changes nothing a view, a trail or an
# inspection shows.
IGNORED = frozenset(
    {
        "ledger.IdentifiersRevealed",
        # Not case events: an export's access record (``ledger.domain.access``).
        "ledger.ExportRecorded",
    }
)


def decode(record: RecordedEvent) -> Event | None:
    """The projection event of ``record``, or None for a topic no projection uses."""
    decoder = _TIMED.get(record.topic)
    if decoder is None:
        decoder = _UNTIMED.get(record.topic)
        return None if decoder is None else _decode(decoder, record)
    try:
        event: Event = decoder.decode(record.state)
    except msgspec.DecodeError as exc:
        raise _unreadable(record, exc) from exc
    if event.occurred_at.tzinfo is None:
        raise ProjectionError(f"event at position {record.position} has a naive occurred_at")
    return event


def _decode(decoder: msgspec.json.Decoder[Any], record: RecordedEvent) -> Event:
    try:
        event: Event = decoder.decode(record.state)
    except msgspec.DecodeError as exc:
        raise _unreadable(record, exc) from exc
    return event


def _unreadable(record: RecordedEvent, exc: Exception) -> ProjectionError:
    return ProjectionError(
        f"cannot decode event at position {record.position} ({record.topic}): {exc}"
    )
