"""A PostgreSQL cluster of a test's own (initdb + pg_ctl, own data directory and port), for fault
tests that freeze or stop the server: never the shared server the other tests use."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.api.processes import free_port
from tests.conftest import POSTGRES_REQUIRED

OWNER = "postgres"  # initdb refuses to run as root


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", OWNER, "--", *command]


@dataclass
class Cluster:
    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def postmaster(self) -> psutil.Process:
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return psutil.Process(pid)

    def processes(self) -> list[psutil.Process]:
        """The postmaster and every backend and auxiliary process of this cluster."""
        postmaster = self.postmaster()
        return [postmaster, *postmaster.children(recursive=True)]

    def freeze(self) -> int:
        """SIGSTOP the postmaster (first: it forks no new backend then) and its children; how
        many processes were stopped."""
        postmaster = self.postmaster()
        postmaster.send_signal(signal.SIGSTOP)
        children = postmaster.children(recursive=True)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.send_signal(signal.SIGSTOP)
        return 1 + len(children)

    def thaw(self) -> None:
        for process in reversed(self.processes()):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)

    def pg_ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run(
            _as_owner(["pg_ctl", "-D", str(self.data), "-l", str(self.log), *args]),
            check=check,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c max_connections=60 -c shared_buffers=16MB"
        )
        self.pg_ctl("-w", "-t", "30", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-w", "-m", mode, "stop", check=False)


@contextlib.contextmanager
def own_cluster() -> Iterator[Cluster]:
    """A fresh cluster on a free port, removed afterwards (thawed first if a test left it
    frozen)."""
    missing = [tool for tool in ("initdb", "pg_ctl") if shutil.which(tool) is None]
    if missing:
        message = f"fault tests need PostgreSQL's {', '.join(missing)} on PATH"
        if POSTGRES_REQUIRED:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="ledger-ops-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam(OWNER)
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = Cluster(data=root / "data", port=free_port(), log=root / "server.log")
    try:
        subprocess.run(
            _as_owner(
                ["initdb", "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "--no-sync"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.thaw()
        cluster.stop("immediate")
        time.sleep(0.2)
        shutil.rmtree(root, ignore_errors=True)
