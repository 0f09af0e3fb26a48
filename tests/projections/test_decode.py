"""Decoding stored events for projections: typed, tolerant of new fields, loud on garbage."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import msgspec
import pytest

from ledger.domain.codes import Classification
from ledger.projections import events as ev
from ledger.store.port import RecordedEvent

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


@pytest.mark.parametrize("topic", ["ledger.Consulted", "ledger.IdentifiersRevealed", "test.Noted"])
def test_topics_no_read_model_uses_decode_to_nothing(topic: str) -> None:
    assert ev.decode(record(topic, {"anything": 1})) is None


def test_an_unreadable_event_stops_the_projection_with_its_position() -> None:
    with pytest.raises(ev.ProjectionError, match="position 7"):
        ev.decode(record("ledger.Closed", {"actor": ACTOR, "occurred_at": "yesterday"}))


def test_a_naive_business_time_is_refused() -> None:
    with pytest.raises(ev.ProjectionError, match="naive"):
        ev.decode(record("ledger.Closed", {"actor": ACTOR, "occurred_at": "2025-03-10T09:30:00"}))
