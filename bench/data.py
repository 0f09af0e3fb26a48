"""The benchmark dataset: realistic cases, produced by the real domain, bulk-loaded fast.

    .venv/bin/python -m bench.data --events 1000000 [--database ledger_bench_data] [--es-events N]

How it is made:

1. **Generate** (two worker processes). The demo's lifecycle paths (``ledger.demo.PATHS``: simple
   on the spot, transferred, reopened, leading group, court enforcement, out of jurisdiction, left
   hanging, repeat trip) run through the real ``LedgerService`` and ``Dispute`` aggregate, with
   the real codec, against an in-memory capture store. The only shortcut: a command's case comes
   from a cache of live aggregates instead of being re-read and re-folded (the service's ``load``
   is overridden), which gives the same events about 10× faster. Each block of cases gets its own
   "today" spread over the past year, so the log covers a year of business time.
2. **Order** every event by its business time (``occurred_at`` plus a few seconds of jitter; per
   case strictly increasing) and cut the log at exactly ``--events`` events: the cases of the
   last days are left open, as in a live ledger. Positions are 1..N in that order and
   ``recorded_at`` is that time, so it never decreases along positions.
3. **Chain**: each row's ``prev_hash``/``hash`` is computed with ``ledger.store.chain.event_hash``.
4. **Load** with asyncpg ``COPY`` into the store's own tables (created by ``PostgresStore.open``
   with the audit ``MerkleHook``, so the schema is exactly the production one), set
   ``ledger_head``, and build the Merkle log (``ledger_merkle_nodes``, ``ledger_merkle_state``)
   with ``ledger.audit.log_hook.bulk_runs`` — the same nodes the hook would have written.
5. Optionally copy the first ``--es-events`` events, byte for byte, into an eventsourcing
   ``Application``'s own table (``benchapp_events``) for the eventsourcing baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from bench.framework import DB_PREFIX, database_exists, db_url, recreate_database
from bench.framework import Context as RunContext
from ledger import demo
from ledger.audit.log_hook import bulk_runs
from ledger.demo_people import Cast, Payers
from ledger.domain.context import SHANGHAI, Context
from ledger.domain.reference import UnitKind
from ledger.service import LedgerService
from ledger.store.chain import GENESIS, event_hash
from ledger.store.port import AppendResult, Idempotency, NewEvent, Numbering

DATASET_DB = DB_PREFIX + "data"
GENERATOR_VERSION = 2  # bump when the generated data changes shape
CASES_PER_DAY_BLOCK = 40  # cases sharing one "today"
EVENTS_PER_CASE_GUESS = (
    8.0  # events per demo path run (~8.3 with repeat trips): make a few more, cut
)
YEAR_DAYS = 330

# One generated event before positions: (time, case id bytes, version, topic, state, metadata).
Gen = tuple[float, bytes, int, str, bytes, bytes]
# One stored row, ready for COPY into ledger_events.
Row = tuple[int, UUID, int, str, bytes, bytes, datetime, bytes, bytes]


# -- generating ---------------------------------------------------------------------------------


class _CentrePayers(Payers):
    """The demo's payers, limited to jurisdictions that really have a 便民服务中心.

    ``ledger.demo_people.Payers`` also offers jurisdictions served only by a tax branch (e.g.
    qj.development_zone), for which the out-of-jurisdiction path then asks for a centre that does
    not exist (UnknownUnit). Reported; worked around here.
    """

    def __init__(self, rng: random.Random, context: Context) -> None:
        super().__init__(rng, context)
        centres = {u.jurisdiction for u in context.reference.units if u.kind is UnitKind.CENTRE}
        self.jurisdictions = [j for j in self.jurisdictions if j in centres]


class StopRun(Exception):
    """Raised by a benchmark's service wrapper to end a writer's stream of demo cases."""


class CaptureStore:
    """The part of the store port the write path needs, in memory: records what is appended."""

    def __init__(self) -> None:
        self.commands: list[tuple[datetime, UUID, list[NewEvent]]] = []
        self.case_numbers: dict[int, int] = {}
        self.versions: dict[UUID, int] = {}
        self.head = 0
        self.clock: Any = None  # set to the service, whose clock is the business time

    async def append(
        self,
        case_id: UUID,
        expected_version: int,
        events: Sequence[NewEvent],
        idempotency: Idempotency | None = None,
        numbering: Numbering | None = None,
    ) -> AppendResult:
        if numbering is not None:  # case numbers, as the real stores give them out
            number = self.case_numbers.get(numbering.year, 0) + 1
            self.case_numbers[numbering.year] = number
            events = numbering.events(number)
        now = self.clock.clock() if self.clock is not None else datetime.now(UTC)
        self.commands.append((now, case_id, list(events)))
        first = self.head + 1
        self.head += len(events)
        self.versions[case_id] = events[-1].version
        return AppendResult(
            case_id=case_id,
            version=events[-1].version,
            first_position=first,
            last_position=self.head,
            recorded_at=now,
        )

    async def case_version(self, case_id: UUID) -> int:
        return self.versions.get(case_id, 0)

    async def idempotency_record(self, case_id: UUID, key: str) -> None:
        return None


def capture_service(store: CaptureStore, context: Context) -> LedgerService:
    """The real write path over ``store``, whose clock is the service's business time.

    The service keeps each case it wrote folded in its cache, so no command of a demo path
    re-reads a case (which the capture store could not answer).
    """
    service = LedgerService(store, context)  # type: ignore[arg-type]  # the subset the demo uses
    store.clock = service
    return service


@dataclass
class GenStats:
    cases: int = 0
    paths: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # paths the rules stopped midway


async def drive_cases(
    service: LedgerService, seed: int, cases: int, todays: Sequence[date]
) -> GenStats:
    """Run ``cases`` demo cases through ``service``: path i picked as ``load_demo`` does.

    A path that a rule refuses midway (the demo has such timing edge cases) leaves its case open
    where it stopped, like an unfinished case in a real ledger; it is counted in ``refused``.
    """
    rng = random.Random(seed)
    stats = GenStats()
    context = service.context
    run = demo._Run(service, rng, Cast(context), _CentrePayers(rng, context), demo.DemoSummary())
    names = list(demo.PATHS)
    for i in range(cases):
        name = names[i % len(names)] if i < len(names) else rng.choice(names)
        today = todays[(i // CASES_PER_DAY_BLOCK) % len(todays)]
        day = run.cast.recent_working_day(rng, today=today)
        try:
            await demo.PATHS[name](run, demo._Case(run, day))
        except StopRun:
            raise
        except Exception as exc:  # a rule refused a step: keep what was recorded
            stats.refused[f"{name}: {type(exc).__name__}"] += 1
        stats.cases += 1
        stats.paths[name] += 1
    return stats


def generate_block(seed: int, cases: int, end: date) -> tuple[list[Gen], GenStats]:
    """One worker's share: ``cases`` cases with business times spread over the year before end."""
    store = CaptureStore()
    service = capture_service(store, Context())
    rng = random.Random(seed ^ 0x5EED)
    blocks = max(1, cases // CASES_PER_DAY_BLOCK + 1)
    todays = [end - timedelta(days=rng.randrange(0, YEAR_DAYS)) for _ in range(blocks)]
    stats = asyncio.run(drive_cases(service, seed, cases, todays))
    out: list[Gen] = []
    last: dict[UUID, float] = {}
    for now, case_id, events in store.commands:
        t = now.timestamp() + rng.random() * 50
        for new in events:
            t = max(t, last.get(case_id, 0.0) + 0.001)  # strictly increasing within a case
            last[case_id] = t
            out.append((t, case_id.bytes, new.version, new.topic, new.state, new.metadata))
    return out, stats


def template_cases(cases: int, *, seed: int = 7) -> list[list[list[NewEvent]]]:
    """Demo cases as the write path appended them: per case, its commands' event batches."""
    store = CaptureStore()
    service = capture_service(store, Context())
    today = datetime.now(SHANGHAI).date()
    asyncio.run(drive_cases(service, seed, cases, [today]))
    by_case: dict[UUID, list[list[NewEvent]]] = {}
    for _, case_id, events in store.commands:
        by_case.setdefault(case_id, []).append(events)
    return list(by_case.values())


def generate(events: int, *, seed: int = 2024, workers: int = 2) -> tuple[list[Gen], GenStats]:
    """At least ``events`` generated events (cut later), made by ``workers`` processes."""
    cases = int(events / EVENTS_PER_CASE_GUESS) + 100
    end = datetime.now(SHANGHAI).date()
    shares = [cases // workers + (1 if i < cases % workers else 0) for i in range(workers)]
    generated: list[Gen] = []
    stats = GenStats()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(generate_block, seed * 1000 + i, share, end)
            for i, share in enumerate(shares)
        ]
        for future in futures:
            part, part_stats = future.result()
            generated.extend(part)
            stats.cases += part_stats.cases
            stats.paths.update(part_stats.paths)
            stats.refused.update(part_stats.refused)
    if len(generated) < events:  # the guess was too optimistic: top up in this process
        more, more_stats = generate_block(seed * 1000 + workers, cases // 4 + 100, end)
        generated.extend(more)
        stats.cases += more_stats.cases
    return generated, stats


def build_rows(generated: list[Gen], events: int) -> list[Row]:
    """Order by time, cut at ``events``, assign positions, stamp ``recorded_at``, chain hashes."""
    generated.sort(key=lambda g: (g[0], g[1], g[2]))
    del generated[events:]
    tips: dict[bytes, bytes] = {}
    ids: dict[bytes, UUID] = {}
    rows: list[Row] = []
    for position, (t, raw_id, version, topic, state, metadata) in enumerate(generated, start=1):
        case_id = ids.get(raw_id)
        if case_id is None:
            case_id = ids[raw_id] = UUID(bytes=raw_id)
        recorded_at = datetime.fromtimestamp(round(t, 6), UTC)
        prev = tips.get(raw_id, GENESIS)
        digest = event_hash(prev, position, case_id, version, topic, state, metadata, recorded_at)
        tips[raw_id] = digest
        rows.append((position, case_id, version, topic, state, metadata, recorded_at, prev, digest))
    return rows


# -- loading ------------------------------------------------------------------------------------

_EVENT_COLUMNS = [
    "position",
    "case_id",
    "version",
    "topic",
    "state",
    "metadata",
    "recorded_at",
    "prev_hash",
    "hash",
]


async def create_schema(url: str) -> None:
    """The production schema: whatever ``PostgresStore.open`` creates, with the audit hook."""
    from ledger.store.postgres import PostgresStore

    hooks: list[Any] = []
    try:
        from ledger.audit.log_hook import MerkleHook

        hooks.append(MerkleHook())
    except ImportError:  # the audit layer is not there yet
        pass
    store = PostgresStore(url, hooks)
    await store.open()
    await store.close()


async def load_rows(url: str, rows: Sequence[Row]) -> None:
    """COPY the rows into an empty store database, then set the head and the Merkle log."""
    await create_schema(url)
    conn = await asyncpg.connect(url)
    try:
        if await conn.fetchval("SELECT position FROM ledger_head"):
            raise RuntimeError(f"{url} is not an empty ledger")
        chunk = 100_000
        for start in range(0, len(rows), chunk):
            await conn.copy_records_to_table(
                "ledger_events", records=rows[start : start + chunk], columns=_EVENT_COLUMNS
            )
        if rows:
            await conn.execute(
                "UPDATE ledger_head SET position = $1, recorded_at = $2", rows[-1][0], rows[-1][6]
            )
        has_merkle = await conn.fetchval("SELECT to_regclass('ledger_merkle_nodes') IS NOT NULL")
        if has_merkle and rows:
            runs, tree = bulk_runs(row[8] for row in rows)
            await conn.copy_records_to_table(
                "ledger_merkle_nodes", records=runs, columns=["pos", "hashes"]
            )
            await conn.execute(
                "UPDATE ledger_merkle_state SET size = $1, compact = $2",
                tree.size,
                tree.to_bytes(),
            )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def load_es_rows(url: str, table: str, rows: Sequence[Row]) -> None:
    """COPY rows, byte for byte and in position order, into an eventsourcing events table.

    The table must exist (constructing the eventsourcing ``Application`` creates it); its
    ``notification_id`` (bigserial) then numbers the rows in the same order as our positions.
    """
    conn = await asyncpg.connect(url)
    try:
        chunk = 100_000
        for start in range(0, len(rows), chunk):
            await conn.copy_records_to_table(
                table,
                records=[(r[1], r[2], r[3], r[4]) for r in rows[start : start + chunk]],
                columns=["originator_id", "originator_version", "topic", "state"],
            )
        await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()


# -- the dataset of a run -----------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    database: str
    url: str
    events: int
    cases: int
    seconds_generate: float
    seconds_load: float
    reused: bool = False

    @property
    def key(self) -> str:
        return dataset_key(self.events)


def dataset_key(events: int) -> str:
    return f"v{GENERATOR_VERSION}:{events}"


async def _stored_key(url: str) -> tuple[str, int] | None:
    conn = await asyncpg.connect(url)
    try:
        if not await conn.fetchval("SELECT to_regclass('bench_dataset') IS NOT NULL"):
            return None
        row = await conn.fetchrow("SELECT key, cases FROM bench_dataset")
        return None if row is None else (str(row["key"]), int(row["cases"]))
    finally:
        await conn.close()


async def _mark(url: str, key: str, cases: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE bench_dataset (key TEXT NOT NULL, cases BIGINT NOT NULL)")
        await conn.execute("INSERT INTO bench_dataset VALUES ($1, $2)", key, cases)
    finally:
        await conn.close()


def find_reusable(database: str, events: int) -> Dataset | None:
    if not asyncio.run(database_exists(database)):
        return None
    url = db_url(database)
    stored = asyncio.run(_stored_key(url))
    if stored is None or stored[0] != dataset_key(events):
        return None
    return Dataset(database, url, events, stored[1], 0.0, 0.0, reused=True)


def make_dataset(url: str, database: str, events: int, *, seed: int = 2024) -> Dataset:
    """Generate ``events`` events and load them into the (empty) database at ``url``."""
    started = time.perf_counter()
    generated, stats = generate(events, seed=seed)
    rows = build_rows(generated, events)
    del generated
    cases = len({r[1] for r in rows})
    generated_in = time.perf_counter() - started
    started = time.perf_counter()
    asyncio.run(load_rows(url, rows))
    asyncio.run(_mark(url, dataset_key(events), cases))
    loaded_in = time.perf_counter() - started
    refused = sum(stats.refused.values())
    print(
        f"dataset: {len(rows):,} events, {cases:,} cases generated in {generated_in:.1f} s, "
        f"loaded in {loaded_in:.1f} s ({refused} demo paths stopped early by a rule)",
        flush=True,
    )
    return Dataset(database, url, len(rows), cases, generated_in, loaded_in)


def read_rows(url: str, limit: int) -> list[Row]:
    """The first ``limit`` stored rows (for copying into the eventsourcing tables)."""

    async def fetch() -> list[Row]:
        conn = await asyncpg.connect(url)
        try:
            records = await conn.fetch(
                f"SELECT {', '.join(_EVENT_COLUMNS)} FROM ledger_events"
                " WHERE position <= $1 ORDER BY position",
                limit,
            )
        finally:
            await conn.close()
        return [tuple(r) for r in records]

    return asyncio.run(fetch())


def iter_chunks(rows: Sequence[Row], size: int) -> Iterator[Sequence[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate and load the benchmark dataset.")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database", default=DATASET_DB, help=f"default {DATASET_DB}")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    asyncio.run(recreate_database(args.database))
    make_dataset(db_url(args.database), args.database, args.events, seed=args.seed)
    print(f"kept in database {args.database} (drop it with: dropdb {args.database})")


if __name__ == "__main__":
    main()


def dataset(ctx: RunContext) -> Dataset:
    """The run's shared dataset (scenarios 6–9): generated once, reused with ``--reuse-data``."""

    def compute() -> Dataset:
        events = ctx.config.events
        if ctx.config.reuse_data:
            found = find_reusable(DATASET_DB, events)
            if found is not None:
                print(f"dataset: reusing {DATASET_DB} ({found.events:,} events)", flush=True)
                ctx.keep.add(DATASET_DB)
                return found
        url = ctx.fresh_database(DATASET_DB.removeprefix(DB_PREFIX))
        if ctx.config.reuse_data:
            ctx.keep.add(DATASET_DB)
        made = make_dataset(url, DATASET_DB, events)
        ctx.memo["dataset.info"] = {
            "events": made.events,
            "cases": made.cases,
            "seconds_generate": round(made.seconds_generate, 1),
            "seconds_load": round(made.seconds_load, 1),
        }
        return made

    return ctx.once("dataset", compute)
