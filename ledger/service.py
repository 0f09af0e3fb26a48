"""The only write path: get the case → call the command's method on it (the rules) → save.

Which method a command calls, and with what, is the catalogue's (``ledger.commands``); how a case
is loaded, cached, snapshotted and appended is the repository's (``ledger.repository``). The actor
is passed in by the caller (the API passes the verified token's principal), never read from the
command. Reads that rebuild a case from its events are the repository's too; the service hands
them through for its callers.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from ledger import commands as c
from ledger.config import DEFAULT_CASE_NUMBER_FORMAT
from ledger.domain.actor import Actor
from ledger.domain.context import Context, Facts, local_date
from ledger.domain.dispute import Dispute
from ledger.domain.errors import DomainError, InvalidCommand
from ledger.projections.state import CaseState
from ledger.repository import CaseNotFound, CaseRepository, LoadedCase, SnapshotRefresh
from ledger.store.codec import TypedMapper, encode_metadata
from ledger.store.port import (
    AppendResult,
    EventStore,
    Idempotency,
    IdempotencyKeyReused,
    RecordedEvent,
    VersionConflict,
)

__all__ = ["CaseNotFound", "LedgerService", "RequestMeta", "SnapshotRefresh", "fingerprint"]

# Registration retries carry no case id yet: the id is derived from the staff member and the key,
# so a retried POST /v1/cases lands on the same case and the store's idempotency check applies.
_REGISTRATION_NAMESPACE = UUID("6f1d3c0e-2b7a-4c59-9a51-0d3f8f6c2e11")


@dataclass(frozen=True)
class RequestMeta:
    """Per-request facts that go into every event's metadata."""

    request_id: str = ""
    idempotency_key: str | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


def fingerprint(actor: Actor, command: c.Command) -> str:
    """Identifies who asked for what, so a key reused for another request (or by another member
    of staff) is refused instead of answered with someone else's result."""
    head = f"{actor.staff_id}\0{type(command).__name__}\0".encode()
    body = head + msgspec.json.encode(command, order="sorted")
    return hashlib.sha256(body).hexdigest()


class LedgerService:
    def __init__(
        self,
        store: EventStore,
        context: Context | None = None,
        clock: Callable[[], datetime] = utc_now,
        mapper: TypedMapper | None = None,
        cache_size: int = 10_000,
        snapshot_every: int = 100,
        snapshot_key: bytes | None = None,
        case_number_format: str = DEFAULT_CASE_NUMBER_FORMAT,
    ) -> None:
        self.store = store
        self.case_number_format = case_number_format
        self.context = context or Context()
        self.clock = clock
        self.cases = CaseRepository(
            store,
            self.context,
            mapper,
            cache_size=cache_size,
            snapshot_every=snapshot_every,
            snapshot_key=snapshot_key,
        )

    @property
    def mapper(self) -> TypedMapper:
        return self.cases.mapper

    @property
    def snapshot_every(self) -> int:
        return self.cases.snapshot_every

    # -- writes ------------------------------------------------------------------------------

    async def register(
        self, actor: Actor, command: c.Register, meta: RequestMeta | None = None
    ) -> AppendResult:
        """Register a new case (the catalogue's ``creates`` command)."""
        meta = meta or RequestMeta()
        if meta.idempotency_key:
            name = f"{actor.staff_id}\0{meta.idempotency_key}"
            case_id = uuid.uuid5(_REGISTRATION_NAMESPACE, name)
            replay = await self._replay(case_id, actor, command, meta)
            if replay is not None:
                return replay
        else:
            case_id = uuid.uuid4()
        spec = self._spec(command, creates=True)
        now = self.clock()
        year = local_date(now).year  # case numbers count registrations per year, Beijing time

        def numbered(seq: int | None) -> Dispute:
            case_number = (
                None if seq is None else self.case_number_format.format(year=year, seq=seq)
            )
            case: Dispute = spec.method(
                case_id=case_id,
                actor=actor,
                now=now,
                context=self.context,
                case_number=case_number,
                **spec.arguments(command),
            )
            return case

        case = numbered(None)  # the rules are checked here, before anything is queued
        return await self._save(self.cases.new(case), actor, command, meta, (year, numbered))

    async def execute(
        self,
        case_id: UUID,
        actor: Actor,
        command: c.Command,
        expected_version: int | None = None,
        meta: RequestMeta | None = None,
    ) -> AppendResult:
        """Run one command on a case. ``expected_version`` is the version the client last saw."""
        meta = meta or RequestMeta()
        replay = await self._replay(case_id, actor, command, meta)
        if replay is not None:
            return replay
        spec = self._spec(command, creates=False)
        supplied: dict[str, Any] = {"actor": actor, "context": self.context}
        if "facts" in spec.supplied:
            supplied["facts"] = await self._facts(case_id, spec, command)
        loaded = await self.cases.get(case_id, expected_version)
        try:
            return await self._run(loaded, spec, supplied, command, expected_version, meta)
        except (VersionConflict, DomainError):
            if not loaded.cached:
                raise
        # The cached case may be stale (another process wrote): a conflict, or a refusal decided
        # on it, is decided again on the stored case.
        loaded = await self.cases.read(case_id, expected_version)
        return await self._run(loaded, spec, supplied, command, expected_version, meta)

    async def _run(
        self,
        loaded: LoadedCase,
        spec: c.CommandSpec,
        supplied: dict[str, Any],
        command: c.Command,
        expected_version: int | None,
        meta: RequestMeta,
    ) -> AppendResult:
        case = loaded.case
        if expected_version is not None and expected_version != loaded.version:
            raise VersionConflict(case.id, expected_version, loaded.version)
        arguments = {k: v for k, v in supplied.items() if k in spec.supplied}
        spec.method(case, now=self.clock(), **arguments, **spec.arguments(command))
        return await self._save(loaded, supplied["actor"], command, meta)

    def _spec(self, command: c.Command, *, creates: bool) -> c.CommandSpec:
        spec = c.spec_of(command)
        if spec is None or spec.creates != creates:
            what = "registration" if creates else "command on a case"
            raise InvalidCommand(f"{type(command).__name__} is not a {what}")
        return spec

    async def _facts(self, case_id: UUID, spec: c.CommandSpec, command: c.Command) -> Facts:
        """What the command's rules need to know from beyond the case (``spec.lookups``)."""
        existing: frozenset[UUID] = frozenset()
        positions: frozenset[int] = frozenset()
        if c.Lookup.LINKED_CASE in spec.lookups:
            other: UUID = getattr(command, "case_id")  # noqa: B009 - the lookup's named field
            if await self.store.case_version(other) > 0:
                existing = frozenset({other})
        if c.Lookup.OWN_POSITIONS in spec.lookups:
            positions = frozenset(r.position for r in await self.store.read_case(case_id))
        return Facts(existing_cases=existing, positions=positions)

    async def _replay(
        self, case_id: UUID, actor: Actor, command: c.Command, meta: RequestMeta
    ) -> AppendResult | None:
        if not meta.idempotency_key:
            return None
        record = await self.store.idempotency_record(case_id, meta.idempotency_key)
        if record is None:
            return None
        if record.fingerprint != fingerprint(actor, command):
            raise IdempotencyKeyReused(case_id, meta.idempotency_key)
        return msgspec.structs.replace(record.result, replayed=True)

    async def _save(
        self,
        loaded: LoadedCase,
        actor: Actor,
        command: c.Command,
        meta: RequestMeta,
        numbering: tuple[int, Callable[[int], Dispute]] | None = None,
    ) -> AppendResult:
        metadata: dict[str, Any] = {
            "command": type(command).__name__,
            "request_id": meta.request_id,
        }
        if meta.idempotency_key:
            metadata["idempotency_key"] = meta.idempotency_key
        idempotency = (
            Idempotency(meta.idempotency_key, fingerprint(actor, command))
            if meta.idempotency_key
            else None
        )
        return await self.cases.save(loaded, encode_metadata(metadata), idempotency, numbering)

    async def state_after(self, result: AppendResult) -> CaseState:
        """The case's projection state as the append of ``result`` left it (for the write's
        response): kept by the repository when this process made it, else from the events."""
        kept = self.cases.kept_state(result.case_id, result.version)
        if kept is not None:
            return kept
        return await self.cases.state_at(result.case_id, result.version)

    # -- reads that rebuild the case from events (the repository's) ------------------------------

    async def history(
        self, case_id: UUID, *, to_version: int | None = None, as_of: datetime | None = None
    ) -> list[RecordedEvent]:
        return await self.cases.history(case_id, to_version=to_version, as_of=as_of)

    async def load(
        self, case_id: UUID, *, to_version: int | None = None, as_of: datetime | None = None
    ) -> Dispute:
        return await self.cases.load(case_id, to_version=to_version, as_of=as_of)

    async def replay(
        self, case_id: UUID, *, to_version: int | None = None, as_of: datetime | None = None
    ) -> tuple[list[RecordedEvent], Dispute]:
        return await self.cases.replay(case_id, to_version=to_version, as_of=as_of)

    async def snapshot(self, case_id: UUID) -> int:
        return await self.cases.snapshot(case_id)

    async def refresh_snapshots(self) -> SnapshotRefresh:
        return await self.cases.refresh_snapshots()

    def fold(self, records: list[RecordedEvent], case: Dispute | None = None) -> Dispute | None:
        return self.cases.fold(records, case)

    def decode(self, record: RecordedEvent) -> Any:
        return self.cases.decode(record)
