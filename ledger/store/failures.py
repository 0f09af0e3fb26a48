"""What went wrong with the database, in an operator's words: the cause ``/ready``, problem
responses and logs name, instead of "cannot be reached" for everything.

``cause(exc)`` is one of ``timeout``, ``disk full``, ``read-only``, ``unreachable``,
``overloaded`` — or None when ``exc`` is not a database outage at all (a bug, a refused input).
"""

from __future__ import annotations

import errno
import sqlite3

import asyncpg

TIMEOUT = "timeout"
DISK_FULL = "disk full"
READ_ONLY = "read-only"
UNREACHABLE = "unreachable"
OVERLOADED = "overloaded"

_SQLITE_MESSAGES = (
    ("database or disk is full", DISK_FULL),
    ("readonly database", READ_ONLY),
    ("read-only", READ_ONLY),
    ("database is locked", TIMEOUT),
    ("unable to open", UNREACHABLE),
    ("disk i/o error", UNREACHABLE),
)

EXPLANATION = {
    TIMEOUT: "the database did not answer in time",
    DISK_FULL: "the database's disk is full",
    READ_ONLY: "the database accepts no writes (read-only)",
    UNREACHABLE: "the database cannot be reached",
    OVERLOADED: "the database refuses more connections",
}


def cause(exc: BaseException) -> str | None:
    """The kind of outage ``exc`` reports (see the module), or None."""
    if isinstance(exc, asyncpg.DiskFullError):
        return DISK_FULL
    if isinstance(exc, asyncpg.ReadOnlySQLTransactionError):
        return READ_ONLY
    if isinstance(exc, asyncpg.QueryCanceledError | TimeoutError):  # statement_timeout too
        return TIMEOUT
    if isinstance(exc, asyncpg.TooManyConnectionsError | asyncpg.InsufficientResourcesError):
        return OVERLOADED
    if isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.AdminShutdownError
        | asyncpg.InterfaceError,
    ):
        return UNREACHABLE
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc).lower()
        return next((kind for text, kind in _SQLITE_MESSAGES if text in message), UNREACHABLE)
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return DISK_FULL
        if exc.errno == errno.EROFS:
            return READ_ONLY
        return UNREACHABLE
    return None


def explain(exc: BaseException) -> str:
    """One line for a log or a problem detail: the cause, then the error's own words."""
    kind = cause(exc)
    said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if kind is None:
        return said
    return f"{EXPLANATION[kind]} ({said})"
