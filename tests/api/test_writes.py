"""Writes: 201 + Location, ETag and If-Match, idempotent retries — nothing recorded twice."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.api.support import (
    CLASSIFY,
    DECIDE,
    HANDLER,
    INTAKE,
    Api,
    bearer,
    held_by_hrss,
    registration,
)


async def _head(client: AsyncTestClient[Litestar]) -> int:
    head: int = (await client.get("/ready")).json()["head"]
    return head


async def test_registration_answers_201_with_location_etag_and_the_new_view(api: Api) -> None:
    response = await api.client.post("/v1/cases", json=registration(), headers=bearer(INTAKE))
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/v1/cases/{body['case_id']}"
    assert response.headers["etag"] == '"1"'
    assert body["status"] == "registered"
    assert body["first_responder"]["staff_id"] == INTAKE.staff_id  # from the token (R2)
    assert body["holding_unit"] == INTAKE.unit
    read = await api.client.get(response.headers["location"], headers=bearer(INTAKE))
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'


async def test_a_write_without_if_match_is_428_and_a_stale_one_412(api: Api) -> None:
    case = await api.register()
    url = f"/v1/cases/{case.id}/classify"
    missing = await api.client.post(url, json=CLASSIFY, headers=bearer(INTAKE))
    assert (missing.status_code, missing.json()["code"]) == (428, "PRECONDITION_REQUIRED")
    star = await api.client.post(url, json=CLASSIFY, headers={**bearer(INTAKE), "If-Match": "*"})
    assert star.status_code == 400
    stale = await api.client.post(url, json=CLASSIFY, headers={**bearer(INTAKE), "If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.json() | {"code": "VERSION_MISMATCH", "current_version": 1} == stale.json()
    assert stale.headers["etag"] == '"1"'
    assert (await api.client.get(f"/v1/cases/{case.id}", headers=bearer(INTAKE))).json()[
        "version"
    ] == 1


async def test_a_retried_write_returns_the_first_response_and_appends_nothing(
    api: Api, client: AsyncTestClient[Litestar]
) -> None:
    case = await held_by_hrss(api)
    key = {"Idempotency-Key": "decide-once-7f3a"}
    first = await api.post(HANDLER, case, "decide", DECIDE, headers=key)
    head = await _head(client)
    again = await api.post(HANDLER, case, "decide", DECIDE, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"]
    assert again.json()["version"] == first.json()["version"]
    assert await _head(client) == head
    other = await api.post(HANDLER, case, "decide", {**DECIDE, "finding": "不同"}, headers=key)
    assert (other.status_code, other.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert await _head(client) == head


async def test_a_retried_registration_lands_on_the_same_case(
    api: Api, client: AsyncTestClient[Litestar]
) -> None:
    headers = {**bearer(INTAKE), "Idempotency-Key": "reg-20250310-001"}
    body = registration()
    first = await client.post("/v1/cases", json=body, headers=headers)
    head = await _head(client)
    again = await client.post("/v1/cases", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["case_id"] == first.json()["case_id"]
    assert again.headers["location"] == first.headers["location"]
    assert await _head(client) == head


async def test_an_idempotency_key_must_be_printable_ascii(api: Api) -> None:
    case = await api.register()
    response = await api.post(
        INTAKE, case, "classify", CLASSIFY, headers={"Idempotency-Key": "a b"}
    )
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_PARAMETER")


@pytest.mark.parametrize("amount", [52000.5, 52000, "5.2e4", "５２０００", " 52000", "-1", ""])
async def test_money_is_a_plain_decimal_string_or_422_and_nothing_is_recorded(
    api: Api, client: AsyncTestClient[Litestar], amount: object
) -> None:
    """API.md and R8: a JSON number, an exponent or full-width digits are not amounts, even
    where a decimal library would read them as one."""
    case = await held_by_hrss(api)
    head = await _head(client)
    response = await api.post(HANDLER, case, "decide", {**DECIDE, "amount": amount})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "amount"
    assert await _head(client) == head
    plain = await api.post(HANDLER, case, "decide", {**DECIDE, "amount": "52000.5"})
    assert plain.status_code == 200
