"""``ledger replay CASE_ID``: a case's history with business and recorded times, chain checked."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from ledger import commands as c
from ledger.bootstrap import open_ledger
from ledger.cli import main
from ledger.config import Settings
from ledger.domain.codes import Classification
from tests.domain.cases import FIRST_RESPONDER
from tests.projections.support import Desk


def test_replay_shows_business_and_recorded_time_and_checks_the_chain(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def write() -> str:
        async with open_ledger(Settings(database_url=sqlite_url)) as ledger:
            desk = Desk(ledger.store)
            case = await desk.register(FIRST_RESPONDER, received_before=timedelta(days=3))
            classify = c.Classify(classification=Classification.GENERAL, route=5, reason="欠费")
            await desk.do(case, FIRST_RESPONDER, classify)
            return str(case)

    case_id = asyncio.run(write())
    monkeypatch.setenv("LEDGER_DATABASE_URL", sqlite_url)
    assert main(["replay", case_id]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("#")]
    assert len(lines) == 2
    assert all("(recorded " in line for line in lines)
    assert "Registered" in lines[0]
    assert "Classified" in lines[1]
    assert "hash chain: intact (2 events)" in out
