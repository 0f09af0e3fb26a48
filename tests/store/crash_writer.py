"""A separate process that appends and acknowledges: used to kill a writer mid-flight.

    python tests/store/crash_writer.py URL [--tasks 8] [--appends N]

Each task owns its cases: it appends one or two events at a time to a case, moving to a new case
every few versions. After each acknowledged append it prints ``first last case_id version`` and
flushes, so whatever the parent read was acknowledged before the process died. Without
``--appends`` it runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import uuid

import msgspec

from ledger.store import open_store
from ledger.store.port import EventStore, NewEvent


async def writer(store: EventStore, seed: int, budget: list[int]) -> None:
    rng = random.Random(seed)
    case, version = uuid.uuid4(), 0
    while budget[0] != 0:
        budget[0] -= 1
        count = rng.choice((1, 1, 2))
        events = [
            NewEvent(
                case_id=case,
                version=v,
                topic="test.Crashed",
                state=msgspec.json.encode({"seed": seed, "v": v, "pad": "x" * rng.randint(0, 200)}),
            )
            for v in range(version + 1, version + count + 1)
        ]
        result = await store.append(case, version, events)
        first, last = result.first_position, result.last_position
        sys.stdout.write(f"{first} {last} {case} {result.version}\n")
        sys.stdout.flush()
        version = result.version
        if version >= rng.randint(3, 8):
            case, version = uuid.uuid4(), 0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--appends", type=int, default=-1, help="total appends; -1: forever")
    args = parser.parse_args()
    store = open_store(args.url)
    await store.open()
    budget = [args.appends]  # shared by the tasks (one event loop: no lock needed)
    try:
        await asyncio.gather(*(writer(store, seed, budget) for seed in range(args.tasks)))
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
