"""Profile a benchmark child with py-spy and summarise where the time goes.

    python -m bench.profile [--top 20] -- python -m bench.child verify postgresql://…/ledger_bench_data

Runs the command under ``py-spy record`` (sampling, no code changes; install py-spy in the venv),
then prints the functions with the most samples: *self* (the frame itself was running) and
*inclusive* (the frame was anywhere on the stack). The raw collapsed stacks are kept beside the
results (``bench/results/profile-<stamp>.txt``) for flame graphs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.framework import RESULTS, stamp


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: uv pip install --python .venv/bin/python py-spy")
    return found


def record(command: list[str], out: Path, rate: int = 200) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            py_spy(),
            "record",
            "--format",
            "raw",
            "--rate",
            str(rate),
            "-o",
            str(out),
            "--",
            *command,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise(raw: Path, top: int = 20) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[_short(frames[-1])] += count
        for frame in {_short(f) for f in frames}:
            inclusive[frame] += count
    lines = [f"{total} samples", "", "self:"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """'fn (path/to/module.py:123)' → 'fn (module.py:123)'; site-packages paths shortened."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, line = where.rpartition(":")
    marker = "site-packages/"
    if marker in path:
        path = path.split(marker, 1)[1]
    elif "/work/" in path:
        path = "/".join(path.split("/")[-2:])
    return f"{name} ({path}:{line})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = [c for c in args.command if c != "--"]
    if not command:
        parser.error("give the command to profile after --")
    out = RESULTS / f"profile-{stamp()}.txt"
    record(command, out)
    print(summarise(out, args.top))
    print(f"\nraw stacks: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
