"""The registered read models, in the order their appliers run (a projection after those it
requires). Adding a read model: a module with a ``Projection``, and a line here."""

from __future__ import annotations

from ledger.projections.cases import CaseViews
from ledger.projections.consultations import Consultations
from ledger.projections.findings import Findings
from ledger.projections.meetings import MeetingList
from ledger.projections.projection import Projection
from ledger.projections.statistics import UnitFacts
from ledger.projections.tasks import CaseTasks

PROJECTIONS: tuple[Projection, ...] = (
    CaseViews(),
    Findings(),
    UnitFacts(),
    MeetingList(),
    CaseTasks(),
    Consultations(),
)
