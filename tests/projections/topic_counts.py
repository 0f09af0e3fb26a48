"""A read model defined outside ``ledger.projections``: how many events of each topic the log
holds. It is the worked example of ARCHITECTURE.md's "adding a read model" (one module like
this one, one line in ``ledger.projections.registry.PROJECTIONS``), and the tests register it
beside the real ones to show the runner keeps any projection current, on both databases."""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Mapping
from uuid import UUID

from ledger.domain.context import Context
from ledger.projections.projection import Applier, Batch, Projection, Reader, Table, Write

COUNTS = Table(
    name="test_topic_counts",
    columns="topic TEXT PRIMARY KEY, events {bigint} NOT NULL",
    names=("topic", "events"),
    key=("topic",),
    indexes=("CREATE INDEX IF NOT EXISTS test_topic_counts_events ON test_topic_counts (events)",),
)


class TopicCounts(Projection):
    name = "topic_counts"
    version = 1

    def tables(self) -> tuple[Table, ...]:
        return (COUNTS,)

    def start(
        self, context: Context, upstream: Mapping[str, Applier], cache_size: int = 20_000
    ) -> Applier:
        return Counting()


class Counting(Applier):
    def __init__(self) -> None:
        self.counts: Counter[str] | None = None  # None: not read from the table yet
        self.changed: set[str] = set()

    async def fold(
        self, batch: Batch, reader: Reader, owned: Container[UUID] | None = None
    ) -> None:
        if self.counts is None:
            rows = await reader.fetch("SELECT topic, events FROM test_topic_counts")
            self.counts = Counter({str(topic): int(events) for topic, events in rows})
        for record, other_side in batch:
            if not other_side:
                self.counts[record.topic] += 1
                self.changed.add(record.topic)

    def writes(self, expected: int) -> list[Write]:
        counts = self.counts or Counter()
        return [Write(COUNTS, upsert=[(topic, counts[topic]) for topic in sorted(self.changed)])]

    def committed(self) -> None:
        self.changed = set()

    def forget(self) -> None:
        self.counts, self.changed = None, set()
