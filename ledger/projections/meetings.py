"""The meetings list (``proj_meetings``): one row per meeting of the leading group (四), its kind
and when it is scheduled, from the ``ledger.MeetingConvened`` events. The meeting itself (its
minutes, decisions and reports) is read from its own events (``ledger.meetings``).

A meeting's events are not a case's: a partitioned rebuild hands them to worker 0 (no
registration is seen for them), which folds them here like the serial replay does.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from ledger.domain.context import Context
from ledger.projections.projection import Applier, Batch, Projection, Reader, Table, Write

CONVENED = "ledger.MeetingConvened"

MEETINGS = Table(
    name="proj_meetings",
    columns="""
    meeting_id   {uuid}   PRIMARY KEY,
    kind         TEXT     NOT NULL,
    scheduled_at {time}   NOT NULL,
    position     {bigint} NOT NULL
    """,
    names=("meeting_id", "kind", "scheduled_at", "position"),
    key=("meeting_id",),
    indexes=("CREATE INDEX IF NOT EXISTS proj_meetings_when ON proj_meetings (scheduled_at)",),
)


class _Convened(msgspec.Struct):
    kind: str
    scheduled_at: datetime


_DECODER = msgspec.json.Decoder(_Convened)


class MeetingList(Projection):
    name = "meetings"
    version = 1
    partitionable = True  # its rows depend on meeting events alone

    def tables(self) -> tuple[Table, ...]:
        return (MEETINGS,)

    def start(
        self, context: Context, upstream: Mapping[str, Applier], cache_size: int = 20_000
    ) -> Applier:
        return _Listing()


class _Listing(Applier):
    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    async def fold(
        self, batch: Batch, reader: Reader, owned: Container[UUID] | None = None
    ) -> None:
        for record, back in batch:
            if back or record.topic != CONVENED:
                continue
            event = _DECODER.decode(record.state)
            self.rows.append((record.case_id, event.kind, event.scheduled_at, record.position))

    def writes(self, expected: int) -> list[Write]:
        return [Write(MEETINGS, upsert=self.rows)] if self.rows else []

    def committed(self) -> None:
        self.rows = []

    def forget(self) -> None:
        self.rows = []
