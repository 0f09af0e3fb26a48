"""One deadline per case: the one the aggregate set when it classified the case, carried by the
``Classified`` event. The view, the findings (FR9) and rule R9 all read that one; a policy
changed afterwards moves none of them (DOMAIN.md R9)."""

from __future__ import annotations

from ledger import commands as c
from ledger.domain.codes import Classification
from ledger.domain.context import Context, local_date
from ledger.domain.policy import DeadlinePolicy
from ledger.projections import ProjectionRunner, ReadModels
from ledger.projections.checks import intervals
from ledger.projections.state import decode_state
from ledger.projections.views import Check
from tests.domain.cases import FIRST_RESPONDER
from tests.projections.dbsupport import ledger


async def test_a_policy_change_after_classification_does_not_move_the_deadline(
    database_url: str,
) -> None:
    async with ledger(database_url) as it:
        case_id = await it.desk.register(FIRST_RESPONDER)
        await it.desk.do(
            case_id,
            FIRST_RESPONDER,
            c.Classify(classification=Classification.GENERAL, route=2, reason="按职责分类"),
        )
        runner = it.read_models.runner()
        await runner.prepare()
        await runner.catch_up()
        case = await it.desk.service.load(case_id)
        before = await it.read_models.case_view(case_id)
        assert before is not None
        assert before.deadline is not None
        assert (before.deadline.due, before.deadline.provisional) == (
            case.due,
            case.due_provisional,
        )

        # A later policy gives general matters twenty more working days.
        days = DeadlinePolicy().resolution_days
        later = Context(
            policy=DeadlinePolicy(
                resolution_days={
                    **days,
                    Classification.GENERAL: days[Classification.GENERAL] + 20,
                }
            )
        )
        received_on = local_date(before.received_at)
        assert later.policy_deadline(received_on, Classification.GENERAL).due != case.due

        # The read models are computed with the new settings (the findings depend on the
        # policy, so they are rebuilt from the log) …
        rebuilt = ProjectionRunner(it.read_models.db, it.store, later)
        await rebuilt.prepare()
        assert rebuilt.position == await it.store.head()
        read_models = ReadModels(it.read_models.db, it.store, later)
        after = await read_models.case_view(case_id)
        # … and still show the deadline the case was given, as the aggregate keeps it.
        assert after is not None
        assert after.deadline == before.deadline
        assert (await it.desk.service.load(case_id)).due == case.due
        data = await it.read_models.db.case_state(case_id)
        assert data is not None
        fr9 = [i for i in intervals(decode_state(data), later) if i.check is Check.FR9]
        assert [(i.after, i.provisional) for i in fr9] == [(case.due, case.due_provisional)]
