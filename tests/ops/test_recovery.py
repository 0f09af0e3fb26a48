"""After the database stops and comes back, the same server recovers by itself: the projection
runner resumes within 2 s of its return (not after its backoff), event streams end cleanly with a
``retry:`` hint during the outage and resume from ``Last-Event-ID`` after it, and nothing of it is
logged as an internal error."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from ledger.audit.keys import init_keys
from tests.api.processes import free_port, output_of, served, server_env, wait_until_healthy
from tests.api.support import AUDITOR, INTAKE, bearer, registration
from tests.ops.cluster import Cluster

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 6.0  # long enough for the runner's backoff to have grown past 2 s
RESUME_WITHIN = 2.0


def _register(http: httpx.Client) -> httpx.Response:
    return http.post("/v1/cases", json=registration(), headers=bearer(INTAKE))


def _ready(http: httpx.Client) -> dict[str, object]:
    body: dict[str, object] = http.get("/ready").json()
    return body


def _stream(http: httpx.Client, after: int) -> list[str]:
    """The lines of one event stream from ``after`` until it ends (or 8 s)."""
    lines = []
    params = {"after": after, "timeout": 8}
    with http.stream("GET", "/v1/events/stream", params=params, headers=bearer(AUDITOR)) as r:
        assert r.status_code == 200
        lines.extend(r.iter_lines())
    return lines


def test_runner_and_streams_resume_after_the_database_returns(
    tmp_path: Path, cluster: Cluster, cluster_database: str
) -> None:
    key_dir = tmp_path / "keys"
    init_keys(key_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        served(["serve", "--port", str(port)], server_env(cluster_database, key_dir)) as process,
        httpx.Client(base_url=base, timeout=10) as http,
    ):
        wait_until_healthy(base, process)
        assert _register(http).status_code == 201
        while _ready(http)["lag"] != 0:
            time.sleep(0.05)
        head = int(str(_ready(http)["head"]))

        cluster.stop("fast")
        try:
            stopped = _ready(http)
            assert stopped["status"] == "not_ready"
            assert str(stopped["database"]).startswith("unreachable: "), stopped
            # A stream opened during the outage ends at once, cleanly, saying when to retry.
            lines = _stream(http, head)
            assert "retry: 1000" in lines, lines
            assert ": database unavailable; reconnect" in lines, lines
            time.sleep(OUTAGE_SECONDS)
        finally:
            cluster.start()
        back = time.monotonic()

        # A write goes through as soon as the database answers …
        while (written := _register(http)).status_code != 201:
            assert written.status_code == 503, written.text
            assert time.monotonic() - back < RESUME_WITHIN, written.text
            time.sleep(0.05)
        written_after = time.monotonic() - back
        # … and the runner, which was backing off, has projected it within 2 s of the return.
        while (ready := _ready(http))["lag"] != 0 or int(str(ready["head"])) <= head:
            assert time.monotonic() - back < RESUME_WITHIN, ready
            time.sleep(0.05)
        projected_after = time.monotonic() - back
        # The stream resumes after the last event it saw.
        lines = _stream(http, head)
        ids = [int(line.removeprefix("id: ")) for line in lines if line.startswith("id: ")]
        assert ids[0] == head + 1, lines
        log = output_of(process)
    print(f"write accepted {written_after:.2f} s, projected {projected_after:.2f} s after return")
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    noisy = [(line["logger"], line["message"][:200]) for line in lines if line["level"] == "error"]
    assert not noisy, noisy
    traced = [(line["logger"], line["message"][:200]) for line in lines if "error" in line]
    assert not traced, traced


def test_a_client_leaving_mid_body_is_not_an_error(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(f"sqlite:///{tmp_path / 'ledger.db'}", key_dir)
    with served(["serve", "--port", str(port), "--demo-cases", "0"], env) as process:
        wait_until_healthy(base, process)
        token = bearer(INTAKE)["Authorization"]
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(
                    b"POST /v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 5000\r\nAuthorization: " + token.encode() + b"\r\n\r\n"
                    b'{"channel": "serv'
                )
                time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=5) as http:
            assert http.get("/health").status_code == 200  # still serving
        time.sleep(0.3)
        log = output_of(process)
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert not [line for line in lines if line["level"] in ("error", "critical")], log[-3000:]
    assert "Traceback" not in log
    said = [line["message"] for line in lines]
    assert said.count("client disconnected before its request body was complete") == 3, said
