"""Stored events as the API shows them: the record as stored, its data decoded to JSON.

``data`` is the event's stored state, not upcast: an auditor sees exactly what the hash chain
covers (canonical JSON with sorted keys, ``ledger.store.codec``). Hashes are hex.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from api.masking import mask_payers
from ledger.store.codec import decode_metadata
from ledger.store.port import RecordedEvent

_STATE = msgspec.json.Decoder(dict[str, Any])


class EventOut(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    case_id: UUID
    version: int
    topic: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    occurred_at: datetime | None
    hash: str
    prev_hash: str


def _occurred_at(data: dict[str, Any]) -> datetime | None:
    value = data.get("occurred_at")
    if not isinstance(value, str):
        return None
    try:
        return msgspec.convert(value, datetime)
    except msgspec.ValidationError:
        return None


def event_out(record: RecordedEvent, *, masked: bool) -> EventOut:
    data = _STATE.decode(record.state)
    return EventOut(
        position=record.position,
        case_id=record.case_id,
        version=record.version,
        topic=record.topic,
        data=mask_payers(data) if masked else data,
        metadata=decode_metadata(record.metadata),
        recorded_at=record.recorded_at,
        occurred_at=_occurred_at(data),
        hash=record.hash.hex(),
        prev_hash=record.prev_hash.hex(),
    )
