"""Other processes: a writer killed with SIGKILL loses nothing it acknowledged, and several writer
processes on one database share one gap-free log. Both adapters."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest

from ledger.store import open_store
from tests.contract.support import check_log

SCRIPT = Path(__file__).with_name("crash_writer.py")
ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


async def _spawn(url: str, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), url, *args, stdout=asyncio.subprocess.PIPE, env=env, cwd=ROOT
    )


def _acks(output: bytes) -> list[tuple[int, int, UUID, int]]:
    acks = []
    for line in output.decode().splitlines(keepends=True):
        if not line.endswith("\n"):  # cut off by the kill: never acknowledged in full
            continue
        first, last, case, version = line.split()
        acks.append((int(first), int(last), UUID(case), int(version)))
    return acks


async def _check_acknowledged(url: str, acks: list[tuple[int, int, UUID, int]]) -> int:
    store = open_store(url)
    await store.open()
    try:
        records = await check_log(store)  # 1..head contiguous, chains verify
        by_position = {r.position: r for r in records}
        for first, last, case, version in acks:
            for offset, position in enumerate(range(last, first - 1, -1)):
                record = by_position[position]
                assert (record.case_id, record.version) == (case, version - offset)
        return len(records)
    finally:
        await store.close()


async def test_killed_writer_loses_nothing_acknowledged(url: str) -> None:
    proc = await _spawn(url, "--tasks", "8")
    assert proc.stdout is not None
    output = bytearray()
    # Wait for the first acknowledgement (imports and schema set-up), then let it run ~1 s.
    output += await asyncio.wait_for(proc.stdout.readline(), timeout=30)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            output += await asyncio.wait_for(proc.stdout.read(65536), timeout=0.05)
        except TimeoutError:
            continue
    proc.send_signal(signal.SIGKILL)
    output += await proc.stdout.read()
    assert await proc.wait() == -signal.SIGKILL

    acks = _acks(bytes(output))
    assert len(acks) > 20, "the writer barely ran"
    stored = await _check_acknowledged(url, acks)
    assert stored >= max(last for _, last, _, _ in acks)


async def test_writer_processes_share_one_log(url: str) -> None:
    # Create the schema first so the processes race only on appends.
    store = open_store(url)
    await store.open()
    await store.close()
    procs = [await _spawn(url, "--tasks", "4", "--appends", "60") for _ in range(3)]
    outputs = await asyncio.gather(*(p.communicate() for p in procs))
    assert [p.returncode for p in procs] == [0, 0, 0]
    acks = [ack for out, _ in outputs for ack in _acks(out)]
    assert len(acks) == 180
    stored = await _check_acknowledged(url, acks)
    assert stored == sum(last - first + 1 for first, last, _, _ in acks)
