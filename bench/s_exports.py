"""Scenario 12: the 台账 export (``GET /v1/exports/cases.xlsx``) of 100,000 cases — its time and
its peak memory — on a copy of the shared dataset.

The exports database is a copy of the dataset (``CREATE DATABASE … TEMPLATE``), its read models
rebuilt in a child process. Each measurement runs in a child process of its own (``python -m
bench.s_exports URL FROM MODE``) so that its peak RSS is its own: the app ``ledger serve`` runs
(``api.app.create_app``, projector and checkpoint scheduler off; uvloop and the serving GC
settings), driven in-process through ``httpx.ASGITransport`` by an auditor's token, the body
streamed and counted, never kept. ``FROM`` is the ``received_from`` that selects the N newest
cases (the received time of the N-th; with the cases received at that same moment, a few more),
so the same rows are asked for every way:

- ``xlsx`` of the N = 100,000 newest cases: the time from the request to the last byte of the
  spreadsheet, and the child's peak RSS;
- ``xlsx`` of the 10,000 newest: its peak RSS — bounded memory means the two peaks are close
  (ratio 10k / 100k near 1), whereas the rows are ten times as many;
- ``json`` baseline: the same 100,000 rows through ``GET /v1/cases`` (every page of 200, the
  largest the list gives), the same child, the same client: the time and the peak.

A child that only starts the app and answers ``GET /health`` gives the idle RSS (the floor).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import asyncpg

from bench.data import DATASET_DB, dataset
from bench.framework import (
    DB_PREFIX,
    Context,
    Row,
    RssSampler,
    admin,
    db_url,
    ratio_row,
    run_as_served,
    run_child,
)
from bench.s_http import _init_keys

EXPORTS_DB = DB_PREFIX + "exports"
SECRET = "ledger-bench-exports-secret-0123456789"
BIG, SMALL = 100_000, 10_000


async def _received_from(url: str, n: int) -> tuple[str, int]:
    """The ``received_from`` keeping the ``n`` newest cases, and how many it keeps: those
    received at the same moment as the ``n``-th too (the dataset's cases come in blocks)."""
    conn = await asyncpg.connect(url)
    try:
        at = await conn.fetchval(
            "SELECT received_at FROM proj_cases ORDER BY received_at DESC, case_id DESC"
            " OFFSET $1 LIMIT 1",
            n - 1,
        )
        count = await conn.fetchval("SELECT count(*) FROM proj_cases WHERE received_at >= $1", at)
    finally:
        await conn.close()
    return str(at.isoformat()), int(count)


async def _child(url: str, received_from: str, mode: str) -> dict[str, Any]:
    import httpx

    from api.app import create_app
    from api.auth import issue_token
    from ledger.config import Settings
    from ledger.domain.actor import Actor
    from ledger.domain.codes import Department, Role

    auditor = Actor(
        staff_id="bench.auditor",
        name="基准测试审计员",
        unit="tax.office",
        department=Department.TAX,
        roles=(Role.AUDITOR,),
    )
    headers = {"Authorization": f"Bearer {issue_token(SECRET, auditor)}"}
    with tempfile.TemporaryDirectory() as keys:
        if not _init_keys(Path(keys)):
            raise RuntimeError("ledger keys init failed")
        settings = Settings(database_url=url, jwt_secret=SECRET, key_dir=keys)
        app = create_app(settings, projector=False, checkpoints=False)
        transport = httpx.ASGITransport(app=cast(Any, app))
        async with (
            app.lifespan(),
            httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as c,
        ):
            if (await c.get("/health")).status_code != 200:
                raise RuntimeError("the app is not healthy")
            sampler = RssSampler(os.getpid(), interval=0.02)
            idle = sampler.sample() / 2**20
            rows = size = 0
            started = time.perf_counter()
            sampler.__enter__()
            if mode == "xlsx":
                params = {"received_from": received_from}
                async with c.stream(
                    "GET", "/v1/exports/cases.xlsx", params=params, headers=headers
                ) as response:
                    if response.status_code != 200:
                        await response.aread()
                        raise RuntimeError(f"export: {response.status_code} {response.text[:300]}")
                    rows = int(response.headers["x-export-rows"])
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
            elif mode == "json":
                cursor = None
                while True:
                    params = {"received_from": received_from, "limit": "200"}
                    if cursor:
                        params["cursor"] = cursor
                    response = await c.get("/v1/cases", params=params, headers=headers)
                    if response.status_code != 200:
                        raise RuntimeError(f"list: {response.status_code} {response.text[:300]}")
                    size += len(response.content)
                    page = response.json()
                    rows += len(page["items"])
                    cursor = page["next_cursor"]
                    if cursor is None:
                        break
            seconds = time.perf_counter() - started
            sampler.__exit__()
    lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "rows": rows,
        "bytes": size,
        "idle_mb": idle,  # RSS just before the request
        "peak_mb": sampler.peak_mb,  # the highest RSS sampled during it (every 20 ms)
        "lifetime_peak_mb": lifetime,  # the process's own high-water mark, start-up included
    }


def _run(url: str, received_from: str, mode: str) -> dict[str, Any]:
    out, _ = run_child([sys.executable, "-m", "bench.s_exports", url, received_from, mode])
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def measure(ctx: Context) -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        data = dataset(ctx)
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{EXPORTS_DB}" WITH (FORCE)'))
        asyncio.run(admin(f'CREATE DATABASE "{EXPORTS_DB}" TEMPLATE "{DATASET_DB}"'))
        ctx.databases.append(EXPORTS_DB)
        url = db_url(EXPORTS_DB)
        out, _ = run_child([sys.executable, "-m", "bench.child", "rebuild", url])
        rebuilt = json.loads(out.strip().splitlines()[-1])
        big_from, big = asyncio.run(_received_from(url, min(BIG, data.cases)))
        small_from, small = asyncio.run(_received_from(url, max(1, min(BIG, data.cases) // 10)))
        runs = {
            "small": _run(url, small_from, "xlsx"),
            "big": _run(url, big_from, "xlsx"),
            "json": _run(url, big_from, "json"),
        }
        for name, expected in (("small", small), ("big", big), ("json", big)):
            if runs[name]["rows"] != expected:
                raise RuntimeError(f"{name}: {runs[name]['rows']} rows, not {expected}")
        return {
            **runs,
            "big_rows": big,
            "small_rows": small,
            "events": data.events,
            "cases": data.cases,
            "rebuild_seconds": rebuilt["seconds"],
        }

    return ctx.once("exports", compute)


def scenario_exports(ctx: Context) -> list[Row]:
    m = measure(ctx)
    big, small, listed = m["big"], m["small"], m["json"]
    n, k = m["big_rows"], m["small_rows"]
    scenario = f"12 export, {n:,} of {m['cases']:,} cases"
    notes = (
        f"xlsx {big['bytes'] / 2**20:.1f} MiB in {big['seconds']:.1f} s "
        f"({n / big['seconds']:,.0f} rows/s); the JSON list {listed['bytes'] / 2**20:.1f} MiB in "
        f"{listed['seconds']:.1f} s ({n // 200 + 1} pages); {k:,}-case export "
        f"{small['seconds']:.1f} s; read models rebuilt in {m['rebuild_seconds']:.1f} s"
    )
    return [
        ratio_row(
            scenario,
            "time of cases.xlsx",
            "s",
            big["seconds"],
            listed["seconds"],
            f"GET /v1/cases, every page of the same {n:,} rows",
            better="lower",
            notes=notes,
        ),
        ratio_row(
            scenario,
            "peak RSS of cases.xlsx",
            "MB",
            big["peak_mb"],
            small["peak_mb"],
            f"the same export of {k:,} cases",
            better="lower",
            min_ratio=0.8,
            notes=f"RSS during the request, sampled every 20 ms; before it {big['idle_mb']:.0f} MB "
            f"({k:,}: {small['idle_mb']:.0f} MB); the JSON list of the same {n:,} rows peaked at "
            f"{listed['peak_mb']:.0f} MB; each child's own high-water mark (start-up included) "
            f"{big['lifetime_peak_mb']:.0f} / {small['lifetime_peak_mb']:.0f} / "
            f"{listed['lifetime_peak_mb']:.0f} MB",
        ),
    ]


async def _writer_alone(n: int) -> dict[str, Any]:
    """The spreadsheet writer alone (``api.xlsx``), ``n`` synthetic rows of the 台账's shape in
    pages of 500 written in worker threads as the route writes them: the Python heap's peak
    (tracemalloc) and the RSS after. ``python -m bench.s_exports writer N``."""
    import tracemalloc
    import uuid
    from datetime import date, datetime

    import psutil

    from api.xlsx import Book

    def row(i: int) -> list[Any]:
        moment = datetime(2026, 1, 1, 9, 30, 5)
        return [
            f"潜社争〔2026〕{i:06d}号", str(uuid.uuid4()), moment, moment,
            *["办事服务窗口"] * 10, date(2026, 1, 31), "否", None,
            f"缴费人{i}", "9142**********7776", "138****1234", "用人单位",
            1, 0, 2, "否", None, 0, 5,
        ]  # fmt: skip

    tracemalloc.start()
    book = Book()
    sheet = book.sheet("台账", [f"列{i}" for i in range(28)])
    for start in range(0, n, 500):
        await asyncio.to_thread(sheet.extend, [row(i) for i in range(start, min(n, start + 500))])
    size = 0
    async for chunk in book.chunks():
        size += len(chunk)
    _, peak = tracemalloc.get_traced_memory()
    rss = psutil.Process().memory_info().rss
    return {"rows": n, "bytes": size, "heap_peak_mb": peak / 2**20, "rss_mb": rss / 2**20}


if __name__ == "__main__":
    if sys.argv[1] == "writer":
        print(json.dumps(asyncio.run(_writer_alone(int(sys.argv[2])))))
    else:
        url, received_from, mode = sys.argv[1:4]
        print(json.dumps(run_as_served(_child(url, received_from, mode))))
