"""``ledger token`` and ``ledger serve``: the API's subcommands of the ``ledger`` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from api.auth import issue_token
from ledger.audit.keys import init_keys
from ledger.bootstrap import open_ledger
from ledger.config import Settings
from ledger.demo import load_demo
from ledger.domain.actor import Actor
from ledger.domain.codes import Department
from ledger.domain.reference import StaffMismatch, UnknownUnit
from ledger.process import tune_gc
from ledger.staff_cli import roles_argument
from ledger.staff_demo import add_demo_accounts, sign_in_help

DEMO_CASES = 60


def _token(settings: Settings, args: argparse.Namespace) -> int:
    # The API refuses a token whose unit, department or jurisdiction disagree with the reference
    # data; department and jurisdiction default to the unit's, and a contradiction is refused
    # here rather than signed.
    reference = settings.context().reference
    try:
        unit = reference.unit(args.unit)
    except UnknownUnit:
        print(
            f"ledger token: unit {args.unit!r} is not in the reference data "
            "(GET /v1/reference lists them; LEDGER_REFERENCE_FILE sets them)",
            file=sys.stderr,
        )
        return 2
    department = Department(args.department) if args.department else unit.department
    jurisdiction = unit.jurisdiction if args.jurisdiction is None else args.jurisdiction or None
    try:
        reference.check_staff(unit.code, department, jurisdiction)
    except StaffMismatch as exc:
        print(f"ledger token: {exc}", file=sys.stderr)
        return 2
    actor = Actor(
        staff_id=args.sub,
        name=args.name,
        unit=unit.code,
        department=department,
        roles=args.roles,
        jurisdiction=jurisdiction,
    )
    print(issue_token(settings.jwt_secret, actor, hours=args.hours))
    return 0


async def seed_demo(
    settings: Settings, cases: int, host: str = "127.0.0.1", port: int = 8000
) -> None:
    """Demo data for a first run on the embedded database, through the real write path."""
    async with open_ledger(settings) as ledger:
        if await ledger.store.head() > 0:
            return
        summary = await load_demo(ledger.service, cases=cases)
        print(
            f"ledger serve: loaded {summary.cases} demo cases ({summary.events} events)",
            file=sys.stderr,
        )
        accounts = await add_demo_accounts(
            ledger.store, settings.database_url, ledger.context.reference
        )
        print(sign_in_help(accounts, f"http://{host}:{port}"), file=sys.stderr)


def _dev_keys(settings: Settings) -> None:
    """The embedded default is for trying things out: make its signing keys on first run.
    A PostgreSQL deployment provisions its keys (``ledger keys init``) and never gets here."""
    key_dir = Path(settings.key_dir)
    if not (key_dir / "ledger.vkey").exists():
        written = init_keys(key_dir)
        print(
            f"ledger serve: made development keys in {key_dir} ({len(written)} files)",
            file=sys.stderr,
        )


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    # Every `ledger` command loads this module to register its subcommands: the app and the
    # server are imported only when serving.
    import uvicorn

    from api.app import create_app
    from api.observability import configure_logging

    configure_logging(args.log_level, args.log_format)
    from ledger.preflight import preflight

    preflight(settings)  # a reason not to start, in one line with its fix (StartupError)
    if settings.is_sqlite:
        _dev_keys(settings)
        if args.demo_cases > 0:
            asyncio.run(seed_demo(settings, args.demo_cases, args.host, args.port))
    from api.limits import RequestLimits

    limits = RequestLimits.from_env()  # bounded request heads, slow clients
    served = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        # api.observability logs each request (route template, no query string) instead.
        "access_log": False,
        "log_config": None,
        # Event streams end by themselves (api.stream); do not let one hold a shutdown long.
        "timeout_graceful_shutdown": 5,
    }
    if args.workers > 1:  # processes of their own, which build their apps in api.workers
        from api import workers

        os.environ[workers.LOG_LEVEL] = args.log_level
        os.environ[workers.LOG_FORMAT] = args.log_format
        if args.no_projector:
            os.environ[workers.NO_PROJECTOR] = "1"
        if args.no_checkpoints:
            os.environ[workers.NO_CHECKPOINTS] = "1"
        uvicorn.run(
            "api.workers:app",
            factory=True,
            workers=args.workers,
            **limits.uvicorn_options(importable=True),
            **served,
        )
        return 0
    app = create_app(settings, projector=not args.no_projector, checkpoints=not args.no_checkpoints)
    tune_gc()
    uvicorn.run(app, **limits.uvicorn_options(), **served)
    return 0


def register(commands: Any) -> None:
    """Add ``token`` and ``serve`` to the ``ledger`` command's subparsers."""
    token = commands.add_parser("token", help="print a development bearer token")
    token.add_argument("--sub", required=True, help="staff id")
    token.add_argument("--name", required=True, help="the staff member's name")
    token.add_argument("--unit", required=True, help="unit code (GET /v1/reference)")
    token.add_argument(
        "--department",
        choices=[d.value for d in Department],
        help="the unit's department (default: as the reference data says)",
    )
    token.add_argument("--roles", required=True, type=roles_argument, help="e.g. intake,handler")
    token.add_argument(
        "--jurisdiction",
        default=None,
        help="the jurisdiction the unit serves (default: as the reference data says)",
    )
    token.add_argument("--hours", type=float, default=8.0, help="lifetime (default 8)")
    token.set_defaults(run=_token)

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--no-projector",
        action="store_true",
        help="do not run the projection runner in this process "
        "(run `ledger projections run` beside it)",
    )
    serve.add_argument(
        "--no-checkpoints",
        action="store_true",
        help="do not sign checkpoints from this process (another process does)",
    )
    serve.add_argument(
        "--demo-cases",
        type=int,
        default=DEMO_CASES,
        help=f"on an empty embedded SQLite ledger, load this many demo cases first "
        f"(default {DEMO_CASES}; 0 for none)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port (default 1); one of them, elected, runs the"
        " projection runner and one the checkpoint signer",
    )
    serve.add_argument(
        "--log-format",
        default="json",
        choices=["json", "text"],
        help="one JSON object per line (default), or plain text",
    )
    serve.set_defaults(run=_serve)
