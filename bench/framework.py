"""The harness's plumbing: result rows, the run context, databases, timing and memory sampling.

Every figure is reported beside a baseline measured in the same run on the same machine, because
the machines this runs on are small and noisy: absolute numbers drift by tens of percent from one
minute to the next, ratios much less.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil

from ledger.process import run_service

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
# Services write and read sealed snapshots as a deployment's do (Settings.snapshot_key).
SNAPSHOT_KEY = b"ledger-bench-snapshot-seal-key.."
ADMIN_URL = os.environ.get(
    "LEDGER_BENCH_POSTGRES_URL",
    os.environ.get("LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
)
# Another prefix keeps two runs on one shared server out of each other's databases.
DB_PREFIX = os.environ.get("LEDGER_BENCH_DB_PREFIX", "ledger_bench_")

T = TypeVar("T")
Better = Literal["higher", "lower"]


# -- results ------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table: our figure beside its same-run baseline.

    ``ratio`` is always "how many times better than the baseline": ours / baseline when higher is
    better (throughput), baseline / ours when lower is better (time, latency, memory).
    """

    scenario: str
    metric: str
    unit: str
    ours: float
    baseline: float
    baseline_name: str
    better: Better
    target: str
    met: bool | None  # None: not judged (informational row)
    notes: str = ""

    @property
    def ratio(self) -> float:
        if self.baseline <= 0 or self.ours <= 0:
            return math.nan
        return self.ours / self.baseline if self.better == "higher" else self.baseline / self.ours

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = None if math.isnan(self.ratio) else round(self.ratio, 4)
        return data


def ratio_row(
    scenario: str,
    metric: str,
    unit: str,
    ours: float,
    baseline: float,
    baseline_name: str,
    *,
    better: Better,
    min_ratio: float | None = None,
    limit: float | None = None,
    notes: str = "",
) -> Row:
    """A row judged by a ratio target (``min_ratio``) and/or an absolute limit on our figure."""
    parts: list[str] = []
    if min_ratio is not None:
        parts.append(f"≥ {min_ratio:g}×")
    if limit is not None:
        parts.append(f"{'≥' if better == 'higher' else '≤'} {limit:g} {unit}")
    row = Row(scenario, metric, unit, ours, baseline, baseline_name, better, ", ".join(parts), None)
    checks: list[bool] = []
    if min_ratio is not None:
        checks.append(not math.isnan(row.ratio) and row.ratio >= min_ratio)
    if limit is not None:
        checks.append(ours >= limit if better == "higher" else 0 < ours <= limit)
    row.met = all(checks) if checks else None
    row.notes = notes
    return row


def skipped_row(scenario: str, metric: str, why: str) -> Row:
    return Row(
        scenario, metric, "", math.nan, math.nan, "-", "higher", "-", None, f"SKIPPED: {why}"
    )


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_table(rows: Sequence[Row]) -> str:
    header = ("scenario", "metric", "our figure", "baseline (same run)", "ratio", "target", "met?")
    lines: list[tuple[str, ...]] = [header]
    for r in rows:
        ours = "-" if math.isnan(r.ours) else f"{_fmt(r.ours)} {r.unit}"
        base = "-" if math.isnan(r.baseline) else f"{_fmt(r.baseline)} {r.unit} ({r.baseline_name})"
        ratio = "-" if math.isnan(r.ratio) else f"{r.ratio:.2f}×"
        met = {True: "yes", False: "NO", None: "-"}[r.met]
        lines.append((r.scenario, r.metric, ours, base, ratio, r.target, met))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append(" | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))
        if n == 0:
            out.append("-+-".join("-" * w for w in widths))
    notes = [f"  [{r.scenario} / {r.metric}] {r.notes}" for r in rows if r.notes]
    if notes:
        out.append("")
        out.append("notes:")
        out.extend(notes)
    return "\n".join(out)


def format_markdown(rows: Sequence[Row]) -> str:
    out = [
        "| scenario | metric | our figure | baseline (same run) | ratio | target | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ours = "-" if math.isnan(r.ours) else f"{_fmt(r.ours)} {r.unit}"
        base = "-" if math.isnan(r.baseline) else f"{_fmt(r.baseline)} {r.unit} ({r.baseline_name})"
        ratio = "-" if math.isnan(r.ratio) else f"{r.ratio:.2f}×"
        met = {True: "yes", False: "**no**", None: "-"}[r.met]
        out.append(
            f"| {r.scenario} | {r.metric} | {ours} | {base} | {ratio} | {r.target} | {met} |"
        )
    return "\n".join(out)


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
    }
    try:
        info["postgresql"] = asyncio.run(_server_version())
    except Exception as exc:  # reported, not fatal: the scenarios will fail loudly anyway
        info["postgresql"] = f"unreachable: {exc}"
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


async def _server_version() -> str:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def write_json(path: Path, rows: Sequence[Row], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**meta, "rows": [r.to_json() for r in rows]}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


# -- the run context ----------------------------------------------------------------------------


@dataclass
class Config:
    quick: bool = False
    events: int = 1_000_000  # the dataset of scenarios 6–8
    seconds: float = 20.0  # measuring window of the throughput scenarios
    warmup: float = 3.0
    reuse_data: bool = False  # keep the dataset database and reuse it when it matches
    profile: bool = False  # py-spy the scenarios that miss their target

    @classmethod
    def make(
        cls,
        *,
        quick: bool,
        events: int | None,
        seconds: float | None,
        reuse_data: bool,
        profile: bool,
    ) -> Config:
        base = cls(quick=quick, reuse_data=reuse_data, profile=profile)
        if quick:
            base.events, base.seconds, base.warmup = 100_000, 5.0, 1.0
        if events is not None:
            base.events = events
        if seconds is not None:
            base.seconds = seconds
        return base


@dataclass
class Context:
    """What scenarios share within one run: the config, memoized measurements, databases."""

    config: Config
    memo: dict[str, Any] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)
    keep: set[str] = field(default_factory=set)

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """Compute a shared measurement at most once per run (e.g. the dataset, the append run)."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    def fresh_database(self, purpose: str) -> str:
        """Create an empty database ``ledger_bench_<purpose>`` (dropped at the end of the run)."""
        name = DB_PREFIX + purpose
        asyncio.run(recreate_database(name))
        self.databases.append(name)
        return db_url(name)

    def cleanup(self) -> None:
        for name in reversed(self.databases):
            if name not in self.keep:
                asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.databases.clear()


def db_url(name: str) -> str:
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path="/" + name))


def postgres_env(name: str, **extra: str) -> dict[str, str]:
    """eventsourcing's environment for its PostgreSQL persistence on database ``name``."""
    parts = urlsplit(ADMIN_URL)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": name,
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
        **extra,
    }


async def admin(sql: str, *args: object) -> Any:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def recreate_database(name: str) -> None:
    await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin(f'CREATE DATABASE "{name}"')


async def database_exists(name: str) -> bool:
    return bool(await admin("SELECT count(*) FROM pg_database WHERE datname = $1", name))


# -- measuring ----------------------------------------------------------------------------------


def run_as_served(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` as ``ledger serve`` runs the ledger: on uvloop (uvicorn picks it when it is
    installed, and the lock installs it) with the process's GC settings (``ledger.process``).

    For the in-process throughput scenarios; both sides of a comparison run this way. The GC
    settings are restored afterwards, so the scenarios after it run as before.
    """
    thresholds = gc.get_threshold()
    try:
        return run_service(main)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100), nearest-rank on sorted data; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def best_of(runs: int, measure: Callable[[], float]) -> float:
    """The smallest of ``runs`` timings: the least disturbed by the noisy neighbours."""
    return min(measure() for _ in range(runs))


async def best_of_async(runs: int, measure: Callable[[], Awaitable[float]]) -> float:
    return min([await measure() for _ in range(runs)])


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


class RssSampler:
    """Samples the resident set size of a process tree every ``interval`` seconds; keeps the peak.

    Used on child processes (the API server, rebuild and verify runs) so the harness's own memory
    never counts.
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.first = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"rss-{pid}")

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> int:
        try:
            proc = psutil.Process(self.pid)
            total = proc.memory_info().rss
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
        except psutil.Error:
            return 0
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self.sample()
            if rss and not self.first:
                self.first = rss
            self.peak = max(self.peak, rss)
            self._stop.wait(self.interval)

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def run_child(
    argv: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 3600
) -> tuple[str, float]:
    """Run a child process to completion; its stdout and its peak RSS (MB, whole process tree)."""
    proc = subprocess.Popen(
        list(argv),
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with RssSampler(proc.pid) as sampler:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise RuntimeError(
                f"{argv[0]} timed out after {timeout:.0f} s: {err[-2000:]}"
            ) from None
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err[-3000:]}")
    return out, sampler.peak_mb


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def elapsed(start: float) -> float:
    return time.perf_counter() - start
