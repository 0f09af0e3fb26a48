"""Checks before serving: what would otherwise end ``ledger serve`` in a traceback from deep inside
the start-up, said in one line with what to do about it.

- the database URL has a scheme the ledger knows;
- PostgreSQL is not served with the development token secret;
- the ledger's verifier key exists (``ledger keys init``) where PostgreSQL needs it provisioned;
- the database answers, and accepts a write (a read-only file, mount, replica or full disk does
  not).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import msgspec

from ledger.audit.keys import KeyConfig, KeyFileError, load_trusted
from ledger.config import DEVELOPMENT_JWT_SECRET, ConfigError, Settings
from ledger.store import EventStore, failures, open_store
from ledger.store.probe import probe_write


class StartupError(ConfigError):
    """A reason not to start, with its fix in the message."""


def shown(url: str) -> str:
    """``url`` without its password, fit for a message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def check_configuration(settings: Settings) -> None:
    """What can be told without the database."""
    try:
        open_store(settings.database_url)
    except ValueError as exc:
        raise StartupError(f"LEDGER_DATABASE_URL: {exc}") from None
    if settings.is_sqlite:
        return  # the embedded default makes its own development keys on first use
    if settings.jwt_secret == DEVELOPMENT_JWT_SECRET:
        raise StartupError(
            "LEDGER_JWT_SECRET is the development secret, which anyone can read in the source;"
            " set a secret of your own (e.g. `openssl rand -hex 32`) to serve PostgreSQL"
        )
    keys = msgspec.structs.replace(KeyConfig.from_env(), key_dir=Path(settings.key_dir))
    try:
        load_trusted(keys)
    except KeyFileError as exc:
        raise StartupError(
            f"the ledger's keys cannot be read ({exc}); run `ledger keys init` with"
            f" LEDGER_KEY_DIR={settings.key_dir}, or point LEDGER_KEY_DIR at the provisioned keys"
        ) from None


async def check_database(settings: Settings) -> None:
    """Open the store (which creates its tables) and write the readiness probe."""
    url = shown(settings.database_url)
    store = open_store(settings.database_url, timeouts=settings.timeouts)
    try:
        await store.open()
        await probe_write(store)
    except Exception as exc:
        raise StartupError(_database_problem(url, exc)) from None
    finally:
        await _close_quietly(store)


async def _close_quietly(store: EventStore) -> None:
    with contextlib.suppress(Exception):  # the reason not to start is being reported
        await store.close()


def _database_problem(url: str, exc: BaseException) -> str:
    kind = failures.cause(exc)
    said = failures.explain(exc)
    if kind == failures.READ_ONLY:
        return (
            f"the database at {url} is read-only ({said}); the ledger must write: serve it from"
            " a writable file or the PostgreSQL primary"
        )
    if kind == failures.DISK_FULL:
        return f"the database at {url} has no space left ({said}); free or add disk space"
    if kind in (failures.UNREACHABLE, failures.TIMEOUT, failures.OVERLOADED):
        return (
            f"cannot use the database at {url} ({said}); check that it is up (for a file:"
            " that its directory exists) and that LEDGER_DATABASE_URL names it"
        )
    return f"cannot open the database at {url}: {type(exc).__name__}: {said}"


def preflight(settings: Settings) -> None:
    """Every check, in order; raises ``StartupError``."""
    check_configuration(settings)
    asyncio.run(check_database(settings))
