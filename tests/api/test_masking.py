"""个人信息保护法: payer identifiers and phones are masked for everyone who does not need them.

Unmasked for: the holding unit's intake and handler staff, the office on major cases, the city tax
bureau's enforcement staff. An auditor reveals one case's identifiers on the record.
"""

from __future__ import annotations

import base64
from typing import Any

import msgspec

from ledger.domain.actor import Actor
from tests.api.support import (
    AUDITOR,
    CLASSIFY,
    ENFORCEMENT,
    HANDLER,
    IDENTIFIER,
    INSPECTOR,
    INTAKE,
    OFFICE,
    OTHER_HANDLER,
    PHONE,
    Api,
    bearer,
    held_by_hrss,
    listed,
)

MASKED_ID = IDENTIFIER[:4] + "*" * 10 + IDENTIFIER[-4:]
MASKED_PHONE = PHONE[:3] + "****" + PHONE[-4:]


async def payer_seen_by(api: Api, actor: Any, case_id: str) -> dict[str, Any]:
    response = await api.get(actor, f"/v1/cases/{case_id}")
    assert response.status_code == 200
    payer: dict[str, Any] = response.json()["payer"]
    return payer


def unmasked(payer: dict[str, Any]) -> bool:
    return payer["identifier"] == IDENTIFIER and payer["phone"] == PHONE


def masked(payer: dict[str, Any]) -> bool:
    return payer["identifier"] == MASKED_ID and payer["phone"] == MASKED_PHONE


async def test_only_the_holding_unit_and_enforcement_see_the_payer_unmasked(api: Api) -> None:
    case = await held_by_hrss(api)  # received by tax.hall, now held by hrss.social_insurance
    assert unmasked(await payer_seen_by(api, HANDLER, case.id))
    assert unmasked(await payer_seen_by(api, ENFORCEMENT, case.id))
    for reader in (INTAKE, OTHER_HANDLER, OFFICE, AUDITOR, INSPECTOR):
        assert masked(await payer_seen_by(api, reader, case.id)), reader.staff_id


async def test_the_office_sees_the_payer_of_a_major_case(api: Api) -> None:
    case = await api.register()
    await api.do(INTAKE, case, "classify", {**CLASSIFY, "classification": "major"})
    assert unmasked(await payer_seen_by(api, OFFICE, case.id))


async def test_event_history_and_stream_mask_the_registration(api: Api) -> None:
    case = await held_by_hrss(api)
    events = (await api.get(AUDITOR, f"/v1/cases/{case.id}/events")).json()
    assert masked(events[0]["data"]["payer"])
    own = (await api.get(HANDLER, f"/v1/cases/{case.id}/events")).json()
    assert unmasked(own[0]["data"]["payer"])
    stream = await api.client.get(
        "/v1/events/stream", params={"max_events": 1}, headers=bearer(HANDLER)
    )
    assert IDENTIFIER not in stream.text
    assert MASKED_ID in stream.text


async def test_list_views_are_masked_per_case(api: Api) -> None:
    case = await api.register()
    page = await listed(api, AUDITOR, case.id)
    assert masked(page["payer"])
    assert unmasked((await listed(api, INTAKE, case.id))["payer"])


async def test_an_auditor_reveals_identifiers_on_the_record(api: Api) -> None:
    case = await held_by_hrss(api)
    reason = "审计抽查：核对缴费人身份"
    response = await api.post(AUDITOR, case, "reveal", {"reason": reason})
    assert response.status_code == 200, response.text
    body = response.json()
    assert unmasked(body["payer"])
    assert body["revealed_by"] == AUDITOR.staff_id
    assert body["reason"] == reason
    assert response.headers["etag"] == f'"{case.version + 1}"'
    events = (await api.get(AUDITOR, f"/v1/cases/{case.id}/events")).json()
    revealed = events[-1]
    assert revealed["topic"] == "ledger.IdentifiersRevealed"
    assert revealed["data"]["reason"] == reason
    assert revealed["data"]["actor"]["staff_id"] == AUDITOR.staff_id
    assert revealed["position"] == body["position"]
    # The reveal answered one request; the auditor's views stay masked.
    assert masked(await payer_seen_by(api, AUDITOR, case.id))


async def test_an_evidence_bundle_needs_the_auditors_own_reveal(api: Api) -> None:
    """A bundle carries the events as stored (their hashes cover the identifiers): an auditor
    gets one only after revealing the case's identifiers on the record."""
    case = await held_by_hrss(api)
    path = f"/v1/cases/{case.id}/evidence"
    refused = await api.get(AUDITOR, path)
    assert (refused.status_code, refused.json()["code"]) == (403, "REVEAL_REQUIRED")
    assert f"/v1/cases/{case.id}/reveal" in refused.json()["detail"]
    colleague = Actor(**{**msgspec.structs.asdict(AUDITOR), "staff_id": "A0002"})
    assert (await api.post(colleague, case, "reveal", {"reason": "抽查"})).status_code == 200
    case.version += 1
    assert (await api.get(AUDITOR, path)).json()["code"] == "REVEAL_REQUIRED"
    assert (await api.post(AUDITOR, case, "reveal", {"reason": "出具证据材料"})).status_code == 200
    bundle = await api.get(AUDITOR, path)
    assert bundle.status_code == 200, bundle.text
    assert bundle.json()["events"][-1]["version"] == case.version + 1
    assert IDENTIFIER.encode() in base64.b64decode(bundle.json()["events"][0]["state"])


async def test_only_auditors_reveal_and_only_with_a_reason(api: Api) -> None:
    case = await api.register()
    refused = await api.post(INSPECTOR, case, "reveal", {"reason": "好奇"})
    assert (refused.status_code, refused.json()["code"]) == (403, "FORBIDDEN_ROLE")
    empty = await api.post(AUDITOR, case, "reveal", {"reason": ""})
    assert empty.status_code == 422
    missing = await api.client.post(
        f"/v1/cases/{case.id}/reveal", json={"reason": "核对"}, headers=bearer(AUDITOR)
    )
    assert missing.status_code == 428
