"""What an operator sees of the API: ``GET /metrics`` (Prometheus), one JSON log line per request,
and a request id on every response.

- **Request id**: the client's ``X-Request-ID`` when it is a plain token (letters, digits,
  ``._-``, at most 64), else a new one; sent back as ``X-Request-ID`` and put in every problem
  response (``api.problems``), so a complaint can be matched to its log line.
- **Access log** (logger ``api.access``): method, route *template* (``/v1/cases/{case_id}``),
  status, duration, request id and the staff id of the token — never the path as sent, the
  query string, headers or bodies, so no identifier, phone number or token reaches the log
  (a ``?token=`` included). ``ledger serve`` turns uvicorn's own access log off.
- **Metrics**: Litestar's Prometheus middleware (latency histograms and counts per route
  template, method and status), the store's append latency and group-commit batch sizes
  (``ledger.store.metrics``), and, read when scraped, the log head, the projection lag and the
  age of the last signed checkpoint and of its newest witness co-signature.

All of it is one plugin (``ObservabilityPlugin``): the app adds it in one line.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Litestar, Request, Response, get
from litestar.config.app import AppConfig
from litestar.plugins import InitPlugin
from litestar.plugins.prometheus import PrometheusConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

from api.deadline import within
from api.request_id import REQUEST_ID
from ledger.audit.checkpoints import cosignature_time
from ledger.audit.note import parse_signature_line
from ledger.bootstrap import Ledger
from ledger.store import failures

access_log = logging.getLogger("api.access")
log = logging.getLogger("api")

_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
METRICS_PATH = "/metrics"
SCRAPE_TIMEOUT = 1.0

HEAD = Gauge("ledger_log_head", "The last position of the event log")
PROJECTION_LAG = Gauge("ledger_projection_lag_events", "Events not yet applied to the read models")
CHECKPOINT_AGE = Gauge(
    "ledger_last_checkpoint_age_seconds", "Seconds since the last signed checkpoint was made"
)
CHECKPOINT_SIZE = Gauge("ledger_last_checkpoint_size", "Events covered by the last checkpoint")
COSIGNATURES = Gauge(
    "ledger_last_checkpoint_cosignatures", "Witness co-signatures of the last checkpoint"
)
VERIFY_OK = Gauge(
    "ledger_last_verify_ok",
    "1 if the last verification of the whole ledger by this process found no fault, 0 if it "
    "found one (NaN before any)",
)
VERIFY_AGE = Gauge(
    "ledger_last_verify_age_seconds", "Seconds since this process last verified the whole ledger"
)
VERIFY_EVENTS = Gauge(
    "ledger_last_verify_events", "Events the last verification of the whole ledger checked"
)
COSIGNATURE_AGE = Gauge(
    "ledger_last_cosignature_age_seconds",
    "Seconds since the newest witness co-signature of the last checkpoint was made",
)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if _CLIENT_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RequestObserver:
    """ASGI wrapper of the whole app (routing included, so unrouted requests are seen too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            user = scope.get("user")
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "route": scope.get("path_template") or "(no route)",
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "staff_id": getattr(user, "staff_id", None),
                },
            )


class MetricsController(Controller):
    """``GET /metrics``, without a token (scraped from inside the deployment's network)."""

    path = METRICS_PATH
    include_in_schema = False
    opt = {"exclude_from_auth": True}  # noqa: RUF012 - Litestar reads it off the class

    @get(include_in_schema=False)
    async def metrics(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        await _refresh(request.app)
        return Response(generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _refresh(app: Litestar) -> None:
    """Set the gauges read from the database; an outage leaves them as they were (``/ready``
    says what is wrong)."""
    opened = app.state.get("ledger")
    if not isinstance(opened, Ledger):
        return
    try:
        await within(SCRAPE_TIMEOUT, _read(opened))
    except Exception as exc:  # a scrape never fails because the database does
        log.warning("metrics from the database skipped: %s", exc)


async def _read(opened: Ledger) -> None:
    head = await opened.store.head()
    projected = await opened.read_models.position()
    HEAD.set(head)
    PROJECTION_LAG.set(max(head - projected, 0))
    latest = await opened.audit.latest_checkpoint()
    # Every gauge is set at each scrape (unknown: NaN), never left from an earlier state.
    now = datetime.now(UTC)
    CHECKPOINT_SIZE.set(0 if latest is None else latest.size)
    CHECKPOINT_AGE.set(math.nan if latest is None else (now - latest.made_at).total_seconds())
    lines = () if latest is None else latest.cosignatures
    COSIGNATURES.set(len(lines))
    made = [cosignature_time(parse_signature_line(line.rstrip("\n") + "\n")) for line in lines]
    COSIGNATURE_AGE.set((now - max(made)).total_seconds() if made else math.nan)
    verified = opened.audit.last_verified
    VERIFY_OK.set(math.nan if verified is None else float(verified[1].ok))
    VERIFY_AGE.set(math.nan if verified is None else (now - verified[0]).total_seconds())
    VERIFY_EVENTS.set(math.nan if verified is None else verified[1].events_checked)


class ObservabilityPlugin(InitPlugin):
    """Adds the metrics route and middleware, and wraps the app in ``RequestObserver`` at
    start-up (Litestar's own middleware runs only after routing)."""

    __slots__ = ()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        prometheus = PrometheusConfig(
            app_name="ledger",
            prefix="ledger_http",
            group_path=True,  # route templates, never ids, as labels
            exclude=[METRICS_PATH],
        )
        app_config.route_handlers.append(MetricsController)
        app_config.middleware.append(prometheus.middleware)
        app_config.on_startup.append(_observe)
        return app_config


def _observe(app: Litestar) -> None:
    if not isinstance(app.asgi_handler, RequestObserver):
        app.asgi_handler = RequestObserver(app.asgi_handler)


_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's extra fields, and
    the request id of the request being handled, if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if "request_id" not in line and (request_id := REQUEST_ID.get()) is not None:
            line["request_id"] = request_id
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class OneLineOutages(logging.Filter):
    """A record that carries a database outage as its exception (asyncpg's pool logs one with
    each failed reconnect) is said in one line: the cause, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and failures.cause(error) is not None:
            record.msg = f"{record.getMessage()}: {failures.explain(error)}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging(level: str, fmt: str = "json") -> None:
    """The process's logging: JSON lines (``fmt="json"``) or plain text."""
    handler = logging.StreamHandler()
    handler.addFilter(OneLineOutages())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):  # through the root handler, formatted alike
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
