"""Quick append throughput: our PostgresStore beside eventsourcing 9.5's own PostgreSQL recorder.

    .venv/bin/python bench/store_quick.py [--admin-url postgresql://postgres@127.0.0.1/postgres]
                                          [--writers 16] [--seconds 5]

Both sides do the same work per call: trigger one event on the writer's own aggregate, map it to
bytes, and persist it — ours with ``PostgresStore.append`` from ``writers`` asyncio tasks,
eventsourcing with ``Application.save`` from ``writers`` threads (PERSISTENCE_MODULE=
eventsourcing.postgres). Each side gets its own fresh database on the same server, dropped after.
Not a test: numbers depend on the machine; run it to compare, not to assert.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from ledger.store.codec import default_mapper
from ledger.store.postgres import PostgresStore

NOTE = "职工反映单位欠缴社会保险费，建议核实欠费后依法处理。" * 3  # ~250 bytes of UTF-8


class Case(Aggregate):
    @event("Opened")
    def __init__(self, summary: str) -> None:
        self.notes = 0

    @event("Noted")
    def note(self, text: str, n: int) -> None:
        self.notes += 1


def _db_url(admin_url: str, name: str) -> str:
    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


async def _admin(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def bench_store(url: str, writers: int, seconds: float) -> tuple[float, list[float], int]:
    mapper = default_mapper()
    latencies: list[float] = []
    count = 0
    async with PostgresStore(url, max_pool=4) as store:
        stop_at = time.perf_counter() + seconds

        async def writer() -> None:
            nonlocal count
            case = Case(summary=NOTE)
            new = [mapper.to_new_event(e) for e in case.collect_events()]
            await store.append(case.id, 0, new)
            while (start := time.perf_counter()) < stop_at:
                case.note(NOTE, case.version)
                new = [mapper.to_new_event(e) for e in case.collect_events()]
                await store.append(case.id, case.version - 1, new)
                latencies.append(time.perf_counter() - start)
                count += 1

        began = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(writers)))
        elapsed = time.perf_counter() - began
        batches = store.committed_batches
    return count / elapsed, latencies, batches


def bench_eventsourcing(admin_url: str, database: str, writers: int, seconds: float) -> float:
    parts = urlsplit(admin_url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": database,
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
        "POSTGRES_POOL_SIZE": str(writers),
        "POSTGRES_MAX_OVERFLOW": "4",
    }
    app = Application(env=env)
    counts = [0] * writers
    stop_at = time.perf_counter() + seconds

    def writer(i: int) -> None:
        case = Case(summary=NOTE)
        app.save(case)
        while time.perf_counter() < stop_at:
            case.note(NOTE, case.version)
            app.save(case)
            counts[i] += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    app.close()
    return sum(counts) / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    ours_db, theirs_db = f"ledger_bench_store_{os.getpid()}", f"ledger_bench_es_{os.getpid()}"
    for name in (ours_db, theirs_db):
        await _admin(args.admin_url, f'CREATE DATABASE "{name}"')
    try:
        ours, latencies, batches = await bench_store(
            _db_url(args.admin_url, ours_db), args.writers, args.seconds
        )
        theirs = await asyncio.to_thread(
            bench_eventsourcing, args.admin_url, theirs_db, args.writers, args.seconds
        )
    finally:
        for name in (ours_db, theirs_db):
            await _admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    cuts = statistics.quantiles(latencies, n=100)
    print(f"writers: {args.writers}, {args.seconds:.0f} s each, one event per call")
    print(
        f"PostgresStore.append:        {ours:9.0f} appends/s  "
        f"(p50 {cuts[49] * 1e3:.2f} ms, p99 {cuts[98] * 1e3:.2f} ms, "
        f"{len(latencies) / max(batches, 1):.1f} appends per transaction)"
    )
    print(f"eventsourcing Application.save: {theirs:6.0f} saves/s")
    print(f"ratio: {ours / theirs:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
