"""Bounded requests, probed through a real ``ledger serve`` on loopback: a huge header, very many
headers and a slow client are refused at the parser, fast, without the process growing."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Iterator

import httpx
import psutil
import pytest

from tests.api.processes import free_port, served, server_env, wait_until_healthy

pytestmark = pytest.mark.slow

MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, psutil.Process]]:
    root = tmp_path_factory.mktemp("limits")
    env = {
        **server_env(f"sqlite:///{root / 'ledger.db'}", root / "keys"),
        "LEDGER_HEADER_TIMEOUT": "1",
    }
    port = free_port()
    args = ["serve", "--port", str(port), "--demo-cases", "0", "--log-level", "warning"]
    with served(args, env) as process:
        wait_until_healthy(f"http://127.0.0.1:{port}", process)
        yield port, psutil.Process(process.pid)


def probe(port: int, chunks: Iterable[bytes], *, pause: float = 0.0) -> tuple[int | None, float]:
    """Send ``chunks`` (while reading the answer); the status answered and how long it took."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    started = time.monotonic()

    def send() -> None:
        with contextlib.suppress(OSError):
            for chunk in chunks:
                sock.sendall(chunk)
                if pause:
                    time.sleep(pause)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    answer = b""
    with contextlib.suppress(OSError):
        while b"\r\n" not in answer and (data := sock.recv(65536)):
            answer += data
    elapsed = time.monotonic() - started
    sock.close()
    sender.join(timeout=15)
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
    return status, elapsed


def head(*headers: bytes) -> bytes:
    return b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(headers) + b"\r\n"


def big_header(size: int) -> Iterator[bytes]:
    yield b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
    for _ in range(size // MB):
        yield b"a" * MB
    yield b"\r\n\r\n"


def rss(process: psutil.Process) -> int:
    return int(process.memory_info().rss)


def test_a_one_megabyte_header_is_refused_fast(server: tuple[int, psutil.Process]) -> None:
    port, _ = server
    status, elapsed = probe(port, big_header(MB))
    print(f"1 MB header: {status} in {elapsed * 1000:.1f} ms")
    assert status == 431
    assert elapsed < 1.0


def test_ten_thousand_headers_are_refused_fast(server: tuple[int, psutil.Process]) -> None:
    port, _ = server
    many = head(*(b"X-H%d: v\r\n" % i for i in range(10_000)))
    status, elapsed = probe(port, [many])
    print(f"10,000 headers ({len(many)} bytes): {status} in {elapsed * 1000:.1f} ms")
    assert status == 431
    assert elapsed < 1.0
    # Within the size limit, the count limit alone refuses them too.
    few_but_many = head(*(b"X%d: v\r\n" % i for i in range(150)))
    status, _ = probe(port, [few_but_many])
    assert status == 431


def test_refused_heads_do_not_grow_the_process(server: tuple[int, psutil.Process]) -> None:
    port, process = server
    probe(port, big_header(MB))  # warm up whatever a first refusal allocates
    before = rss(process)
    started = time.monotonic()
    statuses = [probe(port, big_header(64 * MB))[0] for _ in range(3)]
    statuses += [probe(port, big_header(MB))[0] for _ in range(20)]
    elapsed = time.monotonic() - started
    after = rss(process)
    print(
        f"3 × 64 MB and 20 × 1 MB headers in {elapsed:.2f} s;"
        f" RSS {before / MB:.1f} MB → {after / MB:.1f} MB"
    )
    assert statuses == [431] * 23
    assert after - before < 8 * MB


def test_a_slow_client_is_cut_off_at_the_header_timeout(
    server: tuple[int, psutil.Process],
) -> None:
    port, _ = server
    dribble = (bytes([c]) for c in head(b"X-Slow: " + b"s" * 100 + b"\r\n"))
    status, elapsed = probe(port, dribble, pause=0.05)
    print(f"slow client: {status} after {elapsed:.2f} s")
    assert status == 408
    assert 0.9 < elapsed < 2.5


def test_ordinary_requests_pass_within_the_limits(server: tuple[int, psutil.Process]) -> None:
    port, _ = server
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        for _ in range(3):  # one kept-alive connection, several requests
            response = client.get("/health", headers={"X-Large": "t" * 8192})
            assert response.status_code == 200
        headers = {f"X-Field-{i}": "v" for i in range(80)}
        assert client.get("/health", headers=headers).status_code == 200


def test_limits_are_configurable_and_checked() -> None:
    from api.limits import RequestLimits
    from ledger.config import ConfigError

    limits = RequestLimits.from_env({"LEDGER_MAX_HEADER_BYTES": "8192", "LEDGER_MAX_HEADERS": "50"})
    assert (limits.max_header_bytes, limits.max_headers) == (8192, 50)
    for variable, value in (("LEDGER_MAX_HEADERS", "0"), ("LEDGER_HEADER_TIMEOUT", "never")):
        with pytest.raises(ConfigError, match=variable):
            RequestLimits.from_env({variable: value})
