"""Slower runs: several processes appending at once, and a 100,000-event ledger verified."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from pathlib import Path

import pytest

from ledger.audit.db import open_audit_db
from ledger.audit.keys import KeyConfig
from ledger.audit.service import AuditService
from ledger.audit.verify import VerifyReport, verify_ledger

from .helpers import fill, opened
from .test_log_hook import from_scratch, stored

pytestmark = pytest.mark.slow


def _append_in_child(url: str, seed: int) -> None:
    async def go() -> None:
        store = await opened(url)
        try:
            await fill(store, 30, 15, seed=seed, batch=2)
        finally:
            await store.close()

    asyncio.run(go())


def test_processes_appending_together_keep_the_tree_exact(database_url: str) -> None:
    asyncio.run(_open_schema(database_url))  # create the tables once, before the race
    spawn = multiprocessing.get_context("spawn")
    children = [spawn.Process(target=_append_in_child, args=(database_url, s)) for s in (1, 2, 3)]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
        assert child.exitcode == 0
    tree, nodes = asyncio.run(stored(database_url))
    assert (tree, nodes) == asyncio.run(from_scratch(database_url))
    assert tree.size == 3 * 30 * 15
    report = asyncio.run(_verify(database_url))
    assert report.ok, report.faults[:3]


async def _open_schema(url: str) -> None:
    store = await opened(url)
    await store.close()


async def _verify(url: str) -> VerifyReport:
    store = await opened(url)
    try:
        return await verify_ledger(store, open_audit_db(store), None)
    finally:
        await store.close()


async def test_a_100k_event_ledger_verifies(
    postgres_url: str, key_config: KeyConfig, tmp_path: Path
) -> None:
    service = await AuditService.open(postgres_url, key_config)
    try:
        started = time.perf_counter()
        await fill(service.store, 2000, 50, batch=4)
        filled = time.perf_counter() - started
        await service.make_checkpoint()
        progress: list[tuple[int, int]] = []
        report = await service.verify(progress=lambda done, total: progress.append((done, total)))
    finally:
        await service.close()
    assert report.ok, report.faults[:3]
    assert (report.events_checked, report.checkpoints_checked) == (100_000, 1)
    assert progress[-1] == (100_000, 100_000)
    print(f"filled 100k events in {filled:.1f} s, verified in {report.seconds:.1f} s")
