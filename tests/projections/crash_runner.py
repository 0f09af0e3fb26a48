"""A projection runner in its own process, for the crash test to kill with SIGKILL.

    python tests/projections/crash_runner.py URL [--batch N]

Runs (rebuilding first on a fresh database) until killed, in small batches so that a kill is
likely to land inside one.
"""

from __future__ import annotations

import argparse
import asyncio

from ledger.projections import open_read_models


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--batch", type=int, default=20)
    args = parser.parse_args()
    read_models = await open_read_models(args.url)
    runner = read_models.runner(
        batch_size=args.batch,
        rebuild_batch_size=args.batch,
        commit_every=args.batch,
        poll_interval=0.05,
    )
    await runner.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main())
