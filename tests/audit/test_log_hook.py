"""MerkleHook on the real stores: the incremental tree equals one computed from scratch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ledger.audit.db import AuditSchemaError
from ledger.audit.keys import KeyConfig
from ledger.audit.log_hook import MerkleHook
from ledger.audit.merkle import CompactRange, leaf_hash, pos_node
from ledger.audit.repair import catch_up
from ledger.audit.service import AuditService
from ledger.store import open_store

from .helpers import fill, raw_sql


async def from_scratch(url: str) -> tuple[CompactRange, dict[tuple[int, int], bytes]]:
    tree, nodes = CompactRange(), {}
    store = open_store(url)
    await store.open()
    try:
        async for record in store.iter_log(batch=700):
            for level, idx, h in tree.append(leaf_hash(record.hash)):
                nodes[level, idx] = h
    finally:
        await store.close()
    return tree, nodes


async def stored(url: str) -> tuple[CompactRange, dict[tuple[int, int], bytes]]:
    """The stored tree, with every node unpacked from its run (runs must tile 0..N exactly)."""
    (compact,) = (await raw_sql(url, "SELECT compact FROM ledger_merkle_state"))[0]
    nodes, expected_pos = {}, 0
    for pos, blob in await raw_sql(url, "SELECT pos, hashes FROM ledger_merkle_nodes ORDER BY pos"):
        assert pos == expected_pos, "runs must be contiguous and must not overlap"
        blob = bytes(blob)
        for k in range(len(blob) // 32):
            nodes[pos_node(pos + k)] = blob[k * 32 : (k + 1) * 32]
        expected_pos = pos + len(blob) // 32
    return CompactRange.from_bytes(bytes(compact)), nodes


async def test_incremental_tree_equals_from_scratch(database_url: str) -> None:
    # Two store instances on one database, each with its own hook: like two processes. Their
    # batches interleave, so each hook keeps finding that the other moved the tree on.
    stores = [open_store(database_url, hooks=[MerkleHook()]) for _ in range(2)]
    for s in stores:
        await s.open()
    try:
        await asyncio.gather(
            fill(stores[0], 40, 12, seed=1, batch=3), fill(stores[1], 40, 12, seed=2, batch=1)
        )
        head = await stores[0].head()
    finally:
        for s in stores:
            await s.close()
    assert head == 80 * 12
    expected_tree, expected_nodes = await from_scratch(database_url)
    tree, nodes = await stored(database_url)
    assert tree == expected_tree
    assert tree.size == head
    assert nodes == expected_nodes
    assert len(nodes) == 2 * head - head.bit_count()  # leaves + interior nodes, nothing else


class FailingHook:
    """A second hook that aborts the append transaction when armed (after MerkleHook ran)."""

    armed = False

    def postgres_schema(self) -> str:
        return "SELECT 1"  # asyncpg fails on an empty script

    def sqlite_schema(self) -> str:
        return ""

    async def on_append_postgres(self, conn: object, records: object) -> None:
        if self.armed:
            raise RuntimeError("boom")

    def on_append_sqlite(self, conn: object, records: object) -> None:
        if self.armed:
            raise RuntimeError("boom")


async def test_rolled_back_batch_never_leaks_into_the_tree(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Store A's hook writes (and caches) a range, then A's transaction rolls back. Store B then
    # appends the same number of different events, so A's cached range has the right size but the
    # wrong content: the guarded write must notice and redo from the stored state.
    guard_results: list[bool] = []
    write = MerkleHook._write_pg

    async def spy(*args: Any) -> bool:
        guard_results.append(await write(*args))
        return guard_results[-1]

    monkeypatch.setattr(MerkleHook, "_write_pg", staticmethod(spy))
    failing = FailingHook()
    a = open_store(database_url, hooks=[MerkleHook(), failing])
    b = open_store(database_url, hooks=[MerkleHook()])
    await a.open()
    await b.open()
    try:
        await fill(a, 3, 2, seed=1)
        failing.armed = True
        try:
            await fill(a, 1, 1, seed=7)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the armed hook should have failed the append")
        failing.armed = False
        await fill(b, 1, 1, seed=8)
        await fill(a, 2, 2, seed=9)
    finally:
        await a.close()
        await b.close()
    assert await stored(database_url) == await from_scratch(database_url)
    if database_url.startswith("postgres"):
        assert False in guard_results  # the stale cache was caught by the guard


async def test_audit_tables_are_append_only(database_url: str, key_config: KeyConfig) -> None:
    service = await AuditService.open(database_url, key_config)
    try:
        await fill(service.store, 1, 2)
        await service.make_checkpoint()
    finally:
        await service.close()
    for sql in (
        "UPDATE ledger_merkle_nodes SET hashes = hashes",
        "DELETE FROM ledger_merkle_nodes",
        "UPDATE ledger_checkpoints SET note = ''",
        "DELETE FROM ledger_checkpoints",
    ):
        with pytest.raises(Exception, match="append-only"):
            await raw_sql(database_url, sql)
    if database_url.startswith("postgres"):
        with pytest.raises(Exception, match="append-only"):
            await raw_sql(database_url, "TRUNCATE ledger_merkle_nodes")
        # an intruder switches the triggers off; the next start switches them back on
        await raw_sql(database_url, "ALTER TABLE ledger_merkle_nodes DISABLE TRIGGER USER")
        store = open_store(database_url, hooks=[MerkleHook()])
        await store.open()
        await store.close()
        with pytest.raises(Exception, match="append-only"):
            await raw_sql(database_url, "DELETE FROM ledger_merkle_nodes")


async def test_events_appended_without_the_hook_are_refused_until_caught_up(
    database_url: str,
) -> None:
    hooked = open_store(database_url, hooks=[MerkleHook()])
    await hooked.open()
    await fill(hooked, 2, 3, seed=1)
    await hooked.close()
    bare = open_store(database_url)  # a process that forgot audit_hooks()
    await bare.open()
    await fill(bare, 2, 3, seed=2)
    await bare.close()
    hooked = open_store(database_url, hooks=[MerkleHook()])
    await hooked.open()
    try:
        with pytest.raises(AuditSchemaError, match="catch-up"):
            await fill(hooked, 1, 1, seed=3)
        assert await hooked.head() == 12  # the refused append recorded nothing
        assert await catch_up(hooked) == 6
        assert await catch_up(hooked) == 0
        await fill(hooked, 1, 1, seed=3)
    finally:
        await hooked.close()
    assert await stored(database_url) == await from_scratch(database_url)
