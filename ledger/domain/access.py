"""Access records: what left the ledger in bulk, who took it and under which filter.

An export (the 台账 or a report as a spreadsheet) is itself recorded in the ledger before a byte
of it leaves the server, as an ``ExportRecorded`` event of a stream of its own (one per export):
the same store, hash chain and Merkle log as the cases, so who took which rows is as provable as
the rows themselves. It is not a case event: no case projection reads it
(``ledger.projections.events.IGNORED``).

The topic is explicit and stable (``ledger.ExportRecorded``).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor


class ExportRecord(Aggregate):
    """One export: created by the event that records it, never changed afterwards."""

    TOPIC = "ledger.ExportRecord"

    class Event(Aggregate.Event):
        TOPIC = "ledger.ExportRecord.Event"

    class Created(Aggregate.Created):
        TOPIC = "ledger.ExportRecord.Created"

    @classmethod
    def record(
        cls,
        *,
        actor: Actor,
        export: str,
        filters: dict[str, str],
        rows: int,
        as_of: datetime,
        position: int,
        now: datetime,
    ) -> ExportRecord:
        if as_of.tzinfo is None or now.tzinfo is None:
            raise ValueError("as_of and now must be aware")
        if rows < 0 or position < 0:
            raise ValueError("rows and position are never negative")
        return cls(
            id=uuid4(),
            actor=actor,
            export=export,
            filters=dict(sorted(filters.items())),
            rows=rows,
            as_of=as_of,
            position=position,
            occurred_at=now,
        )

    @event("ExportRecorded", topic="ledger.ExportRecorded")
    def __init__(
        self,
        id: UUID,
        actor: Actor,
        export: str,  # which export: the route's file name (cases.xlsx, …)
        filters: dict[str, str],  # the query parameters as given, by their names in the URL
        rows: int,  # the data rows the file holds (every sheet's, headers not counted)
        as_of: datetime,  # the moment the rows describe (overdue flags, the report's as_of)
        position: int,  # the last log position the rows reflect
        occurred_at: datetime,
    ) -> None:
        self.actor = actor
        self.export = export
        self.filters = filters
        self.rows = rows
        self.as_of = as_of
        self.position = position
        self.recorded_at = occurred_at
