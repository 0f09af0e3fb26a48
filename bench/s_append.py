"""Scenarios 1 and 2: appending on PostgreSQL under concurrency.

1. **Service level** — 64 writers (asyncio tasks) each drive demo cases along the demo's lifecycle
   paths through ``LedgerService`` (every command: read the case, fold it, check the rules, encode,
   ``store.append``), on one ``PostgresStore`` opened with its defaults. Baseline: the same
   paths, same aggregate, same codec, through eventsourcing (``repository.get`` → rules →
   ``Application.save``) from 64 threads with a 64-connection pool, on the same server.
   Figures: events/s and the p99 latency of one command, over the measuring window after a warm-up.
1b. **Store level** — the same 64 writers, but each call persists one command's already-made
   domain events (realistic demo batches): ``mapper.to_new_event`` + ``store.append`` vs
   ``Application.save(*events)``. Shows how much of (1) is the store.
2. **pgbench** — ``pgbench`` with 16 clients running a single-row INSERT of an event-sized row
   (same columns and indexes as ``ledger_events``, a real event state) as fast as it can: the
   ceiling of this server for one-row transactions. Compared with the service-level figure of (1).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from bench import es_baseline
from bench.data import StopRun, drive_cases, template_cases
from bench.framework import (
    ADMIN_URL,
    DB_PREFIX,
    SNAPSHOT_KEY,
    Row,
    percentile,
    ratio_row,
    run_as_served,
)
from bench.framework import Context as RunContext
from ledger.domain.actor import Actor
from ledger.domain.context import SHANGHAI, Context
from ledger.service import LedgerService, RequestMeta
from ledger.store import open_store
from ledger.store.codec import default_mapper
from ledger.store.port import AppendResult, EventStore, NewEvent

WRITERS = 64
PGBENCH_CLIENTS = 16
DOMAIN_ERRORS = {"RuleViolation", "InvalidTransition", "InvalidCommand", "UnknownUnit"}


# -- measuring a closed-loop run ------------------------------------------------------------------


@dataclass
class Recorder:
    """Completed calls: (finish time, latency, events). Only those inside the window count."""

    samples: list[tuple[float, float, int]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    stop: bool = False

    def add(self, started: float, result: AppendResult) -> None:
        done = time.perf_counter()
        self.samples.append(
            (done, done - started, result.last_position - result.first_position + 1)
        )


@dataclass(frozen=True)
class Figures:
    events_per_s: float
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    calls: int
    errors: dict[str, int]


def figures(rec: Recorder, start: float, end: float) -> Figures:
    inside = [s for s in rec.samples if start <= s[0] <= end]
    span = end - start
    latencies = [s[1] * 1000 for s in inside]
    return Figures(
        events_per_s=sum(s[2] for s in inside) / span,
        calls_per_s=len(inside) / span,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        calls=len(inside),
        errors=dict(rec.errors),
    )


async def closed_loop(
    writers: Sequence[Callable[[], Any]], rec: Recorder, warmup: float, seconds: float
) -> Figures:
    """Run every writer coroutine until told to stop; measure the window after ``warmup``."""
    tasks = [asyncio.create_task(w()) for w in writers]
    began = time.perf_counter()
    await asyncio.sleep(warmup)
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    end = time.perf_counter()
    rec.stop = True
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, StopRun):
            rec.errors[f"writer died: {type(result).__name__}: {result}"] += 1
    del began
    return figures(rec, start, end)


# -- (1) service level --------------------------------------------------------------------------


class WriteService(Protocol):
    context: Context
    clock: Callable[[], datetime]

    async def register(
        self, actor: Actor, command: Any, meta: RequestMeta | None = None
    ) -> AppendResult: ...

    async def execute(
        self,
        case_id: UUID,
        actor: Actor,
        command: Any,
        expected_version: int | None = None,
        meta: RequestMeta | None = None,
    ) -> AppendResult: ...


class Timed:
    """Wraps a write service: times each command; raises StopRun once the run is over."""

    def __init__(self, inner: WriteService, rec: Recorder) -> None:
        self._inner, self._rec = inner, rec

    @property
    def context(self) -> Context:
        return self._inner.context

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._inner.clock

    @clock.setter
    def clock(self, value: Callable[[], datetime]) -> None:
        self._inner.clock = value

    async def _timed(self, call: Callable[[], Awaitable[AppendResult]]) -> AppendResult:
        if self._rec.stop:
            raise StopRun
        started = time.perf_counter()
        try:
            result = await call()
        except Exception as exc:
            self._rec.errors[type(exc).__name__] += 1
            raise
        self._rec.add(started, result)
        return result

    async def register(
        self, actor: Actor, command: Any, meta: RequestMeta | None = None
    ) -> AppendResult:
        return await self._timed(lambda: self._inner.register(actor, command, meta))

    async def execute(
        self,
        case_id: UUID,
        actor: Actor,
        command: Any,
        expected_version: int | None = None,
        meta: RequestMeta | None = None,
    ) -> AppendResult:
        return await self._timed(
            lambda: self._inner.execute(case_id, actor, command, expected_version, meta)
        )


def _demo_writers(services: Sequence[Timed]) -> list[Callable[[], Any]]:
    today = datetime.now(SHANGHAI).date()

    def writer(i: int, service: Timed) -> Callable[[], Any]:
        async def run() -> None:
            await drive_cases(service, 9000 + i, 10**9, [today])  # type: ignore[arg-type]

        return run

    return [writer(i, s) for i, s in enumerate(services)]


async def service_ours(url: str, warmup: float, seconds: float) -> Figures:
    rec = Recorder()
    store = open_store(url)
    await store.open()
    try:
        context = Context()
        services = [
            Timed(LedgerService(store, context, snapshot_key=SNAPSHOT_KEY), rec)
            for _ in range(WRITERS)
        ]
        return await closed_loop(_demo_writers(services), rec, warmup, seconds)
    finally:
        await store.close()


async def service_es(database: str, warmup: float, seconds: float) -> Figures:
    rec = Recorder()
    app = es_baseline.open_app(database, pool_size=WRITERS)
    executor = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="es")
    try:
        context = Context()
        services = [
            Timed(es_baseline.EsService(app, context, executor), rec) for _ in range(WRITERS)
        ]
        return await closed_loop(_demo_writers(services), rec, warmup, seconds)
    finally:
        executor.shutdown(wait=True)
        app.close()


# -- (1b) store level ---------------------------------------------------------------------------


def _with_id(event: Any, case_id: UUID) -> Any:
    """A copy of a (frozen) domain event for another case, as cheap as the mapper makes one."""
    copy = object.__new__(type(event))
    object.__setattr__(copy, "__dict__", {**event.__dict__, "originator_id": case_id})
    return copy


def _decoded_templates(cases: int) -> list[list[list[Any]]]:
    """Demo cases' command batches as domain events (decoded once, before timing)."""
    mapper = default_mapper()
    from eventsourcing.persistence import StoredEvent

    out: list[list[list[Any]]] = []
    for case in template_cases(cases):
        out.append(
            [
                [
                    mapper.to_domain_event(
                        StoredEvent(
                            originator_id=e.case_id,
                            originator_version=e.version,
                            topic=e.topic,
                            state=e.state,
                        )
                    )
                    for e in batch
                ]
                for batch in case
            ]
        )
    return out


async def store_ours(
    url: str, templates: list[list[list[Any]]], warmup: float, seconds: float
) -> Figures:
    rec = Recorder()
    mapper = default_mapper()
    store: EventStore = open_store(url)
    await store.open()

    def writer(i: int) -> Callable[[], Any]:
        async def run() -> None:
            n = i
            while not rec.stop:
                case_id = uuid.uuid4()
                for batch in templates[n % len(templates)]:
                    if rec.stop:
                        return
                    started = time.perf_counter()
                    new: list[NewEvent] = [mapper.to_new_event(_with_id(e, case_id)) for e in batch]
                    result = await store.append(case_id, new[0].version - 1, new)
                    rec.add(started, result)
                n += WRITERS

        return run

    try:
        return await closed_loop([writer(i) for i in range(WRITERS)], rec, warmup, seconds)
    finally:
        await store.close()


async def store_es(
    database: str, templates: list[list[list[Any]]], warmup: float, seconds: float
) -> Figures:
    rec = Recorder()
    app = es_baseline.open_app(database, pool_size=WRITERS)
    executor = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="es")
    loop = asyncio.get_running_loop()

    def save(batch: list[Any], case_id: UUID) -> AppendResult:
        recordings = app.save(*[_with_id(e, case_id) for e in batch])
        return AppendResult(
            case_id=case_id,
            version=batch[-1].originator_version,
            first_position=recordings[0].notification.id,
            last_position=recordings[-1].notification.id,
            recorded_at=batch[-1].timestamp,
        )

    def writer(i: int) -> Callable[[], Any]:
        async def run() -> None:
            n = i
            while not rec.stop:
                case_id = uuid.uuid4()
                for batch in templates[n % len(templates)]:
                    if rec.stop:
                        return
                    started = time.perf_counter()
                    result = await loop.run_in_executor(executor, save, batch, case_id)
                    rec.add(started, result)
                n += WRITERS

        return run

    try:
        return await closed_loop([writer(i) for i in range(WRITERS)], rec, warmup, seconds)
    finally:
        executor.shutdown(wait=True)
        app.close()


# -- (2) pgbench --------------------------------------------------------------------------------

PGBENCH_TABLE = """
CREATE TABLE bench_rows (
    position    BIGSERIAL   PRIMARY KEY,
    case_id     UUID        NOT NULL,
    version     INTEGER     NOT NULL,
    topic       TEXT        NOT NULL,
    state       BYTEA       NOT NULL,
    metadata    BYTEA       NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    prev_hash   BYTEA       NOT NULL,
    hash        BYTEA       NOT NULL,
    UNIQUE (case_id, version)
);
CREATE INDEX ON bench_rows (recorded_at, position);
"""


def pgbench_binary() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True):
        return str(candidate)
    return None


def pgbench_script(state: bytes, metadata: bytes) -> str:
    """One event-sized row per transaction: a real event's state, hashes like ours."""
    return (
        "\\set v random(1, 2000000000)\n"
        "INSERT INTO bench_rows (case_id, version, topic, state, metadata, recorded_at,"
        " prev_hash, hash) VALUES (gen_random_uuid(), :v, 'ledger.Decided',"
        f" '\\x{state.hex()}'::bytea, '\\x{metadata.hex()}'::bytea, clock_timestamp(),"
        " sha256(:v::text::bytea), sha256((:v + 1)::text::bytea));\n"
    )


def run_pgbench(database: str, url: str, seconds: float) -> tuple[float, float]:
    """(transactions/s, mean latency ms) of the INSERT script with 16 clients."""
    import asyncpg

    binary = pgbench_binary()
    if binary is None:
        raise RuntimeError("pgbench not found (apt-get install postgresql-client)")
    sample = template_cases(8)[1][3][0]  # a Decided-sized event of a demo case

    async def setup() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(PGBENCH_TABLE)
        finally:
            await conn.close()

    asyncio.run(setup())
    from urllib.parse import urlsplit

    parts = urlsplit(ADMIN_URL)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(pgbench_script(sample.state, sample.metadata))
    try:
        command = [
            binary,
            "-n",
            "-M",
            "prepared",
            "-c",
            str(PGBENCH_CLIENTS),
            "-j",
            str(min(PGBENCH_CLIENTS, os.cpu_count() or 2)),
            "-T",
            str(max(1, round(seconds))),
            "-f",
            script.name,
            "-h",
            parts.hostname or "127.0.0.1",
            "-p",
            str(parts.port or 5432),
            "-U",
            parts.username or "postgres",
            database,
        ]
        env = {**os.environ, "PGPASSWORD": parts.password or ""}
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    finally:
        os.unlink(script.name)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    if tps is None:
        raise RuntimeError(f"cannot read pgbench output:\n{out}")
    return float(tps.group(1)), float(latency.group(1)) if latency else float("nan")


# -- the scenarios ------------------------------------------------------------------------------


def _error_note(ours: Figures, theirs: Figures) -> str:
    def show(errors: dict[str, int]) -> str:
        other = {k: v for k, v in errors.items() if k not in DOMAIN_ERRORS}
        domain = sum(v for k, v in errors.items() if k in DOMAIN_ERRORS)
        text = f"{domain} demo steps refused by rules"
        return text + (f", ERRORS {other}" if other else "")

    return f"ours: {show(ours.errors)}; eventsourcing: {show(theirs.errors)}"


def measure_service(ctx: RunContext) -> tuple[Figures, Figures]:
    def compute() -> tuple[Figures, Figures]:
        cfg = ctx.config
        url = ctx.fresh_database("append_ours")
        ours = run_as_served(service_ours(url, cfg.warmup, cfg.seconds))
        ctx.fresh_database("append_es")
        theirs = run_as_served(service_es(DB_PREFIX + "append_es", cfg.warmup, cfg.seconds))
        return ours, theirs

    return ctx.once("append.service", compute)


def measure_store(ctx: RunContext) -> tuple[Figures, Figures]:
    def compute() -> tuple[Figures, Figures]:
        cfg = ctx.config
        templates = _decoded_templates(400)
        url = ctx.fresh_database("store_ours")
        ours = run_as_served(store_ours(url, templates, cfg.warmup, cfg.seconds))
        ctx.fresh_database("store_es")
        theirs = run_as_served(store_es(DB_PREFIX + "store_es", templates, cfg.warmup, cfg.seconds))
        return ours, theirs

    return ctx.once("append.store", compute)


def scenario_append(ctx: RunContext) -> list[Row]:
    ours, theirs = measure_service(ctx)
    s_ours, s_theirs = measure_store(ctx)
    name = f"1 append, service level, PG, {WRITERS} writers"
    note = (
        f"LedgerService commands along the demo paths ({ours.calls:,} commands, "
        f"p50 {ours.p50_ms:.1f} ms; eventsourcing p50 {theirs.p50_ms:.1f} ms); "
        + _error_note(ours, theirs)
    )
    store_name = f"1b append, store level, PG, {WRITERS} writers"
    return [
        ratio_row(
            name,
            "events/s",
            "ev/s",
            ours.events_per_s,
            theirs.events_per_s,
            "eventsourcing Application.save",
            better="higher",
            min_ratio=5,
            notes=note,
        ),
        ratio_row(
            name,
            "p99 latency of a command",
            "ms",
            ours.p99_ms,
            theirs.p99_ms,
            "eventsourcing",
            better="lower",
            limit=25,
        ),
        ratio_row(
            store_name,
            "events/s",
            "ev/s",
            s_ours.events_per_s,
            s_theirs.events_per_s,
            "eventsourcing Application.save",
            better="higher",
            notes="encode + store.append of demo command batches vs Application.save(*events); "
            + _error_note(s_ours, s_theirs),
        ),
        ratio_row(
            store_name,
            "p99 latency of an append",
            "ms",
            s_ours.p99_ms,
            s_theirs.p99_ms,
            "eventsourcing",
            better="lower",
        ),
    ]


def scenario_pgbench(ctx: RunContext) -> list[Row]:
    ours, _ = measure_service(ctx)
    s_ours, _ = measure_store(ctx)

    def compute() -> tuple[float, float]:
        url = ctx.fresh_database("pgbench")
        return run_pgbench(DB_PREFIX + "pgbench", url, ctx.config.seconds)

    tps, latency = ctx.once("pgbench", compute)
    baseline = f"pgbench INSERT, {PGBENCH_CLIENTS} clients"
    return [
        ratio_row(
            "2 append vs pgbench",
            "service-level events/s",
            "ev/s",
            ours.events_per_s,
            tps,
            baseline,
            better="higher",
            min_ratio=0.5,
            notes=f"pgbench mean latency {latency:.2f} ms; ours = scenario 1's figure",
        ),
        ratio_row(
            "2 append vs pgbench",
            "store-level events/s",
            "ev/s",
            s_ours.events_per_s,
            tps,
            baseline,
            better="higher",
            notes="ours = scenario 1b's figure (informational)",
        ),
    ]
