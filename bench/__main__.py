"""``python -m bench [all | SCENARIO ...] [--quick] [--json PATH]``: run the benchmark harness.

Prints the results table (scenario | our figure | baseline in the same run | ratio | target |
met?) and writes it as JSON to ``bench/results/<timestamp>.json`` (or ``--json PATH``).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.framework import (
    RESULTS,
    Config,
    Context,
    Row,
    format_markdown,
    format_table,
    machine_info,
    skipped_row,
    stamp,
    write_json,
)

Scenario = Callable[[Context], list[Row]]


def _scenarios() -> dict[str, tuple[str, Scenario]]:
    from bench import s_append, s_audit, s_console, s_exports, s_http, s_projections, s_replay

    return {
        "append": (
            "1: append at service and store level vs eventsourcing",
            s_append.scenario_append,
        ),
        "pgbench": ("2: append vs pgbench single-row INSERT", s_append.scenario_pgbench),
        "http": ("3: decide route over HTTP vs GET /health", s_http.scenario_http),
        "replay": ("4: replay a 1,000-event case vs repository.get", s_replay.scenario_replay),
        "asof": ("5: state at version 500 vs repository.get(version=500)", s_replay.scenario_asof),
        "rebuild": (
            "6: projection rebuild vs eventsourcing ProjectionRunner",
            s_projections.scenario_rebuild,
        ),
        "verify": ("7: ledger verify vs plain SHA-256", s_audit.scenario_verify),
        "inspection": ("8: inspection report on 100k cases", s_projections.scenario_inspection),
        "memory": ("9: peak RSS of API, rebuild and verify", s_http.scenario_memory),
        "statistics": (
            "10: department statistics of all units for one year",
            s_projections.scenario_statistics,
        ),
        "console": (
            "11: console pages /, /cases, a 1,000-event case, /oversight vs GET /health",
            s_console.scenario_console,
        ),
        "exports": (
            "12: the 100k-case 台账 export, time and peak memory, vs the JSON list and 10k",
            s_exports.scenario_exports,
        ),
    }


def main(argv: list[str] | None = None) -> int:
    scenarios = _scenarios()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks of the ledger, each against a baseline measured in the same run.",
        epilog="scenarios: "
        + "; ".join(f"{name} ({what})" for name, (what, _) in scenarios.items()),
    )
    parser.add_argument("scenario", nargs="*", default=["all"], help="'all' or scenario names")
    parser.add_argument("--quick", action="store_true", help="scale everything down ~10×")
    parser.add_argument("--json", type=Path, help="where to write the JSON results")
    parser.add_argument("--events", type=int, help="dataset size (default 1M, quick 100k)")
    parser.add_argument("--seconds", type=float, help="measuring window of throughput runs")
    parser.add_argument(
        "--reuse-data",
        action="store_true",
        help="keep the generated dataset database and reuse it on the next run if it matches",
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the scenarios that profile themselves"
    )
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args(argv)
    names = list(scenarios) if args.scenario in (["all"], []) else args.scenario
    unknown = [n for n in names if n not in scenarios]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {', '.join(scenarios)}")

    config = Config.make(
        quick=args.quick,
        events=args.events,
        seconds=args.seconds,
        reuse_data=args.reuse_data,
        profile=args.profile,
    )
    ctx = Context(config)
    meta: dict[str, Any] = {
        "started": stamp(),
        "config": config.__dict__,
        "machine": machine_info(),
    }
    print(f"machine: {meta['machine']}", flush=True)
    rows: list[Row] = []
    began = time.perf_counter()
    try:
        for name in names:
            what, run = scenarios[name]
            print(f"\n== {name}: {what}", flush=True)
            t0 = time.perf_counter()
            try:
                new = run(ctx)
            except Exception as exc:
                traceback.print_exc()
                new = [skipped_row(what.split(":")[0], name, f"{type(exc).__name__}: {exc}")]
            for row in new:
                print(
                    f"   {row.scenario} / {row.metric}: {row.ours:.4g} {row.unit} vs "
                    f"{row.baseline:.4g} ({row.baseline_name}) → {row.ratio:.2f}×",
                    flush=True,
                )
            print(f"   ({time.perf_counter() - t0:.0f} s)", flush=True)
            rows.extend(new)
    finally:
        ctx.cleanup()
    meta["seconds"] = round(time.perf_counter() - began, 1)
    meta["dataset"] = ctx.memo.get("dataset.info")
    path = args.json or RESULTS / f"{meta['started']}.json"
    write_json(path, rows, meta)
    print()
    print(format_table(rows))
    if args.markdown:
        print()
        print(format_markdown(rows))
    print(f"\nresults: {path}  ({meta['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
