"""Snapshots of the ``Dispute`` aggregate: its folded state as msgspec JSON, typed both ways.

A snapshot is the aggregate's ``__dict__`` (less its pending events), as eventsourcing's
``Snapshot.take`` keeps it, written with msgspec and read back through ``DisputeState``: a Struct
made from the attributes the aggregate declares with their types, so StrEnums, Decimals, dates and
datetimes, nested Structs and UUID-keyed dicts come back as what they were, and an attribute
missing, extra or of the wrong type makes the snapshot undecodable (and so ignored). Never pickle.

Beside each, under ``VIEW_TOPIC``, the write path keeps the case's projection state (``CaseState``)
at the same version, so that it can answer a write without folding the case again.

``TOPIC`` is the fingerprint stored with each snapshot: the aggregate's topic, ``SNAPSHOT_VERSION``
and a hash of the state schemas, of the sources of ``ledger.domain.dispute`` and ``.events`` and
of ``ledger.projections.fold`` (the code that makes the states from events) and of the
eventsourcing version. Code that folds differently therefore never reads snapshots another
version wrote; it folds from events and writes its own. Bump
``SNAPSHOT_VERSION`` for changes the hash cannot see (a guard module changing what an event
handler stores, say).

Every state is checked before it is written (``encode`` refuses one that does not decode back to
an equal state, attribute by attribute, of the same type or a base of it), and the repository
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
import types
import typing
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from ledger.domain import dispute as _dispute_module
from ledger.domain import events as _events_module
from ledger.domain.dispute import Dispute
from ledger.projections import fold as _fold_module
from ledger.projections.state import CaseState, decode_state, encode_state

__all__ = [
    "SNAPSHOT_VERSION",
    "TOPIC",
    "VIEW_TOPIC",
    "DisputeState",
    "SnapshotMismatch",
    "decode",
    "decode_view",
    "encode",
    "encode_view",
    "seal",
    "unseal",
]

SNAPSHOT_VERSION = 3  # 2: sealed (an HMAC in front of the state); 3: the view state beside it
MAC_SIZE = 32


def _state_schema() -> type[msgspec.Struct]:
    """Every attribute of a folded ``Dispute``: eventsourcing's base attributes and those the
    aggregate declares (its class annotations), each with its declared type."""
    hints = typing.get_type_hints(Dispute)
    declared = [(name, hints[name]) for name in Dispute.__annotations__]
    return msgspec.defstruct(
        "DisputeState",
        [
            ("_id", UUID),
            ("_version", int),
            ("_created_on", datetime),
            ("_modified_on", datetime),
            *declared,
        ],
        kw_only=True,
        forbid_unknown_fields=True,
        module=__name__,
    )


DisputeState = _state_schema()


FIELDS = frozenset(DisputeState.__struct_fields__)
_PENDING = "_pending_events"

# Insertion order kept (dicts such as ``links`` come back in the order they had); Decimals as
# strings, exponent and all.
_ENCODER = msgspec.json.Encoder(decimal_format="string")
_CASE = msgspec.json.Decoder(DisputeState)


class SnapshotMismatch(ValueError):
    """The aggregate holds state ``DisputeState`` does not describe exactly."""


def _code_fingerprint() -> str:
    h = hashlib.sha256()
    for schema in (DisputeState, CaseState):
        h.update(msgspec.json.encode(msgspec.json.schema(schema)))
    for module in (_dispute_module, _events_module, _fold_module):
        h.update(_source(module))
    try:
        h.update(importlib.metadata.version("eventsourcing").encode())
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - it is a dependency
        h.update(b"eventsourcing ?")
    return h.hexdigest()[:20]


def _source(module: types.ModuleType) -> bytes:
    """The source of ``module``; installed without sources, its compiled code (which also names
    its file, so such installs share snapshots only with the same path)."""
    spec = module.__spec__
    loader: Any = None if spec is None else spec.loader
    try:
        source = loader.get_source(module.__name__)
        if source is not None:
            return str(source).encode()
        return marshal.dumps(loader.get_code(module.__name__))
    except Exception as exc:  # no way to tell the code apart: refuse, rather than share blindly
        raise RuntimeError(f"cannot fingerprint {module.__name__}: {exc}") from exc


TOPIC = f"{Dispute.TOPIC}@{SNAPSHOT_VERSION}:{_code_fingerprint()}"
# The same case's projection state at the same version, kept beside it: what the write path needs
# to answer a write without folding the case again. A read of the aggregate never loads it.
VIEW_TOPIC = f"{TOPIC}:view"


def encode(case: Dispute) -> bytes:
    """The state of ``case`` as snapshot bytes; ``SnapshotMismatch`` if it would not come back
    exactly (an attribute ``DisputeState`` does not declare, a value of another type)."""
    state = {name: value for name, value in vars(case).items() if name != _PENDING}
    if state.keys() != FIELDS:
        extra, missing = state.keys() - FIELDS, FIELDS - state.keys()
        raise SnapshotMismatch(f"Dispute state differs from DisputeState: +{extra} -{missing}")
    data = _ENCODER.encode(state)
    back = msgspec.structs.asdict(_CASE.decode(data))
    for name, value in state.items():
        other = back[name]
        # A subclass may come back as its declared type (asyncpg's UUIDs as uuid.UUID).
        if not isinstance(value, type(other)) or other != value:
            raise SnapshotMismatch(f"Dispute.{name} does not survive a snapshot: {value!r}")
    return data


def decode(data: bytes) -> Dispute:
    """A ``Dispute`` with the state of snapshot bytes (``msgspec.DecodeError`` /
    ``msgspec.ValidationError`` if they are not a ``DisputeState``)."""
    state: dict[str, Any] = msgspec.structs.asdict(_CASE.decode(data))
    state[_PENDING] = []
    case = object.__new__(Dispute)  # as eventsourcing's Snapshot.mutate does
    object.__setattr__(case, "__dict__", state)
    return case


def encode_view(view: CaseState) -> bytes:
    """The case's projection state as the bytes of a ``VIEW_TOPIC`` snapshot."""
    return encode_state(view)


def decode_view(data: bytes) -> CaseState:
    return decode_state(data)


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
