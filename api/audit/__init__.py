"""The audit resource: checkpoints, proofs, co-signatures, verification, evidence bundles.

``routes`` defines the routes as the audit code has them; here they get the roles of the API and
the policy for evidence bundles. Each route names its kind in ``opt["audit"]``: checkpoints and
proofs are public evidence for every member of staff (a witness checks consistency before
co-signing); co-signing is the witness's; whole-ledger verification and evidence bundles — which
carry the stored events byte for byte, payer identifiers included, or they would not verify — are
the auditor's.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from api.access import ANY_ROLE, require
from api.audit.routes import AuditController
from api.cases.reveal import require_reveal
from ledger.domain.codes import Role

__all__ = ["AUDIT_ROLES", "GuardedAuditController", "audit_guard"]

AUDIT_ROLES: dict[str, frozenset[Role]] = {
    "checkpoint": ANY_ROLE,
    "proof": ANY_ROLE,
    "cosign": frozenset({Role.WITNESS}),
    "verify": frozenset({Role.AUDITOR}),
    "evidence": frozenset({Role.AUDITOR}),
}


async def audit_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The audit routes' guard: the roles of the route's kind; an unknown kind admits no one."""
    kind = handler.opt.get("audit")
    require(connection, AUDIT_ROLES.get(kind, frozenset()) if isinstance(kind, str) else ())


class GuardedAuditController(AuditController):
    """The audit routes as ``api.audit.routes`` defines them, with the role table applied."""

    guards = [audit_guard]  # noqa: RUF012 - Litestar reads it as a class attribute
    evidence_checks = (require_reveal,)  # bundles: to those who see identifiers or revealed them
