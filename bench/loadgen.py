"""A small closed-loop HTTP/1.1 load generator, run as its own process.

    python -m bench.loadgen SPEC.json

httpx costs more CPU per request than the server's health route does, so on a two-core machine
it would measure itself. This client keeps one keep-alive connection per simulated client and
writes prebuilt request bytes; it parses only the status line, ``Content-Length`` and ``ETag``.

SPEC (JSON): ``host``, ``port``, ``seconds``, ``warmup``, and ``clients``: a list, one per
connection, of ``{"kind": "get", "path": …}`` or ``{"kind": "decide", "token": …, "cases":
[[case_id, version], …], "body": {…}}``. A decide client cycles through its cases, sending
``If-Match: "<version>"`` and taking the next version from the response's ``ETag``.
Prints one JSON object: requests/s, p50/p99 ms, status counts (measured after the warm-up).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.framework import percentile


@dataclass
class Tally:
    samples: list[tuple[float, float]] = field(default_factory=list)  # (done, latency)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    stop: bool = False


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, dict[bytes, bytes], bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get(b"content-length", b"0"))
    body = await reader.readexactly(length) if length else b""
    return status, headers, body


def _request(
    method: str, path: str, host: str, headers: dict[str, str], body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _client(spec: dict[str, Any], client: dict[str, Any], tally: Tally) -> None:
    host, port = spec["host"], spec["port"]
    reader, writer = await asyncio.open_connection(host, port)
    try:
        if client["kind"] == "get":
            request = _request("GET", client["path"], host, {})
            while not tally.stop:
                started = time.perf_counter()
                status, _, _ = await _exchange(reader, writer, request)
                tally.samples.append((time.perf_counter(), time.perf_counter() - started))
                tally.statuses[status] += 1
            return
        body = json.dumps(client["body"], ensure_ascii=False).encode()
        cases: list[list[Any]] = client["cases"]
        base = {
            "Authorization": f"Bearer {client['token']}",
            "Content-Type": "application/json",
        }
        n = 0
        while not tally.stop:
            case = cases[n % len(cases)]
            n += 1
            path = f"/v1/cases/{case[0]}/decide"
            request = _request("POST", path, host, {**base, "If-Match": f'"{case[1]}"'}, body)
            started = time.perf_counter()
            status, headers, _ = await _exchange(reader, writer, request)
            tally.samples.append((time.perf_counter(), time.perf_counter() - started))
            tally.statuses[status] += 1
            etag = headers.get(b"etag")
            if etag:
                case[1] = int(etag.strip(b'W/"'))
    except Exception as exc:  # counted: a benchmark that hides failures is worse than none
        tally.errors[f"{type(exc).__name__}: {exc}"] += 1
    finally:
        writer.close()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    tally = Tally()
    tasks = [asyncio.create_task(_client(spec, c, tally)) for c in spec["clients"]]
    await asyncio.sleep(spec["warmup"])
    start = time.perf_counter()
    await asyncio.sleep(spec["seconds"])
    end = time.perf_counter()
    tally.stop = True
    await asyncio.gather(*tasks)
    inside = [lat * 1000 for done, lat in tally.samples if start <= done <= end]
    return {
        "requests_per_s": len(inside) / (end - start),
        "requests": len(inside),
        "p50_ms": percentile(inside, 50),
        "p99_ms": percentile(inside, 99),
        "statuses": {str(k): v for k, v in tally.statuses.items()},
        "errors": dict(tally.errors),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        spec = json.load(f)
    print(json.dumps(asyncio.run(run(spec))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
