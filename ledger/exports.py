"""Recording an export in the ledger (``ledger.domain.access``) before it is sent.

The caller counts the rows under the same read snapshot it then streams from, and records them
here first: an export whose record could not be appended is refused (nothing leaves the
server), and the count in the record is the number of rows the file holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from ledger.domain.access import ExportRecord
from ledger.domain.actor import Actor
from ledger.store.codec import TypedMapper, default_mapper, encode_metadata
from ledger.store.port import AppendResult, EventStore

EXPORT_TOPIC = "ledger.ExportRecorded"


async def record_export(
    store: EventStore,
    actor: Actor,
    export: str,
    filters: Mapping[str, str],
    *,
    rows: int,
    as_of: datetime,
    position: int,
    request_id: str | None = None,
    mapper: TypedMapper | None = None,
    now: datetime | None = None,
) -> AppendResult:
    """Append the ``ExportRecorded`` event of one export (its own stream, version 1)."""
    record = ExportRecord.record(
        actor=actor,
        export=export,
        filters=dict(filters),
        rows=rows,
        as_of=as_of,
        position=position,
        now=now or datetime.now(UTC),
    )
    metadata = encode_metadata({"export": export, "request_id": request_id})
    mapper = mapper or default_mapper()
    events = [mapper.to_new_event(e, metadata) for e in record.collect_events()]
    return await store.append(record.id, 0, events)
