"""``ledger token`` prints a token alone on stdout; the API accepts it as that member of staff."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.cli import seed_demo
from ledger.bootstrap import open_ledger
from ledger.cli import main
from ledger.config import ConfigError, Settings
from tests.api.conftest import settings_for
from tests.api.support import SECRET


def token(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("LEDGER_JWT_SECRET", SECRET)
    assert main(["token", *args]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # the token alone, so `$(ledger token …)` works
    return out.strip()


async def test_a_development_token_carries_the_staff_claims(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    client: AsyncTestClient[Litestar],
) -> None:
    issued = token(
        capsys,
        monkeypatch,
        "--sub",
        "G1001",
        "--name",
        "何志明",
        "--unit",
        "gov.centre.guanghua",
        "--department",
        "gov",
        "--roles",
        "handler,intake",
        "--jurisdiction",
        "qj.guanghua",
        "--hours",
        "1",
    )
    claims = jwt.decode(issued, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "G1001"
    assert claims["name"] == "何志明"
    assert claims["roles"] == ["handler", "intake"]
    assert claims["jurisdiction"] == "qj.guanghua"
    assert 3500 <= claims["exp"] - claims["iat"] <= 3600
    response = await client.get("/v1/cases", headers={"Authorization": f"Bearer {issued}"})
    assert response.status_code == 200


def test_unknown_roles_are_refused_before_anything_is_signed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit):
        token(
            capsys,
            monkeypatch,
            "--sub",
            "x",
            "--name",
            "x",
            "--unit",
            "tax.hall",
            "--department",
            "tax",
            "--roles",
            "boss",
        )
    assert "roles are a comma-separated list of" in capsys.readouterr().err


async def test_department_and_jurisdiction_default_to_the_units_reference_data(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    client: AsyncTestClient[Litestar],
) -> None:
    args = (
        "--sub",
        "T3001",
        "--name",
        "郑涛",
        "--unit",
        "tax.station.haokou",
        "--roles",
        "handler",
    )
    claims = jwt.decode(token(capsys, monkeypatch, *args), SECRET, algorithms=["HS256"])
    assert claims["department"] == "tax"
    assert claims["jurisdiction"] == "qj.haokou"
    issued = token(capsys, monkeypatch, *args)
    response = await client.get("/v1/cases", headers={"Authorization": f"Bearer {issued}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (("--unit", "tax.nowhere"), "unit 'tax.nowhere' is not in the reference data"),
        (("--department", "hrss"), "department 'hrss' disagrees with the reference data"),
        (("--jurisdiction", "qj.yuanlin"), "jurisdiction 'qj.yuanlin' disagrees"),
    ],
)
def test_a_token_the_api_would_refuse_is_not_signed(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    changes: tuple[str, str],
    message: str,
) -> None:
    monkeypatch.setenv("LEDGER_JWT_SECRET", SECRET)
    args = {"--sub": "T1", "--name": "王丽", "--unit": "tax.hall", "--roles": "intake"}
    args[changes[0]] = changes[1]
    assert main(["token", *[part for pair in args.items() for part in pair]]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_the_api_refuses_postgresql_with_the_development_secret() -> None:
    with pytest.raises(ConfigError, match="LEDGER_JWT_SECRET"):
        create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))


async def test_serve_loads_demo_cases_into_an_empty_embedded_ledger_once(
    sqlite_url: str, key_dir: Path
) -> None:
    settings = settings_for(sqlite_url, key_dir)
    await seed_demo(settings, 2)
    async with open_ledger(settings) as ledger:
        head = await ledger.store.head()
        assert head > 0
        await seed_demo(settings, 2)  # not empty any more: nothing added
        assert await ledger.store.head() == head
