"""Staff accounts of the console: the accounts as events in the ledger, passwords beside it.

``StaffDirectory`` appends ``StaffAccount`` events through the same event store (with the audit
hooks the caller opened it with, so they enter the hash chain and the Merkle log like a case's),
and keeps the argon2id password hashes and the sign-in failure counters in a mutable table of
its own (``staff_passwords``), which the log never sees.

Sign-in: five failures in a row lock an account for fifteen minutes; an unknown staff id costs
the same hash verification as a known one, and is refused with the same words.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ledger.domain.actor import Actor
from ledger.domain.codes import Department, Role
from ledger.domain.context import SHANGHAI
from ledger.domain.errors import InvalidCommand
from ledger.domain.reference import ReferenceData
from ledger.domain.staff import StaffAccount, account_id
from ledger.store.codec import TypedMapper, default_mapper, encode_metadata
from ledger.store.port import EventStore, VersionConflict
from ledger.store.sql import SCHEMA_LOCK

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)

_HASHER = PasswordHasher()  # argon2id with the library's current parameters


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for an unknown account, so that it takes as long as a known
    one; made on first use, not when every ``ledger`` command imports this module."""
    return _HASHER.hash("not a password of anyone's, for timing only")


SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS staff_passwords (
    staff_id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    changed_at TEXT NOT NULL
);
"""
POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS staff_passwords (
    staff_id text PRIMARY KEY,
    hash text NOT NULL,
    failures integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    changed_at timestamptz NOT NULL
);
"""


class AccountExists(InvalidCommand):
    code = "ACCOUNT_EXISTS"


class UnknownAccount(InvalidCommand):
    code = "UNKNOWN_ACCOUNT"


class SignInRefused(Exception):
    """Sign-in refused; ``str(exc)`` is the message to show (in Chinese)."""

    def __init__(self, message: str, *, locked_until: datetime | None = None) -> None:
        super().__init__(message)
        self.locked_until = locked_until


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidCommand(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidCommand(f"a password has at most {MAX_PASSWORD} characters")


@dataclass(frozen=True)
class PasswordRow:
    staff_id: str
    hash: str
    failures: int
    locked_until: datetime | None


class _Passwords:
    """The mutable password table, on SQLite or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: Any = None
        self._lock = asyncio.Lock()

    @property
    def _sqlite(self) -> bool:
        return self.url.startswith("sqlite:")

    async def open(self) -> None:
        if self._sqlite:
            await asyncio.to_thread(self._sql, SQLITE_SCHEMA, script=True)
        else:
            import asyncpg

            self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=2)
            async with self._pool.acquire() as conn, conn.transaction():
                # Made under the store's schema lock: processes starting together would collide.
                await conn.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
                await conn.execute(POSTGRES_SCHEMA)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _sql(self, sql: str, params: Sequence[Any] = (), *, script: bool = False) -> list[Any]:
        from ledger.store import sqlite_path

        conn = sqlite3.connect(sqlite_path(self.url), timeout=30, isolation_level=None)
        try:
            if script:
                conn.executescript(sql)
                return []
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    async def get(self, staff_id: str) -> PasswordRow | None:
        if self._sqlite:
            rows = await asyncio.to_thread(
                self._sql,
                "SELECT staff_id, hash, failures, locked_until FROM staff_passwords "
                "WHERE staff_id = ?",
                (staff_id,),
            )
            if not rows:
                return None
            sid, hashed, failures, locked = rows[0]
            until = datetime.fromisoformat(locked) if locked else None
            return PasswordRow(sid, hashed, failures, until)
        row = await self._pool.fetchrow(
            "SELECT staff_id, hash, failures, locked_until FROM staff_passwords "
            "WHERE staff_id = $1",
            staff_id,
        )
        return None if row is None else PasswordRow(*row)

    async def all_ids(self) -> list[str]:
        if self._sqlite:
            rows = await asyncio.to_thread(
                self._sql, "SELECT staff_id FROM staff_passwords ORDER BY staff_id"
            )
        else:
            rows = await self._pool.fetch("SELECT staff_id FROM staff_passwords ORDER BY staff_id")
        return [r[0] for r in rows]

    async def put(self, staff_id: str, hashed: str, now: datetime) -> None:
        if self._sqlite:
            await asyncio.to_thread(
                self._sql,
                "INSERT INTO staff_passwords (staff_id, hash, failures, locked_until, changed_at) "
                "VALUES (?, ?, 0, NULL, ?) ON CONFLICT (staff_id) DO UPDATE SET "
                "hash = excluded.hash, failures = 0, locked_until = NULL, "
                "changed_at = excluded.changed_at",
                (staff_id, hashed, now.isoformat()),
            )
        else:
            await self._pool.execute(
                "INSERT INTO staff_passwords (staff_id, hash, failures, locked_until, changed_at) "
                "VALUES ($1, $2, 0, NULL, $3) ON CONFLICT (staff_id) DO UPDATE SET "
                "hash = excluded.hash, failures = 0, locked_until = NULL, "
                "changed_at = excluded.changed_at",
                staff_id,
                hashed,
                now,
            )

    async def set_failures(
        self, staff_id: str, failures: int, locked_until: datetime | None
    ) -> None:
        if self._sqlite:
            await asyncio.to_thread(
                self._sql,
                "UPDATE staff_passwords SET failures = ?, locked_until = ? WHERE staff_id = ?",
                (failures, locked_until.isoformat() if locked_until else None, staff_id),
            )
        else:
            await self._pool.execute(
                "UPDATE staff_passwords SET failures = $1, locked_until = $2 WHERE staff_id = $3",
                failures,
                locked_until,
                staff_id,
            )


class StaffDirectory:
    """Staff accounts over an opened event store and the password table of the same database."""

    def __init__(
        self,
        store: EventStore,
        database_url: str,
        reference: ReferenceData,
        mapper: TypedMapper | None = None,
    ) -> None:
        self.store = store
        self.reference = reference
        self.mapper = mapper or default_mapper()
        self.passwords = _Passwords(database_url)
        # One sign-in check at a time per process: the failure counter is read and written.
        self._sign_in = asyncio.Lock()

    async def open(self) -> None:
        await self.passwords.open()

    async def close(self) -> None:
        await self.passwords.close()

    # -- accounts (events) ----------------------------------------------------------------------

    async def load(self, staff_id: str) -> StaffAccount | None:
        records = await self.store.read_case(account_id(staff_id))
        account: Any = None
        for record in records:
            account = self.mapper.from_record(record).mutate(account)  # type: ignore[attr-defined]
        return account if isinstance(account, StaffAccount) else None

    async def _append(self, account: StaffAccount, by: str) -> None:
        pending = account.collect_events()
        if not pending:
            return
        metadata = encode_metadata({"by": by})
        events = [self.mapper.to_new_event(e, metadata) for e in pending]
        await self.store.append(account.id, pending[0].originator_version - 1, events)

    async def add(
        self,
        *,
        staff_id: str,
        name: str,
        unit: str,
        department: Department,
        roles: tuple[Role, ...],
        jurisdiction: str | None,
        password: str,
        by: str,
        now: datetime | None = None,
    ) -> StaffAccount:
        check_password(password)
        now = now or datetime.now(UTC)
        account = StaffAccount.create(
            staff_id=staff_id,
            name=name,
            unit=unit,
            department=department,
            roles=roles,
            jurisdiction=jurisdiction,
            by=by,
            now=now,
            reference=self.reference,
        )
        hashed = _HASHER.hash(password)
        try:
            await self._append(account, by)
        except VersionConflict:
            raise AccountExists(f"an account {staff_id!r} exists already") from None
        await self.passwords.put(staff_id, hashed, now)
        return account

    async def _existing(self, staff_id: str) -> StaffAccount:
        account = await self.load(staff_id)
        if account is None:
            raise UnknownAccount(f"no account {staff_id!r}")
        return account

    async def set_password(self, staff_id: str, password: str, now: datetime | None = None) -> None:
        check_password(password)
        await self._existing(staff_id)
        await self.passwords.put(staff_id, _HASHER.hash(password), now or datetime.now(UTC))

    async def change_roles(
        self, staff_id: str, roles: tuple[Role, ...], by: str, now: datetime | None = None
    ) -> StaffAccount:
        account = await self._existing(staff_id)
        account.change_roles(roles, by, now or datetime.now(UTC))
        await self._append(account, by)
        return account

    async def disable(
        self, staff_id: str, reason: str, by: str, now: datetime | None = None
    ) -> StaffAccount:
        account = await self._existing(staff_id)
        account.disable(reason, by, now or datetime.now(UTC))
        await self._append(account, by)
        return account

    async def accounts(self) -> list[StaffAccount]:
        found = [await self.load(staff_id) for staff_id in await self.passwords.all_ids()]
        return [a for a in found if a is not None]

    async def actor(self, staff_id: str) -> Actor | None:
        """The Actor of an enabled account, or None (unknown or disabled)."""
        account = await self.load(staff_id)
        if account is None or account.disabled:
            return None
        return account.actor()

    # -- sign-in --------------------------------------------------------------------------------

    async def sign_in(self, staff_id: str, password: str, now: datetime | None = None) -> Actor:
        now = now or datetime.now(UTC)
        async with self._sign_in:
            row = await self.passwords.get(staff_id) if staff_id else None
            if row is None:
                _verify(_dummy_hash(), password)
                raise SignInRefused("用户名或密码不正确。")
            if row.locked_until is not None and row.locked_until > now:
                until = row.locked_until
                raise SignInRefused(_locked_message(until), locked_until=until)
            if not _verify(row.hash, password):
                failures = row.failures + 1
                if failures >= MAX_FAILURES:
                    until = now + LOCKOUT
                    await self.passwords.set_failures(staff_id, 0, until)
                    raise SignInRefused(_locked_message(until), locked_until=until)
                await self.passwords.set_failures(staff_id, failures, None)
                raise SignInRefused("用户名或密码不正确。")
            if row.failures or row.locked_until is not None:
                await self.passwords.set_failures(staff_id, 0, None)
            if _HASHER.check_needs_rehash(row.hash):
                await self.passwords.put(staff_id, _HASHER.hash(password), now)
        account = await self.load(staff_id)
        if account is None or account.disabled:
            raise SignInRefused("该账户已停用，请联系系统管理员。")
        return account.actor()


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def _locked_message(until: datetime) -> str:
    local = until.astimezone(SHANGHAI).strftime("%H:%M")
    return (
        f"连续 {MAX_FAILURES} 次登录失败，账户已锁定 {_minutes(LOCKOUT)} 分钟，"
        f"请于 {local} 后再试，或联系系统管理员。"
    )
