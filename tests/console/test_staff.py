"""Staff accounts: events in the ledger (hash chain, Merkle log), passwords beside it, lockout."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.audit.keys import KeyConfig, init_keys
from ledger.audit.service import AuditService, audit_hooks
from ledger.domain.codes import Department, Role
from ledger.domain.errors import InvalidCommand, InvalidTransition
from ledger.domain.reference import DEFAULT_REFERENCE
from ledger.domain.staff import account_id
from ledger.staff import AccountExists, SignInRefused, StaffDirectory
from ledger.store import open_store
from ledger.store.chain import verify_case_chain
from ledger.store.port import EventStore
from tests.api.processes import LEDGER, ROOT
from tests.api.support import AUDITOR, CLASSIFY, INTAKE, Api, Case

PASSWORD = "正确的马电池订书钉-2026"
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    store = open_store(database_url, hooks=audit_hooks())
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def directory(store: EventStore, database_url: str) -> AsyncIterator[StaffDirectory]:
    directory = StaffDirectory(store, database_url, DEFAULT_REFERENCE)
    await directory.open()
    yield directory
    await directory.close()


async def _add(directory: StaffDirectory, staff_id: str = "T1001") -> None:
    await directory.add(
        staff_id=staff_id,
        name="王丽",
        unit="tax.hall",
        department=Department.TAX,
        roles=(Role.INTAKE, Role.HANDLER),
        jurisdiction=None,
        password=PASSWORD,
        by="cli:test",
        now=NOW,
    )


async def test_account_changes_are_chained_events_and_no_password_is_in_the_log(
    directory: StaffDirectory, store: EventStore, tmp_path: Path
) -> None:
    await _add(directory)
    await directory.change_roles("T1001", (Role.INTAKE,), "cli:test", NOW)
    await directory.disable("T1001", "调离", "cli:test", NOW)
    records = await store.read_case(account_id("T1001"))
    assert [r.topic for r in records] == [
        "ledger.StaffAccountCreated",
        "ledger.StaffAccountRolesChanged",
        "ledger.StaffAccountDisabled",
    ]
    assert verify_case_chain(records) is None
    log = [r async for r in store.iter_log()]
    assert not any(b"argon2" in r.state or PASSWORD.encode() in r.state for r in log)
    assert not any(b"argon2" in r.metadata for r in log)
    # …and each of them is a leaf of the Merkle log, appended in the same transaction.
    init_keys(tmp_path / "keys")
    audit = AuditService.from_store(store, KeyConfig(key_dir=tmp_path / "keys"), signing=False)
    assert await audit.tree_size() == len(log) == 3
    account = await directory.load("T1001")
    assert account is not None
    assert account.disabled
    assert account.roles == (Role.INTAKE,)
    assert await directory.actor("T1001") is None  # disabled: no one signs in as it


async def test_a_signed_in_member_of_staff_is_the_actor_a_token_would_give(
    directory: StaffDirectory,
) -> None:
    await _add(directory)
    actor = await directory.sign_in("T1001", PASSWORD, NOW)
    assert (actor.staff_id, actor.name, actor.unit, actor.department, actor.roles) == (
        "T1001",
        "王丽",
        "tax.hall",
        Department.TAX,
        (Role.INTAKE, Role.HANDLER),
    )


async def test_five_failures_lock_the_account_for_fifteen_minutes(
    directory: StaffDirectory,
) -> None:
    await _add(directory)
    for attempt in range(4):
        with pytest.raises(SignInRefused, match="用户名或密码不正确"):
            await directory.sign_in("T1001", "wrong password!", NOW + timedelta(seconds=attempt))
    with pytest.raises(SignInRefused, match="已锁定 15 分钟") as locked:
        await directory.sign_in("T1001", "wrong password!", NOW + timedelta(seconds=5))
    assert locked.value.locked_until == NOW + timedelta(seconds=5, minutes=15)
    # Locked: even the right password is refused until the time is up.
    with pytest.raises(SignInRefused, match="已锁定"):
        await directory.sign_in("T1001", PASSWORD, NOW + timedelta(minutes=15))
    actor = await directory.sign_in("T1001", PASSWORD, NOW + timedelta(minutes=15, seconds=6))
    assert actor.staff_id == "T1001"


async def test_bad_accounts_and_passwords_are_refused_and_nothing_is_recorded(
    directory: StaffDirectory, store: EventStore
) -> None:
    with pytest.raises(InvalidCommand, match="at least 12"):
        await directory.add(
            staff_id="X1",
            name="甲",
            unit="tax.hall",
            department=Department.TAX,
            roles=(Role.INTAKE,),
            jurisdiction=None,
            password="short",
            by="t",
        )
    for unit, department, roles in [
        ("nowhere", Department.TAX, (Role.INTAKE,)),
        ("tax.hall", Department.HRSS, (Role.INTAKE,)),
        ("tax.hall", Department.TAX, ()),
    ]:
        with pytest.raises(InvalidCommand):
            await directory.add(
                staff_id="X1",
                name="甲",
                unit=unit,
                department=department,
                roles=roles,
                jurisdiction=None,
                password=PASSWORD,
                by="t",
            )
    assert await store.head() == 0
    await _add(directory)
    with pytest.raises(AccountExists):
        await _add(directory)
    await directory.disable("T1001", "", "t")
    with pytest.raises(InvalidTransition):
        await directory.disable("T1001", "", "t")
    assert await store.head() == 2
    with pytest.raises(SignInRefused, match="用户名或密码不正确"):
        await directory.sign_in("nobody", PASSWORD)


def test_the_staff_commands(tmp_path: Path) -> None:
    env = {"LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}", "PYTHONPATH": str(ROOT)}

    def ledger(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*LEDGER, "staff", *args], input=stdin, text=True, capture_output=True, env=env
        )

    add = ["add", "--sub", "H3001", "--name", "张伟", "--unit", "hrss.window"]
    added = ledger(
        *add, "--department", "hrss", "--roles", "handler", "--password-stdin", stdin=PASSWORD
    )
    assert added.returncode == 0, added.stderr
    short = ledger("passwd", "--sub", "H3001", "--password-stdin", stdin="short\n")
    assert short.returncode == 2
    assert "at least 12" in short.stderr
    changed = ledger("passwd", "--sub", "H3001", "--password-stdin", stdin=PASSWORD * 2)
    assert changed.returncode == 0
    assert ledger("roles", "--sub", "H3001", "--roles", "handler,intake").returncode == 0
    assert ledger("disable", "--sub", "H3001", "--reason", "调离").returncode == 0
    listed = ledger("list").stdout.split("\t")
    assert listed[0] == "H3001"
    assert listed[4] == "handler,intake"
    assert listed[-1] == "disabled\n"


async def test_an_accounts_id_is_no_case_to_the_api(
    sqlite_url: str, api: Api, head: Callable[[], Awaitable[int]]
) -> None:
    store = open_store(sqlite_url, hooks=audit_hooks())
    await store.open()
    directory = StaffDirectory(store, sqlite_url, DEFAULT_REFERENCE)
    await directory.open()
    try:
        await _add(directory)
    finally:
        await directory.close()
        await store.close()
    before = await head()
    case = Case(str(account_id("T1001")), 1)
    response = await api.post(INTAKE, case, "classify", CLASSIFY)
    assert response.status_code == 404, response.text
    assert await head() == before
    for path in ("", "/events"):
        read = await api.get(AUDITOR, f"/v1/cases/{case.id}{path}")
        assert read.status_code == 404, (path, read.text)
