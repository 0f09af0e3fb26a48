"""Who did something: the authenticated member of staff, taken from the verified token.

Never from a request body (ARCHITECTURE.md decision 6). The actor is part of every event because
the rules depend on it (R2 first responder, R4 holding unit, R5 city tax bureau, R9 office).
"""

from __future__ import annotations

import msgspec

from ledger.domain.codes import Department, Role


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    staff_id: str
    name: str
    unit: str
    department: Department
    roles: tuple[Role, ...] = ()
    jurisdiction: str | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles


class StaffRef(msgspec.Struct, frozen=True, kw_only=True):
    """A member of staff as remembered by a case (the first responder)."""

    staff_id: str
    name: str
    unit: str
