"""Work the harness runs in a child process, so that its memory can be measured on its own.

    python -m bench.child MODE DATABASE_URL

Each mode prints one JSON object on stdout (timings are taken inside the child, excluding the
interpreter's start-up); the parent samples the child's RSS with psutil meanwhile.

modes:
  idle     import what the other modes import, then exit (the RSS baseline)
  verify   ``ledger.audit.verify.verify_ledger`` over the whole log (signatures skipped: the
           dataset has no checkpoints)
  sha      the baseline of ``verify``: the exact bytes the chain hashes (prev_hash ‖ canonical
           bytes of each event), read and built first, then SHA-256 over them in one Python loop
  rebuild  the projection runner's rebuild from position 1 (``ledger.projections``)
  service  scenario 1's service-level append run alone (to profile it; needs an empty database)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from hashlib import sha256
from typing import Any

from bench.framework import run_as_served
from ledger.store import open_store
from ledger.store.chain import canonical_bytes


async def _verify(url: str) -> dict[str, Any]:
    from ledger.audit.db import open_audit_db
    from ledger.audit.verify import verify_ledger

    store = open_store(url)
    await store.open()
    try:
        db = open_audit_db(store)
        started = time.perf_counter()
        report = await verify_ledger(store, db, None)
        seconds = time.perf_counter() - started
    finally:
        await store.close()
    return {
        "seconds": seconds,
        "events": report.events_checked,
        "ok": report.ok,
        "problem": report.problem,
    }


async def _sha(url: str) -> dict[str, Any]:
    store = open_store(url)
    await store.open()
    data: list[bytes] = []
    read_started = time.perf_counter()
    try:
        async for r in store.iter_log(batch=20_000):
            body = canonical_bytes(
                r.position, r.case_id, r.version, r.topic, r.state, r.metadata, r.recorded_at
            )
            data.append(r.prev_hash + body)
    finally:
        await store.close()
    read_seconds = time.perf_counter() - read_started
    started = time.perf_counter()
    for item in data:
        sha256(item).digest()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "events": len(data),
        "bytes": sum(map(len, data)),
        "read_seconds": read_seconds,  # iter_log + building the bytes: a floor for verify
    }


async def _rebuild(url: str) -> dict[str, Any]:
    from ledger.domain.context import Context
    from ledger.projections.db import open_read_store
    from ledger.projections.runner import ProjectionRunner

    store = open_store(url)
    db = open_read_store(url)
    await store.open()
    await db.open()
    try:
        runner = ProjectionRunner(db, store, Context())
        started = time.perf_counter()
        position = await runner.rebuild()
        seconds = time.perf_counter() - started
    finally:
        await db.close()
        await store.close()
    return {"seconds": seconds, "events": position, "processes": runner.replay_processes}


async def _service(url: str) -> dict[str, Any]:
    """Scenario 1's service-level run on its own (for profiling): 3 s warm-up, 10 s measured."""
    from bench.s_append import service_ours

    figures = await service_ours(url, 3.0, 10.0)
    return {"events_per_s": figures.events_per_s, "p99_ms": figures.p99_ms}


async def _idle(url: str) -> dict[str, Any]:
    import ledger.audit.verify
    import ledger.projections.runner  # noqa: F401

    return {"seconds": 0.0}


MODES = {
    "idle": _idle,
    "verify": _verify,
    "sha": _sha,
    "rebuild": _rebuild,
    "service": _service,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in MODES:
        print(__doc__, file=sys.stderr)
        return 2
    main = MODES[argv[0]](argv[1])
    # The service run is profiled as scenario 1 measures it (uvloop, the serving GC settings).
    result = run_as_served(main) if argv[0] == "service" else asyncio.run(main)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
