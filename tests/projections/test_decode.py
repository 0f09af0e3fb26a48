"""Decoding stored events for projections: typed as the domain types them, tolerant of new
fields, loud on garbage; every topic the domain stores is decoded or explicitly ignored."""

from __future__ import annotations

import typing
from datetime import UTC, date, datetime
from uuid import uuid4

import msgspec
import pytest
from eventsourcing.utils import resolve_topic

from ledger.domain.access import ExportRecord
from ledger.domain.codes import Classification
from ledger.domain.dispute import Dispute
from ledger.projections import events as ev
from ledger.store.port import RecordedEvent
from tests.domain.cases import registered

ACTOR = {"staff_id": "T1001", "name": "王丽", "unit": "tax.hall", "department": "tax", "roles": []}


def record(topic: str, state: dict[str, object]) -> RecordedEvent:
    return RecordedEvent(
        position=7,
        case_id=uuid4(),
        version=2,
        topic=topic,
        state=msgspec.json.encode(state),
        metadata=b"{}",
        recorded_at=datetime(2025, 3, 10, tzinfo=UTC),
        prev_hash=bytes(32),
        hash=bytes(32),
    )


def test_an_event_decodes_into_the_few_fields_projections_need() -> None:
    event = ev.decode(
        record(
            "ledger.Classified",
            {
                "actor": ACTOR,
                "occurred_at": "2025-03-10T09:30:00+08:00",
                "classification": "general",
                "route": 2,
                "reason": "按职责分类",
                "due": "2025-03-24",
                "due_provisional": False,
                "timestamp": "2025-03-10T01:30:00.123Z",
            },
        )
    )
    assert isinstance(event, ev.Classified)
    assert event.classification is Classification.GENERAL
    assert event.actor.staff_id == "T1001"
    assert event.occurred_at == datetime(2025, 3, 10, 1, 30, tzinfo=UTC)


def test_fields_added_to_an_event_later_do_not_break_old_projections() -> None:
    event = ev.decode(
        record(
            "ledger.Transferred",
            {
                "actor": {**ACTOR, "badge": "0042"},
                "occurred_at": "2025-03-10T09:30:00+08:00",
                "to_unit": "hrss.window",
                "a_field_from_the_future": {"nested": [1, 2, 3]},
            },
        )
    )
    assert isinstance(event, ev.Transferred)
    assert event.to_unit == "hrss.window"
    assert event.to_jurisdiction is None


@pytest.mark.parametrize("topic", ["ledger.IdentifiersRevealed", "test.Noted"])
def test_topics_no_read_model_uses_decode_to_nothing(topic: str) -> None:
    assert ev.decode(record(topic, {"anything": 1})) is None


def test_an_unreadable_event_stops_the_projection_with_its_position() -> None:
    with pytest.raises(ev.ProjectionError, match="position 7"):
        ev.decode(record("ledger.Closed", {"actor": ACTOR, "occurred_at": "yesterday"}))


def test_a_naive_business_time_is_refused() -> None:
    with pytest.raises(ev.ProjectionError, match="naive"):
        ev.decode(record("ledger.Closed", {"actor": ACTOR, "occurred_at": "2025-03-10T09:30:00"}))


def _event_classes(base: type = Dispute.Event) -> list[type]:
    """Every event class of the Dispute aggregate (or under ``base``) that is not a base of
    another."""
    found: list[type] = []
    pending: list[type] = [base]
    while pending:
        cls = pending.pop()
        subclasses = cls.__subclasses__()
        pending.extend(subclasses)
        if not subclasses:
            found.append(cls)
    return found


def stored_topics() -> set[str]:
    """The topics the domain can store: the library's default creation event (``Created``)
    never is, a dispute is created by its own ``Registered`` event; and an export's access
    record (``ledger.ExportRecorded``), which shares the log with the cases."""
    disputes = {cls.TOPIC for cls in _event_classes() if not issubclass(cls, Dispute.Created)}
    exports = {
        cls.TOPIC for cls in _event_classes(ExportRecord.Event) if cls is not ExportRecord.Created
    }
    return disputes | exports


def test_the_access_record_of_an_export_is_stored_under_its_stable_topic() -> None:
    assert {cls.TOPIC for cls in _event_classes(ExportRecord.Event)} >= {"ledger.ExportRecorded"}
    assert "ledger.ExportRecorded" in stored_topics()
    assert "ledger.ExportRecorded" in ev.IGNORED  # no case projection reads it


def test_a_dispute_is_created_by_its_registered_event() -> None:
    first = registered().collect_events()[0]
    assert type(first).TOPIC == "ledger.Registered"
    assert "ledger.Registered" in stored_topics()


def test_every_topic_the_domain_stores_is_decoded_or_explicitly_ignored() -> None:
    topics = stored_topics()
    assert len(topics) >= 20  # the walk found the event classes (the 20 of DOMAIN.md and more)
    assert topics == set(ev.STRUCTS) | ev.IGNORED
    assert not set(ev.STRUCTS) & ev.IGNORED


def _assert_subset(struct: type, domain: dict[str, object], where: str) -> None:
    hints = typing.get_type_hints(struct)
    for name in struct.__struct_fields__:
        assert name in domain, f"{where}.{name} is not a field of the domain event"
        whole = ev.part_of(hints[name])
        if whole is None:
            assert hints[name] == domain[name], f"{where}.{name}: {hints[name]} != {domain[name]}"
        else:  # a structured value projected down to some of its fields
            assert whole is domain[name], f"{where}.{name} is a part of {whole}, not {domain[name]}"
            _assert_subset(hints[name], typing.get_type_hints(whole), f"{where}.{name}")


@pytest.mark.parametrize("topic", sorted(ev.STRUCTS))
def test_a_projection_event_is_a_subset_of_its_domain_event_with_the_same_types(
    topic: str,
) -> None:
    struct = ev.STRUCTS[topic]
    assert topic == struct.TOPIC
    _assert_subset(struct, typing.get_type_hints(resolve_topic(topic)), topic)


def test_a_field_the_domain_event_lacks_cannot_be_projected() -> None:
    with pytest.raises(TypeError, match="no field 'amount'"):
        ev.projected("ledger.IdentifiersRevealed", "actor", "amount")


def test_the_deadline_is_decoded_from_the_classified_event() -> None:
    event = ev.decode(
        record(
            "ledger.Classified",
            {
                "actor": ACTOR,
                "occurred_at": "2025-03-10T09:30:00+08:00",
                "classification": "general",
                "route": 2,
                "reason": "按职责分类",
                "due": "2025-04-21",
                "due_provisional": True,
            },
        )
    )
    assert isinstance(event, ev.Classified)
    assert (event.due, event.due_provisional) == (date(2025, 4, 21), True)
