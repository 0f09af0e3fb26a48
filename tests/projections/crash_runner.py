"""A projection runner in its own process, for the crash tests to kill with SIGKILL.

    python tests/projections/crash_runner.py URL [--batch N] [--workers W --partition-min M]

Runs (rebuilding first on a fresh database) until killed, in small batches so that a kill is
likely to land inside one. With ``--workers`` the rebuild of a backlog of at least
``--partition-min`` events is split over that many worker processes (PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio

from ledger.projections import ProjectionRunner, open_read_models


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--partition-min", type=int, default=50_000)
    args = parser.parse_args()
    read_models = await open_read_models(args.url)
    runner = ProjectionRunner(
        read_models.db,
        read_models.store,
        read_models.context,
        batch_size=args.batch,
        rebuild_batch_size=args.batch,
        commit_every=args.batch,
        poll_interval=0.05,
        workers=args.workers,
        partition_min_events=args.partition_min,
    )
    await runner.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main())
