"""recorded_at never goes back, even when the last stamp came from a clock ahead of ours (another
process, another machine, or a clock that was stepped back since)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from ledger.store import open_store
from ledger.store.sqlite import to_micros
from tests.contract.support import new_events, raw_execute


async def test_recorded_at_holds_when_the_last_stamp_is_ahead(database_url: str) -> None:
    store = open_store(database_url)
    await store.open()
    try:
        case = uuid4()
        await store.append(case, 0, new_events(case, 0))
        ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        if database_url.startswith("sqlite"):
            # SQLite's last stamp is the last row's: as if another process's clock ran ahead.
            sql = f"UPDATE ledger_events SET recorded_at = {to_micros(ahead)} WHERE position = 1"
        else:
            sql = f"UPDATE ledger_head SET recorded_at = '{ahead.isoformat()}'"
        await raw_execute(database_url, sql)

        result = await store.append(case, 1, new_events(case, 1))
        assert result.recorded_at == ahead  # not our (earlier) now
        assert [r.recorded_at for r in await store.read_log(1)] == [ahead]
    finally:
        await store.close()
