"""R10, R12, R13 with R2, R14 and employers as a party, through HTTP on SQLite and PostgreSQL.

Each rule allowed and refused over the real write path; a refusal is a problem+json naming what
is wrong, and the log's head does not move. The last test stores events in the shapes written
before these fields existed and loads, shows and extends that case.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from ledger.bootstrap import open_ledger
from ledger.domain.codes import Department
from ledger.domain.identifiers import make_citizen_id, make_credit_code
from ledger.store.codec import default_mapper, encode_metadata
from tests.api.conftest import settings_for
from tests.api.support import (
    AUDITOR,
    CLASSIFY,
    CONFIRM,
    DECIDE,
    ENFORCEMENT,
    FEEDBACK,
    HANDLER,
    IDENTIFIER,
    INTAKE,
    OFFICE,
    REFER,
    TRANSFER,
    Api,
    Case,
    R,
    bearer,
    demand_notice,
    held_by_hrss,
    problem,
    received_days_ago,
    registration,
    staff,
)
from tests.domain import cases

# A handler of the 便民服务中心 of 广华, the jurisdiction a case is sent to.
CENTRE = staff(
    "G1001",
    "何志明",
    "gov.centre.guanghua",
    Department.GOV,
    R.HANDLER,
    jurisdiction="qj.guanghua",
)
EMPLOYER = {"name": "潜江市兴达建筑工程有限公司", "credit_code": make_credit_code(org="MA4900001")}
PERSON = {
    "kind": "person",
    "name": "陈静",
    "identifier": make_citizen_id(),
    "phone": "13872001234",
}


@pytest.fixture
async def api(database_url: str, key_dir: Path) -> AsyncIterator[Api]:
    """The API over SQLite, then over PostgreSQL."""
    app = create_app(settings_for(database_url, key_dir, checkpoint_seconds=0.2))
    async with AsyncTestClient(app) as client:
        yield Api(client)


async def head(api: Api) -> int:
    value: int = (await api.client.get("/ready")).json()["head"]
    return value


async def events(api: Api, case: Case) -> list[dict[str, Any]]:
    response = await api.get(AUDITOR, f"/v1/cases/{case.id}/events")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def refused(
    api: Api, actor: Any, case: Case, verb: str, body: dict[str, Any], status: int, code: str
) -> dict[str, Any]:
    """A write refused with ``status`` and ``code``; nothing recorded."""
    before = await head(api)
    found = problem(await api.post(actor, case, verb, body), status, code)
    assert await head(api) == before
    return found


async def referred(api: Api) -> Case:
    case = await held_by_hrss(api, received_at=received_days_ago(12))
    await api.do(HANDLER, case, "decide", DECIDE)
    await api.do(ENFORCEMENT, case, "demand-notice", demand_notice(days_ago=11))
    await api.do(ENFORCEMENT, case, "confirm-arrears", CONFIRM)
    await api.do(ENFORCEMENT, case, "refer-to-court", REFER)
    return case


# -- R12 court outcomes --------------------------------------------------------------------------


async def test_one_court_outcome_per_referral_a_different_one_corrects_it(api: Api) -> None:
    case = await referred(api)
    first = {"outcome": "准予执行", "detail": "（2025）鄂0991执审12号"}
    await api.do(ENFORCEMENT, case, "court-outcome", first)
    version = case.version
    duplicate = await refused(
        api, ENFORCEMENT, case, "court-outcome", first, 409, "R12_ONE_COURT_OUTCOME"
    )
    assert duplicate["rule"] == "R12"
    assert f"already recorded (version {version})" in duplicate["detail"]
    other = {"outcome": "不予执行", "detail": "复议后改判"}
    silent = await refused(
        api, ENFORCEMENT, case, "court-outcome", other, 409, "R12_ONE_COURT_OUTCOME"
    )
    assert f"send corrects {version}" in silent["detail"]
    wrong = {**other, "corrects": version - 1}
    await refused(api, ENFORCEMENT, case, "court-outcome", wrong, 409, "R12_ONE_COURT_OUTCOME")
    await api.do(ENFORCEMENT, case, "court-outcome", {**other, "corrects": version})
    recorded = [
        e["data"] for e in await events(api, case) if e["topic"].endswith("CourtOutcomeRecorded")
    ]
    assert [(d["outcome"], d["corrects"], d["after_closure"]) for d in recorded] == [
        ("准予执行", None, False),
        ("不予执行", version, False),
    ]


async def test_a_ruling_after_closure_is_recorded_late_and_the_case_stays_closed(api: Api) -> None:
    case = await referred(api)
    await api.do(HANDLER, case, "feedback", FEEDBACK)
    await api.do(HANDLER, case, "close", {"summary": "已申请法院强制执行，办结"})
    view = await api.do(ENFORCEMENT, case, "court-outcome", {"outcome": "准予执行"})
    assert view["status"] == "closed"
    last = (await events(api, case))[-1]
    assert (last["topic"], last["data"]["after_closure"]) == ("ledger.CourtOutcomeRecorded", True)


async def test_a_correction_names_a_positive_version(api: Api) -> None:
    case = await referred(api)
    body = problem(
        await api.post(ENFORCEMENT, case, "court-outcome", {"outcome": "准予执行", "corrects": 0}),
        422,
        "VALIDATION_FAILED",
    )
    assert body["errors"][0]["field"] == "corrects"


# -- R14 demand notices --------------------------------------------------------------------------


async def test_a_demand_notice_may_predate_the_case_and_carries_its_document_number(
    api: Api,
) -> None:
    case = await held_by_hrss(api, received_at=received_days_ago(5))
    await api.do(HANDLER, case, "decide", DECIDE)
    notice = demand_notice(days_ago=45, document_number="潜税社费催〔2025〕7号")
    await api.do(ENFORCEMENT, case, "demand-notice", notice)
    data = (await events(api, case))[-1]["data"]
    assert data["document_number"] == "潜税社费催〔2025〕7号"
    assert datetime.fromisoformat(data["served_at"]) == datetime.fromisoformat(notice["served_at"])
    assert data["employer"]["credit_code"] == IDENTIFIER  # the payer is the employer
    # Served 45 days ago: R5's ten days have passed, whenever the case was received.
    await api.do(ENFORCEMENT, case, "confirm-arrears", CONFIRM)
    assert (await api.do(ENFORCEMENT, case, "refer-to-court", REFER))["status"] == (
        "referred_to_court"
    )


async def test_a_demand_notice_is_refused_after_its_recording_before_1990_or_unnumbered(
    api: Api,
) -> None:
    case = await held_by_hrss(api)
    future = demand_notice(days_ago=-1 / 24)  # an hour from now
    assert (
        "in the future"
        in (await refused(api, ENFORCEMENT, case, "demand-notice", future, 422, "INVALID_COMMAND"))[
            "detail"
        ]
    )
    old = {**demand_notice(0), "served_at": datetime(1989, 12, 31, tzinfo=UTC).isoformat()}
    assert (
        "before 1990-01-01"
        in (await refused(api, ENFORCEMENT, case, "demand-notice", old, 422, "INVALID_COMMAND"))[
            "detail"
        ]
    )
    unnumbered = {k: v for k, v in demand_notice(0).items() if k != "document_number"}
    body = await refused(
        api, ENFORCEMENT, case, "demand-notice", unnumbered, 422, "VALIDATION_FAILED"
    )
    assert "document_number" in body["detail"]
    blank = demand_notice(0, document_number="\u3000")
    body = await refused(api, ENFORCEMENT, case, "demand-notice", blank, 422, "INVALID_COMMAND")
    assert "document_number must not be empty" in body["detail"]


# -- employers as a party ------------------------------------------------------------------------


async def test_a_person_s_dispute_with_the_employer_names_the_employer(api: Api) -> None:
    before = await head(api)
    missing = await api.client.post("/v1/cases", json=_registration(), headers=bearer(INTAKE))
    assert "employer" in problem(missing, 422, "R1_REGISTRATION_INVALID")["detail"]
    code = EMPLOYER["credit_code"]
    wrong = {**EMPLOYER, "credit_code": code[:-1] + ("0" if code[-1] != "0" else "1")}
    bad = await api.client.post(
        "/v1/cases", json=_registration(employer=wrong), headers=bearer(INTAKE)
    )
    assert "employer.credit_code" in problem(bad, 422, "R1_REGISTRATION_INVALID")["detail"]
    assert await head(api) == before
    case = await api.register(**_registration(employer={**EMPLOYER, "credit_code": code.lower()}))
    assert (await events(api, case))[0]["data"]["employer"] == EMPLOYER


async def test_a_notice_names_the_employer_when_the_case_does_not(api: Api) -> None:
    case = await api.register(**_registration(category="payment"))
    await api.do(INTAKE, case, "classify", CLASSIFY)
    await api.do(INTAKE, case, "decide", DECIDE)
    body = await refused(
        api, ENFORCEMENT, case, "demand-notice", demand_notice(0), 422, "INVALID_COMMAND"
    )
    assert "employer (name and credit_code) is required" in body["detail"]
    await api.do(ENFORCEMENT, case, "demand-notice", demand_notice(0, employer=EMPLOYER))
    other = {"name": "潜江市盛源化工有限公司", "credit_code": make_credit_code(org="MA4900002")}
    body = await refused(
        api,
        ENFORCEMENT,
        case,
        "demand-notice",
        demand_notice(0, employer=other),
        422,
        "INVALID_COMMAND",
    )
    assert "belongs to a case of its own" in body["detail"]
    assert (await events(api, case))[-1]["data"]["employer"] == EMPLOYER


# -- R13 and R2: no stranded case ----------------------------------------------------------------


async def test_a_case_is_classified_before_a_transfer_to_a_unit(api: Api) -> None:
    case = await api.register()
    body = await refused(
        api, INTAKE, case, "transfer", TRANSFER, 409, "R13_CLASSIFY_BEFORE_TRANSFER"
    )
    assert body["rule"] == "R13"
    await api.do(INTAKE, case, "classify", CLASSIFY)
    await api.do(INTAKE, case, "transfer", TRANSFER)


async def test_the_unit_accepting_an_unclassified_out_of_jurisdiction_case_classifies_it(
    api: Api,
) -> None:
    case = await api.register()
    await api.do(INTAKE, case, "transfer", {"to_jurisdiction": "qj.guanghua", "reason": "非本辖区"})
    await api.do(CENTRE, case, "accept", {"note": "辖区签收"})
    body = await refused(api, INTAKE, case, "classify", CLASSIFY, 409, "R2_NOT_FIRST_RESPONDER")
    assert "gov.centre.guanghua" in body["detail"]
    assert (await api.do(CENTRE, case, "classify", CLASSIFY))["classification"] == "general"
    assert (await api.do(CENTRE, case, "decide", DECIDE))["status"] == "decided"


# -- R10 reclassification ------------------------------------------------------------------------


async def test_a_reclassification_is_requested_then_approved_by_the_office(api: Api) -> None:
    case = await api.register()
    await api.do(INTAKE, case, "classify", CLASSIFY)
    again = {**CLASSIFY, "classification": "major", "route": 3}
    body = await refused(
        api, INTAKE, case, "classify", again, 409, "R10_RECLASSIFICATION_NEEDS_APPROVAL"
    )
    assert "reclassify" in body["detail"]
    request = {"classification": "major", "route": 3, "reason": "跨部门，属重大疑难"}
    await api.do(INTAKE, case, "reclassify", request)
    approve = {"approve": True, "reason": "同意"}
    await refused(
        api, INTAKE, case, "reclassify", approve, 409, "R10_RECLASSIFICATION_NEEDS_APPROVAL"
    )
    both = {**request, "approve": True}
    await refused(api, OFFICE, case, "reclassify", both, 422, "INVALID_COMMAND")
    await api.do(OFFICE, case, "reclassify", approve)
    recorded = await events(api, case)
    classified, decided = recorded[1]["data"], recorded[-1]["data"]
    assert recorded[-1]["topic"] == "ledger.ReclassificationDecided"
    assert (decided["approved"], decided["classification"], decided["route"]) == (True, "major", 3)
    assert decided["previous_due"] == classified["due"]  # the earlier deadline stays on record
    assert decided["due"] > classified["due"]  # major: 30 working days instead of 10
    nothing = await refused(api, OFFICE, case, "reclassify", approve, 409, "INVALID_TRANSITION")
    assert "no reclassification request" in nothing["detail"]


# -- stored events of the previous shapes --------------------------------------------------------


async def test_a_case_stored_in_the_previous_shapes_loads_shows_and_takes_a_correction(
    api: Api, database_url: str, key_dir: Path
) -> None:
    """Registered without employer, a notice without document number or employer, a referral
    without employer, a court outcome without corrects or after_closure, as stored before."""
    served = datetime.now(UTC) - timedelta(days=20)
    case = cases.ready_for_court(served)
    case.refer_to_court(
        ENFORCEMENT, "潜江市人民法院", "强制执行", served + timedelta(days=11), cases.CONTEXT
    )
    case.record_court_outcome(
        ENFORCEMENT, "准予执行", "", served + timedelta(days=12), cases.CONTEXT
    )
    mapper = default_mapper()
    old_fields = {"employer", "document_number", "corrects", "after_closure"}
    stored = []
    for domain_event in case.collect_events():
        new = mapper.to_new_event(domain_event, encode_metadata({"request_id": "before-r14"}))
        shape = {k: v for k, v in msgspec.json.decode(new.state).items() if k not in old_fields}
        stored.append(msgspec.structs.replace(new, state=msgspec.json.encode(shape)))
    settings = settings_for(database_url, key_dir)
    async with open_ledger(settings) as ledger:
        await ledger.store.append(case.id, 0, stored)
    old = Case(str(case.id), len(stored))

    recorded = await events(api, old)
    notice = next(e for e in recorded if e["topic"] == "ledger.DemandNoticeServed")
    assert "document_number" not in notice["data"]  # as it was stored
    view = (await api.get(AUDITOR, f"/v1/cases/{old.id}")).json()
    assert (view["version"], view["status"]) == (len(stored), "referred_to_court")
    # The aggregate folds them: a different outcome corrects the stored one.
    await refused(
        api,
        ENFORCEMENT,
        old,
        "court-outcome",
        {"outcome": "准予执行"},
        409,
        "R12_ONE_COURT_OUTCOME",
    )
    await api.do(
        ENFORCEMENT, old, "court-outcome", {"outcome": "不予执行", "corrects": len(stored)}
    )
    assert (await events(api, old))[-1]["data"]["corrects"] == len(stored)


def _registration(**changes: Any) -> dict[str, Any]:
    """A registration by a person (职工), of an employee_employer dispute unless changed."""
    return registration(payer=PERSON, **changes)


# -- R11: authority from the reference data ------------------------------------------------------

STATION = staff(
    "T5001",
    "钱进",
    "tax.station.guanghua",
    Department.TAX,
    R.ENFORCEMENT,
    jurisdiction="qj.guanghua",
)


async def test_a_township_station_has_no_authority_of_the_city_tax_bureau(api: Api) -> None:
    case = await held_by_hrss(api, received_at=received_days_ago(3))
    await api.do(HANDLER, case, "decide", DECIDE)
    notice = demand_notice(days_ago=1)
    body = await refused(
        api, STATION, case, "demand-notice", notice, 403, "R11_NO_AUTHORITY_IN_REFERENCE_DATA"
    )
    assert body["rule"] == "R11"
    assert "tax.station.guanghua does not act for the city tax bureau" in body["detail"]
    await api.do(ENFORCEMENT, case, "demand-notice", notice)


async def test_a_jurisdiction_transfer_is_accepted_only_by_a_unit_serving_it(api: Api) -> None:
    case = await api.register()
    await api.do(INTAKE, case, "classify", CLASSIFY)
    await api.do(INTAKE, case, "transfer", {"to_jurisdiction": "qj.guanghua", "reason": "属广华"})
    body = await refused(
        api, HANDLER, case, "accept", {"note": "签收"}, 403, "R11_NO_AUTHORITY_IN_REFERENCE_DATA"
    )
    assert "does not serve" in body["detail"]
    assert (await api.do(CENTRE, case, "accept", {"note": "签收"}))["holding_unit"] == CENTRE.unit
