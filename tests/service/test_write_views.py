"""A write's response is the repository's kept state with the appended events folded in: always
equal to a fresh fold of the stored events, and read from the store at most once per write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest

from ledger import commands as c
from ledger.demo import load_demo
from ledger.domain.actor import Actor
from ledger.domain.codes import CaseStatus
from ledger.projections import case_view_from_events
from ledger.projections.caseview import case_view
from ledger.projections.views import CaseView
from ledger.service import LedgerService, RequestMeta
from ledger.store import open_store
from ledger.store.port import AppendResult, EventStore
from tests.api.support import OFFICE


class Checked(LedgerService):
    """A service whose every write is answered through ``state_after`` and checked against the
    view folded from the case's stored events at the version the write produced."""

    def __init__(self, store: EventStore, **kwargs: Any) -> None:
        super().__init__(store, **kwargs)
        self.checked = 0

    async def shown(self, result: AppendResult) -> CaseView:
        return case_view(await self.state_after(result), self.clock())

    async def _check(self, result: AppendResult) -> AppendResult:
        shown = await self.shown(result)
        records = await self.history(result.case_id, to_version=result.version)
        assert shown == case_view_from_events(records, self.clock(), self.context)
        self.checked += 1
        return result

    async def register(
        self, actor: Actor, command: c.Register, meta: RequestMeta | None = None
    ) -> AppendResult:
        return await self._check(await super().register(actor, command, meta))

    async def execute(
        self,
        case_id: UUID,
        actor: Actor,
        command: c.Command,
        expected_version: int | None = None,
        meta: RequestMeta | None = None,
    ) -> AppendResult:
        result = await super().execute(case_id, actor, command, expected_version, meta)
        return await self._check(result)


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[tuple[EventStore, EventStore]]:
    first, second = open_store(database_url), open_store(database_url)
    await first.open()
    await second.open()
    yield first, second
    await second.close()
    await first.close()


async def test_every_demo_write_answers_with_the_fold_of_its_stored_events(
    stores: tuple[EventStore, EventStore],
) -> None:
    service = Checked(stores[0])
    summary = await load_demo(service, cases=12)
    assert service.checked == summary.events > 0


async def test_a_write_by_another_process_in_between_is_read_not_skipped(
    stores: tuple[EventStore, EventStore],
) -> None:
    here = Checked(stores[0])
    await load_demo(here, cases=8)
    # Another process (its own store and service) continues some of the same cases.
    there = LedgerService(stores[1], clock=here.clock)
    log = await stores[0].read_log(0)
    cases = list(dict.fromkeys(r.case_id for r in log))
    before = here.checked
    moved = 0
    for case_id in cases:
        if (await there.load(case_id)).status is CaseStatus.CLOSED:
            continue
        await there.execute(case_id, OFFICE, c.Urge(reason="请加快办理"))
        moved += 1
    assert moved > 0
    # Writes here after the other process's: the kept states are one version behind.
    for case_id in cases:
        if (await here.load(case_id)).status is CaseStatus.CLOSED:
            continue
        await here.execute(case_id, OFFICE, c.Urge(reason="再次催办"))
    assert here.checked - before == moved


async def test_an_idempotent_replay_answers_with_the_case_at_its_version(
    stores: tuple[EventStore, EventStore],
) -> None:
    service = Checked(stores[0])
    await load_demo(service, cases=8)
    log = await stores[0].read_log(0)
    open_cases = [
        r.case_id for r in log if (await service.load(r.case_id)).status is not CaseStatus.CLOSED
    ]
    case_id, actor = open_cases[0], OFFICE
    meta = RequestMeta(idempotency_key="urge-1")
    first = await service.execute(case_id, actor, c.Urge(reason="请加快办理"), meta=meta)
    await service.execute(case_id, actor, c.Urge(reason="再次催办"))
    again = await service.execute(case_id, actor, c.Urge(reason="请加快办理"), meta=meta)
    assert again.replayed
    assert again.version == first.version
    assert (await service.shown(again)).version == first.version


async def test_a_case_new_to_this_process_is_read_once_per_write(
    stores: tuple[EventStore, EventStore],
) -> None:
    await load_demo(LedgerService(stores[0]), cases=8)
    log = await stores[0].read_log(0)
    cases = list(dict.fromkeys(r.case_id for r in log))
    # A new process: nothing cached, nothing kept. Each write reads its case once, to decide
    # the command on it (no snapshot lookup for a short case), and answers from those records.
    fresh = Checked(stores[1])
    reads: list[UUID] = []
    real_read, real_snapshot = stores[1].read_case, stores[1].latest_snapshot

    async def counted_read(case_id: UUID, **kwargs: Any) -> Any:
        reads.append(case_id)
        return await real_read(case_id, **kwargs)

    async def no_snapshot_lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a short case needs no snapshot lookup")

    written = 0
    for case_id in cases:
        version = await stores[1].case_version(case_id)
        if (await fresh.load(case_id)).status is CaseStatus.CLOSED:
            continue
        fresh.cases._cache.clear()  # as if the load above had happened in another process
        reads.clear()
        stores[1].read_case = counted_read  # type: ignore[method-assign]
        stores[1].latest_snapshot = no_snapshot_lookup  # type: ignore[method-assign]
        try:
            shown = await fresh.shown(
                await LedgerService.execute(
                    fresh, case_id, OFFICE, c.Urge(reason="请加快办理"), version
                )
            )
        finally:
            stores[1].read_case = real_read  # type: ignore[method-assign]
            stores[1].latest_snapshot = real_snapshot  # type: ignore[method-assign]
        assert reads == [case_id]
        records = await fresh.history(case_id)
        assert shown == case_view_from_events(records, fresh.clock(), fresh.context)
        written += 1
    assert written > 0
