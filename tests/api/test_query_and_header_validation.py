"""Bad query, path and header values are refused up front: 400 (or 401, 415) naming the parameter
and saying why — never a 5xx, never the database's "a number is out of range" — and nothing is
recorded.

Several of these reached the database on PostgreSQL (asyncpg refuses NUL in text and years beyond
9999) while SQLite answered 200, so the read routes are tested on both.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import jwt
import pytest
from litestar import Litestar, get
from litestar.params import HeaderParameter
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.problems import ApiProblem, problem_response
from api.stream import _last_event_id
from tests.api.conftest import settings_for
from tests.api.support import (
    AUDITOR,
    INSPECTOR,
    INTAKE,
    SECRET,
    STAFF_CLAIMS,
    WITNESS,
    Api,
    bearer,
    problem,
    registration,
    signed_checkpoint,
)

CASE = "{case}"  # replaced by the id of a registered case


@pytest.fixture
async def both(database_url: str, key_dir: Path) -> AsyncIterator[Api]:
    """The API over SQLite, then over PostgreSQL."""
    app = create_app(settings_for(database_url, key_dir, checkpoint_seconds=0.2))
    async with AsyncTestClient(app) as client:
        yield Api(client)


def refused(response: Any, *names: str, source: str = "query") -> dict[str, Any]:
    """A 400 INVALID_PARAMETER naming exactly ``names`` (in ``errors`` and in ``detail``)."""
    body = problem(response, 400, "INVALID_PARAMETER")
    assert [(e["field"], e["source"]) for e in body["errors"]] == [(n, source) for n in names]
    assert all(e["message"] for e in body["errors"])
    for name in names:
        assert name in body["detail"], body
    return body


async def read(api: Api, path: str, params: dict[str, str], case: str) -> Any:
    return await api.client.get(path.replace(CASE, case), params=params, headers=bearer(INSPECTOR))


# -- 1. token claims -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "王\ud800丽"},
        {"sub": "T\udfff1"},
        {"name": "王丽\n"},  # "$" also matches before a final newline
        {"unit": "tax.hall\n"},
        {"jurisdiction": "qj.yuanlin\n"},
    ],
)
async def test_a_token_claim_with_a_lone_surrogate_is_401_and_nothing_is_recorded(
    api: Api, head: Any, bad: dict[str, str]
) -> None:
    """It passed the claim checks, then every write failed with 500 when its metadata (the
    actor) was encoded as UTF-8."""
    before = await head()
    token = jwt.encode({**STAFF_CLAIMS, **bad}, SECRET, "HS256")
    response = await api.client.post(
        "/v1/cases", json=registration(), headers={"Authorization": f"Bearer {token}"}
    )
    assert "token claims" in problem(response, 401, "UNAUTHENTICATED")["detail"]
    assert await head() == before


# -- 2. values that used to reach the database --------------------------------------------------


CONTROL = "control characters"
SHAPE = "Expected `str`"


@pytest.mark.parametrize(
    ("path", "params", "why"),
    [
        ("/v1/cases", {"unit": "\x00"}, CONTROL),
        ("/v1/cases", {"unit": "tax\x01hall"}, CONTROL),
        ("/v1/cases", {"unit": "tax.hall\n"}, CONTROL),  # "$" also matches before a final \n
        ("/v1/cases", {"unit": "TAX.HALL"}, SHAPE),
        ("/v1/cases", {"unit": ""}, SHAPE),
        ("/v1/cases", {"jurisdiction": "qj.yuanlin\x00"}, CONTROL),
        ("/v1/cases", {"first_responder": "\x00"}, CONTROL),
        ("/v1/cases", {"first_responder": "T1\x7f"}, CONTROL),
        ("/v1/cases", {"first_responder": "T" * 65}, SHAPE),
        ("/v1/cases", {"cursor": "abc\x00"}, CONTROL),
        (
            "/v1/inspections/first-responders",
            {"from": "2026-01-01", "to": "2026-01-31", "unit": "\x00"},
            CONTROL,
        ),
    ],
)
async def test_a_text_filter_with_control_characters_is_400_naming_it(
    both: Api, path: str, params: dict[str, str], why: str
) -> None:
    """On PostgreSQL a NUL reached asyncpg (answered as "a number out of range"); on SQLite it
    was answered 200, matching nothing."""
    name = next(k for k in params if k not in ("from", "to"))
    body = refused(await read(both, path, params, ""), name)
    assert why in body["errors"][0]["message"]


async def test_well_formed_text_filters_are_still_answered(both: Api) -> None:
    await both.register()
    for params in (
        {"unit": INTAKE.unit},
        {"jurisdiction": "qj.yuanlin"},
        {"first_responder": "王 1"},
    ):
        response = await read(both, "/v1/cases", params, "")
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        (f"/v1/cases/{CASE}", {"as_of": "9999-12-31T23:59:59Z"}, "as_of"),
        (f"/v1/cases/{CASE}", {"as_of": "1989-12-31T23:59:59Z"}, "as_of"),
        (f"/v1/cases/{CASE}", {"as_of": "1990-01-01T07:59:59+08:00"}, "as_of"),
        (f"/v1/cases/{CASE}/trail", {"as_of": "9999-12-31T23:59:59Z"}, "as_of"),
        (f"/v1/cases/{CASE}/trail", {"as_of": "0001-01-01T00:00:00+14:00"}, "as_of"),
        ("/v1/cases", {"received_from": "0001-01-01T00:00:00+14:00"}, "received_from"),
        ("/v1/cases", {"received_to": "9999-12-31T23:59:59-12:00"}, "received_to"),
        (
            "/v1/inspections/first-responders",
            {"from": "2026-01-01", "to": "2026-01-31", "as_of": "0001-01-01T00:00:00+14:00"},
            "as_of",
        ),
        ("/v1/inspections/first-responders", {"from": "9999-01-01", "to": "9999-12-31"}, "from,to"),
        ("/v1/inspections/first-responders", {"from": "1989-12-31", "to": "1990-01-01"}, "from"),
        ("/v1/inspections/first-responders", {"from": "8999-12-31", "to": "9999-12-31"}, "to"),
        (
            "/v1/statistics/units",
            {"from": "2026-01-01", "to": "2026-01-31", "as_of": "9999-12-31T23:59:59Z"},
            "as_of",
        ),
        ("/v1/statistics/units", {"from": "1989-12-31", "to": "1990-01-01"}, "from"),
        ("/v1/statistics/units", {"from": "8999-12-31", "to": "9999-12-31"}, "to"),
    ],
)
async def test_a_time_or_date_outside_any_ledgers_life_is_400_naming_the_range(
    both: Api, path: str, params: dict[str, str], name: str
) -> None:
    case = await both.register()
    body = refused(await read(both, path, params, case.id), *name.split(","))
    assert "1990-01-01" in body["detail"]
    assert "9000" in body["detail"] or "8999" in body["detail"]


async def test_the_edges_of_the_allowed_range_are_answered(both: Api) -> None:
    case = await both.register()
    early = await read(both, f"/v1/cases/{CASE}", {"as_of": "1990-01-01T08:00:00+08:00"}, case.id)
    assert problem(early, 404, "CASE_NOT_FOUND_AS_OF")
    late = await read(both, "/v1/cases", {"received_from": "1990-01-01T00:00:00Z"}, "")
    assert late.status_code == 200, late.text
    period = {"from": "1990-01-01", "to": "1999-12-31"}
    report = await read(both, "/v1/inspections/first-responders", period, "")
    assert report.status_code == 200, report.text


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
async def test_a_forged_cursor_with_an_impossible_time_is_an_invalid_cursor(
    both: Api, moment: str
) -> None:
    cursor = _cursor([moment, str(uuid.uuid4())])
    response = await read(both, "/v1/cases", {"cursor": cursor}, "")
    problem(response, 400, "INVALID_CURSOR")


async def test_a_cosignature_over_a_size_beyond_any_position_is_400_naming_size(
    api: Api, head: Any
) -> None:
    """A size beyond 64 bits reached the database ("a number in the request is out of
    range")."""
    await api.register()
    latest = await signed_checkpoint(api, 1)
    before = await head()
    for size in (str(2**63), "0"):
        response = await api.client.post(
            f"/v1/ledger/checkpoints/{size}/cosign",
            json={"signature": "— not a signature"},
            headers=bearer(WITNESS),
        )
        refused(response, "size", source="path")
    assert await head() == before
    after = (await api.get(INSPECTOR, "/v1/ledger/checkpoint")).json()
    assert after["cosigned_by"] == latest["cosigned_by"]


# -- 3. missing required parameters ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "name", "who"),
    [
        ("/v1/inspections/first-responders", {"to": "2026-12-31"}, "from", INSPECTOR),
        ("/v1/inspections/first-responders", {"from": "2026-12-31"}, "to", INSPECTOR),
        ("/v1/ledger/proofs/consistency", {"from": "1"}, "to", AUDITOR),
        ("/v1/ledger/proofs/consistency", {"to": "1"}, "from", AUDITOR),
        ("/v1/ledger/proofs/inclusion", {}, "position", AUDITOR),
    ],
)
async def test_a_missing_required_query_parameter_is_400_naming_it(
    api: Api, path: str, params: dict[str, str], name: str, who: Any
) -> None:
    response = await api.client.get(path, params=params, headers=bearer(who))
    body = refused(response, name)
    assert "required" in body["errors"][0]["message"]
    assert "body" not in body["detail"]


async def test_a_missing_required_header_is_400_naming_it() -> None:
    """No route of the ledger requires a header yet; the problem mapping is ready for one."""

    @get("/needs-a-header")
    async def needs(
        token: Annotated[str, HeaderParameter(name="X-Ledger-Token")],
    ) -> str:
        return token

    app = Litestar([needs], exception_handlers={Exception: problem_response})
    async with AsyncTestClient(app) as client:
        body = refused(await client.get("/needs-a-header"), "X-Ledger-Token", source="header")
        assert "required" in body["errors"][0]["message"]
        assert (await client.get("/needs-a-header", headers={"X-Ledger-Token": "t"})).text == "t"


# -- 4. strictly typed query values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        (f"/v1/cases/{CASE}", {"as_of": "99999999999"}, "as_of"),  # a Unix time, not RFC 3339
        (f"/v1/cases/{CASE}", {"as_of": "1e9"}, "as_of"),
        (f"/v1/cases/{CASE}", {"as_of": "2026-01-01"}, "as_of"),
        (f"/v1/cases/{CASE}", {"as_of": "2026-01-01T00:00:00"}, "as_of"),  # naive
        (f"/v1/cases/{CASE}", {"as_of": "2026-01-01T00:00:00 08:00"}, "as_of"),  # + unescaped
        (f"/v1/cases/{CASE}/trail", {"as_of": "1767225600"}, "as_of"),
        ("/v1/cases", {"received_from": "1700000000"}, "received_from"),
        ("/v1/cases", {"received_to": "1700000000.5"}, "received_to"),
        ("/v1/cases", {"due_within": "3.0"}, "due_within"),
        (
            "/v1/cases",
            {"statistic": "closed", "statistic_from": "20260101", "statistic_to": "2026-01-31"},
            "statistic_from",
        ),
        # The 台账 takes the list's filters from the same declarations, checked the same way.
        ("/v1/exports/cases.xlsx", {"received_from": "1700000000"}, "received_from"),
        ("/v1/exports/cases.xlsx", {"due_within": "1e0"}, "due_within"),
        ("/v1/inspections/first-responders", {"from": "20260101", "to": "2026-01-31"}, "from"),
        (
            "/v1/inspections/first-responders",
            {"from": "2026-01-01", "to": "2026-01-31", "as_of": "1767225600"},
            "as_of",
        ),
        (f"/v1/cases/{CASE}", {"version": "1.0"}, "version"),
        (f"/v1/cases/{CASE}", {"version": "1e0"}, "version"),
        (f"/v1/cases/{CASE}", {"version": "01"}, "version"),
        ("/v1/cases", {"limit": "5.0"}, "limit"),
        ("/v1/events/stream", {"after": "1.0", "timeout": "0.1"}, "after"),
        ("/v1/events/stream", {"max_events": "1e1", "timeout": "0.1"}, "max_events"),
    ],
)
async def test_a_query_value_of_another_form_is_400_naming_it(
    api: Api, path: str, params: dict[str, str], name: str
) -> None:
    case = await api.register()
    response = await api.client.get(
        path.replace(CASE, case.id), params=params, headers=bearer(AUDITOR)
    )
    refused(response, name)


async def test_a_number_for_a_proof_position_must_be_a_plain_integer(api: Api) -> None:
    for params in ({"position": "1.0"}, {"position": "1", "size": "1e0"}):
        response = await api.client.get(
            "/v1/ledger/proofs/inclusion", params=params, headers=bearer(AUDITOR)
        )
        refused(response, next(k for k, v in params.items() if not v.isdigit()))


async def test_well_formed_times_and_integers_are_still_answered(api: Api) -> None:
    case = await api.register()
    for params in (
        {"version": "1"},
        {"as_of": "2099-01-01T00:00:00Z"},
        {"as_of": "2099-01-01t00:00:00.123456+08:00"},
    ):
        response = await api.get(AUDITOR, f"/v1/cases/{case.id}", **params)
        assert response.status_code == 200, (params, response.text)
    listing = await api.get(
        AUDITOR,
        "/v1/cases",
        received_from="2020-01-01T00:00:00+08:00",
        received_to="2099-01-01T00:00:00-05:00",
        limit="10",
    )
    assert listing.status_code == 200, listing.text


# -- 5. If-Match ---------------------------------------------------------------------------------


@pytest.mark.parametrize("if_match", ['"2', '2"', '""2', '"2""'])
async def test_an_if_match_with_unbalanced_quotes_is_400_and_nothing_is_recorded(
    api: Api, head: Any, if_match: str
) -> None:
    case = await api.register()
    before = await head()
    response = await api.client.post(
        f"/v1/cases/{case.id}/classify",
        json={"classification": "general", "route": 5, "reason": "欠费争议"},
        headers={**bearer(INTAKE), "If-Match": if_match},
    )
    assert "If-Match" in problem(response, 400, "INVALID_IF_MATCH")["detail"]
    assert await head() == before


# -- 6. charset ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=latin-1",
        "application/json;charset=ISO-8859-1",
        'application/json; charset="utf-16"',
    ],
)
async def test_a_json_body_in_another_charset_is_415_naming_it(
    api: Api, head: Any, content_type: str
) -> None:
    before = await head()
    response = await api.client.post(
        "/v1/cases",
        content=json.dumps(registration()).encode(),
        headers={**bearer(INTAKE), "Content-Type": content_type},
    )
    body = problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    charset = content_type.rpartition("=")[2].strip('"').lower()
    assert charset in body["detail"].lower()
    assert await head() == before


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/json;charset=utf8",
    ],
)
async def test_a_json_body_said_to_be_utf8_is_read(api: Api, head: Any, content_type: str) -> None:
    before = await head()
    response = await api.client.post(
        "/v1/cases",
        content=json.dumps(registration()).encode(),
        headers={**bearer(INTAKE), "Content-Type": content_type},
    )
    assert response.status_code == 201, response.text
    assert await head() == before + 1


# -- 7. an inverted period -----------------------------------------------------------------------


async def test_a_list_period_that_ends_before_it_starts_is_400_naming_both(both: Api) -> None:
    params = {"received_from": "2026-02-01T00:00:00+08:00", "received_to": "2026-01-01T00:00:00Z"}
    body = refused(await read(both, "/v1/cases", params, ""), "received_from", "received_to")
    assert "before" in body["detail"]
    same = {"received_from": params["received_to"], "received_to": params["received_to"]}
    assert (await read(both, "/v1/cases", same, "")).status_code == 200


async def test_an_inspection_period_that_ends_before_it_starts_names_both(api: Api) -> None:
    response = await api.get(
        INSPECTOR, "/v1/inspections/first-responders", **{"from": "2026-02-01", "to": "2026-01-01"}
    )
    refused(response, "from", "to")


# -- Last-Event-ID -------------------------------------------------------------------------------


@pytest.mark.parametrize("last", ["-1", "1.0", " 1 2", "1" * 19])
async def test_a_last_event_id_that_is_no_position_is_400(api: Api, last: str) -> None:
    response = await api.client.get(
        "/v1/events/stream",
        params={"timeout": "0.1"},
        headers={**bearer(AUDITOR), "Last-Event-ID": last},
    )
    problem(response, 400, "INVALID_LAST_EVENT_ID")


@pytest.mark.parametrize("last", ["\xb2", "\xb9", "١"])
def test_a_last_event_id_of_other_digits_is_refused_not_an_error(last: str) -> None:
    """Header bytes are latin-1: b"\\xb2" arrives as "²", a digit to ``str.isdigit`` and
    no integer to ``int`` (a 500). The test client cannot send it raw."""
    with pytest.raises(ApiProblem) as refusal:
        _last_event_id(last, None)
    assert refusal.value.code == "INVALID_LAST_EVENT_ID"
    assert _last_event_id(" 12 ", None) == 12
