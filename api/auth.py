"""Authentication: an HS256 bearer token whose claims become the ledger's Actor.

Identity comes from the token, never from a request body (ARCHITECTURE.md decision 6): the claims
``sub`` (staff id), ``name``, ``unit``, ``department``, ``jurisdiction`` and ``roles`` are the
Actor that every event records and every rule checks. A token whose claims do not make a valid
Actor is refused like a forged one (401): a guess at the missing parts would put words in a
member of staff's mouth.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import JWTAuth, Token

from ledger.domain.actor import Actor
from ledger.domain.codes import Department, Role

ALGORITHM = "HS256"
# Only these paths answer without a token: probes and the API's own description.
PUBLIC_PATHS = ["^/health$", "^/ready$", "^/schema"]

_Name = msgspec.Meta(min_length=1, max_length=200)


class StaffClaims(msgspec.Struct, frozen=True, kw_only=True):
    """The claims beside ``sub`` that make an Actor (unknown extra claims are ignored)."""

    name: str
    unit: str
    department: Department
    roles: list[Role]
    jurisdiction: str | None = None


class StaffToken(Token):
    """Litestar's Token, refusing with 401 whatever its stock decoder would let escape.

    A correctly signed token with an absurd ``exp`` (year 10000) makes the stock decoder raise
    OverflowError; the API promises a 4xx for every bad input.
    """

    @classmethod
    def decode(cls, *args: Any, **kwargs: Any) -> StaffToken:
        try:
            return super().decode(*args, **kwargs)
        except NotAuthorizedException:
            raise
        except (ValueError, OverflowError, TypeError) as exc:
            raise NotAuthorizedException("Invalid token") from exc


def actor_from_claims(sub: str, claims: dict[str, Any]) -> Actor:
    try:
        staff = msgspec.convert(claims, StaffClaims)
    except msgspec.ValidationError as exc:
        raise NotAuthorizedException(f"token claims: {exc}") from None
    if not all(s.strip() for s in (sub, staff.name, staff.unit)):
        raise NotAuthorizedException("token claims: sub, name and unit must not be blank")
    return Actor(
        staff_id=sub,
        name=staff.name,
        unit=staff.unit,
        department=staff.department,
        roles=tuple(dict.fromkeys(staff.roles)),
        jurisdiction=staff.jurisdiction or None,
    )


async def retrieve_actor(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    return actor_from_claims(token.sub, token.extras)


def jwt_auth(secret: str) -> JWTAuth[Actor, StaffToken]:
    return JWTAuth[Actor, StaffToken](
        token_secret=secret,
        algorithm=ALGORITHM,
        retrieve_user_handler=retrieve_actor,
        token_cls=StaffToken,
        require_claims=["exp", "sub"],
        exclude=PUBLIC_PATHS,
        # HEAD is not excluded (Litestar's default): a guard would then meet no user at all.
        exclude_http_methods=["OPTIONS"],
        description="Bearer JWT (HS256) with claims sub, name, unit, department, "
        "jurisdiction, roles. `ledger token …` issues development tokens.",
    )


def issue_token(secret: str, actor: Actor, *, hours: float = 8.0) -> str:
    """A signed token for ``actor`` with flat claims (as an identity provider would issue)."""
    now = datetime.now(UTC).replace(microsecond=0)
    claims: dict[str, Any] = {
        "sub": actor.staff_id,
        "name": actor.name,
        "unit": actor.unit,
        "department": actor.department.value,
        "roles": [r.value for r in actor.roles],
        "iat": now,
        "exp": now + timedelta(hours=hours),
    }
    if actor.jurisdiction:
        claims["jurisdiction"] = actor.jurisdiction
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
