"""Every error is RFC 9457 problem details with status, title, detail and a stable code.

And no error records anything: the log's head stays where it was.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.api.support import (
    CLASSIFY,
    DECIDE,
    HANDLER,
    INTAKE,
    OTHER_HANDLER,
    SECRET,
    STAFF_CLAIMS,
    Api,
    bearer,
    held_by_hrss,
    problem,
    registration,
)


async def test_a_missing_or_forged_token_is_401(client: AsyncTestClient[Litestar]) -> None:
    problem(await client.get("/v1/cases"), 401, "UNAUTHENTICATED")
    forged = jwt.encode(
        {"sub": "x", "exp": 4102444800}, "a-secret-of-the-right-length-but-wrong", algorithm="HS256"
    )
    response = await client.get("/v1/cases", headers={"Authorization": f"Bearer {forged}"})
    assert problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_token_without_staff_claims_is_401(client: AsyncTestClient[Litestar]) -> None:
    token = jwt.encode({"sub": "T1", "exp": 4102444800, "roles": ["boss"]}, SECRET, "HS256")
    response = await client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
    problem(response, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    "bad",
    [
        {"sub": "T1\x00"},  # recorded in events and read-model text columns: no NUL there
        {"sub": "T" * 65},
        {"name": "名" * 201},
        {"name": "王\n丽"},
        {"unit": "TAX HALL"},
        {"jurisdiction": "qj.yuanlin\x7f"},
    ],
)
async def test_a_token_whose_claims_could_not_be_recorded_is_401(
    client: AsyncTestClient[Litestar], bad: dict[str, str]
) -> None:
    good = jwt.encode(STAFF_CLAIMS, SECRET, "HS256")
    ok = await client.get("/v1/reference", headers={"Authorization": f"Bearer {good}"})
    assert ok.is_success, ok.text
    token = jwt.encode({**STAFF_CLAIMS, **bad}, SECRET, "HS256")
    response = await client.get("/v1/reference", headers={"Authorization": f"Bearer {token}"})
    assert "token claims" in problem(response, 401, "UNAUTHENTICATED")["detail"]


async def test_a_signed_token_with_an_absurd_expiry_is_401_not_500(
    client: AsyncTestClient[Litestar],
) -> None:
    token = jwt.encode({**STAFF_CLAIMS, "exp": 10**15}, SECRET, "HS256")
    response = await client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
    problem(response, 401, "UNAUTHENTICATED")


async def test_body_validation_names_the_field_and_why(api: Api, head: Any) -> None:
    before = await head()
    response = await api.client.post(
        "/v1/cases",
        json={"channel": "carrier_pigeon", "received_at": "now"},
        headers=bearer(INTAKE),
    )
    body = problem(response, 422, "VALIDATION_FAILED")
    assert body["errors"][0]["source"] == "body"
    assert body["errors"][0]["field"] in {"channel", "received_at", "payer"}
    unknown = await api.client.post("/v1/cases", json={"colour": "red"}, headers=bearer(INTAKE))
    assert problem(unknown, 422, "VALIDATION_FAILED")["errors"][0]["field"] == "colour"
    assert await head() == before


async def test_malformed_json_and_non_utf8_bodies_are_400(api: Api) -> None:
    for content in (b"{", b'"\xff"', b"\x00\x01"):
        response = await api.client.post("/v1/cases", content=content, headers=bearer(INTAKE))
        problem(response, 400, "MALFORMED_REQUEST")


async def test_json_nested_beyond_the_decoders_depth_is_400(api: Api, head: Any) -> None:
    before = await head()
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000  # well within the body size limit
    for path, who in (("/v1/cases", INTAKE), (f"/v1/cases/{uuid.uuid4()}/decide", HANDLER)):
        headers = {**bearer(who), "If-Match": '"2"'}
        response = await api.client.post(path, content=deep, headers=headers)
        assert "nested too deeply" in problem(response, 400, "MALFORMED_REQUEST")["detail"]
    assert await head() == before


@pytest.mark.parametrize("received_at", ["0001-01-01T00:00:00+14:00", "1989-12-31T23:59:59Z"])
async def test_a_time_before_1990_is_422_and_nothing_is_recorded(
    api: Api, head: Any, received_at: str
) -> None:
    """A time in year 1 at +14:00 has no UTC equivalent: it was once stored, then failed every
    read of its case and stopped the projections."""
    before = await head()
    response = await api.client.post(
        "/v1/cases", json={**registration(), "received_at": received_at}, headers=bearer(INTAKE)
    )
    assert "before 1990-01-01" in problem(response, 422, "INVALID_COMMAND")["detail"]
    assert await head() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("received_at", 1767225600),  # a number is not a time, not even a Unix one
        ("received_at", 0),
        ("summary", 12345),
        ("channel", ["service_window"]),
    ],
)
async def test_a_value_of_another_json_type_is_422_naming_the_field(
    api: Api, head: Any, field: str, value: object
) -> None:
    before = await head()
    response = await api.client.post(
        "/v1/cases", json={**registration(), field: value}, headers=bearer(INTAKE)
    )
    body = problem(response, 422, "VALIDATION_FAILED")
    assert [(e["field"], e["source"]) for e in body["errors"]] == [(field, "body")]
    assert body["errors"][0]["message"].startswith("Expected `")
    assert await head() == before


async def test_a_string_for_a_number_is_422_on_a_case_command(api: Api, head: Any) -> None:
    case = await api.register()
    before = await head()
    response = await api.client.post(
        f"/v1/cases/{case.id}/classify",
        json={**CLASSIFY, "route": str(CLASSIFY["route"])},
        headers={**bearer(INTAKE), "If-Match": f'"{case.version}"'},
    )
    body = problem(response, 422, "VALIDATION_FAILED")
    assert body["errors"] == [
        {"field": "route", "message": "Expected `int`, got `str`", "source": "body"}
    ]
    assert await head() == before


async def test_a_key_named_twice_is_400_and_nothing_is_recorded(api: Api, head: Any) -> None:
    case = await held_by_hrss(api)
    before = await head()
    twice = b'{"outcome": "upheld", "finding": "\xe6\xa0\xb8\xe5\xae\x9e", "outcome": "rejected"}'
    response = await api.client.post(
        f"/v1/cases/{case.id}/decide",
        content=twice,
        headers={
            **bearer(HANDLER),
            "If-Match": f'"{case.version}"',
            "Content-Type": "application/json",
        },
    )
    assert "'outcome' twice" in problem(response, 400, "MALFORMED_REQUEST")["detail"]
    nested = (
        json.dumps(registration()).encode()[:-1] + b', "payer": {"kind": "person", "kind": "unit"}}'
    )
    response = await api.client.post("/v1/cases", content=nested, headers=bearer(INTAKE))
    assert "twice" in problem(response, 400, "MALFORMED_REQUEST")["detail"]
    assert await head() == before


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_a_body_that_does_not_say_json_is_415(api: Api, head: Any, content_type: str) -> None:
    before = await head()
    response = await api.client.post(
        "/v1/cases",
        content=json.dumps(registration()).encode(),
        headers={**bearer(INTAKE), "Content-Type": content_type},
    )
    assert content_type in problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")["detail"]
    assert response.headers["accept-post"] == "application/json"
    assert await head() == before


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "Application/JSON; charset=utf-8", "application/vnd.ledger+json"],
)
async def test_json_bodies_are_read_with_or_without_saying_so(
    api: Api, head: Any, content_type: str | None
) -> None:
    before = await head()
    headers = bearer(INTAKE) | ({} if content_type is None else {"Content-Type": content_type})
    response = await api.client.post(
        "/v1/cases", content=json.dumps(registration()).encode(), headers=headers
    )
    assert response.status_code == 201, response.text
    assert await head() == before + 1


@pytest.mark.parametrize(
    ("summary", "code"),
    [
        ("a\u0000b", "INVALID_COMMAND"),
        ("\x1b[31m", "INVALID_COMMAND"),
        ("\u200b\u2060", "R1_REGISTRATION_INVALID"),
    ],
)
async def test_text_with_control_characters_or_nothing_visible_is_422(
    api: Api, head: Any, summary: str, code: str
) -> None:
    before = await head()
    response = await api.client.post(
        "/v1/cases", json=registration(summary=summary), headers=bearer(INTAKE)
    )
    assert "summary" in problem(response, 422, code)["detail"]
    assert await head() == before


async def test_a_bad_check_digit_is_422_naming_rule_r1(api: Api, head: Any) -> None:
    before = await head()
    response = await api.client.post(
        "/v1/cases",
        json={**registration(), "payer": {**registration()["payer"], "identifier": "123"}},
        headers=bearer(INTAKE),
    )
    body = problem(response, 422, "R1_REGISTRATION_INVALID")
    assert body["rule"] == "R1"
    assert await head() == before


async def test_acting_outside_the_holding_unit_is_403_r4(api: Api, head: Any) -> None:
    case = await held_by_hrss(api)
    before = await head()
    body = problem(
        await api.post(OTHER_HANDLER, case, "decide", DECIDE), 403, "R4_NOT_HOLDING_UNIT"
    )
    assert body["rule"] == "R4"
    assert await head() == before


async def test_closing_before_feedback_is_409_r6(api: Api) -> None:
    case = await held_by_hrss(api)
    await api.do(HANDLER, case, "decide", DECIDE)
    body = problem(
        await api.post(HANDLER, case, "close", {"summary": "办结"}), 409, "R6_CLOSURE_PRECONDITIONS"
    )
    assert body["rule"] == "R6"


async def test_a_lifecycle_step_out_of_order_is_409(api: Api) -> None:
    case = await api.register()
    problem(await api.post(HANDLER, case, "accept", {}), 409, "INVALID_TRANSITION")


async def test_an_unknown_unit_is_422_invalid_command(api: Api) -> None:
    case = await api.register()
    await api.do(INTAKE, case, "classify", CLASSIFY)
    response = await api.post(INTAKE, case, "transfer", {"to_unit": "nowhere", "reason": "x"})
    problem(response, 422, "INVALID_COMMAND")


async def test_unknown_cases_routes_and_methods(client: AsyncTestClient[Litestar]) -> None:
    auth = bearer(INTAKE)
    missing = "/v1/cases/00000000-0000-4000-8000-000000000000"
    problem(await client.get(missing, headers=auth), 404, "CASE_NOT_FOUND")
    problem(await client.get("/v1/nothing-here", headers=auth), 404, "NOT_FOUND")
    problem(await client.get("/v1/cases/not-a-uuid", headers=auth), 404, "NOT_FOUND")
    response = await client.delete("/v1/cases", headers=auth)
    problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in response.headers["allow"]


async def test_bad_query_parameters_are_400(api: Api) -> None:
    case = await api.register()
    auth = bearer(INTAKE)
    queries: list[dict[str, Any]] = [
        {"version": "two"},
        {"as_of": "2025-01-01T00:00:00"},
        {"version": 1, "as_of": "2025-01-01T00:00:00Z"},
    ]
    for query in queries:
        response = await api.client.get(f"/v1/cases/{case.id}", params=query, headers=auth)
        body = problem(response, 400, "INVALID_PARAMETER")
        assert body["detail"]


async def test_every_problem_names_the_request_path(client: AsyncTestClient[Litestar]) -> None:
    body = problem(await client.get("/v1/cases"), 401, "UNAUTHENTICATED")
    assert body["instance"] == "/v1/cases"
