"""The image installs exactly the locked runtime dependencies, hash-checked, and nothing fetched
unpinned; its ``ledger`` command is the package's entry point. (No Docker engine runs here: the
Dockerfile is read, and its own shell lines are run.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.api.processes import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
LOCK = (ROOT / "requirements" / "runtime.lock").read_text()


def _runs() -> list[str]:
    """The RUN instructions, continuation lines joined."""
    joined = DOCKERFILE.replace("\\\n", " ")
    lines = joined.splitlines()
    return [line.removeprefix("RUN ").strip() for line in lines if line.startswith("RUN ")]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_image_installs_only_the_hash_checked_lock() -> None:
    installs = [run for run in _runs() if "pip install" in run]
    assert installs == ["pip install --require-hashes --no-deps -r requirements/runtime.lock"], (
        installs
    )
    assert "COPY requirements/runtime.lock ./requirements/runtime.lock" in DOCKERFILE


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {}
    for block in re.split(r"\n(?=[a-z0-9])", LOCK.split("\n", 2)[2]):
        first = block.splitlines()[0]
        if "==" in first:
            pinned[_name(first)] = "--hash=sha256:" in block
    for requirement in project["dependencies"]:
        assert pinned.get(_name(requirement)) is True, requirement
    assert all(pinned.values()), [name for name, hashed in pinned.items() if not hashed]


def test_the_images_ledger_command_is_the_entry_point(tmp_path: Path) -> None:
    (made,) = [run for run in _runs() if "/usr/local/bin/ledger" in run]
    script = tmp_path / "ledger"
    command = made.replace("/usr/local/bin/ledger", str(script))
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # `python` is this one
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": path}
    done = subprocess.run(
        ["sh", "-c", command.replace(" ledger --help", f" {script} --help")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    helped = subprocess.run(
        [str(script), "--help"], env=env, capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0, helped.stderr
    for command_name in ("serve", "backup", "restore", "verify"):
        assert command_name in helped.stdout
