"""The audit commands, run the way ``ledger`` runs them (``run(settings, args)``)."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.audit import cli
from ledger.audit.keys import KeyConfig, init_keys
from ledger.audit.service import AuditService
from ledger.config import Settings

from .conftest import ORIGIN
from .helpers import fill, local_transport, raw_sql


def run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ledger")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.run(settings, args))


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LEDGER_ORIGIN", ORIGIN)
    monkeypatch.delenv("LEDGER_WITNESS_KEYS", raising=False)
    return Settings(database_url=sqlite_url, key_dir=str(tmp_path / "keys"))


def populate(settings: Settings) -> list[Any]:
    async def go() -> list[Any]:
        service = await AuditService.open(
            settings.database_url, KeyConfig(Path(settings.key_dir), ORIGIN)
        )
        try:
            return await fill(service.store, 5, 4)
        finally:
            await service.close()

    return asyncio.run(go())


def test_keys_checkpoint_verify_evidence_and_proofs(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(settings, "keys", "init") == 0
    assert (Path(settings.key_dir) / "ledger.key").stat().st_mode & 0o777 == 0o600
    assert run(settings, "keys", "init", "--only", "tax") == 1  # never overwrites
    cases = populate(settings)
    capsys.readouterr()
    assert run(settings, "checkpoint") == 0
    assert capsys.readouterr().out.startswith(f"{ORIGIN}\n20\n")
    assert run(settings, "verify") == 0
    assert "verifying [" in capsys.readouterr().err  # the progress bar

    bundle = tmp_path / "evidence.json"
    assert run(settings, "evidence", str(cases[0]), "-o", str(bundle)) == 0
    keys = Path(settings.key_dir)
    trust = [str(keys / "ledger.vkey"), str(keys / "witness-tax.vkey")]
    assert run(settings, "verify-bundle", str(bundle), "--trust", *trust) == 0
    assert run(settings, "verify-bundle", str(bundle)) == 0  # trusts the configured key dir
    capsys.readouterr()
    elsewhere = Settings(database_url=settings.database_url, key_dir=str(tmp_path / "no-keys"))
    assert run(elsewhere, "verify-bundle", str(bundle)) == 3  # self-consistent only
    assert "no trusted keys" in capsys.readouterr().err
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x04
    bundle.write_bytes(bytes(data))
    assert run(settings, "verify-bundle", str(bundle), "--trust", *trust) == 1
    assert "bundle FAILED" in capsys.readouterr().err

    assert run(settings, "proof", "inclusion", "--position", "3") == 0
    assert json.loads(capsys.readouterr().out)["size"] == 20
    assert run(settings, "proof", "consistency", "--from", "7", "--to", "20") == 0
    assert json.loads(capsys.readouterr().out)["from"] == 7
    assert run(settings, "proof", "inclusion", "--position", "21", "--size", "20") == 1


def test_verify_exits_1_naming_the_first_bad_position(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    init_keys(Path(settings.key_dir), ORIGIN)
    populate(settings)
    asyncio.run(
        raw_sql(
            settings.database_url, "UPDATE ledger_events SET topic = 'ledger.X' WHERE position = 13"
        )
    )
    assert run(settings, "verify", "--quiet") == 1
    assert "FAULT at position 13" in capsys.readouterr().err


def test_witness_cosign_command(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    init_keys(Path(settings.key_dir), ORIGIN)
    populate(settings)
    assert run(settings, "checkpoint") == 0
    seen: list[tuple[str, str]] = []

    def transport(url: str, token: str) -> tuple[Any, ...]:
        # The HTTP transport replaced by calls into a service opened in the command's loop.
        seen.append((url, token))
        holder: dict[str, AuditService] = {}

        async def service() -> AuditService:
            if "s" not in holder:
                holder["s"] = await AuditService.open(
                    settings.database_url, KeyConfig(Path(settings.key_dir), ORIGIN)
                )
            return holder["s"]

        async def call(i: int, *args: Any) -> Any:
            result = await local_transport(await service())[i](*args)
            if i == 2:
                await holder.pop("s").close()
            return result

        return (lambda: call(0), lambda a, b: call(1, a, b), lambda n, line: call(2, n, line))

    monkeypatch.setattr(cli, "http_transport", transport)
    state = tmp_path / "tax-state.json"
    argv = (
        "witness",
        "cosign",
        "--department",
        "tax",
        "--url",
        "http://ledger.invalid",
        "--token",
        "t0ken",
        "--state",
        str(state),
    )
    assert run(settings, *argv) == 0
    assert seen == [("http://ledger.invalid", "t0ken")]
    assert json.loads(state.read_text())["size"] == 20
    assert "cosigned size 20" in capsys.readouterr().out
    wrong = (
        "witness",
        "cosign",
        "--department",
        "hrss",
        "--url",
        "http://x",
        "--token",
        "t",
        "--state",
        str(state),
        "--key",
        str(Path(settings.key_dir) / "witness-tax.key"),
    )
    assert run(settings, *wrong) == 1


async def test_http_transport_speaks_the_audit_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger.audit import witness

    calls: list[tuple[str, str, bytes | None, str | None]] = []
    answers = {
        "/v1/ledger/checkpoint": {"note": "the note"},
        "/v1/ledger/proofs/consistency?from=3&to=9": {"proof": ["00" * 32, "ff" * 32]},
        "/v1/ledger/checkpoints/9/cosign": {"size": 9},
    }

    class Answer:
        def __init__(self, body: object) -> None:
            self.body = json.dumps(body).encode()

        def read(self) -> bytes:
            return self.body

        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def urlopen(request: Any, timeout: float) -> Answer:
        path = request.full_url.removeprefix("https://ledger.example")
        calls.append((request.method, path, request.data, request.get_header("Authorization")))
        return Answer(answers[path])

    monkeypatch.setattr(witness.urllib.request, "urlopen", urlopen)
    latest, consistency, submit = witness.http_transport("https://ledger.example/", "tok")
    assert await latest() == "the note"
    assert await consistency(3, 9) == [bytes(32), b"\xff" * 32]
    await submit(9, "— w sig\n")
    assert calls[2] == (
        "POST",
        "/v1/ledger/checkpoints/9/cosign",
        b'{"signature": "\\u2014 w sig\\n"}',
        "Bearer tok",
    )
    assert all(c[3] == "Bearer tok" for c in calls)
    with pytest.raises(ValueError, match="http"):
        witness.http_transport("file:///etc/passwd", "tok")
