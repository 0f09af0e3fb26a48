"""Verified tokens are remembered, but never beyond their expiry and never for another token."""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import UTC, datetime, timedelta

import jwt
from litestar import Litestar
from litestar.middleware.authentication import AuthenticationResult
from litestar.security.jwt import Token
from litestar.testing import AsyncTestClient

from api.auth import ALGORITHM, VerifiedTokens
from tests.api.support import AUDITOR, SECRET


def _claims(exp: datetime) -> dict[str, object]:
    return {
        "sub": AUDITOR.staff_id,
        "name": AUDITOR.name,
        "unit": AUDITOR.unit,
        "department": AUDITOR.department.value,
        "roles": [r.value for r in AUDITOR.roles],
        "iat": datetime.now(UTC).replace(microsecond=0),
        "exp": exp,
    }


def _result(exp: datetime) -> AuthenticationResult:
    return AuthenticationResult(user=AUDITOR, auth=Token(exp=exp, sub=AUDITOR.staff_id))


def test_a_kept_token_is_answered_until_its_expiry_and_not_after() -> None:
    start = float(int(time.time()))
    clock = [start]
    tokens = VerifiedTokens(clock=lambda: clock[0])
    exp = datetime.fromtimestamp(start + 60, UTC)
    tokens.put("a.b.c", _result(exp))
    assert tokens.get("a.b.c") is not None
    clock[0] = start + 59.9
    assert tokens.get("a.b.c") is not None
    clock[0] = start + 60  # the full check refuses at exp too
    assert tokens.get("a.b.c") is None
    assert len(tokens) == 0  # an expired entry is dropped, not kept


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    tokens = VerifiedTokens(size=2, clock=time.time)
    exp = datetime.now(UTC) + timedelta(hours=1)
    tokens.put("one", _result(exp))
    tokens.put("two", _result(exp))
    assert tokens.get("one") is not None  # "two" is now the least recently used
    tokens.put("three", _result(exp))
    assert len(tokens) == 2
    assert tokens.get("two") is None
    assert tokens.get("one") is not None
    assert tokens.get("three") is not None


async def test_a_token_accepted_once_is_refused_once_it_expires(
    client: AsyncTestClient[Litestar],
) -> None:
    exp = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    token = jwt.encode(_claims(exp), SECRET, algorithm=ALGORITHM)
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(2):  # the second time from the cache
        response = await client.get("/v1/cases", headers=headers)
        assert response.status_code == 200, response.text
    await asyncio.sleep(max(0.0, exp.timestamp() - time.time()) + 0.05)
    response = await client.get("/v1/cases", headers=headers)
    assert response.status_code == 401, response.text


async def test_a_token_differing_from_a_kept_one_is_checked_afresh(
    client: AsyncTestClient[Litestar],
) -> None:
    exp = datetime.now(UTC) + timedelta(hours=1)
    token = jwt.encode(_claims(exp), SECRET, algorithm=ALGORITHM)
    assert (await client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})).is_success
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 1
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    for bad in (
        f"{header}.{payload}.{forged}",
        token + "x",
        jwt.encode(_claims(exp), "another-secret-0123456789abcdef!", algorithm=ALGORITHM),
    ):
        response = await client.get("/v1/cases", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401, bad
