"""The baseline of scenario 6: our case projection run by eventsourcing's ``ProjectionRunner``.

The library's way to maintain a read model: an ``Application`` whose notification log the runner
follows (LISTEN/NOTIFY plus catch-up selects), a ``Projection`` whose ``process_event`` is called
once per event, and a materialised view — a ``PostgresTrackingRecorder`` subclass — that writes the
event's row changes and its tracking record in one transaction.

"The same projection": ``process_event`` applies the event with our pure ``CaseFolder`` (case
states kept in memory, as generous to the library as it gets: no read per event), then writes
exactly the rows our runner writes (``tables.case_row`` / ``tables.finding_rows``) into tables of
the same shape and indexes (``esproj_cases``, ``esproj_findings``). The mapper hands the folder the
stored record without decoding it through the domain classes (the folder decodes state itself),
so the library does no more decoding work than we do. Its database runs with
``synchronous_commit = off``, as our runner's connections do.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, StoredEvent, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.sql import SQL

from bench.framework import postgres_env
from ledger.domain.context import Context
from ledger.projections import tables as t
from ledger.projections.fold import CaseFolder
from ledger.projections.projection import Dialect
from ledger.projections.registry import PROJECTIONS
from ledger.store.codec import MsgspecTranscoder
from ledger.store.port import RecordedEvent

APP_NAME = "EsProjApp"  # its events table: esprojapp_events
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def events_table() -> str:
    return APP_NAME.lower() + "_events"


class RecordMapper(Mapper[UUID]):
    """Gives the projection the stored record itself (our folder decodes the state)."""

    def __init__(self) -> None:
        super().__init__(transcoder=MsgspecTranscoder())

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return RecordedEvent(
            position=getattr(stored_event, "id", 0),
            case_id=stored_event.originator_id,  # type: ignore[arg-type]
            version=stored_event.originator_version,
            topic=stored_event.topic,
            state=stored_event.state,
            metadata=b"{}",
            # Not stored by the library; the folder keeps it on consultations only.
            recorded_at=_EPOCH,
            prev_hash=b"",
            hash=b"",
        )


class EsProjApp(Application[UUID]):
    name = APP_NAME

    def construct_mapper(self) -> Mapper[UUID]:
        return RecordMapper()


_DDL = ";\n".join(
    sql
    for p in PROJECTIONS
    for table in p.tables()
    for sql in (
        table.create(Dialect.POSTGRES),
        *table.eager_indexes,
        *table.all_indexes(Dialect.POSTGRES),
    )
).replace("proj_", "esproj_")
_CASES = (
    f"INSERT INTO esproj_cases ({', '.join(t.CASE_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(t.CASE_COLUMNS))}) ON CONFLICT (case_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in t.CASE_COLUMNS[1:])
)
_FINDINGS = (
    f"INSERT INTO esproj_findings ({', '.join(t.FINDING_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(t.FINDING_COLUMNS))})"
)


class CaseViews(PostgresTrackingRecorder):
    """The materialised view: case rows and finding rows, written with the tracking record."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.append(SQL(_DDL))  # type: ignore[arg-type]

    def write(
        self, cases: list[t.CaseRow], findings: list[t.FindingRow], tracking: Tracking
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for row in cases:
                curs.execute(_CASES, tuple(row), prepare=True)
                curs.execute(
                    "DELETE FROM esproj_findings WHERE case_id = %s",
                    (row.case_id,),
                    prepare=True,
                )
            if findings:
                curs.executemany(_FINDINGS, [tuple(f) for f in findings])
            self._insert_tracking(curs, tracking)


class CaseProjection(Projection[CaseViews]):
    name = "esproj"

    def __init__(self, view: CaseViews) -> None:
        super().__init__(view)
        self.context = Context()
        self.folder = CaseFolder(self.context)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        touched = self.folder.apply(domain_event)
        states = [self.folder.states[case_id] for case_id in touched]
        cases = [t.case_row(s) for s in states]
        findings = [f for s in states for f in t.finding_rows(s, self.context)]
        self.view.write(cases, findings, tracking)


def env_for(database: str) -> dict[str, str]:
    return postgres_env(database, POSTGRES_POOL_SIZE="4", POSTGRES_MAX_OVERFLOW="0")


def create_app_table(database: str) -> None:
    EsProjApp(env=env_for(database)).close()


def run(database: str, last_position: int, timeout: float = 3600) -> float:
    """Seconds the library's runner takes to project notifications 1..``last_position``."""
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=EsProjApp,
        projection_class=CaseProjection,
        view_class=CaseViews,
        env=env_for(database),
    ) as runner:
        runner.wait(last_position, timeout=timeout)
        seconds = time.perf_counter() - started
        done = runner.view.max_tracking_id(APP_NAME)
    if done != last_position:
        raise RuntimeError(f"the eventsourcing runner stopped at {done}, not {last_position}")
    return seconds
