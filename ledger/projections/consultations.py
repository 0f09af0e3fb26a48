"""Joint consultations (会商) of every case (``proj_consultations``): one row per ``Consulted``
event — the case, the event's position, who recorded it (unit, staff id and name), the units
consulted, and when it happened and was recorded — so that an inspection counts them per staff
member and unit in one range scan (``ledger.projections.readmodels.ReadModels.inspection``).

Rows of the case states the case view projection folds (``RowsOfCases``), rewritten when a
case's consultations change (a new one: the rest of a case's events leave them as they were).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from ledger.domain.context import Context
from ledger.projections.cases import CaseStates, RowsOfCases
from ledger.projections.projection import Applier, Projection, Table
from ledger.projections.state import CaseState


class ConsultationRow(NamedTuple):
    case_id: UUID
    position: int  # of the Consulted event: the proof an inspection cites
    unit: str  # the recorder's unit
    staff_id: str
    staff_name: str
    units: list[str]  # the units consulted (a list: both drivers make arrays of lists)
    occurred_at: datetime
    recorded_at: datetime


CONSULTATIONS = Table(
    name="proj_consultations",
    columns="""
    case_id     {uuid}   NOT NULL,
    position    {bigint} NOT NULL,
    unit        TEXT     NOT NULL,
    staff_id    TEXT     NOT NULL,
    staff_name  TEXT     NOT NULL,
    units       {codes}  NOT NULL,
    occurred_at {time}   NOT NULL,
    recorded_at {time}   NOT NULL,
    PRIMARY KEY (case_id, position)
    """,
    names=ConsultationRow._fields,
    key=("case_id", "position"),
    indexes=(
        "CREATE INDEX IF NOT EXISTS proj_consultations_at ON proj_consultations (occurred_at)",
        "CREATE INDEX IF NOT EXISTS proj_consultations_unit"
        " ON proj_consultations (unit, occurred_at)",
    ),
)


def consultation_rows(state: CaseState) -> tuple[ConsultationRow, ...]:
    return tuple(
        ConsultationRow(
            case_id=state.case_id,
            position=k.position,
            unit=k.unit,
            staff_id=k.staff_id,
            staff_name=k.name,
            units=list(k.units),
            occurred_at=k.at,
            # (a state folded before the recorded time was kept: the time it happened)
            recorded_at=k.recorded_at or k.at,
        )
        for k in state.consultations
    )


class Consultations(Projection):
    name = "consultations"
    # Bump when the rows change meaning: the stored ones are then rebuilt.
    version = 1
    requires = ("cases",)
    partitionable = True

    def tables(self) -> tuple[Table, ...]:
        return (CONSULTATIONS,)

    def start(
        self, context: Context, upstream: Mapping[str, Applier], cache_size: int = 20_000
    ) -> Applier:
        cases = upstream["cases"]
        assert isinstance(cases, CaseStates)
        return _ConsultationRows(context, cases)


class _ConsultationRows(RowsOfCases):
    targets = (CONSULTATIONS,)

    def rows(self, state: CaseState) -> tuple[tuple[ConsultationRow, ...]]:
        return (consultation_rows(state),)
