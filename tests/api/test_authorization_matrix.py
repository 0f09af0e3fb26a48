"""Every write route × every role: allowed, or refused with 403 FORBIDDEN_ROLE — as API.md says.

The table below is the specification, written out from API.md's role table on purpose rather
than imported from ``ledger.commands``: if the two drift apart, this test says so. Each request
carries an empty body, so an allowed role gets past the guard and is then refused for the body
(422) — and nothing is ever recorded (accept, whose body is all optional, is refused by the
lifecycle instead: no transfer awaits acceptance). The whole-ledger verification routes, which
take no body, are in a table of their own.
"""

from __future__ import annotations

from uuid import uuid4

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.api.support import ONE_ROLE, Api, bearer

ALL = set(ONE_ROLE)
MAY = {
    "register": {"intake"},
    "classify": {"intake", "handler"},
    "reclassify": {"intake", "handler", "office"},
    "transfer": {"intake", "handler", "office"},
    "accept": {"handler", "office"},
    "return": {"handler", "office"},
    "decide": {"intake", "handler", "office"},
    "consult": {"handler", "office"},
    "escalate": {"intake", "handler", "office"},
    "urge": {"office"},
    "extend": {"handler", "office"},
    "demand-notice": {"enforcement"},
    "confirm-arrears": {"enforcement"},
    "refer-to-court": {"enforcement"},
    "court-outcome": {"enforcement"},
    "feedback": {"intake", "handler", "office"},
    "close": {"intake", "handler", "office"},
    "reopen": {"office"},
    "follow-up": {"intake", "handler", "office"},
    "follow-up-resolved": {"office"},
    "record-assignment": {"intake", "handler", "office"},
    "reply-to-assignment": {"intake", "handler", "office"},
    "link": {"intake", "handler", "office"},
    "correct": {"intake", "handler", "office", "enforcement"},
    "reveal": {"auditor"},
    "complete-task": {"intake", "handler", "office", "enforcement"},
    # The meetings of the leading group (四): the office writes.
    "meetings": {"office"},
    "meetings/minutes": {"office"},
    "meetings/report": {"office"},
}


async def test_every_write_route_admits_exactly_the_roles_of_api_md(
    client: AsyncTestClient[Litestar], api: Api
) -> None:
    case = await api.register()
    head_before = await _head(client)
    refused: dict[str, set[str]] = {}
    for verb, allowed in MAY.items():
        path = "/v1/cases" if verb == "register" else f"/v1/cases/{case.id}/{verb}"
        if verb.startswith("meetings"):  # no such meeting: past the guard, 404 (or 422)
            path = "/v1/" + verb.replace("/", f"/{case.id}/")
        for role, actor in ONE_ROLE.items():
            headers = {**bearer(actor), "If-Match": f'"{case.version}"'}
            response = await client.post(path, content=b"{}", headers=headers)
            body = response.json()
            assert response.status_code != 401, body
            if response.status_code == 403 and body["code"] == "FORBIDDEN_ROLE":
                refused.setdefault(verb, set()).add(role)
            else:  # past the guard, refused for the empty body or the case's state
                assert response.status_code in (404, 409, 422), (verb, role, body)
        assert refused.get(verb, set()) == ALL - allowed, verb
    assert await _head(client) == head_before  # no refusal recorded anything


# The whole-ledger verification routes (no body): auditors only. A job started here is no event.
AUDIT_MAY = {
    ("GET", "/v1/ledger/verify"): {"auditor"},
    ("POST", "/v1/ledger/verifications"): {"auditor"},
    ("GET", f"/v1/ledger/verifications/{uuid4()}"): {"auditor"},  # allowed: 404, no such job
}


async def test_whole_ledger_verification_admits_exactly_the_auditor(
    client: AsyncTestClient[Litestar], api: Api
) -> None:
    await api.register()
    head_before = await _head(client)
    for (method, path), allowed in AUDIT_MAY.items():
        refused = set()
        for role, actor in ONE_ROLE.items():
            response = await client.request(method, path, headers=bearer(actor))
            if response.status_code == 403:
                assert response.json()["code"] == "FORBIDDEN_ROLE"
                refused.add(role)
            else:
                assert response.status_code in (200, 202, 404), (path, role, response.text)
        assert refused == ALL - allowed, path
    assert await _head(client) == head_before


# The exports admit the roles of the reads they export (API.md; issue 17).
_READ_CASES = {"intake", "handler", "office", "enforcement", "auditor", "inspector"}
_REPORTS = {"office", "inspector", "auditor"}
_PERIOD = {"from": "2026-01-01", "to": "2026-12-31"}
EXPORTS = {
    "/v1/exports/cases.xlsx": (_READ_CASES, {}),
    "/v1/exports/inspection.xlsx": (_REPORTS, _PERIOD),
    "/v1/exports/statistics.xlsx": (_REPORTS, _PERIOD),
}


async def test_every_export_admits_exactly_the_roles_of_its_read(
    client: AsyncTestClient[Litestar], api: Api
) -> None:
    await api.register()
    for path, (allowed, params) in EXPORTS.items():
        admitted = set()
        for role, actor in ONE_ROLE.items():
            head_before = await _head(client)
            response = await client.get(path, params=params, headers=bearer(actor))
            if response.status_code == 403:
                assert response.json()["code"] == "FORBIDDEN_ROLE", (path, role)
                assert await _head(client) == head_before  # a refusal records nothing
            else:
                assert response.status_code == 200, (path, role, response.text)
                assert await _head(client) == head_before + 1  # the export's record
                admitted.add(role)
        assert admitted == allowed, path


@pytest.mark.parametrize("path", ["/v1/cases", "/v1/events/stream", "/v1/reference"])
async def test_the_witness_reads_nothing_but_checkpoints(
    client: AsyncTestClient[Litestar], path: str
) -> None:
    if path == "/v1/reference":  # reference data is for every member of staff
        assert (await client.get(path, headers=bearer(ONE_ROLE["witness"]))).status_code == 200
        return
    response = await client.get(path, headers=bearer(ONE_ROLE["witness"]))
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN_ROLE"


async def test_inspectors_read_views_and_trails_but_not_the_event_history(
    client: AsyncTestClient[Litestar], api: Api
) -> None:
    case = await api.register()
    inspector = bearer(ONE_ROLE["inspector"])
    assert (await client.get(f"/v1/cases/{case.id}", headers=inspector)).status_code == 200
    events = await client.get(f"/v1/cases/{case.id}/events", headers=inspector)
    assert events.status_code == 403


async def _head(client: AsyncTestClient[Litestar]) -> int:
    ready = await client.get("/ready")
    head: int = ready.json()["head"]
    return head
