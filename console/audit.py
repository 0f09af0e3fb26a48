"""审计 (``/audit``, auditors): the latest signed checkpoint and its witnesses, whole-ledger
verification as a job with a progress bar, a case's evidence bundle, and the check of a bundle.

The page reads what the API's audit routes read, through the same ``AuditService``: the latest
checkpoint with every co-signature (each checked again here against the witness keys), the
verification jobs of ``ledger.audit.jobs`` (started here as ``POST /v1/ledger/verifications``
starts them; htmx polls the job every second until its report shows), the evidence bundle under
the API's rule — only to an auditor who recorded why they need the case's identifiers (the
reveal, an event in the case's history) — and ``verify_bundle`` against this ledger's keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from api.cases.reveal import revealed_by
from api.cases.views import case_body, shows_payer, view_of
from console.app import Staff, _form_values, _ledger, _multi, _refusal, _status, page, signed_in
from console.forms import FORMS, FormError
from console.forms import command_from_form as _command_from_form
from ledger.audit.bundle import BundleReport, verify_bundle
from ledger.audit.checkpoints import (
    CheckpointError,
    check_cosignature,
    cosignature_time,
    open_checkpoint,
)
from ledger.audit.jobs import VerificationJob, VerificationNotFound
from ledger.audit.note import NoteError, parse_signature_line
from ledger.audit.service import AuditService
from ledger.domain.codes import Department, Role
from ledger.domain.errors import DomainError
from ledger.projections.views import CaseFilters
from ledger.service import RequestMeta
from ledger.store.port import RecordedEvent, VersionConflict

AUDITORS = frozenset({Role.AUDITOR})
MAX_BUNDLE_BYTES = 16 * 1024 * 1024  # a case of thousands of events; far above any real one


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago, in words: 刚刚, 12 分钟前, 5 小时前, 3 天前."""
    if moment is None:
        return "—"
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "刚刚"
    if seconds < 3600:
        return f"{int(seconds // 60)} 分钟前"
    if seconds < 86400:
        return f"{int(seconds // 3600)} 小时前"
    return f"{int(seconds // 86400)} 天前"


@dataclass(frozen=True)
class Cosignature:
    witness: str
    department: str
    signed_at: datetime
    valid: bool
    problem: str


@dataclass(frozen=True)
class CheckpointShown:
    size: int
    root: str
    made_at: datetime
    signed: bool  # the ledger's signature verifies
    problem: str
    cosignatures: list[Cosignature]
    head: int  # the log's size now


async def _checkpoint(audit: AuditService) -> CheckpointShown | None:
    stored = await audit.latest_checkpoint()
    if stored is None:
        return None
    head = await audit.store.head()
    try:
        cp, _ = open_checkpoint(stored.note, audit.trusted.ledger)
    except CheckpointError as exc:
        return CheckpointShown(
            stored.size, stored.root.hex(), stored.made_at, False, str(exc), [], head
        )
    shown = []
    for line in stored.cosignatures:
        try:
            sig = parse_signature_line(line.rstrip("\n") + "\n")
        except NoteError as exc:
            shown.append(Cosignature("?", "—", stored.made_at, False, str(exc)))
            continue
        key = audit.trusted.witness(sig.name, sig.key_id)
        department = key.department if key is not None else None
        problem = ""
        try:
            check_cosignature(cp, sig, audit.trusted)
        except CheckpointError as exc:
            problem = str(exc)
        shown.append(
            Cosignature(
                sig.name,
                Department(department).label if department else "—",
                cosignature_time(sig),
                not problem,
                problem,
            )
        )
    return CheckpointShown(cp.size, cp.root.hex(), cp.time, True, "", shown, head)


def _auditor(staff: Staff) -> None:
    if not staff.reads(AUDITORS):
        raise PermissionDeniedException("审计页面仅供审计人员使用")


@dataclass(frozen=True)
class EvidenceCase:
    case_id: UUID
    case_number: str | None
    payer_name: str
    identifier: str  # masked unless this auditor may see it
    version: int
    may_take: bool  # sees the identifiers, or revealed them on the record
    revealed_at: datetime | None


async def _find_case(request: Request[Any, Any, Any], text: str) -> UUID | None:
    text = text.strip()
    if not text:
        return None
    try:
        return UUID(text)
    except ValueError:
        pass
    found = await _ledger(request).read_models.list_cases(CaseFilters(case_number=text), None, 1)
    return found.items[0].case_id if found.items else None


def _revealed_at(records: Sequence[RecordedEvent], staff_id: str) -> datetime | None:
    mine = [r for r in records if revealed_by([r], staff_id)]
    return mine[-1].recorded_at if mine else None


async def _evidence_case(
    request: Request[Any, Any, Any], staff: Staff, case_id: UUID
) -> EvidenceCase | None:
    opened = _ledger(request)
    records = await opened.service.history(case_id)
    if not records or records[0].topic != "ledger.Registered":
        return None
    view = view_of(records, datetime.now(UTC), opened.context)
    shown = case_body(view, staff.actor, opened.context)
    sees = shows_payer(view, staff.actor, opened.context)
    revealed = _revealed_at(records, staff.actor.staff_id)
    return EvidenceCase(
        case_id,
        view.case_number,
        shown.payer.name,
        view.payer.identifier if sees or revealed else shown.payer.identifier,
        view.version,
        sees or revealed is not None,
        revealed,
    )


async def _audit_page(
    request: Request[Any, Any, Any], staff: Staff, status: int = 200, **extra: Any
) -> Template:
    audit = _ledger(request).audit
    now = datetime.now(UTC)
    case_text = extra.pop("case_text", request.query_params.get("case", ""))
    evidence: EvidenceCase | None = None
    case_missing = False
    if case_text.strip():
        case_id = await _find_case(request, case_text)
        evidence = None if case_id is None else await _evidence_case(request, staff, case_id)
        case_missing = evidence is None
    return page(
        request,
        staff,
        "audit.html",
        status=status,
        checkpoint=await _checkpoint(audit),
        job=await audit.verifications.latest(),
        now=now,
        age=lambda moment: age(moment, now),
        case_text=case_text,
        evidence=evidence,
        case_missing=case_missing,
        **extra,
    )


@get("/audit")
async def audit_page(request: Request[Any, Any, Any]) -> Template:
    staff = await signed_in(request)
    _auditor(staff)
    return await _audit_page(request, staff)


def _job_fragment(
    request: Request[Any, Any, Any], staff: Staff, job: VerificationJob | None
) -> Template:
    now = datetime.now(UTC)
    return page(
        request,
        staff,
        "_verification.html",
        job=job,
        now=now,
        age=lambda moment: age(moment, now),
    )


@post("/audit/verifications", status_code=200)
async def start_verification(request: Request[Any, Any, Any]) -> Template | Redirect:
    """Start a verification job (or join the one running), as the API's POST does."""
    staff = await signed_in(request)
    _auditor(staff)
    job, _ = await _ledger(request).audit.verifications.start(
        staff.actor.staff_id, staff.actor.name
    )
    if request.headers.get("HX-Request"):
        return _job_fragment(request, staff, job)
    return Redirect("/audit#verification", status_code=303)


@get("/audit/verifications/{job_id:uuid}")
async def verification(request: Request[Any, Any, Any], job_id: FromPath[UUID]) -> Template:
    """The job as a fragment: htmx polls it while it is queued or running."""
    staff = await signed_in(request)
    _auditor(staff)
    try:
        job = await _ledger(request).audit.verifications.get(job_id)
    except VerificationNotFound:
        raise NotFoundException(f"核验任务 {job_id} 不存在") from None
    return _job_fragment(request, staff, job)


@post("/audit/evidence/{case_id:uuid}/reveal", status_code=200)
async def reveal(request: Request[Any, Any, Any], case_id: FromPath[UUID]) -> Template | Redirect:
    """Record why this auditor needs the case's identifiers (the reveal command, an event in
    the case's history): the bundle carries them unmasked."""
    staff = await signed_in(request)
    _auditor(staff)
    data = _multi(await request.form())
    values = _form_values(data)
    version_text = values.get("version", "")
    failed: dict[str, Any] = {}
    code = 200
    try:
        command = _command_from_form(FORMS["reveal"], data)
        if not version_text.isdigit():
            raise FormError("version", "缺少案件版本号。")
        await _ledger(request).service.execute(
            case_id,
            staff.actor,
            command,
            int(version_text),
            RequestMeta(idempotency_key=values.get("idempotency_key") or None),
        )
    except FormError as exc:
        failed = {"refused": str(exc)}
        code = 422
    except VersionConflict:
        failed = {"refused": "案件已有新的记录，请重新提交。"}
        code = 412
    except DomainError as exc:
        failed, code = _refusal(exc), _status(exc)
    if failed:
        return await _audit_page(request, staff, code, case_text=str(case_id), reveal_failed=failed)
    return Redirect(f"/audit?case={case_id}#evidence", status_code=303)


@get("/audit/evidence/{case_id:uuid}")
async def evidence(request: Request[Any, Any, Any], case_id: FromPath[UUID]) -> Response[bytes]:
    """The case's evidence bundle (``GET /v1/cases/{id}/evidence``), to an auditor who may take
    its events out as stored."""
    staff = await signed_in(request)
    _auditor(staff)
    shown = await _evidence_case(request, staff, case_id)
    if shown is None:
        raise NotFoundException(f"案件 {case_id} 不存在")
    if not shown.may_take:
        raise PermissionDeniedException(
            "证据包含未遮蔽的证件号码：请先在审计页面记录查看理由（将记入案件记录）"
        )
    audit = _ledger(request).audit
    data = await audit.evidence(case_id, await audit.store.read_case(case_id))
    return Response(
        data,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{case_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@post("/audit/bundles", status_code=200, request_max_body_size=MAX_BUNDLE_BYTES)
async def check_bundle(request: Request[Any, Any, Any]) -> Template:
    """Check an uploaded evidence bundle against this ledger's keys (``verify_bundle``)."""
    staff = await signed_in(request)
    _auditor(staff)
    form = await request.form()
    upload = form.get("bundle")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _audit_page(request, staff, 422, bundle_error="请选择要校验的证据包文件。")
    data = await upload.read()
    report: BundleReport = verify_bundle(data, _ledger(request).audit.trusted)
    return await _audit_page(
        request,
        staff,
        200 if report.ok else 422,
        bundle=report,
        bundle_name=upload.filename,
        bundle_size=len(data),
    )


AUDIT_ROUTES = (audit_page, start_verification, verification, reveal, evidence, check_bundle)
