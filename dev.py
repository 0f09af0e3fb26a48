#!/usr/bin/env python3
"""The two commands of the README, on a machine with nothing but Python 3.11+.

    python3 dev.py serve   the API on the embedded SQLite database, with demo data
    python3 dev.py test    lint, format check, type check and the whole test suite

Both first make sure ``.venv`` holds exactly the locked dependencies (requirements/dev.lock,
installed with --require-hashes), reinstalling only when the lock or pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
LOCK = ROOT / "requirements" / "dev.lock"
MARKER = VENV / ".installed-lock"


def _lock_digest() -> str:
    digest = hashlib.sha256()
    for path in (LOCK, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs under any python3
        sys.exit(f"ledger needs Python 3.11 or newer, this is {sys.version.split()[0]}")
    wanted = _lock_digest()
    if MARKER.exists() and MARKER.read_text() == wanted and (BIN / "ledger").exists():
        return
    if not (BIN / "python").exists():
        print("creating .venv …", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    print("installing the locked dependencies …", file=sys.stderr)
    subprocess.run([*pip, "install", "--require-hashes", "-r", str(LOCK)], check=True)
    subprocess.run([*pip, "install", "--no-deps", "-e", str(ROOT)], check=True)
    MARKER.write_text(wanted)


def run(*command: str) -> int:
    print("$", " ".join(command), file=sys.stderr, flush=True)
    return subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test"}:
        print(__doc__, file=sys.stderr)
        return 2
    ensure_environment()
    if argv[0] == "serve":
        # The server takes this process's place: a signal sent to it (a service manager's
        # SIGTERM, not only a terminal's Ctrl-C) reaches the server, and no orphan is left.
        command = [str(BIN / "ledger"), "serve", *argv[1:]]
        print("$", "ledger serve", *argv[1:], file=sys.stderr, flush=True)
        os.chdir(ROOT)
        os.execv(command[0], command)
    for check in (
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
        ("mypy",),
    ):
        if code := run(*check):
            return code
    return run("pytest", *argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
