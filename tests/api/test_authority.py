"""Authority from reference data, not from claims: a token must describe a member of staff of a
unit the reference data defines, with that unit's department and jurisdiction, or it is refused
(401) on every route, reads and writes alike, and nothing is recorded."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.demo_people import STAFF, Cast
from ledger.domain.actor import Actor
from ledger.domain.codes import Department
from ledger.domain.context import Context
from ledger.domain.reference import DEFAULT_REFERENCE
from tests.api.conftest import settings_for
from tests.api.support import (
    ENFORCEMENT,
    HANDLER,
    INTAKE,
    ONE_ROLE,
    OTHER_HANDLER,
    Api,
    R,
    bearer,
    demand_notice,
    problem,
    received_days_ago,
    registration,
    staff,
)

# The token of the issue: a clerk of the hrss service window claiming to be tax staff, with the
# enforcement role that serves a 催告书.
HRSS_WINDOW_AS_TAX = staff("H5001", "赵敏", "hrss.window", Department.TAX, R.ENFORCEMENT, R.INTAKE)
UNKNOWN_UNIT = staff("T9001", "钱进", "tax.nowhere", Department.TAX, R.INTAKE, R.HANDLER)
# tax.hall serves the whole city: a jurisdiction claimed by its staff is no part of it.
HALL_IN_GUANGHUA = staff("T1002", "吴军", "tax.hall", Department.TAX, R.HANDLER, R.INTAKE)
HALL_IN_GUANGHUA = msgspec.structs.replace(HALL_IN_GUANGHUA, jurisdiction="qj.guanghua")
# A township station's staff, claiming another township or none.
STATION = staff("T3001", "郑涛", "tax.station.haokou", Department.TAX, R.HANDLER, R.INTAKE)
STATION_ELSEWHERE = msgspec.structs.replace(STATION, jurisdiction="qj.guanghua")
STATION_AT_HOME = msgspec.structs.replace(STATION, jurisdiction="qj.haokou")
PUBLIC = {"/health", "/ready"}  # and /schema…: the routes that answer without a token


async def _ready_head(api: Api) -> int:
    head: int = (await api.client.get("/ready")).json()["head"]
    return head


@pytest.fixture
async def api(database_url: str, key_dir: Path) -> AsyncIterator[Api]:
    """The API over SQLite and over PostgreSQL (the ``database_url`` fixture's two runs)."""
    app = create_app(settings_for(database_url, key_dir), checkpoints=False)
    async with AsyncTestClient(app) as client:
        yield Api(client)


async def _refused_everywhere(api: Api, actor: Actor, case_id: str, *named: str) -> None:
    """Every kind of request by ``actor`` is 401, naming ``named``; nothing is recorded."""
    before = await _ready_head(api)
    case_path = f"/v1/cases/{case_id}"
    attempts = [
        api.client.post("/v1/cases", json=registration(), headers=bearer(actor)),
        api.client.post(
            f"{case_path}/demand-notice",
            json=demand_notice(days_ago=0.001),
            headers={**bearer(actor), "If-Match": '"1"'},
        ),
        api.get(actor, "/v1/cases"),
        api.get(actor, case_path),
        api.get(actor, "/v1/reference"),
    ]
    for attempt in attempts:
        response = await attempt
        detail = problem(response, 401, "UNAUTHENTICATED")["detail"]
        for text in named:
            assert text in detail, (text, detail)
    assert await _ready_head(api) == before


async def test_a_department_that_is_not_the_units_is_refused_on_writes_and_reads(
    api: Api,
) -> None:
    case = await api.register(received_at=received_days_ago(0.1))
    await _refused_everywhere(
        api, HRSS_WINDOW_AS_TAX, case.id, "department 'tax'", "'hrss.window'", "'hrss'"
    )
    # Its own department's staff of the same unit are served.
    hrss_clerk = msgspec.structs.replace(HRSS_WINDOW_AS_TAX, department=Department.HRSS)
    assert (await api.get(hrss_clerk, f"/v1/cases/{case.id}")).status_code == 200
    # And the 催告书 is served by the city tax bureau's own staff.
    await api.do(ENFORCEMENT, case, "demand-notice", demand_notice(days_ago=0.01))


async def test_every_authenticated_route_refuses_a_token_that_disagrees_with_its_unit(
    api: Api,
) -> None:
    case = await api.register()
    before = await _ready_head(api)
    every_role = msgspec.structs.replace(HRSS_WINDOW_AS_TAX, roles=tuple(R))
    app = api.client.app
    assert isinstance(app, Litestar)
    tried = 0
    for route in app.routes:
        if route.path in PUBLIC or route.path.startswith("/schema"):
            continue
        handlers = getattr(route, "route_handlers", ())
        if handlers and all(h.opt.get("exclude_from_auth") for h in handlers):
            continue  # the console's pages (a signed-in session) and their static files
        path = route.path_format
        for name, parameter in route.path_parameters.items():
            value = case.id if parameter.type is uuid.UUID else "1"
            path = path.replace("{" + name + "}", value)
        for method in sorted(set(getattr(route, "methods", ())) - {"OPTIONS", "HEAD"}):
            response = await api.client.request(
                method, path, json={}, headers={**bearer(every_role), "If-Match": '"1"'}
            )
            detail = problem(response, 401, "UNAUTHENTICATED")["detail"]
            assert "department 'tax' disagrees" in detail, (method, path, detail)
            tried += 1
    assert tried >= 30  # every write, read, inspection, stream and audit route
    assert await _ready_head(api) == before


async def test_an_unknown_unit_is_refused_on_writes_and_reads(api: Api) -> None:
    case = await api.register()
    await _refused_everywhere(api, UNKNOWN_UNIT, case.id, "unit 'tax.nowhere'", "reference")


async def test_a_jurisdiction_the_unit_does_not_serve_is_refused(api: Api) -> None:
    case = await api.register()
    await _refused_everywhere(
        api, HALL_IN_GUANGHUA, case.id, "jurisdiction 'qj.guanghua'", "whole city"
    )
    await _refused_everywhere(
        api, STATION_ELSEWHERE, case.id, "jurisdiction 'qj.guanghua'", "'qj.haokou'"
    )
    await _refused_everywhere(api, STATION, case.id, "no jurisdiction", "'qj.haokou'")
    # The station's staff with its own jurisdiction are served.
    at_home = await api.get(STATION_AT_HOME, f"/v1/cases/{case.id}")
    assert at_home.status_code == 200, at_home.text


async def test_the_deployments_reference_file_is_the_authority(
    sqlite_url: str, key_dir: Path, tmp_path: Path
) -> None:
    # The deployment has moved its hrss window under the 便民服务 (gov) department: a token that
    # agrees with the built-in list no longer does, one that agrees with the file does.
    reference: dict[str, Any] = msgspec.to_builtins(DEFAULT_REFERENCE)
    for unit in reference["units"]:
        if unit["code"] == "hrss.window":
            unit["department"] = "gov"
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(reference, ensure_ascii=False), encoding="utf-8")
    app = create_app(settings_for(sqlite_url, key_dir, reference_file=str(path)), checkpoints=False)
    as_built_in = staff("H5002", "孙丽", "hrss.window", Department.HRSS, R.HANDLER)
    as_deployed = msgspec.structs.replace(as_built_in, department=Department.GOV)
    async with AsyncTestClient(app) as client:
        api = Api(client)
        refused = await api.get(as_built_in, "/v1/cases")
        assert "belongs to department 'gov'" in problem(refused, 401, "UNAUTHENTICATED")["detail"]
        assert (await api.get(as_deployed, "/v1/cases")).status_code == 200


def test_the_staff_of_the_tests_and_the_demo_agree_with_the_reference_data() -> None:
    # A test or a demo cannot pass on a token that the API would refuse.
    cast = Cast(Context())
    demo = [cast.actor(key) for key in [*STAFF, "handler_station"]]
    for actor in [*ONE_ROLE.values(), INTAKE, HANDLER, OTHER_HANDLER, STATION_AT_HOME, *demo]:
        DEFAULT_REFERENCE.check_staff(actor.unit, actor.department, actor.jurisdiction)
