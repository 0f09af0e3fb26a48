"""Meetings' tasks (四) of every case (``proj_tasks``): one row per decision a meeting recorded
on a case, the unit it is assigned to, its due date and when it was done — so that a unit's
list shows the cases where it has a task open (``GET /v1/cases?task_unit=``).

Rows of the case states the case view projection folds (``RowsOfCases``), rewritten when a
case's tasks change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.domain.context import Context
from ledger.projections.cases import CaseStates, RowsOfCases
from ledger.projections.projection import Applier, Projection, Table
from ledger.projections.state import CaseState

TASKS = Table(
    name="proj_tasks",
    columns="""
    case_id       {uuid}   NOT NULL,
    meeting_id    {uuid}   NOT NULL,
    decision_no   INTEGER  NOT NULL,
    assigned_unit TEXT     NOT NULL,
    due           {date}   NOT NULL,
    position      {bigint} NOT NULL,
    done_position {bigint},
    PRIMARY KEY (case_id, meeting_id, decision_no)
    """,
    names=(
        "case_id",
        "meeting_id",
        "decision_no",
        "assigned_unit",
        "due",
        "position",
        "done_position",
    ),
    key=("case_id", "meeting_id", "decision_no"),
    indexes=(
        "CREATE INDEX IF NOT EXISTS proj_tasks_unit ON proj_tasks (assigned_unit, due)",
        "CREATE INDEX IF NOT EXISTS proj_tasks_meeting ON proj_tasks (meeting_id)",
    ),
)


class CaseTasks(Projection):
    name = "tasks"
    version = 1
    requires = ("cases",)
    partitionable = True

    def tables(self) -> tuple[Table, ...]:
        return (TASKS,)

    def start(
        self, context: Context, upstream: Mapping[str, Applier], cache_size: int = 20_000
    ) -> Applier:
        cases = upstream["cases"]
        assert isinstance(cases, CaseStates)
        return _TaskRows(context, cases)


class _TaskRows(RowsOfCases):
    targets = (TASKS,)

    def rows(self, state: CaseState) -> tuple[tuple[Any, ...], ...]:
        return (
            tuple(
                (
                    state.case_id,
                    t.meeting_id,
                    t.decision_no,
                    t.assigned_unit,
                    t.due,
                    t.position,
                    t.done_position,
                )
                for t in state.tasks
            ),
        )
