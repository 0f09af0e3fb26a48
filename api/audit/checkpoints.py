"""The checkpoint scheduler: sign the Merkle log every N events, or every T seconds if it grew.

A checkpoint is what witnesses co-sign and evidence bundles are verified against; signing often
enough keeps every recent event covered, and signing only when the log grew keeps the checkpoint
table from filling with copies. ``AuditService.make_checkpoint`` is safe to race (one checkpoint per
size), so several API processes may each run this loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

from ledger.audit.service import AuditService
from ledger.store import failures

log = logging.getLogger("api.audit.checkpoints")


async def run_checkpoints(
    audit: AuditService, stop: asyncio.Event, every: int, seconds: float
) -> None:
    poll = min(1.0, seconds)
    last = -math.inf  # events left unsigned by a previous run are signed at once
    while not stop.is_set():
        try:
            size = await audit.tree_size()
            latest = await audit.latest_checkpoint()
            signed = latest.size if latest is not None else 0
            grown = size - signed
            if grown > 0 and (grown >= every or time.monotonic() - last >= seconds):
                await audit.make_checkpoint()
                last = time.monotonic()
        except Exception as exc:  # a failed round is retried at the next poll; the loop never dies
            if failures.cause(exc) is None:
                log.exception("checkpoint round failed")
            else:  # an outage, said in one line (``/ready`` says it too)
                log.warning("checkpoint round skipped: %s", failures.explain(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll)
