"""The write headers: ``If-Match`` (optimistic concurrency), ``Idempotency-Key`` (safe retries).

If-Match carries the case version the client saw, as the strong ETag ``"<version>"`` that case
responses send. It is required on every write to an existing case (428 without it): a write that
does not say which state it was decided on could silently overrule a colleague's (RFC 6585 §3).
``*`` is refused for the same reason.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from litestar.params import HeaderParameter

from api.problems import ApiProblem
from ledger.service import RequestMeta

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        max_length=64,
        description='The case version the client last saw, as its ETag: `"3"`. Required.',
    ),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[!-~]+$",
        description="Any client-chosen printable ASCII string; a retry with the same key and "
        "body returns the first response and records nothing.",
    ),
]

# "3" as sent, or a bare 3; a quote on one side only is no ETag at all.
_ETAG = re.compile(r'\s*("?)([0-9]{1,9})\1\s*')


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None, headers_sent: int = 1) -> int:
    """The version named by If-Match; 428 when missing, 400 when it names no version or when
    ``headers_sent`` If-Match headers came (only the first would reach ``if_match``)."""
    if headers_sent > 1:
        raise ApiProblem(
            400,
            "INVALID_IF_MATCH",
            f"send one If-Match header naming one case version, not {headers_sent}",
        )
    if if_match is None or not if_match.strip():
        raise ApiProblem(
            428,
            "PRECONDITION_REQUIRED",
            'writes to a case need If-Match: "<version>" (the ETag of the case you read)',
        )
    match = _ETAG.fullmatch(if_match)
    if match is None:
        raise ApiProblem(
            400,
            "INVALID_IF_MATCH",
            f'If-Match must be one case version as a strong ETag, e.g. "3"; got {if_match!r}',
        )
    return int(match.group(2))


def request_meta(idempotency_key: str | None) -> RequestMeta:
    """Each write gets its own request id, recorded in its events' metadata."""
    return RequestMeta(request_id=str(uuid.uuid4()), idempotency_key=idempotency_key)
