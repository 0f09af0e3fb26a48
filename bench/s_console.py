"""Scenario 11: the console's pages, server time per request, on the shared dataset.

The console database is a copy of the dataset (``CREATE DATABASE … TEMPLATE``, so the dataset
itself stays as scenarios 6–9 expect it) to which are added, through the real write path:

1. a 1,000-event case, ``ledger.demo.long_case`` (register, classify, then cycles of urge ×2,
   consult, decide, feedback, close, reopen — the case scenarios 4 and 5 replay) through
   ``LedgerService`` on ``PostgresStore``, so its snapshots and case number are the write path's;
2. then the read models are rebuilt (``ProjectionRunner.rebuild``, in a child process);
3. then a handler's staff account (``StaffDirectory.add``) in the unit that holds the most open
   cases in those read models.

The app ``ledger serve`` runs (``api.app.create_app``, the console included; projector and
checkpoint scheduler off, nothing else writes), on uvloop with the serving GC settings
(``framework.run_as_served``), is driven in-process, in the same event loop, through
``httpx.ASGITransport``, signed in as that handler through ``/login`` (its form, CSRF token and
session cookie). Each request is timed from the client's call to its complete response — the
app's time plus the in-process ASGI transport's, which the baseline pays as well.

Measured, interleaved after warm-up: ``GET /`` (我的待办 of that handler), ``GET /cases``
(the first page of 案件查询), ``GET /cases/{id}`` of the 1,000-event case (案件详情 with its whole
timeline), and ``GET /oversight`` (督办, signed in as an office account added beside the
handler) for the year of the dataset (the year up to its last case's received date, as scenario
10). Baseline: ``GET /health`` on the same app, same client, same run. p50 and p95 of each;
targets: p95 ≤ 100 ms for ``/`` and ``/cases``, ≤ 150 ms for the case page (issue 16), ≤ 300 ms
for 督办 (issue 17). 督办's own read-model queries (the open cases per holding unit and the first
page of those due within 3 working days) and the statistics report it shows are also timed
apart, directly on the app's ``ReadModels`` in the same loop, interleaved with the pages: the
report is scenario 10's query, which may change on its own.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import asyncpg

from bench.data import DATASET_DB, dataset
from bench.framework import (
    DB_PREFIX,
    Context,
    Row,
    admin,
    db_url,
    percentile,
    ratio_row,
    run_as_served,
    run_child,
)
from bench.s_http import _init_keys

CONSOLE_DB = DB_PREFIX + "console"
CASE_EVENTS = 1000
STAFF_ID = "bench.handler"
OFFICE_ID = "bench.office"  # 督办
PASSWORD = "bench-console-password"
# The app refuses the development secret on PostgreSQL; any other will do here.
SECRET = "ledger-bench-console-secret-0123456789"
TARGETS_MS = {"/": 100.0, "/cases": 100.0, "case": 150.0, "oversight": 300.0}


async def _add_case(url: str) -> tuple[UUID, float]:
    """The 1,000-event case, through the service on the store (as ``ledger serve`` opens them)."""
    from ledger import demo
    from ledger.audit.service import audit_hooks
    from ledger.config import Settings
    from ledger.domain.context import Context as DomainContext
    from ledger.service import LedgerService
    from ledger.store import open_store

    settings = Settings(database_url=url, jwt_secret=SECRET)
    store = open_store(url, hooks=audit_hooks())
    await store.open()
    try:
        service = LedgerService(store, DomainContext(), snapshot_key=settings.snapshot_key())
        started = time.perf_counter()
        case_id = await demo.long_case(service, CASE_EVENTS)
        return case_id, time.perf_counter() - started
    finally:
        await store.close()


async def _add_handler(url: str) -> tuple[str, int]:
    """A handler's account in the unit holding the most open cases (read from the read models),
    and an office account of the leading group's office."""
    from ledger.audit.service import audit_hooks
    from ledger.domain.codes import CaseStatus, Role
    from ledger.domain.context import Context as DomainContext
    from ledger.staff import StaffDirectory
    from ledger.store import open_store

    conn = await asyncpg.connect(url)
    try:
        unit, held = await conn.fetchrow(
            "SELECT holding_unit, count(*) FROM proj_cases WHERE status <> $1"
            " AND holding_unit IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
            CaseStatus.CLOSED.value,
        )
    finally:
        await conn.close()
    context = DomainContext()
    info = {u.code: u for u in context.reference.units}[unit]
    store = open_store(url, hooks=audit_hooks())
    await store.open()
    directory = StaffDirectory(store, url, context.reference)
    await directory.open()
    office = {u.code: u for u in context.reference.units}[context.reference.leading_group_office]
    try:
        await directory.add(
            staff_id=STAFF_ID,
            name="基准测试经办人",
            unit=unit,
            department=info.department,
            roles=(Role.HANDLER,),
            jurisdiction=info.jurisdiction,
            password=PASSWORD,
            by="bench",
        )
        await directory.add(
            staff_id=OFFICE_ID,
            name="基准测试督办人",
            unit=office.code,
            department=office.department,
            roles=(Role.OFFICE,),
            jurisdiction=office.jurisdiction,
            password=PASSWORD,
            by="bench",
        )
    finally:
        await directory.close()
        await store.close()
    return str(unit), int(held)


async def _measure(url: str, case_id: UUID, runs: int) -> dict[str, Any]:
    import httpx

    from api.app import create_app
    from ledger.config import Settings

    with tempfile.TemporaryDirectory() as keys:  # the app reads the ledger's verifier key
        if not _init_keys(Path(keys)):
            raise RuntimeError("ledger keys init failed")
        settings = Settings(database_url=url, jwt_secret=SECRET, key_dir=keys)
        app = create_app(settings, projector=False, checkpoints=False)
        # The app runs in this event loop (Litestar's test client would run it in a thread of
        # its own and add the hop between threads to every request); https: the session cookie
        # is Secure on a PostgreSQL deployment.
        # (Litestar types its ASGI callable more narrowly than httpx's generic one.)
        transport = httpx.ASGITransport(app=cast(Any, app))
        async with (
            app.lifespan(),
            httpx.AsyncClient(transport=transport, base_url="https://testserver.local") as client,
        ):
            office = httpx.AsyncClient(transport=transport, base_url="https://testserver.local")
            await _sign_in(client, STAFF_ID)
            await _sign_in(office, OFFICE_ID)
            period = await _period(app)
            paths = {
                "health": "/health",
                "/": "/",
                "/cases": "/cases",
                "case": f"/cases/{case_id}",
                "oversight": f"/oversight?from={period[0]}&to={period[1]}",
            }
            clients = {name: office if name == "oversight" else client for name in paths}
            checks: dict[str, Callable[[str], bool]] = {
                "health": lambda _: True,
                "/": lambda text: "我的待办" in text,
                "/cases": lambda text: "案件查询" in text,
                # the whole timeline: a row per event
                "case": lambda text: (
                    "案件详情" in text
                    and text.split('id="timeline"', 1)[-1].count("<tr") > CASE_EVENTS
                ),
                "oversight": lambda text: "部门考核" in text and 'id="chart-months"' in text,
            }
            sizes: dict[str, int] = {}
            for name, path in paths.items():  # warm-up, and each page is what it should be
                for _ in range(3):
                    response = await clients[name].get(path, follow_redirects=False)
                    if response.status_code != 200 or not checks[name](response.text):
                        raise RuntimeError(
                            f"GET {path}: {response.status_code} {response.text[:300]}"
                        )
                sizes[name] = len(response.content)
            queries = _oversight_queries(app, period)
            times: dict[str, list[float]] = {name: [] for name in [*paths, *queries]}
            for _ in range(runs):
                for name, path in paths.items():
                    started = time.perf_counter()
                    response = await clients[name].get(path, follow_redirects=False)
                    times[name].append(time.perf_counter() - started)
                    if response.status_code != 200:
                        raise RuntimeError(f"GET {path}: {response.status_code}")
                for name, query in queries.items():
                    started = time.perf_counter()
                    await query()
                    times[name].append(time.perf_counter() - started)
            await office.aclose()
    return {"times": times, "sizes": sizes, "period": f"{period[0]}..{period[1]}"}


async def _sign_in(client: Any, staff_id: str) -> None:
    """Through /login: its form, CSRF token and session cookie."""
    form = await client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
    if token is None:
        raise RuntimeError("no CSRF token on /login")
    signed = await client.post(
        "/login",
        data={"username": staff_id, "password": PASSWORD, "_csrf_token": token[1]},
        follow_redirects=False,
    )
    if signed.status_code != 303:
        raise RuntimeError(f"sign-in refused: {signed.status_code} {signed.text[:300]}")


async def _period(app: Any) -> tuple[date, date]:
    """The year of the dataset, up to its last case's received date (scenario 10's period)."""
    from ledger.domain.context import SHANGHAI

    rows = await app.state.ledger.read_models.db.fetch("SELECT max(received_at) FROM proj_cases")
    last = rows[0][0].astimezone(SHANGHAI).date()
    return last - timedelta(days=364), last


def _oversight_queries(
    app: Any, period: tuple[date, date]
) -> dict[str, Callable[[], Awaitable[Any]]]:
    """督办's read-model queries, apart: its own (open cases per unit, the first page due within
    3 working days) and the statistics report it shows."""
    from console.oversight import DUE_WITHIN
    from ledger.projections.views import CaseFilters

    read_models = app.state.ledger.read_models

    async def own() -> Any:
        await read_models.open_cases_by_unit(DUE_WITHIN)
        return await read_models.list_cases(CaseFilters(due_within=DUE_WITHIN), None, 20)

    async def report() -> Any:
        return await read_models.statistics(*period)

    return {"oversight-own": own, "oversight-statistics": report}


def measure(ctx: Context) -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        data = dataset(ctx)
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{CONSOLE_DB}" WITH (FORCE)'))
        started = time.perf_counter()
        asyncio.run(admin(f'CREATE DATABASE "{CONSOLE_DB}" TEMPLATE "{DATASET_DB}"'))
        ctx.databases.append(CONSOLE_DB)
        copied = time.perf_counter() - started
        url = db_url(CONSOLE_DB)
        case_id, appended = asyncio.run(_add_case(url))
        out, _ = run_child([sys.executable, "-m", "bench.child", "rebuild", url])
        rebuilt = json.loads(out.strip().splitlines()[-1])
        # The account's event comes after the rebuild: the read models do not show accounts.
        unit, held = asyncio.run(_add_handler(url))
        runs = 30 if ctx.config.quick else 60
        # As ``ledger serve`` runs the app: uvloop, the serving process's GC settings.
        measured = run_as_served(_measure(url, case_id, runs))
        return {
            **measured,
            "case_id": str(case_id),
            "unit": unit,
            "held": held,
            "events": data.events,
            "cases": data.cases,
            "copy_seconds": copied,
            "append_seconds": appended,
            "rebuild_seconds": rebuilt["seconds"],
            "runs": runs,
        }

    return ctx.once("console", compute)


def scenario_console(ctx: Context) -> list[Row]:
    m = measure(ctx)
    times = m["times"]
    health50 = percentile(times["health"], 50) * 1000
    health95 = percentile(times["health"], 95) * 1000
    pages = {
        "/": "GET / (我的待办)",
        "/cases": "GET /cases (first page)",
        "case": f"GET /cases/{{id}}, {CASE_EVENTS:,}-event case",
        "oversight": "GET /oversight (督办), one year",
    }
    rows: list[Row] = []
    for name, label in pages.items():
        p50 = percentile(times[name], 50) * 1000
        p95 = percentile(times[name], 95) * 1000
        notes = (
            f"{m['runs']} requests each, interleaved with GET /health; p50 {p50:.1f} ms "
            f"(health p50 {health50:.2f} ms); page {m['sizes'][name] / 1024:.0f} KiB"
        )
        if name == "/":
            notes += f"; handler of {m['unit']} ({m['held']:,} open cases held)"
        if name == "oversight":
            own, report = (
                percentile(times[q], p) * 1000
                for q, p in (("oversight-own", 95), ("oversight-statistics", 95))
            )
            notes += (
                f"; office account; period {m['period']}; its own queries p95 {own:.1f} ms, "
                f"the statistics report p95 {report:.1f} ms (timed apart, same loop)"
            )
        if name == "case":
            notes += (
                f"; database copied in {m['copy_seconds']:.1f} s, the case appended in "
                f"{m['append_seconds']:.1f} s, read models rebuilt in {m['rebuild_seconds']:.1f} s"
            )
        rows.append(
            ratio_row(
                f"11 console, {m['events']:,} events",
                label,
                "ms",
                p95,
                health95,
                "GET /health p95, same app",
                better="lower",
                limit=TARGETS_MS[name],
                notes=notes,
            )
        )
    for name, label in (
        ("oversight-own", "督办's own queries (open cases per unit, due soon)"),
        ("oversight-statistics", "the statistics report 督办 shows"),
    ):
        p50 = percentile(times[name], 50) * 1000
        rows.append(
            ratio_row(
                f"11 console, {m['events']:,} events",
                label,
                "ms",
                percentile(times[name], 95) * 1000,
                health95,
                "GET /health p95, same app",
                better="lower",
                notes=f"p95; p50 {p50:.1f} ms; ReadModels called directly, interleaved with "
                "the pages (informational: the page's time includes both)",
            )
        )
    return rows
