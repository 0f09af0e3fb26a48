"""What the API tests share: staff with tokens, request bodies, a small client for case writes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from api.auth import issue_token
from ledger.domain.actor import Actor
from ledger.domain.codes import Department, Role
from ledger.domain.identifiers import make_credit_code

SECRET = "api-test-secret-0123456789abcdef"  # not the development secret: PostgreSQL needs that
IDENTIFIER = make_credit_code(org="MA4900777")
PHONE = "13872001234"


def staff(
    staff_id: str, name: str, unit: str, department: Department, *roles: Role, **kw: Any
) -> Actor:
    return Actor(staff_id=staff_id, name=name, unit=unit, department=department, roles=roles, **kw)


T, H, M = Department.TAX, Department.HRSS, Department.MEDICAL
R = Role
INTAKE = staff("T1001", "王丽", "tax.hall", T, R.INTAKE)
HANDLER = staff("H3001", "张伟", "hrss.social_insurance", H, R.HANDLER)
OTHER_HANDLER = staff("M2001", "刘洋", "medical.agency", M, R.HANDLER)
OFFICE = staff("T0001", "周建国", "tax.sif", T, R.OFFICE)
ENFORCEMENT = staff("T4001", "孙磊", "tax.legal", T, R.ENFORCEMENT)
AUDITOR = staff("A0001", "审计员", "tax.office", T, R.AUDITOR)
INSPECTOR = staff("S0001", "督查员", "tax.office", T, R.INSPECTOR)
WITNESS = staff("W0001", "见证人", "hrss.office", H, R.WITNESS)
ONE_ROLE = {
    "intake": INTAKE,
    "handler": HANDLER,
    "office": OFFICE,
    "enforcement": ENFORCEMENT,
    "auditor": AUDITOR,
    "inspector": INSPECTOR,
    "witness": WITNESS,
}


def bearer(actor: Actor, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(secret, actor)}"}


def now() -> datetime:
    return datetime.now(UTC)


def registration(summary: str = "职工反映单位欠缴社会保险费", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "service_window",
        "received_at": (now() - timedelta(minutes=20)).isoformat(),
        "payer": {
            "kind": "employer",
            "name": "潜江市兴达建筑工程有限公司",
            "identifier": IDENTIFIER,
            "phone": PHONE,
        },
        "jurisdiction": "qj.yuanlin",
        "category": "employee_employer",
        "summary": summary,
        "preliminary_opinion": "建议核实欠费后依法处理",
    }
    body.update(changes)
    return body


CLASSIFY = {"classification": "general", "route": 5, "reason": "欠费争议，按职责办理"}
TRANSFER = {"to_unit": "hrss.social_insurance", "reason": "属人社职责"}
DECIDE = {"outcome": "upheld", "finding": "欠费事实清楚", "amount": "52000.00"}
CONFIRM = {"amount": "52000.00", "period_from": "2024-01-01", "period_to": "2024-12-31"}
REFER = {"court": "潜江市人民法院", "reason": "催告期满仍未缴纳"}
FEEDBACK = {
    "channel": "department_hotline",
    "content": "已告知处理结果",
    "satisfaction": "satisfied",
}
ARREARS_PERIOD = (date(2024, 1, 1), date(2024, 12, 31))


def demand_notice(days_ago: float, **changes: Any) -> dict[str, Any]:
    served_at = (now() - timedelta(days=days_ago)).isoformat()
    body = {
        "served_at": served_at,
        "amount": "52000.00",
        "document_number": "潜税社费催〔2025〕12号",
    }
    return body | changes


def received_days_ago(days: float) -> str:
    """A ``received_at`` for a case whose payer came ``days`` ago (a demand notice served
    since then can be that old: nothing in a case happens before it was received)."""
    return (now() - timedelta(days=days)).isoformat()


@dataclass
class Case:
    id: str
    version: int


class Api:
    """Case writes over any httpx client (the in-process test client or a real server)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def register(self, actor: Actor = INTAKE, **changes: Any) -> Case:
        response = await self.client.post(
            "/v1/cases", json=registration(**changes), headers=bearer(actor)
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Case(body["case_id"], body["version"])

    async def post(
        self,
        actor: Actor,
        case: Case,
        verb: str,
        body: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = {**bearer(actor), "If-Match": f'"{case.version}"', **(headers or {})}
        return await self.client.post(f"/v1/cases/{case.id}/{verb}", json=body, headers=sent)

    async def do(self, actor: Actor, case: Case, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        """A write that must succeed; moves ``case`` to the new version."""
        response = await self.post(actor, case, verb, body)
        assert response.status_code == 200, f"{verb}: {response.status_code} {response.text}"
        assert response.headers["etag"] == f'"{case.version + 1}"'
        case.version += 1
        result: dict[str, Any] = response.json()
        return result

    async def get(self, actor: Actor, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params or None, headers=bearer(actor))


async def held_by_hrss(api: Api, **registration_changes: Any) -> Case:
    """A general case registered at tax.hall, transferred to and accepted by hrss."""
    case = await api.register(**registration_changes)
    await api.do(INTAKE, case, "classify", CLASSIFY)
    await api.do(INTAKE, case, "transfer", TRANSFER)
    await api.do(HANDLER, case, "accept", {"note": "签收"})
    return case


async def listed(api: Api, actor: Actor, case_id: str, **filters: Any) -> dict[str, Any]:
    """The case as ``GET /v1/cases`` shows it, once the projection runner has caught up."""
    for _ in range(200):
        page = (await api.get(actor, "/v1/cases", limit=200, **filters)).json()
        found = [item for item in page["items"] if item["case_id"] == case_id]
        if found:
            item: dict[str, Any] = found[0]
            return item
        await asyncio.sleep(0.05)
    raise AssertionError(f"case {case_id} never appeared in the list")


# The claims of a valid token of one member of staff (signed with the tests' SECRET).
STAFF_CLAIMS = {
    "sub": "T1",
    "iat": 1767225600,  # 2026-01-01
    "exp": 4102444800,  # 2100-01-01
    "name": "王丽",
    "unit": "tax.hall",
    "department": "tax",
    "roles": ["intake"],
}


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"]
    assert body["detail"]
    return body


async def signed_checkpoint(api: Api, size: int) -> dict[str, Any]:
    for _ in range(100):
        response = await api.get(INSPECTOR, "/v1/ledger/checkpoint")
        if response.status_code == 200 and response.json()["size"] >= size:
            checkpoint: dict[str, Any] = response.json()
            return checkpoint
        await asyncio.sleep(0.05)
    raise AssertionError(f"no checkpoint of size {size} was signed")
