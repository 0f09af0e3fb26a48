"""Audit errors that callers (the API, the CLI) turn into answers or exit codes.

Each has a stable machine ``code``; which HTTP status it is, is the API's to say
(``api.problems``). A case with no events is the store's ``CaseNotFound``.
"""

from __future__ import annotations

__all__ = [
    "AuditError",
    "CheckpointNotFound",
    "CosignatureRejected",
    "ProofError",
    "SigningUnavailable",
    "WitnessRefused",
]


class AuditError(Exception):
    code = "AUDIT_ERROR"


class ProofError(AuditError, ValueError):
    """A proof was asked for (or checked) with sizes or indices that cannot be valid."""

    code = "INVALID_PROOF_REQUEST"


class CheckpointNotFound(AuditError, LookupError):
    code = "CHECKPOINT_NOT_FOUND"


class CosignatureRejected(AuditError, ValueError):
    """Not from a configured witness key, for another department, or it does not verify."""

    code = "COSIGNATURE_REJECTED"


class SigningUnavailable(AuditError, RuntimeError):
    """This process has no ledger private key, so it cannot make checkpoints."""

    code = "LEDGER_KEY_UNAVAILABLE"


class WitnessRefused(AuditError):
    """The witness would not cosign: bad signature, rollback, fork or a failed consistency proof.

    Raised on the witness side; the witness's state file is left unchanged.
    """

    code = "WITNESS_REFUSED"
