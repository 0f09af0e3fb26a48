"""The audit routes: checkpoints, cosignatures, RFC 9162 proofs, verification, evidence bundles.

Dependencies (Litestar DI, see ``api.dependencies``): ``audit`` must provide a
``ledger.audit.service.AuditService`` built over the same store the app appends with (opened with
``audit_hooks()``); it carries that store as ``audit.store``.

Guards: ``AuditController.guards`` is left for the API layer to set. Each route names what kind of
access it is in ``opt["audit"]`` (``checkpoint``, ``cosign``, ``proof``, ``verify``,
``evidence``) so that one guard can map kinds to roles, e.g. cosign → witness, verify and
evidence → auditor, checkpoint and proofs → any role.

Evidence: ``AuditController.evidence_checks`` are also the API layer's to set — the policy
deciding who may take a case's events out as stored (payer identifiers included) in a bundle.

Errors are ``ledger.audit.errors.AuditError`` subclasses (and the store's ``CaseNotFound``),
each with a ``code``; ``api.problems.STATUS`` gives their HTTP status (``INVALID_PROOF_REQUEST``
400, ``CHECKPOINT_NOT_FOUND``/``CASE_NOT_FOUND``/``VERIFICATION_NOT_FOUND`` 404,
``COSIGNATURE_REJECTED`` 422, ``LEDGER_KEY_UNAVAILABLE`` 503).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, ClassVar
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter
from litestar.types import Guard

from api.access import actor_of
from api.problems import problem_responses
from ledger.audit.errors import CheckpointNotFound, ProofError
from ledger.audit.jobs import VerificationJob
from ledger.audit.service import AuditService
from ledger.audit.verify import VerifyReport
from ledger.audit.views import (
    CheckpointView,
    ConsistencyProofView,
    CosignRequest,
    CosignResponse,
    InclusionProofView,
)
from ledger.store.port import RecordedEvent

EvidenceCheck = Callable[[Request[Any, Any, Any], Sequence[RecordedEvent]], Awaitable[None]]

# Positions are PostgreSQL bigints (SQLite integers): anything larger is no position at all.
MAX_POSITION = 2**63 - 1


def _department(request: Request[Any, Any, Any]) -> str | None:
    """The authenticated caller's department, if the auth layer put a principal with one."""
    user = request.scope.get("user")
    department = getattr(user, "department", None)
    return None if department is None else str(getattr(department, "value", department))


class AuditController(Controller):
    path = "/v1"
    tags = ["audit"]  # noqa: RUF012 - Litestar reads these as class attributes
    guards: list[Guard] | None = None  # set by the API layer (see the module docstring)
    # Set by the API layer: may this caller take these events of a case out in a bundle? Each
    # check raises to refuse.
    evidence_checks: ClassVar[tuple[EvidenceCheck, ...]] = ()

    @get("/ledger/checkpoint", opt={"audit": "checkpoint"}, summary="Latest signed checkpoint")
    async def latest_checkpoint(self, audit: NamedDependency[AuditService]) -> CheckpointView:
        """The latest checkpoint as a C2SP signed note, with every witness cosignature."""
        stored = await audit.latest_checkpoint()
        if stored is None:
            raise CheckpointNotFound("no checkpoint has been signed yet")
        return CheckpointView.of(stored)

    @post(
        "/ledger/checkpoints/{size:int}/cosign",
        opt={"audit": "cosign"},
        status_code=201,
        summary="Submit a witness cosignature",
    )
    async def cosign(
        self,
        request: Request[Any, Any, Any],
        audit: NamedDependency[AuditService],
        size: Annotated[
            int,
            PathParameter(ge=1, le=MAX_POSITION, description="the checkpoint's tree size"),
        ],
        data: JSONBody[CosignRequest],
    ) -> CosignResponse:
        """Store a tlog-cosignature/v1 line over the stored checkpoint ``size``.

        Accepted only from a configured witness key — the caller's own department's, when the
        token names one — and only if it verifies over that checkpoint.
        """
        key = await audit.add_cosignature(size, data.signature, _department(request))
        return CosignResponse(size, key.name, key.department)

    @get("/ledger/proofs/inclusion", opt={"audit": "proof"}, summary="Inclusion proof")
    async def inclusion_proof(
        self,
        audit: NamedDependency[AuditService],
        position: Annotated[
            int, QueryParameter(name="position", ge=1, le=MAX_POSITION, description="log position")
        ],
        size: Annotated[
            int | None,
            QueryParameter(
                name="size", ge=1, le=MAX_POSITION, description="tree size (default: current)"
            ),
        ] = None,
    ) -> InclusionProofView:
        """RFC 9162 §2.1.3 proof that the event at ``position`` is leaf ``position-1``."""
        return InclusionProofView.of(await audit.inclusion_proof(position, size))

    @get("/ledger/proofs/consistency", opt={"audit": "proof"}, summary="Consistency proof")
    async def consistency_proof(
        self,
        audit: NamedDependency[AuditService],
        first: Annotated[
            int,
            QueryParameter(name="from", ge=0, le=MAX_POSITION, description="the older tree size"),
        ],
        second: Annotated[
            int,
            QueryParameter(name="to", ge=0, le=MAX_POSITION, description="the newer tree size"),
        ],
    ) -> ConsistencyProofView:
        """RFC 9162 §2.1.4 proof that the tree of size ``from`` is a prefix of size ``to``."""
        if first > second:
            raise ProofError(f"from ({first}) must not be greater than to ({second})")
        return ConsistencyProofView.of(await audit.consistency_proof(first, second))

    @get(
        "/ledger/verify",
        opt={"audit": "verify", "request_timeout": None},  # whole-log work: no deadline
        summary="Verify the whole ledger",
    )
    async def verify(self, audit: NamedDependency[AuditService]) -> VerifyReport:
        """Recompute every case chain and the Merkle tree, check every signature; the report
        names the first bad position, if any. Reads the whole log (seconds per million events);
        a request made while a verification runs shares its report."""
        return await audit.verify_shared()

    @post(
        "/ledger/verifications",
        opt={"audit": "verify"},
        status_code=202,
        summary="Start verifying the whole ledger (a job)",
        responses=problem_responses(403),
    )
    async def start_verification(
        self, request: Request[Any, Any, Any], audit: NamedDependency[AuditService]
    ) -> Response[VerificationJob]:
        """Start ``GET /ledger/verify``'s verification as a background job and answer at once
        (202) with the job and its ``Location``; poll it there until ``status`` is ``done``
        (its ``report``) or ``failed`` (its ``error``). One job runs at a time per ledger: while
        one is queued or running, in any process, this answers with that job (``requested_by``
        says who started it) instead of starting a second pass over the whole log. The job's
        state lives in the database, so any API process answers the poll."""
        actor = actor_of(request)
        job, _ = await audit.verifications.start(actor.staff_id, actor.name)
        return Response(
            job,
            status_code=202,
            headers={"Location": f"/v1/ledger/verifications/{job.id}", "Retry-After": "1"},
        )

    @get(
        "/ledger/verifications/{job_id:uuid}",
        opt={"audit": "verify"},
        summary="A verification job: status, progress, report",
        responses=problem_responses(403, 404),
    )
    async def verification(
        self, audit: NamedDependency[AuditService], job_id: FromPath[UUID]
    ) -> VerificationJob:
        """``status`` (queued, running, done, failed); ``progress``: events verified of the
        log's size when the run began, and their fraction, written by the running process
        every second with its heartbeat; ``started_at``, ``finished_at``; when done, ``report``
        (as ``GET /ledger/verify`` reports: ``ok`` false names the first bad position); when
        failed, ``error``. A job whose process stopped (no heartbeat for 30 s) is failed."""
        return await audit.verifications.get(job_id)

    @get(
        "/cases/{case_id:uuid}/evidence",
        opt={"audit": "evidence"},
        media_type="application/json",
        summary="Evidence bundle of a case",
        responses=problem_responses(403, 404),
    )
    async def evidence(
        self,
        request: Request[Any, Any, Any],
        audit: NamedDependency[AuditService],
        case_id: FromPath[UUID],
    ) -> Response[bytes]:
        """The case's events with inclusion proofs against a signed (ideally co-signed)
        checkpoint and the public keys: verifiable offline with ``ledger verify-bundle``.

        The events are in the bundle exactly as stored (their hashes cover every byte), so
        ``evidence_checks`` decide first whether this caller may take them."""
        events = await audit.store.read_case(case_id)
        for check in self.evidence_checks if events else ():
            await check(request, events)
        data = await audit.evidence(case_id, events)
        return Response(
            data,
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="evidence-{case_id}.json"'},
        )
