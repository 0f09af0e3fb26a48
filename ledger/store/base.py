"""What the two adapters share beyond the batch logic: streaming the log, ``async with``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Self

from ledger.store.port import RecordedEvent


def aware(moment: datetime) -> datetime:
    """Refuse naive times: which instant they mean depends on the machine's time zone."""
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment


class StoreBase:
    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def read_log(self, after: int, limit: int = 1000) -> list[RecordedEvent]:
        raise NotImplementedError

    async def iter_log(self, after: int = 0, batch: int = 5000) -> AsyncIterator[RecordedEvent]:
        # Keyset pages rather than one long cursor: nothing is held open while a slow consumer
        # works, and positions are gap-free and committed in order, so no page skips an event.
        while True:
            records = await self.read_log(after, batch)
            for record in records:
                yield record
            if len(records) < batch:
                return
            after = records[-1].position

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
