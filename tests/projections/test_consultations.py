"""Joint consultations (会商) as the read models keep them (``proj_consultations``): one row per
``Consulted`` event, written as events come in and exactly the same after a rebuild — serial
on both databases, split over processes on PostgreSQL."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger import commands as c
from ledger.projections import ProjectionRunner
from ledger.projections.state import decode_state
from tests.domain.cases import FIRST_RESPONDER
from tests.projections.dbsupport import Ledger, Rows, dump, ledger
from tests.projections.test_custody import GENERAL, WINDOW_HANDLER


async def consulted_cases(it: Ledger, runner: ProjectionRunner) -> tuple[UUID, UUID]:
    """Two cases consulted on, the runner catching up after every event (live projection):
    one sent to the hrss window and consulted on there twice, one consulted on at the hall."""
    desk = it.desk
    sent = await desk.register(FIRST_RESPONDER)
    kept = await desk.register(FIRST_RESPONDER)
    steps = [
        (sent, FIRST_RESPONDER, GENERAL),
        (sent, FIRST_RESPONDER, c.Transfer(to_unit="hrss.window", reason="人社事项")),
        (sent, WINDOW_HANDLER, c.Accept()),
        (sent, WINDOW_HANDLER, c.Consult(units=("tax.hall", "medical.agency"), outcome="会商")),
        (kept, FIRST_RESPONDER, GENERAL),
        (kept, FIRST_RESPONDER, c.Consult(units=("tax.sif",), outcome="会商确认缴费基数")),
        (sent, WINDOW_HANDLER, c.Consult(units=("tax.legal",), outcome="再次会商")),
    ]
    await runner.catch_up()
    for case_id, actor, command in steps:
        await desk.later(hours=2).do(case_id, actor, command)
        await runner.catch_up()
    return sent, kept


def consultations(rows: Rows) -> list[tuple[Any, ...]]:
    """(case, position, unit, staff id, name, units) of each row, in log order (SQLite keeps
    the units as comma-separated text, PostgreSQL as an array)."""
    found: list[tuple[Any, ...]] = [
        (str(r[0]), r[1], r[2], r[3], r[4], tuple(_units(r[5]))) for r in rows
    ]
    return sorted(found, key=lambda row: int(row[1]))


def _units(value: Any) -> list[str]:
    return value.split(",") if isinstance(value, str) else list(value)


async def test_each_consultation_is_a_row_and_a_rebuild_writes_the_same_rows(
    database_url: str,
) -> None:
    async with ledger(database_url) as it:
        runner = it.read_models.runner(batch_size=2)  # batches end between the events
        await runner.prepare()
        sent, kept = await consulted_cases(it, runner)
        live = await dump(database_url)
        records = await it.desk.records()
        consulted = [r.position for r in records if r.topic == "ledger.Consulted"]
        assert consultations(live[4]) == [
            (
                str(sent),
                consulted[0],
                "hrss.window",
                "H3002",
                "吴敏",
                ("tax.hall", "medical.agency"),
            ),
            (str(kept), consulted[1], "tax.hall", "T1001", "王丽", ("tax.sif",)),
            (str(sent), consulted[2], "hrss.window", "H3002", "吴敏", ("tax.legal",)),
        ]
        # The times as the log has them: when it happened (the desk's clock), when recorded.
        by_position = {r.position: r for r in records}
        stored: Any = next(row[-1] for row in live[0] if str(row[0]) == str(sent))
        state = decode_state(bytes(stored))
        assert [k.recorded_at for k in state.consultations] == [
            by_position[consulted[0]].recorded_at,
            by_position[consulted[2]].recorded_at,
        ]

        await runner.rebuild()
        assert await dump(database_url) == live


async def test_a_partitioned_rebuild_writes_the_consultations_of_a_serial_one(
    postgres_url: str,
) -> None:
    async with ledger(postgres_url) as it:
        live_runner = it.read_models.runner(batch_size=3)
        await live_runner.prepare()
        await consulted_cases(it, live_runner)
        live = await dump(postgres_url)
        partitioned = ProjectionRunner(
            it.read_models.db,
            it.store,
            it.desk.service.context,
            workers=2,
            partition_min_events=0,
        )
        assert await partitioned.rebuild() == await it.store.head()
        assert partitioned.replay_processes == 2
        assert await dump(postgres_url) == live
        assert len(live[4]) == 3
