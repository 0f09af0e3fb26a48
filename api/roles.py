"""Authorization by role: the role table of API.md as data, and the guard that applies it.

A guard decides only *which kind of staff* may call a route. Whether *this* member of staff may
act on *this* case — the holding unit (R4), the first responder (R2), the city tax bureau (R5),
the leading-group office (R9) — is the domain's to decide, and is refused there with the rule's
code. The two refusals are told apart by ``code``: ``FORBIDDEN_ROLE`` here,
``R4_NOT_HOLDING_UNIT`` (also 403) from the domain.

How API.md's prose reads as a table (where it is silent, the choice and its reason):

- intake registers, classifies, routes (transfer; escalate a major matter — FR3), resolves simple
  matters on the spot (decide, feedback, close) and links duplicates.
- handler accepts, decides, consults, transfers onward, requests extensions, gives feedback,
  closes, escalates a case its unit holds (R4 lets the holding unit do it) and links related cases
  it finds while handling.
- office may do everything a handler may (the domain limits it to major cases, R4) plus urge,
  decide extensions and reopen.
- enforcement serves demand notices, confirms arrears, refers to court, records the outcome.
- correct: anyone who records events on cases (intake, handler, office, enforcement) may record a
  correction — it never edits anything (R7) and names its author.
- reveal: the auditor only (个人信息保护法: a recorded, reasoned look at one case's identifiers).
- reads: see ``READ_*`` below; the witness reads nothing but checkpoints.
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

INTAKE, HANDLER, OFFICE, ENFORCEMENT = Role.INTAKE, Role.HANDLER, Role.OFFICE, Role.ENFORCEMENT
AUDITOR, INSPECTOR, WITNESS = Role.AUDITOR, Role.INSPECTOR, Role.WITNESS

# Write routes (path segment after /v1/cases/{id}/, "register" for POST /v1/cases).
WRITE_ROLES: dict[str, frozenset[Role]] = {
    "register": frozenset({INTAKE}),
    "classify": frozenset({INTAKE}),
    "transfer": frozenset({INTAKE, HANDLER, OFFICE}),
    "accept": frozenset({HANDLER, OFFICE}),
    "decide": frozenset({INTAKE, HANDLER, OFFICE}),
    "consult": frozenset({HANDLER, OFFICE}),
    "escalate": frozenset({INTAKE, HANDLER, OFFICE}),
    "urge": frozenset({OFFICE}),
    "extend": frozenset({HANDLER, OFFICE}),
    "demand-notice": frozenset({ENFORCEMENT}),
    "confirm-arrears": frozenset({ENFORCEMENT}),
    "refer-to-court": frozenset({ENFORCEMENT}),
    "court-outcome": frozenset({ENFORCEMENT}),
    "feedback": frozenset({INTAKE, HANDLER, OFFICE}),
    "close": frozenset({INTAKE, HANDLER, OFFICE}),
    "reopen": frozenset({OFFICE}),
    "link": frozenset({INTAKE, HANDLER, OFFICE}),
    "correct": frozenset({INTAKE, HANDLER, OFFICE, ENFORCEMENT}),
    "reveal": frozenset({AUDITOR}),
}

# Case views and trails: everyone who works cases, audits or inspects them.
READ_CASES = frozenset({INTAKE, HANDLER, OFFICE, ENFORCEMENT, AUDITOR, INSPECTOR})
# Full event history (and the live event stream): API.md gives it to the auditor; staff who
# record events see what they and others recorded. Inspectors work from views and trails.
READ_HISTORY = frozenset({INTAKE, HANDLER, OFFICE, ENFORCEMENT, AUDITOR})
# Inspection reports: inspectors, auditors and the leading group's office (四: 督导、检查、考核).
READ_INSPECTIONS = frozenset({INSPECTOR, AUDITOR, OFFICE})
# Reference data and the ledger's checkpoint: any authenticated member of staff.
ANY_ROLE = frozenset(Role)
# The audit routes (api.audit_routes) by the kind each names in ``opt["audit"]``: checkpoints and
# proofs are public evidence for every member of staff (a witness checks consistency before
# co-signing); co-signing is the witness's; whole-ledger verification and evidence bundles —
# which carry the stored events byte for byte, payer identifiers included, or they would not
# verify — are the auditor's.
AUDIT_ROLES: dict[str, frozenset[Role]] = {
    "checkpoint": ANY_ROLE,
    "proof": ANY_ROLE,
    "cosign": frozenset({WITNESS}),
    "verify": frozenset({AUDITOR}),
    "evidence": frozenset({AUDITOR}),
}


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


async def audit_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The audit routes' guard: the roles of the route's kind; an unknown kind admits no one."""
    kind = handler.opt.get("audit")
    require(connection, AUDIT_ROLES.get(kind, frozenset()) if isinstance(kind, str) else ())


def roles_note(roles: Iterable[Role]) -> str:
    """The sentence added to an operation's OpenAPI description."""
    return "Roles: " + ", ".join(f"`{r.value}`" for r in sorted(roles)) + "."
