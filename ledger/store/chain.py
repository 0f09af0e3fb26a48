"""The per-case hash chain: ``hash = SHA-256(prev_hash ‖ canonical bytes of the event record)``.

The canonical bytes cover everything that makes the record what it is — its global position,
case, version, topic, state, metadata and recorded time — so that changing, removing, inserting
or reordering a stored event breaks the chain from that event on. The Merkle log (``ledger.audit``)
takes each event's ``hash`` as its leaf data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID

import msgspec

from ledger.store.port import RecordedEvent

GENESIS = bytes(32)


def canonical_bytes(
    position: int,
    case_id: UUID,
    version: int,
    topic: str,
    state: bytes,
    metadata: bytes,
    recorded_at: datetime,
) -> bytes:
    """A fixed, unambiguous encoding: a JSON array whose byte fields are hex strings."""
    return msgspec.json.encode(
        [
            position,
            str(case_id),
            version,
            topic,
            state.hex(),
            metadata.hex(),
            recorded_at.astimezone(UTC).isoformat(timespec="microseconds"),
        ]
    )


def event_hash(
    prev_hash: bytes,
    position: int,
    case_id: UUID,
    version: int,
    topic: str,
    state: bytes,
    metadata: bytes,
    recorded_at: datetime,
) -> bytes:
    body = canonical_bytes(position, case_id, version, topic, state, metadata, recorded_at)
    return hashlib.sha256(prev_hash + body).digest()


def record_hash(record: RecordedEvent, prev_hash: bytes | None = None) -> bytes:
    """Recompute a stored record's hash (from its own prev_hash unless one is given)."""
    return event_hash(
        record.prev_hash if prev_hash is None else prev_hash,
        record.position,
        record.case_id,
        record.version,
        record.topic,
        record.state,
        record.metadata,
        record.recorded_at,
    )


class ChainFault(msgspec.Struct, frozen=True):
    position: int
    version: int
    problem: str


def verify_case_chain(records: Iterable[RecordedEvent]) -> ChainFault | None:
    """The first fault in one case's records (in version order), or None if the chain holds."""
    prev = GENESIS
    expected_version = 1
    for record in records:
        if record.version != expected_version:
            return ChainFault(
                record.position,
                record.version,
                f"version {record.version} where {expected_version} was expected "
                "(an event is missing or out of order)",
            )
        if record.prev_hash != prev:
            return ChainFault(
                record.position,
                record.version,
                "prev_hash does not link to the previous event of the case",
            )
        if record_hash(record) != record.hash:
            return ChainFault(
                record.position, record.version, "hash does not match the event's content"
            )
        prev = record.hash
        expected_version += 1
    return None
