"""A misrouted transfer returned (退单) through HTTP, on SQLite and PostgreSQL: the sender keeps
the case, the view and the trail say what happened, and the acceptance duty (FR5) is answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from tests.api.conftest import settings_for
from tests.api.support import (
    CLASSIFY,
    HANDLER,
    INSPECTOR,
    INTAKE,
    OTHER_HANDLER,
    TRANSFER,
    Api,
)


@pytest.fixture
async def api(database_url: str, key_dir: Path) -> AsyncIterator[Api]:
    app = create_app(settings_for(database_url, key_dir), checkpoints=False)
    async with AsyncTestClient(app) as client:
        yield Api(client)


async def test_the_receiving_unit_returns_a_misrouted_transfer(api: Api) -> None:
    case = await api.register()
    await api.do(INTAKE, case, "classify", CLASSIFY)
    await api.do(INTAKE, case, "transfer", TRANSFER)
    # Only the unit the transfer awaits may return it; a reason is required.
    other = await api.post(OTHER_HANDLER, case, "return", {"reason": "不属本单位"})
    assert (other.status_code, other.json()["code"]) == (403, "R4_NOT_HOLDING_UNIT")
    blank = await api.post(HANDLER, case, "return", {"reason": ""})
    assert blank.status_code == 422
    view = await api.do(HANDLER, case, "return", {"reason": "不属人社职责，请核实后转医保"})
    assert view["status"] == "returned"
    assert view["holding_unit"] == "tax.hall"
    assert view["pending_transfer"] is None
    assert (view["transfer_count"], view["return_count"]) == (1, 1)
    # The same transfer can be neither accepted nor returned again; the sender routes it anew.
    again = await api.post(HANDLER, case, "accept", {"note": "签收"})
    assert (again.status_code, again.json()["code"]) == (409, "INVALID_TRANSITION")
    await api.do(INTAKE, case, "transfer", {"to_unit": "medical.agency", "reason": "属医保职责"})
    accepted = await api.do(OTHER_HANDLER, case, "accept", {"note": "签收"})
    assert accepted["holding_unit"] == "medical.agency"
    # The trail (once the read models have the acceptance): the first transfer's acceptance duty
    # (FR5) was answered by the return, in time, and the second one by the acceptance.
    fr5: list[str] = []
    for _ in range(100):
        trail = (await api.get(INSPECTOR, f"/v1/cases/{case.id}/trail")).json()
        fr5 = [d["status"] for d in trail["duties"] if d["check"] == "FR5"]
        if len(fr5) == 2 and "pending" not in fr5:
            break
        await asyncio.sleep(0.05)
    assert fr5 == ["met", "met"], trail
    events = (await api.get(INTAKE, f"/v1/cases/{case.id}/events")).json()
    assert [e["topic"] for e in events][-3:] == [
        "ledger.TransferReturned",
        "ledger.Transferred",
        "ledger.Accepted",
    ]
