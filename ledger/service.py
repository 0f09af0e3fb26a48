"""The only write path: command → load the case → domain method (rules) → append.

The actor is passed in by the caller (the API passes the verified token's principal). Reads that
rebuild a case from its events (full history, as of a version or a time) live here too, because
they use the same codec and fold.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from ledger import commands as c
from ledger.domain.actor import Actor
from ledger.domain.context import Context
from ledger.domain.dispute import Dispute
from ledger.domain.errors import InvalidCommand
from ledger.domain.payer import checked_payer
from ledger.handlers import HANDLERS, Handler
from ledger.store.codec import TypedMapper, default_mapper, encode_metadata
from ledger.store.port import (
    AppendResult,
    EventStore,
    Idempotency,
    IdempotencyKeyReused,
    RecordedEvent,
    VersionConflict,
)

# Registration retries carry no case id yet: the id is derived from the staff member and the key,
# so a retried POST /v1/cases lands on the same case and the store's idempotency check applies.
_REGISTRATION_NAMESPACE = UUID("6f1d3c0e-2b7a-4c59-9a51-0d3f8f6c2e11")


class CaseNotFound(LookupError):
    code = "CASE_NOT_FOUND"

    def __init__(self, case_id: UUID) -> None:
        super().__init__(f"no case {case_id}")
        self.case_id = case_id


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
    ) -> None:
        self.store = store
        self.context = context or Context()
        self.clock = clock
        self.mapper = mapper or default_mapper()
        # Folded cases by id, least recently written first (see ``_cached``).
        self._cache: OrderedDict[UUID, Dispute] = OrderedDict()
        self._cache_size = cache_size

    # -- writes ------------------------------------------------------------------------------

    async def register(
        self, actor: Actor, command: c.Register, meta: RequestMeta | None = None
    ) -> AppendResult:
        meta = meta or RequestMeta()
        if meta.idempotency_key:
            name = f"{actor.staff_id}\0{meta.idempotency_key}"
            case_id = uuid.uuid5(_REGISTRATION_NAMESPACE, name)
            replay = await self._replay(case_id, actor, command, meta)
            if replay is not None:
                return replay
        else:
            case_id = uuid.uuid4()
        p = command.payer
        case = Dispute.register(
            case_id=case_id,
            actor=actor,
            channel=command.channel,
            received_at=command.received_at,
            payer=checked_payer(p.kind, p.name, p.identifier, p.phone),
            jurisdiction=command.jurisdiction,
            category=command.category,
            summary=command.summary,
            preliminary_opinion=command.preliminary_opinion,
            now=self.clock(),
            context=self.context,
        )
        return await self._save(case, 0, actor, command, meta)

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
        handler = HANDLERS.get(type(command))
        if handler is None:
            raise InvalidCommand(f"{type(command).__name__} is not a command on a case")
        await self._check_references(case_id, command)
        case = self._cached(case_id, expected_version)
        if case is not None:
            try:
                return await self._run(case, handler, actor, command, expected_version, meta)
            except VersionConflict:
                pass  # the cached state was stale (another process wrote): decide on fresh state
        case = await self.load(case_id)
        return await self._run(case, handler, actor, command, expected_version, meta)

    async def _run(
        self,
        case: Dispute,
        handler: Handler,
        actor: Actor,
        command: c.Command,
        expected_version: int | None,
        meta: RequestMeta,
    ) -> AppendResult:
        if expected_version is not None and expected_version != case.version:
            raise VersionConflict(case.id, expected_version, case.version)
        loaded_version = case.version
        handler(case, actor, command, self.clock(), self.context)
        return await self._save(case, loaded_version, actor, command, meta)

    def _cached(self, case_id: UUID, expected_version: int | None) -> Dispute | None:
        """A folded case kept from this process's last write to it, taken out of the cache.

        Safe because the append is optimistic: a cached state that another process has moved
        past is refused by the store at its stale version, and the command is decided again on
        the state read from the store. Taken out (not shared) so that concurrent commands on one
        case never mutate the same object; only a successful append puts it back.
        """
        case = self._cache.pop(case_id, None)
        if case is None or (expected_version is not None and case.version != expected_version):
            return None
        return case

    def _remember(self, case: Dispute) -> None:
        self._cache[case.id] = case
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _check_references(self, case_id: UUID, command: c.Command) -> None:
        """Checks that need the store rather than the case: the other case, the corrected event."""
        if isinstance(command, c.Link) and await self.store.case_version(command.case_id) == 0:
            raise InvalidCommand(f"there is no case {command.case_id} to link to")
        if isinstance(command, c.Correct):
            positions = {r.position for r in await self.store.read_case(case_id)}
            if command.position not in positions:
                raise InvalidCommand(
                    f"position {command.position} is not an event of case {case_id}"
                )

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
        case: Dispute,
        loaded_version: int,
        actor: Actor,
        command: c.Command,
        meta: RequestMeta,
    ) -> AppendResult:
        metadata: dict[str, Any] = {
            "command": type(command).__name__,
            "request_id": meta.request_id,
        }
        if meta.idempotency_key:
            metadata["idempotency_key"] = meta.idempotency_key
        encoded_metadata = encode_metadata(metadata)
        events = [self.mapper.to_new_event(e, encoded_metadata) for e in case.collect_events()]
        idempotency = (
            Idempotency(meta.idempotency_key, fingerprint(actor, command))
            if meta.idempotency_key
            else None
        )
        result = await self.store.append(case.id, loaded_version, events, idempotency)
        if not result.replayed:  # a replay returns what another request stored, not ``case``
            self._remember(case)
        return result

    # -- reads that rebuild the case from events ------------------------------------------------

    async def history(
        self,
        case_id: UUID,
        *,
        to_version: int | None = None,
        as_of: datetime | None = None,
    ) -> list[RecordedEvent]:
        records = await self.store.read_case(case_id, to_version=to_version, as_of=as_of)
        if not records and await self.store.case_version(case_id) == 0:
            raise CaseNotFound(case_id)
        return records

    async def load(
        self,
        case_id: UUID,
        *,
        to_version: int | None = None,
        as_of: datetime | None = None,
    ) -> Dispute:
        """The case as it stands now, or as it stood at a version or a moment."""
        records = await self.history(case_id, to_version=to_version, as_of=as_of)
        case = self.fold(records)
        if case is None:
            raise CaseNotFound(case_id)
        return case

    def fold(self, records: list[RecordedEvent]) -> Dispute | None:
        case: Dispute | None = None
        for record in records:
            case = self.decode(record).mutate(case)
        return case

    def decode(self, record: RecordedEvent) -> Any:
        """The domain event a stored record holds (upcast to the current class version)."""
        return self.mapper.from_record(record)
