"""Audit errors that callers (the API, the CLI) turn into 4xx/5xx answers or exit codes.

Each has a stable machine ``code`` and the HTTP ``status_code`` it should map to.
"""

from __future__ import annotations

__all__ = [
    "AuditError",
    "CaseNotFound",
    "CheckpointNotFound",
    "CosignatureRejected",
    "ProofError",
    "SigningUnavailable",
    "WitnessRefused",
]


class AuditError(Exception):
    status_code = 400
    code = "AUDIT_ERROR"


class ProofError(AuditError, ValueError):
    """A proof was asked for (or checked) with sizes or indices that cannot be valid."""

    code = "INVALID_PROOF_REQUEST"


class CheckpointNotFound(AuditError, LookupError):
    status_code = 404
    code = "CHECKPOINT_NOT_FOUND"


class CaseNotFound(AuditError, LookupError):
    status_code = 404
    code = "CASE_NOT_FOUND"


class CosignatureRejected(AuditError, ValueError):
    """Not from a configured witness key, for another department, or it does not verify."""

    status_code = 422
    code = "COSIGNATURE_REJECTED"


class SigningUnavailable(AuditError, RuntimeError):
    """This process has no ledger private key, so it cannot make checkpoints."""

    status_code = 503
    code = "LEDGER_KEY_UNAVAILABLE"


class WitnessRefused(AuditError):
    """The witness would not cosign: bad signature, rollback, fork or a failed consistency proof.

    Raised on the witness side; the witness's state file is left unchanged.
    """

    code = "WITNESS_REFUSED"
