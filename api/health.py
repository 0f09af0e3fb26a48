"""GET /health (liveness) and GET /ready (readiness): for probes, so without a token.

Liveness says only that the process answers. Readiness asks the database for the log's head and
the read models for how far they have projected, and writes a probe row (``ledger.store.probe``:
a database that answers reads but refuses writes — a full disk, a read-only file, a replica —
is not ready either). A database that cannot be reached, does not answer within
``READY_TIMEOUT``, refuses the write, or read models more than ``MAX_LAG`` events behind make the
instance not ready (503), and ``database`` names the cause: ``timeout``, ``disk full``,
``read-only``, ``unreachable``, ``overloaded``.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from api.deadline import within
from ledger.projections import ReadModels
from ledger.service import LedgerService
from ledger.store import failures
from ledger.store.probe import probe_write

MAX_LAG = 10_000
# A probe's own answer must come in time: a database that does not answer is not ready.
READY_TIMEOUT = 1.5


class Liveness(msgspec.Struct, frozen=True):
    status: str = "ok"


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    status: str  # "ready" or "not_ready"
    database: str  # "ok", or "<cause>: <detail>" (see the module)
    head: int | None  # the last log position
    projected: int | None  # the last position the read models have applied
    lag: int | None  # head - projected


class HealthController(Controller):
    tags = ("health",)
    opt = {"exclude_from_auth": True}  # noqa: RUF012 - Litestar reads it off the class

    @get("/health", operation_id="health", summary="Liveness", security=[{}])
    async def health(self) -> Liveness:
        return Liveness()

    @get(
        "/ready",
        operation_id="ready",
        summary="Readiness: database reachable and writable, projection lag",
        security=[{}],
        responses={503: ResponseSpec(Readiness, description="Not ready", generate_examples=False)},
    )
    async def ready(
        self, service: NamedDependency[LedgerService], read_models: NamedDependency[ReadModels]
    ) -> Response[Readiness]:
        try:
            head, projected, refused = await within(READY_TIMEOUT, _check(service, read_models))
        except Exception as exc:  # any failure to answer is "not ready", never a 500
            body = Readiness(
                status="not_ready", database=_cause(exc), head=None, projected=None, lag=None
            )
            return Response(body, status_code=503)
        lag = max(head - projected, 0)
        ready = lag <= MAX_LAG and refused is None
        body = Readiness(
            status="ready" if ready else "not_ready",
            database="ok" if refused is None else _cause(refused),
            head=head,
            projected=projected,
            lag=lag,
        )
        return Response(body, status_code=200 if ready else 503)


async def _check(
    service: LedgerService, read_models: ReadModels
) -> tuple[int, int, Exception | None]:
    """The head, the projected position, and what refused the probe write (None: it worked)."""
    head, projected = await service.store.head(), await read_models.position()
    try:
        await probe_write(service.store)
    except Exception as exc:  # reported, with the positions that could be read
        return head, projected, exc
    return head, projected, None


def _cause(exc: BaseException) -> str:
    """``<cause>: <what the database said>``, e.g. ``read-only: the database accepts …``."""
    kind = failures.cause(exc) or "failed"
    return f"{kind}: {failures.explain(exc)}"
