"""``ledger backup FILE`` and ``ledger restore FILE [--force]``: a consistent copy of the whole
database (log, Merkle tree, checkpoints, read models), taken while the API serves, and its
restoration, which ends with ``ledger verify``.

- SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot
  page by page while writers go on; FILE is itself a SQLite database.
- PostgreSQL: ``pg_dump --format=custom`` (one snapshot of the whole database) and
  ``pg_restore --clean --if-exists --single-transaction``; FILE is a custom-format archive.
  ``pg_dump`` must be at least as new as the server.

A restore refuses a target ledger that holds events unless ``--force`` (then the target's
contents are replaced); afterwards it verifies the restored ledger — chains, tree, and every
checkpoint's signed root against the rebuilt tree — and reports the latest checkpoint, whose
size and root can be compared with the original's checkpoint of that size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

import msgspec

from ledger.audit.keys import KeyConfig, KeyFileError
from ledger.audit.service import AuditService
from ledger.config import ConfigError, Settings
from ledger.store import open_store, sqlite_path


class BackupError(ConfigError):
    """Why a backup or a restore did not happen, with what to do."""


class Restored(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    events: int
    checkpoints_checked: int
    checkpoint_size: int | None
    checkpoint_root: str | None  # hex
    problem: str | None


async def backup(settings: Settings, file: Path) -> int:
    """Write a backup of the ledger at ``settings.database_url`` to ``file`` (which must not
    exist); the size in bytes."""
    partial = _partial(file)
    try:
        if settings.is_sqlite:
            await asyncio.to_thread(_copy_sqlite, sqlite_path(settings.database_url), partial)
        else:
            await _run(
                _tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--file",
                str(partial),
                settings.database_url,
            )
        partial.rename(file)  # only a complete backup gets the name
    finally:
        partial.unlink(missing_ok=True)
    return _size(file)


async def restore(settings: Settings, file: Path, *, force: bool = False) -> Restored:
    """Restore ``file`` into the database at ``settings.database_url``, then verify it."""
    _existing(file)
    held = await _events_held(settings)
    if held and not force:
        raise BackupError(
            f"the ledger at the target holds {held} events; restore into an empty database,"
            " or pass --force to replace its contents"
        )
    if settings.is_sqlite:
        await asyncio.to_thread(_copy_sqlite, file, Path(sqlite_path(settings.database_url)))
    else:
        await _run(
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            settings.database_url,
            str(file),
        )
    return await verify_restored(settings)


async def verify_restored(settings: Settings) -> Restored:
    keys = msgspec.structs.replace(KeyConfig.from_env(), key_dir=Path(settings.key_dir))
    try:
        service = await AuditService.open(settings.database_url, keys, signing=False)
    except KeyFileError as exc:
        raise BackupError(
            f"restored, but not verified: {exc}; verify with `ledger verify` once the ledger's"
            " verifier key is in LEDGER_KEY_DIR"
        ) from None
    try:
        report = await service.verify()
        latest = await service.latest_checkpoint()
    finally:
        await service.close()
    return Restored(
        ok=report.ok,
        events=report.events_checked,
        checkpoints_checked=report.checkpoints_checked,
        checkpoint_size=None if latest is None else latest.size,
        checkpoint_root=None if latest is None else latest.root.hex(),
        problem=report.problem,
    )


async def _events_held(settings: Settings) -> int:
    if settings.is_sqlite and not _is_file(Path(sqlite_path(settings.database_url))):
        return 0
    store = open_store(settings.database_url, timeouts=settings.timeouts)
    await store.open()
    try:
        return await store.head()
    finally:
        await store.close()


# File checks, outside the coroutines (they are instants, not waits).


def _partial(file: Path) -> Path:
    if file.exists():
        raise BackupError(f"{file} exists; choose a new file name (a backup never overwrites)")
    partial = file.with_name(file.name + ".partial")
    partial.unlink(missing_ok=True)
    return partial


def _existing(file: Path) -> None:
    if not file.is_file():
        raise BackupError(f"no backup at {file}")


def _is_file(path: Path) -> bool:
    return path.is_file()


def _size(file: Path) -> int:
    return file.stat().st_size


def _copy_sqlite(source: str | os.PathLike[str], target: Path) -> None:
    """Copy the database ``source`` into ``target`` with SQLite's online backup API (a reader of
    ``source``: writers go on; the copy is the state of one moment)."""
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH; install PostgreSQL's client tools")
    return found


async def _run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        said = (err or out).decode(errors="replace").strip().splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: {said[-1] if said else 'no output'}")


def _backup_command(settings: Settings, args: argparse.Namespace) -> int:
    size = asyncio.run(backup(settings, Path(args.file)))
    print(f"ledger backup: {args.file} ({size} bytes)", file=sys.stderr)
    return 0


def _restore_command(settings: Settings, args: argparse.Namespace) -> int:
    result = asyncio.run(restore(settings, Path(args.file), force=args.force))
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(result), indent=2).decode() + "\n")
    if not result.ok:
        print(f"ledger restore: restored, but verify FAILED: {result.problem}", file=sys.stderr)
        return 1
    print(
        f"ledger restore: ok, {result.events} events and {result.checkpoints_checked}"
        f" checkpoints verified; latest checkpoint size {result.checkpoint_size}"
        f" root {result.checkpoint_root}",
        file=sys.stderr,
    )
    return 0


def register(commands: Any) -> None:
    """Add ``backup`` and ``restore`` to the ``ledger`` command's subparsers."""
    made = commands.add_parser("backup", help="copy the whole database to FILE, while serving")
    made.add_argument("file", help="the backup file to write (must not exist)")
    made.set_defaults(run=_backup_command)
    back = commands.add_parser("restore", help="restore a backup into the database, then verify")
    back.add_argument("file", help="a file written by `ledger backup`")
    back.add_argument(
        "--force", action="store_true", help="replace the contents of a ledger that holds events"
    )
    back.set_defaults(run=_restore_command)
