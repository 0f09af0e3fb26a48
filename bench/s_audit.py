"""Scenario 7 (and the verify part of 9): ``ledger verify`` over the whole dataset.

Ours: ``verify_ledger`` (every case chain recomputed, positions, times, the Merkle tree rebuilt
and compared with every stored node) in a child process, timed inside the child. Baseline: the
same child machinery computing plain SHA-256 over the exact bytes the chain hashes
(``prev_hash ‖ canonical bytes`` of each event), already in memory, in one Python loop — the
floor of any verifier written in Python. Both read the same dataset.
"""

from __future__ import annotations

import json
import sys

from bench.data import dataset
from bench.framework import Context, Row, ratio_row, run_child

VERIFY_TARGET = 0.3
MEMORY_LIMIT_MB = 500


def _child(mode: str, url: str) -> tuple[dict[str, float], float]:
    out, peak = run_child([sys.executable, "-m", "bench.child", mode, url])
    return json.loads(out.strip().splitlines()[-1]), peak


def measure(ctx: Context) -> dict[str, tuple[dict[str, float], float]]:
    def compute() -> dict[str, tuple[dict[str, float], float]]:
        data = dataset(ctx)
        return {mode: _child(mode, data.url) for mode in ("idle", "verify", "sha")}

    return ctx.once("verify", compute)


def scenario_verify(ctx: Context) -> list[Row]:
    m = measure(ctx)
    ours, sha = m["verify"][0], m["sha"][0]
    if not ours.get("ok"):
        raise RuntimeError(f"verify found a problem in the generated dataset: {ours}")
    return [
        ratio_row(
            f"7 verify {ours['events']:,.0f} events",
            "events/s",
            "ev/s",
            ours["events"] / ours["seconds"],
            sha["events"] / sha["seconds"],
            "plain SHA-256 loop over the same bytes",
            better="higher",
            min_ratio=VERIFY_TARGET,
            notes=f"verify took {ours['seconds']:.1f} s, including reading the log and the "
            f"Merkle nodes; the SHA-256 loop {sha['seconds']:.2f} s over "
            f"{sha['bytes'] / 2**20:.0f} MiB already in memory; merely reading the log "
            f"(iter_log) and building those bytes took {sha.get('read_seconds', 0):.1f} s",
        )
    ]


def memory_row(ctx: Context) -> Row:
    m = measure(ctx)
    return ratio_row(
        "9 memory: verify",
        "peak RSS",
        "MB",
        m["verify"][1],
        m["idle"][1],
        "same interpreter, modules imported, idle",
        better="lower",
        limit=MEMORY_LIMIT_MB,
        notes="ratio = idle / peak (how close to the idle footprint)",
    )
