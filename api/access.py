"""Authorization by role: the guard that lets a route's roles through, and the actor it checks.

A guard decides only *which kind of staff* may call a route. Whether *this* member of staff may
act on *this* case — the holding unit (R4), the first responder (R2), the city tax bureau (R5),
the leading-group office (R9) — is the domain's to decide, and is refused there with the rule's
code. The two refusals are told apart by ``code``: ``FORBIDDEN_ROLE`` here,
``R4_NOT_HOLDING_UNIT`` (also 403) from the domain.

The roles of each route sit next to the route: the write routes take theirs from the command
catalogue (``ledger.commands``), the reads and the audit routes declare theirs in their modules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.types import Guard

from api.problems import ApiProblem
from ledger.domain.actor import Actor
from ledger.domain.codes import Role

# Reference data and the ledger's checkpoint: any authenticated member of staff.
ANY_ROLE = frozenset(Role)


def actor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    user = connection.user
    if not isinstance(user, Actor):  # the auth middleware sets it on every non-public route
        raise ApiProblem(401, "UNAUTHENTICATED", "a valid bearer token is required")
    return user


def require(connection: ASGIConnection[Any, Any, Any, Any], roles: Iterable[Role]) -> None:
    """Refuse (403) an actor holding none of ``roles``."""
    allowed = frozenset(roles)
    actor = actor_of(connection)
    if allowed.isdisjoint(actor.roles):
        names = ", ".join(sorted(r.value for r in allowed)) or "none (no role may use it)"
        raise ApiProblem(
            403,
            "FORBIDDEN_ROLE",
            f"this route needs one of the roles {names}; "
            f"the token has {', '.join(r.value for r in actor.roles) or 'none'}",
        )


def allow(roles: Iterable[Role]) -> Guard:
    """A guard letting through any actor holding at least one of ``roles``."""
    allowed = frozenset(roles)

    # async: Litestar runs a sync guard in a worker thread, a hop per request for a set lookup.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        require(connection, allowed)

    return guard


def roles_note(roles: Iterable[Role]) -> str:
    """The sentence added to an operation's OpenAPI description."""
    return "Roles: " + ", ".join(f"`{r.value}`" for r in sorted(roles)) + "."
