"""``ledger projections rebuild`` over a ledger whose read models the previous version built
(findings without whom they are charged to, no custody periods): the rebuild charges them."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from ledger import commands as c
from ledger.cli import main
from ledger.domain.codes import Classification
from ledger.projections.db import open_read_store
from tests.contract.support import raw_execute
from tests.domain.cases import FIRST_RESPONDER
from tests.projections.dbsupport import ledger
from tests.projections.test_custody import WINDOW_HANDLER
from tests.projections.test_queries import caught_up

GENERAL = c.Classify(classification=Classification.GENERAL, route=2, reason="按职责分类")


async def written_and_read_as_before(url: str) -> UUID:
    async with ledger(url) as it:
        desk = it.desk
        case = await desk.register(FIRST_RESPONDER)
        await desk.do(case, FIRST_RESPONDER, GENERAL)
        await desk.do(case, FIRST_RESPONDER, c.Transfer(to_unit="hrss.window", reason="人社事项"))
        await desk.later(hours=1).do(case, WINDOW_HANDLER, c.Accept())
        await caught_up(it)
    # The read models as the previous version left them.
    await raw_execute(url, "DROP TABLE proj_custody")
    await raw_execute(url, "DROP INDEX IF EXISTS proj_findings_charged")
    for column in ("charged_unit", "charged_staff", "charged_name"):
        await raw_execute(url, f"ALTER TABLE proj_findings DROP COLUMN {column}")
    await raw_execute(url, "UPDATE proj_tracking SET fingerprint = 'version 4'")
    return case


async def charged(url: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    store = open_read_store(url)
    await store.open()
    try:
        findings = await store.fetch(
            "SELECT check_id, charged_unit, charged_staff FROM proj_findings ORDER BY check_id"
        )
        custody = await store.fetch("SELECT unit, staff_id FROM proj_custody ORDER BY seq")
    finally:
        await store.close()
    return [(str(a), str(b), str(s)) for a, b, s in findings], [
        (str(u), str(s)) for u, s in custody
    ]


def test_a_rebuild_charges_the_findings_of_a_ledger_read_before(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(written_and_read_as_before(database_url))
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("LEDGER_JWT_SECRET", "a rebuild secret" * 2)
    assert main(["projections", "rebuild"]) == 0
    assert "rebuilding" in capsys.readouterr().err
    findings, custody = asyncio.run(charged(database_url))
    # FR9 (open past its deadline, once that day comes) is the hrss window's, not the clerk's.
    assert ("FR9", "hrss.window", WINDOW_HANDLER.staff_id) in findings
    assert all(staff != FIRST_RESPONDER.staff_id for check, _, staff in findings if check == "FR9")
    assert custody == [
        ("tax.hall", FIRST_RESPONDER.staff_id),
        ("hrss.window", WINDOW_HANDLER.staff_id),
    ]
