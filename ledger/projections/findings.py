"""The findings projection (FR1–FR9): one row per finding interval (``proj_findings``,
``ledger.projections.checks``), with the case's first responder, unit and received time copied
in so an inspection is one indexed range scan, and whom it is charged to; and one row per
custody period (``proj_custody``, ``ledger.projections.custody``).

Findings are a function of the case state and the settings (policy, calendar, reference data):
the applier reads the states the case view projection folded (it requires it, so the two are
always rebuilt together), and its fingerprint covers those settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import msgspec

from ledger.domain.context import Context
from ledger.projections.cases import CaseStates, RowsOfCases
from ledger.projections.projection import Applier, Projection, Table
from ledger.projections.state import CaseState
from ledger.projections.tables import (
    CUSTODY_COLUMNS,
    FINDING_COLUMNS,
    CustodyRow,
    FindingRow,
    custody_rows,
    finding_rows,
)

# The calendar is fingerprinted over these years: all chinesecalendar knows and then some.
_CALENDAR_YEARS = range(2004, 2041)

FINDINGS = Table(
    name="proj_findings",
    columns="""
    case_id             {uuid}      NOT NULL,
    seq                 {smallint}  NOT NULL,
    check_id            TEXT        NOT NULL,
    first_responder     TEXT        NOT NULL,
    receiving_unit      TEXT        NOT NULL,
    received_at         {time}      NOT NULL,
    registered_position {bigint}    NOT NULL,
    from_position       {bigint}    NOT NULL,
    to_position         {bigint},
    after_date          {date},
    provisional         {bool}      NOT NULL,
    proof               {positions} NOT NULL,
    charged_unit        TEXT        NOT NULL,
    charged_staff       TEXT        NOT NULL,
    charged_name        TEXT        NOT NULL,
    PRIMARY KEY (case_id, seq)
    """,
    names=FINDING_COLUMNS,
    key=("case_id", "seq"),
    indexes=(
        "CREATE INDEX IF NOT EXISTS proj_findings_receiving"
        " ON proj_findings (receiving_unit, received_at)",
        "CREATE INDEX IF NOT EXISTS proj_findings_charged"
        " ON proj_findings (charged_unit, received_at)",
        "CREATE INDEX IF NOT EXISTS proj_findings_received ON proj_findings (received_at)",
    ),
)

# Who held each case when (``ledger.projections.custody``): the inspections' cases held.
CUSTODY = Table(
    name="proj_custody",
    columns="""
    case_id       {uuid}     NOT NULL,
    seq           {smallint} NOT NULL,
    unit          TEXT       NOT NULL,
    staff_id      TEXT       NOT NULL,
    staff_name    TEXT       NOT NULL,
    from_position {bigint}   NOT NULL,
    from_at       {time}     NOT NULL,
    to_position   {bigint},
    to_at         {time},
    PRIMARY KEY (case_id, seq)
    """,
    names=CUSTODY_COLUMNS,
    key=("case_id", "seq"),
    indexes=(
        "CREATE INDEX IF NOT EXISTS proj_custody_unit ON proj_custody (unit, from_at)",
        "CREATE INDEX IF NOT EXISTS proj_custody_from ON proj_custody (from_at)",
    ),
)


def settings_fingerprint(context: Context) -> bytes:
    """The policy, the reference data and every day of the calendar the checks may ask about."""
    digest = hashlib.sha256()
    digest.update(msgspec.json.encode(context.policy, order="sorted"))
    digest.update(msgspec.json.encode(context.reference, order="sorted"))
    for year in _CALENDAR_YEARS:
        days = context.calendar.working_days_of(year)
        digest.update(bytes(days) + bytes([context.calendar.knows(year)]))
    return digest.digest()


class Findings(Projection):
    name = "findings"
    # Bump when a check changes meaning: the stored findings are then rebuilt.
    # 4: a transfer returned as misrouted (退单) answers FR5 and counts toward FR6.
    # 5: each finding is charged to whoever owed the duty (custody); custody periods; FR4 from
    # registration when the case was registered outside the receiving unit's jurisdiction.
    # 6: TASK, a meeting's task not done by its due date, charged to the assigned unit.
    # 7: FR7 broadened (any channel and category, the repeat window); PA (信访 acceptance) and AR
    # (the reply owed to an assigning body).
    # 8: AR owed from the event that recorded the assignment, a later AssignmentRecorded too.
    version = 8
    requires = ("cases",)
    partitionable = True

    def tables(self) -> tuple[Table, ...]:
        return (FINDINGS, CUSTODY)

    def fingerprint(self, context: Context) -> str:
        digest = hashlib.sha256(super().fingerprint(context).encode())
        digest.update(settings_fingerprint(context))
        return digest.hexdigest()

    def start(
        self, context: Context, upstream: Mapping[str, Applier], cache_size: int = 20_000
    ) -> FindingIntervals:
        cases = upstream["cases"]
        assert isinstance(cases, CaseStates)
        return FindingIntervals(context, cases)


class FindingIntervals(RowsOfCases):
    """A case's findings and custody periods, rewritten when they change."""

    targets = (FINDINGS, CUSTODY)

    def rows(self, state: CaseState) -> tuple[tuple[FindingRow, ...], tuple[CustodyRow, ...]]:
        return tuple(finding_rows(state, self.context)), tuple(custody_rows(state))
