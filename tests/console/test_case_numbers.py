"""Case numbers: given out at registration, recorded in its event, unique and sequential per year
without gaps — under concurrency, across processes' stores, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from litestar import Litestar

from ledger.config import ConfigError, Settings
from ledger.domain.errors import RuleViolation
from ledger.service import LedgerService, RequestMeta
from ledger.store import open_store
from ledger.store.port import EventStore
from tests.api.support import INTAKE, Api, listed
from tests.service.test_write_path import registration

# 09:30 on 31 December 2025 in 潜江, then 08:30 on 1 January 2026 (00:30 UTC).
NEW_YEARS_EVE = datetime(2025, 12, 31, 1, 30, tzinfo=UTC)
NEW_YEAR = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[list[EventStore]]:
    """Two stores on one database: two processes of a deployment."""
    opened = [open_store(database_url), open_store(database_url)]
    for store in opened:
        await store.open()
    yield opened
    for store in opened:
        await store.close()


def numbers_of(records: list[list[bytes]]) -> list[str]:
    return [msgspec.json.decode(states[0])["case_number"] for states in records]


async def test_numbers_are_unique_and_gapless_under_concurrent_registration(
    stores: list[EventStore],
) -> None:
    services = [LedgerService(store, clock=lambda: NEW_YEARS_EVE) for store in stores]
    summaries = [f"第{i}件" for i in range(40)]
    results = await asyncio.gather(
        *(services[i % 2].register(INTAKE, registration(s)) for i, s in enumerate(summaries))
    )
    histories = [await stores[0].read_case(r.case_id) for r in results]
    states = [[h[0].state] for h in histories]
    numbers = numbers_of(states)
    assert sorted(numbers) == [f"潜社争〔2025〕{n:04d}号" for n in range(1, 41)]
    # In the order of the log: the n-th registration of the year has number n.
    by_position = sorted(zip((h[0].position for h in histories), numbers, strict=True))
    assert [n for _, n in by_position] == [f"潜社争〔2025〕{n:04d}号" for n in range(1, 41)]


async def test_a_refused_or_retried_registration_takes_no_number_and_a_year_starts_at_one(
    stores: list[EventStore],
) -> None:
    now = [NEW_YEARS_EVE]
    service = LedgerService(stores[0], clock=lambda: now[0], case_number_format="X{year}-{seq}")
    first = await service.register(INTAKE, registration(), RequestMeta(idempotency_key="k1"))
    again = await service.register(INTAKE, registration(), RequestMeta(idempotency_key="k1"))
    assert again.case_id == first.case_id
    late = msgspec.structs.replace(registration(), received_at=NEW_YEARS_EVE + timedelta(hours=1))
    with pytest.raises(RuleViolation):  # received after it was registered: R1
        await service.register(INTAKE, late)
    second = await service.register(INTAKE, registration())
    now[0] = NEW_YEAR
    third = await service.register(
        INTAKE, msgspec.structs.replace(registration(), received_at=NEW_YEAR)
    )
    cases = [await service.load(r.case_id) for r in (first, second, third)]
    assert [case.case_number for case in cases] == ["X2025-1", "X2025-2", "X2026-1"]


def test_the_format_is_configurable_and_checked() -> None:
    default = Settings.from_env({})
    assert default.case_number_format.format(year=2026, seq=7) == "潜社争〔2026〕0007号"
    custom = Settings.from_env({"LEDGER_CASE_NUMBER_FORMAT": "{year}-{seq:05d}"})
    assert custom.case_number_format.format(year=2026, seq=7) == "2026-00007"
    for bad in ("{year}", "{seq}", "{year}-{nope}", "{year}-{seq"):
        with pytest.raises(ConfigError):
            Settings.from_env({"LEDGER_CASE_NUMBER_FORMAT": bad})


async def test_the_api_returns_the_number_and_lists_by_it(app: Litestar, api: Api) -> None:
    case = await api.register()
    body = (await api.get(INTAKE, f"/v1/cases/{case.id}")).json()
    number = body["case_number"]
    assert number.startswith("潜社争〔")
    assert number.endswith("0001号")
    await api.register()
    item = await listed(api, INTAKE, case.id, case_number=number)
    assert item["case_number"] == number
    page = (await api.get(INTAKE, "/v1/cases", case_number=number)).json()
    assert [i["case_id"] for i in page["items"]] == [case.id]


async def test_events_recorded_before_case_numbers_still_load(stores: list[EventStore]) -> None:
    service = LedgerService(stores[0], clock=lambda: NEW_YEARS_EVE)
    result = await service.register(INTAKE, registration())
    record = (await stores[0].read_case(result.case_id))[0]
    state = msgspec.json.decode(record.state)
    del state["case_number"]
    old = msgspec.structs.replace(record, state=msgspec.json.encode(state))
    case = service.fold([old])
    assert case is not None
    assert case.case_number is None
