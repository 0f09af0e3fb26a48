"""Properties that make "as of" answers exact and reproducible, over random valid histories.

- a duty's stored intervals say "missed" exactly when its status does, at every position and day;
- findings and custody as of position P, computed from the whole history, equal those computed
  from the events up to P only: appending events never changes an answer about the past.
"""

from __future__ import annotations

import asyncio
import random
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.context import Context, local_date
from ledger.projections.caseview import custody
from ledger.projections.checks import intervals
from ledger.projections.duties import duties
from ledger.projections.fold import CaseFolder
from ledger.projections.views import DutyStatus
from ledger.store.port import RecordedEvent
from tests.projections.support import Desk, fold
from tests.projections.workload import Workload

CONTEXT = Context()
histories = st.builds(lambda seed, steps: (seed, steps), st.integers(0, 2**32), st.integers(10, 60))


def history(seed: int, steps: int) -> list[RecordedEvent]:
    async def run() -> list[RecordedEvent]:
        desk = Desk()
        await Workload(desk, random.Random(seed)).run(steps)
        return await desk.records()

    return asyncio.run(run())


def days_around(records: list[RecordedEvent]) -> list[date]:
    first, last = local_date(records[0].recorded_at), local_date(records[-1].recorded_at)
    return [first + timedelta(days=n) for n in range(0, (last - first).days + 40, 3)]


def holding(folder: CaseFolder, position: int, today: date) -> set[tuple[object, ...]]:
    return {
        (state.case_id, i.check, i.proof)
        for state in folder.states.values()
        for i in intervals(state, CONTEXT)
        if i.holds(position, today)
    }


@settings(max_examples=15, deadline=None)
@given(histories)
def test_a_duty_is_missed_exactly_when_one_of_its_intervals_holds(params: tuple[int, int]) -> None:
    records = history(*params)
    folder = fold(records, CONTEXT)
    for state in folder.states.values():
        for duty in duties(state, CONTEXT):
            spans = duty.intervals()
            for position in range(state.registered_position, records[-1].position + 2):
                for today in days_around(records)[::4]:
                    missed = duty.status(position, today) is DutyStatus.MISSED
                    assert missed == any(i.holds(position, today) for i in spans), duty


@settings(max_examples=15, deadline=None)
@given(histories)
def test_answers_about_a_past_position_ignore_every_later_event(params: tuple[int, int]) -> None:
    records = history(*params)
    everything = fold(records, CONTEXT)
    for cut in sorted({len(records) // 4, len(records) // 2, len(records) - 1}):
        position = records[cut - 1].position if cut else 0
        then = fold(records[:cut], CONTEXT)
        for today in days_around(records)[::2]:
            found = holding(everything, position, today)
            assert found == holding(then, position, today)
            assert all(p <= position for _, _, proof in found for p in proof)  # type: ignore[attr-defined]
        for case_id, state in then.states.items():
            today = local_date(records[cut - 1].recorded_at)
            past = custody(everything.states[case_id], CONTEXT, position, today)
            assert past == custody(state, CONTEXT, position, today)
