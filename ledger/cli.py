"""The ``ledger`` command.

Each area registers its own subcommands (audit, projections, api); this module only assembles
them and owns the core ones: ``demo``, ``replay`` and ``snapshots refresh``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.bootstrap import open_ledger
from ledger.config import ConfigError, Settings
from ledger.domain.context import SHANGHAI
from ledger.repository import CaseNotFound
from ledger.store.chain import verify_case_chain


async def _demo(settings: Settings, cases: int, seed: int) -> int:
    from ledger.demo import load_demo
    from ledger.staff_demo import add_demo_accounts, sign_in_help

    async with open_ledger(settings) as ledger:
        summary = await load_demo(ledger.service, cases=cases, seed=seed)
        accounts = await add_demo_accounts(
            ledger.store, settings.database_url, ledger.context.reference
        )
    print(
        f"loaded {summary.cases} demo cases ({summary.events} events) and "
        f"{summary.meetings} meetings into {settings.database_url}"
    )
    for path, count in sorted(summary.paths.items()):
        print(f"  {path:<28} {count}")
    print(sign_in_help(accounts, "http://127.0.0.1:8000"))
    return 0


async def _complete_meetings(settings: Settings) -> int:
    from ledger.meetings import Meetings

    async with open_ledger(settings) as ledger:
        appended = await Meetings(ledger.service).complete_all()
    print(f"appended {appended} meeting decisions to their cases")
    return 0


async def _replay(settings: Settings, case_id: UUID) -> int:
    async with open_ledger(settings) as ledger:
        service = ledger.service
        try:
            records = await service.history(case_id)
        except CaseNotFound as exc:
            print(str(exc), file=sys.stderr)
            return 2
    print(
        f"case {case_id}: {len(records)} events (Asia/Shanghai; the business time, then the "
        "time it was recorded)"
    )
    for record in records:
        event = service.decode(record)
        actor = getattr(event, "actor", None)
        who = f"{actor.name} ({actor.staff_id}, {actor.unit})" if actor else "-"
        occurred = getattr(event, "occurred_at", record.recorded_at)
        when, recorded = (_local(t) for t in (occurred, record.recorded_at))
        name = record.topic.removeprefix("ledger.")
        print(
            f"#{record.position:<7} v{record.version:<3} {when} (recorded {recorded})  "
            f"{name:<24} {who:<34} hash {record.hash.hex()[:16]}"
        )
    fault = verify_case_chain(records)
    if fault is None:
        print(f"hash chain: intact ({len(records)} events)")
        return 0
    print(f"hash chain: BROKEN at position {fault.position} (v{fault.version}): {fault.problem}")
    return 1


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


async def _refresh_snapshots(settings: Settings) -> int:
    async with open_ledger(settings) as ledger:
        service = ledger.service
        if service.snapshot_every <= 0:
            print("snapshots are off: nothing to refresh")
            return 0
        done = await service.refresh_snapshots()
    print(
        f"cases of {service.snapshot_every} events or more: {done.cases}; with a snapshot "
        f"missing or unusable: {done.refreshed}; snapshots written: {done.snapshots}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledger",
        description="Event-sourced case ledger for social-insurance fee collection disputes.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="load realistic demo cases (every lifecycle path)")
    demo.add_argument("--cases", type=int, default=60, help="how many cases (default 60)")
    demo.add_argument("--seed", type=int, default=2024, help="random seed (default 2024)")
    demo.set_defaults(run=lambda s, a: _demo(s, a.cases, a.seed))

    replay = commands.add_parser("replay", help="print a case's history and check its hash chain")
    replay.add_argument("case_id", type=UUID)
    replay.set_defaults(run=lambda s, a: _replay(s, a.case_id))

    snapshots = commands.add_parser("snapshots", help="snapshots of long cases (a cache)")
    snapshots_sub = snapshots.add_subparsers(dest="snapshots_command", required=True)
    refresh = snapshots_sub.add_parser(
        "refresh",
        help="rewrite the snapshots this ledger cannot use (after a new token secret or an "
        "upgrade): reads the whole log once",
    )
    refresh.set_defaults(run=lambda s, a: _refresh_snapshots(s))

    meetings = commands.add_parser("meetings", help="the leading group's meetings (四)")
    meetings_sub = meetings.add_subparsers(dest="meetings_command", required=True)
    complete = meetings_sub.add_parser(
        "complete",
        help="append to their cases the decisions of minutes that a stopped process left "
        "unappended (idempotent): reads the whole log once",
    )
    complete.set_defaults(run=lambda s, a: _complete_meetings(s))

    for register in _optional_registrars():
        register(commands)
    return parser


def _optional_registrars() -> list[Callable[[Any], None]]:
    from api.cli import register as api_commands
    from ledger.audit.cli import register as audit_commands
    from ledger.backup import register as backup_commands
    from ledger.projections.cli import register as projection_commands
    from ledger.staff_cli import register as staff_commands

    return [api_commands, audit_commands, projection_commands, staff_commands, backup_commands]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"ledger: {exc}", file=sys.stderr)
        return 2
    try:
        result = args.run(settings, args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
    except ConfigError as exc:  # a start-up check (ledger.preflight): one line, with the fix
        print(f"ledger: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
