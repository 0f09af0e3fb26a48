"""Authentication: an HS256 bearer token whose claims become the ledger's Actor.

Identity comes from the token, never from a request body (ARCHITECTURE.md decision 6): the claims
``sub`` (staff id), ``name``, ``unit``, ``department``, ``jurisdiction`` and ``roles`` are the
Actor that every event records and every rule checks. A token whose claims do not make a valid
Actor is refused like a forged one (401): a guess at the missing parts would put words in a
member of staff's mouth.

Authority comes from the reference data, not from the claims: the unit must be one the reference
data defines, and the token's department and jurisdiction must be that unit's (a city-wide unit
has no jurisdiction, so its tokens carry none). A token that disagrees is refused (401) on every
route, reads included, with the disagreement named: it was issued for someone who does not exist.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.authentication import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from ledger.commands import Code
from ledger.domain.actor import Actor
from ledger.domain.codes import Department, Role
from ledger.domain.reference import ReferenceData, StaffMismatch, UnknownUnit

ALGORITHM = "HS256"
# Only these paths answer without a token: probes and the API's own description.
PUBLIC_PATHS = ["^/health$", "^/ready$", "^/schema"]

# What a claim may hold: it is recorded in every event the staff member writes and in the read
# models' text columns (PostgreSQL text cannot hold NUL), so no control characters, and bounded;
# and it is encoded as UTF-8 there, so no surrogates (a lone one, "\ud800", decodes from a token's
# JSON but cannot be encoded: every write of its bearer failed).
_PRINTABLE = r"[^\x00-\x1f\x7f\ud800-\udfff]"
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=f"^{_PRINTABLE}+$")]
_OptionalCode = Annotated[str, msgspec.Meta(max_length=64, pattern=r"^[a-z0-9_.\-]*$")]
# A staff id (the claim ``sub``), also as the pattern of the query parameters naming one.
STAFF_ID_PATTERN = f"^{_PRINTABLE}{{1,64}}$"
_STAFF_ID = re.compile(STAFF_ID_PATTERN)
# A pattern's "$" also matches before a final newline ("王丽\n" passes "^…+$"): each text claim
# is matched whole as well.
_TEXT = re.compile(f"{_PRINTABLE}*")


class StaffClaims(msgspec.Struct, frozen=True, kw_only=True):
    """The claims beside ``sub`` that make an Actor (unknown extra claims are ignored)."""

    name: _Name
    unit: Code
    department: Department
    roles: list[Role]
    jurisdiction: _OptionalCode | None = None  # empty: none, as when absent


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


def actor_from_claims(sub: str, claims: dict[str, Any], reference: ReferenceData) -> Actor:
    try:
        staff = msgspec.convert(claims, StaffClaims)
    except msgspec.ValidationError as exc:
        raise NotAuthorizedException(f"token claims: {exc}") from None
    if not all(s.strip() for s in (sub, staff.name, staff.unit)):
        raise NotAuthorizedException("token claims: sub, name and unit must not be blank")
    if not all(_TEXT.fullmatch(s) for s in (staff.name, staff.unit, staff.jurisdiction or "")):
        raise NotAuthorizedException(
            "token claims: name, unit and jurisdiction must not hold control characters"
        )
    if not _STAFF_ID.fullmatch(sub):
        raise NotAuthorizedException(
            "token claims: sub must be a staff id of 1 to 64 characters, "
            "no control characters or surrogates"
        )
    try:
        reference.check_staff(staff.unit, staff.department, staff.jurisdiction or None)
    except UnknownUnit:
        raise NotAuthorizedException(
            f"token claims: unit {staff.unit!r} is not a unit of the reference data "
            "(GET /v1/reference lists them)"
        ) from None
    except StaffMismatch as exc:
        raise NotAuthorizedException(f"token claims: {exc}") from None
    return Actor(
        staff_id=sub,
        name=staff.name,
        unit=staff.unit,
        department=staff.department,
        roles=tuple(dict.fromkeys(staff.roles)),
        jurisdiction=staff.jurisdiction or None,
    )


class ActorFromToken:
    """Litestar's ``retrieve_user_handler``: the token's Actor, checked against ``reference``."""

    def __init__(self, reference: ReferenceData) -> None:
        self.reference = reference

    async def __call__(self, token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
        return actor_from_claims(token.sub, token.extras, self.reference)


class VerifiedTokens:
    """Tokens already verified, with the Actor they carry, kept until they expire.

    Staff send the same token with every request of their working day; checking its HMAC and
    converting its claims each time was a sizeable part of a write. Only tokens that passed the
    full check are kept, keyed by the exact encoded string (so a token differing in any byte is
    checked afresh), and a kept token is honoured only while ``now < exp`` — the same rule the
    full check applies. The cache is bounded; the least recently used token is dropped first.
    """

    def __init__(self, size: int = 4096, clock: Any = time.time) -> None:
        self._entries: OrderedDict[str, tuple[float, AuthenticationResult]] = OrderedDict()
        self._size, self._clock = size, clock

    def get(self, encoded: str) -> AuthenticationResult | None:
        entry = self._entries.get(encoded)
        if entry is None:
            return None
        expires, result = entry
        if self._clock() >= expires:
            del self._entries[encoded]
            return None
        self._entries.move_to_end(encoded)
        return result

    def put(self, encoded: str, result: AuthenticationResult) -> None:
        token = result.auth
        if not isinstance(token, Token):
            return
        self._entries[encoded] = (token.exp.timestamp(), result)
        self._entries.move_to_end(encoded)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class CachingJWTMiddleware(JWTAuthenticationMiddleware):
    """Litestar's JWT middleware, answering a token it has verified before from ``tokens``."""

    tokens: VerifiedTokens  # set per application by ``jwt_auth``

    async def authenticate_token(
        self, encoded_token: str, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        cached = self.tokens.get(encoded_token)
        if cached is not None:
            return cached
        result = await super().authenticate_token(encoded_token, connection)
        self.tokens.put(encoded_token, result)
        return result


def jwt_auth(
    secret: str, reference: ReferenceData, tokens: VerifiedTokens | None = None
) -> JWTAuth[Actor, StaffToken]:
    # One cache per application: Litestar may instantiate the middleware more than once.
    middleware = type(
        "CachingJWTMiddleware",
        (CachingJWTMiddleware,),
        {"tokens": tokens if tokens is not None else VerifiedTokens()},
    )
    return JWTAuth[Actor, StaffToken](
        authentication_middleware_class=middleware,
        token_secret=secret,
        algorithm=ALGORITHM,
        retrieve_user_handler=ActorFromToken(reference),
        token_cls=StaffToken,
        require_claims=["exp", "sub"],
        exclude=PUBLIC_PATHS,
        # HEAD is not excluded (Litestar's default): a guard would then meet no user at all.
        exclude_http_methods=["OPTIONS"],
        description="Bearer JWT (HS256) with claims sub, name, unit, department, "
        "jurisdiction, roles. The unit must be one of GET /v1/reference, and department and "
        "jurisdiction must be that unit's (none for a city-wide unit), else 401. "
        "`ledger token …` issues development tokens.",
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
