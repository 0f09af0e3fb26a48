"""Who may read the inspection pages and the printed case file, and what each reader sees of the
payer: the API's roles and masking, through HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.audit.keys import KeyConfig
from ledger.audit.service import AuditService, audit_hooks
from ledger.domain.actor import Actor
from ledger.domain.context import SHANGHAI, local_date
from ledger.domain.identifiers import mask_identifier
from ledger.domain.reference import DEFAULT_REFERENCE
from ledger.staff import StaffDirectory
from ledger.store import open_store
from tests.api.conftest import settings_for
from tests.api.support import (
    HANDLER,
    IDENTIFIER,
    INSPECTOR,
    WITNESS,
    Api,
    held_by_hrss,
    listed,
    now,
)

PASSWORD = "console-test-password-2026"


@pytest.fixture
def app(database_url: str, key_dir: Path) -> Litestar:
    return create_app(settings_for(database_url, key_dir), checkpoints=False)


async def add_accounts(database_url: str, *actors: Actor) -> None:
    """Console accounts, made as ``ledger staff add`` makes them (before the app starts)."""
    store = open_store(database_url, hooks=audit_hooks())
    await store.open()
    directory = StaffDirectory(store, database_url, DEFAULT_REFERENCE)
    await directory.open()
    try:
        for actor in actors:
            await directory.add(
                staff_id=actor.staff_id,
                name=actor.name,
                unit=actor.unit,
                department=actor.department,
                roles=actor.roles,
                jurisdiction=actor.jurisdiction,
                password=PASSWORD,
                by="test",
            )
    finally:
        await directory.close()
        await store.close()


async def sign_in(client: AsyncTestClient[Litestar], actor: Actor) -> None:
    client.cookies.clear()
    login = await client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', login.text)
    assert token is not None
    form = {"username": actor.staff_id, "password": PASSWORD, "next": "/", "_csrf_token": token[1]}
    signed = await client.post("/login", data=form, follow_redirects=False)
    assert signed.status_code == 303, signed.text


def positions_in(html: str) -> list[int]:
    return sorted(int(p) for p in re.findall(r'<tr data-position="(\d+)"', html))


async def test_pages_follow_the_apis_roles_and_masking(
    app: Litestar, database_url: str, key_dir: Path
) -> None:
    await add_accounts(database_url, WITNESS, INSPECTOR, HANDLER)
    # (a PostgreSQL deployment sits behind TLS: its console cookies are Secure)
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        api = Api(client)
        case = await held_by_hrss(api)
        await listed(api, INSPECTOR, case.id)

        # A witness reads neither inspections nor cases (the API refuses both).
        await sign_in(client, WITNESS)
        for path in ("/inspections", f"/inspections/cases/{case.id}", f"/cases/{case.id}/print"):
            refused = await client.get(path)
            assert refused.status_code == 403, path
            assert "你的角色不能" in refused.text
        assert (await api.get(WITNESS, f"/v1/cases/{case.id}")).status_code == 403
        assert (await api.get(WITNESS, "/v1/inspections/first-responders")).status_code in {
            400,
            403,
        }

        # A handler of the holding unit reads the case file, not the inspections.
        await sign_in(client, HANDLER)
        assert (await client.get("/inspections")).status_code == 403
        printed = await client.get(f"/cases/{case.id}/print")
        assert printed.status_code == 200
        shown = (await api.get(HANDLER, f"/v1/cases/{case.id}")).json()["payer"]["identifier"]
        assert shown == IDENTIFIER  # the API shows it to him: so does the case file
        assert IDENTIFIER in printed.text
        events = (await api.get(HANDLER, f"/v1/cases/{case.id}/events")).json()
        assert positions_in(printed.text) == [e["position"] for e in events]
        assert "尚无签名检查点覆盖此事件" in printed.text
        assert events[-1]["hash"] in printed.text

        # An inspector: the case file from the inspectors' masked events, and the inspection.
        await sign_in(client, INSPECTOR)
        printed = await client.get(f"/cases/{case.id}/print")
        assert printed.status_code == 200
        assert IDENTIFIER not in printed.text
        assert mask_identifier(IDENTIFIER) in printed.text
        masked = (await api.get(INSPECTOR, f"/v1/inspections/cases/{case.id}/events")).json()
        assert positions_in(printed.text) == [e["position"] for e in masked]
        drill = await client.get(f"/inspections/cases/{case.id}?positions={masked[1]['position']}")
        assert drill.status_code == 200
        assert IDENTIFIER not in drill.text
        assert f'data-position="{masked[1]["position"]}" class="proving"' in drill.text
        missing = await client.get(f"/cases/{uuid4()}/print")
        assert missing.status_code == 404
        for query, said in (
            ({"from": "2026-02-01", "to": "2026-01-01"}, "结束日期早于开始日期"),
            ({"from": "2026-02-30"}, "YYYY-MM-DD"),
            ({"as_of": "9999-01-01"}, "超出可查询的范围"),
            ({"from": "2000-01-01", "to": "2026-01-01"}, "最长"),
        ):
            bad = await client.get("/inspections", params=query)
            assert bad.status_code == 400, query
            assert said in bad.text

        # The forecast: its deadline passed, if nothing more is done; as the API reports it.
        view = (await api.get(INSPECTOR, f"/v1/cases/{case.id}")).json()
        due = datetime.fromisoformat(view["deadline"]["due"]).date()
        today, ahead = local_date(now()), due + timedelta(days=3)
        page = await client.get(
            "/inspections", params={"from": str(today), "to": str(today), "as_of": str(ahead)}
        )
        assert page.status_code == 200
        assert 'id="forecast"' in page.text
        as_of = datetime.combine(ahead, time(23, 59, 59), SHANGHAI).isoformat()
        report: dict[str, Any] = (
            await api.get(
                INSPECTOR,
                "/v1/inspections/first-responders",
                **{"from": str(today), "to": str(today), "as_of": as_of},
            )
        ).json()
        assert report["forecast"] is True
        listed_findings = set(
            re.findall(r'<tr data-check="(FR\d)" data-who="([^"]*)" data-case="([^"]+)"', page.text)
        )
        expected = {
            (f["check"], f"{who['unit']}/{who.get('staff_id', '')}", f["case_id"])
            for who in [*report["staff"], *report["units"]]
            for f in who["findings"]
        }
        assert listed_findings == expected
        assert ("FR9", f"hrss.social_insurance/{HANDLER.staff_id}", case.id) in expected

        # Once a checkpoint covers the case's last event (``ledger checkpoint``), the case
        # file names it.
        config = msgspec.structs.replace(KeyConfig.from_env(), key_dir=key_dir)
        audit = await AuditService.open(database_url, config)
        try:
            await audit.make_checkpoint()
        finally:
            await audit.close()
        printed = await client.get(f"/cases/{case.id}/print")
        assert "树大小" in printed.text
        assert "尚无签名检查点覆盖此事件" not in printed.text


def consultation_counts(html: str) -> dict[str, int]:
    """The 会商 count of each row of the page's two tables, by its ``data-who`` (a unit, or
    "unit/staff id")."""
    rows = re.findall(r'<tr data-who="([^"]*)">(.*?)</tr>', html, re.DOTALL)
    found = {}
    for who, cells in rows:
        count = re.search(r'data-consultations="(\d+)"', cells)
        assert count is not None, who
        found[who] = int(count[1])
    return found


def consultations_listed(html: str) -> list[tuple[str, int]]:
    return [
        (c, int(p)) for c, p in re.findall(r'data-case="([^"]+)" data-consultation="(\d+)"', html)
    ]


async def test_the_inspection_page_counts_and_lists_joint_consultations_as_the_api_does(
    app: Litestar, database_url: str
) -> None:
    await add_accounts(database_url, INSPECTOR)
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        api = Api(client)
        case = await held_by_hrss(api)
        body = {"units": ["tax.sif", "medical.agency"], "outcome": "会商确认缴费基数"}
        response = await api.post(HANDLER, case, "consult", body)
        assert response.status_code == 200, response.text
        position = response.json()["consultations"][0]["position"]
        today = str(local_date(now()))
        period = {"from": today, "to": today}
        report = (
            await api.get(
                INSPECTOR,
                "/v1/inspections/first-responders",
                **period,
                as_of=now().isoformat(),  # (once the read models have the consultation)
            )
        ).json()
        await sign_in(client, INSPECTOR)

        page = await client.get("/inspections", params=period)
        assert page.status_code == 200
        assert ">会商</abbr>" in page.text
        assert consultation_counts(page.text) == {
            **{f"{s['unit']}/{s['staff_id']}": s["consultations"] for s in report["staff"]},
            **{u["unit"]: u["consultations"] for u in report["units"]},
        }
        assert consultation_counts(page.text)[f"hrss.social_insurance/{HANDLER.staff_id}"] == 1
        assert {u: consultation_counts(page.text)[u] for u in ("tax.sif", "tax.hall")} == {
            "tax.sif": 1,
            "tax.hall": 0,
        }
        assert consultations_listed(page.text) == [(case.id, position)]
        assert f"/inspections/cases/{case.id}?positions={position}" in page.text

        # One member of staff, one unit consulted, one row's consultations, the day before.
        mine = await client.get("/inspections", params={**period, "staff": HANDLER.staff_id})
        assert consultation_counts(mine.text) == {f"hrss.social_insurance/{HANDLER.staff_id}": 1}
        assert consultations_listed(mine.text) == [(case.id, position)]
        sif = await client.get("/inspections", params={**period, "unit": "tax.sif"})
        assert consultation_counts(sif.text) == {"tax.sif": 1}
        assert consultations_listed(sif.text) == [(case.id, position)]
        clerk = await client.get("/inspections", params={**period, "who": "tax.hall/T1001"})
        assert consultations_listed(clerk.text) == []
        yesterday = str(local_date(now()) - timedelta(days=1))
        before = await client.get("/inspections", params={**period, "as_of": yesterday})
        assert consultations_listed(before.text) == []
        assert set(consultation_counts(before.text).values()) <= {0}
