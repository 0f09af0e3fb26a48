"""Deciding a group-commit batch: the part of an append both adapters share.

An adapter takes the append lock, reads what this module needs (the log head, the last version
and hash of each case in the batch, any idempotency keys the batch uses), and ``plan_batch``
decides every request in queue order. A refused request takes nothing: positions are assigned only
to accepted events, so they stay contiguous. Later requests in the same batch see earlier ones
(the second of two appends at the same version is refused; a retry of an idempotent append that
is in the same batch is answered with its result). The adapter then writes the plan and commits;
only after the commit returns does any caller hear of its outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

import msgspec

from ledger.store.chain import GENESIS, event_hash
from ledger.store.port import (
    AppendResult,
    Idempotency,
    IdempotencyKeyReused,
    IdempotencyRecord,
    NewEvent,
    Numbering,
    RecordedEvent,
    StoreError,
    VersionConflict,
)


@dataclass(frozen=True, slots=True)
class AppendRequest:
    case_id: UUID
    expected_version: int
    events: tuple[NewEvent, ...]
    idempotency: Idempotency | None
    numbering: Numbering | None = None


def numbering_years(requests: Sequence[AppendRequest]) -> list[int]:
    return sorted({r.numbering.year for r in requests if r.numbering is not None})


def check_request(
    case_id: UUID,
    expected_version: int,
    events: Sequence[NewEvent],
    idempotency: Idempotency | None,
    numbering: Numbering | None = None,
) -> AppendRequest:
    """Reject a malformed append (a programming error, not a conflict) before it is queued."""
    if expected_version < 0:
        raise ValueError(f"expected_version must be >= 0, not {expected_version}")
    if not events:
        raise ValueError("an append needs at least one event")
    for number, new in enumerate(events, start=expected_version + 1):
        if new.case_id != case_id:
            raise ValueError(f"event for case {new.case_id} in an append to case {case_id}")
        if new.version != number:
            raise ValueError(f"event version {new.version} where {number} was expected")
    return AppendRequest(case_id, expected_version, tuple(events), idempotency, numbering)


def numbered_events(request: AppendRequest, counters: dict[int, int]) -> tuple[NewEvent, ...]:
    """The events of an accepted request; a numbered one takes its year's next number."""
    numbering = request.numbering
    if numbering is None:
        return request.events
    number = counters.get(numbering.year, 0) + 1
    events = tuple(numbering.events(number))
    check_request(request.case_id, request.expected_version, events, request.idempotency)
    counters[numbering.year] = number
    return events


class CaseTip(NamedTuple):
    """A case's last stored version and hash (what its next event chains to)."""

    version: int
    hash: bytes


NEW_CASE = CaseTip(0, GENESIS)


def encode_result(result: AppendResult) -> bytes:
    """The stored answer to an idempotent request: the summary, without the events."""
    return msgspec.json.encode(msgspec.structs.replace(result, records=()))


def decode_result(data: bytes) -> AppendResult:
    return msgspec.json.decode(data, type=AppendResult)


@dataclass(slots=True)
class BatchPlan:
    head: int  # the log head after the batch
    records: list[RecordedEvent] = field(default_factory=list)  # accepted, in position order
    keys: list[tuple[UUID, str, str, bytes]] = field(default_factory=list)  # new idempotency rows
    outcomes: list[AppendResult | StoreError] = field(default_factory=list)  # one per request
    # The last case number of each year after the batch (all years read, changed or not).
    counters: dict[int, int] = field(default_factory=dict)


def plan_batch(
    requests: Sequence[AppendRequest],
    *,
    head: int,
    recorded_at: datetime,
    tips: Mapping[UUID, CaseTip],
    used_keys: Mapping[tuple[UUID, str], IdempotencyRecord],
    counters: Mapping[int, int] | None = None,
) -> BatchPlan:
    """Decide each request against the stored state and the batch's earlier requests;
    ``counters``: the last case number given out in each year a numbered request needs."""
    tips = dict(tips)
    used = dict(used_keys)
    plan = BatchPlan(head=head, counters=dict(counters or {}))
    for request in requests:
        key = request.idempotency
        if key is not None:
            seen = used.get((request.case_id, key.key))
            if seen is not None:
                # Checked before the version: a retry naturally carries a stale version.
                if seen.fingerprint == key.fingerprint:
                    replay = msgspec.structs.replace(seen.result, replayed=True, records=())
                    plan.outcomes.append(replay)
                else:
                    plan.outcomes.append(IdempotencyKeyReused(request.case_id, key.key))
                continue
        tip = tips.get(request.case_id, NEW_CASE)
        if tip.version != request.expected_version:
            plan.outcomes.append(
                VersionConflict(request.case_id, request.expected_version, tip.version)
            )
            continue
        first, prev = plan.head + 1, tip.hash
        accepted = len(plan.records)
        events = numbered_events(request, plan.counters)
        for new in events:
            plan.head += 1
            digest = event_hash(
                prev,
                plan.head,
                new.case_id,
                new.version,
                new.topic,
                new.state,
                new.metadata,
                recorded_at,
            )
            plan.records.append(
                RecordedEvent(
                    position=plan.head,
                    case_id=new.case_id,
                    version=new.version,
                    topic=new.topic,
                    state=new.state,
                    metadata=new.metadata,
                    recorded_at=recorded_at,
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
        version = events[-1].version
        tips[request.case_id] = CaseTip(version, prev)
        result = AppendResult(
            case_id=request.case_id,
            version=version,
            first_position=first,
            last_position=plan.head,
            recorded_at=recorded_at,
            records=tuple(plan.records[accepted:]),
        )
        if key is not None:
            used[(request.case_id, key.key)] = IdempotencyRecord(key.fingerprint, result)
            plan.keys.append((request.case_id, key.key, key.fingerprint, encode_result(result)))
        plan.outcomes.append(result)
    return plan
