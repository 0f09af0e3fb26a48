"""How long the ledger waits for PostgreSQL: nothing waits forever on a database that stopped
answering without closing its connections (a frozen host, a network partition).

| variable | bounds | default |
|---|---|---|
| LEDGER_DB_CONNECT_TIMEOUT | opening a connection (TCP, TLS, start-up) | 2 s |
| LEDGER_DB_ACQUIRE_TIMEOUT | waiting for a free connection of a pool | 2 s |
| LEDGER_DB_COMMAND_TIMEOUT | one statement of the event store, seen from the client | 5 s |
| LEDGER_DB_STATEMENT_TIMEOUT | one statement of the event store, on the server | 30 s |
| LEDGER_APPEND_TIMEOUT | one group-commit transaction, lock wait included | 3 s |

The client-side command timeout gives up on a server that does not answer; the server-side
``statement_timeout`` (and ``idle_in_transaction_session_timeout``, at twice it) stops a
statement or a transaction whose client went away while holding the append lock. The projection
store gets the connect and acquire bounds but no command timeout: a rebuild copies large batches,
and a runner blocked on a frozen database simply continues when it answers again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import asyncpg
import msgspec

ENV = {
    "connect": "LEDGER_DB_CONNECT_TIMEOUT",
    "acquire": "LEDGER_DB_ACQUIRE_TIMEOUT",
    "command": "LEDGER_DB_COMMAND_TIMEOUT",
    "statement": "LEDGER_DB_STATEMENT_TIMEOUT",
    "append": "LEDGER_APPEND_TIMEOUT",
}


class TimeoutConfigError(ValueError):
    pass


class DatabaseTimeouts(msgspec.Struct, frozen=True, kw_only=True):
    """Seconds; every one must be positive."""

    connect: float = 2.0
    acquire: float = 2.0
    command: float = 5.0
    statement: float = 30.0
    append: float = 3.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DatabaseTimeouts:
        env = os.environ if env is None else env
        given: dict[str, float] = {}
        for field, variable in ENV.items():
            text = env.get(variable, "").strip()
            if text:
                given[field] = seconds(variable, text)
        return cls(**given)

    def connect_kwargs(self, *, command: bool = True) -> dict[str, Any]:
        """Keyword arguments of ``asyncpg.connect`` / ``create_pool`` for these bounds."""
        kwargs: dict[str, Any] = {"timeout": self.connect}
        if command:
            milliseconds = str(int(self.statement * 1000))
            kwargs["command_timeout"] = self.command
            kwargs["server_settings"] = {
                "statement_timeout": milliseconds,
                "idle_in_transaction_session_timeout": str(int(self.statement * 2000)),
            }
        return kwargs


def seconds(variable: str, text: str) -> float:
    """A positive number of seconds from the variable ``variable``, or a clear error."""
    try:
        value = float(text)
    except ValueError:
        raise TimeoutConfigError(f"{variable}={text!r} is not a number of seconds") from None
    if not 0 < value < 3600 or value != value:
        raise TimeoutConfigError(f"{variable}={text!r} must be between 0 and 3600 seconds")
    return value


class TimedPool(asyncpg.Pool):
    """A pool whose every acquire (those of ``fetch``, ``execute``… included) waits at most
    ``acquire_timeout`` for a free connection; the release then waits as long at most."""

    def __init__(self, *args: Any, acquire_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


async def create_pool(
    url: str, timeouts: DatabaseTimeouts, *, command: bool = True, **kwargs: Any
) -> asyncpg.Pool:
    """``asyncpg.create_pool`` with the bounds of ``timeouts`` (see the module)."""
    pool = TimedPool(
        url,
        acquire_timeout=timeouts.acquire,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        init_size=None,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        connect=None,
        setup=None,
        loop=None,
        **kwargs,
        **timeouts.connect_kwargs(command=command),
    )
    await pool
    return pool
