"""The codec's typed fast path gives exactly the events the library's path gives.

``TypedMapper`` decodes stored bytes straight into an event class's schema when that cannot
differ from eventsourcing's Mapper path (untyped decode, upcasting, ``msgspec.convert``, dict
merge); everything else — upcasting, undeclared keys, lenient conversions, errors — goes the
library's way. Checked here on every event the demo's lifecycle paths produce, on hand-made edge
cases, and on the failure reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID, uuid4

import msgspec
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from ledger.demo import PATHS, load_demo
from ledger.domain.codes import LinkRelation
from ledger.domain.context import Facts
from ledger.domain.dispute import Dispute
from ledger.service import LedgerService
from ledger.store import open_store
from ledger.store.codec import MsgspecTranscoder, TypedMapper, default_mapper
from ledger.store.port import RecordedEvent
from tests.domain import cases


class LibraryPath(TypedMapper):
    """The codec as it was before the fast path: always the library Mapper's way."""

    fast_decode = False


class Counting(TypedMapper):
    """The default codec, counting the events that took the library's path."""

    def __init__(self) -> None:
        super().__init__(transcoder=MsgspecTranscoder())
        self.slow = 0

    def _decode_as_library(self, cls: Any, stored_event: StoredEvent) -> Any:
        self.slow += 1
        return super()._decode_as_library(cls, stored_event)


def _same(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    assert vars(a) == vars(b)
    for name, value in vars(b).items():
        assert type(vars(a)[name]) is type(value), (type(b).__name__, name)


def _library() -> LibraryPath:
    return LibraryPath(transcoder=MsgspecTranscoder())


@pytest.fixture
async def demo_records(sqlite_url: str) -> list[RecordedEvent]:
    store = open_store(sqlite_url)
    await store.open()
    try:
        await load_demo(LedgerService(store), cases=2 * len(PATHS), seed=11)
        return [record async for record in store.iter_log()]
    finally:
        await store.close()


async def test_every_demo_event_decodes_the_same_on_both_paths(
    demo_records: list[RecordedEvent],
) -> None:
    fast, library = Counting(), _library()
    for record in demo_records:
        _same(fast.from_record(record), library.from_record(record))
    assert fast.slow == 0  # every one of them took the fast path
    topics = {record.topic for record in demo_records}
    assert len(topics) >= 15, topics  # the demo's paths use most event types


def _every_dispute_event() -> Iterator[Any]:
    """Events of the types the demo paths may not produce, made on the aggregate directly."""
    case = cases.closed()
    now = cases.MONDAY
    other = uuid4()
    case.link(cases.OFFICE, other, next(iter(LinkRelation)), now, Facts(frozenset({other})))
    case.correct(cases.OFFICE, 3, "应为某某", "录入错误", now, Facts(positions=frozenset({3})))
    case.reveal_identifiers(cases.OFFICE, "核查身份", now)
    yield from case.collect_events()
    yield from cases.ready_for_court(cases.MONDAY).collect_events()
    yield from cases.held_by_hrss().collect_events()


def test_every_dispute_event_type_decodes_the_same_on_both_paths() -> None:
    fast, library = Counting(), _library()
    seen: set[str] = set()
    for domain_event in _every_dispute_event():
        stored = fast.to_stored_event(domain_event)
        back = fast.to_domain_event(stored)
        _same(back, library.to_domain_event(stored))
        _same(back, domain_event)
        seen.add(stored.topic)
    assert fast.slow == 0
    assert {"ledger.Linked", "ledger.Corrected", "ledger.IdentifiersRevealed"} <= seen


def _stored_registration() -> StoredEvent:
    registered = cases.closed().collect_events()[0]
    return default_mapper().to_stored_event(registered)


def test_a_key_the_class_does_not_declare_is_kept_as_decoded() -> None:
    stored = _stored_registration()
    state = msgspec.json.decode(stored.state)
    state["added_by_a_later_release"] = {"a": [1, "x"]}
    extended = StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, msgspec.json.encode(state)
    )
    fast = Counting()
    back = fast.to_domain_event(extended)
    assert fast.slow == 1  # the fast schema refuses it: the library's path keeps it
    assert vars(back)["added_by_a_later_release"] == {"a": [1, "x"]}
    _same(back, _library().to_domain_event(extended))


def test_a_lenient_conversion_takes_the_library_path() -> None:
    # A bool written as a string: strict decoding refuses it, msgspec.convert(strict=False) not.
    noted = Sample(label="L", flag=True).collect_events()[0]
    raw = msgspec.json.decode(default_mapper().to_stored_event(noted).state)
    raw["flag"] = "true"
    lenient = StoredEvent(noted.originator_id, 1, "tests.store.fast.Made", msgspec.json.encode(raw))
    fast = Counting()
    back = fast.to_domain_event(lenient)
    assert fast.slow == 1
    assert vars(back)["flag"] is True
    _same(back, _library().to_domain_event(lenient))


class Sample(Aggregate):
    @event("Made", topic="tests.store.fast.Made")
    def __init__(self, label: str, flag: bool, amount: Decimal | None = None) -> None:
        self.label, self.flag, self.amount = label, flag, amount


class Versioned(Aggregate):
    class Labelled(Aggregate.Created):
        # Version 2 stores labels upper-case. A version-1 event decodes into the version-2 schema
        # without complaint, so only the stored class_version can send it to the upcaster.
        class_version: ClassVar[int] = 2
        label: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["label"] = state["label"].upper()

    @event(Labelled)
    def __init__(self, label: str) -> None:
        self.label = label


def test_an_old_version_that_fits_the_new_schema_is_still_upcast() -> None:
    mapper = Counting()
    labelled = Versioned(label="ABC").collect_events()[0]
    stored = mapper.to_stored_event(labelled)
    assert msgspec.json.decode(stored.state)["class_version"] == 2
    current = mapper.to_domain_event(stored)
    assert (vars(current)["label"], mapper.slow) == ("ABC", 0)  # current version: fast

    v1 = msgspec.json.decode(stored.state)
    v1.pop("class_version")  # as the version-1 class wrote it
    v1["label"] = "abc"
    old = StoredEvent(stored.originator_id, 1, stored.topic, msgspec.json.encode(v1))
    back = mapper.to_domain_event(old)
    assert (vars(back)["label"], mapper.slow) == ("ABC", 1)
    _same(back, _library().to_domain_event(old))


def test_numbers_in_decimal_fields_decode_the_same_on_both_paths() -> None:
    # Decimals are written as strings; a float that found its way into a Decimal field is written
    # as its shortest repr, which both paths turn into the same Decimal.
    for amount in (0.1, 1.0, 2.5, 1e16, 1.5e-7, 123456789.123456789, 7):
        made = Sample(label="L", flag=False, amount=amount).collect_events()[0]  # type: ignore[arg-type]
        stored = default_mapper().to_stored_event(made)
        back = default_mapper().to_domain_event(stored)
        other = _library().to_domain_event(stored)
        _same(back, other)
        assert vars(back)["amount"].as_tuple() == vars(other)["amount"].as_tuple()


def _raised(mapper: TypedMapper, stored: StoredEvent) -> Exception:
    with pytest.raises(Exception) as info:  # noqa: PT011 - compared below, type and message
        mapper.to_domain_event(stored)
    return info.value


@pytest.mark.parametrize(
    "state",
    [b"{not json", b'{"label": 3, "flag": true}', b'{"flag": true}', b"[]"],
    ids=["malformed", "wrong-type", "missing-field", "not-an-object"],
)
def test_failures_are_reported_as_the_library_path_reports_them(state: bytes) -> None:
    bad = StoredEvent(uuid4(), 4, "tests.store.fast.Made", state)
    fast, library = _raised(default_mapper(), bad), _raised(_library(), bad)
    assert (type(fast), str(fast)) == (type(library), str(library))
    if state != b"[]":  # (a JSON array is not even a state: the library's path fails as it did)
        assert isinstance(fast, MapperDeserialisationError)
        assert "tests.store.fast.Made" in str(fast)
        assert "originator_version 4" in str(fast)


def test_records_and_stored_events_decode_alike() -> None:
    made = Sample(label="L", flag=True, amount=Decimal("1.50")).collect_events()[0]
    new = default_mapper().to_new_event(made)
    record = RecordedEvent(
        position=1,
        case_id=new.case_id,
        version=new.version,
        topic=new.topic,
        state=new.state,
        metadata=new.metadata,
        recorded_at=datetime.now(UTC),
        prev_hash=bytes(32),
        hash=bytes(32),
    )
    _same(default_mapper().from_record(record), made)
    assert isinstance(vars(default_mapper().from_record(record))["originator_id"], UUID)


def test_the_dispute_fold_is_the_same_on_both_paths(demo_records: list[RecordedEvent]) -> None:
    by_case: dict[UUID, list[RecordedEvent]] = {}
    for record in demo_records:
        by_case.setdefault(record.case_id, []).append(record)
    fast, library = default_mapper(), _library()
    for records in by_case.values():
        a: Dispute | None = None
        b: Dispute | None = None
        for record in records:
            a = fast.from_record(record).mutate(a)  # type: ignore[attr-defined]
            b = library.from_record(record).mutate(b)  # type: ignore[attr-defined]
        assert vars(a) == vars(b)
