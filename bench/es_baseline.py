"""The eventsourcing 9.5 side of the comparisons: its own Application, recorder and tables.

The baseline application persists the very same ``Dispute`` aggregate with the very same codec
(``ledger.store.codec.TypedMapper`` over ``MsgspecTranscoder``), so the stored state bytes are
identical to ours and only persistence and loading differ. This is the conservative choice: the
library's stock ``JSONTranscoder`` would need custom transcodings for the msgspec value objects and
would be slower, flattering our ratios.

It decodes the way the library's ``Mapper`` does (``LibraryPathMapper``: untyped decode, upcasting,
one ``msgspec.convert``), not with our typed fast path: that path is part of our read side, which
the replay scenarios compare with the library's.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper

from bench.framework import postgres_env
from ledger import commands as c
from ledger.domain.actor import Actor
from ledger.domain.context import Context, Facts
from ledger.domain.dispute import Dispute
from ledger.domain.errors import InvalidCommand
from ledger.service import RequestMeta, utc_now
from ledger.store.codec import MsgspecTranscoder, TypedMapper
from ledger.store.port import AppendResult, VersionConflict

APP_NAME = "BenchApp"  # its events table: benchapp_events


class LibraryPathMapper(TypedMapper):
    """Our codec (``MsgspecTranscoder``, typed conversion), decoding every event along the
    library ``Mapper``'s path: untyped decode, upcasting, ``msgspec.convert``, dict merge — as
    ``TypedMapper`` did before its typed fast path. Encoding is unchanged (same bytes)."""

    fast_decode = False


class BenchApp(Application[UUID]):
    """An eventsourcing application with our codec; tables ``benchapp_*``."""

    name = APP_NAME

    def construct_mapper(self) -> Mapper[UUID]:
        return LibraryPathMapper(transcoder=MsgspecTranscoder())


def open_app(database: str, pool_size: int = 10) -> BenchApp:
    """The baseline application on ``database`` (its table is created if missing)."""
    env = postgres_env(
        database,
        POSTGRES_POOL_SIZE=str(pool_size),
        POSTGRES_MAX_OVERFLOW="0",
        POSTGRES_MAX_WAITING="0",
    )
    return BenchApp(env=env)


def events_table() -> str:
    return APP_NAME.lower() + "_events"


class EsService:
    """``LedgerService``'s write interface (as ``ledger.demo`` drives it) over eventsourcing.

    Same command path — load the case, run the handler (rules), save — but loading is
    ``repository.get`` and saving is ``Application.save``, each run on a worker thread because the
    library is synchronous. Used so the demo paths run unchanged on both sides.
    """

    def __init__(self, app: BenchApp, context: Context, executor: ThreadPoolExecutor) -> None:
        self.app, self.context, self.executor = app, context, executor
        self.clock = utc_now

    async def _call(self, fn: Any, *args: Any) -> AppendResult:
        result: AppendResult = await asyncio.get_running_loop().run_in_executor(
            self.executor, fn, *args
        )
        return result

    async def register(
        self, actor: Actor, command: c.Register, meta: RequestMeta | None = None
    ) -> AppendResult:
        return await self._call(self._register, actor, command, self.clock())

    async def execute(
        self,
        case_id: UUID,
        actor: Actor,
        command: c.Command,
        expected_version: int | None = None,
        meta: RequestMeta | None = None,
    ) -> AppendResult:
        return await self._call(
            self._execute, case_id, actor, command, expected_version, self.clock()
        )

    def _register(self, actor: Actor, command: c.Register, now: datetime) -> AppendResult:
        spec = c.CATALOGUE["register"]
        case = spec.method(
            case_id=uuid.uuid4(),
            actor=actor,
            now=now,
            context=self.context,
            **spec.arguments(command),
        )
        return self._save(case, now)

    def _execute(
        self,
        case_id: UUID,
        actor: Actor,
        command: c.Command,
        expected_version: int | None,
        now: datetime,
    ) -> AppendResult:
        case: Dispute = self.app.repository.get(case_id)
        if expected_version is not None and expected_version != case.version:
            raise VersionConflict(case_id, expected_version, case.version)
        spec = c.spec_of(command)
        if spec is None or spec.creates:
            raise InvalidCommand(f"{type(command).__name__} is not a command on a case")
        supplied: dict[str, Any] = {"actor": actor, "context": self.context}
        if isinstance(command, c.Link):
            known = self.app.recorder.select_events(command.case_id, limit=1)
            supplied["facts"] = Facts(existing_cases=frozenset({command.case_id} if known else ()))
        arguments = {k: v for k, v in supplied.items() if k in spec.supplied}
        spec.method(case, now=now, **arguments, **spec.arguments(command))
        return self._save(case, now)

    def _save(self, case: Dispute, now: datetime) -> AppendResult:
        recordings = self.app.save(case)
        return AppendResult(
            case_id=case.id,
            version=case.version,
            first_position=recordings[0].notification.id,
            last_position=recordings[-1].notification.id,
            recorded_at=now,
        )
