"""A unit's work lists, on SQLite and PostgreSQL: its incoming transfers (``GET
/v1/cases?awaiting=``: sent to it, or to a jurisdiction it serves (R11), until accepted or
returned) and the replies it owes assigning bodies (``reply_owed``, 交办/转办)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
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
    TRANSFER,
    Api,
    held_by_hrss,
    now,
)
from tests.api.test_exports import caught_up
from tests.api.test_time_limits import assignment


@pytest.fixture
async def api(database_url: str, key_dir: Path) -> AsyncIterator[Api]:
    app = create_app(settings_for(database_url, key_dir), checkpoints=False)
    async with AsyncTestClient(app) as client:
        yield Api(client)


async def awaiting(api: Api, unit: str) -> list[str]:
    await caught_up(api)
    response = await api.get(INSPECTOR, "/v1/cases", awaiting=unit, limit=200)
    assert response.status_code == 200, response.text
    return [item["case_id"] for item in response.json()["items"]]


async def test_a_unit_lists_the_transfers_awaiting_its_acceptance(api: Api) -> None:
    to_unit = await api.register()
    await api.do(INTAKE, to_unit, "classify", CLASSIFY)
    await api.do(INTAKE, to_unit, "transfer", TRANSFER)
    to_place = await api.register()
    await api.do(
        INTAKE, to_place, "transfer", {"to_jurisdiction": "qj.guanghua", "reason": "属广华"}
    )
    await held_by_hrss(api)  # accepted: awaited by no one

    assert await awaiting(api, "hrss.social_insurance") == [to_unit.id]
    assert await awaiting(api, "gov.centre.guanghua") == [to_place.id]  # it serves qj.guanghua
    assert await awaiting(api, "tax.hall") == []
    assert await awaiting(api, "medical.agency") == []

    await api.do(HANDLER, to_unit, "return", {"reason": "不属本单位"})
    assert await awaiting(api, "hrss.social_insurance") == []
    await api.do(INTAKE, to_unit, "transfer", TRANSFER)  # sent again after the return
    assert await awaiting(api, "hrss.social_insurance") == [to_unit.id]
    await api.do(HANDLER, to_unit, "accept", {"note": "签收"})
    assert await awaiting(api, "hrss.social_insurance") == []


async def test_an_unknown_unit_awaits_nothing_and_a_malformed_one_is_refused(api: Api) -> None:
    case = await api.register()
    await api.do(INTAKE, case, "transfer", {"to_jurisdiction": "qj.guanghua", "reason": "属广华"})
    assert await awaiting(api, "no.such.unit") == []
    bad = await api.get(INSPECTOR, "/v1/cases", awaiting="not a code!")
    assert bad.status_code == 400, bad.text


async def owed(api: Api, **filters: str) -> list[str]:
    await caught_up(api)
    response = await api.get(INSPECTOR, "/v1/cases", reply_owed="true", limit=200, **filters)
    assert response.status_code == 200, response.text
    return [item["case_id"] for item in response.json()["items"]]


async def test_the_replies_owed_to_assigning_bodies_are_listed_until_given(api: Api) -> None:
    due = (now() + timedelta(days=10)).date()
    assigned = await api.register(channel="assigned", assignment=assignment(due))
    handed_down = await held_by_hrss(api)  # assigned after registration, while hrss holds it
    await api.do(HANDLER, handed_down, "record-assignment", {"assignment": assignment(due)})
    await api.register()  # no assignment: owes no one

    assert await owed(api) == [handed_down.id, assigned.id]
    assert await owed(api, unit="tax.hall") == [assigned.id]
    assert await owed(api, unit="hrss.social_insurance") == [handed_down.id]
    await api.do(HANDLER, handed_down, "reply-to-assignment", {"content": "已办理，特此回复"})
    assert await owed(api) == [assigned.id]
    not_owed = await api.get(INSPECTOR, "/v1/cases", reply_owed="false", limit=200)
    assert assigned.id not in [item["case_id"] for item in not_owed.json()["items"]]
    assert len(not_owed.json()["items"]) == 2
