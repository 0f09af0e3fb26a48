"""``python3 dev.py serve``, the README's first command, is the server itself: a SIGTERM sent to
it (a service manager's, not only a terminal's Ctrl-C to the whole process group) stops the
server cleanly, and no server is left running behind it."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import key_dir  # noqa: F401 - a fixture, reused
from tests.api.processes import free_port, server_env, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_a_sigterm_to_dev_serve_stops_the_server_it_runs(
    sqlite_url: str,
    key_dir: Path,  # noqa: F811 - the fixture
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(ROOT / "dev.py"), "serve", "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [*command, "--demo-cases", "0"],
            env=server_env(sqlite_url, key_dir),
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        process.log = log  # type: ignore[attr-defined]
        try:
            wait_until_healthy(base, process, seconds=60)
            process.send_signal(signal.SIGTERM)
            # Uvicorn ends a graceful shutdown by re-raising the signal it caught.
            assert process.wait(timeout=15) in (0, -signal.SIGTERM)
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{base}/health", timeout=2)
            log.seek(0)
            assert "Application shutdown complete" in log.read().decode(errors="replace")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
