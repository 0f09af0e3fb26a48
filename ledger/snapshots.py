"""Snapshots of the ``Dispute`` aggregate: its folded state as msgspec JSON, typed both ways.

A snapshot is the aggregate's ``__dict__`` (less its pending events), as eventsourcing's
``Snapshot.take`` keeps it, written with msgspec and read back through ``DisputeState``: a Struct
declaring every attribute the aggregate holds with its type, so StrEnums, Decimals, dates and
datetimes, nested Structs and UUID-keyed dicts come back as what they were, and an attribute
missing, extra or of the wrong type makes the snapshot undecodable (and so ignored). Never pickle.

``TOPIC`` is the fingerprint stored with each snapshot: the aggregate's topic, ``SNAPSHOT_VERSION``
and a hash of the state schema, of the source of ``ledger.domain.dispute`` (the code that makes
the state from events) and of the eventsourcing version. Code that folds differently therefore
never reads snapshots another version wrote; it folds from events and writes its own. Bump
``SNAPSHOT_VERSION`` for changes the hash cannot see (a guard module changing what an event
handler stores, say).

Every state is checked before it is written (``encode`` refuses one that does not decode back to
an equal state, attribute by attribute, of the same type or a base of it), and ``LedgerService``
binds each snapshot to the hash of the event at its version (see ``ledger.store.port``).

A snapshot is the state a command is decided on, so it must not be forgeable by whoever can write
the database: the store's digest catches damage, not a forger who recomputes it. ``seal`` puts an
HMAC-SHA256 of the case, version, topic, state and event hash in front of the state, under a key
the database never holds (``Settings.snapshot_key``, derived from the token secret); ``unseal``
gives the state back only when the MAC holds. A service without the key keeps and reads none.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import marshal
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec

from ledger.domain import dispute as _dispute_module
from ledger.domain.actor import StaffRef
from ledger.domain.codes import (
    CaseStatus,
    Category,
    Channel,
    Classification,
    LinkRelation,
    Satisfaction,
)
from ledger.domain.dispute import Dispute
from ledger.domain.payer import Payer

__all__ = [
    "SNAPSHOT_VERSION",
    "TOPIC",
    "DisputeState",
    "SnapshotMismatch",
    "decode",
    "encode",
    "seal",
    "unseal",
]

SNAPSHOT_VERSION = 2  # 2: sealed (an HMAC in front of the state)
MAC_SIZE = 32


class DisputeState(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every attribute of a folded ``Dispute`` (``Dispute.__init__`` and eventsourcing's base)."""

    _id: UUID
    _version: int
    _created_on: datetime
    _modified_on: datetime
    first_responder: StaffRef
    channel: Channel
    received_at: datetime
    payer: Payer
    jurisdiction: str
    receiving_unit: str
    category: Category
    summary: str
    status: CaseStatus
    classification: Classification | None
    route: int | None
    holder: str
    pending_unit: str | None
    pending_jurisdiction: str | None
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
    closed: bool
    links: dict[UUID, LinkRelation]
    case_number: str | None = None  # None: registered before case numbers


FIELDS = frozenset(DisputeState.__struct_fields__)
_PENDING = "_pending_events"

# Insertion order kept (dicts such as ``links`` come back in the order they had); Decimals as
# strings, exponent and all.
_ENCODER = msgspec.json.Encoder(decimal_format="string")
_DECODER = msgspec.json.Decoder(DisputeState)


class SnapshotMismatch(ValueError):
    """The aggregate holds state ``DisputeState`` does not describe exactly."""


def _code_fingerprint() -> str:
    h = hashlib.sha256()
    h.update(msgspec.json.encode(msgspec.json.schema(DisputeState)))
    h.update(_dispute_code())
    try:
        h.update(importlib.metadata.version("eventsourcing").encode())
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - it is a dependency
        h.update(b"eventsourcing ?")
    return h.hexdigest()[:20]


def _dispute_code() -> bytes:
    """The source of ``ledger.domain.dispute``; installed without sources, its compiled code
    (which also names its file, so such installs share snapshots only with the same path)."""
    spec = _dispute_module.__spec__
    loader: Any = None if spec is None else spec.loader
    try:
        source = loader.get_source(_dispute_module.__name__)
        if source is not None:
            return str(source).encode()
        return marshal.dumps(loader.get_code(_dispute_module.__name__))
    except Exception as exc:  # no way to tell the code apart: refuse, rather than share blindly
        raise RuntimeError(f"cannot fingerprint ledger.domain.dispute: {exc}") from exc


TOPIC = f"{Dispute.TOPIC}@{SNAPSHOT_VERSION}:{_code_fingerprint()}"


def encode(case: Dispute) -> bytes:
    """The state of ``case`` as snapshot bytes; ``SnapshotMismatch`` if it would not come back
    exactly (an attribute ``DisputeState`` does not declare, a value of another type)."""
    state = {name: value for name, value in vars(case).items() if name != _PENDING}
    if state.keys() != FIELDS:
        extra, missing = state.keys() - FIELDS, FIELDS - state.keys()
        raise SnapshotMismatch(f"Dispute state differs from DisputeState: +{extra} -{missing}")
    data = _ENCODER.encode(state)
    back = msgspec.structs.asdict(_DECODER.decode(data))
    for name, value in state.items():
        other = back[name]
        # A subclass may come back as its declared type (asyncpg's UUIDs as uuid.UUID).
        if not isinstance(value, type(other)) or other != value:
            raise SnapshotMismatch(f"Dispute.{name} does not survive a snapshot: {value!r}")
    return data


def decode(data: bytes) -> Dispute:
    """A ``Dispute`` with the state of snapshot bytes (``msgspec.DecodeError`` /
    ``msgspec.ValidationError`` if they are not a ``DisputeState``)."""
    state: dict[str, Any] = msgspec.structs.asdict(_DECODER.decode(data))
    state[_PENDING] = []
    case = object.__new__(Dispute)  # as eventsourcing's Snapshot.mutate does
    object.__setattr__(case, "__dict__", state)
    return case


def _mac(
    key: bytes, case_id: UUID, version: int, topic: str, state: bytes, event_hash: bytes
) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in (case_id.bytes, str(version).encode(), topic.encode(), state, event_hash):
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    return mac.digest()


def seal(
    key: bytes, case_id: UUID, version: int, topic: str, state: bytes, event_hash: bytes
) -> bytes:
    """``state`` (snapshot bytes of ``encode``) with its MAC in front, as stored."""
    return _mac(key, case_id, version, topic, state, event_hash) + state


def unseal(
    key: bytes, case_id: UUID, version: int, topic: str, sealed: bytes, event_hash: bytes
) -> bytes | None:
    """The state inside ``sealed`` if its MAC holds for these fields under ``key``, else None."""
    mac, state = sealed[:MAC_SIZE], sealed[MAC_SIZE:]
    if len(mac) != MAC_SIZE:
        return None
    good = hmac.compare_digest(mac, _mac(key, case_id, version, topic, state, event_hash))
    return state if good else None
