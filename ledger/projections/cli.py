"""``ledger projections run`` and ``ledger projections rebuild``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from typing import Any, TextIO

from ledger.config import Settings
from ledger.process import run_service
from ledger.projections import open_read_models
from ledger.projections.runner import SETTLE_SECONDS


def register(subparsers: Any) -> None:
    """Add the ``projections`` command to the ``ledger`` command's subparsers."""
    parser = subparsers.add_parser("projections", help="keep the read models current, or rebuild")
    commands = parser.add_subparsers(dest="projections_command", required=True)
    run = commands.add_parser(
        "run", help="apply new events to the read models until SIGINT or SIGTERM"
    )
    run.add_argument("--batch", type=int, default=500, help="events per transaction (500)")
    run.add_argument(
        "--poll", type=float, default=2.0, help="seconds between polls without notifications (2)"
    )
    run.add_argument(
        "--settle",
        type=float,
        default=SETTLE_SECONDS,
        help="shortest time between two batches under a stream of commits, in seconds "
        f"(default {SETTLE_SECONDS}; 0 applies each commit at once)",
    )
    run.set_defaults(run=lambda s, a: run_service(_run(s, a)))
    rebuild = commands.add_parser(
        "rebuild", help="drop the read models and replay the whole log (progress on stderr)"
    )
    rebuild.add_argument("--batch", type=int, default=10_000, help="events per transaction")
    rebuild.set_defaults(run=_rebuild)


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    read_models = await open_read_models(settings.database_url, settings.context())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = read_models.runner(batch_size=args.batch, poll_interval=args.poll, settle=args.settle)
    print(f"projections: following {settings.database_url} (Ctrl-C stops)", file=sys.stderr)
    try:
        await runner.run(stop)
    finally:
        await read_models.close()
    print(f"projections: stopped at position {runner.position}", file=sys.stderr)
    return 0


async def _rebuild(settings: Settings, args: argparse.Namespace) -> int:
    read_models = await open_read_models(settings.database_url, settings.context())
    runner = read_models.runner(rebuild_batch_size=args.batch)
    bar = ProgressBar(sys.stderr)
    try:
        position = await runner.rebuild(bar)
    finally:
        await read_models.close()
    bar.done(position)
    return 0


class ProgressBar:
    """``rebuilding [########......]  57.1%  571000/1000000 events  48,210/s`` on one line."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()

    def __call__(self, position: int, head: int) -> None:
        share = position / head if head else 1.0
        filled = int(share * self.WIDTH)
        self.stream.write(
            f"\rrebuilding [{'#' * filled}{'.' * (self.WIDTH - filled)}] {share:6.1%}"
            f"  {position}/{head} events  {self._rate(position):,.0f}/s"
        )
        self.stream.flush()

    def done(self, position: int) -> None:
        elapsed = time.monotonic() - self.started
        self.stream.write(
            f"\nrebuilt the read models: {position} events in {elapsed:.1f} s"
            f" ({self._rate(position):,.0f}/s)\n"
        )

    def _rate(self, position: int) -> float:
        return position / max(time.monotonic() - self.started, 1e-9)
