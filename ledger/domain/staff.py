"""The StaffAccount aggregate: who may sign in to the console, as whom, and since when.

An account's creation, its changes of roles and its disabling are events in the ledger (same
store, same hash chain and Merkle log as the cases), so who could do what at any past moment is
provable. A password hash is never part of it: it lives in a mutable table beside the log
(``ledger.staff``), which is replaced when the password changes.

Topics are explicit and stable (``ledger.StaffAccount…``); no projection of cases uses them.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor
from ledger.domain.codes import Department, Role
from ledger.domain.errors import InvalidCommand, InvalidTransition
from ledger.domain.reference import ReferenceData, UnknownJurisdiction, UnknownUnit

# Account ids are derived from the staff id: one account per staff id, found without an index.
_NAMESPACE = UUID("0b6f3a2e-5d1c-4c8e-9a57-3f0e2b7c9d41")
MAX_STAFF_ID = 64


def account_id(staff_id: str) -> UUID:
    return uuid5(_NAMESPACE, f"staff:{staff_id}")


def _check(
    staff_id: str,
    name: str,
    unit: str,
    department: Department,
    roles: tuple[Role, ...],
    jurisdiction: str | None,
    reference: ReferenceData,
) -> None:
    if not staff_id.strip() or len(staff_id) > MAX_STAFF_ID or not staff_id.isprintable():
        raise InvalidCommand(f"staff id must be 1 to {MAX_STAFF_ID} printable characters")
    if not name.strip() or len(name) > 200 or not name.isprintable():
        raise InvalidCommand("name must be 1 to 200 printable characters")
    try:
        known = reference.unit(unit)
    except UnknownUnit:
        raise InvalidCommand(f"unknown unit {unit!r}") from None
    if known.department is not department:
        raise InvalidCommand(
            f"unit {unit!r} belongs to department {known.department.value!r}, "
            f"not {department.value!r}"
        )
    if not roles:
        raise InvalidCommand("an account needs at least one role")
    if jurisdiction is not None:
        try:
            reference.jurisdiction(jurisdiction)
        except UnknownJurisdiction:
            raise InvalidCommand(f"unknown jurisdiction {jurisdiction!r}") from None


class StaffAccount(Aggregate):
    TOPIC = "ledger.StaffAccount"

    class Event(Aggregate.Event):
        TOPIC = "ledger.StaffAccount.Event"

    class Created(Aggregate.Created):
        TOPIC = "ledger.StaffAccount.Created"

    @classmethod
    def create(
        cls,
        *,
        staff_id: str,
        name: str,
        unit: str,
        department: Department,
        roles: tuple[Role, ...],
        jurisdiction: str | None,
        by: str,
        now: datetime,
        reference: ReferenceData,
    ) -> StaffAccount:
        roles = tuple(dict.fromkeys(roles))
        _check(staff_id, name, unit, department, roles, jurisdiction, reference)
        return cls(
            id=account_id(staff_id),
            staff_id=staff_id,
            name=name.strip(),
            unit=unit,
            department=department,
            roles=list(roles),
            jurisdiction=jurisdiction,
            by=by,
            occurred_at=now,
        )

    @event("StaffAccountCreated", topic="ledger.StaffAccountCreated")
    def __init__(
        self,
        id: UUID,
        staff_id: str,
        name: str,
        unit: str,
        department: Department,
        roles: list[Role],
        jurisdiction: str | None,
        by: str,
        occurred_at: datetime,
    ) -> None:
        self.staff_id = staff_id
        self.name = name
        self.unit = unit
        self.department = department
        self.roles = tuple(roles)
        self.jurisdiction = jurisdiction
        self.disabled = False
        self.created_at = occurred_at

    def change_roles(self, roles: tuple[Role, ...], by: str, now: datetime) -> None:
        roles = tuple(dict.fromkeys(roles))
        if self.disabled:
            raise InvalidTransition(f"account {self.staff_id!r} is disabled")
        if not roles:
            raise InvalidCommand("an account needs at least one role")
        if roles == self.roles:
            return
        self._roles_changed(roles=list(roles), by=by, occurred_at=now)

    @event("StaffAccountRolesChanged", topic="ledger.StaffAccountRolesChanged")
    def _roles_changed(self, roles: list[Role], by: str, occurred_at: datetime) -> None:
        self.roles = tuple(roles)

    def disable(self, reason: str, by: str, now: datetime) -> None:
        if self.disabled:
            raise InvalidTransition(f"account {self.staff_id!r} is already disabled")
        self._disabled(reason=reason.strip(), by=by, occurred_at=now)

    @event("StaffAccountDisabled", topic="ledger.StaffAccountDisabled")
    def _disabled(self, reason: str, by: str, occurred_at: datetime) -> None:
        self.disabled = True

    def actor(self) -> Actor:
        """The Actor a signed-in member of staff acts as: the same one a token would give."""
        return Actor(
            staff_id=self.staff_id,
            name=self.name,
            unit=self.unit,
            department=self.department,
            roles=self.roles,
            jurisdiction=self.jurisdiction,
        )
