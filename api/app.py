"""The Litestar application: ``create_app(settings)`` serves the ledger over HTTP.

The lifespan opens the ledger through the composition root (``ledger.bootstrap.open_ledger``:
the event store with its audit hooks, the write service, the read models and the audit service)
and, unless disabled, runs the projection runner and the checkpoint scheduler as
background tasks of this process. On shutdown it stops them and closes everything in reverse.
With ``projector=False`` the same app serves a cluster in which ``ledger projections run`` (the
runner) runs as its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from litestar import Litestar
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig

import console.app as console
from api.assets import scalar_plugin, static_router
from api.audit import GuardedAuditController
from api.audit.checkpoints import run_checkpoints
from api.auth import jwt_auth
from api.bodies import JsonRequest
from api.cases import cases_router
from api.deadline import RequestDeadline
from api.dependencies import DEPENDENCIES
from api.election import elected
from api.exports import ExportController
from api.health import HealthController
from api.inspections import InspectionController
from api.localtime import show_local_times
from api.meetings import MeetingController
from api.observability import ObservabilityPlugin
from api.params import check_parameters
from api.problems import problem_response
from api.reference import ReferenceController
from api.statistics import StatisticsController
from api.stream import StreamController
from ledger.bootstrap import Ledger, open_ledger
from ledger.config import DEVELOPMENT_JWT_SECRET, ConfigError, Settings

log = logging.getLogger("api")

# SQLite sends no commit notifications: the embedded runner polls, and often, since a poll of a
# local file is cheap and lists should show a write within a fraction of a second.
SQLITE_POLL_SECONDS = 0.2
POSTGRES_POLL_SECONDS = 2.0  # a fallback only: the runner wakes on the store's NOTIFY

API_DESCRIPTION = """\
The ledger of social-insurance fee collection disputes (潜税发〔2024〕5号): every dispute from first
contact to closure as immutable, hash-chained events.

- Authenticate with `Authorization: Bearer <JWT>` (claims sub, name, unit, department,
  jurisdiction, roles); each operation names the roles it admits. The unit must be one of
  `GET /v1/reference`, with that unit's department and jurisdiction, or the token is refused (401).
- Writes to a case need `If-Match: "<version>"` (428 without, 412 when stale) and answer with the
  new case view and its `ETag`. `Idempotency-Key` makes retries safe.
- Every error is `application/problem+json` with a stable `code`.
"""


def _refuse_development_secret(settings: Settings) -> None:
    # Anyone who has read this repository can sign tokens with the development secret.
    if not settings.is_sqlite and settings.jwt_secret == DEVELOPMENT_JWT_SECRET:
        raise ConfigError(
            "LEDGER_JWT_SECRET is the development secret; set a real one to serve PostgreSQL"
        )


def _start_background(
    opened: Ledger, stop: asyncio.Event, *, projector: bool, checkpoints: bool
) -> list[asyncio.Task[None]]:
    settings = opened.settings
    jobs = {}
    if projector:
        poll = SQLITE_POLL_SECONDS if settings.is_sqlite else POSTGRES_POLL_SECONDS
        jobs["projection-runner"] = elected(  # one per database (api.election)
            settings,
            "projection-runner",
            stop,
            lambda term: opened.read_models.runner(poll_interval=poll).run(term),
        )
    if checkpoints and opened.audit.signer is not None:
        jobs["checkpoint-scheduler"] = elected(
            settings,
            "checkpoint-scheduler",
            stop,
            lambda term: run_checkpoints(
                opened.audit, term, settings.checkpoint_every, settings.checkpoint_seconds
            ),
        )
    tasks = [asyncio.create_task(job, name=name) for name, job in jobs.items()]
    for task in tasks:
        task.add_done_callback(_report_failure)
    return tasks


def _report_failure(task: asyncio.Task[None]) -> None:
    # Logged when it happens, not at shutdown: /ready shows the growing lag meanwhile.
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped", task.get_name(), exc_info=task.exception())


async def _stop_background(tasks: list[asyncio.Task[None]]) -> None:
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=10)
    for task in pending:
        log.error("%s did not stop within 10 s; cancelled", task.get_name())
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def create_app(
    settings: Settings | None = None, *, projector: bool = True, checkpoints: bool = True
) -> Litestar:
    """The API over the ledger at ``settings.database_url``.

    ``projector``: run the projection runner in this process (else ``ledger projections run``
    does, beside it); ``checkpoints``: run the checkpoint scheduler (needs the ledger's key).
    """
    settings = settings or Settings.from_env()
    _refuse_development_secret(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_ledger(settings, read_models=True, audit=True) as ledger:
            app.state.ledger = ledger
            stop = asyncio.Event()
            tasks = _start_background(ledger, stop, projector=projector, checkpoints=checkpoints)
            try:
                yield
            finally:
                stop.set()
                await _stop_background(tasks)

    auth = jwt_auth(settings.jwt_secret, settings.context().reference)
    return Litestar(
        route_handlers=[
            cases_router(),
            InspectionController,
            MeetingController,
            StatisticsController,
            ExportController,
            ReferenceController,
            StreamController,
            GuardedAuditController,
            HealthController,
            static_router([console.STATIC_DIR]),
            console.console_router(settings),
        ],
        dependencies=DEPENDENCIES,
        exception_handlers={Exception: problem_response},
        # Every request is answered in time, whatever the database does.
        middleware=[DefineMiddleware(RequestDeadline, seconds=settings.request_timeout)],
        plugins=[ObservabilityPlugin()],  # /metrics, request ids, one JSON log line per request
        request_class=JsonRequest,
        # Every route's time, date and integer parameters, strictly and within range. The one
        # hook of its kind: a layer setting its own would replace it for that layer's routes.
        before_request=check_parameters,
        after_request=show_local_times,
        lifespan=[lifespan, console.lifespan(settings)],
        template_config=console.template_config(),
        on_app_init=[auth.on_app_init],
        openapi_config=OpenAPIConfig(
            title="ledger",
            version="1",
            description=API_DESCRIPTION,
            path="/schema",
            render_plugins=[scalar_plugin()],
        ),
        # Bodies are commands of a few kilobytes; nothing legitimate comes near this.
        request_max_body_size=256 * 1024,
        # The process configures logging (``ledger serve`` does); the app leaves it alone.
        logging_config=None,
        debug=False,
    )
