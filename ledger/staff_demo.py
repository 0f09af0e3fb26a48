"""Demo accounts of the console for the embedded default: the demo's staff, one per role.

Created by ``ledger demo`` and by ``ledger serve`` on an empty embedded database, all with the
same demo password, which ``ledger serve`` prints with each account's roles. Never for a
deployment: a PostgreSQL ledger gets its accounts with ``ledger staff add``.
"""

from __future__ import annotations

import contextlib

from ledger.demo_people import STAFF
from ledger.domain.codes import Department, Role
from ledger.domain.reference import ReferenceData
from ledger.staff import AccountExists, StaffDirectory
from ledger.store.port import EventStore

DEMO_PASSWORD = "ledger-demo-2026"
# Beside the demo's case workers: who reads, audits and inspects.
EXTRA = {
    "auditor": ("A0001", "吴审计", "tax.sif", Department.TAX, (Role.AUDITOR,)),
    "inspector": ("I0001", "郑检查", "tax.sif", Department.TAX, (Role.INSPECTOR,)),
}


def demo_accounts() -> dict[str, tuple[str, str, str, Department, tuple[Role, ...]]]:
    return {**STAFF, **EXTRA}


async def add_demo_accounts(
    store: EventStore, database_url: str, reference: ReferenceData
) -> list[tuple[str, str, str, tuple[Role, ...]]]:
    """Creates the demo accounts that do not exist yet; (staff id, name, unit, roles) of each."""
    directory = StaffDirectory(store, database_url, reference)
    await directory.open()
    made = []
    try:
        for staff_id, name, unit, department, roles in demo_accounts().values():
            with contextlib.suppress(AccountExists):
                await directory.add(
                    staff_id=staff_id,
                    name=name,
                    unit=unit,
                    department=department,
                    roles=roles,
                    jurisdiction=None,
                    password=DEMO_PASSWORD,
                    by="demo",
                )
            made.append((staff_id, name, unit, roles))
    finally:
        await directory.close()
    return made


def sign_in_help(accounts: list[tuple[str, str, str, tuple[Role, ...]]], url: str) -> str:
    lines = [f"console: {url}/login — demo accounts (password {DEMO_PASSWORD}):"]
    for staff_id, name, unit, roles in accounts:
        shown = "、".join(r.label for r in roles)
        lines.append(f"  {staff_id:<6} {name:<4} {unit:<16} {shown}")
    return "\n".join(lines)
