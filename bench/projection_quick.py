"""Quick projection benchmark on PostgreSQL: our rebuild beside eventsourcing's ProjectionRunner.

    .venv/bin/python bench/projection_quick.py [--events 200000] [--es-events 30000]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--database proj_quick]

1. Writes ``--events`` events into a fresh database through the real store: cases along the
   usual lifecycle paths (simple, transferred, reopened, major with extension, court enforcement,
   other jurisdiction, ping-pong left hanging, repeat trips), made by the real ``Dispute``
   aggregate and codec, ordered by business time over a year, appended in big concurrent
   batches (the store group-commits them).
2. Times ``ProjectionRunner.rebuild()`` over the whole log.
3. Copies the first ``--es-events`` events into an eventsourcing ``Application``'s own table and
   times the library's ``ProjectionRunner`` doing the same projection — our ``CaseFolder`` and
   row functions, one transaction per event as the library does it, case states kept in memory.
   Its rate does not depend on the log's length, so a prefix gives its events/s.
4. Prints both rates, their ratio, and the inspection latency of the busiest unit over the year.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

import asyncpg

from ledger.domain.actor import Actor
from ledger.domain.codes import (
    Category,
    Channel,
    Classification,
    DecisionOutcome,
    LinkRelation,
    PayerKind,
    Role,
    Satisfaction,
)
from ledger.domain.context import SHANGHAI, Context
from ledger.domain.dispute import Dispute
from ledger.domain.identifiers import make_citizen_id
from ledger.domain.payer import Payer
from ledger.projections import open_read_models
from ledger.store import open_store
from ledger.store.codec import default_mapper, encode_metadata
from ledger.store.port import EventStore, NewEvent

CTX = Context()
INTAKE = ["tax.hall"] * 5 + ["medical.window"] * 2 + ["tax.branch1", "gov.centre.guanghua"]
WINDOWS = ["hrss.window", "medical.window", "gov.centre.yuanlin"]
PLACES = ["qj.yuanlin", "qj.guanghua", "qj.zhouji", "qj.haokou"]


def actor(unit: str, n: int = 0, jurisdiction: str | None = None) -> Actor:
    roles = (Role.INTAKE, Role.HANDLER, Role.OFFICE, Role.ENFORCEMENT)
    ref = CTX.reference.unit(unit)
    return Actor(
        staff_id=f"{unit}#{n}",
        name=f"经办人{n}",
        unit=unit,
        department=ref.department,
        roles=roles,
        jurisdiction=jurisdiction or ref.jurisdiction,
    )


class Case:
    """One case driven through a path by the real aggregate, with its own business clock."""

    def __init__(self, rng: random.Random, day: date, payer: Payer, unit: str) -> None:
        self.rng, self.first = rng, actor(unit, rng.randrange(6))
        self.now = datetime.combine(day, dtime(9, rng.randrange(50)), SHANGHAI)
        self.case = Dispute.register(
            case_id=uuid4(),
            actor=self.first,
            channel=rng.choice(list(Channel)),
            received_at=self.now - timedelta(minutes=rng.randrange(5, 60)),
            payer=payer,
            jurisdiction=rng.choice(PLACES),
            category=rng.choice([Category.PAYMENT, Category.SERVICE, Category.PAYMENT_RECORD]),
            summary="缴费争议",
            preliminary_opinion="核实后答复",
            now=self.now,
            context=CTX,
        )

    def later(self, working_days: int = 0, minutes: int = 20) -> datetime:
        if working_days:
            due = CTX.calendar.add_working_days(self.now.date(), working_days).due
            self.now = datetime.combine(due, dtime(9, self.rng.randrange(50)), SHANGHAI)
        self.now += timedelta(minutes=minutes)
        return self.now

    def finish(self, who: Actor, days: int) -> None:
        c, now = self.case, self.later(days)
        c.decide(who, DecisionOutcome.UPHELD, "经核实", None, now, CTX)
        c.give_feedback(who, Channel.VISIT, "告知", Satisfaction.SATISFIED, self.later(), CTX)
        c.close(who, "办结", self.later(), CTX)

    def classify(self, kind: Classification, route: int = 2, days: int = 0) -> None:
        self.case.classify(self.first, kind, route, "分类", self.later(days), CTX)


def run_path(k: Case, kind: str, earlier: UUID | None) -> None:
    c, rng, first, office = k.case, k.rng, k.first, actor("tax.sif")
    if kind == "simple":
        k.classify(Classification.SIMPLE, 1)
        k.finish(first, 0)
    elif kind in ("general", "reopened"):
        k.classify(Classification.GENERAL, days=rng.choice([0, 0, 1, 2]))
        window = actor(rng.choice([w for w in WINDOWS if w != c.holder]))
        c.transfer(first, window.unit, None, "转办", k.later(), CTX)
        c.accept(window, "签收", k.later(rng.choice([0, 0, 1, 2])))
        k.finish(window, rng.randrange(1, 12))
        if kind == "reopened":
            c.reopen(office, "回访不满意", k.later(2), CTX)
            k.finish(window, 3)
    elif kind == "major":
        k.classify(Classification.MAJOR, 7)
        c.escalate(first, "跨部门", k.later(), CTX)
        c.consult(office, ("tax.sif", "hrss.social_insurance"), "会商", k.later(2), CTX)
        c.request_extension(office, k.now.date() + timedelta(days=90), "延期", k.later(5), CTX)
        c.decide_extension(office, True, "同意", k.later(), CTX)
        k.finish(office, rng.randrange(5, 30))
    elif kind == "enforcement":
        legal = actor("tax.legal")
        k.classify(Classification.GENERAL, 5)
        c.decide(first, DecisionOutcome.UPHELD, "欠费属实", None, k.later(1), CTX)
        served = k.later()
        c.serve_demand_notice(legal, served, Decimal("52000.50"), served)
        c.confirm_arrears(
            legal, Decimal("52000.50"), date(2024, 1, 1), date(2024, 12, 31), k.later()
        )
        c.refer_to_court(legal, "潜江市人民法院", "催告期满", k.later(12), CTX)
        c.record_court_outcome(legal, "准予执行", "", k.later(10))
        k.finish(first, 1)
    elif kind == "jurisdiction":
        k.classify(Classification.GENERAL)
        place = rng.choice([p for p in PLACES if p != c.jurisdiction])
        centre = actor(f"gov.centre.{place.removeprefix('qj.')}", jurisdiction=place)
        c.transfer(first, None, place, "非本辖区", k.later(rng.choice([0, 1, 3])), CTX)
        c.accept(centre, "签收", k.later(1))
        k.finish(centre, rng.randrange(1, 8))
    else:  # left hanging after a ping-pong, or a repeat trip (linked half of the time)
        k.classify(Classification.GENERAL)
        section = actor("hrss.social_insurance")
        c.transfer(first, section.unit, None, "转办", k.later(), CTX)
        c.accept(section, "签收", k.later(1))
        c.transfer(section, first.unit, None, "非本单位职责", k.later(1), CTX)
        c.accept(first, "签收", k.later(2))
        c.urge(office, "催办", k.later(14), CTX)
        if earlier is not None and rng.random() < 0.5:
            c.link(first, earlier, LinkRelation.DUPLICATE, k.later())


PATHS = ["simple"] * 3 + ["general"] * 4 + ["reopened", "major", "enforcement"]
PATHS += ["jurisdiction", "hanging", "hanging"]


def generate(events: int, seed: int = 2025) -> list[NewEvent]:
    """About ``events`` events of cases received over 2025, in business-time order."""
    rng, mapper, meta = random.Random(seed), default_mapper(), encode_metadata({})
    dated: list[tuple[datetime, int, NewEvent]] = []
    payers: list[Payer] = []
    last_case: dict[str, tuple[UUID, datetime]] = {}  # payer → their latest case, registered at
    n, per_day = 0, max(1, events // 8 // 360)  # about 8 events a case, a year of cases
    while len(dated) < events:
        day = date(2025, 1, 2) + timedelta(days=min(359, n // 8 // per_day))
        if rng.random() < 0.15 and payers:
            payer = rng.choice(payers)  # comes back again (重复跑)
        else:
            birth = date(1960, 1, 1) + timedelta(days=rng.randrange(15000))
            identifier = make_citizen_id(birth=birth, sequence=rng.randrange(1, 999))
            payer = Payer(
                kind=PayerKind.PERSON, name="缴费人", identifier=identifier, phone="13800000000"
            )
            payers.append(payer)
        k = Case(rng, day, payer, rng.choice(INTAKE))
        registered, earlier = k.now, last_case.get(payer.identifier)
        # A link needs the other case on record already (the service checks that).
        run_path(k, rng.choice(PATHS), earlier[0] if earlier and earlier[1] < k.now else None)
        last_case[payer.identifier] = (k.case.id, registered)
        for e in k.case.collect_events():
            dated.append((e.occurred_at, n, mapper.to_new_event(e, meta)))  # type: ignore[attr-defined]
            n += 1
    dated.sort(key=lambda item: (item[0], item[1]))
    return [new for _, _, new in dated[:events]]


async def append_all(store: EventStore, events: list[NewEvent], chunk: int = 20_000) -> None:
    """Chunks in log order; within a chunk, one concurrent append per case (group-committed)."""
    for start in range(0, len(events), chunk):
        by_case: dict[UUID, list[NewEvent]] = defaultdict(list)
        for new in events[start : start + chunk]:
            by_case[new.case_id].append(new)
        await asyncio.gather(
            *(store.append(case_id, news[0].version - 1, news) for case_id, news in by_case.items())
        )


# -- eventsourcing's ProjectionRunner, same projection ---------------------------------------------


def es_run(url: str, count: int) -> float:
    """Seconds eventsourcing's ProjectionRunner takes for notifications 1..count."""
    from eventsourcing.application import Application
    from eventsourcing.persistence import Mapper, StoredEvent, Tracking
    from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
    from eventsourcing.projection import Projection, ProjectionRunner
    from psycopg.sql import SQL

    from ledger.projections import tables as t
    from ledger.projections.db_postgres import TABLES
    from ledger.projections.fold import CaseFolder
    from ledger.store.codec import MsgspecTranscoder
    from ledger.store.port import RecordedEvent

    epoch = datetime(2000, 1, 1, tzinfo=SHANGHAI)

    class RecordMapper(Mapper[UUID]):  # hands over the stored record: the folder decodes it
        def to_domain_event(self, stored: StoredEvent) -> Any:
            case_id = stored.originator_id
            assert isinstance(case_id, UUID)
            return RecordedEvent(
                getattr(stored, "id", 0), case_id, stored.originator_version,
                stored.topic, stored.state, b"{}", epoch, b"", b"",
            )  # fmt: skip

    class QuickApp(Application[UUID]):
        def construct_mapper(self) -> Mapper[UUID]:
            return RecordMapper(transcoder=MsgspecTranscoder())

    cases_sql = (
        f"INSERT INTO es_cases ({', '.join(t.CASE_COLUMNS)})"
        f" VALUES ({', '.join(['%s'] * len(t.CASE_COLUMNS))})"
        " ON CONFLICT (case_id) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in t.CASE_COLUMNS[1:])
    )
    findings_sql = (
        f"INSERT INTO es_findings ({', '.join(t.FINDING_COLUMNS)})"
        f" VALUES ({', '.join(['%s'] * len(t.FINDING_COLUMNS))})"
    )

    class Views(PostgresTrackingRecorder):
        def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
            super().__init__(datastore, **kwargs)
            ddl = SQL(TABLES.replace("proj_", "es_"))
            self.sql_create_statements.append(ddl)  # type: ignore[arg-type]

        def write(self, cases: list[Any], findings: list[Any], tracking: Tracking) -> None:
            with self.datastore.transaction(commit=True) as curs:
                curs.execute("SET LOCAL synchronous_commit = off")  # as our runner's sessions
                for row in cases:
                    curs.execute(cases_sql, tuple(row), prepare=True)
                    curs.execute("DELETE FROM es_findings WHERE case_id = %s", (row.case_id,))
                if findings:
                    curs.executemany(findings_sql, [tuple(f) for f in findings])
                self._insert_tracking(curs, tracking)

    class CaseViews(Projection[Views]):
        name = "esquick"

        def __init__(self, view: Views) -> None:
            super().__init__(view)
            self.folder = CaseFolder(CTX)

        def process_event(self, event: Any, tracking: Tracking) -> None:
            states = [self.folder.states[c] for c in self.folder.apply(event)]
            rows = [t.case_row(s) for s in states]
            self.view.write(rows, [f for s in states for f in t.finding_rows(s, CTX)], tracking)

    parts = urlsplit(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
    }
    QuickApp(env=env).close()  # creates its events table
    asyncio.run(_copy_to_es(url, count))
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=QuickApp, projection_class=CaseViews, view_class=Views, env=env
    ) as runner:
        runner.wait(count, timeout=3600)
        seconds = time.perf_counter() - started
        done = runner.view.max_tracking_id("QuickApp")
    assert done == count, f"eventsourcing's runner stopped at {done}"
    return seconds


async def _copy_to_es(url: str, count: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO quickapp_events (originator_id, originator_version, topic, state,"
            " notification_id) SELECT case_id, version, topic, state, position FROM ledger_events"
            f" WHERE position <= {count}"
        )
    finally:
        await conn.close()


# -- main ----------------------------------------------------------------------------------------


async def prepare(admin: str, url: str, database: str, events: int) -> None:
    conn = await asyncpg.connect(admin)
    await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    started = time.perf_counter()
    log = generate(events)
    made = time.perf_counter()
    store = open_store(url)
    await store.open()
    await append_all(store, log)
    await store.close()
    print(
        f"data: {len(log):,} events of {sum(n.version == 1 for n in log):,} cases, generated in"
        f" {made - started:.1f} s, appended in {time.perf_counter() - made:.1f} s"
    )


async def ours(url: str) -> tuple[int, float, list[float], str, int]:
    read_models = await open_read_models(url, CTX)
    try:
        runner = read_models.runner()
        started = time.perf_counter()
        position = await runner.rebuild()
        seconds = time.perf_counter() - started
        conn = await asyncpg.connect(url)
        unit, cases = await conn.fetchrow(
            "SELECT receiving_unit, count(*) FROM proj_cases GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        )
        await conn.close()
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            await read_models.inspection(date(2025, 1, 1), date(2025, 12, 31), unit)
            runs.append(time.perf_counter() - t0)
        return position, seconds, runs, unit, cases
    finally:
        await read_models.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--es-events", type=int, default=30_000)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="proj_quick")
    args = parser.parse_args()
    url = urlunsplit(urlsplit(args.admin_url)._replace(path="/" + args.database))
    asyncio.run(prepare(args.admin_url, url, args.database, args.events))
    position, seconds, runs, unit, cases = asyncio.run(ours(url))
    rate = position / seconds
    print(
        f"ours:          rebuild of {position:,} events in {seconds:.1f} s = {rate:,.0f} events/s"
    )
    es_count = min(args.es_events, position)
    es_seconds = es_run(url, es_count)
    es_rate = es_count / es_seconds
    print(
        f"eventsourcing: ProjectionRunner, first {es_count:,} events in {es_seconds:.1f} s"
        f" = {es_rate:,.0f} events/s"
    )
    print(f"ratio:         {rate / es_rate:.1f}x")
    print(
        f"inspection:    unit {unit} ({cases:,} cases), year 2025: median"
        f" {statistics.median(runs) * 1000:.0f} ms of {[round(r * 1000) for r in runs]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
