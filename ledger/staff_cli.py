"""``ledger staff add|passwd|roles|disable|list``: the console's staff accounts.

Passwords are read from standard input (``--password-stdin``: the first line), never from the
command line, where other users of the machine could read them in the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from ledger.audit.service import audit_hooks
from ledger.config import Settings
from ledger.domain.codes import Department, Role
from ledger.domain.errors import DomainError
from ledger.staff import StaffDirectory
from ledger.store import open_store


def roles_argument(text: str) -> tuple[Role, ...]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    try:
        return tuple(Role(name) for name in names)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise argparse.ArgumentTypeError(f"roles are a comma-separated list of: {known}") from None


def _operator() -> str:
    """Who ran the command, as recorded in the account's events."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _password(args: argparse.Namespace) -> str:
    if not args.password_stdin:
        raise SystemExit("ledger staff: give the password on standard input with --password-stdin")
    return sys.stdin.readline().rstrip("\r\n")


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    # With the audit hook: account events enter the Merkle log like any other append.
    store = open_store(settings.database_url, hooks=audit_hooks())
    await store.open()
    directory = StaffDirectory(store, settings.database_url, settings.context().reference)
    await directory.open()
    try:
        return await _command(directory, args)
    except DomainError as exc:
        print(f"ledger staff: {exc}", file=sys.stderr)
        return 2
    finally:
        await directory.close()
        await store.close()


async def _command(directory: StaffDirectory, args: argparse.Namespace) -> int:
    by = _operator()
    if args.staff_command == "add":
        account = await directory.add(
            staff_id=args.sub,
            name=args.name,
            unit=args.unit,
            department=Department(args.department),
            roles=args.roles,
            jurisdiction=args.jurisdiction,
            password=_password(args),
            by=by,
        )
        print(f"account {account.staff_id} created")
    elif args.staff_command == "passwd":
        await directory.set_password(args.sub, _password(args))
        print(f"password of {args.sub} changed")
    elif args.staff_command == "roles":
        account = await directory.change_roles(args.sub, args.roles, by)
        print(f"roles of {account.staff_id}: {','.join(account.roles)}")
    elif args.staff_command == "disable":
        await directory.disable(args.sub, args.reason, by)
        print(f"account {args.sub} disabled")
    else:
        for account in await directory.accounts():
            state = "disabled" if account.disabled else "enabled"
            print(
                f"{account.staff_id}\t{account.name}\t{account.unit}\t{account.department}\t"
                f"{','.join(account.roles)}\t{account.jurisdiction or '-'}\t{state}"
            )
    return 0


def register(commands: Any) -> None:
    """Add ``staff`` and its subcommands to the ``ledger`` command's subparsers."""
    staff = commands.add_parser("staff", help="staff accounts of the console")
    sub = staff.add_subparsers(dest="staff_command", required=True)

    add = sub.add_parser("add", help="create an account (recorded in the ledger)")
    add.add_argument("--sub", required=True, help="staff id (the sign-in name)")
    add.add_argument("--name", required=True, help="the staff member's name")
    add.add_argument("--unit", required=True, help="unit code (GET /v1/reference)")
    add.add_argument("--department", required=True, choices=[d.value for d in Department])
    add.add_argument("--roles", required=True, type=roles_argument, help="e.g. intake,handler")
    add.add_argument("--jurisdiction", default=None, help="jurisdiction code, if any")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    passwd = sub.add_parser("passwd", help="set an account's password (also unlocks it)")
    passwd.add_argument("--sub", required=True)
    passwd.add_argument("--password-stdin", action="store_true")

    roles = sub.add_parser("roles", help="change an account's roles (recorded in the ledger)")
    roles.add_argument("--sub", required=True)
    roles.add_argument("--roles", required=True, type=roles_argument)

    disable = sub.add_parser("disable", help="disable an account (recorded in the ledger)")
    disable.add_argument("--sub", required=True)
    disable.add_argument("--reason", default="", help="why, for the record")

    sub.add_parser("list", help="list the accounts")
    staff.set_defaults(run=_run)
