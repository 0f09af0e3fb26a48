"""Every error as RFC 9457 problem details (``application/problem+json``) with a stable ``code``.

One exception handler turns whatever was raised — a refusal of the domain, a store conflict, a
validation failure of the request, an authentication or routing failure — into one response
shape, so clients branch on ``code`` and never on wording. Status choices (API.md leaves some
open; these are the documented ones):

- R4 (not the holding unit) and R11 (no authority in the reference data) are authorization
  failures: 403.
- R1 and R8 say the request's content is unacceptable (missing registration items, bad check
  digits, inexact money, naive times): 422, like any other invalid command.
- The other rules (R2, R3, R5, R6, R7, R9, R10, R12, R13) and lifecycle order say the request is
  well formed but conflicts with what the case's record already holds: 409.
- Malformed JSON is 400 (nested too deeply to decode, or a key named twice, included); a body
  that parses but does not fit the command is 422; a body that is not JSON at all by its
  ``Content-Type`` is 415 (``api.bodies``); a bad query, path or header value is 400.

Nothing is recorded on any of these: the service appends only after every check passed.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from http import HTTPStatus
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.openapi.datastructures import ResponseSpec

from api.request_id import current_request_id
from ledger.audit.errors import (
    AuditError,
    CheckpointNotFound,
    CosignatureRejected,
    SigningUnavailable,
)
from ledger.audit.jobs import VerificationNotFound
from ledger.domain.errors import DomainError, InvalidTransition, NotAssignedUnit, RuleViolation
from ledger.projections import InvalidCursor, ProjectionsBehind
from ledger.store import failures
from ledger.store.port import CaseNotFound, IdempotencyKeyReused, StoreError, VersionConflict

log = logging.getLogger("api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
# What Litestar's request raises (a 500) when the client disconnects while sending the body.
CLIENT_DISCONNECTED = "client disconnected prematurely"

# Rules whose refusal means "the content of the request is unacceptable" (422, see above).
_CONTENT_RULES = frozenset({"R1", "R8"})
# Rules that say this member of staff may not act on this case: an authorization failure (403).
_AUTHORITY_RULES = frozenset({"R4", "R11"})

# The status of each refusal of the ledger that is answered as it is (its ``code``, its message),
# first match wins: subclasses before their bases. Rule refusals are above (by rule).
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (InvalidTransition, 409),  # the case's state does not allow it now
    (NotAssignedUnit, 403),  # a meeting's task is recorded by the unit it is assigned to
    (DomainError, 422),  # InvalidCommand and any future refusal of a value
    (CaseNotFound, 404),
    (IdempotencyKeyReused, 422),
    (InvalidCursor, 400),
    (CheckpointNotFound, 404),
    (VerificationNotFound, 404),
    (CosignatureRejected, 422),
    (SigningUnavailable, 503),
    (AuditError, 400),  # a proof asked with sizes that cannot be, a witness refusal
)

# The database cannot be reached or is overloaded: the request may succeed later.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    sqlite3.OperationalError,
)


class FieldError(msgspec.Struct, frozen=True, kw_only=True):
    """One invalid input: where it is (``source``: body, query, header, path) and why."""

    field: str
    message: str
    source: str = "body"


class ProblemDetail(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details. ``type`` is omitted (``about:blank``): ``code`` is the
    machine-readable kind and ``title`` the HTTP status phrase."""

    status: int
    title: str
    detail: str
    code: str
    instance: str | None = None
    rule: str | None = None  # R1–R14 of DOMAIN.md, for a rule refusal
    errors: list[FieldError] | None = None  # for validation failures
    expected_version: int | None = None  # for VERSION_MISMATCH
    current_version: int | None = None  # for VERSION_MISMATCH
    request_id: str | None = None  # as in the X-Request-ID header and the access log


class ApiProblem(Exception):
    """An error raised by the API layer itself (guards, headers), already in problem terms."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers = headers or {}
        self.errors = errors


Problem = tuple[ProblemDetail, dict[str, str]]


def _problem(
    status: int, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> Problem:
    body = ProblemDetail(
        status=status, title=HTTPStatus(status).phrase, detail=detail, code=code, **extra
    )
    return body, headers or {}


# Litestar gives the body path as the key ("payer.kind"; "data" for the body itself); msgspec
# names a missing or unknown field only in its message.
_NAMED = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")


def _field_error(error: dict[str, Any]) -> FieldError:
    given = error.get("source") or "body"
    source = str(getattr(given, "value", given))  # Litestar gives a ParamType for a parameter
    message = str(error.get("message", "invalid value"))
    key = str(error.get("key", ""))
    if source != "body":
        return FieldError(field=key, message=message, source=source)
    named = _NAMED.search(message)
    path = "" if key == "data" else key
    field = ".".join(p for p in (path, named["name"] if named else "") if p)
    return FieldError(field=field or "body", message=message, source="body")


# Litestar names a missing required parameter only in its detail, with no ``extra``:
# "Missing required query parameter 'from' for path /v1/…" (the name as the client spells it).
_MISSING = re.compile(
    r"Missing required (?P<source>query|header|cookie|path) parameter "
    r"(?P<quote>['\"])(?P<name>.*?)(?P=quote) for path "
)


def _missing(exc: ValidationException) -> list[FieldError]:
    missing = _MISSING.match(str(exc.detail))
    if missing is None:
        return []
    source = missing["source"]
    message = f"this {source} parameter is required"
    return [FieldError(field=missing["name"], message=message, source=source)]


def _validation(exc: ValidationException) -> Problem:
    raw = exc.extra if isinstance(exc.extra, list) else []
    errors = [_field_error(e) for e in raw if isinstance(e, dict)] or _missing(exc)
    in_body = not errors or any(e.source == "body" for e in errors)
    where = "; ".join(f"{e.field}: {e.message}" for e in errors) or str(exc.detail)
    if in_body:
        return _problem(
            422, "VALIDATION_FAILED", f"the request body is invalid: {where}", errors=errors
        )
    return _problem(400, "INVALID_PARAMETER", f"invalid request parameter: {where}", errors=errors)


def _http(exc: HTTPException) -> Problem:
    headers = dict(exc.headers or {})
    status = exc.status_code
    if isinstance(exc, ValidationException):
        return _validation(exc)
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="ledger"')
        return _problem(
            401,
            "UNAUTHENTICATED",
            f"a valid bearer token is required ({exc.detail})",
            headers=headers,
        )
    if isinstance(exc, PermissionDeniedException):
        return _problem(403, "FORBIDDEN", str(exc.detail), headers=headers)
    if isinstance(exc, NotFoundException):
        return _problem(404, "NOT_FOUND", "no such resource", headers=headers)
    if status == 400:
        # Litestar raises a bare 400 when the body is not JSON at all (or not UTF-8).
        return _problem(400, "MALFORMED_REQUEST", str(exc.detail), headers=headers)
    if status == 500 and exc.detail == CLIENT_DISCONNECTED:
        # The client went away mid-body: nobody will read an answer, and nothing is wrong here.
        log.info("client disconnected before its request body was complete")
        return _problem(400, "CLIENT_DISCONNECTED", "the request body was not complete")
    if status >= 500:  # Litestar's own failures (e.g. an unserialisable response): our bug
        log.error("internal error", exc_info=exc)
        return _problem(status, "INTERNAL_ERROR", "internal error", headers=headers)
    return _problem(status, HTTPStatus(status).name, str(exc.detail), headers=headers)


def problem_for(exc: Exception) -> Problem:
    """The problem (and extra response headers) that ``exc`` stands for."""
    if isinstance(exc, ApiProblem):
        return _problem(exc.status, exc.code, exc.detail, headers=exc.headers, errors=exc.errors)
    if isinstance(exc, RuleViolation):
        status = 403 if exc.rule in _AUTHORITY_RULES else 422 if exc.rule in _CONTENT_RULES else 409
        return _problem(status, exc.code, exc.message, rule=exc.rule)
    for kind, status in STATUS:
        if isinstance(exc, kind):
            code: str = getattr(exc, "code")  # noqa: B009 - every kind of the table has one
            return _problem(status, code, str(exc))
    if isinstance(exc, VersionConflict):
        return _problem(
            412,
            exc.code,
            f'{exc}; read the case again and retry with If-Match: "{exc.actual}"',
            expected_version=exc.expected,
            current_version=exc.actual,
            headers={"ETag": f'"{exc.actual}"'},
        )
    if isinstance(exc, ProjectionsBehind):  # an as-of question ahead of the projection runner
        return _problem(503, exc.code, str(exc), headers={"Retry-After": "2"})
    if isinstance(exc, HTTPException):
        return _http(exc)
    if isinstance(exc, OverflowError | asyncpg.DataError):
        # A number the database cannot hold (a path or query integer beyond 64 bits): the input
        # is out of range, whichever route let it through unbounded.
        log.warning("out-of-range input reached the database: %s", exc)
        return _problem(400, "OUT_OF_RANGE", "a number in the request is out of range")
    if isinstance(exc, UnicodeDecodeError):  # Litestar lets a body that is not UTF-8 through
        return _problem(400, "MALFORMED_REQUEST", f"the request body is not UTF-8 JSON: {exc}")
    if isinstance(exc, (StoreError, *_UNAVAILABLE)) or failures.cause(exc) is not None:
        why = failures.explain(exc)
        log.warning("database unavailable: %s", why)
        # A write whose commit was cut off may have landed: a retry with the same
        # Idempotency-Key then returns it instead of recording it twice.
        return _problem(
            503,
            "DATABASE_UNAVAILABLE",
            f"{why}; retry later with the same Idempotency-Key",
            headers={"Retry-After": "1"},
        )
    log.exception("unhandled error", exc_info=exc)
    return _problem(500, "INTERNAL_ERROR", "internal error")


def _public_names(request: Request[Any, Any, Any], exc: ValidationException) -> None:
    """Name each bad parameter as the client wrote it (``to``), not as the handler's Python
    argument is called (``second``): Litestar reports the latter."""
    handler = request.scope.get("route_handler")
    signature = getattr(handler, "parsed_fn_signature", None)
    parameters = getattr(signature, "parameters", {})
    if not isinstance(exc.extra, list):
        return
    for error in exc.extra:
        if not isinstance(error, dict) or error.get("source") in (None, "body"):
            continue
        declared = getattr(parameters.get(error.get("key")), "kwarg_definition", None)
        public = next(
            (
                alias
                for alias in (getattr(declared, a, None) for a in ("query", "header", "name"))
                if isinstance(alias, str) and alias
            ),
            None,
        )
        if public is not None:
            error["key"] = public


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDetail]:
    """The app's one exception handler."""
    if isinstance(exc, ValidationException):
        _public_names(request, exc)
    body, headers = problem_for(exc)
    body = msgspec.structs.replace(body, instance=request.url.path, request_id=current_request_id())
    return Response(body, status_code=body.status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI documentation of the problem responses a route may give (401 is on every one)."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetail,
            description=HTTPStatus(status).phrase,
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in sorted({401, *statuses})
    }
