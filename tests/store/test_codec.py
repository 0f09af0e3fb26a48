"""The codec gives back exactly the types events were made with, and upcasts old events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID, uuid4

import msgspec
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    UUIDAsHex,
)

from ledger.store.codec import (
    MsgspecTranscoder,
    decode_metadata,
    default_mapper,
    encode_metadata,
    event_schema,
)
from ledger.store.port import RecordedEvent


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"


class Amount(msgspec.Struct, frozen=True):
    fen: int
    currency: Colour  # any nested enum must survive too


class Sample(Aggregate):
    @event("Made", topic="tests.store.Sample.Made")
    def __init__(
        self,
        colour: Colour,
        money: Decimal,
        due: date,
        at: datetime,
        ref: UUID,
        tags: tuple[str, ...],
        amount: Amount,
        links: dict[UUID, Colour],
        note: str | None = None,
    ) -> None:
        self.colour = colour

    @event("Noted", topic="tests.store.Sample.Noted")
    def note(self, colour: Colour, text: str) -> None:
        self.colour = colour


class Upcast(Aggregate):
    class Tagged(Aggregate.Created):
        # Version 2 added ``colour``; version-1 events were stored without it.
        class_version: ClassVar[int] = 2
        label: str
        colour: Colour

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["colour"] = "green"  # the stored shape: the mapper converts it afterwards

    @event(Tagged)
    def __init__(self, label: str, colour: Colour) -> None:
        self.label, self.colour = label, colour


def _sample() -> Sample:
    return Sample(
        colour=Colour.RED,
        money=Decimal("1234.50"),
        due=date(2025, 3, 31),
        at=datetime(2025, 3, 10, 9, 30, tzinfo=timezone(timedelta(hours=8))),
        ref=uuid4(),
        tags=("a", "b"),
        amount=Amount(fen=123450, currency=Colour.GREEN),
        links={uuid4(): Colour.GREEN},
    )


def _round_trip(mapper: Mapper[UUID], domain_event: Any) -> dict[str, Any]:
    return vars(mapper.to_domain_event(mapper.to_stored_event(domain_event)))


def test_every_field_comes_back_as_its_own_type() -> None:
    made = _sample().collect_events()[0]
    back = _round_trip(default_mapper(), made)
    assert back == vars(made)
    for name, value in vars(made).items():
        assert type(back[name]) is type(value), name
    assert back["colour"] is Colour.RED
    assert back["amount"].currency is Colour.GREEN
    assert back["money"].as_tuple() == Decimal("1234.50").as_tuple()  # exponent kept
    assert back["at"].utcoffset() == timedelta(hours=8)
    assert back["note"] is None


def test_the_stdlib_json_transcoder_loses_the_enum_and_ours_does_not() -> None:
    noted_case = _sample()
    noted_case.note(Colour.GREEN, "x")
    noted = noted_case.collect_events()[1]
    json_transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        json_transcoder.register(transcoding)  # as eventsourcing's Application does
    stock = _round_trip(Mapper(transcoder=json_transcoder), noted)
    assert type(stock["colour"]) is str  # what we are guarding against
    assert _round_trip(default_mapper(), noted)["colour"] is Colour.GREEN


def test_encoding_is_deterministic_and_sorted() -> None:
    transcoder = MsgspecTranscoder()
    a = transcoder.encode({"b": 1, "a": {"z": Decimal("1.0"), "y": Colour.RED}})
    assert a == b'{"a":{"y":"red","z":"1.0"},"b":1}'
    assert transcoder.encode({"a": {"y": Colour.RED, "z": Decimal("1.0")}, "b": 1}) == a
    key = UUID(int=1)
    assert transcoder.encode({key: 1}) == b'{"00000000-0000-0000-0000-000000000001":1}'
    assert encode_metadata({"request_id": "r", "actor": {"unit": "u", "id": "s"}}) == (
        b'{"actor":{"id":"s","unit":"u"},"request_id":"r"}'
    )
    assert decode_metadata(b'{"a":[1,"x"]}') == {"a": [1, "x"]}


def test_old_versions_are_upcast_then_typed() -> None:
    mapper = default_mapper()
    tagged = Upcast(label="L", colour=Colour.RED).collect_events()[0]
    stored = mapper.to_stored_event(tagged)
    v1_state = msgspec.json.decode(stored.state)
    v1_state.pop("class_version")  # as a version-1 class would have written it
    v1_state.pop("colour", None)
    old = StoredEvent(stored.originator_id, 1, stored.topic, msgspec.json.encode(v1_state))
    back = vars(mapper.to_domain_event(old))
    assert back["colour"] is Colour.GREEN
    assert back["label"] == "L"
    assert type(back["timestamp"]) is datetime


def test_an_optional_field_added_later_decodes_from_older_events() -> None:
    state = {
        "colour": "red",
        "money": "1",
        "due": "2025-01-01",
        "at": "2025-01-01T00:00:00Z",
        "ref": str(uuid4()),
        "tags": [],
        "amount": {"fen": 1, "currency": "red"},
        "links": {},
        "originator_topic": "tests.store.test_codec:Sample",
        "timestamp": "2025-01-01T00:00:00Z",
    }  # no "note": written before it existed
    old = StoredEvent(uuid4(), 1, "tests.store.Sample.Made", msgspec.json.encode(state))
    back = vars(default_mapper().to_domain_event(old))
    assert back["note"] is None
    assert back["at"] == datetime(2025, 1, 1, tzinfo=UTC)


def test_bad_state_is_reported_with_the_event() -> None:
    bad = StoredEvent(uuid4(), 3, "tests.store.Sample.Noted", b'{"colour":"purple"}')
    with pytest.raises(MapperDeserialisationError, match=r"Sample.Noted.*originator_version 3"):
        default_mapper().to_domain_event(bad)


def test_schema_is_built_once_per_class() -> None:
    made = type(_sample().collect_events()[0])
    assert event_schema(made) is event_schema(made)
    fields = msgspec.structs.fields(event_schema(made))
    assert "originator_id_type" not in {f.name for f in fields}  # ClassVars are not state


def test_store_records_round_trip_through_the_mapper() -> None:
    mapper = default_mapper()
    made = _sample().collect_events()[0]
    new = mapper.to_new_event(made, encode_metadata({"request_id": "r1"}))
    assert (new.case_id, new.version, new.topic) == (
        made.originator_id,
        1,
        "tests.store.Sample.Made",
    )
    record = RecordedEvent(
        position=7,
        case_id=new.case_id,
        version=1,
        topic=new.topic,
        state=new.state,
        metadata=new.metadata,
        recorded_at=datetime.now(UTC),
        prev_hash=bytes(32),
        hash=bytes(32),
    )
    assert vars(mapper.from_record(record)) == vars(made)


def test_dispute_events_round_trip_and_rebuild_the_case() -> None:
    from tests.domain import cases

    mapper = default_mapper()
    for build in (cases.closed, cases.held_by_hrss, lambda: cases.ready_for_court(cases.MONDAY)):
        case = build()
        originals = case.collect_events()
        decoded = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in originals]
        for original, back in zip(originals, decoded, strict=True):
            assert type(back) is type(original)
            assert vars(back) == vars(original)
            for name, value in vars(original).items():
                assert type(vars(back)[name]) is type(value), (type(original).__name__, name)
        rebuilt = None
        for domain_event in decoded:
            rebuilt = domain_event.mutate(rebuilt)  # type: ignore[attr-defined]
        assert vars(rebuilt) == vars(case)


SHAPES_CHANGED = ("Registered", "DemandNoticeServed", "ReferredToCourt", "CourtOutcomeRecorded")


def test_dispute_events_of_the_shapes_before_r10_to_r14_still_decode() -> None:
    """Registered without employer, a demand notice without document number or employer, a
    referral without employer, a court outcome without corrects or after_closure: stored so
    before those fields existed, they decode with the defaults and rebuild the case."""
    from tests.domain import cases

    mapper = default_mapper()
    case = cases.ready_for_court(cases.MONDAY)
    later = cases.MONDAY + timedelta(days=11)
    case.refer_to_court(cases.ENFORCEMENT, "潜江市人民法院", "强制执行", later, cases.CONTEXT)
    case.record_court_outcome(cases.ENFORCEMENT, "准予执行", "", later, cases.CONTEXT)
    new_fields = {"employer", "document_number", "corrects", "after_closure"}
    old = []
    for domain_event in case.collect_events():
        stored = mapper.to_stored_event(domain_event)
        state = msgspec.json.decode(stored.state)
        if type(domain_event).__name__ in SHAPES_CHANGED:  # today's shape has them
            assert new_fields & set(state), type(domain_event).__name__
        shape = {k: v for k, v in state.items() if k not in new_fields}
        old.append(
            StoredEvent(
                stored.originator_id,
                stored.originator_version,
                stored.topic,
                msgspec.json.encode(shape),
            )
        )
    decoded = [mapper.to_domain_event(s) for s in old]
    by_name = {type(e).__name__: e for e in decoded}
    assert by_name["Registered"].employer is None  # type: ignore[attr-defined]
    notice = by_name["DemandNoticeServed"]
    assert (notice.document_number, notice.employer) == ("", None)  # type: ignore[attr-defined]
    assert by_name["ReferredToCourt"].employer is None  # type: ignore[attr-defined]
    outcome = by_name["CourtOutcomeRecorded"]
    assert (outcome.corrects, outcome.after_closure) == (None, False)  # type: ignore[attr-defined]
    rebuilt = None
    for domain_event in decoded:
        rebuilt = domain_event.mutate(rebuilt)  # type: ignore[attr-defined]
    assert rebuilt is not None
    assert rebuilt.court_outcome == "准予执行"
    assert rebuilt.employer == case.employer  # the payer is the employer
