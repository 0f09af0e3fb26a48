"""The in-memory store the projection tests use keeps the port's shape and its snapshots."""

from __future__ import annotations

from ledger import commands as c
from ledger.service import LedgerService
from ledger.store.port import EventStore
from tests.domain.cases import FIRST_RESPONDER, OFFICE
from tests.projections.support import Desk, MemoryStore


def test_the_memory_store_has_every_method_of_the_port() -> None:
    assert isinstance(MemoryStore(), EventStore)


async def test_a_long_case_loads_from_its_snapshots_as_from_its_events() -> None:
    store = MemoryStore()
    desk = Desk(store)
    case_id = await desk.register(FIRST_RESPONDER)
    service = LedgerService(store, desk.service.context, snapshot_every=5, snapshot_key=b"k")
    version = await store.case_version(case_id)
    for _ in range(12):
        result = await service.execute(case_id, OFFICE, c.Urge(reason="请加快办理"), version)
        version = result.version
    assert [v for _, v in store.snapshots] == [5, 10]
    fresh = LedgerService(store, desk.service.context, snapshot_every=0)
    for at in (4, 5, 9, 10, version):
        loaded = await service.load(case_id, to_version=at)
        assert vars(loaded) == vars(await fresh.load(case_id, to_version=at)), at
